# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checking cluster.yml: every malformed fixture is refused, each problem naming its field."""

from __future__ import annotations

import glob
import os
import re

import pytest
import yaml

from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.model import load as load_cluster
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.schema import API_VERSION
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import ClusterConfigError, check

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
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
    config, problems = check(load(path), base_dir=os.path.dirname(path))
    assert problems, "%s should be invalid" % path
    for problem in problems:
        assert FIELD.match(problem), "problem without a field path: %r" % problem
    for expected in expectations(path):
        assert any(expected in problem for problem in problems), (expected, problems)
    with pytest.raises(ClusterConfigError) as caught:
        load_cluster(load(path), base_dir=os.path.dirname(path), source=path)
    assert caught.value.problems == problems
    assert path in str(caught.value)


def test_every_problem_is_reported_at_once():
    path = os.path.join(FIXTURES, "invalid", "many_problems.yml")
    dummy, problems = check(load(path))
    assert len(problems) >= len(expectations(path)) >= 6


def test_password_never_appears_in_problems():
    raw = load(os.path.join(FIXTURES, "invalid", "password_without_username.yml"))
    raw["registry"]["auth"]["password"] = ["hunter2-secret"]  # wrong type: the validator quotes values
    dummy, problems = check(raw)
    assert problems
    assert not any("hunter2" in problem for problem in problems)


def test_missing_files_are_not_checked_when_asked():
    path = os.path.join(FIXTURES, "invalid", "missing_key_file.yml")
    dummy, problems = check(load(path), check_files=False)
    assert problems == []


def test_not_a_mapping():
    dummy, problems = check(["apiVersion"])
    assert problems == ["(top level): a cluster file is a mapping with apiVersion %s and kind Cluster, got list"
                        % API_VERSION]
