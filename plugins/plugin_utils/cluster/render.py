# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Renderings of the schema: the commented starter file and the reference page."""

from __future__ import annotations

import json
import re
import textwrap

from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.schema import (
    API_VERSION,
    CNI_PLUGINS,
    INVENTORY_PLUGIN,
    KIND,
    SCHEMA,
    join_path,
)
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.releases import supported_versions

_PLAIN = re.compile(r"^[A-Za-z0-9_/~][A-Za-z0-9_./:~@+-]*$")
_YAML_WORDS = re.compile(r"^(y|n|yes|no|on|off|true|false|null|~|"
                         r"[-+]?([0-9_]+(\.[0-9_]*)?|\.[0-9_]+)([eE][-+]?[0-9]+)?|"
                         r"[0-9_]+(:[0-5]?[0-9])+|0x[0-9a-fA-F_]+|0o?[0-7_]+|0b[01_]+|\.inf|\.nan)$",
                         re.IGNORECASE)


def yaml_scalar(value):
    """A YAML 1.1/1.2-safe rendering of one scalar or a flat list/dict of scalars."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[%s]" % ", ".join(yaml_scalar(v) for v in value)
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s: %s" % (yaml_scalar(str(k)), yaml_scalar(v)) for k, v in value.items())
    value = str(value)
    if _PLAIN.match(value) and not _YAML_WORDS.match(value):
        return value
    return json.dumps(value)


def _comment(lines, indent, text, width=96):
    for line in textwrap.wrap(text, max(40, width - indent - 2)):
        lines.append("%s# %s" % (" " * indent, line))


def _unset(value):
    return value is None or value == {} or (isinstance(value, dict) and all(map(_unset, value.values())))


def _render(options, values, indent, lines, comments, prune=False):
    for key, opt in options.items():
        value = values.get(key)
        if prune and _unset(value) and not opt.get("required"):
            continue
        if comments:
            _comment(lines, indent, opt["description"])
        pad = " " * indent
        if opt.get("options") and opt["type"] == "dict":
            lines.append("%s%s:" % (pad, key))
            _render(opt["options"], value or {}, indent + 2, lines, comments, prune)
        elif opt.get("options"):
            lines.append("%s%s:" % (pad, key))
            for index, item in enumerate(value or []):
                sub = []
                _render(opt["options"], item, indent + 4, sub, comments and index == 0, prune=True)
                first = next(i for i, line in enumerate(sub) if not line.lstrip().startswith("#"))
                for line in sub[:first]:
                    lines.append(" " * (indent + 2) + line.lstrip())
                lines.append("%s  - %s" % (pad, sub[first].lstrip()))
                lines.extend(sub[first + 1:])
        else:
            lines.append("%s%s: %s" % (pad, key, yaml_scalar(value)))


def render_yaml(config, header=None):
    """Render a config (as returned by ``check``) as a commented cluster.yml."""
    lines = ["---"]
    for text in header or []:
        _comment(lines, 0, text) if text else lines.append("#")
    ordered = dict(config, plugin=config.get("plugin") or INVENTORY_PLUGIN)
    _render(SCHEMA, ordered, 0, lines, True)
    return "\n".join(lines) + "\n"


def _reference_rows(options, path, rows):
    for key, opt in options.items():
        field = join_path(path, key)
        kind = opt["type"]
        if kind == "list":
            kind = "list of %s" % ("mappings" if opt.get("elements") == "dict" else opt.get("elements"))
        if opt.get("required"):
            default = "**required**"
        elif "default" in opt and not opt.get("options"):
            default = "`%s`" % yaml_scalar(opt["default"])
        else:
            default = ""
        text = opt["description"]
        if opt.get("choices") and len(opt["choices"]) > 0:
            text += " Choices: %s." % ", ".join("`%s`" % c for c in opt["choices"])
        for rule in opt.get("required_if", []):
            text += " With `%s: %s`, %s are required." % (rule[0], rule[1], ", ".join("`%s`" % r for r in rule[2]))
        for rule in opt.get("required_together", []):
            text += " %s go together." % " and ".join("`%s`" % r for r in rule)
        rows.append((field, kind, default, text))
        if opt.get("options"):
            _reference_rows(opt["options"], field + ("[]" if opt["type"] == "list" else ""), rows)


def reference_markdown():
    """The reference page of every cluster.yml field (docs/cluster-config.md)."""
    rows = []
    _reference_rows(SCHEMA, "", rows)
    lines = [
        "<!-- Generated from plugins/plugin_utils/cluster/schema.py by docs/generate.py; "
        "do not edit. -->",
        "# cluster.yml reference (%s, kind %s)" % (API_VERSION, KIND),
        "",
        "One file describes a cluster: its hosts (the Ansible inventory, through the "
        "`airgap.kubernetes.cluster` inventory plugin) and every setting. Only `plugin`, "
        "`apiVersion`, `kind`, `name` and `hosts` are required; everything else has a default. Relative paths "
        "are relative to the cluster file. Start from `ansible-playbook "
        "airgap.kubernetes.generate_cluster_config -e cluster=NAME -e nodes=ADDR,ADDR` or "
        "[examples/cluster.yml](../examples/cluster.yml).",
        "",
        "Supported Kubernetes versions: %s." % ", ".join("`%s`" % v for v in supported_versions()),
        "CNI plugins: %s." % ", ".join("`%s`" % c for c in sorted(CNI_PLUGINS)),
        "",
        "| Field | Type | Default | Description |",
        "| --- | --- | --- | --- |",
    ]
    for field, kind, default, text in rows:
        text = text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
        lines.append("| `%s` | %s | %s | %s |" % (field, kind, default, text))
    return "\n".join(lines + [""] + _STATE_DIRECTORY) + "\n"


# The reference's section on stateDir: what is kept there, and with which modes.
_STATE_DIRECTORY = [
    "## State directory",
    "",
    "`stateDir` keeps what a run makes once and every later run must find again. Without it, the "
    "state is next to the cluster file, where it always was. Every path below is derived from it in "
    "one place (plugins/plugin_utils/cluster/names.py) and reaches the playbooks through the "
    "`airgap.kubernetes.cluster_model` action; nothing else spells it.",
    "",
    "| Path | What | Mode |",
    "| --- | --- | --- |",
    "| `<stateDir>/pki/<name>/` | the registry's CA and certificate with their private keys (`registry.tls.mode: "
    "generated`), the generated passwords `registry-password` (push, when `registry.auth` is unset) and "
    "`registry-pull-password` (the nodes' pull identity), and the htpasswd entries made from them | directory "
    "0700; private keys, passwords and htpasswd entries 0600; certificates 0644 |",
    "| `<stateDir>/<name>/<name>.kubeconfig` | the admin kubeconfig (cluster-admin) | directory 0700, file 0600 |",
    "| `<stateDir>/<name>/snapshots/` | reserved for etcd snapshots; no playbook writes it yet | |",
    "",
    "The tasks that write these make the directories they need. A `stateDir` that does not exist yet is "
    "made along the way, possibly with the default umask: on a shared volume, make it yourself, owned by "
    "the user Ansible runs as, mode 0700. Lose it and the next run makes a new CA and new passwords: keep "
    "it with the cluster file in your backups. To move it, copy `pki/<name>/` and `<name>/` to the new `stateDir` "
    "before the next run. The bundle's controller-side unpacked copy is not state: it is kept in "
    "`<bundle.path>/.unpacked/`, so `bundle.path` must be writable too. Under AWX, put both on a "
    "persistent volume ([awx.md](awx.md)).",
]
