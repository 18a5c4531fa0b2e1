# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""validate_cluster_config: the action in process, and playbooks/validate.yml stopping a run."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from unittest.mock import MagicMock

import pytest
import yaml

from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible_collections.airgap.kubernetes.plugins.action.validate_cluster_config import ActionModule

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
FIXTURES = os.path.join(HERE, "..", "plugin_utils", "cluster", "fixtures")
INVALID = sorted(glob.glob(os.path.join(FIXTURES, "invalid", "*.yml")))


def expectations(path):
    with open(path, encoding="utf-8") as handle:
        return [line.split("# expect: ", 1)[1].rstrip("\n") for line in handle if line.startswith("# expect: ")]


def run_action(args, check_mode=False):
    task = MagicMock(args=args, async_val=0, check_mode=check_mode, diff=False)
    action = ActionModule(task, MagicMock(), MagicMock(), DataLoader(), MagicMock(), MagicMock())
    return action.run(task_vars={})


@pytest.mark.parametrize("path", INVALID, ids=lambda p: os.path.basename(p)[:-4])
def test_invalid_file_fails_listing_every_problem(path):
    result = run_action({"path": path})
    assert result["failed"] is True
    assert result["changed"] is False
    assert "cluster" not in result
    for expected in expectations(path):
        assert expected in result["msg"]
        assert any(expected in problem for problem in result["problems"])


@pytest.mark.parametrize("check_mode", [False, True])
def test_valid_file_returns_the_resolved_cluster(check_mode):
    path = os.path.join(REPO, "examples", "cluster.yml")
    result = run_action({"path": path}, check_mode=check_mode)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert result["problems"] == []
    assert result["cluster"]["registry"]["host"] == "192.168.50.11"


def test_config_instead_of_path():
    with open(os.path.join(FIXTURES, "invalid", "duplicate_name.yml"), encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    result = run_action({"config": config, "check_files": False})
    assert result["failed"] is True
    assert result["problems"] == ["hosts[1].name: duplicate host name 'cp1' (also hosts[0].name)"]


def test_password_is_not_in_the_result_message():
    path = os.path.join(FIXTURES, "invalid", "password_without_username.yml")
    result = run_action({"path": path})
    assert "hunter2" not in result["msg"]


@pytest.mark.parametrize("args", [{}, {"path": "a.yml", "config": {}}])
def test_needs_exactly_one_of_path_and_config(args):
    with pytest.raises(AnsibleActionFail):
        run_action(args)


def test_validate_playbook_stops_before_any_host(ansible_env, tmp_path):
    """The first play fails on the controller; the play after it never contacts its host."""
    playbook = tmp_path / "site.yml"
    playbook.write_text(yaml.safe_dump([
        {"name": "Validate", "ansible.builtin.import_playbook": "airgap.kubernetes.validate"},
        {"name": "Touch the hosts", "hosts": "all", "gather_facts": False,
         "tasks": [{"name": "Ping", "ansible.builtin.ping": {}}]},
    ]))
    bad = os.path.join(FIXTURES, "invalid", "many_problems.yml")
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "192.0.2.1,",
         "-e", "cluster_file=%s" % bad, str(playbook)],
        env=ansible_env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        check=False, timeout=300)
    assert result.returncode != 0, result.stdout
    for expected in expectations(bad):
        assert expected in result.stdout
    assert "Touch the hosts" not in result.stdout
    assert "UNREACHABLE" not in result.stdout
