# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build a starter cluster config from a short host list (the generator's logic)."""

from __future__ import annotations

import copy

from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.schema import API_VERSION, INVENTORY_PLUGIN, KIND

# Host row keys accepted from the command line or a hosts file (the lab's hosts.json rows:
# name, address, os, ssh_user, ssh_port, ssh_key), and where each lands in cluster.yml.
_ROW_SSH = {"ssh_host": "host", "ssh_user": "user", "ssh_port": "port", "ssh_key": "keyFile"}
_ROW_IGNORED = ("os",)


class StarterError(ValueError):
    """Input the generator cannot turn into hosts."""


def parse_host(item, index):
    """One host from 'ADDRESS', 'NAME=ADDRESS' or a mapping (a hosts.json row)."""
    if isinstance(item, dict):
        unknown = sorted(set(item) - {"name", "address", "roles"} - set(_ROW_SSH) - set(_ROW_IGNORED))
        if unknown:
            raise StarterError("hosts[%d]: unknown keys %s" % (index, ", ".join(unknown)))
        host = {k: item[k] for k in ("name", "address", "roles") if item.get(k) is not None}
        ssh = {_ROW_SSH[k]: item[k] for k in _ROW_SSH if item.get(k) is not None}
        if ssh:
            host["ssh"] = ssh
        return host
    text = str(item).strip()
    if "=" in text:
        name, address = text.split("=", 1)
        return {"name": name.strip(), "address": address.strip()}
    return {"address": text}


def _merge(base, extra):
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def starter_config(name, hosts, ssh_user=None, ssh_port=None, ssh_key_file=None, ssh_common_args=None,
                   kubernetes_version=None, fail_cgroup_v1=None, sample_app=None, settings=None):
    """A raw cluster config (as a user would write it) for cluster NAME.

    Hosts without roles get them by position: the first is the control plane and the registry
    (and a worker too when it is the only host); the others are workers. Hosts without names
    are named NAME-cp1, NAME-w1, NAME-w2, ... ``settings`` is merged in last, key by key.
    """
    rows = [parse_host(item, index) for index, item in enumerate(hosts or [])]
    if not rows:
        raise StarterError("hosts: give at least one host address (hosts=ADDR,ADDR or hosts_file)")
    workers = 0
    for index, row in enumerate(rows):
        if "roles" not in row:
            if index == 0:
                row["roles"] = ["control_plane", "worker", "registry"] if len(rows) == 1 else [
                    "control_plane", "registry"]
            else:
                row["roles"] = ["worker"]
        if "name" not in row:
            if index == 0 and "control_plane" in row["roles"]:
                row["name"] = "%s-cp1" % name
            else:
                workers += 1
                row["name"] = "%s-w%d" % (name, workers)
        rows[index] = {k: row[k] for k in ("name", "address", "roles", "ssh") if k in row}
    config = {"plugin": INVENTORY_PLUGIN, "apiVersion": API_VERSION, "kind": KIND, "name": name}
    if kubernetes_version:
        config["kubernetesVersion"] = kubernetes_version
    ssh = {k: v for k, v in (("user", ssh_user), ("port", ssh_port), ("keyFile", ssh_key_file),
                             ("commonArgs", ssh_common_args)) if v is not None}
    if ssh:
        config["ssh"] = ssh
    config["hosts"] = rows
    if fail_cgroup_v1 is not None:
        config["kubelet"] = {"failCgroupV1": fail_cgroup_v1}
    if sample_app is not None:
        config["addons"] = {"sampleApp": {"enabled": sample_app}}
    return _merge(config, settings or {})
