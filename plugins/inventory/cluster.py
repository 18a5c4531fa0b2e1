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
  - The file is read defensively before Ansible's YAML loader builds anything from it, and
    refused, naming the problem, when it is bigger than 1 MiB, not UTF-8, not one YAML document,
    or holds an anchor or alias, a duplicate key (without quoting its value) or a tag other than
    C(!vault).
  - A C(!vault) encrypted C(registry.auth.password) stays encrypted in C(airgap_cluster); a play
    decrypts it where it uses it, and C(ansible-inventory --list) or C(--host) print its
    ciphertext. Every variable this plugin sets is untrusted, so no value is ever templated.
  - The cluster file's required C(plugin) key (V(airgap.kubernetes.cluster); the generator writes
    it) lets the default C(auto) inventory plugin find this plugin, so C(-i cluster.yml) works with
    no configuration, and keeps the C(yaml) inventory plugin from reading the file as groups.
  - Ansible only warns when no inventory plugin could read a source, and then runs with an empty
    inventory, so an invalid cluster file needs C([inventory] any_unparsed_is_failed = true) to stop
    it. With C(enable_plugins = airgap.kubernetes.cluster, host_list), this plugin reads the file
    directly (not through C(auto), whose YAML loader would print a duplicate key's lines, password
    included) and no other plugin reads a file this one refused. The collection's ansible.cfg sets
    both; the playbooks stop an invalid file without them too (C(airgap.kubernetes.validate) runs
    first).
notes:
  - Accepted files are named C(cluster.yml), C(cluster.yaml), C(*.cluster.yml), C(*.cluster.yaml),
    or any C(.yml)/C(.yaml) file whose content declares the airgap.kubernetes apiVersion.
  - Plain Ansible inventories keep working for the roles, which then read the variables you set
    yourself; add C(ini) or C(yaml) to C(enable_plugins) for them. The playbooks need a cluster
    file.
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

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.files import is_cluster_file, read_cluster_file
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.model import inventory as inventory_model, load
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import ClusterConfigError


class InventoryModule(BaseInventoryPlugin):
    """Inventory from an airgap.kubernetes cluster file."""

    NAME = "airgap.kubernetes.cluster"
    # Ansible marks every variable this plugin sets as untrusted, so no value of the cluster
    # file is ever evaluated as a template (ansible-core 2.19 and later; said here, not left to
    # the default).
    trusted_by_default = False

    def verify_file(self, path):
        return super().verify_file(path) and is_cluster_file(path)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        source = os.path.abspath(path)
        try:
            raw = read_cluster_file(source)
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
