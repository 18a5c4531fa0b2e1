# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""molecule/kubelet's verify step: what the kubelet role promises, on the node (fixtures:
molecule/conftest.py)."""

from __future__ import annotations

import json

import pytest

# The role scenarios' lab has one host, lab-1. testinfra's ansible backend cannot read
# ansible-core 2.19+'s inventory JSON (the cluster inventory plugin's values come tagged unsafe,
# {"__ansible_unsafe": ...}), so the tests use the lab's own view of the host, as tests/e2e does.
testinfra_hosts = ["podman://lab-1"]

BIN_DIR = "/usr/local/bin"


def test_kubeadm_kubelet_and_kubectl_are_the_bundles(host, bom):
    expected = {name: "v" + bom["files_by_name"][name]["version"].lstrip("v") for name in ("kubeadm", "kubelet", "kubectl")}
    found = {
        "kubeadm": host.check_output("%s/kubeadm version --output short", BIN_DIR).strip(),
        "kubelet": host.check_output("%s/kubelet --version", BIN_DIR).split()[-1],
        "kubectl": json.loads(host.check_output("%s/kubectl version --client --output json", BIN_DIR))[
            "clientVersion"]["gitVersion"],
    }
    assert found == expected


@pytest.mark.parametrize("name", ["kubeadm", "kubelet", "kubectl"])
def test_the_binaries_are_roots_and_executable(host, name):
    item = host.file("%s/%s" % (BIN_DIR, name))
    assert (item.user, item.group, item.mode) == ("root", "root", 0o755)


@pytest.mark.parametrize("path", ["/etc/systemd/system/kubelet.service",
                                  "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"])
def test_the_unit_and_kubeadms_drop_in_are_installed(host, path):
    item = host.file(path)
    assert (item.user, item.group, item.mode) == ("root", "root", 0o644)


def test_the_kubelet_starts_at_boot_and_waits_for_kubeadm(host):
    """Enabled, with the drop-in that reads kubeadm's configuration, which only kubeadm init or
    join writes: the role writes none."""
    assert host.service("kubelet").is_enabled
    assert "--config=/var/lib/kubelet/config.yaml" in host.check_output("systemctl cat kubelet")
    assert not host.file("/var/lib/kubelet/config.yaml").exists
