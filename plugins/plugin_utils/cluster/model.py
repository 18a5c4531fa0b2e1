# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The effective settings of a valid cluster file, and how they map onto the inventory."""

from __future__ import annotations

import re

from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.schema import ROLE_GROUPS, ROLES, SCHEMA
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import (
    ClusterConfigError,
    check,
    resolve_path,
)


# What a no_log field shows where the cluster is printed (Ansible's own word for it).
MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def _copy(value):
    """A copy of the mappings and lists; the values themselves are kept, so that a
    vault-encrypted value stays encrypted (a JSON round trip would decrypt it)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def masked(cluster, options=None):
    """A copy of a checked or resolved cluster with every no_log field (the registry password)
    replaced by MASK, for results that Ansible prints with -v."""
    options = SCHEMA if options is None else options
    if not isinstance(cluster, dict):
        return cluster
    result = dict(cluster)
    for key, opt in options.items():
        value = result.get(key)
        if value is None:
            continue
        if opt.get("no_log"):
            result[key] = MASK
        elif opt.get("options") and opt["type"] == "dict":
            result[key] = masked(value, opt["options"])
        elif opt.get("options") and isinstance(value, list):
            result[key] = [masked(item, opt["options"]) for item in value]
    return result


def resolve(config, base_dir=None):
    """The effective settings of a valid config: every host's SSH settings filled from the top
    level, the endpoint and registry host filled from host roles, and paths made absolute."""
    result = _copy(config)
    ssh = result["ssh"]
    ssh["keyFile"] = resolve_path(ssh["keyFile"], base_dir)
    for host in result["hosts"]:
        host_ssh = host["ssh"]
        host_ssh["host"] = host_ssh["host"] or host["address"]
        for key in ("user", "port", "keyFile"):
            if host_ssh[key] is None:
                host_ssh[key] = ssh[key]
        host_ssh["keyFile"] = resolve_path(host_ssh["keyFile"], base_dir)
    first = dict((role, next((h for h in result["hosts"] if role in h["roles"]), None)) for role in ROLES)
    endpoint = result["controlPlane"]["endpoint"]
    if not endpoint["host"]:
        endpoint["host"] = first["control_plane"]["address"]
    registry = result["registry"]
    if not registry["host"]:
        registry["host"] = first["registry"]["address"]
    for key in ("caFile", "certFile", "keyFile"):
        registry["tls"][key] = resolve_path(registry["tls"][key], base_dir)
    result["stateDir"] = resolve_path(result["stateDir"], base_dir)
    result["bundle"]["path"] = resolve_path(result["bundle"]["path"], base_dir)
    result["bundle"]["debianKeyring"] = resolve_path(result["bundle"]["debianKeyring"], base_dir)
    result["bundle"]["publicKey"] = resolve_path(result["bundle"]["publicKey"], base_dir)
    return result


def load(raw, base_dir=None, check_files=True, source=None):
    """Validate and resolve; raise ClusterConfigError listing every problem."""
    config, problems = check(raw, base_dir=base_dir, check_files=check_files)
    if problems:
        raise ClusterConfigError(problems, source=source)
    return resolve(config, base_dir=base_dir)


def group_name(cluster_name):
    """The inventory group of one cluster."""
    return "cluster_" + re.sub(r"[^A-Za-z0-9_]", "_", cluster_name)


def inventory(cluster, source=None):
    """Map resolved settings onto the inventory: groups, per-host variables and the variables
    of the cluster group (the whole config under ``airgap_cluster``)."""
    groups = {group_name(cluster["name"]): [], "control_plane": [], "workers": [], "registry": []}
    hostvars = {}
    for host in cluster["hosts"]:
        groups[group_name(cluster["name"])].append(host["name"])
        for role in host["roles"]:
            groups[ROLE_GROUPS[role]].append(host["name"])
        variables = dict(host["vars"])
        variables.update({
            "ansible_host": host["ssh"]["host"],
            "ansible_user": host["ssh"]["user"],
            "ansible_port": host["ssh"]["port"],
            "airgap_node": {"name": host["name"], "address": host["address"], "roles": host["roles"]},
        })
        if host["ssh"]["keyFile"]:
            variables["ansible_ssh_private_key_file"] = host["ssh"]["keyFile"]
        hostvars[host["name"]] = variables
    group_vars = dict(cluster["vars"], airgap_cluster=cluster, airgap_cluster_file=source)
    if cluster["ssh"]["commonArgs"]:
        group_vars["ansible_ssh_common_args"] = cluster["ssh"]["commonArgs"]
    return groups, hostvars, group_vars
