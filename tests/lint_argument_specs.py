# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check every role's meta/argument_specs.yml against its defaults/main.yml (make lint).

A role's argument spec is validated before the role runs, but Ansible takes the values from
defaults/main.yml: the spec's ``default:`` is documentation, and a ``required`` option that has a
default (even "" or []) is never missing, so the spec never refuses it. The rules:

- every option (and sub-option) of every entry point has a description;
- a required option has no default in defaults/main.yml, and no ``default:`` in the spec;
- an optional option has a default in defaults/main.yml, equal to the spec's ``default:`` when
  the spec gives one;
- every variable in defaults/main.yml is an option of an entry point (main, or the entry point
  of the tasks file that reads it, such as control_plane's approve_kubelet_certificates).

    python tests/lint_argument_specs.py              # every role under roles/
    python tests/lint_argument_specs.py roles/join   # some roles

Every role is reported, then every problem with the role, entry point and option; the exit
status is 1 when there is a problem.
"""

from __future__ import annotations

import json
import os
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MISSING = object()


class _Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """SafeLoader that also reads Ansible's !unsafe and !vault tags (as plain values)."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
_Loader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))


def _load(path):
    with open(path, encoding="utf-8") as stream:
        return yaml.load(stream, Loader=_Loader)  # a SafeLoader: no arbitrary objects


def _first(role_dir, *candidates):
    for candidate in candidates:
        path = os.path.join(role_dir, candidate)
        if os.path.exists(path):
            return path
    return None


def load_defaults(role_dir):
    """Return (defaults dict, path shown in messages); defaults/main may be a file or directory."""
    path = _first(role_dir, "defaults/main.yml", "defaults/main.yaml", "defaults/main")
    if path is None:
        return {}, "defaults/main.yml"
    if not os.path.isdir(path):
        return _load(path) or {}, os.path.relpath(path, role_dir)
    merged = {}
    for name in sorted(os.listdir(path)):
        if name.endswith((".yml", ".yaml")):
            merged.update(_load(os.path.join(path, name)) or {})
    return merged, os.path.relpath(path, role_dir) + "/"


def load_specs(role_dir):
    """Return (argument_specs dict or None, path shown in messages)."""
    path = _first(role_dir, "meta/argument_specs.yml", "meta/argument_specs.yaml")
    if path is not None:
        return (_load(path) or {}).get("argument_specs"), os.path.relpath(path, role_dir)
    path = _first(role_dir, "meta/main.yml", "meta/main.yaml")
    if path is not None and "argument_specs" in (_load(path) or {}):
        return _load(path)["argument_specs"], os.path.relpath(path, role_dir)
    return None, "meta/argument_specs.yml"


def _show(value):
    return json.dumps(value, sort_keys=True, default=str)


def _descriptions(options, where):
    """Problems of options (recursively, sub-options too) without a description."""
    problems = []
    for name, spec in (options or {}).items():
        spec = spec or {}
        description = spec.get("description")
        if not description or (isinstance(description, list) and not any(description)):
            problems.append("%s%s: no description" % (where, name))
        problems.extend(_descriptions(spec.get("options"), "%s%s." % (where, name)))
    return problems


def check_role(role_dir):
    """Return the problems of one role, each starting with the file (relative to the role)."""
    defaults, defaults_path = load_defaults(role_dir)
    specs, specs_path = load_specs(role_dir)
    if not isinstance(defaults, dict):
        return ["%s: not a mapping of variables" % defaults_path]
    if not isinstance(specs, dict):
        return ["%s: no argument_specs, so the role's variables are not validated (defaults: %s)" % (
            specs_path, ", ".join(sorted(defaults)) or "none")]
    problems = []
    if "main" not in specs:
        problems.append("%s: no main entry point" % specs_path)
    specified = set()
    for entry, entry_spec in specs.items():
        options = (entry_spec or {}).get("options") or {}
        specified.update(options)
        problems.extend(_descriptions(options, "%s: %s: " % (specs_path, entry)))
        for name, spec in options.items():
            spec = spec or {}
            where = "%s: %s: %s" % (specs_path, entry, name)
            default = defaults.get(name, MISSING)
            if spec.get("required", False):
                if default is not MISSING:
                    problems.append(
                        "%s: required, but %s sets it to %s, so it is never missing and the spec never refuses "
                        "it: remove that default" % (where, defaults_path, _show(default)))
                if "default" in spec:
                    problems.append("%s: required and has a default: (Ansible refuses an option with both)" % where)
            elif default is MISSING:
                problems.append("%s: optional, but %s has no default for it (undefined when not given): add one, "
                                "or make it required" % (where, defaults_path))
            elif "default" in spec and spec["default"] != default:
                problems.append("%s: the spec's default is %s but %s sets %s" % (
                    where, _show(spec["default"]), defaults_path, _show(default)))
    for name in defaults:
        if name not in specified:
            problems.append("%s: %s is an option of no entry point in %s: describe it there, or remove it" % (
                defaults_path, name, specs_path))
    return problems


def role_dirs(paths):
    if paths:
        return [os.path.abspath(path) for path in paths]
    roles = os.path.join(REPO, "roles")
    return [os.path.join(roles, name) for name in sorted(os.listdir(roles)) if os.path.isdir(os.path.join(roles, name))]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if any(arg.startswith("-") for arg in argv):
        print(__doc__.strip())
        return 2
    failed = 0
    report = []
    for role_dir in role_dirs(argv):
        name = os.path.basename(role_dir.rstrip("/"))
        problems = check_role(role_dir)
        if problems:
            failed += 1
            report.append("%s: %d problem(s)" % (name, len(problems)))
            report.extend("  roles/%s/%s" % (name, problem) for problem in problems)
        else:
            report.append("%s: ok" % name)
    print("\n".join(report))
    if failed:
        print("argument_specs: problems in %d role(s), see above" % failed)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
