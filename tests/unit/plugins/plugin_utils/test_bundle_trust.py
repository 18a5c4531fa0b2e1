# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The air-gapped side trusts only a bundle it can verify itself (issue 12): the bundle's
checksum file is signed on the connected side with the user's key and checked against
bundle.publicKey before the archive is read, and every member of the archive is held to a strict
policy, whoever signed it."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import os
import subprocess
import tarfile
import threading

import pytest

from ssh_key import SshKey
from ansible_collections.airgap.kubernetes.plugins.plugin_utils import bundle
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import check

NAME = "demo-bundle-v1.37.2-amd64.tar"
KUBELET = b"kubelet binary"


@pytest.fixture(name="keys", scope="module")
def fixture_keys(tmp_path_factory):
    """The user's signing key, a stranger's, and the user's key behind a passphrase."""
    directory = tmp_path_factory.mktemp("keys")
    return {"user": SshKey(directory, "user"), "stranger": SshKey(directory, "stranger"),
            "locked": SshKey(directory, "locked", passphrase="correct horse")}


@pytest.fixture(name="upstream")
def fixture_upstream(tmp_path):
    """A loopback file server with a kubelet and its checksum; ``requests`` counts what it served."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "kubelet").write_bytes(KUBELET)
    (root / "kubelet.sha256").write_text(hashlib.sha256(KUBELET).hexdigest())
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # pylint: disable=arguments-differ
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = "http://127.0.0.1:%d" % server.server_address[1]
    yield {"requests": requests, "plan": {"images": [], "cni": None, "files": [{
        "name": "kubelet", "version": "v1.37.2", "arch": "amd64", "file": "kubelet", "url": url + "/kubelet",
        "checksum_url": url + "/kubelet.sha256", "sha256": None}]}}
    server.shutdown()
    server.server_close()


@pytest.fixture(name="signed")
def fixture_signed(upstream, keys, tmp_path):
    """A good bundle signed with the user's key: the build result."""
    return bundle.build(upstream["plan"], str(tmp_path / "bundle"), "demo", "v1.37.2", cache=str(tmp_path / "cache"),
                        signing_key=keys["user"].private)


def verify(archive, key, **kwargs):
    return bundle.verify(archive, public_key=key.public if key else None, cluster_file="/site/cluster.yml", **kwargs)


# -- the signature ----------------------------------------------------------------------------

def test_a_good_signed_bundle_passes_naming_its_signer(signed, keys):
    assert signed["signature_path"] == signed["archive"] + ".sha256.sig"
    assert signed["signed_by"] == keys["user"].fingerprint
    assert bundle.summary(signed).endswith("; signed by %s" % keys["user"].fingerprint)
    verified = verify(signed["archive"], keys["user"])
    assert verified.problems == [] and verified.warnings == []
    assert verified.signer == keys["user"].fingerprint and verified.bom["files"][0]["name"] == "kubelet"


def test_an_unsigned_bundle_is_refused_naming_the_signature_and_the_settings(signed, keys):
    os.unlink(signed["signature_path"])
    assert verify(signed["archive"], keys["user"]).problems == [
        "%s: its signature %s.sha256.sig is missing: sign the bundle on the connected side (-e bundle_signing_key=KEY "
        "with the airgap.kubernetes.bundle playbook) and carry the .sig file with it, or set bundle.allowUnsigned: "
        "true in /site/cluster.yml to accept an unsigned bundle" % (NAME, NAME)]


def test_a_cluster_file_without_a_public_key_refuses_the_bundle(signed):
    assert verify(signed["archive"], None).problems == [
        "%s: bundle.publicKey is not set in /site/cluster.yml, so nothing proves who built the bundle: set it to the "
        "public half (.pub) of the key the bundle is signed with (-e bundle_signing_key=KEY with the "
        "airgap.kubernetes.bundle playbook), or set bundle.allowUnsigned: true to accept an unsigned bundle" % NAME]


def test_a_signature_by_another_key_is_refused_naming_both_keys(signed, keys):
    keys["stranger"].sign_file(signed["archive"] + ".sha256")
    assert verify(signed["archive"], keys["user"]).problems == [
        "%s.sha256.sig: signed by the key %s, not by the key bundle.publicKey names in /site/cluster.yml (%s, %s): "
        "the bundle comes from someone else. Rebuild and sign it with the trusted key, or, if you trust %s, point "
        "bundle.publicKey at its public half" % (NAME, keys["stranger"].fingerprint, keys["user"].public,
                                                 keys["user"].fingerprint, keys["stranger"].fingerprint)]


def rewrite(archive, change):
    """Rewrite the archive member by member through ``change(name, data) -> data``, as someone who
    edits a bundle without the key would, and write its checksum file anew."""
    members = []
    with tarfile.open(archive) as tar:
        for member in tar:
            members.append((member, tar.extractfile(member).read()))
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for member, data in members:
            data = change(member.name, data)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    with open(archive + ".sha256", "w", encoding="utf-8") as handle:
        handle.write("%s  %s\n" % (bundle.sha256_file(archive), os.path.basename(archive)))


def test_a_bundle_edited_with_its_bom_and_checksum_but_without_the_key_is_refused(signed, keys):
    """A new kubelet, the BOM inside and the sidecar BOM edited to match it, the checksum file
    written anew: everything agrees, except the signature."""
    evil = b"another kubelet"

    def change(name, data):
        if name == "files/kubelet/kubelet":
            return evil
        if name == "bom.json":
            bom = json.loads(data)
            bom["files"][0]["sha256"] = hashlib.sha256(evil).hexdigest()
            return json.dumps(bom).encode()
        return data

    rewrite(signed["archive"], change)
    with open(signed["bom_path"], encoding="utf-8") as handle:
        sidecar = json.load(handle)
    sidecar["files"][0]["sha256"] = hashlib.sha256(evil).hexdigest()
    with open(signed["bom_path"], "w", encoding="utf-8") as handle:
        json.dump(sidecar, handle)
    # Without the signature check, nothing would be wrong with it.
    assert verify(signed["archive"], None, allow_unsigned=True).problems == []
    assert verify(signed["archive"], keys["user"]).problems == [
        "%s.sha256.sig: the signature does not verify over %s.sha256 (Signature verification failed: incorrect "
        "signature): the checksum file was changed after it was signed, or the signature is another file's. Take "
        "both again from the connected side, where the bundle playbook signs them (-e bundle_signing_key=KEY with "
        "the airgap.kubernetes.bundle playbook)" % (NAME, NAME)]


def test_a_signature_made_for_something_else_is_refused(signed, keys):
    """The user's own key, signing the same file for another purpose (ssh-keygen's file namespace)."""
    keys["user"].sign_file(signed["archive"] + ".sha256", namespace="file")
    problems = verify(signed["archive"], keys["user"]).problems
    assert problems == ["%s.sha256.sig: the signature does not verify over %s.sha256 (Couldn't verify signature: "
                        "namespace does not match): the checksum file was changed after it was signed, or the "
                        "signature is another file's. Take both again from the connected side, where the bundle "
                        "playbook signs them (-e bundle_signing_key=KEY with the airgap.kubernetes.bundle playbook)"
                        % (NAME, NAME)]


def test_the_signature_is_checked_before_the_archive_is_read(signed, keys, monkeypatch):
    with open(signed["archive"], "r+b") as handle:
        handle.truncate(100)
    keys["stranger"].sign_file(signed["archive"] + ".sha256")
    monkeypatch.setattr(bundle, "sha256_file", lambda *a: pytest.fail("the archive was hashed"))
    monkeypatch.setattr(tarfile, "open", lambda *a, **k: pytest.fail("the archive was opened"))
    problems = verify(signed["archive"], keys["user"]).problems
    assert len(problems) == 1 and "signed by the key %s" % keys["stranger"].fingerprint in problems[0]


def test_allow_unsigned_passes_an_unsigned_bundle_with_a_warning(signed):
    os.unlink(signed["signature_path"])
    verified = verify(signed["archive"], None, allow_unsigned=True)
    assert verified.problems == [] and verified.signer is None
    assert verified.warnings == [
        "%s is NOT SIGNED and bundle.allowUnsigned is true in /site/cluster.yml: nothing proves who built it, its "
        "checksum only shows that it arrived as written. Sign bundles (-e bundle_signing_key=KEY with the "
        "airgap.kubernetes.bundle playbook) and set bundle.publicKey instead" % NAME]


def test_allow_unsigned_does_not_let_a_bad_signature_through(signed, keys):
    keys["stranger"].sign_file(signed["archive"] + ".sha256")
    verified = verify(signed["archive"], keys["user"], allow_unsigned=True)
    assert len(verified.problems) == 1 and "signed by the key %s" % keys["stranger"].fingerprint in verified.problems[0]


def test_a_public_key_setting_naming_the_private_key_is_refused(signed, keys, tmp_path):
    key_file = tmp_path / "cluster" / "bundle-signing.pub"
    key_file.parent.mkdir()
    with open(keys["user"].private, "rb") as handle:
        key_file.write_bytes(handle.read())
    problems = bundle.verify(signed["archive"], public_key=str(key_file)).problems
    assert problems == ["bundle.publicKey %s: it is a private key: name its public half (the .pub file) instead; the "
                        "private key stays on the connected side" % key_file]
    # The cluster file's validation says so first.
    host = {"name": "cp1", "address": "192.0.2.11", "roles": ["control_plane", "worker", "registry"]}
    config = {"apiVersion": "airgap.kubernetes/v1alpha1", "kind": "Cluster", "plugin": "airgap.kubernetes.cluster",
              "name": "demo", "hosts": [host], "bundle": {"publicKey": "bundle-signing.pub"}}
    assert check(config, base_dir=str(key_file.parent))[1] == [
        "bundle.publicKey: %s is a private key; name its public half (the .pub file): the private key stays on the "
        "connected side" % key_file]
    config["bundle"]["publicKey"] = "missing.pub"
    assert check(config, base_dir=str(key_file.parent))[1] == [
        "bundle.publicKey: file %s does not exist" % (key_file.parent / "missing.pub")]


def test_several_keys_in_the_public_key_file_are_each_trusted(signed, keys, tmp_path):
    both = tmp_path / "trusted.pub"
    with open(keys["stranger"].public, encoding="utf-8") as one, open(keys["user"].public, encoding="utf-8") as two:
        both.write_text("# the old key and the new one\n" + one.read() + two.read())
    verified = bundle.verify(signed["archive"], public_key=str(both))
    assert verified.problems == [] and verified.signer == keys["user"].fingerprint


# -- the members of the archive ----------------------------------------------------------------

def member(name, kind=tarfile.REGTYPE, data=b"", linkname="", mode=0o644, uid=0, uname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.uid, info.uname, info.size = kind, linkname, mode, uid, uname, len(data)
    if kind == tarfile.CHRTYPE:
        info.devmajor, info.devminor = 1, 3
    return info, data


def add_members(archive, extra, signer, replace=None):
    """The archive with ``extra`` members added after its own (``replace`` maps a member name to the
    TarInfo fields that change), its checksum file written anew and signed by ``signer``: a signed
    bundle whose signer was tricked or careless. The member policy must still hold."""
    members = []
    with tarfile.open(archive) as tar:
        for info in tar:
            for field, value in (replace or {}).get(info.name, {}).items():
                setattr(info, field, value)
            members.append((info, tar.extractfile(info).read()))
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members + list(extra):
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    with open(archive + ".sha256", "w", encoding="utf-8") as handle:
        handle.write("%s  %s\n" % (bundle.sha256_file(archive), os.path.basename(archive)))
    signer.sign_file(archive + ".sha256")


def test_the_archive_of_issue_12_is_refused_naming_each_member(signed, keys):
    """A second files/kubelet/kubelet that is a symlink, a device node and a hard link passed the
    preflight with 0 problems."""
    add_members(signed["archive"], [
        member("files/kubelet/kubelet", tarfile.SYMTYPE, linkname="/usr/bin/kubelet"),
        member("files/null", tarfile.CHRTYPE),
        member("files/kubelet/kubectl", tarfile.LNKTYPE, linkname="files/kubelet/kubelet"),
    ], keys["user"])
    assert verify(signed["archive"], keys["user"]).problems == [
        "%s: member files/kubelet/kubelet is a symbolic link (to /usr/bin/kubelet)" % NAME,
        "%s: member files/kubelet/kubelet appears more than once in the archive" % NAME,
        "%s: member files/null is a device node" % NAME,
        "%s: member files/kubelet/kubectl is a hard link (to files/kubelet/kubelet)" % NAME,
    ]


@pytest.mark.parametrize("extra, replace, expected", [
    ([member("files/kubelet/kubelet", data=KUBELET)], None,
     ["member files/kubelet/kubelet appears more than once in the archive"]),
    ([member("files/../../etc/cron.d/kubelet", data=b"* * * * * root sh\n")], None,
     ["member files/../../etc/cron.d/kubelet has a '..' component"]),
    ([member("/etc/cron.d/kubelet", data=b"* * * * * root sh\n")], None,
     ["member /etc/cron.d/kubelet has an absolute path",
      "member /etc/cron.d/kubelet is outside bom.json, files/ and images/"]),
    ([member("etc/passwd", data=b"root::0:0::/:/bin/sh\n")], None,
     ["member etc/passwd is outside bom.json, files/ and images/"]),
    ([member("files/pipe", tarfile.FIFOTYPE)], None, ["member files/pipe is a FIFO"]),
    ([], {"files/kubelet/kubelet": {"mode": 0o4755}},
     ["member files/kubelet/kubelet has set-user-ID, set-group-ID or sticky bits (mode 4755)"]),
    ([], {"files/kubelet/kubelet": {"mode": 0o777}},
     ["member files/kubelet/kubelet is world-writable (mode 0777)"]),
    ([], {"files/kubelet/kubelet": {"uid": 1000, "uname": "mallory"}},
     ["member files/kubelet/kubelet is owned by mallory:- (uid 1000, gid 0), not root"]),
], ids=["duplicate", "dotdot", "absolute", "outside", "fifo", "setuid", "world-writable", "owner"])
def test_a_member_outside_the_policy_is_refused_naming_it(signed, keys, extra, replace, expected):
    add_members(signed["archive"], extra, keys["user"], replace)
    verified = verify(signed["archive"], keys["user"])
    assert verified.problems == ["%s: %s" % (NAME, problem) for problem in expected]


def test_a_changed_byte_is_refused_naming_the_file(signed, keys):
    with tarfile.open(signed["archive"]) as tar:
        offset = tar.getmember("files/kubelet/kubelet").offset_data
    with open(signed["archive"], "r+b") as handle:
        handle.seek(offset)
        handle.write(b"K")
    assert verify(signed["archive"], keys["user"]).problems == [
        "%s: sha256 is %s, %s.sha256 says %s (the archive changed or is incomplete)"
        % (NAME, bundle.sha256_file(signed["archive"]), NAME, signed["sha256"]),
        "%s: file files/kubelet/kubelet has sha256 %s, the BOM says %s"
        % (NAME, hashlib.sha256(b"K" + KUBELET[1:]).hexdigest(), hashlib.sha256(KUBELET).hexdigest()),
    ]


@pytest.mark.parametrize("extra, culprit", [
    (member("files/kubelet/kubelet", tarfile.SYMTYPE, linkname="/etc/shadow"),
     "files/kubelet/kubelet is a symbolic link (to /etc/shadow); appears more than once in the archive"),
    (member("files/../escaped", data=b"x"), "files/../escaped has a '..' component"),
], ids=["symlink", "dotdot"])
def test_unpacking_holds_every_member_to_the_policy_again(signed, keys, tmp_path, extra, culprit):
    """prepare() unpacks only what verify() passed, but reads the archive anew: the unpacking
    refuses on its own what verify refuses, and writes nothing outside its directory."""
    add_members(signed["archive"], [extra], keys["user"])
    dest = tmp_path / "unpack" / "here"
    dest.mkdir(parents=True)
    with pytest.raises(bundle.BundleError) as caught:
        bundle._unpack(signed["archive"], str(dest))  # pylint: disable=protected-access
    assert str(caught.value) == "%s: member %s" % (NAME, culprit)
    assert not (tmp_path / "unpack" / "escaped").exists()


def test_unpacking_sets_no_owner_or_set_id_bits(signed, tmp_path):
    with tarfile.open(signed["archive"]) as tar:
        assert tar.getmember("files/kubelet/kubelet").mode == 0o755
    bundle._unpack(signed["archive"], str(tmp_path))  # pylint: disable=protected-access
    info = os.stat(tmp_path / "files" / "kubelet" / "kubelet")
    assert info.st_mode & 0o7777 == 0o755 and info.st_uid == os.getuid()


# -- the connected side: signing --------------------------------------------------------------

def test_a_rebuild_keeps_a_good_signature_and_an_unsigned_rebuild_drops_a_stale_one(signed, upstream, keys, tmp_path):
    with open(signed["signature_path"], "rb") as handle:
        signature = handle.read()
    again = bundle.build(upstream["plan"], os.path.dirname(signed["archive"]), "demo", "v1.37.2",
                         cache=str(tmp_path / "cache"), signing_key=keys["user"].private)
    assert not again["changed"] and again["signed_by"] == keys["user"].fingerprint
    with open(again["signature_path"], "rb") as handle:
        assert handle.read() == signature
    # Signing an unchanged bundle with another key is a change.
    other = bundle.build(upstream["plan"], os.path.dirname(signed["archive"]), "demo", "v1.37.2",
                         cache=str(tmp_path / "cache"), signing_key=keys["stranger"].private)
    assert other["changed"] and other["signed_by"] == keys["stranger"].fingerprint
    # A new archive never keeps an older archive's signature.
    unsigned = bundle.build(upstream["plan"], os.path.dirname(signed["archive"]), "demo", "v1.37.2",
                            cache=str(tmp_path / "cache"), force=True)
    assert unsigned["signature_path"] is None and unsigned["signed_by"] is None
    assert not os.path.exists(signed["archive"] + ".sha256.sig")
    assert bundle.summary(unsigned).endswith("; NOT SIGNED")


def test_a_key_behind_a_passphrase_fails_before_any_download(upstream, keys, tmp_path):
    locked = keys["locked"].private
    with pytest.raises(bundle.BundleError) as caught:
        bundle.build(upstream["plan"], str(tmp_path / "bundle"), "demo", "v1.37.2", cache=str(tmp_path / "cache"),
                     signing_key=locked)
    assert str(caught.value) == (
        "the signing key %s is protected by a passphrase and ssh-agent does not hold it: run ssh-add %s first (the "
        "collection never asks for a passphrase)" % (locked, locked))
    assert "correct horse" not in str(caught.value)
    assert upstream["requests"] == [] and not (tmp_path / "bundle").exists()


def test_a_key_behind_a_passphrase_signs_through_ssh_agent(upstream, keys, tmp_path, monkeypatch):
    agent = subprocess.run(["ssh-agent", "-s", "-a", str(tmp_path / "agent.sock")], check=True, capture_output=True,
                           text=True).stdout
    pid = int(agent.split("SSH_AGENT_PID=", 1)[1].split(";", 1)[0])
    try:
        askpass = tmp_path / "askpass"
        askpass.write_text("#!/bin/sh\necho 'correct horse'\n")
        askpass.chmod(0o700)
        env = dict(os.environ, SSH_AUTH_SOCK=str(tmp_path / "agent.sock"), SSH_ASKPASS=str(askpass),
                   SSH_ASKPASS_REQUIRE="force", DISPLAY="none")
        subprocess.run(["ssh-add", keys["locked"].private], env=env, check=True, capture_output=True,
                       stdin=subprocess.DEVNULL)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "agent.sock"))
        built = bundle.build(upstream["plan"], str(tmp_path / "bundle"), "demo", "v1.37.2",
                             cache=str(tmp_path / "cache"), signing_key=keys["locked"].private)
    finally:
        os.kill(pid, 15)
    assert built["signed_by"] == keys["locked"].fingerprint
    assert verify(built["archive"], keys["locked"]).problems == []


def test_a_signing_key_the_air_gapped_side_would_not_trust_fails_before_any_download(upstream, keys, tmp_path):
    with pytest.raises(bundle.BundleError) as caught:
        bundle.build(upstream["plan"], str(tmp_path / "bundle"), "demo", "v1.37.2", cache=str(tmp_path / "cache"),
                     signing_key=keys["stranger"].private, public_key=keys["user"].public)
    assert str(caught.value) == (
        "the signing key %s (%s) is not the key in bundle.publicKey %s (%s): the air-gapped side would refuse the "
        "bundle. Sign with that key's private half, or set bundle.publicKey to %s.pub"
        % (keys["stranger"].private, keys["stranger"].fingerprint, keys["user"].public, keys["user"].fingerprint,
           keys["stranger"].private))
    assert upstream["requests"] == [] and not (tmp_path / "bundle").exists()


def test_a_missing_signing_key_is_named(upstream, tmp_path):
    with pytest.raises(bundle.BundleError, match="^the signing key %s does not exist$" % (tmp_path / "nokey")):
        bundle.build(upstream["plan"], str(tmp_path / "bundle"), "demo", "v1.37.2", cache=str(tmp_path / "cache"),
                     signing_key=str(tmp_path / "nokey"))


# -- the phases: prepare's stamp ---------------------------------------------------------------

def test_a_changed_signature_or_key_is_verified_again_at_the_next_phase(signed, keys, tmp_path):
    directory = os.path.dirname(signed["archive"])
    trusted = tmp_path / "trusted.pub"
    with open(keys["user"].public, encoding="utf-8") as handle:
        trusted.write_text(handle.read())

    def phase(**kwargs):
        return bundle.prepare(signed["archive"], directory, None, "v1.37.2", "amd64", None,
                              public_key=str(trusted), **kwargs)

    first = phase()
    assert first.problems == [] and first.changed and first.signer == keys["user"].fingerprint
    assert phase() == first._replace(changed=False)
    # The cluster file's key is replaced: the bundle signed by the old one is refused.
    with open(keys["stranger"].public, encoding="utf-8") as handle:
        trusted.write_text(handle.read())
    assert "signed by the key %s, not by the key bundle.publicKey names (%s, %s)" % (
        keys["user"].fingerprint, trusted, keys["stranger"].fingerprint) in phase().problems[0]
    # The signature is replaced by a stranger's, and the key put back.
    with open(keys["user"].public, encoding="utf-8") as handle:
        trusted.write_text(handle.read())
    keys["stranger"].sign_file(signed["archive"] + ".sha256")
    assert "signed by the key %s" % keys["stranger"].fingerprint in phase().problems[0]
    # Unsigned, and let through: the warning comes with every phase, the stamp's too.
    os.unlink(signed["archive"] + ".sha256.sig")
    assert phase().problems and not phase(allow_unsigned=True).problems
    cached = phase(allow_unsigned=True)
    assert cached.dir and cached.signer is None and cached.warnings and "NOT SIGNED" in cached.warnings[0]
