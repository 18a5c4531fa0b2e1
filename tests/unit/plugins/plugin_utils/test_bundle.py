# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Building a bundle from a loopback file server and a loopback registry."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import lzma
import os
import sys
import tarfile
import threading

import pytest

from openpgp_key import SigningKey
from ssh_key import SshKey
from ansible_collections.airgap.kubernetes.plugins.plugin_utils import bundle

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "module_utils"))
from fake_registry import FakeRegistry  # noqa: E402, pylint: disable=wrong-import-position
from test_oci_registry import image  # noqa: E402, pylint: disable=wrong-import-position


@pytest.fixture(name="files")
def fixture_files(tmp_path):
    """A loopback HTTP server of a directory laid out like upstream's downloads."""
    root = tmp_path / "www"
    (root / "rel").mkdir(parents=True)
    (root / "rel" / "kubeadm").write_bytes(b"kubeadm binary")
    (root / "rel" / "kubeadm.sha256").write_text(hashlib.sha256(b"kubeadm binary").hexdigest())
    (root / "rel" / "runc.amd64").write_bytes(b"runc binary")
    (root / "rel" / "runc.sha256sum").write_text(
        "%s  runc.arm64\n%s  runc.amd64\n" % ("1" * 64, hashlib.sha256(b"runc binary").hexdigest()))
    # An upstream release archive as containerd's: bin/ with executables, a doc, a uid not root's.
    crictl = root / "rel" / "tool-v1-linux-amd64.tar.gz"
    with tarfile.open(crictl, "w:gz") as tar:
        for name, data, mode in (("./bin/tool", b"tool binary", 0o755), ("./bin/tool-helper", b"helper", 0o750),
                                 ("./README.md", b"read me", 0o644)):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.uname = len(data), mode, 1001, "builder"
            tar.addfile(info, io.BytesIO(data))
    (root / "rel" / "tool.sha256").write_text(hashlib.sha256(crictl.read_bytes()).hexdigest())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield root, "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def plan_for(url, registry, archive=False):
    def item(name, file, checksum):
        return {"name": name, "version": "v1", "arch": "amd64", "file": file, "url": url + "/rel/" + file,
                "checksum_url": url + "/rel/" + checksum, "sha256": None}
    return {
        "files": [item("kubeadm", "kubeadm", "kubeadm.sha256"), item("runc", "runc.amd64", "runc.sha256sum")]
        + ([item("tool", "tool-v1-linux-amd64.tar.gz", "tool.sha256")] if archive else []),
        "images": [
            {"name": "pause", "ref": "registry.k8s.io/pause:3.10.2", "registry": registry.base + "/registry.k8s.io",
             "repository": "pause", "tag": "3.10.2", "digest": None},
            {"name": "hello", "ref": "docker.io/airgapkubernetes/hello:v1.0.0", "registry": registry.base + "/docker.io",
             "repository": "airgapkubernetes/hello", "tag": "v1.0.0", "digest": None},
        ],
        "cni": None,
    }


def test_build_verify_archive_and_warm_cache(files, tmp_path):
    dummy, url = files
    with FakeRegistry() as reg:
        pause_digest, pause = image(reg, "registry.k8s.io/pause", "3.10.2", ("amd64", "arm64"))
        image(reg, "docker.io/airgapkubernetes/hello", "v1.0.0")
        plan = plan_for(url, reg)
        out = tmp_path / "out"
        first = bundle.build(plan, str(out), "demo", "v1.37.2")
        assert first["changed"] and first["stats"]["bytes_downloaded"] > 0
        assert (first["file_count"], first["image_count"]) == (2, 2)
        assert first["archive"].endswith("demo-bundle-v1.37.2-amd64.tar")

        with tarfile.open(first["archive"]) as tar:
            names = tar.getnames()
            bom = json.load(tar.extractfile("bom.json"))
            layout = json.load(tar.extractfile("images/index.json"))
        assert names[:3] == ["bom.json", "files/kubeadm/kubeadm", "files/runc/runc.amd64"]
        assert bom["files"][1]["sha256"] == hashlib.sha256(b"runc binary").hexdigest()
        entry = bom["images"][0]
        # The index keeps upstream's digest; only amd64's manifest and blobs are carried.
        assert entry["digest"] == pause_digest and entry["manifest"] == pause["amd64"][0]
        blob_names = {n.rsplit("/", 1)[1] for n in names if n.startswith("images/blobs/")}
        assert {d.split(":")[1] for d in pause["amd64"][1]} <= blob_names
        assert not {d.split(":")[1] for d in pause["arm64"][1]} & blob_names
        assert layout["manifests"][0]["annotations"]["io.containerd.image.name"] == "registry.k8s.io/pause:3.10.2"
        with open(first["sha256_path"], encoding="utf-8") as handle:
            assert handle.read().split() == [bundle.sha256_file(first["archive"]), "demo-bundle-v1.37.2-amd64.tar"]

        reg.log.clear()
        second = bundle.build(plan, str(out), "demo", "v1.37.2")
        assert second["stats"]["bytes_downloaded"] == 0 and reg.log == []
        assert not second["changed"] and second["sha256"] == first["sha256"]
        assert "downloaded 0 bytes" in bundle.summary(second)


def test_a_file_that_does_not_match_its_checksum_file_is_refused(files, tmp_path):
    root, url = files
    (root / "rel" / "kubeadm").write_bytes(b"kubeadm binary, tampered")
    with FakeRegistry() as reg:
        plan = plan_for(url, reg)
        plan["images"] = []
        with pytest.raises(bundle.BundleError, match=r"kubeadm: downloaded .*/rel/kubeadm has sha256 \w+, "
                                                     r"expected \w+ \(from .*kubeadm.sha256\)"):
            bundle.build(plan, str(tmp_path / "out"), "demo", "v1.37.2")


def test_pins_must_agree_with_upstream(files, tmp_path):
    dummy, url = files
    with FakeRegistry() as reg:
        plan = plan_for(url, reg)
        plan["images"] = []
        with pytest.raises(bundle.BundleError, match="runc runc.amd64: the pinned sha256 0+ differs from "
                                                     "upstream's checksum file"):
            bundle.build(plan, str(tmp_path / "out"), "demo", "v1.37.2", pins={"runc": "0" * 64})


def test_pins_from_an_earlier_bom_and_pinned_image_digests(files, tmp_path):
    dummy, url = files
    with FakeRegistry() as reg:
        image(reg, "registry.k8s.io/pause", "3.10.2")
        image(reg, "docker.io/airgapkubernetes/hello", "v1.0.0")
        plan = plan_for(url, reg)
        first = bundle.build(plan, str(tmp_path / "a"), "demo", "v1.37.2")
        # The tag moves upstream; a rebuild pinned to the first BOM still gets the first image.
        moved, dummy2 = image(reg, "registry.k8s.io/pause", "3.10.2", ("amd64", "arm64"))
        again = bundle.build(plan, str(tmp_path / "b"), "demo", "v1.37.2", refresh=True, pins_from=first["bom_path"])
        assert again["bom"]["images"][0]["digest"] == first["bom"]["images"][0]["digest"] != moved


def test_missing_image_and_missing_platform_name_the_image(files, tmp_path):
    dummy, url = files
    with FakeRegistry() as reg:
        image(reg, "registry.k8s.io/pause", "3.10.2", ("arm64",))
        plan = plan_for(url, reg)
        with pytest.raises(bundle.BundleError, match=r"image registry.k8s.io/pause:3.10.2 .*no linux/amd64 manifest"):
            bundle.build(plan, str(tmp_path / "out"), "demo", "v1.37.2")
        plan["images"] = plan["images"][1:]
        with pytest.raises(bundle.BundleError, match=r"image docker.io/airgapkubernetes/hello:v1.0.0 .*MANIFEST_UNKNOWN"):
            bundle.build(plan, str(tmp_path / "out"), "demo", "v1.37.2")


@pytest.mark.parametrize("text, expected", [
    ("a" * 64, "a" * 64),
    ("%s  kubeadm\n" % ("b" * 64), "b" * 64),
    ("%s *./dir/kubeadm\n%s  other\n" % ("c" * 64, "d" * 64), "c" * 64),
])
def test_parse_checksum(text, expected):
    assert bundle.parse_checksum(text, "kubeadm") == expected


def test_parse_checksum_without_the_file():
    with pytest.raises(bundle.BundleError, match="SUMS has no sha256 for kubeadm"):
        bundle.parse_checksum("%s  other\n" % ("d" * 64), "kubeadm", "SUMS")


# -- the preflight: verify --------------------------------------------------------------------

@pytest.fixture(name="signer", scope="module")
def fixture_signer(tmp_path_factory):
    """The user's signing key: its private half signs on the connected side, its public half is
    the cluster file's bundle.publicKey."""
    return SshKey(tmp_path_factory.mktemp("keys"), "bundle-signing")


@pytest.fixture(name="built")
def fixture_built(files, tmp_path, signer):
    """A good signed bundle of plan_for(), and that plan."""
    dummy, url = files
    with FakeRegistry() as reg:
        image(reg, "registry.k8s.io/pause", "3.10.2", ("amd64", "arm64"))
        image(reg, "docker.io/airgapkubernetes/hello", "v1.0.0")
        plan = plan_for(url, reg)
        result = bundle.build(plan, str(tmp_path / "out"), "demo", "v1.37.2", signing_key=signer.private)
    return result, plan


def change_one_byte(archive, member_name, fix_checksum, signer=None):
    """Flip one byte of a member; with ``fix_checksum``, write the checksum file of the changed
    archive, re-signed by ``signer`` (a tampering signer: what the member checks must still catch)."""
    with tarfile.open(archive) as tar:
        offset = tar.getmember(member_name).offset_data
    with open(archive, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 1]))
    if fix_checksum:
        with open(archive + ".sha256", "w", encoding="utf-8") as handle:
            handle.write("%s  %s\n" % (bundle.sha256_file(archive), os.path.basename(archive)))
        signer.sign_file(archive + ".sha256")


def test_verify_a_good_bundle(built, signer):
    result, plan = built
    verified = bundle.verify(result["archive"], plan, "v1.37.2", "amd64", public_key=signer.public)
    assert verified.problems == [] and verified.warnings == [] and len(verified.bom["images"]) == 2
    assert verified.signer == signer.fingerprint


@pytest.mark.parametrize("fix_checksum", [False, True])
def test_verify_names_a_changed_byte(built, signer, fix_checksum):
    result, plan = built
    change_one_byte(result["archive"], "files/runc/runc.amd64", fix_checksum, signer)
    problems = bundle.verify(result["archive"], plan, public_key=signer.public).problems
    name = "demo-bundle-v1.37.2-amd64.tar"
    expected = ["%s: file files/runc/runc.amd64 has sha256 %s, the BOM says %s" % (
        name, hashlib.sha256(b"sunc binary").hexdigest(), hashlib.sha256(b"runc binary").hexdigest())]
    if not fix_checksum:
        expected.insert(0, "%s: sha256 is %s, %s.sha256 says %s (the archive changed or is incomplete)" % (
            name, bundle.sha256_file(result["archive"]), name, result["sha256"]))
    assert problems == expected


def test_verify_names_a_missing_image_and_a_missing_cni(built, signer):
    result, plan = built
    plan["images"].append({"name": "metrics-server", "ref": "registry.k8s.io/metrics-server/metrics-server:v0.8.0",
                           "registry": "unused", "repository": "metrics-server/metrics-server", "tag": "v0.8.0",
                           "digest": None})
    problems = bundle.verify(result["archive"], plan, cni_plugin="kube-router", public_key=signer.public).problems
    assert problems == [
        "demo-bundle-v1.37.2-amd64.tar: lacks the image registry.k8s.io/metrics-server/metrics-server:v0.8.0",
        "demo-bundle-v1.37.2-amd64.tar: the cluster asks for the CNI plugin kube-router, the bundle carries no CNI",
    ]


def test_verify_names_a_blob_missing_from_the_layout(built, tmp_path):
    """An unsigned copy (bundle.allowUnsigned) is still checked member by member."""
    result, plan = built
    bom = result["bom"]
    gone = bom["images"][1]["blobs"][-1]
    copy = tmp_path / "copy.tar"
    with tarfile.open(result["archive"]) as src, tarfile.open(copy, "w") as dst:
        for member in src:
            if not member.name.endswith(gone.split(":")[1]):
                dst.addfile(member, src.extractfile(member))
    (tmp_path / "copy.tar.sha256").write_text("%s  copy.tar\n" % bundle.sha256_file(str(copy)))
    problems = bundle.verify(str(copy), plan, allow_unsigned=True).problems
    assert "copy.tar: image docker.io/airgapkubernetes/hello:v1.0.0 blob %s is missing from the archive" % gone in problems


# -- OS packages ------------------------------------------------------------------------------

DEBIAN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "debian")
CLOSURE = ["conntrack", "ebtables", "libmnl0", "libnetfilter-conntrack3", "libnfnetlink0", "netbase"]


@pytest.fixture(name="archive_key", scope="module")
def fixture_archive_key():
    """The loopback archive's signing key (Debian's archive keys for the real one)."""
    key = SigningKey("archive")
    yield key
    key.close()


@pytest.fixture(name="debian")
def fixture_debian(files, archive_key):
    """The file server with a signed Debian archive: (root, url, the archive's key)."""
    root, url = files
    return root, url, archive_key


def publish_debian(root, key, changed=()):
    """A Debian archive on the file server, from the real bookworm excerpts (test_debian_archive):
    the stanzas as they are, except that each .deb is a small stand-in file (the real ones are not
    in this repository) whose Size and SHA256 replace the real ones; Packages.xz of that; and an
    InRelease with the real header and the index's sha256, clearsigned by ``key``. ``changed``
    packages get other bytes, as a point release would bring."""
    with open(os.path.join(DEBIAN, "bookworm-main-amd64-Packages"), encoding="utf-8") as handle:
        stanzas = handle.read().rstrip("\n").split("\n\n")
    out = []
    for stanza in stanzas:
        lines = stanza.split("\n")
        name = lines[0].split(": ", 1)[1]
        filename = next(line.split(": ", 1)[1] for line in lines if line.startswith("Filename: "))
        data = ("stand-in for %s%s\n" % (filename, ", updated" if name in changed else "")).encode()
        deb = root / "debian" / filename
        deb.parent.mkdir(parents=True, exist_ok=True)
        deb.write_bytes(data)
        lines = ["Size: %d" % len(data) if line.startswith("Size: ") else
                 "SHA256: %s" % hashlib.sha256(data).hexdigest() if line.startswith("SHA256: ") else line
                 for line in lines]
        out.append("\n".join(lines))
    index = lzma.compress(("\n\n".join(out) + "\n").encode())
    dists = root / "debian" / "dists" / "bookworm"
    (dists / "main" / "binary-amd64").mkdir(parents=True, exist_ok=True)
    (dists / "main" / "binary-amd64" / "Packages.xz").write_bytes(index)
    with open(os.path.join(DEBIAN, "bookworm-Release"), encoding="utf-8") as handle:
        header = handle.read().split("MD5Sum:")[0]
    (dists / "InRelease").write_bytes(key.clearsign(header + "SHA256:\n %s %8d main/binary-amd64/Packages.xz\n"
                                                    % (hashlib.sha256(index).hexdigest(), len(index))))
    return hashlib.sha256(index).hexdigest()


def package_plan(url, keyring, names=("conntrack", "ebtables")):
    return {"files": [], "images": [], "cni": None, "packages": [{
        "os": "debian-12", "suite": "bookworm", "component": "main", "arch": "amd64",
        "archive": url + "/debian", "names": list(names), "avoid": ["usrmerge"], "keyring": keyring}]}


def test_packages_closure_bom_archive_and_warm_cache(debian, tmp_path):
    root, url, key = debian
    index_sha = publish_debian(root, key)
    plan = package_plan(url, key.keyring)
    cache = str(tmp_path / "cache")
    first = bundle.build(plan, str(tmp_path / "out"), "demo", "v1.37.2", cache=cache)
    bom = first["bom"]
    assert [p["name"] for p in bom["packages"]] == CLOSURE and first["package_count"] == 6
    conntrack = bom["packages"][0]
    stand_in = b"stand-in for pool/main/c/conntrack-tools/conntrack_1.4.7-1+b2_amd64.deb\n"
    assert conntrack == {
        "name": "conntrack", "version": "1:1.4.7-1+b2", "arch": "amd64", "os": "debian-12",
        "path": "files/packages/debian-12/conntrack_1.4.7-1+b2_amd64.deb",
        "sha256": hashlib.sha256(stand_in).hexdigest(), "size": len(stand_in),
        "url": url + "/debian/pool/main/c/conntrack-tools/conntrack_1.4.7-1+b2_amd64.deb"}
    assert bom["packages"][-1]["arch"] == "all"  # netbase
    release = bom["osReleases"][0]
    assert (release["os"], release["suite"], release["version"], release["requested"]) == (
        "debian-12", "bookworm", "12.15", ["conntrack", "ebtables"])
    assert release["index"] == {"url": url + "/debian/dists/bookworm/main/binary-amd64/Packages.xz",
                                "sha256": index_sha}
    assert release["release"]["url"] == url + "/debian/dists/bookworm/InRelease"
    assert release["release"]["signedBy"] == [key.fingerprint]
    with tarfile.open(first["archive"]) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.extractfile(conntrack["path"]).read() == stand_in
    assert members[conntrack["path"]].mode == 0o644
    assert sorted(n for n in members if n.startswith("files/packages/")) == sorted(p["path"] for p in bom["packages"])
    assert "downloaded %d bytes" % first["stats"]["bytes_downloaded"] in bundle.summary(first)
    assert "6 OS packages (debian-12)" in bundle.summary(first)

    # The cache holds Release, index and .debs: a second build downloads nothing.
    second = bundle.build(plan, str(tmp_path / "out"), "demo", "v1.37.2", cache=cache)
    assert second["stats"]["bytes_downloaded"] == 0 and second["stats"]["requests"] == 0
    assert second["stats"]["packages_cached"] == 6 and not second["changed"]
    # refresh fetches the Release again, and only that when nothing changed.
    third = bundle.build(plan, str(tmp_path / "out"), "demo", "v1.37.2", cache=cache, refresh=True)
    assert third["stats"]["requests"] == 1 and not third["changed"]
    assert bundle.verify(first["archive"], plan, "v1.37.2", "amd64", allow_unsigned=True).problems == []


def test_a_corrupted_deb_is_refused_naming_it(debian, tmp_path):
    root, url, key = debian
    index_sha = publish_debian(root, key)
    (root / "debian" / "pool/main/libm/libmnl/libmnl0_1.0.4-3_amd64.deb").write_bytes(b"corrupted")
    with pytest.raises(bundle.BundleError, match=(
            r"^package debian-12 libmnl0 1.0.4-3: downloaded http://127.0.0.1:\d+/debian/pool/main/libm/libmnl/"
            r"libmnl0_1.0.4-3_amd64.deb has sha256 %s, the Packages index http://127.0.0.1:\d+/debian/dists/"
            r"bookworm/main/binary-amd64/Packages.xz says [0-9a-f]{64}$" % hashlib.sha256(b"corrupted").hexdigest())):
        bundle.build(package_plan(url, key.keyring), str(tmp_path / "out"), "demo", "v1.37.2", cache=str(tmp_path / "cache"))
    assert index_sha and not (tmp_path / "out").exists()


def test_an_index_that_does_not_match_its_release_is_refused(debian, tmp_path):
    root, url, key = debian
    index_sha = publish_debian(root, key)
    index = root / "debian/dists/bookworm/main/binary-amd64/Packages.xz"
    index.write_bytes(index.read_bytes()[:-1] + b"\0")
    with pytest.raises(bundle.BundleError, match=(
            r"^debian-12: the Packages index http://127.0.0.1:\d+/debian/dists/bookworm/main/binary-amd64/"
            r"Packages.xz has sha256 %s, http://127.0.0.1:\d+/debian/dists/bookworm/InRelease says %s$"
            % (hashlib.sha256(index.read_bytes()).hexdigest(), index_sha))):
        bundle.build(package_plan(url, key.keyring), str(tmp_path / "out"), "demo", "v1.37.2", cache=str(tmp_path / "cache"))


@pytest.fixture(name="stranger", scope="module")
def fixture_stranger():
    """A key that is not the archive's."""
    key = SigningKey("stranger")
    yield key
    key.close()


def refused(url, tmp_path, plan, cache=None, requests=None):
    """Build ``plan``; assert that the archive's InRelease is refused before anything it names is
    downloaded, and that it is not kept in the cache. Returns the message after the URL."""
    cache = cache or str(tmp_path / "cache")
    builder = bundle.Builder(cache)
    with pytest.raises(bundle.BundleError) as caught:
        builder.fetch_packages(plan["packages"][0])
    prefix = "debian-12: %s/debian/dists/bookworm/InRelease: " % url
    assert str(caught.value).startswith(prefix)
    assert builder.stats["requests"] == (1 if requests is None else requests)  # the InRelease only
    assert not os.path.exists(os.path.join(cache, "files", url.split("://")[1], "debian/dists/bookworm/InRelease"))
    return str(caught.value)[len(prefix):]


def test_an_inrelease_signed_by_a_key_outside_the_keyring_is_refused(debian, stranger, tmp_path):
    root, url, key = debian
    publish_debian(root, stranger)
    message = refused(url, tmp_path, package_plan(url, key.keyring))
    short = stranger.fingerprint[-16:]
    assert message == "the signature does not verify against %s: ERRSIG %s; NO_PUBKEY %s" % (key.keyring, short, short)


def test_an_inrelease_changed_after_signing_is_refused(debian, tmp_path):
    root, url, key = debian
    publish_debian(root, key)
    inrelease = root / "debian/dists/bookworm/InRelease"
    inrelease.write_bytes(inrelease.read_bytes().replace(b"Version: 12.15", b"Version: 12.16"))
    message = refused(url, tmp_path, package_plan(url, key.keyring))
    assert message == "the signature does not verify against %s: BADSIG %s" % (key.keyring, key.fingerprint[-16:])


def test_an_unsigned_release_is_refused(debian, tmp_path):
    root, url, key = debian
    publish_debian(root, key)
    inrelease = root / "debian/dists/bookworm/InRelease"
    signed = inrelease.read_text()
    inrelease.write_text(signed.split("\n\n", 1)[1].split("-----BEGIN PGP SIGNATURE-----")[0])
    message = refused(url, tmp_path, package_plan(url, key.keyring))
    assert message == "the signature does not verify against %s: no OpenPGP signature in it" % key.keyring


def test_a_signature_by_an_expired_key_is_refused(debian, tmp_path):
    """apt's rule: a signature made while the key was valid does not count once the key has
    expired (EXPKEYSIG), however good the signature."""
    root, url, dummy = debian
    expired = SigningKey("expired", made_at="20200101T000000", expires="1d")
    try:
        publish_debian(root, expired)
        message = refused(url, tmp_path, package_plan(url, expired.keyring))
        assert message == "the signature does not verify against %s: EXPKEYSIG %s" % (
            expired.keyring, expired.fingerprint[-16:])
    finally:
        expired.close()


def test_a_missing_keyring_is_named_before_any_download(files, tmp_path):
    dummy, url = files
    plan = package_plan(url, str(tmp_path / "nowhere.gpg"))
    plan["files"] = [{"name": "kubeadm", "version": "v1", "arch": "amd64", "file": "kubeadm",
                      "url": url + "/rel/kubeadm", "checksum_url": url + "/rel/kubeadm.sha256", "sha256": None}]
    with pytest.raises(bundle.BundleError, match=r"^debian-12: the keyring %s does not exist \(Debian/Ubuntu: "
                                                 r"package debian-archive-keyring; " % (tmp_path / "nowhere.gpg")):
        bundle.build(plan, str(tmp_path / "out"), "demo", "v1.37.2", cache=str(tmp_path / "cache"))
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out").exists()


def test_a_cached_inrelease_is_verified_again(debian, stranger, tmp_path):
    """The cache is no trust anchor: a keyring that no longer holds the archive's key refuses the
    cached InRelease without a download."""
    root, url, key = debian
    publish_debian(root, key)
    cache = str(tmp_path / "cache")
    bundle.build(package_plan(url, key.keyring), str(tmp_path / "out"), "demo", "v1.37.2", cache=cache)
    message = refused(url, tmp_path, package_plan(url, stranger.keyring), cache=cache, requests=0)
    assert message.startswith("the signature does not verify against %s: ERRSIG %s" % (
        stranger.keyring, key.fingerprint[-16:]))


def test_a_cached_release_the_archive_has_moved_past_is_fetched_again(debian, tmp_path):
    root, url, key = debian
    publish_debian(root, key)
    cache = str(tmp_path / "cache")
    first = bundle.build(package_plan(url, key.keyring), str(tmp_path / "out"), "demo", "v1.37.2", cache=cache)
    # A point release: libmnl0 changes, so do the index and the Release.
    new_index = publish_debian(root, key, changed=["libmnl0"])
    cache_index = os.path.join(cache, "files", url.split("://")[1], "debian/dists/bookworm/main/binary-amd64/Packages.xz")
    os.unlink(cache_index)
    second = bundle.build(package_plan(url, key.keyring), str(tmp_path / "out"), "demo", "v1.37.2", cache=cache)
    assert second["changed"] and second["bom"]["osReleases"][0]["index"]["sha256"] == new_index
    changed = [p["name"] for p, q in zip(first["bom"]["packages"], second["bom"]["packages"]) if p != q]
    assert changed == ["libmnl0"] and second["stats"]["packages_downloaded"] == 1


def test_package_pins_must_agree_with_the_archive(debian, tmp_path):
    root, url, key = debian
    publish_debian(root, key)
    path = "files/packages/debian-12/netbase_6.4_all.deb"
    with pytest.raises(bundle.BundleError, match=r"^package debian-12 netbase 6.4: the pinned sha256 0+ differs "
                                                 r"from the archive's Packages index http://.*/Packages.xz \(\w+\)$"):
        bundle.build(package_plan(url, key.keyring), str(tmp_path / "out"), "demo", "v1.37.2", cache=str(tmp_path / "cache"),
                     pins={path: "0" * 64})


def test_verify_names_a_changed_package_and_what_the_bom_lacks(debian, signer, tmp_path):
    root, url, key = debian
    publish_debian(root, key)
    result = bundle.build(package_plan(url, key.keyring), str(tmp_path / "out"), "demo", "v1.37.2", cache=str(tmp_path / "cache"),
                          signing_key=signer.private)
    path = "files/packages/debian-12/ebtables_2.0.11-5_amd64.deb"
    change_one_byte(result["archive"], path, fix_checksum=True, signer=signer)
    plan = package_plan(url, key.keyring, names=("conntrack", "ebtables", "socat"))
    plan["packages"].append(dict(plan["packages"][0], os="debian-13", suite="trixie"))
    problems = bundle.verify(result["archive"], plan, public_key=signer.public).problems
    entry = next(p for p in result["bom"]["packages"] if p["path"] == path)
    with tarfile.open(result["archive"]) as tar:
        now = hashlib.sha256(tar.extractfile(path).read()).hexdigest()
    assert problems == [
        "demo-bundle-v1.37.2-amd64.tar: package debian-12 ebtables 2.0.11-5 (%s) has sha256 %s, the BOM says %s"
        % (path, now, entry["sha256"]),
        "demo-bundle-v1.37.2-amd64.tar: lacks the package socat for debian-12",
        "demo-bundle-v1.37.2-amd64.tar: lacks the OS packages for debian-13 (trixie)",
    ]


# -- the verified bundle for the phases: prepare and facts -------------------------------------

def test_prepare_verifies_unpacks_and_hands_the_roles_one_map(built, signer):
    result, plan = built
    directory = os.path.dirname(result["archive"])
    bom, sha, dest, changed, problems, warnings, signed_by = bundle.prepare(
        result["archive"], directory, plan, "v1.37.2", "amd64", None, public_key=signer.public)
    assert problems == [] == warnings and changed and sha == result["sha256"] and signed_by == signer.fingerprint
    assert dest == os.path.join(directory, ".unpacked", sha[:16])
    # The manifest and files are unpacked; the images stay in the archive (the registry host's).
    assert sorted(os.listdir(dest)) == [".unpacked", ".verified", "bom.json", "files"]
    facts = bundle.facts(bom, result["archive"], sha, dest, signed_by)
    assert facts["signed_by"] == signer.fingerprint
    assert facts["files"]["runc"] == {"path": os.path.join(dest, "files/runc/runc.amd64"), "version": "v1",
                                      "arch": "amd64", "sha256": hashlib.sha256(b"runc binary").hexdigest(),
                                      "members": {}}
    with open(facts["files"]["kubeadm"]["path"], "rb") as handle:
        assert handle.read() == b"kubeadm binary"
    pause = next(i for i in bom["images"] if i["name"] == "pause")
    assert facts["images"]["pause"] == "registry.k8s.io/pause:3.10.2@" + pause["digest"]
    assert facts["image_refs"]["hello"] == "docker.io/airgapkubernetes/hello:v1.0.0"
    assert pause["digest"] in facts["digests"] and facts["layout"] == "images"
    # A second call finds the stamp: nothing is read again, nothing changes.
    again = bundle.prepare(result["archive"], directory, plan, "v1.37.2", "amd64", None, public_key=signer.public)
    assert again == (bom, sha, dest, False, [], [], signer.fingerprint)


def test_facts_unpack_upstream_archives_and_the_layout_on_the_controller(files, signer, tmp_path):
    """Hosts receive the files they install, not archives: an upstream archive's members and the
    images' OCI layout are unpacked on the controller once per bundle, each file with its sha256."""
    dummy, url = files
    with FakeRegistry() as reg:
        image(reg, "registry.k8s.io/pause", "3.10.2")
        image(reg, "docker.io/airgapkubernetes/hello", "v1.0.0")
        plan = plan_for(url, reg, archive=True)
        result = bundle.build(plan, str(tmp_path / "out"), "demo", "v1.37.2", signing_key=signer.private)
    bom, sha, dest, dummy, problems, dummy, signed_by = bundle.prepare(
        result["archive"], str(tmp_path / "out"), plan, "v1.37.2", "amd64", None, public_key=signer.public)
    assert problems == []
    facts = bundle.facts(bom, result["archive"], sha, dest, signed_by)
    # Each member with its sha256 and a mode of 0755 (any execute bit) or 0644, whatever the
    # archive's owners.
    tool = facts["files"]["tool"]["members"]
    assert sorted(tool) == ["README.md", "bin/tool", "bin/tool-helper"]
    assert tool["bin/tool"] == {"path": os.path.join(dest, "members", "tool", "bin", "tool"), "mode": "0755",
                                "sha256": hashlib.sha256(b"tool binary").hexdigest()}
    assert (tool["bin/tool-helper"]["mode"], tool["README.md"]["mode"]) == ("0755", "0644")
    with open(tool["bin/tool"]["path"], "rb") as handle:
        assert handle.read() == b"tool binary"
    # The images' OCI layout is unpacked on the controller too, every file with its sha256 (a
    # blob's is its name), for the registry host.
    layout = facts["layout_files"]
    assert {"index.json", "oci-layout"} <= set(layout)
    blobs = [name for name in layout if name.startswith("blobs/sha256/")]
    assert blobs and all(layout[name]["sha256"] == name.rsplit("/", 1)[1] for name in blobs)
    pause_digest = next(i for i in bom["images"] if i["name"] == "pause")["digest"]
    assert pause_digest.split(":", 1)[1] in {name.rsplit("/", 1)[1] for name in blobs}
    # Unpacked once: a second facts() reads the marks.
    assert bundle.facts(bom, result["archive"], sha, dest, signed_by) == facts


def test_an_upstream_archive_with_a_link_is_refused_naming_the_member(tmp_path):
    dest = tmp_path / "unpacked"
    (dest / "files" / "tool").mkdir(parents=True)
    with tarfile.open(dest / "files" / "tool" / "tool.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("bin/tool")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
        tar.addfile(info)
    bom = {"files": [{"name": "tool", "path": "files/tool/tool.tar.gz"}]}
    with pytest.raises(bundle.BundleError, match=r"tool.tar.gz \(bundle file tool\): member bin/tool is a link"):
        bundle.members(bom, str(dest))


def test_prepare_reads_the_archive_again_when_it_changed_or_is_asked_to(built, signer, monkeypatch):
    result, plan = built
    directory = os.path.dirname(result["archive"])
    bundle.prepare(result["archive"], directory, plan, "v1.37.2", "amd64", None, public_key=signer.public)
    calls = []
    real = bundle.verify
    monkeypatch.setattr(bundle, "verify", lambda *a, **k: calls.append(a) or real(*a, **k))
    bundle.prepare(result["archive"], directory, plan, "v1.37.2", "amd64", None, public_key=signer.public)
    assert not calls
    bundle.prepare(result["archive"], directory, plan, "v1.37.2", "amd64", None, recheck=True, public_key=signer.public)
    assert len(calls) == 1
    # The same bytes written again (a new mtime) are verified again; a changed byte is refused.
    change_one_byte(result["archive"], "files/runc/runc.amd64", fix_checksum=False)
    prepared = bundle.prepare(result["archive"], directory, plan, "v1.37.2", "amd64", None, public_key=signer.public)
    assert len(calls) == 2 and prepared.dir is None and not prepared.changed
    assert any("files/runc/runc.amd64 has sha256" in p for p in prepared.problems), prepared.problems


def test_prepare_a_gzip_bundle(files, signer, tmp_path):
    dummy, url = files
    with FakeRegistry() as reg:
        image(reg, "registry.k8s.io/pause", "3.10.2")
        image(reg, "docker.io/airgapkubernetes/hello", "v1.0.0")
        plan = plan_for(url, reg)
        result = bundle.build(plan, str(tmp_path / "out"), "demo", "v1.37.2", compression="gzip",
                              signing_key=signer.private)
    assert result["archive"].endswith("-amd64.tar.gz")
    assert bundle.find_archive(str(tmp_path / "out"), "demo", "v1.37.2", "amd64") == result["archive"]
    bom, sha, dest, changed, problems, dummy, dummy = bundle.prepare(
        result["archive"], str(tmp_path / "out"), plan, "v1.37.2", "amd64", None, public_key=signer.public)
    assert problems == [] and changed
    assert os.path.isfile(bundle.facts(bom, result["archive"], sha, dest)["files"]["runc"]["path"])
