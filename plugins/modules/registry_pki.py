#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: registry_pki
short_description: Make and keep the site registry's CA and TLS certificate on the controller
version_added: 0.1.0
description:
  - Runs on the controller, with the C(cryptography) package that ansible-core itself requires.
  - Keeps four files in O(path) (created with mode C(0700)) - C(ca.key) and C(registry.key) (mode C(0600)),
    C(ca.crt) and C(registry.crt) (mode C(0644)) - and corrects the modes of those it keeps.
  - The CA is an ECDSA P-384 key and a self-signed certificate (C(CA:TRUE), C(pathlen:0), key usages
    C(keyCertSign) and C(cRLSign), all critical). Once it exists it is never replaced, because every node
    trusts it; a CA key without its certificate (a run stopped between the two) gets its certificate again,
    with the same key. A CA certificate without its key, a pair that does not match, a file that does not
    parse or an expired CA stops the task with what to do.
  - The registry certificate is an ECDSA P-256 key and a certificate signed by the CA for O(common_name) and
    O(subject_alt_names), extended key usage C(serverAuth). It is issued again, with the same CA (and the
    same key, when it is readable), when it is missing, does not match its key or the CA, has another
    subject or other names, or expires within O(renew_before_days) days.
  - Every file is written through a temporary file in O(path) and renamed, so a reader never sees half a
    file. Private keys are never returned or logged.
  - Certificate requests (C(ca.csr), C(registry.csr)) that earlier versions made are neither needed nor removed.
options:
  path:
    description: Controller directory for the four files.
    type: path
    required: true
  common_name:
    description: The registry certificate's subject common name (1 to 64 characters), usually the registry's address.
    type: str
    required: true
  subject_alt_names:
    description:
      - The registry certificate's names, each C(DNS:name) or C(IP:address). Anything else fails the task,
        naming the value.
    type: list
    elements: str
    required: true
  ca_common_name:
    description: The CA's subject common name, used only when the CA is made.
    type: str
    default: airgap.kubernetes registry CA
  valid_days:
    description: Days a newly issued registry certificate is valid (never past the CA's end).
    type: int
    default: 825
  ca_valid_days:
    description: Days a newly made CA certificate is valid.
    type: int
    default: 3650
  renew_before_days:
    description:
      - Issue the registry certificate again when it expires within this many days. The CA is only warned
        about within the same period.
    type: int
    default: 30
extends_documentation_fragment:
  - airgap.kubernetes.attributes
  - airgap.kubernetes.attributes.controller
attributes:
  check_mode:
    support: full
    details: Reports in RV(actions) what a real run would do, and writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
author:
  - airgap.kubernetes maintainers (@airgap)
"""

EXAMPLES = r"""
- name: Create the CA and the registry certificate
  airgap.kubernetes.registry_pki:
    path: "{{ registry_pki_dir }}"
    common_name: 10.0.0.5
    subject_alt_names: [IP:10.0.0.5, DNS:cp1, DNS:localhost, IP:127.0.0.1]
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
actions:
  description: What was done (or, in check mode, would be done), one line each; empty when everything is kept.
  returned: always
  type: list
  elements: str
  sample: ["issue the registry certificate /srv/pki/registry.crt (its names DNS:cp1 are not DNS:cp1, IP:10.0.0.5)"]
ca:
  description:
    - The CA - C(path), C(key_path), C(created) (its certificate is new), C(not_after) (ISO 8601, UTC) and
      C(sha256_fingerprint) of the certificate.
  returned: success
  type: dict
certificate:
  description:
    - The registry certificate - C(path), C(key_path), C(issued) (true when it is new), C(reasons) it was issued,
      C(not_after), C(subject_alt_names) (sorted) and C(sha256_fingerprint).
  returned: success
  type: dict
"""
