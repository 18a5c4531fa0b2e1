# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: cluster
short_description: Use an airgap.kubernetes cluster.yml as the inventory
version_added: 0.1.0
description:
  - Reads one cluster file (apiVersion C(airgap.kubernetes/v1alpha1), kind C(Cluster)), validates
    it and fails listing every problem, each with its field path, before any host is contacted.
  - Yields the groups C(control_plane), C(workers), C(registry) (from each host's roles), C(nodes)
    (control planes and workers) and C(cluster_<name>) (every host of the cluster).
  - Sets C(ansible_host), C(ansible_user), C(ansible_port) and C(ansible_ssh_private_key_file) per
    host, the host's own C(vars), and C(airgap_node) (name, address, roles).
  - Sets on the cluster group C(airgap_cluster), every setting of the file with defaults filled
    and paths made absolute, and C(airgap_cluster_file), the file's absolute path.
  - The file's fields are described in docs/cluster-config.md.
  - The cluster file's required C(plugin) key (V(airgap.kubernetes.cluster); the generator writes
    it) lets the default C(auto) inventory plugin find this plugin, so C(-i cluster.yml) works with
    no configuration, and keeps the C(yaml) inventory plugin from reading the file as groups.
  - Set C([inventory] unparsed_is_failed = true) (or E(ANSIBLE_INVENTORY_UNPARSED_FAILED=true)) so
    that an invalid cluster file stops Ansible instead of leaving an empty inventory and a warning.
notes:
  - Accepted files are named C(cluster.yml), C(cluster.yaml), C(*.cluster.yml), C(*.cluster.yaml),
    or any C(.yml)/C(.yaml) file whose content declares the airgap.kubernetes apiVersion.
  - Plain Ansible inventories keep working; the roles then read the variables you set yourself.
author:
  - airgap.kubernetes maintainers (@airgap)
"""

EXAMPLES = r"""
# cluster.yml; use it with: ansible-inventory -i cluster.yml --graph
plugin: airgap.kubernetes.cluster
apiVersion: airgap.kubernetes/v1alpha1
kind: Cluster
name: demo
hosts:
  - name: demo-cp1
    address: 10.0.0.11
    roles: [control_plane, registry]
  - name: demo-w1
    address: 10.0.0.12
    roles: [worker]
ssh:
  user: debian
  keyFile: ~/.ssh/id_ed25519
kubelet:
  failCgroupV1: false
"""

import os
import re

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.model import inventory as inventory_model, load
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.schema import API_VERSION
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import ClusterConfigError

_NAME = re.compile(r"(^|\.)cluster\.ya?ml$")
_DECLARES = re.compile(r"^apiVersion:\s*[\"']?%s" % re.escape(API_VERSION.split("/", maxsplit=1)[0]),
                       re.MULTILINE)


class InventoryModule(BaseInventoryPlugin):
    """Inventory from an airgap.kubernetes cluster file."""

    NAME = "airgap.kubernetes.cluster"

    def verify_file(self, path):
        if not super().verify_file(path) or not path.endswith((".yml", ".yaml")):
            return False
        if _NAME.search(os.path.basename(path)):
            return True
        try:
            with open(path, encoding="utf-8") as handle:
                return bool(_DECLARES.search(handle.read(65536)))
        except (OSError, UnicodeDecodeError):
            return False

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        source = os.path.abspath(path)
        raw = self.loader.load_from_file(path, cache="none")
        try:
            cluster = load(raw, base_dir=os.path.dirname(source), source=source)
        except ClusterConfigError as exc:
            raise AnsibleParserError(str(exc)) from None
        groups, hostvars, group_vars = inventory_model(cluster, source=source)
        for group in groups:
            self.inventory.add_group(group)
        self.inventory.add_group("nodes")
        self.inventory.add_child("nodes", "control_plane")
        self.inventory.add_child("nodes", "workers")
        cluster_group = next(g for g in groups if g.startswith("cluster_"))
        for key, value in group_vars.items():
            self.inventory.set_variable(cluster_group, key, value)
        for group, members in groups.items():
            for host in members:
                self.inventory.add_host(host, group=group)
        for host, variables in hostvars.items():
            for key, value in variables.items():
                self.inventory.set_variable(host, key, value)
