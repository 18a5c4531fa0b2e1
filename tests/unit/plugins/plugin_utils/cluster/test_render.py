# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Renderings of the schema: the commented cluster.yml and the reference page."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.render import (
    reference_markdown,
    render_yaml,
    yaml_scalar,
)
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.schema import INVENTORY_PLUGIN
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import check

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", "..", ".."))


@pytest.mark.parametrize("name", ["valid/minimal.yml", "valid/full.yml"])
def test_rendered_yaml_round_trips(name):
    path = os.path.join(FIXTURES, name)
    with open(path, encoding="utf-8") as handle:
        config, problems = check(yaml.safe_load(handle), base_dir=os.path.dirname(path))
    assert not problems
    text = render_yaml(config, header=["a header"])
    assert text.startswith("---\n# a header\n")
    again, problems = check(yaml.safe_load(text), base_dir=os.path.dirname(path))
    assert not problems
    assert again == dict(config, plugin=INVENTORY_PLUGIN)


@pytest.mark.parametrize("value", ["10.0.0.1", "1:20", "yes", "No", "null", "~", "0x1F", "1e3", ".5",
                                   "a: b", "# c", "-o X", "", " lead", "@x", "*ref", "&a", "!tag",
                                   "{x}", "[x]", "%", "`", "a #b", "v1.37.2", "http://x/y"])
def test_yaml_scalar_keeps_strings_strings(value):
    assert yaml.safe_load("key: %s" % yaml_scalar(value)) == {"key": value}


def test_reference_doc_is_current():
    with open(os.path.join(REPO, "docs", "cluster-config.md"), encoding="utf-8") as handle:
        committed = handle.read()
    assert committed == reference_markdown(), "docs/cluster-config.md is stale: run python docs/generate.py"


def test_reference_doc_lists_every_field():
    text = reference_markdown()
    for field in ("hosts[].address", "hosts[].ssh.keyFile", "kubelet.failCgroupV1", "registry.auth.password",
                  "cni.plugin", "sources.quayIo", "controlPlane.endpoint.host"):
        assert "| `%s` |" % field in text
