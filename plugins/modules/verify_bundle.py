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
  - First the signature, before the archive is read. C(<archive>.sha256.sig) must be an OpenSSH
    signature (C(ssh-keygen -Y verify)) of the archive's C(.sha256) by a key in the file
    C(bundle.publicKey) of the cluster file. A missing C(bundle.publicKey), a missing signature, a
    signature by another key and a signature over other content are refused, each naming the file
    and the setting that fixes it. With C(bundle.allowUnsigned) true an unsigned bundle passes with
    a warning (a bad signature is still refused).
  - Every member of the archive must be a regular file or directory below C(bom.json), C(files/)
    or C(images/), named once, without C(..) or an absolute path, not a link, device or FIFO,
    without set-id, sticky or world-write bits and owned by root, whoever signed it.
  - Checks the archive against its C(.sha256), every file and OS package in it against the sha256
    in its BOM and every image blob against its digest, and that the BOM covers every file, image,
    the CNI plugin and, for every OS release in C(bundle.osReleases), every OS package the cluster
    file asks for (the collection's release table decides what that is).
  - Fails listing every problem, each naming the archive, member, file, package, image or CNI at fault.
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
requirements:
  - C(ssh-keygen) (OpenSSH 8.2 or later, package openssh-client) on the controller.
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
signed_by:
  description: The fingerprint of the trusted key that signed the bundle; null for an unsigned bundle let through.
  returned: always
  type: str
  sample: SHA256:HBf60pXZRXId7M5x2+A5KtlVLhCtGOrjVeX44Oo2wmg
bom:
  description: The bundle's manifest (files, images, OS packages, versions, architecture, date).
  returned: success
  type: dict
"""
