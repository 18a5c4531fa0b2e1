# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry client against a loopback fake registry: pull, push, skip, auth, errors."""

from __future__ import annotations

import json
import subprocess
import urllib.parse

import pytest

from fake_registry import FakeRegistry, digest_of
from ansible_collections.airgap.kubernetes.plugins.module_utils import oci_registry as oci


def image(registry, repo, tag, arches=("amd64",)):
    """Put a multi-arch image into the fake registry; returns (index digest, {arch: (manifest digest, blobs)})."""
    descs, out = [], {}
    for arch in arches:
        config = registry.add_blob(json.dumps({"architecture": arch, "os": "linux"}).encode())
        layer = registry.add_blob(("layer of %s %s" % (repo, arch)).encode() * 100)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": oci.MEDIA_OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config,
                       "size": len(registry.blobs[config])},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer,
                        "size": len(registry.blobs[layer])}],
        }).encode()
        digest = registry.add_manifest(repo, digest_of(manifest), manifest, oci.MEDIA_OCI_MANIFEST)
        descs.append({"mediaType": oci.MEDIA_OCI_MANIFEST, "digest": digest, "size": len(manifest),
                      "platform": {"os": "linux", "architecture": arch}})
        out[arch] = (digest, [config, layer])
    index = json.dumps({"schemaVersion": 2, "mediaType": oci.MEDIA_OCI_INDEX, "manifests": descs}).encode()
    return registry.add_manifest(repo, tag, index, oci.MEDIA_OCI_INDEX), out


def test_pull_index_by_tag_narrow_and_fetch_blobs(tmp_path):
    with FakeRegistry() as reg:
        index_digest, parts = image(reg, "mirror/registry.k8s.io/pause", "3.10.2", ("amd64", "arm64"))
        client = oci.Registry(reg.base + "/mirror/registry.k8s.io")
        data, media, digest = client.get_manifest("pause", "3.10.2")
        assert (media, digest) == (oci.MEDIA_OCI_INDEX, index_digest)
        desc = oci.platform_manifest(json.loads(data), "linux", "amd64")
        assert desc["digest"] == parts["amd64"][0]
        manifest, dummy, dummy2 = client.get_manifest("pause", desc["digest"])
        for blob in oci.manifest_blobs(json.loads(manifest)):
            client.fetch_blob("pause", blob["digest"], str(tmp_path / blob["digest"]))
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(parts["amd64"][1])
        assert client.manifest_digest("pause", "3.10.2") == index_digest
        assert client.manifest_digest("pause", "nope") is None
        with pytest.raises(oci.RegistryError, match=r"no linux/s390x manifest in the index \(it has: linux/amd64, linux/arm64\)"):
            oci.platform_manifest(json.loads(data), "linux", "s390x")


def test_blob_with_wrong_digest_is_refused_and_not_kept(tmp_path):
    with FakeRegistry() as reg:
        dummy, parts = image(reg, "app", "v1")
        layer = parts["amd64"][1][1]
        reg.corrupt_blobs.add(layer)
        client = oci.Registry(reg.base)
        with pytest.raises(oci.RegistryError, match="app blob %s: received .* with digest sha256:" % layer):
            client.fetch_blob("app", layer, str(tmp_path / "blob"))
        assert list(tmp_path.iterdir()) == []


def test_blob_redirect_to_another_host_drops_credentials(tmp_path):
    with FakeRegistry(auth="basic", users={"u": "p"}) as reg, FakeRegistry(auth="basic") as cdn:
        dummy, parts = image(reg, "app", "v1")
        layer = parts["amd64"][1][1]
        cdn.blobs[layer] = reg.blobs[layer]
        reg.redirect_blobs = cdn.url
        # The CDN answers 401 to any Authorization it does not know: it must get none.
        cdn.auth = None
        client = oci.Registry(reg.base, username="u", password="p")
        client.fetch_blob("app", layer, str(tmp_path / "blob"))
        assert (tmp_path / "blob").read_bytes() == reg.blobs[layer]
        assert [m for m, p in cdn.log] == ["GET"]


def test_a_redirecting_front_to_a_backend_with_tokens(tmp_path):
    """registry.k8s.io answers every request with a redirect to a backend registry that asks for
    (anonymous) bearer tokens; the token belongs to the backend only."""
    with FakeRegistry(auth="bearer", anonymous_pull=True) as backend, FakeRegistry() as front:
        index_digest, parts = image(backend, "k8s-artifacts-prod/images/pause", "3.10.2")
        front.redirect_all = (backend.url, "k8s-artifacts-prod/images")
        client = oci.Registry(front.base)
        data, dummy, digest = client.get_manifest("pause", "3.10.2")
        assert digest == index_digest
        layer = parts["amd64"][1][1]
        client.fetch_blob("pause", layer, str(tmp_path / "layer"))
        assert (tmp_path / "layer").read_bytes() == backend.blobs[layer]
        assert client.manifest_digest("pause", "3.10.2") == index_digest
        assert len([p for m, p in backend.log if p.startswith("/token")]) == 1
        assert all(netloc != urllib.parse.urlsplit(front.url).netloc for netloc, dummy2 in client._auth)


def test_push_then_skip_existing(tmp_path):
    with FakeRegistry() as reg:
        blob = tmp_path / "blob"
        blob.write_bytes(b"x" * 5000)
        digest = digest_of(blob.read_bytes())
        client = oci.Registry(reg.base + "/prefix")
        assert client.push_blob("library/registry", digest, str(blob)) == 5000
        assert reg.blobs[digest] == blob.read_bytes()
        reg.log.clear()
        assert client.push_blob("library/registry", digest, str(blob)) == 0
        assert reg.log == [("HEAD", "/v2/prefix/library/registry/blobs/" + digest)]
        manifest = json.dumps({"schemaVersion": 2, "mediaType": oci.MEDIA_OCI_MANIFEST,
                               "config": {"digest": digest, "size": 5000, "mediaType": "x"}, "layers": []}).encode()
        assert client.put_manifest("library/registry", "3.0.0", manifest, oci.MEDIA_OCI_MANIFEST) == digest_of(manifest)
        assert client.manifest_digest("library/registry", "3.0.0") == digest_of(manifest)


def test_chunked_upload(tmp_path):
    with FakeRegistry() as reg:
        blob = tmp_path / "blob"
        blob.write_bytes(bytes(range(256)) * 40)
        digest = digest_of(blob.read_bytes())
        client = oci.Registry(reg.base, chunk_size=1000)
        assert client.push_blob("app", digest, str(blob)) == 10240
        assert reg.blobs[digest] == blob.read_bytes()
        assert [m for m, p in reg.log].count("PATCH") == 11


def test_cross_repository_mount(tmp_path):
    with FakeRegistry() as reg:
        digest = reg.add_blob(b"shared")            # held by repository a
        reg.fail[("HEAD", "^/v2/b/blobs/")] = (404, "not in b")
        client = oci.Registry(reg.base)
        assert client.push_blob("b", digest, __file__, mount_from="a") == 0
        assert reg.log[1] == ("POST", "/v2/b/blobs/uploads/?mount=%s&from=a" % digest.replace(":", "%3A"))


def test_basic_auth_challenge(tmp_path):
    with FakeRegistry(auth="basic", users={"admin": "s3cret"}) as reg:
        image(reg, "app", "v1")
        client = oci.Registry(reg.base, username="admin", password="s3cret")
        assert client.get_manifest("app", "v1")[1] == oci.MEDIA_OCI_INDEX
        assert [m for m, p in reg.log][:2] == ["GET", "GET"]   # challenged once, then answered
        reg.log.clear()
        client.get_manifest("app", "v1")
        assert len(reg.log) == 1                                # credentials reused

        with pytest.raises(oci.RegistryError, match="401 authentication required \\(give a username and password\\)"):
            oci.Registry(reg.base).get_manifest("app", "v1")
        with pytest.raises(oci.RegistryError) as info:
            oci.Registry(reg.base, username="admin", password="wrong").get_manifest("app", "v1")
        assert "credentials refused" in str(info.value)
        assert "wrong" not in str(info.value)


def test_bearer_token_challenge_anonymous_pull_and_push_with_credentials(tmp_path):
    with FakeRegistry(auth="bearer", users={"admin": "s3cret"}, anonymous_pull=True) as reg:
        index_digest, dummy = image(reg, "library/registry", "3.0.0")
        anonymous = oci.Registry(reg.base)
        assert anonymous.get_manifest("library/registry", "3.0.0")[2] == index_digest
        token_requests = [p for m, p in reg.log if p.startswith("/token")]
        assert len(token_requests) == 1 and "scope=repository%3Alibrary%2Fregistry%3Apull" in token_requests[0]

        blob = tmp_path / "blob"
        blob.write_bytes(b"new layer")
        with pytest.raises(oci.RegistryError, match="401"):
            anonymous.push_blob("library/registry", digest_of(b"new layer"), str(blob))

        client = oci.Registry(reg.base, username="admin", password="s3cret")
        assert client.push_blob("library/registry", digest_of(b"new layer"), str(blob)) == 9
        assert reg.blobs[digest_of(b"new layer")] == b"new layer"

        with pytest.raises(oci.RegistryError, match="token request to .*/token failed: credentials refused"):
            oci.Registry(reg.base, username="admin", password="nope").get_manifest("library/registry", "3.0.0")


def test_registry_errors_are_named():
    with FakeRegistry() as reg:
        client = oci.Registry(reg.base)
        with pytest.raises(oci.RegistryError, match=r"GET http://127.0.0.1:\d+/v2/nothing/manifests/v1: "
                                                    r"HTTP 404 MANIFEST_UNKNOWN: manifest unknown"):
            client.get_manifest("nothing", "v1")
        reg.fail[("POST", "/blobs/uploads/")] = (403, "push refused by policy")
        with pytest.raises(oci.RegistryError, match="HTTP 403 DENIED: push refused by policy"):
            client.push_blob("app", digest_of(b"b"), __file__)
    with pytest.raises(oci.RegistryError, match=r"GET http://127.0.0.1:9/v2/app/manifests/v1: .*refused"):
        oci.Registry("http://127.0.0.1:9").get_manifest("app", "v1")


@pytest.fixture(name="certificate")
def fixture_certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1 (openssl)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


def test_tls_with_a_custom_ca(certificate, tmp_path):
    with FakeRegistry(tls=certificate) as reg:
        image(reg, "app", "v1")
        with pytest.raises(oci.RegistryError, match="TLS certificate not trusted .*give the registry's CA file"):
            oci.Registry(reg.base).get_manifest("app", "v1")
        assert oci.Registry(reg.base, ca_file=certificate[0]).get_manifest("app", "v1")[1] == oci.MEDIA_OCI_INDEX
    with pytest.raises(oci.RegistryError, match="cannot load CA file"):
        oci.Registry("registry.example", ca_file=str(tmp_path / "missing.pem"))


def test_parse_base():
    assert oci.parse_base("registry.k8s.io") == ("https", "registry.k8s.io", None, "")
    assert oci.parse_base("docker.io") == ("https", "registry-1.docker.io", None, "")
    assert oci.parse_base("http://127.0.0.1:15000/registry.k8s.io/") == ("http", "127.0.0.1", 15000, "registry.k8s.io")
