# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory plugin, in process and through ansible-inventory."""

from __future__ import annotations

import glob
import json
import os
import resource
import shutil
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
# Not .yml: YAML tools (yamllint, ansible-test sanity) would choke on them, as they should.
UNREADABLE = sorted(glob.glob(os.path.join(FIXTURES, "unreadable", "*.yml.txt")))
CHECKOUT = os.path.join(REPO, "collections", "ansible_collections", "airgap", "kubernetes")
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


@pytest.mark.parametrize("path", UNREADABLE, ids=lambda p: os.path.basename(p)[:-8])
def test_unreadable_file_raises_naming_the_problem(path):
    with pytest.raises(AnsibleParserError) as caught:
        parse(path)
    for expected in expectations(path):
        assert expected in str(caught.value)
    assert "secret-never-shown" not in str(caught.value)


MINIMAL = os.path.join(FIXTURES, "valid", "minimal.yml")


def cluster_with_password(tmp_path, password_lines):
    """minimal.yml plus registry.auth, the password given as YAML lines (indented 4)."""
    with open(MINIMAL, encoding="utf-8") as handle:
        text = handle.read()
    path = tmp_path / "secret.cluster.yml"
    path.write_text(text + "registry:\n  auth:\n    username: pusher\n" + password_lines)
    return str(path)


@pytest.fixture(name="vaulted")
def fixture_vaulted(ansible_env, tmp_path):
    """A cluster file whose password is ansible-vault encrypted, and the vault password file."""
    password_file = tmp_path / "vault-password"
    password_file.write_text("unit-test-vault-password\n")
    encrypted = subprocess.run(
        [os.path.join(BIN, "ansible-vault"), "encrypt_string", "--vault-password-file", str(password_file),
         "--name", "password", "vaulted-password-never-printed"], env=ansible_env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, check=True).stdout
    lines = "".join("    %s\n" % line for line in encrypted.strip().splitlines())
    return cluster_with_password(tmp_path, lines), str(password_file)


@pytest.mark.parametrize("args", [["--list"], ["--host", "one-1"], ["--list", "--yaml"]])
def test_ansible_inventory_never_prints_a_vaulted_password(ansible_env, vaulted, args):
    """An AWX inventory sync stores what ansible-inventory prints: the ciphertext, not the password."""
    path, password_file = vaulted
    result = run_inventory(ansible_env, "-i", path, "--vault-password-file", password_file, *args)
    assert result.returncode == 0, result.stderr
    assert "vaulted-password-never-printed" not in result.stdout + result.stderr
    assert "$ANSIBLE_VAULT;1.1;AES256" in result.stdout
    if args == ["--host", "one-1"]:
        assert list(json.loads(result.stdout)["airgap_cluster"]["registry"]["auth"]["password"]) == ["__ansible_vault"]


def run_play(ansible_env, tmp_path, inventory, expression, *args):
    playbook = tmp_path / "show.yml"
    playbook.write_text("- hosts: one-1\n  gather_facts: false\n  tasks:\n    - name: Show\n"
                        "      ansible.builtin.debug:\n        msg: \"{{ %s }}\"\n" % expression)
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, str(playbook), *args],
                          env=ansible_env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False, timeout=300)


def test_a_play_decrypts_the_vaulted_password_where_it_uses_it(ansible_env, vaulted, tmp_path):
    path, password_file = vaulted
    result = run_play(ansible_env, tmp_path, path, "airgap_cluster.registry.auth.password",
                      "--vault-password-file", password_file)
    assert result.returncode == 0, result.stdout
    assert '"msg": "vaulted-password-never-printed"' in result.stdout


def test_no_value_of_the_cluster_file_is_templated(ansible_env, tmp_path):
    """The password may hold template syntax (a secret is never templated, so it is not refused):
    Ansible shows it as written, never evaluates it."""
    path = cluster_with_password(tmp_path, "    password: \"{{ 6 * 7 }}{% raw %}\"\n")
    result = run_play(ansible_env, tmp_path, path, "airgap_cluster.registry.auth.password")
    assert result.returncode == 0, result.stdout
    assert '"msg": "{{ 6 * 7 }}{% raw %}"' in result.stdout


def test_a_duplicate_password_key_never_prints_either_value(ansible_env, tmp_path):
    """With the plugin enabled directly, as the collection's ansible.cfg does. (Through Ansible's
    default auto plugin, Ansible's own YAML loader reads the file first and its duplicate-key
    warning quotes the lines: README says to enable the plugin.)"""
    path = cluster_with_password(tmp_path, "    password: first-never-printed\n    password: second-never-printed\n")
    ansible_env["ANSIBLE_INVENTORY_ENABLED"] = "airgap.kubernetes.cluster,host_list"
    result = run_inventory(ansible_env, "-i", path, "--list")
    assert result.returncode != 0
    assert "registry.auth.password: duplicate key (lines" in result.stderr
    assert "never-printed" not in result.stdout + result.stderr


@pytest.mark.parametrize("name", ["alias_bomb", "deep_nesting"])
def test_ansible_inventory_on_hostile_yaml_in_bounded_memory_and_time(ansible_env, tmp_path, name):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024 ** 3, 2 * 1024 ** 3))
    path = str(tmp_path / (name + ".cluster.yml"))
    shutil.copy(os.path.join(FIXTURES, "unreadable", name + ".yml.txt"), path)
    result = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", path, "--list"], env=ansible_env,
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False,
                            timeout=60, preexec_fn=limit)  # noqa: S603
    assert result.returncode != 0
    for expected in expectations(path):
        assert expected in result.stderr
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr


def checkout_inventory(*args, cwd=REPO):
    """ansible-inventory as a user runs it in a plain clone: no ANSIBLE_* variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return subprocess.run([os.path.join(BIN, "ansible-inventory"), *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=False, timeout=300)


@pytest.mark.skipif(not os.path.isdir(CHECKOUT), reason="not a checkout with its collections/ link")
def test_the_checkout_reads_a_cluster_file_with_no_environment():
    result = checkout_inventory("-i", "examples/cluster.yml", "--graph")
    assert result.returncode == 0, result.stderr
    assert "@cluster_demo:" in result.stdout


@pytest.mark.skipif(not os.path.isdir(CHECKOUT), reason="not a checkout with its collections/ link")
@pytest.mark.parametrize("name, expected", [
    ("empty.cluster.yml", "(file): is empty"),
    ("noplugin.cluster.yml", "plugin: required but missing"),
    ("bad.cluster.yml", "hosts[0].address: '192.0.2.012' is not a valid IPv4 address"),
])
def test_the_checkout_refuses_what_other_plugins_would_read(tmp_path, name, expected):
    """With the checkout's ansible.cfg only the cluster plugin reads the file: an empty one or one
    without the plugin key is not an empty inventory, and any problem exits non-zero."""
    with open(MINIMAL, encoding="utf-8") as handle:
        text = handle.read()
    text = {"empty.cluster.yml": "", "noplugin.cluster.yml": text.replace("plugin: airgap.kubernetes.cluster\n", ""),
            "bad.cluster.yml": text.replace("192.168.1.10", "192.0.2.012")}[name]
    (tmp_path / name).write_text(text)
    result = checkout_inventory("-i", str(tmp_path / name), "--list")
    assert result.returncode != 0, result.stdout
    assert expected in result.stderr
    assert "Completely failed to parse inventory source" in result.stderr


def test_a_copy_without_ansible_cfg_still_works_with_the_environment(ansible_env, tmp_path):
    """The collection installed elsewhere (no checkout ansible.cfg): the default auto plugin finds
    this one through the file's plugin key."""
    shutil.copy(EXAMPLE, str(tmp_path / "cluster.yml"))
    result = run_inventory(ansible_env, "-i", str(tmp_path / "cluster.yml"), "--graph")
    assert result.returncode == 0, result.stderr
