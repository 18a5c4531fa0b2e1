# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm_state on hosts laid out in a temporary directory as kubeadm leaves them (a fresh host,
a control plane, a worker, and each of them after a removal or an interrupted command), with a
loopback API server over HTTPS answering for the objects kubeadm init creates: what the host
holds, the init phases still needed, and what a control-plane or a worker run may do."""

from __future__ import annotations

import json
import os
import sys

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.airgap.kubernetes.plugins.modules import kubeadm_state

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "module_utils"))
from fake_apiserver import FakeAPIServer  # noqa: E402, pylint: disable=wrong-import-position
from kube_pki import Pki  # noqa: E402, pylint: disable=wrong-import-position

NODE = "cp1"
CP_FILES = (["pki/" + name for name in kubeadm_state.CERTS] + ["pki/ca.key", "pki/front-proxy-ca.key", "pki/etcd/ca.key"]
            + ["manifests/" + name for name in kubeadm_state.CONTROL_PLANE_MANIFESTS]
            + ["admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf", "kubelet.conf"])
WORKER_FILES = ["pki/ca.crt", "kubelet.conf"]
KUBELET_FILES = ["config.yaml", "kubeadm-flags.env", "pki/kubelet-client-current.pem"]
# kubelet.conf after kubelet-finalize (a path) and before it (the certificate inline).
KUBELET_CONF_ROTATING = ("apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context:\n"
                         "    cluster: k\n    user: u\nclusters:\n- name: k\n  cluster:\n    server: https://x:6443\n"
                         "users:\n- name: u\n  user:\n    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n"
                         "    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n")
KUBELET_CONF_EMBEDDED = KUBELET_CONF_ROTATING.replace(
    "    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n"
    "    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n",
    "    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n")


class Host:
    """A host's kubeadm directories under a temporary root."""

    def __init__(self, root):
        self.root = root
        self.k8s = root / "etc-kubernetes"
        self.etcd = root / "var-lib-etcd"
        self.kubelet = root / "var-lib-kubelet"
        for directory in (self.k8s / "manifests", self.etcd, self.kubelet):
            directory.mkdir(parents=True)

    def write(self, base, name, text="x"):
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def control_plane(self):
        for name in CP_FILES:
            self.write(self.k8s, name)
        self.write(self.k8s, "kubelet.conf", KUBELET_CONF_ROTATING)
        (self.etcd / "member" / "snap").mkdir(parents=True)
        for name in KUBELET_FILES:
            self.write(self.kubelet, name)
        return self

    def worker(self):
        for name in WORKER_FILES:
            self.write(self.k8s, name)
        self.write(self.k8s, "kubelet.conf", KUBELET_CONF_ROTATING)
        for name in KUBELET_FILES:
            self.write(self.kubelet, name)
        return self

    def marker(self):
        return self.write(self.k8s, kubeadm_state.JOIN_MARKER, '{"started": "2026-01-01T00:00:00Z"}')

    def remove(self, base, name):
        (base / name).unlink()

    def args(self, **extra):
        return dict({"kubernetes_dir": str(self.k8s), "etcd_data_dir": str(self.etcd),
                     "kubelet_dir": str(self.kubelet)}, **extra)


@pytest.fixture(name="host")
def fixture_host(tmp_path):
    return Host(tmp_path)


@pytest.fixture(name="proc")
def fixture_proc(tmp_path, monkeypatch):
    """An empty stand-in for /proc; tests add processes with add(pid, argv)."""
    proc = tmp_path / "proc"
    proc.mkdir()
    monkeypatch.setattr(kubeadm_state, "PROC", str(proc))

    def add(pid, argv):
        (proc / str(pid)).mkdir()
        (proc / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    return add


@pytest.fixture(name="pki", scope="module")
def fixture_pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("kubeadm-state"))


def run(capsys, args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args), pytest.raises(SystemExit):
        kubeadm_state.main()
    return json.loads(capsys.readouterr().out)


def api_objects(missing=(), node_labels=None, forbidden=False):
    """Recorded answers of an API server holding what kubeadm init creates, but `missing`."""
    responses = {}
    for _argv, objects in kubeadm_state.API_PHASES:
        for obj in objects:
            if kubeadm_state.object_label(*obj) in missing:
                continue
            kind, namespace, name = obj
            responses[kubeadm_state.object_path(*obj)] = {"status": 200, "json": {
                "kind": kind, "metadata": dict({"name": name}, **({"namespace": namespace} if namespace else {}))}}
    labels = {kubeadm_state.CONTROL_PLANE_LABEL: ""} if node_labels is None else node_labels
    responses["/api/v1/nodes/" + NODE] = {"status": 200, "json": {"kind": "Node", "metadata": {
        "name": NODE, "labels": dict({"kubernetes.io/hostname": NODE}, **labels)}}}
    if forbidden:
        refused = {"status": 403, "json": {"kind": "Status", "code": 403, "reason": "Forbidden", "message":
                                           "User \"kubernetes-admin\" cannot get resource"}}
        responses = {path: refused for path in responses}
    return {"responses": responses}


def with_api(pki, host, capsys, fixture, api="cluster", kubeconfig_name="admin.conf", **extra):
    with FakeAPIServer(pki, fixture) as server:
        host.write(host.k8s, kubeconfig_name, pki.kubeconfig(server.url))
        result = run(capsys, host.args(api=api, node_name=NODE, **extra))
    return result, server.log


def phase_names(result):
    return [p["name"] for p in result["init"]["phases"]]


# --- files only -----------------------------------------------------------------------------------

def test_a_fresh_host_may_be_initialised_or_joined(host, proc, capsys):
    result = run(capsys, host.args())
    assert not result["changed"]
    assert not result["initialised"] and not result["control_plane"] and result["state"] == []
    assert result["init"] == {"action": "init", "reason": "the host holds no kubeadm state", "phases": []}
    assert result["join"]["action"] == "join"
    assert result["join_marker"] == {"path": str(host.k8s / kubeadm_state.JOIN_MARKER), "exists": False}
    assert result["kubeadm_running"] == []


@pytest.mark.parametrize("piece", ["pki/ca.key", "manifests/kube-apiserver.yaml", "manifests/etcd.yaml", "etcd member"])
def test_any_one_piece_of_control_plane_state_makes_the_host_initialised(host, proc, capsys, piece):
    if piece == "etcd member":
        (host.etcd / "member").mkdir()
    else:
        host.write(host.k8s, piece)
    result = run(capsys, host.args())
    assert result["initialised"] and result["control_plane"]
    assert result["init"]["action"] != "init"  # complete, or refuse where admin.conf cannot be written
    assert result["join"]["action"] == "refuse"  # the join role never resets control-plane state


@pytest.mark.parametrize("piece", ["kubelet.conf", "pki/ca.crt", "bootstrap-kubelet.conf", "admin.conf"])
def test_node_state_without_control_plane_state_is_refused_by_init(host, proc, capsys, piece):
    host.write(host.k8s, piece)
    result = run(capsys, host.args())
    assert result["initialised"] and not result["control_plane"]
    assert result["init"]["action"] == "refuse"
    assert "neither initialised over nor reset" in result["init"]["reason"]


def test_a_complete_control_plane_needs_no_file_phase(host, proc, capsys):
    host.control_plane()
    result = run(capsys, host.args())
    assert result["init"]["action"] == "complete" and result["init"]["phases"] == []
    assert str(host.etcd / "member") in result["state"]


def test_a_removed_admin_conf_is_written_again_by_its_phase_only(host, proc, capsys):
    host.control_plane()
    host.remove(host.k8s, "admin.conf")
    result = run(capsys, host.args())
    assert result["init"]["action"] == "complete"
    assert result["init"]["phases"] == [{"name": "kubeconfig admin", "argv": ["init", "phase", "kubeconfig", "admin"],
                                         "missing": [str(host.k8s / "admin.conf")]}]


def test_super_admin_conf_removed_on_purpose_stays_removed(host, proc, capsys):
    host.control_plane()
    host.remove(host.k8s, "super-admin.conf")
    assert run(capsys, host.args())["init"]["phases"] == []


def test_admin_conf_cannot_be_written_without_the_ca_key(host, proc, capsys):
    host.control_plane()
    host.remove(host.k8s, "admin.conf")
    host.remove(host.k8s, "pki/ca.key")
    result = run(capsys, host.args())
    assert result["init"]["action"] == "refuse"
    assert "put admin.conf back" in result["init"]["reason"]


def test_a_ca_key_kept_off_the_host_is_not_missing(host, proc, capsys):
    host.control_plane()
    host.remove(host.k8s, "pki/ca.key")
    result = run(capsys, host.args())
    assert result["control_plane"]  # the manifests and etcd's data still say so
    assert result["init"] == {"action": "complete", "phases": [],
                              "reason": "the control plane is initialised; nothing is missing"}


def test_an_init_interrupted_after_its_file_phases_lacks_the_kubelet_and_nothing_else(host, proc, capsys):
    host.control_plane()
    for name in KUBELET_FILES:
        host.remove(host.kubelet, name)
    host.remove(host.k8s, "manifests/kube-scheduler.yaml")
    host.remove(host.k8s, "pki/etcd/peer.key")
    result = run(capsys, host.args())
    assert phase_names(result) == ["certs all", "control-plane scheduler", "kubelet-start"]
    assert result["init"]["phases"][0]["missing"] == [str(host.k8s / "pki/etcd/peer.key")]


def test_kubelet_finalize_is_needed_while_kubelet_conf_holds_the_certificate_inline(host, proc, capsys):
    host.control_plane()
    host.write(host.k8s, "kubelet.conf", KUBELET_CONF_EMBEDDED)
    assert phase_names(run(capsys, host.args())) == ["kubelet-finalize enable-client-cert-rotation"]
    # ...but not before the kubelet has a rotating certificate to point at.
    host.remove(host.kubelet, "pki/kubelet-client-current.pem")
    assert phase_names(run(capsys, host.args())) == []


def test_the_check_mode_answer_is_the_same(host, proc, capsys):
    host.control_plane()
    host.remove(host.k8s, "admin.conf")
    normal = run(capsys, host.args())
    checked = run(capsys, host.args(), check_mode=True)
    assert checked == normal and not checked["changed"]


# --- running kubeadm ------------------------------------------------------------------------------

def test_running_kubeadm_commands_are_listed_without_their_arguments(host, proc, capsys):
    proc(300, ["/usr/bin/kubeadm", "join", "10.0.0.1:6443", "--token", "abcdef.0123456789abcdef"])
    proc(200, ["kubeadm", "init", "phase", "addon", "all", "--config", "/etc/kubernetes/kubeadm-config.yaml"])
    proc(100, ["kubeadm", "token", "list"])  # not one that changes the host
    proc(400, ["/usr/bin/python3", "kubeadm", "init"])
    result = run(capsys, host.args())
    assert result["kubeadm_running"] == [{"pid": 200, "command": "kubeadm init phase addon"},
                                         {"pid": 300, "command": "kubeadm join"}]
    assert "abcdef" not in json.dumps(result)


# --- the API --------------------------------------------------------------------------------------

def test_a_complete_cluster_needs_no_phase(pki, host, proc, capsys):
    host.control_plane()
    result, asked = with_api(pki, host, capsys, api_objects())
    assert result["init"] == {"action": "complete", "phases": [],
                              "reason": "the control plane is initialised; nothing is missing"}
    assert result["node"]["registered"] is True
    # Every object of every API phase was asked for, and nothing was changed.
    assert len(asked) == 1 + sum(len(objects) for _argv, objects in kubeadm_state.API_PHASES)


def test_what_an_interrupted_init_did_not_create_is_completed_by_its_phases(pki, host, proc, capsys):
    host.control_plane()
    missing = ["ConfigMap kube-system/kubeadm-config", "DaemonSet kube-system/kube-proxy",
               "ConfigMap kube-public/cluster-info", "ClusterRoleBinding kubeadm:node-autoapprove-bootstrap"]
    result, _asked = with_api(pki, host, capsys, api_objects(missing=missing))
    assert result["init"]["action"] == "complete"
    assert result["init"]["phases"] == [
        {"name": "upload-config kubeadm", "argv": ["init", "phase", "upload-config", "kubeadm"],
         "missing": ["ConfigMap kube-system/kubeadm-config"]},
        {"name": "bootstrap-token", "argv": ["init", "phase", "bootstrap-token", "--skip-token-print"],
         "missing": ["ClusterRoleBinding kubeadm:node-autoapprove-bootstrap", "ConfigMap kube-public/cluster-info"]},
        {"name": "addon kube-proxy", "argv": ["init", "phase", "addon", "kube-proxy"],
         "missing": ["DaemonSet kube-system/kube-proxy"]}]


def test_an_unlabelled_control_plane_node_is_marked(pki, host, proc, capsys):
    host.control_plane()
    result, _asked = with_api(pki, host, capsys, api_objects(node_labels={}))
    assert phase_names(result) == ["mark-control-plane"]


def test_a_refused_admin_conf_means_no_api_phase_ran_yet(pki, host, proc, capsys):
    host.control_plane()
    result, _asked = with_api(pki, host, capsys, api_objects(forbidden=True))
    assert phase_names(result) == ["upload-config kubeadm", "upload-config kubelet", "mark-control-plane",
                                   "bootstrap-token", "addon coredns", "addon kube-proxy"]
    assert "kubeadm:cluster-admins" in result["init"]["phases"][0]["missing"][0]


def test_file_and_api_phases_come_in_kubeadms_order(pki, host, proc, capsys):
    host.control_plane()
    host.write(host.k8s, "kubelet.conf", KUBELET_CONF_EMBEDDED)
    result, _asked = with_api(pki, host, capsys, api_objects(missing=["Deployment kube-system/coredns",
                                                                      "ConfigMap kube-system/kubelet-config"]))
    assert phase_names(result) == ["upload-config kubelet", "kubelet-finalize enable-client-cert-rotation",
                                   "addon coredns"]


def test_an_api_server_that_does_not_answer_fails_with_the_host_named(pki, host, proc, capsys):
    host.control_plane()
    host.write(host.k8s, "admin.conf", pki.kubeconfig("https://127.0.0.1:9"))
    result = run(capsys, host.args(api="cluster", node_name=NODE, request_timeout=2))
    assert result["failed"]
    assert result["msg"].startswith("cannot tell which kubeadm init phases cp1 still needs: GET https://127.0.0.1:9/")


def test_the_node_name_is_required_to_ask_the_api(host, proc, capsys):
    result = run(capsys, host.args(api="node"))
    assert result["failed"] and "node_name" in result["msg"]


# --- workers --------------------------------------------------------------------------------------

def node_fixture(registered):
    return {"responses": {"/api/v1/nodes/" + NODE: {"status": 200, "json": {"kind": "Node", "metadata": {
        "name": NODE}}}} if registered else {}}


def test_a_registered_worker_is_left_alone(pki, host, proc, capsys):
    host.worker()
    result, asked = with_api(pki, host, capsys, node_fixture(True), api="node", kubeconfig_name="kubelet.conf")
    assert result["join"] == {"action": "none", "reason": "the host is the registered Node cp1"}
    assert asked == ["/api/v1/nodes/" + NODE]


def test_a_registered_worker_with_a_stale_marker_is_a_node(pki, host, proc, capsys):
    host.worker()
    host.marker()
    result, _asked = with_api(pki, host, capsys, node_fixture(True), api="node", kubeconfig_name="kubelet.conf")
    assert result["join"]["action"] == "none" and result["join_marker"]["exists"]


def test_a_join_this_role_started_that_never_registered_is_undone_and_redone(pki, host, proc, capsys):
    host.worker()
    host.marker()
    result, _asked = with_api(pki, host, capsys, node_fixture(False), api="node", kubeconfig_name="kubelet.conf")
    assert result["node"]["registered"] is False
    assert result["join"]["action"] == "rejoin"
    assert "undone with kubeadm reset" in result["join"]["reason"]


def test_a_join_killed_before_the_kubelet_had_credentials_is_undone_and_redone(host, proc, capsys):
    host.write(host.k8s, "bootstrap-kubelet.conf")
    host.write(host.k8s, "pki/ca.crt")
    host.write(host.kubelet, "config.yaml")
    host.marker()
    result = run(capsys, host.args(api="node", node_name=NODE))
    assert result["node"]["registered"] is None and "does not exist" in result["node"]["detail"]
    assert result["join"]["action"] == "rejoin"


def test_a_join_that_left_nothing_is_simply_run_again(host, proc, capsys):
    host.marker()
    result = run(capsys, host.args(api="node", node_name=NODE))
    assert result["join"]["action"] == "join" and result["initialised"] is False


def test_an_unregistered_node_this_role_did_not_join_is_not_touched(pki, host, proc, capsys):
    host.worker()
    result, _asked = with_api(pki, host, capsys, node_fixture(False), api="node", kubeconfig_name="kubelet.conf")
    assert result["join"]["action"] == "refuse"
    assert "did not create" in result["join"]["reason"] and "nothing is deleted" in result["join"]["reason"]


def test_foreign_state_without_kubelet_conf_is_not_touched(host, proc, capsys):
    host.write(host.k8s, "pki/ca.crt")
    result = run(capsys, host.args(api="node", node_name=NODE))
    assert result["join"]["action"] == "refuse"


def test_a_node_the_api_cannot_confirm_is_left_alone_unless_this_role_was_joining_it(pki, host, proc, capsys):
    host.worker()
    host.write(host.k8s, "kubelet.conf", pki.kubeconfig("https://127.0.0.1:9"))
    result = run(capsys, host.args(api="node", node_name=NODE, request_timeout=2))
    assert result["node"]["registered"] is None
    assert result["join"]["action"] == "none"
    host.marker()
    result = run(capsys, host.args(api="node", node_name=NODE, request_timeout=2))
    assert result["join"]["action"] == "refuse" and "cannot be told" in result["join"]["reason"]


def test_an_unregistered_host_with_control_plane_state_is_never_reset_by_the_join(pki, host, proc, capsys):
    host.control_plane()
    host.marker()  # even a marker does not make control-plane state the join role's
    result, _asked = with_api(pki, host, capsys, node_fixture(False), api="node", kubeconfig_name="kubelet.conf")
    assert result["join"]["action"] == "refuse"
    assert "never joins or resets" in result["join"]["reason"]
