# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight playbook stops on a bundle that does not fit the cluster file, before any host."""

from __future__ import annotations

import os
import subprocess
import sys
from unittest.mock import MagicMock

from ansible.parsing.dataloader import DataLoader
from ansible_collections.airgap.kubernetes.plugins.action.build_bundle import ActionModule as BuildBundle
from ansible_collections.airgap.kubernetes.plugins.plugin_utils import bundle, releases

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


def test_preflight_names_what_the_bundle_lacks_and_touches_no_host(tmp_path, ansible_env):
    (tmp_path / "cluster.yml").write_text(CLUSTER)
    # A bundle that is intact but empty: built from an empty plan.
    bundle.build({"files": [], "images": [], "cni": None}, str(tmp_path / "bundle"), "demo", "v1.37.2")
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(tmp_path / "cluster.yml"),
               "airgap.kubernetes.preflight"]
    result = subprocess.run(command, env=ansible_env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, check=False, timeout=300)
    assert result.returncode == 2, result.stdout
    out = result.stdout
    for culprit in ("lacks kubeadm v1.37.2 (files/kubeadm/kubeadm)",
                    "lacks the image registry.k8s.io/kube-apiserver:v1.37.2",
                    "lacks the image registry.k8s.io/metrics-server/metrics-server:v0.8.0",
                    "lacks the OS packages for debian-12 (bookworm)",
                    "lacks the OS packages for debian-13 (trixie)",
                    "the cluster asks for the CNI plugin kube-router, the bundle carries no CNI"):
        assert culprit in out, out
    recap = out[out.index("PLAY RECAP"):]
    assert "localhost" in recap and "cp1" not in recap and "w1" not in recap, recap


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
