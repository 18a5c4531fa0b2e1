# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory plugin, in process and through ansible-inventory."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible_collections.airgap.kubernetes.plugins.inventory.cluster import InventoryModule

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
FIXTURES = os.path.join(HERE, "..", "plugin_utils", "cluster", "fixtures")
EXAMPLE = os.path.join(REPO, "examples", "cluster.yml")
INVALID = sorted(glob.glob(os.path.join(FIXTURES, "invalid", "*.yml")))
BIN = os.path.dirname(sys.executable)


def parse(path):
    inventory = InventoryData()
    InventoryModule().parse(inventory, DataLoader(), path)
    return inventory


def expectations(path):
    with open(path, encoding="utf-8") as handle:
        return [line.split("# expect: ", 1)[1].rstrip("\n") for line in handle if line.startswith("# expect: ")]


def test_groups_and_hostvars_of_the_example():
    inventory = parse(EXAMPLE)
    members = {name: sorted(h.name for h in group.get_hosts()) for name, group in inventory.groups.items()}
    assert members["control_plane"] == ["demo-cp1"]
    assert members["workers"] == ["demo-w1", "demo-w2"]
    assert members["registry"] == ["demo-cp1"]
    assert members["nodes"] == ["demo-cp1", "demo-w1", "demo-w2"]
    assert members["cluster_demo"] == ["demo-cp1", "demo-w1", "demo-w2"]
    host = inventory.get_host("demo-w1").get_vars()
    assert (host["ansible_host"], host["ansible_user"], host["ansible_port"]) == ("192.168.50.12", "debian", 22)
    assert host["airgap_node"] == {"name": "demo-w1", "address": "192.168.50.12", "roles": ["worker"]}
    cluster = inventory.groups["cluster_demo"].get_vars()
    assert cluster["airgap_cluster_file"] == EXAMPLE
    assert cluster["airgap_cluster"]["network"]["podCIDR"] == "10.244.0.0/16"


def test_full_fixture_sets_ssh_and_extra_vars():
    inventory = parse(os.path.join(FIXTURES, "valid", "full.yml"))
    host = inventory.get_host("cp1.example.net").get_vars()
    assert host["ansible_host"] == "203.0.113.11"
    assert host["ansible_ssh_private_key_file"].endswith("/files/dummy-ssh-key")
    assert host["rack"] == "a1"
    group = inventory.groups["cluster_full_cluster"].get_vars()
    assert group["ansible_python_interpreter"] == "/usr/bin/python3"
    assert group["ansible_ssh_common_args"] == "-o StrictHostKeyChecking=yes"


@pytest.mark.parametrize("path", INVALID, ids=lambda p: os.path.basename(p)[:-4])
def test_invalid_file_raises_with_every_problem(path):
    with pytest.raises(AnsibleParserError) as caught:
        parse(path)
    for expected in expectations(path):
        assert expected in str(caught.value)


@pytest.mark.parametrize("name, content, accepted", [
    ("cluster.yml", "", True),
    ("prod.cluster.yaml", "", True),
    ("site.yml", "apiVersion: airgap.kubernetes/v1alpha1\n", True),
    ("hosts.yml", "all:\n  hosts: {}\n", False),
    ("cluster.ini", "", False),
])
def test_verify_file(tmp_path, name, content, accepted):
    path = tmp_path / name
    path.write_text(content)
    assert InventoryModule().verify_file(str(path)) is accepted


def run_inventory(ansible_env, *args):
    return subprocess.run([os.path.join(BIN, "ansible-inventory"), *args], env=ansible_env, cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)


def test_ansible_inventory_graph(ansible_env):
    result = run_inventory(ansible_env, "-i", "examples/cluster.yml", "--graph")
    assert result.returncode == 0, result.stderr
    for line in ("@cluster_demo:", "@nodes:", "@control_plane:", "@workers:", "@registry:", "--demo-w2"):
        assert line in result.stdout


def test_ansible_inventory_host_has_defaults_filled(ansible_env):
    result = run_inventory(ansible_env, "-i", "examples/cluster.yml", "--host", "demo-cp1")
    assert result.returncode == 0, result.stderr
    variables = json.loads(result.stdout)
    assert variables["ansible_host"] == "192.168.50.11"
    cluster = variables["airgap_cluster"]
    assert cluster["kubelet"] == {"failCgroupV1": True, "extraArgs": {}}
    assert cluster["registry"]["host"] == "192.168.50.11"
    assert cluster["controlPlane"]["endpoint"] == {"host": "192.168.50.11", "port": 6443}
    assert cluster["sources"]["registryK8sIo"] == "registry.k8s.io"


def test_ansible_inventory_refuses_an_invalid_file(ansible_env):
    path = os.path.join(FIXTURES, "invalid", "many_problems.yml")
    result = run_inventory(ansible_env, "-i", path, "--list")
    assert result.returncode != 0
    for expected in expectations(path):
        assert expected in result.stderr
