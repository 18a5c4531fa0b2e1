# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Re-running site.yml on a working cluster is safe (issue 12): drills on the lab's cluster, each
breaking something the way a site or an interrupted run does, running site.yml, and checking
that the cluster is healthy again and that nothing was lost or reset - same cluster CA, same etcd
member and data, same Node objects (a reset node comes back as a new Node).

    (a) admin.conf removed on the control plane (hardened sites do this)
    (b) what an interrupted kubeadm init had not created yet, deleted from the running cluster
    (c) a worker's join left half-finished: staged (Node gone, kubelet stopped, kubelet.conf and
        the join marker left), and real (the controller killed while kubeadm join runs)
    (d) site.yml three times in a row: nothing changed on the second and third run

Each test restores in a finally what it broke, if site.yml did not. Disruptive (conftest.py):
they run after every other test; each runs site.yml at least once (minutes each).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from clusterlib import hello_pod, wait_pods_ready, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests"))
import collection  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, collection.collections_path())
# pylint: disable-next=wrong-import-position,wrong-import-order
from ansible_collections.airgap.kubernetes.plugins.modules import kubeadm_state  # noqa: E402

pytestmark = [pytest.mark.disruptive, pytest.mark.e2e_timeout(2700)]

BIN = os.path.dirname(sys.executable)
KUBEADM_CONFIG = "/etc/kubernetes/kubeadm-config.yaml"
MARKER = os.path.join("/etc/kubernetes", kubeadm_state.JOIN_MARKER)
# Task names of the roles that undo kubeadm state (roles/control_plane, roles/join).
RESET_TASKS = ("Undo the failed kubeadm init", "Undo the half-finished join")


# --- the lab's hosts and site.yml -------------------------------------------------------------------

def on_host(host, script, check=True, timeout=120):
    """Run a shell script on a lab host as root (podman exec: the lab's view of its machines)."""
    proc = subprocess.run(["podman", "exec", host, "bash", "-c", script], capture_output=True, text=True,
                          timeout=timeout, check=False)
    if check and proc.returncode:
        raise AssertionError("on %s: %s: rc=%d %s" % (host, script, proc.returncode, proc.stderr.strip()[-2000:]))
    return proc.stdout


class Run:
    """One ansible-playbook run, with the JSON callback's report."""

    def __init__(self, proc, seconds, what):
        self.proc, self.seconds, self.what = proc, seconds, what
        # The JSON callback's report starts with a line "{"; warnings may come before it, and the
        # phases callback's table (when enabled) after it.
        lines = proc.stdout.splitlines()
        try:
            self.report = json.JSONDecoder().raw_decode("\n".join(lines[lines.index("{"):]))[0]
        except ValueError as exc:
            raise AssertionError("%s (rc=%d) printed no JSON report (%s): %s %s" % (
                what, proc.returncode, exc, proc.stdout[-2000:], proc.stderr[-2000:])) from None

    @property
    def ok(self):
        return self.proc.returncode == 0

    def tasks(self):
        """(task name without its role, {host: result}) of every task that ran."""
        for play in self.report.get("plays", []):
            for task in play.get("tasks", []):
                yield task["task"]["name"].split(" : ", 1)[-1], task.get("hosts", {})

    def ran(self, name):
        """Hosts on which a task whose name starts with `name` ran (not skipped)."""
        return sorted({host for task, hosts in self.tasks() if task.startswith(name)
                       for host, result in hosts.items() if not result.get("skipped")})

    def changed(self):
        """(host, task) of every change."""
        return sorted({(host, task) for task, hosts in self.tasks() for host, result in hosts.items()
                       if result.get("changed")})

    def failures(self):
        return ["%s on %s: %s" % (task, host, result.get("msg", "")[:600]) for task, hosts in self.tasks()
                for host, result in hosts.items() if result.get("failed") and not result.get("ignore_errors")]

    def check(self):
        assert self.ok, "%s failed (rc=%d) after %.0f s: %s\n%s" % (
            self.what, self.proc.returncode, self.seconds, "; ".join(self.failures()) or "(no task failed)",
            self.proc.stderr[-3000:])
        return self


def playbook(cluster, target, *extra, timeout=2400, wait=True):
    env = collection.environment()
    env.update(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_DEPRECATION_WARNINGS="0")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)  # the JSON report is the whole of stdout
    command = [os.path.join(BIN, "ansible-playbook"), "-i", cluster["path"], target] + list(extra)
    if not wait:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    started = time.monotonic()
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    seconds = time.monotonic() - started
    # The whole report, for a look after the test (it holds no secret: no_log results are censored).
    report = os.path.join(tempfile.gettempdir(), "airgap-e2e-rerun-%s-%d.json"
                          % (os.path.basename(target).split(".")[0], int(time.time())))
    with open(report, "w", encoding="utf-8") as handle:
        handle.write(proc.stdout)
    run = Run(proc, seconds, "%s %s" % (target, " ".join(extra)))
    print("%s: rc=%d in %.0f s, %d changes; report %s" % (run.what, proc.returncode, run.seconds,
                                                          len(run.changed()), report))
    return run


def site(cluster):
    return playbook(cluster, "site.yml")


# --- what must survive ----------------------------------------------------------------------------------

def fingerprint(cluster, kubectl):
    """What a reset or a new init would change: the cluster CA, etcd's member id, the Node objects."""
    control_plane = cluster["control_planes"][0]
    ca = on_host(control_plane, "sha256sum /etc/kubernetes/pki/ca.crt").split()[0]
    metrics = on_host(control_plane, "python3 -c \"import urllib.request; print(urllib.request.urlopen("
                                     "'http://127.0.0.1:2381/metrics', timeout=10).read().decode())\"")
    member = [line for line in metrics.splitlines() if line.startswith("etcd_server_id{")]
    assert member, "etcd's metrics have no etcd_server_id"
    nodes = {n["metadata"]["name"]: n["metadata"]["uid"] for n in kubectl.items("nodes")}
    return {"ca_sha256": ca, "etcd_member": member[0].split("{", 1)[1].split("}", 1)[0], "node_uids": nodes}


def nodes_ready(cluster, kubectl):
    def probe():
        nodes = {n["metadata"]["name"]: {c["type"]: c["status"] for c in n["status"]["conditions"]}.get("Ready")
                 for n in kubectl.items("nodes")}
        expected = {h["name"] for h in cluster["hosts"] if set(h["roles"]) & {"control_plane", "worker"}}
        return set(nodes) == expected and all(v == "True" for v in nodes.values()), nodes
    return wait_until("every node Ready", probe, timeout=300, interval=3)


def exists(kubectl, *args):
    return kubectl.run("get", *args, check=False, timeout=30).returncode == 0


# --- (a) ---------------------------------------------------------------------------------------------

def test_a_removed_admin_conf_is_written_again_and_nothing_is_reset(cluster, kubectl, namespace):
    """Hardened sites remove /etc/kubernetes/admin.conf. The run writes it again with kubeadm init
    phase kubeconfig admin; no init, no reset: same CA, same etcd member, same Nodes, and a
    ConfigMap made before the run is still there."""
    control_plane = cluster["control_planes"][0]
    token = hashlib.sha256(os.urandom(16)).hexdigest()
    kubectl.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "survivor"},
                   "data": {"token": token}}, namespace=namespace)
    survivor_uid = kubectl.json("get", "configmap", "survivor", namespace=namespace)["metadata"]["uid"]
    before = fingerprint(cluster, kubectl)
    on_host(control_plane, "install -m 0600 /etc/kubernetes/admin.conf /root/airgap-e2e-admin.conf "
                           "&& rm /etc/kubernetes/admin.conf")
    try:
        run = site(cluster).check()
        assert run.ran("Run the missing kubeadm init phases") == [control_plane]
        assert run.ran("Initialise the control plane with kubeadm") == []
        for task in RESET_TASKS:
            assert run.ran(task) == [], "%s ran" % task
        on_host(control_plane, "test -s /etc/kubernetes/admin.conf")
        assert fingerprint(cluster, kubectl) == before
        survivor = kubectl.json("get", "configmap", "survivor", namespace=namespace)
        assert (survivor["metadata"]["uid"], survivor["data"]["token"]) == (survivor_uid, token)
        nodes_ready(cluster, kubectl)
        print("admin.conf written again; CA, etcd member %s, %d Nodes unchanged; site.yml %.0f s"
              % (before["etcd_member"], len(before["node_uids"]), run.seconds))
    finally:
        on_host(control_plane, "test -e /etc/kubernetes/admin.conf || install -m 0600 /root/airgap-e2e-admin.conf "
                               "/etc/kubernetes/admin.conf; rm -f /root/airgap-e2e-admin.conf")


# --- (b) ---------------------------------------------------------------------------------------------

# What kubeadm init creates after the API server is up, one object per phase (each recreated by
# that phase from the cluster's own configuration), and what each phase is.
INTERRUPTED = (
    (("configmap", "kubeadm-config", "-n", "kube-system"), "upload-config kubeadm"),
    (("configmap", "kubelet-config", "-n", "kube-system"), "upload-config kubelet"),
    (("clusterrolebinding", "kubeadm:node-autoapprove-bootstrap"), "bootstrap-token --skip-token-print"),
    (("configmap", "cluster-info", "-n", "kube-public"), "bootstrap-token --skip-token-print"),
    (("daemonset", "kube-proxy", "-n", "kube-system"), "addon kube-proxy"),
    (("deployment", "coredns", "-n", "kube-system"), "addon coredns"),
)


def test_an_interrupted_init_is_completed_by_its_phases_not_redone(cluster, kubectl):
    """Killing kubeadm init mid-way on a running cluster cannot be staged faithfully, so this
    stages what it leaves: the control plane's files, etcd and the API server are there (so the
    host counts as initialised), but the objects init creates after the API server came up are
    not. Deleted from the running cluster: the kubeadm-config and kubelet-config ConfigMaps
    (upload-config), the ClusterRoleBinding kubeadm:node-autoapprove-bootstrap and the
    kube-public/cluster-info ConfigMap (bootstrap-token), the kube-proxy DaemonSet and the CoreDNS
    Deployment (addon), and the Node's control-plane label (mark-control-plane); each of them is
    one that init itself makes from the kubeadm configuration, so recreating it loses nothing
    (CoreDNS's Corefile, which the add-ons phase customises, stays). site.yml must recreate
    exactly these with their kubeadm init phases, without kubeadm init or reset."""
    control_plane = cluster["control_planes"][0]
    before = fingerprint(cluster, kubectl)
    corefile = kubectl.json("get", "configmap", "coredns", namespace="kube-system")["data"]["Corefile"]
    label = "node-role.kubernetes.io/control-plane"
    try:
        for args, _phase in INTERRUPTED:
            kubectl("delete", *args, "--wait=true", timeout=120)
        kubectl("label", "node", control_plane, label + "-")
        run = site(cluster).check()
        assert run.ran("Run the missing kubeadm init phases") == [control_plane]
        assert run.ran("Initialise the control plane with kubeadm") == []
        for task in RESET_TASKS:
            assert run.ran(task) == [], "%s ran" % task
        for args, _phase in INTERRUPTED:
            assert exists(kubectl, *args), "%s was not recreated" % " ".join(args)
        node = kubectl.json("get", "node", control_plane)
        assert label in node["metadata"]["labels"]
        assert kubectl.json("get", "configmap", "coredns", namespace="kube-system")["data"]["Corefile"] == corefile
        assert fingerprint(cluster, kubectl) == before
        for name in ("daemonset/kube-proxy", "deployment/coredns"):
            kubectl("rollout", "status", name, "--timeout=180s", namespace="kube-system", timeout=200)
        nodes_ready(cluster, kubectl)
        print("interrupted init completed in place; site.yml %.0f s" % run.seconds)
    finally:
        phases = sorted({phase for args, phase in INTERRUPTED if not exists(kubectl, *args)})
        if not exists(kubectl, "node", control_plane, "-l", label):
            phases.append("mark-control-plane")
        for phase in phases:
            on_host(control_plane, "kubeadm init phase %s --config %s" % (phase, KUBEADM_CONFIG), timeout=300)


# --- (c) ---------------------------------------------------------------------------------------------

def stage_fresh_worker(kubectl, worker):
    """The worker as before its first join: its Node deleted, kubeadm reset on it."""
    kubectl("delete", "node", worker, "--wait=true", timeout=120)
    on_host(worker, "kubeadm reset --force --cri-socket unix:///run/containerd/containerd.sock "
                    "&& rm -f %s" % MARKER, timeout=300)


def pod_runs_on(kubectl, namespace, image, worker, name):
    """A joined-again worker is only useful if pods start there: its pod network is the new pod
    CIDR's, not the one it had before (kubeadm reset leaves the CNI's bridge behind)."""
    kubectl.apply(hello_pod(name, image, worker, {"app": name}), namespace=namespace)
    wait_pods_ready(kubectl, namespace, [name], timeout=120)
    kubectl("delete", "pod", name, "--wait=false", namespace=namespace)


def restore_worker(cluster, kubectl, worker):
    """After a drill on a worker: a Ready node again, by the join playbook if need be."""
    try:
        nodes_ready(cluster, kubectl)
    except AssertionError:
        on_host(worker, "systemctl start kubelet", check=False)
        try:
            nodes_ready(cluster, kubectl)
        except AssertionError:
            playbook(cluster, "playbooks/join.yml").check()
            nodes_ready(cluster, kubectl)


def test_a_half_joined_worker_is_reset_and_joined_again(cluster, kubectl, namespace, images):
    """Staged: a join this collection started whose kubelet never registered - the worker's Node
    does not exist and its kubelet is stopped, while kubelet.conf and the join role's marker are
    still there (as after a kubeadm join killed once the kubelet had its credentials). The run
    resets that worker only (kubeadm reset: the marker says the role made that state) and joins
    it again: a new Ready Node. The control plane is not touched."""
    worker = cluster["workers"][-1]
    before = fingerprint(cluster, kubectl)
    try:
        on_host(worker, "systemctl stop kubelet && test -s /etc/kubernetes/kubelet.conf && printf '%%s\\n' "
                        "'{\"started\": \"staged by tests/e2e/test_rerun_safety.py\", \"node\": \"%s\"}' > %s "
                        "&& chmod 0600 %s" % (worker, MARKER, MARKER))
        kubectl("delete", "node", worker, "--wait=true", timeout=120)
        run = site(cluster).check()
        assert run.ran("Undo the half-finished join") == [worker]
        assert run.ran("Undo the failed kubeadm init") == []
        assert run.ran("Join the cluster with kubeadm") == [worker]
        on_host(worker, "test ! -e %s" % MARKER)
        nodes_ready(cluster, kubectl)
        after = fingerprint(cluster, kubectl)
        assert after["node_uids"][worker] != before["node_uids"][worker]
        assert {k: v for k, v in after["node_uids"].items() if k != worker} == \
            {k: v for k, v in before["node_uids"].items() if k != worker}
        assert (after["ca_sha256"], after["etcd_member"]) == (before["ca_sha256"], before["etcd_member"])
        pod_runs_on(kubectl, namespace, images["hello"], worker, "after-rejoin")
        print("%s reset and joined again; site.yml %.0f s" % (worker, run.seconds))
    finally:
        restore_worker(cluster, kubectl, worker)


def test_a_join_whose_controller_died_finishes_on_the_host_and_the_next_run_settles_it(cluster, kubectl, namespace,
                                                                                       images):
    """Real: the worker is staged as never joined (its Node deleted, kubeadm reset on it), the join
    playbook starts, and the controller (ansible-playbook and its SSH connections) is killed as
    soon as kubeadm join runs on the worker - as a dropped connection would. kubeadm join runs
    detached (async), so it finishes on the host by itself and the Node registers; then
    site.yml finds a registered node, removes the join marker and resets nothing."""
    worker = cluster["workers"][-1]
    before = fingerprint(cluster, kubectl)
    controller = None
    try:
        stage_fresh_worker(kubectl, worker)
        controller = playbook(cluster, "playbooks/join.yml", "--limit", worker, wait=False)
        started = time.monotonic()

        def joining():
            out = on_host(worker, "pgrep -a -x kubeadm || true", timeout=30)
            return " join" in out, out.strip()
        wait_until("kubeadm join running on %s" % worker, joining, timeout=300, interval=0.5)
        os.killpg(controller.pid, signal.SIGKILL)
        controller.wait(timeout=30)
        killed = time.monotonic()
        print("controller killed %.1f s after it started, with kubeadm join running" % (killed - started))
        on_host(worker, "test -e %s" % MARKER)  # the role marked its join before starting it

        def registered():
            return exists(kubectl, "node", worker), "no Node %s yet" % worker
        wait_until("Node %s registered with the controller gone" % worker, registered, timeout=300, interval=2)
        print("Node %s registered %.0f s after the controller died" % (worker, time.monotonic() - killed))

        run = site(cluster).check()
        for task in RESET_TASKS:
            assert run.ran(task) == [], "%s ran" % task
        assert run.ran("Join the cluster with kubeadm") == []
        assert run.ran("Remove the marker of a join that has finished") == [worker]
        on_host(worker, "test ! -e %s" % MARKER)
        nodes_ready(cluster, kubectl)
        after = fingerprint(cluster, kubectl)
        assert (after["ca_sha256"], after["etcd_member"]) == (before["ca_sha256"], before["etcd_member"])
        pod_runs_on(kubectl, namespace, images["hello"], worker, "after-join")
        print("join finished detached; site.yml settled it in %.0f s" % run.seconds)
    finally:
        if controller and controller.poll() is None:
            os.killpg(controller.pid, signal.SIGKILL)
            controller.wait(timeout=30)
        restore_worker(cluster, kubectl, worker)


# --- (d) ---------------------------------------------------------------------------------------------

@pytest.mark.e2e_timeout(3600)
def test_site_three_times_changes_nothing_after_the_first(cluster, kubectl):
    before = fingerprint(cluster, kubectl)
    runs = [site(cluster).check() for _number in range(3)]
    for number, run in enumerate(runs[1:], 2):
        assert run.changed() == [], "run %d of site.yml changed: %s" % (number, run.changed())
    assert fingerprint(cluster, kubectl) == before
    nodes_ready(cluster, kubectl)
    print("site.yml x3: %s s; changes %s" % (", ".join("%.0f" % r.seconds for r in runs),
                                             [len(r.changed()) for r in runs]))
