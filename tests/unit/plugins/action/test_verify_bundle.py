# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight playbook stops on a bundle that is not signed by the cluster file's key or does
not fit the cluster file, before any host."""

from __future__ import annotations

import os
import subprocess
import sys
from unittest.mock import MagicMock

from ansible.parsing.dataloader import DataLoader
from ansible_collections.airgap.kubernetes.plugins.action.build_bundle import ActionModule as BuildBundle
from ansible_collections.airgap.kubernetes.plugins.plugin_utils import bundle, releases

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plugin_utils"))
from ssh_key import SshKey  # noqa: E402, pylint: disable=wrong-import-position

CLUSTER = """\
plugin: airgap.kubernetes.cluster
apiVersion: airgap.kubernetes/v1alpha1
kind: Cluster
name: demo
hosts:
  - name: cp1
    address: 192.0.2.11
    roles: [control_plane, registry]
  - name: w1
    address: 192.0.2.12
    roles: [worker]
"""


def preflight(tmp_path, ansible_env):
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(tmp_path / "cluster.yml"),
               "airgap.kubernetes.preflight"]
    result = subprocess.run(command, env=ansible_env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, check=False, timeout=300)
    assert result.returncode == 2, result.stdout
    recap = result.stdout[result.stdout.index("PLAY RECAP"):]
    assert "localhost" in recap and "cp1" not in recap and "w1" not in recap, recap
    return result.stdout


def empty_bundle(tmp_path, signing_key=None):
    """A bundle that is intact but empty: built from an empty plan."""
    return bundle.build({"files": [], "images": [], "cni": None}, str(tmp_path / "bundle"), "demo", "v1.37.2",
                        signing_key=signing_key)


def test_preflight_names_what_the_bundle_lacks_and_touches_no_host(tmp_path, ansible_env):
    key = SshKey(tmp_path, "bundle-signing")
    (tmp_path / "cluster.yml").write_text(CLUSTER + "bundle:\n  publicKey: bundle-signing.pub\n")
    empty_bundle(tmp_path, signing_key=key.private)
    out = preflight(tmp_path, ansible_env)
    for culprit in ("lacks kubeadm v1.37.2 (files/kubeadm/kubeadm)",
                    "lacks the image registry.k8s.io/kube-apiserver:v1.37.2",
                    "lacks the image registry.k8s.io/metrics-server/metrics-server:v0.8.0",
                    "lacks the OS packages for debian-12 (bookworm)",
                    "lacks the OS packages for debian-13 (trixie)",
                    "the cluster asks for the CNI plugin kube-router, the bundle carries no CNI"):
        assert culprit in out, out


def test_preflight_refuses_an_unsigned_bundle_before_any_host(tmp_path, ansible_env):
    SshKey(tmp_path, "bundle-signing")
    (tmp_path / "cluster.yml").write_text(CLUSTER + "bundle:\n  publicKey: bundle-signing.pub\n")
    built = empty_bundle(tmp_path)
    out = preflight(tmp_path, ansible_env)
    name = os.path.basename(built["archive"])
    assert ("%s: its signature %s.sha256.sig is missing: sign the bundle on the connected side "
            "(-e bundle_signing_key=KEY with the airgap.kubernetes.bundle playbook)" % (name, name)) in out, out
    assert "lacks" not in out  # an untrusted archive is not read


def test_preflight_with_allow_unsigned_warns_and_checks_the_rest(tmp_path, ansible_env):
    (tmp_path / "cluster.yml").write_text(CLUSTER + "bundle:\n  allowUnsigned: true\n")
    built = empty_bundle(tmp_path)
    out = preflight(tmp_path, ansible_env)
    assert "[WARNING]: %s is NOT SIGNED and bundle.allowUnsigned is true" % os.path.basename(built["archive"]) in out, out
    assert "lacks kubeadm v1.37.2 (files/kubeadm/kubeadm)" in out, out


def test_bundle_refuses_to_build_unsigned_for_a_cluster_that_trusts_a_key(tmp_path):
    SshKey(tmp_path, "bundle-signing")
    (tmp_path / "cluster.yml").write_text(CLUSTER + "bundle:\n  publicKey: bundle-signing.pub\n")
    task = MagicMock(args={"path": str(tmp_path / "cluster.yml")}, async_val=0, check_mode=False)
    action = BuildBundle(task, MagicMock(), MagicMock(), DataLoader(), MagicMock(), MagicMock())
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["msg"] == (
        "%s sets bundle.publicKey (%s), so the air-gapped side refuses an unsigned bundle: give the private key to "
        "sign it with, signing_key (-e bundle_signing_key=KEY with the airgap.kubernetes.bundle playbook)"
        % (tmp_path / "cluster.yml", tmp_path / "bundle-signing.pub"))
    assert not (tmp_path / "bundle").exists()


def test_bundle_refuses_a_cni_the_collection_does_not_install(tmp_path, ansible_env):
    (tmp_path / "cluster.yml").write_text(CLUSTER + "cni:\n  plugin: calico\n")
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "airgap.kubernetes.bundle",
               "-e", "cluster_file=%s" % (tmp_path / "cluster.yml")]
    result = subprocess.run(command, env=ansible_env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, check=False, timeout=300)
    assert result.returncode == 2, result.stdout
    assert "cni.plugin: value of plugin must be one of: kube-router, got: calico" in result.stdout
    assert not (tmp_path / "bundle").exists()


def test_bundle_refuses_a_cni_the_release_has_no_rows_for(tmp_path, monkeypatch):
    # kube-router has rows in every release today; a release without them must not build silently.
    monkeypatch.delitem(releases.SUPPORTED_RELEASES["v1.37.2"]["cni"], "kube-router")
    (tmp_path / "cluster.yml").write_text(CLUSTER)
    task = MagicMock(args={"path": str(tmp_path / "cluster.yml")}, async_val=0, check_mode=False)
    action = BuildBundle(task, MagicMock(), MagicMock(), DataLoader(), MagicMock(), MagicMock())
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert "asks for the CNI plugin kube-router, and the collection has no rows for it with Kubernetes v1.37.2" \
        in result["msg"]
    assert not (tmp_path / "bundle").exists()
