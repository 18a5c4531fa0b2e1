#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: generate_cluster_config
short_description: Write a commented starter cluster.yml for a host list
version_added: 0.1.0
description:
  - The equivalent of C(eksctl anywhere generate clusterconfig NAME). Builds a cluster file for
    O(name) from a host list, fills every default, validates it, and writes it with a comment on
    each field.
  - Hosts without roles get them by position. The first host is the control plane and the
    registry (and a worker too when it is the only host); the others are workers.
  - Hosts without names are named V(NAME-cp1), V(NAME-w1), V(NAME-w2) and so on.
  - Runs on the controller; playbooks/generate_cluster_config.yml wraps it for the command line.
options:
  name:
    description: Cluster name (a DNS label).
    type: str
    required: true
  dest:
    description:
      - File to write, on the controller, through a temporary file in the same directory.
      - It is written with mode V(0600), as it may come to hold the registry password.
    type: path
    required: true
  hosts:
    description:
      - Hosts as V(ADDRESS) or V(NAME=ADDRESS) strings, or mappings with the keys of a O(hosts_file) row.
    type: list
    elements: raw
    default: []
  hosts_file:
    description:
      - JSON or YAML file with a list of hosts, each a mapping with C(address) and optionally
        C(name), C(roles), C(ssh_host), C(ssh_user), C(ssh_port), C(ssh_key) (C(os) is ignored).
        The lab's C(state/hosts.json) has this shape.
      - Its hosts come after those of O(hosts).
    type: path
  ssh_user:
    description: SSH user for every host (top-level C(ssh.user)).
    type: str
  ssh_port:
    description: SSH port for every host (top-level C(ssh.port)).
    type: int
  ssh_key_file:
    description: Private key for every host (top-level C(ssh.keyFile)).
    type: path
  ssh_common_args:
    description: Extra ssh options for every host (top-level C(ssh.commonArgs)).
    type: str
  kubernetes_version:
    description: Kubernetes version; default is the newest supported one.
    type: str
  fail_cgroup_v1:
    description: Sets C(kubelet.failCgroupV1); V(false) for hosts that only have cgroup v1.
    type: bool
  sample_app:
    description: Sets C(addons.sampleApp.enabled).
    type: bool
  settings:
    description:
      - Any other fields of the cluster file, merged into the generated config key by key
        (for example C(sources) pointing at a mirror).
    type: dict
    default: {}
  check_files:
    description: Whether the key files named must exist.
    type: bool
    default: true
  force:
    description: Overwrite O(dest) when it exists with different content.
    type: bool
    default: false
extends_documentation_fragment:
  - airgap.kubernetes.attributes
  - airgap.kubernetes.attributes.controller
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
author:
  - airgap.kubernetes maintainers (@airgap)
"""

EXAMPLES = r"""
- name: Write a starter file for a two-host cluster
  airgap.kubernetes.generate_cluster_config:
    name: demo
    hosts: [10.0.0.11, 10.0.0.12]
    ssh_user: debian
    ssh_key_file: ~/.ssh/id_ed25519
    dest: demo.cluster.yml

- name: Write the lab's cluster file from its host list
  airgap.kubernetes.generate_cluster_config:
    name: lab
    hosts_file: /var/cache/airgap-lab/state/hosts.json
    fail_cgroup_v1: false
    settings:
      sources:
        kubernetesReleases: http://127.0.0.1:18080/dl.k8s.io
    dest: /var/cache/airgap-lab/state/cluster.yml
"""

RETURN = r"""
dest:
  description: Absolute path of the file.
  returned: success
  type: str
  sample: /home/me/demo.cluster.yml
problems:
  description: Every problem of the generated config, when it is invalid.
  returned: failure
  type: list
  elements: str
  sample: ["hosts[1].address: duplicate address '10.0.0.11' (also hosts[0].address)"]
"""
