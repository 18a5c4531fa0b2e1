# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""certificate_expiry on a node's files made by openssl, laid out as kubeadm does: ok, soon
(warn), expired and unreadable (fail), kubeconfig users, keys never in the output."""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.airgap.kubernetes.plugins.modules import certificate_expiry

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "module_utils"))
from kube_pki import Pki  # noqa: E402, pylint: disable=wrong-import-position
from test_x509 import dated  # noqa: E402, pylint: disable=wrong-import-position


def run(args, capsys, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args), pytest.raises(SystemExit):
        certificate_expiry.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture(name="node", scope="module")
def fixture_node(tmp_path_factory):
    """etc/kubernetes/{pki,pki/etcd,admin.conf} and var/lib/kubelet/pki under a scratch root."""
    root = tmp_path_factory.mktemp("node")
    pki = Pki(root / "made")
    kube = root / "etc" / "kubernetes"
    (kube / "pki" / "etcd").mkdir(parents=True)
    (root / "var" / "lib" / "kubelet" / "pki").mkdir(parents=True)
    shutil.copy(pki.ca[0], kube / "pki" / "ca.crt")
    shutil.copy(pki.ca[1], kube / "pki" / "ca.key")
    shutil.copy(pki.server[0], kube / "pki" / "apiserver.crt")
    shutil.copy(pki.leaf("soon", "kube-apiserver-etcd-client", pki.ca, days=10)[0], kube / "pki" / "etcd" / "soon.crt")
    shutil.copy(dated(str(root / "made"), "old", "20200101000000Z", "20210101000000Z", "/CN=kube-etcd-peer"),
                kube / "pki" / "etcd" / "peer.crt")
    (kube / "pki" / "etcd" / "broken.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    with open(root / "var" / "lib" / "kubelet" / "pki" / "kubelet-client-2026.pem", "wb") as handle:
        for part in pki.admin:
            with open(part, "rb") as source:
                handle.write(source.read())
    os.symlink("kubelet-client-2026.pem", root / "var" / "lib" / "kubelet" / "pki" / "kubelet-client-current.pem")
    (kube / "admin.conf").write_text(pki.kubeconfig("https://127.0.0.1:6443"))
    return root


def args_for(root, **extra):
    args = {
        "paths": [str(root / "etc/kubernetes/pki/*.crt"), str(root / "etc/kubernetes/pki/etcd/*.crt"),
                  str(root / "var/lib/kubelet/pki/kubelet-client-current.pem"),
                  str(root / "var/lib/kubelet/pki/kubelet.crt")],
        "kubeconfigs": [str(root / "etc/kubernetes/admin.conf"), str(root / "etc/kubernetes/scheduler.conf")],
    }
    args.update(extra)
    return args


def test_expired_and_unreadable_fail_soon_warns(node, capsys):
    result = run(args_for(node), capsys)
    assert result["failed"] and not result["changed"]
    peer = str(node / "etc/kubernetes/pki/etcd/peer.crt")
    broken = str(node / "etc/kubernetes/pki/etcd/broken.crt")
    assert result["msg"].startswith("2 certificate problem(s): ")
    assert "%s: cannot read a certificate from %s" % (broken, broken) in result["msg"]
    assert "%s: CN=kube-etcd-peer expired " % peer in result["msg"]
    by_path = {c["path"]: c for c in result["certificates"]}
    assert by_path[peer]["status"] == "fail" and by_path[peer]["not_after"] == "2021-01-01T00:00:00Z"
    soon = by_path[str(node / "etc/kubernetes/pki/etcd/soon.crt")]
    assert soon["status"] == "warn" and soon["days_left"] in (9, 10)
    assert by_path[str(node / "etc/kubernetes/pki/ca.crt")]["subject"] == "CN=kubernetes"
    kubelet = by_path[str(node / "var/lib/kubelet/pki/kubelet-client-current.pem")]
    assert kubelet["subject"] == "O=system:masters, CN=kubernetes-admin" and kubelet["status"] == "ok"
    admin = by_path[str(node / "etc/kubernetes/admin.conf") + ":kubernetes-admin"]
    assert admin["issuer"] == "CN=kubernetes"
    assert result["certificates"][0]["path"] == peer  # soonest first
    assert result["soonest"]["path"] == peer
    assert sorted(result["unmatched"]) == sorted([str(node / "var/lib/kubelet/pki/kubelet.crt"),
                                                  str(node / "etc/kubernetes/scheduler.conf")])
    assert result["counts"] == {"ok": 4, "warn": 1, "fail": 2}
    assert "PRIVATE KEY" not in json.dumps(result)
    assert "ca.key" not in json.dumps(result)


def test_report_only_and_check_mode_return_without_failing(node, capsys):
    result = run(args_for(node, report_only=True, warn_days=400), capsys, check_mode=True)
    assert not result.get("failed") and not result["changed"]
    assert result["counts"]["warn"] == 4  # every leaf (365 days) is now under the threshold; the CA is not
    warned = [p for p in result["problems"] if p.startswith("WARN certificate ")]
    assert len(warned) == 4 and all("under the 400-day threshold" in p for p in warned)
    assert result["msg"].startswith("6 certificate(s), soonest %s" % (node / "etc/kubernetes/pki/etcd/peer.crt"))


def test_nothing_found_is_not_a_failure(tmp_path, capsys):
    result = run({"paths": [str(tmp_path / "*.crt")], "kubeconfigs": []}, capsys)
    assert not result.get("failed") and result["certificates"] == [] and result["soonest"] is None
    assert result["unmatched"] == [str(tmp_path / "*.crt")]


def test_a_negative_threshold_is_refused(capsys):
    result = run({"warn_days": -1}, capsys)
    assert result["failed"] and result["msg"] == "warn_days must be 0 or more, not -1"
