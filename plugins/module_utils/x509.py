# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read what an X.509 certificate says about itself - subject, issuer, validity - with a tiny DER
reader, because the hosts have neither the ``cryptography`` package nor always ``openssl``.

It walks the DER of the certificate (RFC 5280 4.1) down to tbsCertificate's issuer, validity and
subject; it does not verify signatures and does not read extensions. Strict where it reads: DER
definite lengths only, every length inside its parent, times in UTCTime or GeneralizedTime.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re

SEQUENCE, SET, INTEGER, OID, UTC_TIME, GENERALIZED_TIME = 0x30, 0x31, 0x02, 0x06, 0x17, 0x18
EXPLICIT_0 = 0xA0
_STRINGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1", 0x1E: "utf-16-be", 0x1C: "utf-32-be",
            0x12: "ascii"}
# Attribute types worth naming (RFC 4519).
_NAMES = {"2.5.4.3": "CN", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST",
          "2.5.4.5": "serialNumber", "0.9.2342.19200300.100.1.25": "DC"}
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.S)


class CertificateError(ValueError):
    """Bytes that are not a certificate this reader understands; the message says where it stopped."""


def read_tlv(data, pos, end=None):
    """One DER element at pos: (tag, content start, content end). Checks the length fits in end."""
    end = len(data) if end is None else end
    if pos + 2 > end:
        raise CertificateError("truncated DER at byte %d" % pos)
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise CertificateError("high-tag-number form at byte %d is not used in certificates" % pos)
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise CertificateError("indefinite length at byte %d is not DER" % (pos - 1))
    else:
        count = first & 0x7F
        if count > 4 or pos + count > end:
            raise CertificateError("bad length of %d bytes at byte %d" % (count, pos - 1))
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > end:
        raise CertificateError("an element at byte %d is longer (%d) than what holds it" % (pos, length))
    return tag, pos, pos + length


def children(data, start, end):
    """The elements inside a constructed element's content."""
    result = []
    pos = start
    while pos < end:
        tag, cstart, cend = read_tlv(data, pos, end)
        result.append((tag, cstart, cend))
        pos = cend
    return result


def expect(element, tag, what):
    if element[0] != tag:
        raise CertificateError("%s: expected tag 0x%02x, found 0x%02x" % (what, tag, element[0]))
    return element


def decode_oid(raw):
    if not raw:
        raise CertificateError("an empty OBJECT IDENTIFIER")
    values, value = [], 0
    for byte in bytearray(raw):
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            values.append(value)
            value = 0
    if value or raw[-1] & 0x80:
        raise CertificateError("a truncated OBJECT IDENTIFIER")
    first = min(values[0] // 40, 2)
    return ".".join(str(p) for p in [first, values[0] - 40 * first] + values[1:])


def decode_time(tag, raw):
    """UTCTime (YYMMDDHHMMSSZ; 50-99 are 19xx) or GeneralizedTime (YYYYMMDDHHMMSS[.f]Z), UTC."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise CertificateError("a time that is not ASCII")
    if not text.endswith("Z"):
        raise CertificateError("time %r is not in UTC (no Z)" % text)
    text = text[:-1].split(".", 1)[0]
    try:
        if tag == UTC_TIME:
            if len(text) == 10:  # seconds may be left out outside DER; accept
                text += "00"
            stamp = datetime.datetime.strptime(text, "%y%m%d%H%M%S")
            year = int(text[:2])
            stamp = stamp.replace(year=(1900 if year >= 50 else 2000) + year)
        elif tag == GENERALIZED_TIME:
            stamp = datetime.datetime.strptime(text, "%Y%m%d%H%M%S")
        else:
            raise CertificateError("tag 0x%02x is not a time" % tag)
    except ValueError:
        raise CertificateError("time %r is not a valid date" % raw.decode("ascii", "replace"))
    return stamp.replace(tzinfo=datetime.timezone.utc)


def decode_name(data, start, end):
    """A Name (RDNSequence) -> [(short name or OID, value)], in order."""
    result = []
    for rdn in children(data, start, end):
        expect(rdn, SET, "RelativeDistinguishedName")
        for attribute in children(data, rdn[1], rdn[2]):
            expect(attribute, SEQUENCE, "AttributeTypeAndValue")
            parts = children(data, attribute[1], attribute[2])
            if len(parts) != 2:
                raise CertificateError("an AttributeTypeAndValue with %d parts" % len(parts))
            oid = decode_oid(data[expect(parts[0], OID, "attribute type")[1]:parts[0][2]])
            tag, vstart, vend = parts[1]
            encoding = _STRINGS.get(tag)
            raw = data[vstart:vend]
            value = raw.decode(encoding, "replace") if encoding else "#" + binascii.hexlify(raw).decode()
            result.append((_NAMES.get(oid, oid), value))
    return result


def format_name(parts):
    return ", ".join("%s=%s" % (key, value) for key, value in parts)


def parse_certificate(der):
    """DER bytes of one certificate -> {subject, subject_cn, issuer, issuer_cn, serial, not_before,
    not_after} (times as aware datetimes)."""
    data = bytes(der)
    cert = expect(read_tlv(data, 0), SEQUENCE, "Certificate")
    if cert[2] != len(data):
        raise CertificateError("%d bytes after the certificate" % (len(data) - cert[2]))
    parts = children(data, cert[1], cert[2])
    if len(parts) != 3:
        raise CertificateError("a Certificate has 3 parts, this one %d" % len(parts))
    tbs = children(data, *expect(parts[0], SEQUENCE, "tbsCertificate")[1:])
    if tbs and tbs[0][0] == EXPLICIT_0:  # version
        tbs = tbs[1:]
    if len(tbs) < 6:
        raise CertificateError("tbsCertificate is too short (%d fields)" % len(tbs))
    serial = data[expect(tbs[0], INTEGER, "serialNumber")[1]:tbs[0][2]]
    expect(tbs[1], SEQUENCE, "signature algorithm")
    issuer = decode_name(data, *expect(tbs[2], SEQUENCE, "issuer")[1:])
    validity = children(data, *expect(tbs[3], SEQUENCE, "validity")[1:])
    if len(validity) != 2:
        raise CertificateError("validity has %d times, not 2" % len(validity))
    not_before, not_after = (decode_time(tag, data[start:end]) for tag, start, end in validity)
    subject = decode_name(data, *expect(tbs[4], SEQUENCE, "subject")[1:])

    def common_name(name):
        return next((value for key, value in name if key == "CN"), None)

    return {
        "subject": format_name(subject), "subject_cn": common_name(subject),
        "issuer": format_name(issuer), "issuer_cn": common_name(issuer),
        "serial": binascii.hexlify(serial).decode(), "not_before": not_before, "not_after": not_after,
    }


def pem_certificates(text):
    """The DER of every CERTIFICATE block of a PEM text (other blocks, such as keys, are skipped
    without being decoded)."""
    result = []
    for label, body in _PEM.findall(text):
        if label != "CERTIFICATE":
            continue
        try:
            result.append(base64.b64decode("".join(body.split()), validate=True))
        except (binascii.Error, ValueError):
            raise CertificateError("a CERTIFICATE block that is not base64")
    return result


def certificates_in(data):
    """Certificates in file content: PEM (any number of blocks) or one DER certificate."""
    if data[:1] == b"\x30":
        return [parse_certificate(data)]
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise CertificateError("neither PEM nor DER")
    blocks = pem_certificates(text)
    if not blocks:
        raise CertificateError("no CERTIFICATE block")
    return [parse_certificate(der) for der in blocks]
