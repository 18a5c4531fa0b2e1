# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm helpers for modules that run on control-plane hosts (standard library only).

- ``ca_cert_hash``: the discovery hash kubeadm join checks (``sha256:`` + hex of the SHA-256 of
  the CA certificate's DER SubjectPublicKeyInfo), read with a minimal DER walk.
- ``parse_token_list``: ``kubeadm token list -o json`` prints one JSON object per token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
_PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


class KubeadmError(Exception):
    """A failure whose message says what was wrong."""


def _der_item(data, pos):
    """(tag, start of content, end of content) of the DER item at ``pos``."""
    if pos + 2 > len(data):
        raise KubeadmError("truncated DER at byte %d" % pos)
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise KubeadmError("bad DER length at byte %d" % pos)
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise KubeadmError("DER item at byte %d runs past the end" % pos)
    return tag, pos, pos + length


def spki_der(cert_der):
    """The DER bytes of a certificate's SubjectPublicKeyInfo."""
    tag, start, dummy = _der_item(cert_der, 0)  # Certificate
    if tag != 0x30:
        raise KubeadmError("not a DER certificate")
    tag, pos, tbs_end = _der_item(cert_der, start)  # TBSCertificate
    if tag != 0x30:
        raise KubeadmError("not a DER certificate")
    fields = []
    while pos < tbs_end and len(fields) < 7:
        tag, content, end = _der_item(cert_der, pos)
        fields.append((tag, pos, end))
        pos = end
    if fields and fields[0][0] == 0xA0:  # [0] version, present in v3 certificates
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    if len(fields) < 6 or fields[5][0] != 0x30:
        raise KubeadmError("certificate has no subjectPublicKeyInfo")
    return cert_der[fields[5][1]:fields[5][2]]


def pem_certificates(text):
    """DER bytes of every certificate in a PEM text."""
    certs = [base64.b64decode("".join(block.split())) for block in _PEM_RE.findall(text)]
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
