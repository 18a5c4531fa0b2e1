# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm helpers for modules that run on control-plane hosts (standard library only).

- ``ca_cert_hash``: the discovery hash kubeadm join checks (``sha256:`` + hex of the SHA-256 of
  the CA certificate's DER SubjectPublicKeyInfo), read with a minimal DER walk.
- ``parse_token_list``: ``kubeadm token list -o json`` prints one JSON object per token.
"""

from __future__ import annotations

import hashlib
import json
import re

from ansible_collections.airgap.kubernetes.plugins.module_utils import x509

TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")


class KubeadmError(Exception):
    """A failure whose message says what was wrong."""


def spki_der(cert_der):
    """The DER bytes of a certificate's SubjectPublicKeyInfo (the collection's DER reader)."""
    data = bytes(cert_der)
    try:
        cert = x509.expect(x509.read_tlv(data, 0), x509.SEQUENCE, "Certificate")
        tbs_element = x509.expect(x509.children(data, cert[1], cert[2])[0], x509.SEQUENCE, "tbsCertificate")
        tbs = x509.children(data, tbs_element[1], tbs_element[2])
        if tbs and tbs[0][0] == x509.EXPLICIT_0:  # version, present in v3 certificates
            tbs = tbs[1:]
        # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
        if len(tbs) < 6 or tbs[5][0] != x509.SEQUENCE:
            raise KubeadmError("certificate has no subjectPublicKeyInfo")
    except (x509.CertificateError, IndexError) as exc:
        raise KubeadmError("not a DER certificate: %s" % exc)
    # The whole element, tag and length included: it starts where the subject ends.
    return data[tbs[4][2]:tbs[5][2]]


def pem_certificates(text):
    """DER bytes of every certificate in a PEM text."""
    try:
        certs = x509.pem_certificates(text)
    except x509.CertificateError as exc:
        raise KubeadmError(str(exc))
    if not certs:
        raise KubeadmError("no PEM certificate found")
    return certs


def ca_cert_hash(pem_text):
    """kubeadm's discovery-token-ca-cert-hash of the first certificate of a PEM text."""
    return "sha256:" + hashlib.sha256(spki_der(pem_certificates(pem_text)[0])).hexdigest()


def parse_token_list(text):
    """Tokens from ``kubeadm token list -o json`` (a stream of JSON objects)."""
    decoder = json.JSONDecoder()
    tokens, pos, text = [], 0, text.strip()
    while pos < len(text):
        obj, end = decoder.raw_decode(text, pos)
        tokens.append(obj)
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens
