# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/lint_argument_specs.py (make lint) on temporary roles, and on the collection's roles."""

from __future__ import annotations

import importlib.util
import os

import pytest
import yaml

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lint_argument_specs.py")
ROLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles")


def _load_script():
    spec = importlib.util.spec_from_file_location("lint_argument_specs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lint = _load_script()

SPECS = {
    "main": {
        "short_description": "A role",
        "options": {
            "demo_path": {"type": "path", "required": True, "description": "A file."},
            "demo_port": {"type": "int", "required": False, "default": 80, "description": "A port."},
            "demo_items": {
                "type": "list", "elements": "dict", "default": [], "description": "Items.",
                "options": {"name": {"type": "str", "required": True, "description": "Name."}},
            },
        },
    },
    "other": {
        "short_description": "Another entry point",
        "options": {"demo_nodes": {"type": "list", "elements": "str", "default": [], "description": "Nodes."}},
    },
}
DEFAULTS = {"demo_port": 80, "demo_items": [], "demo_nodes": []}


@pytest.fixture(name="make_role")
def fixture_make_role(tmp_path):
    def make_role(specs, defaults, name="demo"):
        role = tmp_path / name
        (role / "meta").mkdir(parents=True)
        (role / "defaults").mkdir()
        (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump({"argument_specs": specs}))
        (role / "defaults" / "main.yml").write_text(yaml.safe_dump(defaults))
        return str(role)
    return make_role


def test_a_consistent_role_has_no_problem(make_role):
    assert not lint.check_role(make_role(SPECS, DEFAULTS))


def test_a_required_option_with_an_empty_default_is_named(make_role, capsys):
    role = make_role(SPECS, dict(DEFAULTS, demo_path=""))
    problems = lint.check_role(role)
    assert len(problems) == 1
    assert problems[0].startswith("meta/argument_specs.yml: main: demo_path: required, but defaults/main.yml sets it to")
    assert lint.main([role]) == 1
    assert "roles/demo/meta/argument_specs.yml: main: demo_path: required" in capsys.readouterr().out


@pytest.mark.parametrize("change, expected", [
    (lambda s, d: d.pop("demo_port"),
     "meta/argument_specs.yml: main: demo_port: optional, but defaults/main.yml has no default for it"),
    (lambda s, d: d.update(demo_port=8080),
     "meta/argument_specs.yml: main: demo_port: the spec's default is 80 but defaults/main.yml sets 8080"),
    (lambda s, d: d.update(demo_extra=1),
     "defaults/main.yml: demo_extra is an option of no entry point"),
    (lambda s, d: s["main"]["options"]["demo_items"]["options"]["name"].pop("description"),
     "meta/argument_specs.yml: main: demo_items.name: no description"),
    (lambda s, d: s["other"]["options"]["demo_nodes"].update(required=True),
     "meta/argument_specs.yml: other: demo_nodes: required, but defaults/main.yml sets it to []"),
    (lambda s, d: s["main"]["options"]["demo_path"].update(default="x"),
     "meta/argument_specs.yml: main: demo_path: required and has a default:"),
])
def test_each_rule_names_the_option(make_role, change, expected):
    specs, defaults = yaml.safe_load(yaml.safe_dump(SPECS)), dict(DEFAULTS)
    change(specs, defaults)
    problems = lint.check_role(make_role(specs, defaults))
    assert [problem for problem in problems if problem.startswith(expected)], problems


def test_a_role_without_argument_specs_is_reported(tmp_path):
    role = tmp_path / "bare"
    (role / "defaults").mkdir(parents=True)
    (role / "defaults" / "main.yml").write_text("bare_x: 1\n")
    assert lint.check_role(str(role)) == [
        "meta/argument_specs.yml: no argument_specs, so the role's variables are not validated (defaults: bare_x)"]


@pytest.mark.parametrize("role", ["addons", "containerd", "control_plane", "join", "kubelet", "node"])
def test_the_collection_roles_agree_with_their_specs(role):
    assert not lint.check_role(os.path.join(ROLES, role))
