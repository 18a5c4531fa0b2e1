# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Building a bundle from a loopback file server and a loopback registry."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import tarfile
import threading

import pytest

from fake_registry import FakeRegistry
from test_oci_registry import image
from ansible_collections.airgap.kubernetes.plugins.module_utils import bundle


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
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield root, "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def plan_for(url, registry):
    def item(name, file, checksum):
        return {"name": name, "version": "v1", "arch": "amd64", "file": file, "url": url + "/rel/" + file,
                "checksum_url": url + "/rel/" + checksum, "sha256": None}
    return {
        "files": [item("kubeadm", "kubeadm", "kubeadm.sha256"), item("runc", "runc.amd64", "runc.sha256sum")],
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

@pytest.fixture(name="built")
def fixture_built(files, tmp_path):
    """A good bundle of plan_for(), and that plan."""
    dummy, url = files
    with FakeRegistry() as reg:
        image(reg, "registry.k8s.io/pause", "3.10.2", ("amd64", "arm64"))
        image(reg, "docker.io/airgapkubernetes/hello", "v1.0.0")
        plan = plan_for(url, reg)
        result = bundle.build(plan, str(tmp_path / "out"), "demo", "v1.37.2")
    return result, plan


def change_one_byte(archive, member_name, fix_checksum):
    with tarfile.open(archive) as tar:
        offset = tar.getmember(member_name).offset_data
    with open(archive, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 1]))
    if fix_checksum:
        with open(archive + ".sha256", "w", encoding="utf-8") as handle:
            handle.write("%s  x\n" % bundle.sha256_file(archive))


def test_verify_a_good_bundle(built):
    result, plan = built
    bom, problems = bundle.verify(result["archive"], plan, "v1.37.2", "amd64")
    assert problems == [] and len(bom["images"]) == 2


@pytest.mark.parametrize("fix_checksum", [False, True])
def test_verify_names_a_changed_byte(built, fix_checksum):
    result, plan = built
    change_one_byte(result["archive"], "files/runc/runc.amd64", fix_checksum)
    dummy, problems = bundle.verify(result["archive"], plan)
    name = "demo-bundle-v1.37.2-amd64.tar"
    expected = ["%s: file files/runc/runc.amd64 has sha256 %s, the BOM says %s" % (
        name, hashlib.sha256(b"sunc binary").hexdigest(), hashlib.sha256(b"runc binary").hexdigest())]
    if not fix_checksum:
        expected.insert(0, "%s: sha256 is %s, %s.sha256 says %s (the archive changed or is incomplete)" % (
            name, bundle.sha256_file(result["archive"]), name, result["sha256"]))
    assert problems == expected


def test_verify_names_a_missing_image_and_a_missing_cni(built):
    result, plan = built
    plan["images"].append({"name": "metrics-server", "ref": "registry.k8s.io/metrics-server/metrics-server:v0.8.0",
                           "registry": "unused", "repository": "metrics-server/metrics-server", "tag": "v0.8.0",
                           "digest": None})
    dummy, problems = bundle.verify(result["archive"], plan, cni_plugin="calico")
    assert problems == [
        "demo-bundle-v1.37.2-amd64.tar: lacks the image registry.k8s.io/metrics-server/metrics-server:v0.8.0",
        "demo-bundle-v1.37.2-amd64.tar: the cluster asks for the CNI plugin calico, the bundle carries no CNI",
    ]


def test_verify_names_a_blob_missing_from_the_layout(built, tmp_path):
    result, plan = built
    bom = result["bom"]
    gone = bom["images"][1]["blobs"][-1]
    copy = tmp_path / "copy.tar"
    with tarfile.open(result["archive"]) as src, tarfile.open(copy, "w") as dst:
        for member in src:
            if not member.name.endswith(gone.split(":")[1]):
                dst.addfile(member, src.extractfile(member))
    dummy, problems = bundle.verify(str(copy), plan)
    assert "copy.tar: its checksum file copy.tar.sha256 is missing" in problems
    assert "copy.tar: image docker.io/airgapkubernetes/hello:v1.0.0 blob %s is missing from the archive" % gone in problems
