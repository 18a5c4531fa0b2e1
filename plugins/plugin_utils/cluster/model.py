# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The effective settings of a valid cluster file, and how they map onto the inventory."""

from __future__ import annotations

import json
import re

from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.schema import ROLE_GROUPS, ROLES
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import (
    ClusterConfigError,
    check,
    resolve_path,
)


def resolve(config, base_dir=None):
    """The effective settings of a valid config: every host's SSH settings filled from the top
    level, the endpoint and registry host filled from host roles, and paths made absolute."""
    result = json.loads(json.dumps(config))
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
