# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""registry_pki: the registry's CA and certificate, made once, kept, re-issued only when stale."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import stat
import subprocess
from unittest.mock import MagicMock

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible.parsing.dataloader import DataLoader
from ansible_collections.airgap.kubernetes.plugins.action.registry_pki import ActionModule
from ansible_collections.airgap.kubernetes.plugins.plugin_utils import pki

SANS = ["IP:10.0.0.5", "DNS:cp1", "DNS:localhost", "IP:127.0.0.1"]
FILES = ("ca.key", "ca.crt", "registry.key", "registry.crt")


def run_action(args, check_mode=False):
    task = MagicMock(args=args, async_val=0, check_mode=check_mode, diff=False)
    action = ActionModule(task, MagicMock(), MagicMock(), DataLoader(), MagicMock(), MagicMock())
    return action.run(task_vars={})


def args_for(directory, sans=None, **extra):
    return dict({"path": str(directory), "common_name": "10.0.0.5", "subject_alt_names": sans or SANS}, **extra)


def snapshot(directory):
    return {name: (directory / name).read_bytes() for name in FILES if (directory / name).exists()}


def cert(directory, name):
    return x509.load_pem_x509_certificate((directory / name).read_bytes())


def key(directory, name):
    return serialization.load_pem_private_key((directory / name).read_bytes(), password=None)


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def sans_of(certificate):
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(("IP:%s" if isinstance(n, x509.IPAddress) else "DNS:%s") % n.value for n in names)


def days(certificate):
    return (pki.not_after(certificate) - datetime.datetime.now(datetime.timezone.utc)).days


def assert_no_key_material(result, directory):
    text = json.dumps(result)
    assert "PRIVATE KEY" not in text
    for name in ("ca.key", "registry.key"):
        body = (directory / name).read_text().splitlines()[1]
        assert body not in text


def test_fresh_run_makes_the_ca_and_the_certificate(tmp_path):
    directory = tmp_path / "pki"
    result = run_action(args_for(directory))
    assert result["changed"] is True and not result.get("failed"), result
    assert mode(directory) == 0o700
    assert [mode(directory / n) for n in FILES] == [0o600, 0o644, 0o600, 0o644]
    assert not [n for n in os.listdir(str(directory)) if n.startswith(".")], "temporary files left behind"

    ca, leaf = cert(directory, "ca.crt"), cert(directory, "registry.crt")
    assert key(directory, "ca.key").curve.name == "secp384r1"
    assert key(directory, "registry.key").curve.name == "secp256r1"
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert ca.subject.rfc4514_string() == "CN=airgap.kubernetes registry CA" == ca.issuer.rfc4514_string()
    assert 3649 <= days(ca) <= 3650
    assert 824 <= days(leaf) <= 825
    assert leaf.subject.rfc4514_string() == "CN=10.0.0.5"
    assert sans_of(leaf) == sorted(SANS)
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH]
    leaf.verify_directly_issued_by(ca)
    assert result["ca"]["created"] and result["certificate"]["issued"]
    assert result["certificate"]["subject_alt_names"] == sorted(SANS)
    assert_no_key_material(result, directory)


def test_second_run_changes_nothing(tmp_path):
    directory = tmp_path / "pki"
    run_action(args_for(directory))
    before = snapshot(directory)
    result = run_action(args_for(directory))
    assert result["changed"] is False and result["actions"] == [], result
    assert not result["ca"]["created"] and not result["certificate"]["issued"]
    assert snapshot(directory) == before
    assert "kept" in result["msg"]


def test_other_names_reissue_the_certificate_with_the_same_ca_and_key(tmp_path):
    directory = tmp_path / "pki"
    run_action(args_for(directory))
    before = snapshot(directory)
    result = run_action(args_for(directory, sans=SANS + ["DNS:registry.example.org"]))
    assert result["changed"] is True and result["certificate"]["issued"], result
    after = snapshot(directory)
    assert {n for n in FILES if before[n] != after[n]} == {"registry.crt"}
    assert "DNS:registry.example.org" in sans_of(cert(directory, "registry.crt"))
    assert any("its names" in reason for reason in result["certificate"]["reasons"])
    cert(directory, "registry.crt").verify_directly_issued_by(cert(directory, "ca.crt"))
    assert run_action(args_for(directory, sans=SANS + ["DNS:registry.example.org"]))["changed"] is False


def test_a_certificate_near_its_end_is_reissued_and_the_ca_kept(tmp_path):
    directory = tmp_path / "pki"
    run_action(args_for(directory, valid_days=10, renew_before_days=5))
    assert days(cert(directory, "registry.crt")) in (9, 10)
    before = snapshot(directory)
    result = run_action(args_for(directory))  # renew_before_days 30 > 10 days left
    assert result["changed"] is True, result
    assert any("expires on" in reason for reason in result["certificate"]["reasons"]), result
    after = snapshot(directory)
    assert after["ca.crt"] == before["ca.crt"] and after["ca.key"] == before["ca.key"]
    assert after["registry.crt"] != before["registry.crt"]
    assert days(cert(directory, "registry.crt")) >= 824


def test_time_passing_reissues_the_certificate_then_warns_about_the_ca(tmp_path):
    directory = str(tmp_path / "pki")
    now = datetime.datetime.now(datetime.timezone.utc)
    pki.ensure(directory, "10.0.0.5", SANS, now=now)
    assert pki.ensure(directory, "10.0.0.5", SANS, now=now + datetime.timedelta(days=794))["changed"] is False
    later = pki.ensure(directory, "10.0.0.5", SANS, now=now + datetime.timedelta(days=796))
    assert later["certificate"]["issued"] and not later["ca"]["created"] and later["warnings"] == []
    near_ca_end = pki.ensure(directory, "10.0.0.5", SANS, now=now + datetime.timedelta(days=3640))
    assert near_ca_end["certificate"]["issued"] and not near_ca_end["ca"]["created"]
    assert "never replaced automatically" in near_ca_end["warnings"][0]
    # The certificate never outlives its CA.
    assert near_ca_end["certificate"]["not_after"] == near_ca_end["ca"]["not_after"]
    with pytest.raises(pki.PkiError, match="expired on"):
        pki.ensure(directory, "10.0.0.5", SANS, now=now + datetime.timedelta(days=3651))


def test_check_mode_writes_nothing(tmp_path):
    directory = tmp_path / "pki"
    result = run_action(args_for(directory), check_mode=True)
    assert result["changed"] is True and not result.get("failed"), result
    assert not directory.exists()
    assert result["msg"].startswith("would create the directory")
    assert len(result["actions"]) == 5

    run_action(args_for(directory))
    before = snapshot(directory)
    (directory / "registry.key").chmod(0o644)
    result = run_action(args_for(directory, sans=["IP:10.0.0.6"]), check_mode=True)
    assert result["changed"] is True and result["certificate"]["issued"], result
    assert snapshot(directory) == before
    assert mode(directory / "registry.key") == 0o644
    assert any("set the mode of" in action for action in result["actions"])


def test_modes_are_corrected(tmp_path):
    directory = tmp_path / "pki"
    run_action(args_for(directory))
    (directory / "registry.key").chmod(0o644)
    directory.chmod(0o755)
    result = run_action(args_for(directory))
    assert result["changed"] is True and not result["certificate"]["issued"], result
    assert mode(directory / "registry.key") == 0o600 and mode(directory) == 0o700


@pytest.mark.parametrize("bad", ["registry.example.org", "URI:https://x", "IP:10.0.0.300", "DNS:two words",
                                 "DNS:-dash.example", "DNS:"])
def test_a_name_neither_ip_nor_dns_is_refused_naming_it(tmp_path, bad):
    directory = tmp_path / "pki"
    result = run_action(args_for(directory, sans=SANS + [bad]))
    assert result["failed"] is True
    assert repr(bad) in result["msg"] and "neither DNS:<name> nor IP:<address>" in result["msg"], result["msg"]
    assert not directory.exists()


def test_the_ca_is_never_replaced(tmp_path):
    directory = tmp_path / "pki"
    run_action(args_for(directory))
    ca = (directory / "ca.crt").read_bytes()
    (directory / "ca.key").unlink()
    result = run_action(args_for(directory))
    assert result["failed"] is True and "ca.key is missing" in result["msg"], result
    assert (directory / "ca.crt").read_bytes() == ca and not (directory / "ca.key").exists()

    (directory / "ca.key").write_text("not a key\n")
    result = run_action(args_for(directory))
    assert result["failed"] is True and "never replaced" in result["msg"], result
    assert "not a key" in (directory / "ca.key").read_text()


def test_a_ca_key_without_its_certificate_gets_one_with_the_same_key(tmp_path):
    directory = tmp_path / "pki"
    run_action(args_for(directory))
    ca_key = (directory / "ca.key").read_bytes()
    (directory / "ca.crt").unlink()
    result = run_action(args_for(directory))
    # Same key, same subject: the certificate it signed before is still its own.
    assert result["ca"]["created"] and not result["certificate"]["issued"], result
    assert (directory / "ca.key").read_bytes() == ca_key
    cert(directory, "registry.crt").verify_directly_issued_by(cert(directory, "ca.crt"))


def test_a_certificate_from_another_ca_or_for_another_key_is_reissued(tmp_path):
    directory, other = tmp_path / "pki", tmp_path / "other"
    run_action(args_for(directory))
    run_action(args_for(other))
    (directory / "registry.crt").write_bytes((other / "registry.crt").read_bytes())
    result = run_action(args_for(directory))
    assert set(result["certificate"]["reasons"]) == {"it does not match its key", "it is not signed by the CA"}
    cert(directory, "registry.crt").verify_directly_issued_by(cert(directory, "ca.crt"))

    (directory / "registry.key").write_bytes(ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    result = run_action(args_for(directory))
    assert "is not an ECDSA P-256 key" in result["certificate"]["reasons"][0], result
    assert key(directory, "registry.key").curve.name == "secp256r1"


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_files_from_earlier_versions_are_kept(tmp_path):
    """What community.crypto made before (EC keys in the traditional format, the CSRs next to
    them) is kept as it is: an existing site's nodes keep trusting its CA."""
    directory = tmp_path / "pki"
    directory.mkdir(mode=0o700)

    def path(name):
        return str(directory / name)

    openssl("ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", path("ca.key"))
    openssl("req", "-new", "-x509", "-key", path("ca.key"), "-days", "3650", "-out", path("ca.crt"),
            "-subj", "/CN=airgap.kubernetes registry CA", "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path("registry.key"))
    openssl("req", "-new", "-key", path("registry.key"), "-out", path("registry.csr"), "-subj", "/CN=10.0.0.5")
    (directory / "ext").write_text("subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % ",".join(SANS))
    openssl("x509", "-req", "-in", path("registry.csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
            "-CAcreateserial", "-days", "825", "-out", path("registry.crt"), "-extfile", path("ext"))
    for name, file_mode in zip(FILES, (0o600, 0o644, 0o600, 0o644)):
        (directory / name).chmod(file_mode)
    before = snapshot(directory)
    result = run_action(args_for(directory))
    assert result["changed"] is False, result
    assert snapshot(directory) == before and (directory / "registry.csr").exists()


def test_parse_sans_normalises_and_drops_repeats():
    names = pki.parse_sans(["IP:10.0.0.5", "ip:10.0.0.5", "DNS:CP1", "IP:::1", "DNS:*.apps.example"])
    assert names == [x509.IPAddress(ipaddress.ip_address("10.0.0.5")), x509.DNSName("cp1"),
                     x509.IPAddress(ipaddress.ip_address("::1")), x509.DNSName("*.apps.example")]
    with pytest.raises(pki.PkiError, match="is empty"):
        pki.parse_sans([])
