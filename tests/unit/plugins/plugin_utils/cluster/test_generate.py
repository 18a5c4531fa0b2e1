# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The generator's host list handling."""

from __future__ import annotations

import os
import shutil

import pytest

from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.generate import StarterError, starter_config
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.model import load
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import check


def test_roles_and_names_by_position():
    config = starter_config("demo", ["10.0.0.1", "10.0.0.2", "big=10.0.0.3"])
    assert config["hosts"] == [
        {"name": "demo-cp1", "address": "10.0.0.1", "roles": ["control_plane", "registry"]},
        {"name": "demo-w1", "address": "10.0.0.2", "roles": ["worker"]},
        {"name": "big", "address": "10.0.0.3", "roles": ["worker"]},
    ]
    assert check(config)[1] == []


def test_single_host_does_everything():
    config = starter_config("solo", ["10.0.0.1"])
    assert config["hosts"][0]["roles"] == ["control_plane", "worker", "registry"]
    assert check(config)[1] == []


def test_lab_hosts_json_rows(tmp_path):
    key = tmp_path / "id_ed25519"
    shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "valid", "files", "dummy-ssh-key"),
                str(key))
    rows = [{"name": "lab-%d" % i, "address": "10.213.7.1%d" % i, "os": "bookworm", "ssh_user": "debian",
             "ssh_port": 22, "ssh_key": str(key)} for i in (1, 2, 3)]
    config = starter_config("lab", rows, fail_cgroup_v1=False, ssh_common_args="-o IdentitiesOnly=yes",
                            settings={"vars": {"ansible_python_interpreter": "/usr/bin/python3"}})
    assert [h["name"] for h in config["hosts"]] == ["lab-1", "lab-2", "lab-3"]
    assert config["hosts"][0]["ssh"] == {"user": "debian", "port": 22, "keyFile": str(key)}
    assert config["kubelet"] == {"failCgroupV1": False}
    cluster = load(config)
    assert cluster["kubelet"]["failCgroupV1"] is False
    assert cluster["ssh"]["commonArgs"] == "-o IdentitiesOnly=yes"
    # The row's user, not the top-level default (root): the lab's hosts are reached as debian.
    assert [h["ssh"]["user"] for h in cluster["hosts"]] == ["debian"] * 3


def test_settings_merge_key_by_key():
    config = starter_config("demo", ["10.0.0.1"], fail_cgroup_v1=False,
                            settings={"kubelet": {"extraArgs": {"max-pods": "50"}}})
    assert config["kubelet"] == {"failCgroupV1": False, "extraArgs": {"max-pods": "50"}}


@pytest.mark.parametrize("hosts, message", [
    ([], "at least one host"),
    ([{"address": "10.0.0.1", "colour": "blue"}], "hosts[0]: unknown keys colour"),
])
def test_bad_host_lists(hosts, message):
    with pytest.raises(StarterError, match=message.replace("[", r"\[").replace("]", r"\]")):
        starter_config("demo", hosts)
