# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DER reader against real certificates made by openssl: RSA and EC, UTCTime and
GeneralizedTime, expired and not yet valid, UTF-8 names, PEM files with keys and chains, DER;
every date and name compared with what openssl itself prints."""

from __future__ import annotations

import datetime
import os
import subprocess

import pytest

from ansible_collections.airgap.kubernetes.plugins.module_utils import x509


def openssl(*args, cwd=None):
    return subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True).stdout


def self_signed(directory, name, key="rsa:2048", days="30", subject="/CN=kubernetes", extra=()):
    openssl("req", "-x509", "-newkey", key, "-nodes", "-days", days, "-keyout", os.path.join(directory, name + ".key"),
            "-out", os.path.join(directory, name + ".crt"), "-subj", subject, *extra)
    return os.path.join(directory, name + ".crt")


def dated(directory, name, start, end, subject):
    """A certificate with chosen dates, through `openssl ca` (openssl 3.0's req and x509 cannot set
    a start date)."""
    ca_dir = os.path.join(directory, "ca-" + name)
    os.makedirs(os.path.join(ca_dir, "new"))
    open(os.path.join(ca_dir, "index.txt"), "w").close()
    with open(os.path.join(ca_dir, "openssl.cnf"), "w", encoding="ascii") as handle:
        handle.write("[ca]\ndefault_ca = test\n[test]\ndir = %s\ndatabase = $dir/index.txt\nnew_certs_dir = $dir/new\n"
                     "serial = $dir/serial\ndefault_md = sha256\npolicy = any\nunique_subject = no\n"
                     "[any]\ncommonName = supplied\n" % ca_dir)
    with open(os.path.join(ca_dir, "serial"), "w", encoding="ascii") as handle:
        handle.write("1000\n")
    key = os.path.join(ca_dir, "key.pem")
    csr = os.path.join(ca_dir, "req.csr")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
            "-subj", subject)
    out = os.path.join(directory, name + ".crt")
    openssl("ca", "-batch", "-notext", "-config", os.path.join(ca_dir, "openssl.cnf"), "-selfsign", "-keyfile", key,
            "-in", csr, "-startdate", start, "-enddate", end, "-out", out)
    return out


def openssl_view(path):
    """What openssl says: notBefore, notAfter (aware datetimes), serial (lowercase hex)."""
    text = openssl("x509", "-in", path, "-noout", "-startdate", "-enddate", "-serial")
    fields = dict(line.split("=", 1) for line in text.splitlines())

    def when(value):
        return datetime.datetime.strptime(value, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=datetime.timezone.utc)

    return when(fields["notBefore"]), when(fields["notAfter"]), fields["serial"].lower()


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


@pytest.fixture(name="certs", scope="module")
def fixture_certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("x509"))
    return {
        "rsa": self_signed(d, "rsa", subject="/CN=kubernetes"),
        "ec": self_signed(d, "ec", key="ec", extra=("-pkeyopt", "ec_paramgen_curve:P-384"),
                          subject="/O=system:masters/CN=kubernetes-super-admin"),
        "generalized": self_signed(d, "generalized", days="20000", subject="/CN=etcd-ca"),
        "expired": dated(d, "expired", "19990101000000Z", "20000101000000Z", "/CN=expired-client"),
        "future": dated(d, "future", "20990101000000Z", "21000101120000Z", "/CN=not-yet"),
        "utf8": self_signed(d, "utf8", key="ec", extra=("-pkeyopt", "ec_paramgen_curve:P-256", "-utf8"),
                            subject="/O=Ünïcode/CN=nœud-ä"),
        "dir": d,
    }


@pytest.mark.parametrize("name", ["rsa", "ec", "generalized", "expired", "future", "utf8"])
def test_dates_and_serial_match_openssl(certs, name):
    found = x509.certificates_in(read(certs[name]))
    assert len(found) == 1
    not_before, not_after, serial = openssl_view(certs[name])
    assert (found[0]["not_before"], found[0]["not_after"]) == (not_before, not_after)
    assert found[0]["serial"].lstrip("0") == serial.lstrip("0")


def test_names_and_the_time_encodings(certs):
    expired = x509.certificates_in(read(certs["expired"]))[0]
    assert expired["not_before"].year == 1999 and expired["not_after"].year == 2000  # UTCTime, both centuries
    future = x509.certificates_in(read(certs["future"]))[0]
    assert future["not_after"] == datetime.datetime(2100, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)  # GeneralizedTime
    assert x509.certificates_in(read(certs["generalized"]))[0]["not_after"].year > 2050
    ec = x509.certificates_in(read(certs["ec"]))[0]
    assert ec["subject"] == "O=system:masters, CN=kubernetes-super-admin" and ec["subject_cn"] == "kubernetes-super-admin"
    assert ec["issuer"] == ec["subject"]
    utf8 = x509.certificates_in(read(certs["utf8"]))[0]
    assert utf8["subject"] == "O=Ünïcode, CN=nœud-ä"


def test_pem_with_a_key_and_a_chain_and_der(certs, tmp_path):
    key = read(os.path.join(certs["dir"], "ec.key"))
    bundle = tmp_path / "kubelet-client-current.pem"
    bundle.write_bytes(read(certs["ec"]) + key + read(certs["rsa"]))
    found = x509.certificates_in(bundle.read_bytes())
    assert [c["subject_cn"] for c in found] == ["kubernetes-super-admin", "kubernetes"]
    der = tmp_path / "rsa.der"
    openssl("x509", "-in", certs["rsa"], "-outform", "der", "-out", str(der))
    assert x509.certificates_in(der.read_bytes()) == x509.certificates_in(read(certs["rsa"]))


def der_of(certs, name):
    return x509.pem_certificates(read(certs[name]).decode())[0]


@pytest.mark.parametrize("mangle, message", [
    (lambda d: d[:100], "longer|truncated"),
    (lambda d: d + b"\x00\x00", "bytes after the certificate"),
    (lambda d: b"\x30\x80" + d[2:], "indefinite length"),
    (lambda d: b"\x31" + d[1:], "expected tag 0x30"),
    (lambda d: b"", "truncated DER"),
])
def test_broken_der_is_refused_with_where_it_stopped(certs, mangle, message):
    with pytest.raises(x509.CertificateError, match=message):
        x509.parse_certificate(mangle(der_of(certs, "rsa")))


@pytest.mark.parametrize("data, message", [
    (b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", "no CERTIFICATE block"),
    (b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "not base64"),
    (b"\xff\xfe binary", "neither PEM nor DER"),
    (b"just text", "no CERTIFICATE block"),
])
def test_files_without_a_certificate_are_refused(data, message):
    with pytest.raises(x509.CertificateError, match=message):
        x509.certificates_in(data)


def test_object_identifiers():
    assert x509.decode_oid(bytes([0x55, 0x04, 0x03])) == "2.5.4.3"
    assert x509.decode_oid(bytes([0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B])) == "1.2.840.113549.1.1.11"
    assert x509.decode_oid(bytes([0x88, 0x37, 0x03])) == "2.999.3"
    with pytest.raises(x509.CertificateError, match="truncated"):
        x509.decode_oid(bytes([0x55, 0x84]))
