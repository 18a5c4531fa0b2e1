#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_model
short_description: Read a cluster file's derived names and its verified bundle, for the phase playbooks
version_added: 0.1.0
description:
  - Runs on the controller. Reads and validates the cluster file, derives every name the playbooks
    and roles need (API endpoint, registry address, user, CA file and mirrored upstream registries,
    the controller's state, PKI and kubeconfig paths, the first control plane), finds the bundle
    archive (C(.tar) or C(.tar.gz)) with the same function as the preflight, checks its signature
    against C(bundle.publicKey) (as M(airgap.kubernetes.verify_bundle) does, before the archive is
    read), verifies it against its C(.sha256) and BOM and against what the cluster file asks for,
    and unpacks its manifest, files and OS packages on the controller, regular files only, without
    owners or set-id bits.
  - Returns them as one map, so that playbooks map values onto role variables and never spell the
    bundle's layout or re-derive a name in Jinja.
  - The signature is checked at every call (it reads only the small files next to the archive); an
    unsigned bundle let through by C(bundle.allowUnsigned) is a warning at every call.
  - The full verification reads the whole archive; it runs once per archive file, cluster plan and
    signature. A stamp next to the unpacked files (archive path, size, modification time and
    inode, and the checksum file, signature, public key and C(bundle.allowUnsigned) it was trusted
    under) lets later phases and runs skip it while none of them changes.
  - Fails listing every problem of the cluster file or of the bundle, before any host is contacted.
options:
  path:
    description: The cluster file.
    type: path
    required: true
  archive:
    description:
      - The bundle archive. Default is C(<name>-bundle-<kubernetesVersion>-<arch>.tar) (or C(.tar.gz))
        in C(bundle.path) of the cluster file.
    type: path
  arch:
    description: CPU architecture of the hosts.
    type: str
    default: amd64
    choices: [amd64]
  bundle:
    description:
      - Find, verify and unpack the bundle. V(false) returns the derived names only (for playbooks
        that need no file of the bundle, such as the summary).
    type: bool
    default: true
  recheck:
    description:
      - Read and check the whole archive even when a stamp says this archive file was verified
        before (the preflight does, once per run).
    type: bool
    default: false
requirements:
  - C(ssh-keygen) (OpenSSH 8.2 or later, package openssh-client) on the controller.
extends_documentation_fragment:
  - airgap.kubernetes.attributes
  - airgap.kubernetes.attributes.controller
attributes:
  check_mode:
    support: full
    details: The bundle is verified and unpacked on the controller in check mode too, since later tasks read it.
  diff_mode:
    support: none
  idempotent:
    support: full
author:
  - airgap.kubernetes maintainers (@airgap)
"""

EXAMPLES = r"""
- name: Read the cluster model and the verified bundle
  airgap.kubernetes.cluster_model:
    path: "{{ airgap_cluster_file }}"
  register: airgap
  run_once: true

- name: Use the derived names
  ansible.builtin.debug:
    msg: "API at {{ airgap.endpoint.address }}, kubelet from {{ airgap.bundle.files.kubelet.path }}"
"""

RETURN = r"""
cluster:
  description: The cluster's name.
  returned: always
  type: str
  sample: demo
cluster_file:
  description: The cluster file's absolute path.
  returned: always
  type: str
kubernetes_version:
  description: The Kubernetes release the cluster file asks for.
  returned: always
  type: str
  sample: v1.37.2
first_control_plane:
  description: Inventory name of the first host with role control_plane.
  returned: always
  type: str
pod_networks:
  description: The CNI network names the cluster's pod network writes on its nodes.
  returned: always
  type: list
  elements: str
  sample: [kube-router]
state_dir:
  description:
    - The cluster file's C(stateDir), absolute (default the cluster file's directory); every path
      below is in it.
  returned: always
  type: str
cluster_state_dir:
  description: Controller directory for the cluster's own state, C(<state_dir>/<name>) (mode 0700), holding the kubeconfig.
  returned: always
  type: str
pki_dir:
  description:
    - Controller directory for the registry's CA, certificate and generated passwords,
      C(<state_dir>/pki/<name>) (mode 0700).
  returned: always
  type: str
kubeconfig:
  description: Where the admin kubeconfig is written on the controller, C(<cluster_state_dir>/<name>.kubeconfig) (mode 0600).
  returned: always
  type: str
snapshots_dir:
  description: C(<cluster_state_dir>/snapshots), reserved for etcd snapshots; no playbook writes it yet.
  returned: always
  type: str
endpoint:
  description: The API server endpoint (C(host), C(port), C(address) as host:port, C(url)).
  returned: always
  type: dict
  sample: {"host": "10.0.0.11", "port": 6443, "address": "10.0.0.11:6443", "url": "https://10.0.0.11:6443"}
registry:
  description:
    - The site registry (C(host), C(port), C(address), C(username), C(tls_mode), C(ca_file) on the
      controller, C(password_file) where a generated password is kept, or empty when the cluster
      file sets one) and C(mirrors), the upstream registries nodes reach through it.
  returned: always
  type: dict
bundle:
  description:
    - The verified bundle (C(archive), C(sha256), C(signed_by) the fingerprint of the key that signed
      it or null, C(dir) where it is unpacked, C(kubernetes_version),
      C(arch), C(layout), the image layout's directory in the archive), C(files) by name (C(path),
      C(version), C(arch), C(sha256)), C(images) by name as C(ref@digest), C(image_refs) by name,
      C(digests) (every index and manifest digest) and C(packages) by OS id (C(name), C(path), C(sha256)).
  returned: when O(bundle) is true
  type: dict
problems:
  description: Every problem found in the cluster file or the bundle.
  returned: failure
  type: list
  elements: str
"""
