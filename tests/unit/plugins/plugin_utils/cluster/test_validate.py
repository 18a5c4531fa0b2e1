# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checking cluster.yml: every malformed fixture is refused, each problem naming its field; no
input ends in a traceback; the time is linear in the number of hosts, good or bad."""

from __future__ import annotations

import copy
import glob
import os
import re
import time

import pytest
import yaml

from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.model import MASK, masked
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.model import load as load_cluster
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.schema import API_VERSION
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import (
    ClusterConfigError,
    address_key,
    check,
    problems_message,
)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
INVALID = sorted(glob.glob(os.path.join(FIXTURES, "invalid", "*.yml")))
FULL = os.path.join(FIXTURES, "valid", "full.yml")
FIELD = re.compile(r"^(\(top level\)|\(file\)|[A-Za-z][A-Za-z0-9]*(\[\d+\])?(\.[-A-Za-z0-9_]+(\[\d+\])?)*): ")
# Values of no_log fields in the fixtures: no message may quote them.
SECRETS = ("hunter2", "s3cret-not-shown")


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def expectations(path):
    """The '# expect: ...' lines at the top of a fixture."""
    with open(path, encoding="utf-8") as handle:
        return [line.split("# expect: ", 1)[1].rstrip("\n") for line in handle if line.startswith("# expect: ")]


def test_there_are_enough_malformed_fixtures():
    assert len(INVALID) >= 90
    assert all(expectations(path) for path in INVALID)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: os.path.basename(p)[:-4])
def test_malformed_file_names_the_field(path):
    config, problems = check(load(path), base_dir=os.path.dirname(path))
    assert problems, "%s should be invalid" % path
    for problem in problems:
        assert FIELD.match(problem), "problem without a field path: %r" % problem
        assert not any(secret in problem for secret in SECRETS), problem
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


def test_a_section_as_a_string_is_not_read_as_key_value():
    """ArgumentSpecValidator turns 'user=root' into {'user': 'root'}; a cluster file does not."""
    raw = load(os.path.join(FIXTURES, "valid", "minimal.yml"))
    raw["ssh"] = "user=root port=2222"
    raw["registry"] = '{"host": "10.0.0.1"}'
    assert check(raw)[1] == ["ssh: must be a mapping, got str", "registry: must be a mapping, got str"]


def test_ipv6_and_dns_spellings_compare_equal():
    assert address_key("2001:0DB8:0:0:0:0:0:1") == address_key("2001:db8::1") == "2001:db8::1"
    assert address_key("Node1.Example.NET") == "node1.example.net"


def test_a_loopback_ssh_host_is_fine():
    """Ansible may reach a host through a tunnel on the controller's loopback."""
    raw = load(os.path.join(FIXTURES, "valid", "minimal.yml"))
    raw["hosts"][0]["ssh"] = {"host": "127.0.0.1", "port": 2222}
    assert check(raw)[1] == []


def test_vars_may_hold_lines_but_no_other_control_character():
    """vars go to Ansible only (a PEM certificate, a banner); settings go into generated files."""
    raw = load(os.path.join(FIXTURES, "valid", "minimal.yml"))
    raw["vars"] = {"motd": "line one\nline two\tend", "bell": "a\x07b"}
    raw["hosts"][0]["vars"] = {"ca": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}
    assert check(raw)[1] == ["vars.bell: contains a control character (newline, tab, ...): 'a\\x07b'"]


def test_full_fixture_is_valid_with_its_files():
    assert check(load(FULL), base_dir=os.path.dirname(FULL))[1] == []


def test_masked_hides_the_password_only():
    cluster = load_cluster(load(FULL), base_dir=os.path.dirname(FULL))
    shown = masked(cluster)
    assert shown["registry"]["auth"] == {"username": "pusher", "password": MASK}
    assert cluster["registry"]["auth"]["password"] == "s3cret-password"
    assert shown["hosts"] == cluster["hosts"]


WRONG_VALUES = ["x", 5, None, [], {}, [1], {"a": 1}, True, 1.5, "{{ x }}", "a\nb", "0.0.0.0", "x" * 5000]


def leaf_paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaf_paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaf_paths(value, prefix + (index,))


def test_no_value_anywhere_ends_in_a_traceback():
    """Every field of the full fixture, and the file itself, replaced by each wrong value: a list
    of problems (or none), never an exception, and never a message longer than 500 characters."""
    base = load(FULL)
    cases = 0
    for path in list(leaf_paths(base))[1:]:
        for value in WRONG_VALUES:
            raw = copy.deepcopy(base)
            target = raw
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            try:
                dummy, problems = check(raw, base_dir=os.path.dirname(FULL))
            except Exception as exc:  # pylint: disable=broad-exception-caught
                pytest.fail("%s = %r: %s: %s" % (".".join(map(str, path)), value, type(exc).__name__, exc))
            assert all(len(problem) <= 500 for problem in problems), problems
            cases += 1
    assert cases > 1000


def cluster_text(count, bad):
    """A cluster file with ``count`` workers, every one of them wrong in four ways when ``bad``."""
    lines = ["plugin: airgap.kubernetes.cluster", "apiVersion: airgap.kubernetes/v1alpha1", "kind: Cluster",
             "name: big", "hosts:", "  - {name: cp, address: 10.0.0.1, roles: [control_plane, registry, worker]}"]
    for i in range(count):
        if bad:
            lines.append("  - {name: W%d, address: 10.%d.%d.256, roles: [workr], ssh: {port: 0}}" % (i, i // 256, i % 256))
        else:
            lines.append("  - {name: w%d, address: 10.%d.%d.%d, roles: [worker]}"
                         % (i, 1 + i // 65536, (i // 256) % 256, i % 256))
    return "\n".join(lines) + "\n"


def timed_check(count, bad):
    raw = yaml.load(cluster_text(count, bad), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    started = time.process_time()
    dummy, problems = check(raw, check_files=False)
    return time.process_time() - started, problems


@pytest.mark.parametrize("bad", [False, True], ids=["valid", "bad"])
def test_ten_thousand_hosts_in_linear_time(bad):
    """10,000 hosts take seconds, good or bad, and twice as many take about twice as long (the
    old check took 197 s for 4,000 bad hosts, quadratic in them)."""
    small, dummy = timed_check(2500, bad)
    large, problems = timed_check(10000, bad)
    assert large < 30, large
    assert large < 4 * small * 2, (small, large)  # 4 times the hosts: linear is 4x, quadratic 16x
    if bad:
        assert len(problems) == 4 * 10000
        assert sorted(p for p in problems if p.startswith("hosts[1].")) == [
            "hosts[1].address: '10.0.0.256' is not a valid IPv4 address (256 is out of range 0-255) and not a DNS name",
            "hosts[1].name: 'W0' is not a lowercase DNS name (a Kubernetes node name)",
            "hosts[1].roles: value of roles must be one or more of: control_plane, worker, registry. Got no match "
            "for: workr", "hosts[1].ssh.port: port 0 is out of range 1-65535"]
        message = problems_message("big.cluster.yml", problems)
        assert message.endswith("\n  ... and %d more" % (len(problems) - 100)) and message.count("\n  - ") == 100
    else:
        assert problems == []


STATE_BASE = """\
plugin: airgap.kubernetes.cluster
apiVersion: airgap.kubernetes/v1alpha1
kind: Cluster
name: demo
hosts:
  - {name: cp1, address: 192.0.2.11, roles: [control_plane, worker, registry]}
"""


def state_dir_problems(tmp_path, value):
    return check(yaml.safe_load(STATE_BASE + "stateDir: %s\n" % value), base_dir=str(tmp_path))[1]


def test_a_state_dir_that_is_a_file_is_refused_naming_the_setting(tmp_path):
    (tmp_path / "state").write_text("not a directory\n")
    assert state_dir_problems(tmp_path, "state") == [
        "stateDir: %s exists and is not a directory; name a directory for the cluster's CA, passwords and "
        "kubeconfig" % (tmp_path / "state")]
    assert state_dir_problems(tmp_path, "state/below") == [
        "stateDir: %s cannot be created: %s is not a directory; name a directory for the cluster's CA, "
        "passwords and kubeconfig" % (tmp_path / "state" / "below", tmp_path / "state")]
    # A link to a file is no directory either; a link to a directory is one.
    os.symlink(str(tmp_path / "state"), str(tmp_path / "link"))
    assert state_dir_problems(tmp_path, "link")[0].startswith("stateDir: %s exists and" % (tmp_path / "link"))
    (tmp_path / "dir").mkdir()
    os.symlink(str(tmp_path / "dir"), str(tmp_path / "dirlink"))
    assert state_dir_problems(tmp_path, "dirlink") == []
    # Files are not looked at when asked not to (the generator, before the file is in place).
    config, problems = check(yaml.safe_load(STATE_BASE + "stateDir: state\n"), base_dir=str(tmp_path),
                             check_files=False)
    assert problems == [] and config["stateDir"] == "state"


@pytest.mark.parametrize("value, message", [
    ('""', "stateDir: is empty; leave it out for the cluster file's directory"),
    ("[a, b]", "stateDir: must be a path (a string), got list"),
    ("{a: b}", "stateDir: must be a path (a string), got dict"),
    ('"state\\ndir"', "stateDir: contains a control character"),
    ('"{{ state }}"', "stateDir: contains template syntax"),
], ids=["empty", "list", "mapping", "newline", "template"])
def test_a_malformed_state_dir_is_refused_naming_the_setting(tmp_path, value, message):
    problems = state_dir_problems(tmp_path, value)
    assert len(problems) == 1 and problems[0].startswith(message), problems


def test_a_missing_state_dir_is_fine_and_left_alone(tmp_path):
    assert state_dir_problems(tmp_path, str(tmp_path / "new" / "state")) == []
    assert not (tmp_path / "new").exists()


def test_no_path_setting_takes_a_list_or_a_mapping_for_a_string(tmp_path):
    raw = yaml.safe_load(STATE_BASE + "bundle: {path: [a, b], publicKey: {a: b}}\n")
    assert check(raw, base_dir=str(tmp_path))[1] == ["bundle.path: must be a path (a string), got list",
                                                     "bundle.publicKey: must be a path (a string), got dict"]
