#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: validate_cluster_config
short_description: Validate an airgap.kubernetes cluster file on the controller
version_added: 0.1.0
description:
  - Checks a cluster file (or an already loaded one) against the cluster.yml schema and the rules
    a schema cannot express (duplicate names and addresses, a control plane and a worker present,
    CIDR overlaps, files that must exist), and fails listing every problem with its field path.
  - Runs on the controller and never contacts a host, so the first play of a playbook can stop a
    run before any host is touched.
  - The fields are described in docs/cluster-config.md.
options:
  path:
    description:
      - Cluster file to validate. Read on the controller; ansible-vault encrypted values work.
      - Exactly one of O(path) and O(config) is required.
    type: path
  config:
    description:
      - The content of a cluster file as a mapping, for example from a lookup or a variable.
    type: dict
  base_dir:
    description:
      - Directory that relative paths in the config are relative to.
      - Default is the directory of O(path), or the current directory for O(config).
    type: path
  check_files:
    description:
      - Whether files named in the config (SSH keys, registry certificates) must exist.
    type: bool
    default: true
extends_documentation_fragment:
  - airgap.kubernetes.attributes
  - airgap.kubernetes.attributes.controller
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
author:
  - airgap.kubernetes maintainers (@airgap)
"""

EXAMPLES = r"""
- name: Validate the cluster file before touching any host
  airgap.kubernetes.validate_cluster_config:
    path: "{{ airgap_cluster_file }}"

- name: Validate a config built in the playbook, without looking for key files
  airgap.kubernetes.validate_cluster_config:
    config: "{{ lookup('ansible.builtin.file', 'cluster.yml') | from_yaml }}"
    check_files: false
"""

RETURN = r"""
problems:
  description: Every problem found, each as the field path, a colon and what is wrong. Empty for a valid file.
  returned: always
  type: list
  elements: str
  sample: ["hosts[2].address: duplicate address '10.0.0.11' (also hosts[0].address)"]
cluster:
  description: The settings with defaults filled, host SSH settings completed and paths absolute.
  returned: success
  type: dict
  sample: {"name": "demo", "kubernetesVersion": "v1.37.2", "hosts": []}
"""
