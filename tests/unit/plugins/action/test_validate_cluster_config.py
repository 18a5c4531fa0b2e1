# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""validate_cluster_config: the action in process, and playbooks/validate.yml stopping a run."""

from __future__ import annotations

import glob
import json
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
# Not .yml: YAML tools (yamllint, ansible-test sanity) would choke on them, as they should.
UNREADABLE = sorted(glob.glob(os.path.join(FIXTURES, "unreadable", "*.yml.txt")))


def expectations(path):
    with open(path, encoding="utf-8") as handle:
        return [line.split("# expect: ", 1)[1].rstrip("\n") for line in handle if line.startswith("# expect: ")]


def run_action(args, check_mode=False, task_vars=None):
    task = MagicMock(args=args, async_val=0, check_mode=check_mode, diff=False)
    action = ActionModule(task, MagicMock(), MagicMock(), DataLoader(), MagicMock(), MagicMock())
    return action.run(task_vars=task_vars or {})


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


def test_path_and_config_exclude_each_other():
    with pytest.raises(AnsibleActionFail):
        run_action({"path": "a.yml", "config": {}})


def test_no_cluster_file_in_the_inventory_fails():
    result = run_action({}, task_vars={"ansible_inventory_sources": ["localhost,", "/nonexistent/hosts"]})
    assert result["failed"] is True
    assert result["msg"].startswith("no cluster file in the inventory (localhost,, /nonexistent/hosts): the "
                                    "airgap.kubernetes playbooks take their hosts and settings from one")


def test_the_inventory_cluster_files_are_validated_whether_or_not_they_parsed(tmp_path):
    bad = os.path.join(FIXTURES, "invalid", "many_problems.yml")
    result = run_action({}, task_vars={"ansible_inventory_sources": [bad, "a,b,"]})
    assert result["failed"] is True and result["files"] == [os.path.abspath(bad)]
    for expected in expectations(bad):
        assert expected in result["msg"]
    # A directory source: the cluster files in it.
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("x: 1\n")
    (tmp_path / "hosts.ini").write_text("[all]\nh1\n")
    with open(os.path.join(REPO, "examples", "cluster.yml"), encoding="utf-8") as handle:
        (tmp_path / "prod.cluster.yml").write_text(handle.read())
    result = run_action({}, task_vars={"ansible_inventory_sources": [str(tmp_path)]})
    assert not result.get("failed"), result["msg"]
    assert result["files"] == [str(tmp_path / "prod.cluster.yml")]
    assert result["cluster"]["name"] == "demo"


def test_the_result_masks_the_password():
    path = os.path.join(FIXTURES, "valid", "full.yml")
    result = run_action({"path": path})
    assert not result.get("failed"), result.get("msg")
    assert result["cluster"]["registry"]["auth"]["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert "s3cret-password" not in json.dumps(result)


@pytest.mark.parametrize("path", UNREADABLE, ids=lambda p: os.path.basename(p)[:-8])
def test_unreadable_file_fails_naming_the_problem(path):
    result = run_action({"path": path})
    assert result["failed"] is True
    for expected in expectations(path):
        assert expected in result["msg"]
    assert "secret-never-shown" not in json.dumps(result)


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


# Every playbook that reads a cluster file; generate_cluster_config writes one.
PLAYBOOKS = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(REPO, "playbooks", "*.yml"))
                   if not p.endswith("/generate_cluster_config.yml"))
CHECKOUT = os.path.join(REPO, "collections", "ansible_collections", "airgap", "kubernetes")


def run_playbook(env, cwd, *args, timeout=300):
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), *args], env=env,
                          cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
                          timeout=timeout)


def default_settings(ansible_env):
    """ansible_env without unparsed_is_failed: Ansible's defaults, as with an installed collection."""
    env = dict(ansible_env)
    env.pop("ANSIBLE_INVENTORY_UNPARSED_FAILED", None)
    return env


def recap_hosts(output):
    """The hosts of the PLAY RECAP: the hosts the run touched (localhost is the controller)."""
    recap = output.split("PLAY RECAP", 1)[1] if "PLAY RECAP" in output else ""
    return {line.split()[0] for line in recap.splitlines()[1:] if " : ok=" in line}


def test_every_playbook_reads_a_cluster_file():
    assert {"validate", "preflight", "site", "bundle", "registry", "nodes", "control_plane", "join", "addons",
            "verify", "summary"} <= set(PLAYBOOKS)


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_an_invalid_cluster_file_stops_every_playbook_without_ansible_cfg(ansible_env, tmp_path, playbook):
    """With no ansible.cfg (an installed collection, default settings), Ansible only warns about the
    cluster file and runs with an empty inventory; the validate play every playbook starts with lists
    the problems and stops the run on the controller: no cluster host in the recap."""
    bad = os.path.join(FIXTURES, "invalid", "many_problems.yml")
    result = run_playbook(default_settings(ansible_env), str(tmp_path), "-i", bad, "airgap.kubernetes." + playbook)
    assert result.returncode != 0, result.stdout
    for expected in expectations(bad):
        assert expected in result.stdout.split("TASK [Validate", 1)[1]
    assert recap_hosts(result.stdout) == {"localhost"}
    assert "UNREACHABLE" not in result.stdout


@pytest.mark.parametrize("name", ["missing_plugin", "ip_leading_zero"])
def test_a_file_the_other_inventory_plugins_read_is_validated_all_the_same(ansible_env, tmp_path, name):
    """Without the plugin key Ansible's yaml plugin reads the file as groups; the play still
    validates it, and the address the resolver would read as octal never reaches SSH."""
    bad = os.path.join(FIXTURES, "invalid", name + ".yml")
    result = run_playbook(default_settings(ansible_env), str(tmp_path), "-i", bad, "airgap.kubernetes.site")
    assert result.returncode != 0, result.stdout
    for expected in expectations(bad):
        assert expected in result.stdout
    assert recap_hosts(result.stdout) == {"localhost"}


def test_a_plain_inventory_is_refused_by_the_playbooks(ansible_env, tmp_path):
    (tmp_path / "hosts.ini").write_text("[control_plane]\ncp1 ansible_host=192.0.2.1\n")
    result = run_playbook(ansible_env, str(tmp_path), "-i", "hosts.ini", "airgap.kubernetes.nodes")
    assert result.returncode != 0, result.stdout
    assert "no cluster file in the inventory (" in result.stdout
    assert recap_hosts(result.stdout) == {"localhost"}


def test_verbose_output_masks_the_password(ansible_env, tmp_path):
    full = os.path.join(FIXTURES, "valid", "full.yml")
    result = run_playbook(ansible_env, str(tmp_path), "-i", "localhost,", "-v", "-e", "cluster_file=%s" % full,
                          "airgap.kubernetes.validate")
    assert result.returncode == 0, result.stdout
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in result.stdout
    assert "s3cret-password" not in result.stdout


def checkout_env():
    """The environment of a user in a plain clone: no ANSIBLE_* variable at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_NOCOLOR="1", PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""))
    return env


@pytest.mark.skipif(not os.path.isdir(CHECKOUT), reason="not a checkout with its collections/ link")
def test_the_checkout_runs_site_yml_as_documented():
    """README: from the checkout's root, ansible-playbook -i cluster.yml site.yml; ansible.cfg
    finds the collection through collections/ and enables the phases callback."""
    result = run_playbook(checkout_env(), REPO, "-i", "examples/cluster.yml", "site.yml", "--syntax-check")
    assert result.returncode == 0, result.stdout
    result = run_playbook(checkout_env(), REPO, "-i", "examples/cluster.yml", "--list-tasks", "site.yml")
    assert result.returncode == 0, result.stdout
    assert "Validate the cluster file of the inventory" in result.stdout


@pytest.mark.skipif(not os.path.isdir(CHECKOUT), reason="not a checkout with its collections/ link")
@pytest.mark.parametrize("playbook", ["site.yml", "playbooks/validate.yml", "playbooks/registry.yml"])
def test_the_checkout_stops_an_invalid_file_before_any_play(playbook):
    """ansible.cfg's [inventory] settings: the inventory itself fails, listing the problems."""
    bad = os.path.join(FIXTURES, "invalid", "many_problems.yml")
    result = run_playbook(checkout_env(), REPO, "-i", bad, playbook)
    assert result.returncode != 0, result.stdout
    for expected in expectations(bad):
        assert expected in result.stdout
    assert "Completely failed to parse inventory source" in result.stdout
    assert "PLAY [" not in result.stdout
