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
  - Reads the file as the cluster inventory plugin does (at most 1 MiB, UTF-8, one YAML document,
    no anchor, alias or duplicate key), so a file that Ansible could not read as an inventory is
    refused here with its problems listed, even where Ansible only warned about it.
  - Without O(path) or O(config), validates every cluster file among the inventory sources
    (C(-i)), whether or not it parsed, and fails when there is none (the airgap.kubernetes
    playbooks need one).
  - The fields are described in docs/cluster-config.md.
options:
  path:
    description:
      - Cluster file to validate. Read on the controller; ansible-vault encrypted values work.
      - At most one of O(path) and O(config); with neither, the cluster files of the inventory.
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
- name: Validate the cluster file(s) of the inventory (-i cluster.yml) before touching any host
  airgap.kubernetes.validate_cluster_config:

- name: Validate one cluster file
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
files:
  description: The cluster files validated (absolute paths), when O(config) is not given.
  returned: when O(config) is not given
  type: list
  elements: str
  sample: ["/home/me/site/cluster.yml"]
cluster:
  description:
    - The settings with defaults filled, host SSH settings completed and paths absolute.
    - The registry password, when set, is masked (C(VALUE_SPECIFIED_IN_NO_LOG_PARAMETER)).
  returned: success, with O(config) or exactly one file
  type: dict
  sample: {"name": "demo", "kubernetesVersion": "v1.37.2", "hosts": []}
"""
