#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: verify_bundle
short_description: Check that a bundle is intact and complete for a cluster file
version_added: 0.1.0
description:
  - The bundle preflight, on the controller, before any host is contacted.
  - Checks the archive against its C(.sha256), every file and OS package in it against the sha256
    in its BOM and every image blob against its digest, and that the BOM covers every file, image,
    the CNI plugin and, for every OS release in C(bundle.osReleases), every OS package the cluster
    file asks for (the collection's release table decides what that is).
  - Fails listing every problem, each naming the archive, file, package, image or CNI at fault.
options:
  path:
    description: Cluster file the bundle is for.
    type: path
    required: true
  archive:
    description:
      - Bundle archive. Default is C(<name>-bundle-<kubernetesVersion>-<arch>.tar) (or C(.tar.gz))
        in C(bundle.path) of the cluster file.
    type: path
  arch:
    description: CPU architecture of the hosts.
    type: str
    default: amd64
    choices: [amd64]
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
- name: Check the bundle before touching any host
  airgap.kubernetes.verify_bundle:
    path: "{{ airgap_cluster_file }}"
"""

RETURN = r"""
archive:
  description: The archive checked.
  returned: always
  type: str
problems:
  description: Every problem found; empty when the bundle fits the cluster file.
  returned: always
  type: list
  elements: str
  sample: ["demo-bundle-v1.37.2-amd64.tar: lacks the image registry.k8s.io/metrics-server/metrics-server:v0.8.0"]
bom:
  description: The bundle's manifest (files, images, OS packages, versions, architecture, date).
  returned: success
  type: dict
"""
