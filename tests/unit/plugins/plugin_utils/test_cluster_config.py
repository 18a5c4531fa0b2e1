# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster.yml schema: valid files, every malformed fixture, renderings."""

from __future__ import annotations

import glob
import os
import re

import pytest
import yaml

from ansible_collections.airgap.kubernetes.plugins.plugin_utils import cluster_config as cc
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.releases import SUPPORTED_RELEASES

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
INVALID = sorted(glob.glob(os.path.join(FIXTURES, "invalid", "*.yml")))
FIELD = re.compile(r"^(\(top level\)|[A-Za-z][A-Za-z0-9]*(\[\d+\])?(\.[-A-Za-z0-9]+(\[\d+\])?)*): ")


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def expectations(path):
    """The '# expect: ...' lines at the top of a fixture."""
    with open(path, encoding="utf-8") as handle:
        return [line.split("# expect: ", 1)[1].rstrip("\n") for line in handle if line.startswith("# expect: ")]


def test_there_are_enough_malformed_fixtures():
    assert len(INVALID) >= 15
    assert all(expectations(path) for path in INVALID)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: os.path.basename(p)[:-4])
def test_malformed_file_names_the_field(path):
    config, problems = cc.check(load(path), base_dir=os.path.dirname(path))
    assert problems, "%s should be invalid" % path
    for problem in problems:
        assert FIELD.match(problem), "problem without a field path: %r" % problem
    for expected in expectations(path):
        assert any(expected in problem for problem in problems), (expected, problems)
    with pytest.raises(cc.ClusterConfigError) as caught:
        cc.load(load(path), base_dir=os.path.dirname(path), source=path)
    assert caught.value.problems == problems
    assert path in str(caught.value)


def test_every_problem_is_reported_at_once():
    path = os.path.join(FIXTURES, "invalid", "many_problems.yml")
    dummy, problems = cc.check(load(path))
    assert len(problems) >= len(expectations(path)) >= 6


def test_password_never_appears_in_problems():
    raw = load(os.path.join(FIXTURES, "invalid", "password_without_username.yml"))
    raw["registry"]["auth"]["password"] = ["hunter2-secret"]  # wrong type: the validator quotes values
    dummy, problems = cc.check(raw)
    assert problems
    assert not any("hunter2" in problem for problem in problems)


def test_minimal_file_gets_every_default():
    path = os.path.join(FIXTURES, "valid", "minimal.yml")
    cluster = cc.load(load(path), base_dir=os.path.dirname(path))
    assert cluster["kubernetesVersion"] == list(SUPPORTED_RELEASES)[-1]
    assert cluster["network"] == {"podCIDR": "10.244.0.0/16", "serviceCIDR": "10.96.0.0/12",
                                  "clusterDomain": "cluster.local", "upstreamDNS": ["/etc/resolv.conf"]}
    assert cluster["cni"] == {"plugin": "kube-router", "calico": {"encapsulation": "VXLAN", "mtu": 0}}
    assert cluster["kubelet"] == {"failCgroupV1": True, "extraArgs": {}}
    assert cluster["addons"]["metricsServer"]["enabled"] is True
    assert cluster["addons"]["sampleApp"]["enabled"] is False
    assert cluster["controlPlane"]["endpoint"] == {"host": "192.168.1.10", "port": 6443}
    assert cluster["registry"]["host"] == "192.168.1.10"
    assert cluster["registry"]["tls"]["mode"] == "generated"
    assert cluster["hosts"][0]["ssh"] == {"host": "192.168.1.10", "user": "root", "port": 22, "keyFile": None}
    assert cluster["bundle"]["path"] == os.path.join(os.path.dirname(path), "bundle")
    assert cluster["sources"]["kubernetesReleases"] == "https://dl.k8s.io"


def test_full_file_keeps_every_value_and_resolves_paths():
    path = os.path.join(FIXTURES, "valid", "full.yml")
    raw = load(path)
    cluster = cc.load(raw, base_dir=os.path.dirname(path))
    files = os.path.join(os.path.dirname(path), "files")
    assert cluster["hosts"][0]["ssh"] == {"host": "203.0.113.11", "user": "admin", "port": 22,
                                          "keyFile": os.path.join(files, "dummy-ssh-key")}
    assert cluster["hosts"][2]["ssh"]["user"] == "debian"
    assert cluster["hosts"][2]["ssh"]["port"] == 2222
    assert cluster["registry"]["host"] == "reg1.example.net"
    assert cluster["registry"]["tls"]["certFile"] == os.path.join(files, "registry.pem")
    assert cluster["kubelet"]["extraArgs"] == {"max-pods": 200, "node-labels": "rack=a1"}
    assert cluster["bundle"]["debianKeyring"] == os.path.join(os.path.dirname(path), "keys", "mirror-archive.gpg")
    for key in ("cni", "network", "addons", "sources", "controlPlane"):
        assert cluster[key] == raw[key]


def test_missing_files_are_not_checked_when_asked():
    path = os.path.join(FIXTURES, "invalid", "missing_key_file.yml")
    dummy, problems = cc.check(load(path), check_files=False)
    assert problems == []


def test_not_a_mapping():
    dummy, problems = cc.check(["apiVersion"])
    assert problems == ["(top level): a cluster file is a mapping with apiVersion %s and kind Cluster, got list"
                        % cc.API_VERSION]


@pytest.mark.parametrize("name", ["valid/minimal.yml", "valid/full.yml"])
def test_rendered_yaml_round_trips(name):
    path = os.path.join(FIXTURES, name)
    config, problems = cc.check(load(path), base_dir=os.path.dirname(path))
    assert not problems
    text = cc.render_yaml(config, header=["a header"])
    assert text.startswith("---\n# a header\n")
    again, problems = cc.check(yaml.safe_load(text), base_dir=os.path.dirname(path))
    assert not problems
    assert again == dict(config, plugin=cc.INVENTORY_PLUGIN)


@pytest.mark.parametrize("value", ["10.0.0.1", "1:20", "yes", "No", "null", "~", "0x1F", "1e3", ".5",
                                   "a: b", "# c", "-o X", "", " lead", "@x", "*ref", "&a", "!tag",
                                   "{x}", "[x]", "%", "`", "a #b", "v1.37.2", "http://x/y"])
def test_yaml_scalar_keeps_strings_strings(value):
    assert yaml.safe_load("key: %s" % cc.yaml_scalar(value)) == {"key": value}


def test_reference_doc_is_current():
    with open(os.path.join(REPO, "docs", "cluster-config.md"), encoding="utf-8") as handle:
        committed = handle.read()
    assert committed == cc.reference_markdown(), "docs/cluster-config.md is stale: run python docs/generate.py"


def test_reference_doc_lists_every_field():
    text = cc.reference_markdown()
    for field in ("hosts[].address", "hosts[].ssh.keyFile", "kubelet.failCgroupV1", "registry.auth.password",
                  "cni.calico.encapsulation", "sources.quayIo", "controlPlane.endpoint.host"):
        assert "| `%s` |" % field in text


def test_group_name_is_a_valid_group():
    assert cc.group_name("lab-one") == "cluster_lab_one"
