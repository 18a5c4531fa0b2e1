#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: build_bundle
short_description: Build the offline bundle of an airgap.kubernetes cluster file
version_added: 0.1.0
description:
  - Runs on the connected side. Reads a cluster file and downloads everything that cluster needs
    for its Kubernetes version, add-ons, CNI and architecture, as listed in the collection's release
    table (plugins/plugin_utils/releases.py), from the base URLs in the file's C(sources).
  - Every file is checked against upstream's checksum file and against a pinned sha256 where the
    table or O(pins) pins one. Every image is pulled by digest into an OCI image layout; a
    multi-arch index is kept as published (its digest stays upstream's) with only the manifest and
    blobs of O(arch).
  - Writes one tar archive (the BOM C(bom.json), C(files/), the OCI layout C(images/)), its
    C(.sha256) and a copy of the BOM next to it, in O(dest).
  - With O(signing_key), signs the archive's C(.sha256) (which records the archive's sha256, so it
    covers every byte of the archive, the BOM included) with C(ssh-keygen -Y sign) into
    C(<archive>.sha256.sig). The air-gapped side checks that signature against C(bundle.publicKey)
    of the cluster file before it reads the archive. When the cluster file sets
    C(bundle.publicKey) and not C(bundle.allowUnsigned), building without O(signing_key) fails; a
    signing key whose public half is not the one in C(bundle.publicKey) (when that file is on this
    machine) fails before anything is downloaded.
  - For every OS release in C(bundle.osReleases) of the cluster file, the OS packages (.deb) a
    minimal host lacks for Kubernetes (the collection's table) and their dependency closure, from
    C(sources.debianArchive) as C(files/packages/<os id>/<file>) (C(debian-12), C(debian-13)). The
    archive's signed Release file (C(InRelease)) must verify with C(gpgv) against the keys in
    C(bundle.debianKeyring) (Debian's archive keyring by default), at every run; the Packages
    index is checked against it and every .deb against the index.
  - Downloads go through a cache (files, InRelease files, indexes, .debs and tag resolutions by URL,
    blobs by digest), so a second run with the same cache downloads nothing; an archive whose
    content would not change is kept.
  - Uses the Python standard library for HTTP and the registry protocol; no container tooling.
options:
  path:
    description: Cluster file to build the bundle for.
    type: path
    required: true
  dest:
    description: Directory for the archive. Default is C(bundle.path) of the cluster file.
    type: path
  cache:
    description:
      - Download cache, shared by every cluster. Default is C($XDG_CACHE_HOME/airgap.kubernetes/bundle)
        (C(~/.cache/airgap.kubernetes/bundle)), outside O(dest), which is what is carried across the gap.
    type: path
  arch:
    description: CPU architecture of the hosts.
    type: str
    default: amd64
    choices: [amd64]
  include_cni:
    description:
      - Whether to bundle the CNI plugin the cluster file asks for. The task fails when the
        collection has no rows for that CNI; V(false) builds a bundle without a CNI, which the
        preflight refuses for a cluster that needs one.
    type: bool
    default: true
  pins:
    description:
      - Extra pins, from a bundle path (C(files/kubeadm/kubeadm),
        C(files/packages/debian-12/socat_1.7.4.4-2_amd64.deb)) or artifact name to a sha256, and
        from an image name (C(registry.k8s.io/pause:3.10.2)) to a digest. A file must match both
        upstream's checksum file and its pin, a package both the archive's index and its pin; a
        pinned image is pulled by that digest.
    type: dict
    default: {}
  pins_from:
    description:
      - A BOM of an earlier bundle (C(*.bom.json)); every file, package and image in it is pinned,
        so a rebuild must reproduce the same bytes.
    type: path
  compression:
    description: V(none) writes a C(.tar) (images are compressed already), V(gzip) a C(.tar.gz).
    type: str
    default: none
    choices: [none, gzip]
  ca_file:
    description: Extra CA bundle (PEM) for HTTPS mirrors and registries with a private CA.
    type: path
  registry_auth:
    description:
      - Credentials for registries, keyed by the C(sources) value or the registry host, each a
        mapping with C(username) and C(password). Never logged.
    type: dict
    default: {}
  refresh:
    description:
      - Ask the registries again which digest each tag names, and fetch the Debian archive's
        InRelease files again (a new point release); otherwise both are cached.
    type: bool
    default: false
  force:
    description: Write the archive even when an identical one exists.
    type: bool
    default: false
  signing_key:
    description:
      - OpenSSH private key file on this (connected) machine that signs the bundle; its public
        half is C(bundle.publicKey) in the cluster file on the air-gapped side. The key is never
        read into Ansible nor logged; C(ssh-keygen) signs with it.
      - A key protected by a passphrase must be in C(ssh-agent) (C(ssh-add KEY) first); the task
        never asks for a passphrase and fails saying so.
      - An archive that is kept unchanged keeps its signature when that signature is this key's; an
        archive that is written anew never keeps an older signature.
    type: path
requirements:
  - C(gpgv) and the keys of C(bundle.debianKeyring) (Debian's archive keyring) on the controller,
    when the cluster file asks for OS packages.
  - C(ssh-keygen) (OpenSSH 8.2 or later, package openssh-client) with O(signing_key).
extends_documentation_fragment:
  - airgap.kubernetes.attributes
  - airgap.kubernetes.attributes.controller
attributes:
  check_mode:
    support: full
    details: Reports the plan and downloads nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
author:
  - airgap.kubernetes maintainers (@airgap)
"""

EXAMPLES = r"""
- name: Build the bundle of a cluster file
  airgap.kubernetes.build_bundle:
    path: cluster.yml

- name: Build and sign the bundle with the key whose public half the cluster file names
  airgap.kubernetes.build_bundle:
    path: cluster.yml
    signing_key: ~/.ssh/airgap-bundle-signing

- name: Rebuild with every file and image pinned to an earlier bundle
  airgap.kubernetes.build_bundle:
    path: cluster.yml
    pins_from: bundle/demo-bundle-v1.37.2-amd64.tar.bom.json
"""

RETURN = r"""
archive:
  description: The bundle archive.
  returned: success
  type: str
  sample: /srv/bundle/demo-bundle-v1.37.2-amd64.tar
sha256:
  description: The sha256 of the archive (also in RV(sha256_path)).
  returned: success
  type: str
sha256_path:
  description: The archive's checksum file, C(<sha256>  <name>).
  returned: success
  type: str
signature_path:
  description: The archive's signature, C(<archive>.sha256.sig), or null for an unsigned bundle.
  returned: success
  type: str
  sample: /srv/bundle/demo-bundle-v1.37.2-amd64.tar.sha256.sig
signed_by:
  description: The fingerprint of the key that signed the bundle, or null for an unsigned bundle.
  returned: success
  type: str
  sample: SHA256:HBf60pXZRXId7M5x2+A5KtlVLhCtGOrjVeX44Oo2wmg
bom_path:
  description: The BOM next to the archive (the same as C(bom.json) inside it).
  returned: success
  type: str
size:
  description: Archive size in bytes.
  returned: success
  type: int
file_count:
  description: Number of files in the bundle.
  returned: success
  type: int
image_count:
  description: Number of images in the bundle.
  returned: success
  type: int
blob_count:
  description: Number of blobs (indexes, manifests, configs, layers) in the OCI layout.
  returned: success
  type: int
package_count:
  description: Number of OS packages (.deb) in the bundle, over every OS release.
  returned: success
  type: int
os_releases:
  description: The OS releases the bundle carries packages for.
  returned: success
  type: list
  elements: str
  sample: [debian-12, debian-13]
bytes_downloaded:
  description: Bytes downloaded by this run; 0 with a warm cache.
  returned: success
  type: int
seconds:
  description: Build time in seconds.
  returned: success
  type: float
cache:
  description: The download cache used.
  returned: success
  type: str
stats:
  description: Files, blobs and packages downloaded and taken from the cache, and HTTP requests.
  returned: success
  type: dict
cni:
  description: The bundled CNI plugin and version, or null.
  returned: success
  type: dict
"""
