# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cluster_health against answers recorded from the lab cluster (fixtures/cluster_health, see its
README.md), replayed over HTTPS with client certificates by a loopback API server: healthy,
degraded (a node NotReady, CoreDNS at 0, a crash-looping pod, an image from outside the bundle),
failing (etcd stopped), a client certificate the cluster does not know; and with no recording: an
untrusted server certificate, a server that never answers, one that is not there, bad arguments."""

from __future__ import annotations

import json
import os
import socket
import sys
import time

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.airgap.kubernetes.plugins.module_utils import kube_health
from ansible_collections.airgap.kubernetes.plugins.modules import cluster_health

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "module_utils"))
from fake_apiserver import FakeAPIServer  # noqa: E402, pylint: disable=wrong-import-position
from kube_pki import Pki  # noqa: E402, pylint: disable=wrong-import-position

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "cluster_health")


def fixture(name):
    with open(os.path.join(FIXTURES, name + ".json"), encoding="utf-8") as handle:
        return json.load(handle)


def lab_digests():
    return sorted(kube_health.bom_digests(fixture("bom_digests")))


@pytest.fixture(name="pki", scope="module")
def fixture_pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("cluster-health"))


@pytest.fixture(name="kubeconfig")
def fixture_kubeconfig(pki, tmp_path):
    def write(server, **kwargs):
        path = tmp_path / "admin.conf"
        path.write_text(pki.kubeconfig(server, **kwargs))
        return str(path)
    return write


def run(args, capsys, sleep=time.sleep):
    with patch_module_args(args), pytest.raises(SystemExit):
        module = AnsibleModule(argument_spec=cluster_health.ARGUMENT_SPEC, supports_check_mode=True)
        cluster_health.run(module, sleep=sleep)
    return json.loads(capsys.readouterr().out)


def replay(pki, kubeconfig, capsys, scenario, **params):
    """Run the module against the recorded answers of a scenario; (result, paths asked)."""
    with FakeAPIServer(pki, fixture(scenario) if isinstance(scenario, str) else scenario) as api:
        result = run(dict({"kubeconfig": kubeconfig(api.url), "request_timeout": 2}, **params), capsys)
    assert api.unknown == [], "the module asked what was not recorded: %s" % api.unknown
    return result, api.log


def by_status(result, status):
    return [(c["name"], c["object"]) for c in result["checks"] if c["status"] == status]


def named(result, name, obj):
    found = [c for c in result["checks"] if c["name"] == name and c["object"] == obj]
    assert len(found) == 1, (name, obj, result["checks"])
    return found[0]


# --- recorded -----------------------------------------------------------------------------------------

FULL = {"namespaces": ["*"]}  # the second reading the recordings hold: every namespace, with the image check


def test_healthy(pki, kubeconfig, capsys):
    result, asked = replay(pki, kubeconfig, capsys, "healthy", expected_nodes=3, expected_version="v1.37.2")
    assert not result.get("failed") and not result["changed"] and result["healthy"]
    assert result["counts"]["fail"] == 0 and result["attempts"] == 1
    assert by_status(result, "fail") == []
    assert [n["name"] for n in result["nodes"]] == ["lab-1", "lab-2", "lab-3"]
    assert all(n["ready"] and n["version"] == "v1.37.2" and n["lease_age_seconds"] < 40 for n in result["nodes"])
    names = [c["name"] for c in result["checks"]]
    for name in ("api_server", "api_readyz", "api_livez", "etcd", "api_version", "node_count", "node_ready",
                 "node_version", "control_plane_pod", "coredns", "deployment", "daemonset", "pod"):
        assert name in names
    assert names.count("control_plane_pod") == 4 and names.count("node_ready") == 3
    assert named(result, "etcd", "etcd (API server /readyz and /livez etcd checks)")["reason"].startswith("passed: ")
    assert named(result, "coredns", "Deployment/kube-system/coredns")["status"] == "ok"
    assert result["msg"].endswith("is healthy: %d checks ok, %d warning(s); 3/3 nodes Ready, v1.37.2"
                                  % (result["counts"]["ok"], result["counts"]["warn"]))
    assert any(e["name"] == "etcd" and e["ok"] for e in result["readyz"])
    assert "/api/v1/pods" not in asked and "/api/v1/namespaces/kube-system/pods" in asked
    assert all(not p.startswith("/api/v1/namespaces/kube-system/pods/") or "/proxy/" in p for p in asked)


def test_healthy_with_every_image_from_the_bundle(pki, kubeconfig, capsys):
    result, asked = replay(pki, kubeconfig, capsys, "healthy", allowed_image_digests=lab_digests(), **FULL)
    assert result["healthy"], result["problems"]
    images = [c for c in result["checks"] if c["name"] == "image_source"]
    assert len(images) >= 10 and all(c["status"] == "ok" for c in images)
    assert "/api/v1/pods" in asked


def test_the_bom_file_works_as_the_digest_list(pki, kubeconfig, capsys, tmp_path):
    bom = tmp_path / "lab-bundle-v1.37.2-amd64.tar.bom.json"
    bom.write_text(json.dumps(fixture("bom_digests")))
    result, dummy = replay(pki, kubeconfig, capsys, "healthy", bom_path=str(bom), **FULL)
    assert result["healthy"] and "image_source" in [c["name"] for c in result["checks"]]


def test_check_mode_reads_the_same(pki, kubeconfig, capsys):
    result, dummy = replay(pki, kubeconfig, capsys, "healthy", _ansible_check_mode=True)
    assert result["healthy"] and not result["changed"]


def test_expectations_that_the_cluster_does_not_meet(pki, kubeconfig, capsys):
    result, dummy = replay(pki, kubeconfig, capsys, "healthy", expected_nodes=4, expected_version="1.37.3")
    assert result["failed"] and not result["healthy"]
    assert by_status(result, "fail") == [("api_version", result["server"] + "/version"), ("node_count", "nodes"),
                                         ("node_version", "Node/lab-1"), ("node_version", "Node/lab-2"),
                                         ("node_version", "Node/lab-3")]
    assert "node_count nodes: 3 nodes registered (lab-1, lab-2, lab-3), expected 4" in result["msg"]
    assert "node_version Node/lab-2: kubelet v1.37.2, expected v1.37.3" in result["msg"]
    assert result["msg"].startswith("%s is unhealthy: 5 of " % result["server"])


def test_a_node_whose_kubelet_stopped(pki, kubeconfig, capsys):
    result, dummy = replay(pki, kubeconfig, capsys, "node_not_ready", expected_nodes=3)
    assert result["failed"]
    node = named(result, "node_ready", "Node/lab-3")
    assert node["status"] == "fail"
    assert "not Ready (Ready=Unknown: Kubelet stopped posting node status." in node["reason"]
    assert "the kubelet has not renewed its lease" in node["reason"]
    assert named(result, "node_ready", "Node/lab-2")["status"] == "ok"
    assert "node_ready Node/lab-3: not Ready" in result["msg"]
    assert [n["ready"] for n in result["nodes"]] == [True, True, False]


def test_coredns_scaled_to_zero(pki, kubeconfig, capsys):
    result, dummy = replay(pki, kubeconfig, capsys, "coredns_zero")
    assert result["failed"]
    coredns = named(result, "coredns", "Deployment/kube-system/coredns")
    assert coredns["status"] == "fail"
    assert coredns["reason"] == ("CoreDNS is scaled to 0 replicas; Service kube-system/kube-dns has no ready "
                                 "endpoint: cluster DNS does not answer")
    assert named(result, "deployment", "Deployment/kube-system/coredns")["status"] == "warn"
    assert "coredns Deployment/kube-system/coredns: CoreDNS is scaled to 0 replicas" in result["msg"]


def test_a_crash_looping_pod(pki, kubeconfig, capsys):
    """v1.37's kubelet reported the last exit between restarts, not CrashLoopBackOff (cni_crashloop.json
    has the CrashLoopBackOff form)."""
    result, dummy = replay(pki, kubeconfig, capsys, "crashloop")
    assert result["failed"]
    assert by_status(result, "fail") == [("pod", "Pod/kube-system/airgap-health-crashloop")]
    pod = named(result, "pod", "Pod/kube-system/airgap-health-crashloop")
    assert pod["reason"].startswith("container hello: exited 1 (Error) at ")
    assert pod["reason"].endswith(" and is being restarted (3 restarts): crash-looping on lab-2")


def test_an_image_from_outside_the_bundle(pki, kubeconfig, capsys):
    result, dummy = replay(pki, kubeconfig, capsys, "foreign_image", allowed_image_digests=lab_digests(), **FULL)
    assert result["failed"]
    images = [c for c in result["checks"] if c["name"] == "image_source"]
    assert [(c["status"], c["object"]) for c in images if c["status"] != "ok"] == [
        ("fail", "Pod/airgap-health-e2e/foreign-image")]
    assert len(images) >= 10
    reason = named(result, "image_source", "Pod/airgap-health-e2e/foreign-image")["reason"]
    # ctr import gave the image no repository digest: the kubelet reports the config digest as its ID.
    assert reason.startswith("container hello runs example.invalid/airgap-health/foreign:v1 (image ID sha256:")
    assert reason.endswith("which has no registry digest: it was imported or built on the node, not pulled from "
                           "the offline registry")
    # Another engineer's end-to-end test was running too: its namespace is in the recording.
    assert ("deployment", "Deployment/e2e-metrics-4tudc/cpu") in by_status(result, "fail")
    # Without digests to compare with, and kube-system only, the same cluster is healthy.
    result, dummy = replay(pki, kubeconfig, capsys, "foreign_image")
    assert result["healthy"], result["problems"]


def test_etcd_stopped(pki, kubeconfig, capsys):
    """/readyz hung while etcd was stopped; /livez said why."""
    result, dummy = replay(pki, kubeconfig, capsys, "etcd_stopped")
    assert result["failed"]
    server = result["server"]
    assert result["checks"] == [
        {"name": "api_server", "status": "fail", "object": server,
         "reason": "GET %s/readyz?verbose: no answer from %s within 2 s" % (server, server)},
        {"name": "api_livez", "status": "fail", "object": server + "/livez",
         "reason": "HTTP 500; failed: etcd (reason withheld)"},
        {"name": "etcd", "status": "fail", "object": "etcd (API server /readyz and /livez etcd checks)",
         "reason": "the API server cannot use etcd: livez etcd (reason withheld)"}]
    assert result["livez"] and [e["name"] for e in result["livez"] if not e["ok"]] == ["etcd"]


def test_a_client_certificate_the_cluster_does_not_know(pki, kubeconfig, capsys):
    result, asked = replay(pki, kubeconfig, capsys, "foreign_client_certificate")
    assert result["failed"] and asked == ["/readyz?verbose"]
    assert by_status(result, "fail") == [("api_server", result["server"])]
    assert "/readyz?verbose: HTTP 401 Unauthorized: the API server does not accept the credentials of " in result["msg"]


def test_wait_until_healthy(pki, kubeconfig, capsys):
    """CoreDNS at 0 on the first attempt, healthy on the second: waiting ends healthy."""
    with FakeAPIServer(pki, fixture("coredns_zero")) as api:
        sleeps = []

        def sleep(seconds):
            sleeps.append(seconds)
            api.fixture = fixture("healthy")

        result = run({"kubeconfig": kubeconfig(api.url), "wait": True, "timeout": 60, "interval": 7}, capsys, sleep)
    assert result["healthy"] and result["attempts"] == 2 and sleeps == [7]


def test_wait_ends_at_the_deadline_with_the_last_report(pki, kubeconfig, capsys):
    with FakeAPIServer(pki, fixture("node_not_ready")) as api:
        started = time.monotonic()
        result = run({"kubeconfig": kubeconfig(api.url), "wait": True, "timeout": 3, "interval": 1}, capsys)
    assert 3 <= time.monotonic() - started < 10
    assert result["failed"] and result["attempts"] >= 2
    assert "node_ready Node/lab-3" in result["msg"] and "still failing after %d attempt(s)" % result["attempts"] \
        in result["msg"]


# --- not recorded: transport failures and arguments -----------------------------------------------------

def test_a_server_that_never_answers(pki, kubeconfig, capsys):
    with FakeAPIServer(pki, stall=True) as api:
        started = time.monotonic()
        result = run({"kubeconfig": kubeconfig(api.url), "wait": True, "timeout": 3, "interval": 1,
                      "request_timeout": 1}, capsys)
        seconds = time.monotonic() - started
    assert 3 <= seconds < 10
    assert result["failed"] and result["attempts"] >= 2
    assert by_status(result, "fail") == [("api_server", api.url)]
    assert "GET %s/readyz?verbose: no answer from %s within 1 s" % (api.url, api.url) in result["msg"]


def test_a_server_that_is_not_there(pki, kubeconfig, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = "https://127.0.0.1:%d" % probe.getsockname()[1]
    result = run({"kubeconfig": kubeconfig(url)}, capsys)
    assert result["failed"] and result["checks"] == [{"name": "api_server", "status": "fail", "object": url, "reason": (
        "GET %s/readyz?verbose: %s refused the connection (is kube-apiserver running?)" % (url, url))}]
    assert result["msg"] == ("%s is unhealthy: 1 of 1 checks failed. Failed: api_server %s: GET %s/readyz?verbose: %s "
                             "refused the connection (is kube-apiserver running?)" % (url, url, url, url))


def test_a_server_certificate_the_kubeconfig_does_not_trust(pki, kubeconfig, capsys):
    with FakeAPIServer(pki, fixture("healthy")) as api:
        result = run({"kubeconfig": kubeconfig(api.url, ca=pki.foreign_ca)}, capsys)
    assert result["failed"] and api.log == []
    assert "the TLS certificate of %s is not trusted" % api.url in result["msg"]


@pytest.mark.parametrize("params, message", [
    ({"allowed_image_digests": ["sha256:abc", "latest"]},
     "allowed_image_digests: not sha256:<64 hex> digests: latest, sha256:abc"),
    ({"allowed_image_digests": []}, "allowed_image_digests is empty: every image would be refused"),
    ({"expected_nodes": 0, "timeout": 0}, "expected_nodes must be at least 1, not 0; timeout must be at least 1, not 0"),
    ({"api_server": "http://10.0.0.1:6443"}, "api_server must be an https:// URL, not 'http://10.0.0.1:6443'"),
    ({"expected_version": "latest"}, "expected_version must look like v1.37.2, not 'latest'"),
    ({"namespaces": []}, "namespaces must name at least one namespace (or '*')"),
    ({"bom_path": "/nonexistent/bom.json"}, "cannot read the BOM /nonexistent/bom.json: "),
    ({"kubeconfig": "/nonexistent/admin.conf"}, "cannot read the kubeconfig /nonexistent/admin.conf: No such file"),
])
def test_bad_arguments_are_refused_before_any_request(params, message, capsys):
    result = run(params, capsys)
    assert result["failed"] and result["msg"].startswith(message), result["msg"]


def test_the_cni_crash_looping_during_bring_up(pki, kubeconfig, capsys):
    """Recorded, not staged: the lab's first bring-up, with kube-router failing on every node."""
    result, dummy = replay(pki, kubeconfig, capsys, "cni_crashloop", expected_nodes=3, expected_version="v1.37.2")
    assert result["failed"]
    failed = by_status(result, "fail")
    assert ("daemonset", "DaemonSet/kube-system/kube-router") in failed
    assert ("coredns", "Deployment/kube-system/coredns") in failed
    assert len([o for n, o in failed if n == "pod" and o.startswith("Pod/kube-system/kube-router-")]) == 3
    pending = [c for c in result["checks"] if c["name"] == "pod" and c["object"].startswith("Pod/kube-system/coredns-")]
    assert pending and all(c["status"] == "warn" and c["reason"].startswith("Pending (coredns ContainerCreating)")
                           for c in pending)
    assert all(n["ready"] for n in result["nodes"])  # the nodes are Ready: the kubelet does not wait for the CNI here
    result, dummy = replay(pki, kubeconfig, capsys, "cni_crashloop", allowed_image_digests=lab_digests(), **FULL)
    assert not [o for n, o in by_status(result, "fail") if n == "image_source"]
