# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health modules on the lab's real cluster (issue 6), run the way users run them
(`ansible --become -m airgap.kubernetes.cluster_health` on the first control plane over SSH: become
root, since it reads /etc/kubernetes/admin.conf and the SSH user need not be root; and the
airgap.kubernetes.verify playbook):

- healthy: every check passes, including every running image's digest being one of the bundle's;
- the kubelet stopped on a worker: the report names that node within the lease's deadline, and a
  waiting run fails at its timeout naming it; started again, the cluster passes again;
- CoreDNS scaled to 0: the report names CoreDNS; scaled back, it passes;
- a pod running an image imported on a node (not from the offline registry): the image check names
  the pod; deleted, it passes.

Every disturbance is undone in a `finally`, and the test waits until the cluster is healthy again.
Self-contained (no fixture of conftest.py). Needs the lab cluster (make lab, then site.yml).

The same helpers record the unit tests' fixtures from the lab:

    .venv/bin/python tests/e2e/test_health.py --capture tests/unit/plugins/modules/fixtures/cluster_health [SCENARIO...]
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests"))
import cluster_names  # noqa: E402  pylint: disable=wrong-import-position
import collection  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, collection.collections_path())
# pylint: disable-next=wrong-import-position,wrong-import-order
from ansible_collections.airgap.kubernetes.plugins.module_utils import kube_api, kube_health  # noqa: E402
# pylint: disable-next=wrong-import-position,wrong-import-order
from ansible_collections.airgap.kubernetes.plugins.module_utils import oci_registry as oci  # noqa: E402
# pylint: disable-next=wrong-import-position,wrong-import-order
from ansible_collections.airgap.kubernetes.plugins.plugin_utils import bundle as bundle_utils  # noqa: E402

LAB = os.environ.get("AIRGAP_LAB_CACHE", "/var/cache/airgap-lab")
CLUSTER_FILE = os.path.join(LAB, "state", "lab.cluster.yml")
VERSION = "v1.37.2"
KUBECTL = os.path.join(LAB, "mirror", "files", "dl.k8s.io", "release", VERSION, "bin", "linux", "amd64", "kubectl")
MIRROR_REGISTRY = "http://127.0.0.1:%s" % os.environ.get("AIRGAP_LAB_REGISTRY_PORT", "15000")
BIN = os.path.dirname(sys.executable)
CONTROL_PLANE, WORKERS = "lab-1", ("lab-2", "lab-3")
TEST_NAMESPACE = "airgap-health-e2e"
FOREIGN_IMAGE = "example.invalid/airgap-health/foreign:v1"
HELLO = "docker.io/airgapkubernetes/hello:v1.0.0"


# --- the lab ---------------------------------------------------------------------------------------

_KUBECTL = []


def kubectl_binary():
    """An executable copy of the mirror's kubectl (published mode 0644, as upstream's download),
    checked against its .sha256."""
    if not _KUBECTL:
        with open(KUBECTL + ".sha256", encoding="ascii") as handle:
            expected = handle.read().split()[0]
        scratch = tempfile.mkdtemp(prefix="airgap-health-kubectl-")
        atexit.register(shutil.rmtree, scratch, True)
        target = os.path.join(scratch, "kubectl")
        shutil.copyfile(KUBECTL, target)
        with open(target, "rb") as handle:
            assert hashlib.file_digest(handle, "sha256").hexdigest() == expected, "kubectl does not match its .sha256"
        os.chmod(target, 0o755)
        _KUBECTL.append(target)
    return _KUBECTL[0]


def kubectl(*args, stdin=None, check=True, timeout=120):
    proc = subprocess.run([kubectl_binary(), "--kubeconfig", kubeconfig_path(), "--request-timeout=30s"] + list(args),
                          input=stdin,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode:
        raise AssertionError("kubectl %s: %s" % (" ".join(args), proc.stderr.strip() or proc.stdout.strip()))
    return proc.stdout


def podman_exec(host, *command, check=True, timeout=120):
    proc = subprocess.run(["podman", "exec", host] + list(command), capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check and proc.returncode:
        raise AssertionError("podman exec %s %s: %s" % (host, " ".join(command), proc.stderr.strip()))
    return proc.stdout


def wait_for(what, probe, timeout, interval=3):
    """Call probe until it returns something true; its last value or an AssertionError naming what."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = probe()
        except (AssertionError, subprocess.SubprocessError, ValueError) as exc:
            last = exc
            if time.monotonic() > deadline:
                raise AssertionError("timed out after %d s waiting for %s: %s" % (timeout, what, exc))
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %d s waiting for %s (last: %r)" % (timeout, what, last))
        time.sleep(interval)


def kubeconfig_path():
    """The admin kubeconfig site.yml wrote, where the collection's model puts it (stateDir)."""
    return cluster_names.name(CLUSTER_FILE, "kubeconfig")


def bom():
    """The lab bundle's BOM, next to the archive in the cluster file's bundle.path."""
    path = bundle_utils.cluster_archive(cluster_names.cluster(CLUSTER_FILE), "amd64") + ".bom.json"
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def allowed_digests():
    return sorted(kube_health.bom_digests(bom()))


def environment():
    env = collection.environment()
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_INVENTORY_UNPARSED_FAILED="true",
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               ANSIBLE_DEPRECATION_WARNINGS="0")
    return env


def cluster_health(**params):
    """Run the module on the control plane as `ansible --become -m` does; (result, seconds of wall time)."""
    params.setdefault("kubeconfig", "/etc/kubernetes/admin.conf")
    started = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, "ansible"), "-i", CLUSTER_FILE, CONTROL_PLANE, "--become", "-m",
                           "airgap.kubernetes.cluster_health", "-a", json.dumps(params)],
                          env=environment(), capture_output=True, text=True, timeout=900, check=False)
    wall = time.monotonic() - started
    try:
        result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][CONTROL_PLANE]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible gave no result (rc=%d): %s %s"
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    assert bool(result.get("failed")) == (proc.returncode != 0), (proc.returncode, result.get("msg"))
    return result, wall


def verify_playbook(*extra):
    env = environment()
    env.update(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_LOAD_CALLBACK_PLUGINS="0")
    started = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", CLUSTER_FILE, "airgap.kubernetes.verify"]
                          + list(extra), env=env, capture_output=True, text=True, timeout=900, check=False)
    return proc, time.monotonic() - started


def failed_checks(result):
    return [c for c in result["checks"] if c["status"] == "fail"]


def wait_healthy(timeout=300):
    """The full check with the bundle's digests, waiting; returns the result. Used to start from and
    to come back to a healthy cluster."""
    result, wall = cluster_health(expected_nodes=3, expected_version=VERSION, allowed_image_digests=allowed_digests(),
                                  wait=True, timeout=timeout)
    assert not result.get("failed"), result["msg"]
    return result, wall


# --- disturbances, each undone in its finally ------------------------------------------------------

def node_ready(name):
    node = json.loads(kubectl("get", "node", name, "-o", "json"))
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])


@contextlib.contextmanager
def kubelet_stopped(host):
    podman_exec(host, "systemctl", "stop", "kubelet")
    try:
        yield
    finally:
        podman_exec(host, "systemctl", "start", "kubelet")
        wait_for("node %s Ready again" % host, lambda: node_ready(host), 300)


@contextlib.contextmanager
def coredns_scaled_to_zero():
    replicas = int(kubectl("get", "deployment", "coredns", "-n", "kube-system", "-o", "jsonpath={.spec.replicas}")
                   or 2) or 2
    kubectl("scale", "deployment", "coredns", "-n", "kube-system", "--replicas=0")
    try:
        wait_for("no CoreDNS pod left", lambda: not json.loads(kubectl(
            "get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "json"))["items"], 120)
        yield replicas
    finally:
        kubectl("scale", "deployment", "coredns", "-n", "kube-system", "--replicas=%d" % replicas)
        kubectl("rollout", "status", "deployment/coredns", "-n", "kube-system", "--timeout=240s", timeout=300)


def foreign_image_archive(path):
    """An OCI archive of the sample app with one label added to its config: the same layers, a
    config and manifest - so a digest - that the bundle does not carry. Built from the lab mirror's
    copy of the image (the connected side), named FOREIGN_IMAGE."""
    registry = oci.Registry(MIRROR_REGISTRY + "/docker.io")
    data, dummy, digest = registry.get_manifest("airgapkubernetes/hello", "v1.0.0")
    top = json.loads(data)
    if "manifests" in top:
        data, dummy, digest = registry.get_manifest("airgapkubernetes/hello",
                                                    oci.platform_manifest(top, "linux", "amd64")["digest"])
    manifest = json.loads(data)
    scratch = tempfile.mkdtemp(prefix="airgap-foreign-")
    blobs = {}
    for layer in manifest["layers"]:
        target = os.path.join(scratch, layer["digest"].split(":")[1])
        registry.fetch_blob("airgapkubernetes/hello", layer["digest"], target)
        with open(target, "rb") as handle:
            blobs[layer["digest"]] = handle.read()
    config_path = os.path.join(scratch, "config")
    registry.fetch_blob("airgapkubernetes/hello", manifest["config"]["digest"], config_path)
    registry.close()
    with open(config_path, "rb") as handle:
        config = json.load(handle)
    config.setdefault("config", {}).setdefault("Labels", {})["airgap.kubernetes/e2e"] = "not from the bundle"
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_digest = oci.sha256_digest(config_bytes)
    blobs[config_digest] = config_bytes
    new_manifest = dict(manifest, mediaType=oci.MEDIA_OCI_MANIFEST, config=dict(
        manifest["config"], mediaType="application/vnd.oci.image.config.v1+json", digest=config_digest,
        size=len(config_bytes)))
    manifest_bytes = json.dumps(new_manifest, sort_keys=True).encode()
    manifest_digest = oci.sha256_digest(manifest_bytes)
    blobs[manifest_digest] = manifest_bytes
    index = {"schemaVersion": 2, "mediaType": oci.MEDIA_OCI_INDEX, "manifests": [{
        "mediaType": oci.MEDIA_OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest_bytes),
        "annotations": {"io.containerd.image.name": FOREIGN_IMAGE, "org.opencontainers.image.ref.name": "v1"}}]}
    with tarfile.open(path, "w") as tar:
        for name, content in [("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
                              ("index.json", json.dumps(index).encode())] + \
                [("blobs/sha256/" + d.split(":")[1], b) for d, b in blobs.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    for name in os.listdir(scratch):
        os.unlink(os.path.join(scratch, name))
    os.rmdir(scratch)
    return manifest_digest


def pod_object(name, namespace, image, node, pull="IfNotPresent", args=None):
    container = {"name": "hello", "image": image, "imagePullPolicy": pull}
    if args:
        container["args"] = args
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": "airgap-health-e2e"}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1, "containers": [container]}}


def pod_phase(name, namespace):
    return json.loads(kubectl("get", "pod", name, "-n", namespace, "-o", "json"))["status"].get("phase")


@contextlib.contextmanager
def foreign_image_pod(node):
    """A pod on node whose image was imported into the node's containerd (ctr import), not pulled
    from the offline registry."""
    archive = os.path.join(tempfile.mkdtemp(prefix="airgap-health-"), "foreign.tar")
    digest = foreign_image_archive(archive)
    try:
        subprocess.run(["podman", "cp", archive, "%s:/tmp/airgap-health-foreign.tar" % node], check=True, timeout=120)
        podman_exec(node, "ctr", "-n", "k8s.io", "images", "import", "/tmp/airgap-health-foreign.tar")
        kubectl("create", "namespace", TEST_NAMESPACE, check=False)
        kubectl("apply", "-f", "-", stdin=json.dumps(pod_object("foreign-image", TEST_NAMESPACE, FOREIGN_IMAGE, node,
                                                                pull="Never")))
        wait_for("pod foreign-image Running", lambda: pod_phase("foreign-image", TEST_NAMESPACE) == "Running", 120)
        yield {"pod": "Pod/%s/foreign-image" % TEST_NAMESPACE, "digest": digest}
    finally:
        kubectl("delete", "namespace", TEST_NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=120s",
                timeout=180, check=False)
        podman_exec(node, "ctr", "-n", "k8s.io", "images", "rm", FOREIGN_IMAGE, check=False)
        podman_exec(node, "rm", "-f", "/tmp/airgap-health-foreign.tar", check=False)
        os.unlink(archive)
        os.rmdir(os.path.dirname(archive))


@contextlib.contextmanager
def crashlooping_pod(node):
    """A kube-system pod of the sample app's image (from the bundle) that exits at once, waited for
    until it has been restarted 3 times and is not running (v1.37's kubelet reports the last exit,
    not always CrashLoopBackOff, between restarts)."""
    kubectl("apply", "-f", "-", stdin=json.dumps(pod_object("airgap-health-crashloop", "kube-system", HELLO, node,
                                                            args=["-listen", "no-port"])))
    try:
        def looping():
            pod = json.loads(kubectl("get", "pod", "airgap-health-crashloop", "-n", "kube-system", "-o", "json"))
            for status in pod["status"].get("containerStatuses") or []:
                if "running" not in (status.get("state") or {}) and status.get("restartCount", 0) >= 3:
                    return True
            return False
        wait_for("pod airgap-health-crashloop restarted 3 times", looping, 180, interval=1)
        yield "Pod/kube-system/airgap-health-crashloop"
    finally:
        kubectl("delete", "pod", "airgap-health-crashloop", "-n", "kube-system", "--ignore-not-found", "--wait=true",
                "--timeout=60s", check=False)


@contextlib.contextmanager
def etcd_paused(seconds):
    """etcd on the control plane stopped (SIGSTOP) for at most `seconds` - shorter than the
    controller-manager's and scheduler's leader-election renew deadline (10 s), so nothing restarts -
    and always continued (SIGCONT)."""
    pid = podman_exec(CONTROL_PLANE, "pgrep", "-x", "etcd").split()[0]
    started = time.monotonic()
    podman_exec(CONTROL_PLANE, "kill", "-STOP", pid)
    try:
        yield lambda: max(0.5, seconds - (time.monotonic() - started))
    finally:
        podman_exec(CONTROL_PLANE, "kill", "-CONT", pid)


# --- the tests -------------------------------------------------------------------------------------

@pytest.fixture(name="lab", scope="module")
def fixture_lab():
    assert os.path.exists(CLUSTER_FILE), "no lab: %s is missing (make lab)" % CLUSTER_FILE
    assert os.path.exists(kubeconfig_path()), "no lab cluster: %s is missing (make lab, then site.yml)" % kubeconfig_path()
    wait_for("every node Ready", lambda: all(node_ready(n) for n in (CONTROL_PLANE,) + WORKERS), 300)
    return True


def test_a_healthy_cluster_passes_every_check(lab):
    result, wall = wait_healthy()
    names = {c["name"] for c in result["checks"]}
    assert {"api_readyz", "api_livez", "etcd", "node_count", "node_ready", "node_version", "control_plane_pod",
            "coredns", "deployment", "daemonset", "pod", "image_source"} <= names
    assert [n["name"] for n in result["nodes"]] == ["lab-1", "lab-2", "lab-3"]
    assert all(n["ready"] and n["version"] == VERSION for n in result["nodes"])
    assert result["counts"]["fail"] == 0
    images = [c for c in result["checks"] if c["name"] == "image_source"]
    assert images and all(c["status"] == "ok" for c in images)
    print("healthy: %s; module %.2f s, ansible -m %.1f s" % (result["summary"], result["elapsed"], wall))

    proc, seconds = verify_playbook()
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "is healthy" in proc.stdout and "certificate(s), soonest" in proc.stdout
    print("verify.yml: %.1f s" % seconds)


def test_a_stopped_kubelet_is_named_within_the_deadline(lab):
    wait_healthy()
    with kubelet_stopped("lab-3"):
        stopped = time.monotonic()

        def named():
            result, dummy = cluster_health(expected_nodes=3, report_only=True)
            failing = [c for c in failed_checks(result) if c["object"] == "Node/lab-3"]
            return (result, failing) if failing else None

        result, failing = wait_for("a failing check naming Node/lab-3", named, 150, interval=2)
        detected = time.monotonic() - stopped
        print("kubelet stopped on lab-3: named after %.0f s: %s" % (detected, failing[0]["reason"]))
        assert failing[0]["name"] == "node_ready"
        assert "Node/lab-3" in result["summary"]
        assert not [c for c in failed_checks(result) if c["object"] in ("Node/lab-1", "Node/lab-2")]

        waited, wall = cluster_health(expected_nodes=3, wait=True, timeout=20, interval=5)
        assert waited["failed"] and waited["attempts"] >= 2
        assert "node_ready Node/lab-3" in waited["msg"] and "still failing after" in waited["msg"]
        assert 20 <= waited["elapsed"] < 20 + 15, waited["elapsed"]
        print("wait with timeout 20: failed after %.1f s (%d attempts)" % (waited["elapsed"], waited["attempts"]))
    restarted = time.monotonic()
    dummy, wall = wait_healthy()
    print("kubelet started again: healthy %.0f s later" % (time.monotonic() - restarted))


def test_coredns_scaled_to_zero_is_named(lab):
    wait_healthy()
    with coredns_scaled_to_zero():
        result, dummy = cluster_health(report_only=True)
        coredns = [c for c in result["checks"] if c["name"] == "coredns"][0]
        assert coredns["status"] == "fail", coredns
        assert "CoreDNS is scaled to 0 replicas" in coredns["reason"]
        assert "Service kube-system/kube-dns has no ready endpoint" in coredns["reason"]
        failing, dummy = cluster_health()
        assert failing["failed"] and "coredns Deployment/kube-system/coredns: CoreDNS is scaled to 0" in failing["msg"]

        proc, seconds = verify_playbook("-e", "verify_timeout=10")
        assert proc.returncode != 0
        assert "coredns Deployment/kube-system/coredns" in proc.stdout, proc.stdout[-4000:]
        print("verify.yml with CoreDNS at 0: failed in %.1f s" % seconds)
    result, dummy = wait_healthy()
    assert [c["status"] for c in result["checks"] if c["name"] == "coredns"] == ["ok"]


def test_an_image_from_outside_the_bundle_is_named(lab):
    wait_healthy()
    with foreign_image_pod("lab-2") as foreign:
        digests = allowed_digests()
        assert foreign["digest"] not in digests
        result, dummy = cluster_health(allowed_image_digests=digests, report_only=True)
        failing = [c for c in failed_checks(result) if c["name"] == "image_source"]
        assert [c["object"] for c in failing] == [foreign["pod"]], result["problems"]
        assert FOREIGN_IMAGE in failing[0]["reason"]
        assert all(c["status"] == "ok" for c in result["checks"] if c["name"] == "image_source"
                   and c["object"] != foreign["pod"])
        print("foreign image: %s" % failing[0]["reason"])
        # Without the digests there is nothing to compare: the same cluster passes.
        plain, dummy = cluster_health()
        assert not plain.get("failed"), plain["msg"]
    wait_healthy()


# --- recording the unit tests' fixtures ------------------------------------------------------------

class RecordingClient(kube_api.KubeClient):
    """A KubeClient that keeps every answer (managedFields dropped), and marks requests that got
    no answer in time as stalls."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.responses = {}

    def request(self, path, timeout=None, accept="application/json"):
        try:
            answer = super().request(path, timeout=timeout, accept=accept)
        except kube_api.KubeAPIError as exc:
            if exc.kind == "timeout":
                self.responses[path] = {"stall": True}
            raise
        record = {"status": answer.status, "date": answer.headers.get("Date"),
                  "content_type": answer.headers.get("Content-Type")}
        try:
            record["json"] = strip(answer.json())
        except ValueError:
            record["text"] = answer.text
        self.responses[path] = record
        return answer


def strip(value):
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k != "managedFields"}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def record(scenario, note, config=None, timeout=10, option_sets=None):
    """Run the module's reading for each option set through a RecordingClient; the scenario's
    fixture."""
    client = RecordingClient(config or kube_api.load_kubeconfig(kubeconfig_path()), timeout=timeout)
    digests = allowed_digests()
    option_sets = option_sets or (kube_health.Options(), kube_health.Options(namespaces=["*"], allowed_digests=digests))
    for options in option_sets:
        kube_health.gather(client, options, timeout=timeout)
    return {"scenario": scenario, "note": note, "server": client.server,
            "captured": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "responses": dict(sorted(client.responses.items()))}


def foreign_client_config():
    """The lab's kubeconfig with a client certificate from a CA the cluster does not know."""
    scratch = tempfile.mkdtemp(prefix="airgap-foreign-ca-")
    key, cert = os.path.join(scratch, "key.pem"), os.path.join(scratch, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-keyout", key, "-out", cert, "-subj", "/O=system:masters/CN=kubernetes-admin"],
                   check=True, capture_output=True)
    config = kube_api.load_kubeconfig(kubeconfig_path())
    with open(cert, encoding="ascii") as handle:
        config.cert_data = handle.read()
    with open(key, encoding="ascii") as handle:
        config.key_data = handle.read()
    config.cert_file = config.key_file = None
    for name in (key, cert):
        os.unlink(name)
    os.rmdir(scratch)
    return config


def write_fixture(path, fixture):
    """JSON with one line per recorded answer (compact inside): diffs show which answers changed."""
    lines = ["{"]
    for key in sorted(k for k in fixture if k != "responses"):
        lines.append(" %s: %s," % (json.dumps(key), json.dumps(fixture[key], sort_keys=True)))
    lines.append(' "responses": {')
    answers = sorted(fixture["responses"].items())
    for number, (path_key, answer) in enumerate(answers):
        lines.append("  %s: %s%s" % (json.dumps(path_key), json.dumps(answer, sort_keys=True, separators=(",", ":")),
                                     "," if number < len(answers) - 1 else ""))
    lines.append(" }")
    lines.append("}")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def write_bom_digests(directory):
    with open(os.path.join(directory, "bom_digests.json"), "w", encoding="utf-8") as handle:
        json.dump({"note": "the lab bundle's BOM images (ref, digest, platform manifest)",
                   "images": [{k: i.get(k) for k in ("ref", "digest", "manifest")} for i in bom()["images"]]},
                  handle, indent=1, sort_keys=True)
        handle.write("\n")


def capture(directory, only=None):
    """Record the scenarios the unit tests replay (all, or those named), restoring the cluster after
    each one and waiting until it is healthy again."""
    os.makedirs(directory, exist_ok=True)

    def save(name, fixture):
        write_fixture(os.path.join(directory, name + ".json"), fixture)
        print("recorded %s: %d answers" % (name, len(fixture["responses"])))

    def healthy():
        save("healthy", record("healthy", "the lab cluster after site.yml, every check passing"))
        write_bom_digests(directory)

    def node_not_ready():
        with kubelet_stopped("lab-3"):
            wait_for("node lab-3 not Ready", lambda: not node_ready("lab-3"), 180)
            save("node_not_ready", record("node_not_ready", "`systemctl stop kubelet` on lab-3, recorded once the "
                                          "node controller had marked lab-3 NotReady"))

    def coredns_zero():
        with coredns_scaled_to_zero():
            save("coredns_zero", record("coredns_zero", "`kubectl -n kube-system scale deployment coredns "
                                        "--replicas=0`, recorded once no CoreDNS pod was left"))

    def crashloop():
        with crashlooping_pod("lab-2"):
            save("crashloop", record("crashloop", "a kube-system pod of the sample app's image with a bad -listen "
                                     "argument, recorded between restarts after its third"))

    def foreign_image():
        with foreign_image_pod("lab-2"):
            save("foreign_image", record("foreign_image", "a pod in %s running %s, imported on lab-2 with `ctr -n "
                                         "k8s.io images import` (the sample app with one label added to its config), "
                                         "imagePullPolicy Never" % (TEST_NAMESPACE, FOREIGN_IMAGE)))

    def etcd_stopped():
        # The API server probes etcd in the background, so /readyz turns only a few seconds after etcd
        # stops: ask until it does (at most 8 s), then once more each of the other requests.
        client = RecordingClient(kube_api.load_kubeconfig(kubeconfig_path()), timeout=2)
        with etcd_paused(8) as remaining:
            while remaining() > 3.5:
                try:
                    if client.request("/readyz?verbose", timeout=3, accept="text/plain").status != 200:
                        break
                except kube_api.KubeAPIError:
                    pass  # recorded as a stall; ask again
                time.sleep(0.5)
            for path in ("/livez?verbose", "/version", "/api/v1/nodes"):
                try:
                    client.request(path, timeout=min(1.5, remaining()),
                                   accept="text/plain" if "z?" in path else "application/json")
                except kube_api.KubeAPIError:
                    pass
        save("etcd_stopped", {"scenario": "etcd_stopped", "server": client.server,
                              "note": "etcd stopped with SIGSTOP on lab-1 (then SIGCONT, within 8 s): /readyz asked "
                                      "every half second until it failed, then the other requests once; a request "
                                      "without an answer in time is recorded as a stall",
                              "captured": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "responses": dict(sorted(client.responses.items()))})

    def foreign_client_certificate():
        save("foreign_client_certificate", record(
            "foreign_client_certificate", "the lab's kubeconfig with a client certificate (O=system:masters, "
            "CN=kubernetes-admin) from a self-signed CA the cluster does not know", config=foreign_client_config()))

    scenarios = [healthy, node_not_ready, coredns_zero, crashloop, foreign_image, etcd_stopped,
                 foreign_client_certificate]
    for scenario in scenarios:
        if only and scenario.__name__ not in only:
            continue
        wait_healthy()
        scenario()
    wait_healthy()


if __name__ == "__main__":
    if sys.argv[1:2] != ["--capture"] or len(sys.argv) < 3:
        sys.exit("usage: %s --capture DIRECTORY [SCENARIO...]" % sys.argv[0])
    capture(sys.argv[2], sys.argv[3:])
