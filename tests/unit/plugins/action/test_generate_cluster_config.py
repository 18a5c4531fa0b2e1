# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""generate_cluster_config: the action in process, and the playbook the lab runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from unittest.mock import MagicMock

import yaml

from ansible.parsing.dataloader import DataLoader
from ansible_collections.airgap.kubernetes.plugins.action.generate_cluster_config import ActionModule
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import check

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))


def run_action(args, check_mode=False, diff=False):
    task = MagicMock(args=args, async_val=0, check_mode=check_mode, diff=diff)
    action = ActionModule(task, MagicMock(), MagicMock(), DataLoader(), MagicMock(), MagicMock())
    return action.run(task_vars={})


def test_writes_a_valid_commented_file_once(tmp_path):
    dest = tmp_path / "demo.cluster.yml"
    args = {"name": "demo", "hosts": ["10.0.0.1", "10.0.0.2"], "dest": str(dest)}
    result = run_action(args)
    assert result["changed"] is True, result
    text = dest.read_text()
    assert text.count("\n# ") > 20
    config, problems = check(yaml.safe_load(text))
    assert problems == []
    assert [h["name"] for h in config["hosts"]] == ["demo-cp1", "demo-w1"]
    assert run_action(args)["changed"] is False


def test_check_mode_writes_nothing_and_diff_shows_the_file(tmp_path):
    dest = tmp_path / "demo.cluster.yml"
    result = run_action({"name": "demo", "hosts": ["10.0.0.1"], "dest": str(dest)}, check_mode=True, diff=True)
    assert result["changed"] is True
    assert not dest.exists()
    assert "name: demo" in result["diff"]["after"]


def test_refuses_to_overwrite_without_force(tmp_path):
    dest = tmp_path / "cluster.yml"
    dest.write_text("# mine\n")
    result = run_action({"name": "demo", "hosts": ["10.0.0.1"], "dest": str(dest)})
    assert result["failed"] is True and "force=true" in result["msg"]
    assert dest.read_text() == "# mine\n"
    assert run_action({"name": "demo", "hosts": ["10.0.0.1"], "dest": str(dest), "force": True})["changed"]


def test_invalid_input_is_reported_and_not_written(tmp_path):
    dest = tmp_path / "cluster.yml"
    result = run_action({"name": "Bad_Name", "hosts": ["10.0.0.1", "10.0.0.1"], "dest": str(dest)})
    assert result["failed"] is True
    assert "name: 'Bad_Name' is not a DNS label" in result["msg"]
    assert "hosts[1].address: duplicate address" in result["msg"]
    assert not dest.exists()


def test_lab_cluster_file_from_hosts_json(ansible_env, tmp_path):
    """The command the lab runs: its state/hosts.json in, a cluster.yml the inventory plugin reads."""
    key = tmp_path / "id_ed25519"
    key.write_text("placeholder")
    hosts_json = tmp_path / "hosts.json"
    hosts_json.write_text(json.dumps([
        {"name": "lab-%d" % i, "address": "10.213.7.1%d" % i, "os": "bookworm", "ssh_user": "debian",
         "ssh_port": 22, "ssh_key": str(key)} for i in (1, 2, 3)]))
    dest = tmp_path / "cluster.yml"
    bindir = os.path.dirname(sys.executable)
    command = [os.path.join(bindir, "ansible-playbook"), "-i", "localhost,", "airgap.kubernetes.generate_cluster_config",
               "-e", "cluster=lab", "-e", "nodes_file=%s" % hosts_json, "-e", "fail_cgroup_v1=false",
               "-e", json.dumps({"ssh_common_args": "-o IdentitiesOnly=yes"}), "-e", "dest=%s" % dest]
    result = subprocess.run(command, env=ansible_env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout
    assert "changed=1" in result.stdout
    again = subprocess.run(command, env=ansible_env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, check=False, timeout=300)
    assert "changed=0" in again.stdout, again.stdout
    shown = subprocess.run([os.path.join(bindir, "ansible-inventory"), "-i", str(dest), "--host", "lab-2"],
                           env=ansible_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           check=True)
    variables = json.loads(shown.stdout)
    assert variables["ansible_host"] == "10.213.7.12"
    assert variables["ansible_user"] == "debian"
    assert variables["ansible_ssh_private_key_file"] == str(key)
    assert variables["ansible_ssh_common_args"] == "-o IdentitiesOnly=yes"
    assert variables["airgap_cluster"]["kubelet"]["failCgroupV1"] is False
    assert variables["airgap_node"]["roles"] == ["worker"]
