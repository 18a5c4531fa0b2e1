# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site registry's CA and serving certificate, made and kept on the controller with
``cryptography`` (a requirement of ansible-core, so the collection needs no other collection).

    result = ensure(directory, "10.0.0.5", ["IP:10.0.0.5", "DNS:cp1"], check_mode=False)

Files in ``directory``: ca.key, ca.crt (ECDSA P-384, CA:TRUE pathlen:0, keyCertSign and cRLSign,
both critical) and registry.key, registry.crt (ECDSA P-256, serverAuth, the given names), signed
by the CA. The CA is never replaced once it exists: clusters trust it. The certificate is issued
again, with the same CA, when it is missing, does not match its key or the CA, names other
subject alternative names or expires within ``renew_before_days``. Everything is decided and made
in memory first; check mode then writes nothing. Private keys never leave this module except into
their files (written through a temporary file with mode 0600, then renamed).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import stat
import tempfile

CA_KEY, CA_CERT, KEY, CERT = "ca.key", "ca.crt", "registry.key", "registry.crt"
KEY_MODE, CERT_MODE, DIR_MODE = 0o600, 0o644, 0o700
CA_COMMON_NAME = "airgap.kubernetes registry CA"
# Certificates start a little in the past: a host whose clock is slightly behind the controller's
# (the node role accepts 60 s) must not see a certificate that is not valid yet.
BACKDATE = datetime.timedelta(minutes=5)
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


class PkiError(Exception):
    """A problem with the input or the kept files; the message says which and what to do."""


def _utc(value):
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def not_after(cert):
    """The end of a certificate's validity, timezone-aware (cryptography before 42 has no _utc)."""
    value = getattr(cert, "not_valid_after_utc", None)
    return value if value is not None else _utc(cert.not_valid_after)


def parse_sans(values):
    """``DNS:name`` and ``IP:address`` strings as x509 general names, in order, without repeats.

    Raises PkiError naming every value that is neither."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel  # an ansible-core requirement

    names, bad = [], []
    for value in values:
        kind, sep, rest = str(value).partition(":")
        kind = kind.strip().upper()
        rest = rest.strip()
        name = None
        if sep and kind == "IP":
            try:
                name = x509.IPAddress(ipaddress.ip_address(rest))
            except ValueError:
                pass
        elif sep and kind == "DNS" and _is_dns_name(rest):
            name = x509.DNSName(rest.lower())
        if name is None:
            bad.append(value)
        elif name not in names:
            names.append(name)
    if bad:
        raise PkiError("subject_alt_names: %s %s neither DNS:<name> nor IP:<address> (a DNS name is letters, "
                       "digits, '-' and '_' in dot-separated labels, optionally starting with '*.')"
                       % (", ".join(repr(v) for v in bad), "is" if len(bad) == 1 else "are"))
    if not names:
        raise PkiError("subject_alt_names is empty: the certificate needs the registry's address")
    return names


def _is_dns_name(value):
    if not value or len(value) > 253:
        return False
    labels = value[:-1].split(".") if value.endswith(".") else value.split(".")
    if labels[0] == "*" and len(labels) > 1:
        labels = labels[1:]
    return all(_LABEL.match(label) for label in labels) and not _is_ip(value)


def _is_ip(value):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def san_strings(names):
    """General names back as ``DNS:name`` / ``IP:address`` strings, sorted."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel

    return sorted(("IP:%s" if isinstance(n, x509.IPAddress) else "DNS:%s") % n.value for n in names)


def ensure(directory, common_name, subject_alt_names, check_mode=False, ca_common_name=CA_COMMON_NAME,
           valid_days=825, ca_valid_days=3650, renew_before_days=30, now=None):
    """Make what is missing or stale; returns the result (no key material). Raises PkiError."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel

    now = now or datetime.datetime.now(datetime.timezone.utc)
    _check_numbers(valid_days, ca_valid_days, renew_before_days)
    sans = parse_sans(subject_alt_names)
    subject = _name(x509, "common_name", common_name)
    ca_subject = _name(x509, "ca_common_name", ca_common_name)
    directory = os.path.abspath(directory)
    paths = {name: os.path.join(directory, name) for name in (CA_KEY, CA_CERT, KEY, CERT)}
    actions, writes, chmods = [], [], []

    if os.path.isdir(directory):
        if stat.S_IMODE(os.stat(directory).st_mode) != DIR_MODE:
            chmods.append((directory, DIR_MODE))
    elif os.path.exists(directory):
        raise PkiError("%s exists and is not a directory" % directory)
    else:
        actions.append("create the directory %s" % directory)

    # The CA: kept whenever it exists. A key without its certificate (a run stopped between the
    # two) gets a certificate again; a certificate without its key cannot sign anything.
    ca_key = _load_key(paths[CA_KEY], "the CA key", required=os.path.exists(paths[CA_CERT]), strict=True)
    ca_cert = _load_cert(paths[CA_CERT], "the CA certificate", strict=True)
    ca_created = False
    if ca_key is None:
        ca_key = ec.generate_private_key(ec.SECP384R1())
        writes.append((paths[CA_KEY], _private_bytes(ca_key), KEY_MODE))
        actions.append("create the CA key %s" % paths[CA_KEY])
    if ca_cert is None:
        ca_cert = _ca_certificate(ca_key, ca_subject, now, ca_valid_days)
        writes.append((paths[CA_CERT], _pem(ca_cert), CERT_MODE))
        actions.append("create the CA certificate %s" % paths[CA_CERT])
        ca_created = True
    else:
        _check_ca(ca_cert, ca_key, paths, now)
    warnings = []
    ca_expiry = not_after(ca_cert)
    if ca_expiry - now < datetime.timedelta(days=renew_before_days):
        warnings.append("the registry CA %s expires on %s; it is never replaced automatically: move %s and %s "
                        "away and run again to make a new one that every node then trusts"
                        % (paths[CA_CERT], ca_expiry.date(), paths[CA_KEY], paths[CA_CERT]))

    # The serving certificate's key: kept unless unreadable or not P-256.
    reasons = []
    key = _load_key(paths[KEY], "the registry key", required=False, strict=False)
    if key is None and os.path.exists(paths[KEY]):
        reasons.append("its key %s is unreadable" % paths[KEY])
    elif key is not None and not (isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"):
        reasons.append("its key %s is not an ECDSA P-256 key" % paths[KEY])
        key = None
    if key is None:
        key = ec.generate_private_key(ec.SECP256R1())
        writes.append((paths[KEY], _private_bytes(key), KEY_MODE))
        actions.append("create the registry key %s" % paths[KEY])

    cert = _load_cert(paths[CERT], "the registry certificate", strict=False)
    if cert is None:
        reasons.append("%s is %s" % (paths[CERT], "unreadable" if os.path.exists(paths[CERT]) else "missing"))
    else:
        reasons.extend(_stale(cert, key, ca_cert, subject, sans, now, renew_before_days))
    if reasons:
        cert = _leaf_certificate(key, subject, sans, ca_key, ca_cert, now, valid_days)
        writes.append((paths[CERT], _pem(cert), CERT_MODE))
        actions.append("issue the registry certificate %s (%s)" % (paths[CERT], "; ".join(reasons)))

    written = {path for path, _data, _mode in writes}
    for name, path in paths.items():
        want = KEY_MODE if name.endswith(".key") else CERT_MODE
        if path not in written and os.path.exists(path) and stat.S_IMODE(os.stat(path).st_mode) != want:
            chmods.append((path, want))
    actions.extend("set the mode of %s to %04o" % (path, mode) for path, mode in chmods)

    if not check_mode:
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=DIR_MODE)
            os.chmod(directory, DIR_MODE)
        for path, mode in chmods:
            os.chmod(path, mode)
        for path, data, mode in writes:
            atomic_write(path, data, mode)

    return {
        "changed": bool(actions),
        "actions": actions,
        "warnings": warnings,
        "ca": {"path": paths[CA_CERT], "key_path": paths[CA_KEY], "created": ca_created,
               "not_after": ca_expiry.isoformat(), "sha256_fingerprint": _fingerprint(ca_cert)},
        "certificate": {"path": paths[CERT], "key_path": paths[KEY], "issued": bool(reasons), "reasons": reasons,
                        "not_after": not_after(cert).isoformat(), "subject_alt_names": san_strings(sans),
                        "sha256_fingerprint": _fingerprint(cert)},
    }


def _check_numbers(valid_days, ca_valid_days, renew_before_days):
    for name, value in (("valid_days", valid_days), ("ca_valid_days", ca_valid_days)):
        if value < 1:
            raise PkiError("%s must be at least 1 (got %d)" % (name, value))
    if not 0 <= renew_before_days < valid_days:
        raise PkiError("renew_before_days must be at least 0 and less than valid_days (%d); got %d"
                       % (valid_days, renew_before_days))


def _name(x509, option, value):
    from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel

    if not value or len(value) > 64:
        raise PkiError("%s %r must be 1 to 64 characters (an X.509 common name)" % (option, value))
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, value)])


def _read(path):
    with open(path, "rb") as handle:
        return handle.read(1024 * 1024)


def _load_key(path, what, required, strict):
    """The unencrypted PEM private key at path, or None when it does not exist (and, unless strict,
    when it does not parse). ``required``: its absence is an error."""
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel

    if not os.path.exists(path):
        if required:
            raise PkiError("%s %s is missing but its certificate exists: it cannot sign. Restore the key, or move "
                           "the certificate away to make a new CA that every node then has to trust" % (what, path))
        return None
    try:
        return serialization.load_pem_private_key(_read(path), password=None)
    except (OSError, ValueError, TypeError) as exc:
        if not strict:
            return None
        # The exception's text names the format problem, never key material.
        raise PkiError("%s %s cannot be read as an unencrypted PEM private key (%s); it is never replaced: "
                       "restore it" % (what, path, type(exc).__name__)) from None


def _load_cert(path, what, strict):
    """The PEM certificate at path, or None when it does not exist (and, unless strict, when it
    does not parse)."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel

    if not os.path.exists(path):
        return None
    try:
        return x509.load_pem_x509_certificate(_read(path))
    except (OSError, ValueError) as exc:
        if not strict:
            return None
        raise PkiError("%s %s cannot be read as a PEM certificate (%s); it is never replaced: restore it"
                       % (what, path, exc)) from None


def _public_der(key):
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel

    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _check_ca(ca_cert, ca_key, paths, now):
    from cryptography import x509  # pylint: disable=import-outside-toplevel

    if _public_der(ca_cert.public_key()) != _public_der(ca_key.public_key()):
        raise PkiError("the CA certificate %s and the CA key %s do not belong together; restore the pair "
                       "(the CA is never replaced automatically)" % (paths[CA_CERT], paths[CA_KEY]))
    try:
        is_ca = ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise PkiError("%s is not a CA certificate (no basicConstraints CA:TRUE)" % paths[CA_CERT])
    if not_after(ca_cert) <= now:
        raise PkiError("the registry CA %s expired on %s; it is never replaced automatically: move %s and %s away "
                       "and run again to make a new one that every node then trusts"
                       % (paths[CA_CERT], not_after(ca_cert).date(), paths[CA_KEY], paths[CA_CERT]))


def _stale(cert, key, ca_cert, subject, sans, now, renew_before_days):
    """Why the kept certificate must be issued again (empty: it is fine)."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.exceptions import InvalidSignature  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import ExtendedKeyUsageOID  # pylint: disable=import-outside-toplevel

    reasons = []
    if _public_der(cert.public_key()) != _public_der(key.public_key()):
        reasons.append("it does not match its key")
    signed = cert.issuer == ca_cert.subject
    if signed:
        try:
            if hasattr(cert, "verify_directly_issued_by"):  # cryptography 40 and later
                cert.verify_directly_issued_by(ca_cert)
            else:
                ca_cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                            ec.ECDSA(cert.signature_hash_algorithm))
        except (InvalidSignature, TypeError, ValueError):
            signed = False
    if not signed:
        reasons.append("it is not signed by the CA")
    if cert.subject != subject:
        reasons.append("its subject is %s, not %s" % (cert.subject.rfc4514_string(), subject.rfc4514_string()))
    try:
        have = list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        have = []
    if san_strings(have) != san_strings(sans):
        reasons.append("its names %s are not %s"
                       % (", ".join(san_strings(have)) or "(none)", ", ".join(san_strings(sans))))
    try:
        usages = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = []
    if ExtendedKeyUsageOID.SERVER_AUTH not in usages:
        reasons.append("it lacks the serverAuth usage")
    expiry = not_after(cert)
    if expiry - now < datetime.timedelta(days=renew_before_days):
        reasons.append("it %s on %s (renewed %d days before)"
                       % ("expired" if expiry <= now else "expires", expiry.date(), renew_before_days))
    return reasons


def _ca_certificate(ca_key, ca_subject, now, days):
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes  # pylint: disable=import-outside-toplevel

    public = ca_key.public_key()
    builder = (x509.CertificateBuilder()
               .subject_name(ca_subject).issuer_name(ca_subject).public_key(public)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE).not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))
    return builder.sign(ca_key, hashes.SHA256())


def _leaf_certificate(key, subject, sans, ca_key, ca_cert, now, days):
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import ExtendedKeyUsageOID  # pylint: disable=import-outside-toplevel

    public = key.public_key()
    # Never past the CA's own end: a chain is only as valid as its CA.
    end = min(now + datetime.timedelta(days=days), not_after(ca_cert))
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(ca_cert.subject).public_key(public)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
               .add_extension(x509.SubjectAlternativeName(sans), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    return builder.sign(ca_key, hashes.SHA256())


def _private_bytes(key):
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem(cert):
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel

    return cert.public_bytes(serialization.Encoding.PEM)


def _fingerprint(cert):
    from cryptography.hazmat.primitives import hashes  # pylint: disable=import-outside-toplevel

    return cert.fingerprint(hashes.SHA256()).hex(":")


def atomic_write(path, data, mode):
    """Write data to path through a temporary file in the same directory (created 0600, then
    given ``mode``), renamed over path: a reader sees the old file or the new one, never a part."""
    directory = os.path.dirname(path)
    handle, temp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
