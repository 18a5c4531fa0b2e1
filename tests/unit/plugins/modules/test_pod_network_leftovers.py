# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pod_network_leftovers removes what the cluster's own pod network left on a reset host (its
configuration and IP allocations; its bridge, when the interface exists) and nothing of any other
network. The interface removal itself is proven on the lab (tests/e2e/test_rerun_safety.py)."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.airgap.kubernetes.plugins.modules import pod_network_leftovers


def run(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit):
        pod_network_leftovers.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture(name="host")
def fixture_host(tmp_path):
    config, state = tmp_path / "net.d", tmp_path / "cni"
    config.mkdir()
    (state / "networks" / "kube-router").mkdir(parents=True)
    (state / "networks" / "kube-router" / "10.244.2.7").write_text("container-id")
    (state / "networks" / "podman").mkdir(parents=True)
    (config / "10-kuberouter.conflist").write_text(json.dumps({"name": "kube-router", "plugins": [
        {"type": "bridge", "bridge": "airgap-test-absent0"}, {"type": "portmap"}]}))
    (config / "87-podman.conflist").write_text(json.dumps({"name": "podman", "plugins": [
        {"type": "bridge", "bridge": "cni-podman0"}]}))
    (config / "broken.conf").write_text("{not json")
    return {"networks": ["kube-router"], "config_dir": str(config), "state_dir": str(state)}, config, state


def test_only_the_clusters_network_is_removed_and_a_second_run_changes_nothing(host, capsys):
    args, config, state = host
    check = run(capsys, dict(args, _ansible_check_mode=True))
    assert check["changed"] and (config / "10-kuberouter.conflist").exists()
    result = run(capsys, args)
    assert result["changed"] and result["interfaces"] == []
    assert sorted(result["files"]) == sorted([str(config / "10-kuberouter.conflist"),
                                              str(state / "networks" / "kube-router")])
    assert sorted(p.name for p in config.iterdir()) == ["87-podman.conflist", "broken.conf"]
    assert (state / "networks" / "podman").is_dir()
    assert run(capsys, args)["changed"] is False


def test_a_host_without_cni_state_is_left_alone(tmp_path, capsys):
    result = run(capsys, {"networks": ["kube-router"], "config_dir": str(tmp_path / "none"),
                          "state_dir": str(tmp_path / "none")})
    assert (result["changed"], result["files"], result["interfaces"]) == (False, [], [])
