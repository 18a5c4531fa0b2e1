# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The offline bundle: build it on the connected side, verify it on the air-gapped side.

Build (``build``): every file of a cluster's plan (``releases.cluster_plan``) is downloaded and
checked against upstream's checksum file and any pin; every image is pulled by digest into an OCI
image layout, its index kept as published (so its digest is upstream's) but only the target
platform's manifest and blobs fetched; for every OS release of the plan, the Debian archive's
signed Release file (InRelease) is fetched and its signature checked against the plan's keyring
(gpgv), the Packages index checked against it, the dependency closure of the
release's package names resolved (debian_archive.py) and every .deb checked against the index; a
bill of materials (BOM) names every file, image and package with its sha256/digest; one tar
archive holds the BOM, the files, the packages and the layout, with its sha256 next to it
(``<archive>.sha256``) and, given the user's signing key, an OpenSSH signature of that checksum
file (``<archive>.sha256.sig``, ``ssh-keygen -Y sign``).

Verify (``verify``, on the air-gapped side): the signature first, against the public key the
cluster file names (``bundle.publicKey``), before the archive is read at all; then every member
against a strict policy (regular files and directories below bom.json, files/ and images/ only,
no links, devices, duplicates, ``..`` or absolute names, set-id bits or foreign owners), the
archive against its sha256 and every member against the BOM.
Downloads go through a cache keyed by URL (files, checksum files, Release files, indexes, .debs,
tag resolutions) and by digest (blobs), so a second build with the same cache downloads nothing;
a cached InRelease is verified again at each build.

Archive layout::

    bom.json
    files/<name>/<upstream file name>
    files/packages/<os id>/<.deb file name>      (os id: debian-12, debian-13)
    images/oci-layout, images/index.json, images/blobs/sha256/<hex>

Controller-side: the build_bundle, verify_bundle and cluster_model actions run it. Standard library,
ansible-core's urls, the collection's oci_registry and debian_archive, and ssh-keygen (openssh-client)
for the signature.
"""

from __future__ import annotations

import collections
import datetime
import gzip
import hashlib
import io
import json
import os
import re
import ssl
import subprocess
import tarfile
import tempfile
import time
import urllib.error

from ansible.module_utils.urls import ConnectionError as UrlConnectionError, open_url
from ansible_collections.airgap.kubernetes.plugins.plugin_utils import debian_archive
from ansible_collections.airgap.kubernetes.plugins.module_utils import oci_registry as oci

BOM_NAME = "bom.json"
BOM_KIND = "Bundle"
BOM_API = "airgap.kubernetes/v1alpha1"
LAYOUT = "images"
# Files and OS packages live below this directory of the archive.
FILES_DIR = "files"
REF_ANNOTATION = "org.opencontainers.image.ref.name"
NAME_ANNOTATION = "io.containerd.image.name"
_HEX = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024


class BundleError(Exception):
    """A bundle that cannot be built or does not verify; the message names the culprit."""


class DownloadError(BundleError):
    """A download that failed; ``code`` is the HTTP status, or None."""

    def __init__(self, msg, code=None):
        super().__init__(msg)
        self.code = code


class _StaleRelease(Exception):
    """A cached Release file that no longer describes the archive (a point release moved the
    index or removed a .deb): fetch it again."""


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_checksum(text, filename, source="checksum file"):
    """The sha256 of ``filename`` in a checksum file: a bare hex digest (dl.k8s.io style) or
    ``<hex>  <name>`` lines (sha256sum style, one file or many)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) == 1 and _HEX.match(lines[0].split()[0].lower()) and len(lines[0].split()) == 1:
        return lines[0].lower()
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[-1].lstrip("*").lstrip("./").rsplit("/", 1)[-1] == filename:
            if _HEX.match(parts[0].lower()):
                return parts[0].lower()
    raise BundleError("%s has no sha256 for %s" % (source, filename))


def _cache_path(cache, kind, url):
    """A cache path for a URL: <cache>/<kind>/<host>/<path> (query strings dropped)."""
    rest = url.split("://", 1)[-1].split("?", 1)[0]
    parts = [p for p in rest.split("/") if p not in ("", ".", "..")]
    return os.path.join(cache, kind, *parts)


class Builder:
    """Builds one bundle; ``stats`` counts what was downloaded and what came from the cache."""

    def __init__(self, cache, arch="amd64", ca_file=None, registry_auth=None, refresh=False,
                 timeout=60, log=None):
        self.cache = os.path.abspath(cache)
        self.arch = arch
        self.ca_file = ca_file
        self.registry_auth = registry_auth or {}
        self.refresh = refresh
        self.timeout = timeout
        self.log = log or (lambda msg: None)
        self.stats = {"bytes_downloaded": 0, "files_downloaded": 0, "files_cached": 0,
                      "blobs_downloaded": 0, "blobs_cached": 0, "packages_downloaded": 0,
                      "packages_cached": 0, "requests": 0}
        self._registries = {}

    # -- files ---------------------------------------------------------------------------------

    def _download(self, url, dest):
        """GET url into dest (atomically); returns the number of bytes."""
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=".part-")
        size = 0
        try:
            self.stats["requests"] += 1
            # open_url: redirects (GitHub sends downloads to its CDN), proxies from the
            # environment, and a CA file; it ships with ansible-core, no pip package.
            with os.fdopen(fd, "wb") as out, open_url(url, timeout=self.timeout, ca_path=self.ca_file,
                                                      http_agent="airgap.kubernetes") as resp:
                while True:
                    chunk = resp.read(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    size += len(chunk)
            os.replace(tmp, dest)
        except urllib.error.HTTPError as exc:
            raise DownloadError("download %s: HTTP %d %s" % (url, exc.code, exc.reason), exc.code)
        except (urllib.error.URLError, OSError, ssl.SSLError, UrlConnectionError) as exc:
            raise DownloadError("download %s: %s" % (url, getattr(exc, "reason", exc)))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self.stats["bytes_downloaded"] += size
        return size

    def fetch_file(self, item, pin=None):
        """Download one planned file (cached by URL), verified against upstream's checksum file
        and the pins. Returns (path in the cache, sha256, size)."""
        dest = _cache_path(self.cache, "files", item["url"])
        expected = None
        if item.get("checksum_url"):
            checksum_path = _cache_path(self.cache, "files", item["checksum_url"])
            if not os.path.exists(checksum_path):
                self._download(item["checksum_url"], checksum_path)
            with open(checksum_path, encoding="utf-8", errors="replace") as handle:
                expected = parse_checksum(handle.read(), item["file"], item["checksum_url"])
        pins = [p for p in (item.get("sha256"), pin) if p]
        for value in pins:
            if expected and value.lower() != expected:
                raise BundleError("%s %s: the pinned sha256 %s differs from upstream's checksum file "
                                  "%s (%s)" % (item["name"], item["file"], value, item["checksum_url"], expected))
            expected = expected or value.lower()
        if not expected:
            raise BundleError("%s %s: no checksum file and no pinned sha256; pin one" % (item["name"], item["file"]))
        if os.path.exists(dest) and sha256_file(dest) == expected:
            self.stats["files_cached"] += 1
            return dest, expected, os.path.getsize(dest)
        self.log("download %s" % item["url"])
        size = self._download(item["url"], dest)
        got = sha256_file(dest)
        if got != expected:
            os.unlink(dest)
            raise BundleError("%s: downloaded %s has sha256 %s, expected %s (from %s)" % (
                item["name"], item["url"], got, expected, item.get("checksum_url") or "the pin"))
        self.stats["files_downloaded"] += 1
        return dest, got, size

    # -- OS packages ---------------------------------------------------------------------------

    def fetch_packages(self, item, pins=None):
        """The packages of one OS release of the plan: the dependency closure of its names, each
        .deb in the cache and checked against the archive's Packages index, itself checked
        against the Release file whose signature (InRelease) verifies against the item's
        ``keyring``. Returns (its ``osReleases`` BOM entry, its ``packages`` BOM
        entries, [(archive member, path in the cache)])."""
        try:
            return self._fetch_packages(item, pins or {}, self.refresh)
        except _StaleRelease:
            self.log("%s: the cached Release of %s is out of date; fetching it again" % (item["os"], item["suite"]))
            return self._fetch_packages(item, pins or {}, True)

    def _fetch_packages(self, item, pins, refresh):
        dists = "%s/dists/%s" % (item["archive"], item["suite"])
        release_url = dists + "/InRelease"
        release_path = _cache_path(self.cache, "files", release_url)
        fresh = refresh or not os.path.exists(release_path)
        if fresh:
            self.log("download %s" % release_url)
            self._download(release_url, release_path)
        # The signature is checked on every build, cached file or not: the cache is no trust
        # anchor, the keyring is.
        try:
            text, signers = debian_archive.verify_inrelease(release_path, item["keyring"])
            release = debian_archive.parse_release(text)
            index_rel, index_sha, dummy = debian_archive.index_path(release, item["component"], item["arch"])
        except debian_archive.ArchiveError as exc:
            os.unlink(release_path)  # never trusted, so never kept
            raise BundleError("%s: %s: %s" % (item["os"], release_url, exc))
        index_url = dists + "/" + index_rel
        index_path = _cache_path(self.cache, "files", index_url)
        if not (os.path.exists(index_path) and sha256_file(index_path) == index_sha):
            self.log("download %s" % index_url)
            self._download(index_url, index_path)
            got = sha256_file(index_path)
            if got != index_sha:
                os.unlink(index_path)
                if not fresh:
                    raise _StaleRelease()
                raise BundleError("%s: the Packages index %s has sha256 %s, %s says %s"
                                  % (item["os"], index_url, got, release_url, index_sha))
        entries, members = [], []
        for stanza in self._closure(item, index_path, index_rel, index_sha):
            name, filename = stanza["Package"], stanza["Filename"]
            path = package_path(item["os"], filename)
            url = item["archive"] + "/" + filename
            what = "package %s %s %s" % (item["os"], name, stanza["Version"])
            expected = stanza["SHA256"].lower()
            if pins.get(path) and pins[path].lower() != expected:
                raise BundleError("%s: the pinned sha256 %s differs from the archive's Packages index %s (%s)"
                                  % (what, pins[path], index_url, expected))
            local = _cache_path(self.cache, "files", url)
            if os.path.exists(local) and sha256_file(local) == expected:
                self.stats["packages_cached"] += 1
            else:
                self.log("download %s" % url)
                try:
                    self._download(url, local)
                except DownloadError as exc:
                    if exc.code == 404 and not fresh:
                        raise _StaleRelease()
                    raise BundleError("%s: %s" % (what, exc))
                got = sha256_file(local)
                if got != expected:
                    os.unlink(local)
                    raise BundleError("%s: downloaded %s has sha256 %s, the Packages index %s says %s"
                                      % (what, url, got, index_url, expected))
                self.stats["packages_downloaded"] += 1
            entries.append({"name": name, "version": stanza["Version"], "arch": stanza["Architecture"],
                            "os": item["os"], "path": path, "sha256": expected,
                            "size": os.path.getsize(local), "url": url})
            members.append((path, local))
        os_entry = {
            "os": item["os"], "suite": item["suite"], "component": item["component"], "arch": item["arch"],
            "version": release.get("Version"), "date": release.get("Date"),
            "release": {"url": release_url, "sha256": sha256_file(release_path), "signedBy": signers},
            "index": {"url": index_url, "sha256": index_sha},
            "requested": list(item["names"]),
        }
        return os_entry, entries, members

    def _closure(self, item, index_path, index_rel, index_sha):
        """The closure's stanzas (only the fields the bundle uses), kept in the cache by the
        index's sha256 and the request: a warm build does not parse the index again."""
        key = hashlib.sha256(json.dumps([debian_archive.REVISION, index_sha, sorted(item["names"]),
                                         sorted(item.get("avoid", []))]).encode()).hexdigest()
        path = os.path.join(self.cache, "debian-closures", key + ".json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        with open(index_path, "rb") as handle:
            data = handle.read()
        try:
            archive = debian_archive.Archive.from_index(data, index_rel, item.get("avoid", []))
            stanzas = archive.closure(item["names"])
        except debian_archive.ArchiveError as exc:
            raise BundleError("%s: %s: %s" % (item["os"], item["archive"] + "/dists/" + item["suite"] + "/" + index_rel, exc))
        fields = ("Package", "Version", "Architecture", "Filename", "Size", "SHA256")
        missing = [s["Package"] for s in stanzas if any(f not in s for f in fields)]
        if missing:
            raise BundleError("%s: the Packages index lacks Filename or SHA256 for %s" % (item["os"], ", ".join(missing)))
        result = [dict((f, s[f]) for f in fields) for s in stanzas]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _atomic_write(path, json.dumps(result, indent=1).encode())
        return result

    # -- images --------------------------------------------------------------------------------

    def _registry(self, base):
        if base not in self._registries:
            host = oci.parse_base(base)[1]
            auth = self.registry_auth.get(base) or self.registry_auth.get(host) or {}
            self._registries[base] = oci.Registry(base, username=auth.get("username"),
                                                  password=auth.get("password"), ca_file=self.ca_file,
                                                  timeout=self.timeout)
        return self._registries[base]

    def blob_path(self, digest):
        return os.path.join(self.cache, "blobs", "sha256", digest.split(":", 1)[1])

    def _cached_blob(self, digest):
        path = self.blob_path(digest)
        if os.path.exists(path):
            self.stats["blobs_cached"] += 1
            return path
        return None

    def _manifest(self, registry, repository, digest):
        """A manifest or index by digest, from the blob cache or the registry."""
        path = self._cached_blob(digest)
        if path:
            with open(path, "rb") as handle:
                data = handle.read()
        else:
            data, dummy, dummy2 = registry.get_manifest(repository, digest)
            self._store(digest, data)
            self.stats["bytes_downloaded"] += len(data)
            self.stats["blobs_downloaded"] += 1
        return data, json.loads(data.decode("utf-8"))

    def _store(self, digest, data):
        path = self.blob_path(digest)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "wb") as handle:
            handle.write(data)
        os.replace(path + ".tmp", path)

    def _resolve(self, registry, item):
        """Tag -> digest, cached by pull location (use refresh to ask again)."""
        refs = os.path.join(self.cache, "refs.json")
        known = {}
        if os.path.exists(refs):
            with open(refs, encoding="utf-8") as handle:
                known = json.load(handle)
        key = "%s/%s:%s" % (item["registry"], item["repository"], item["tag"])
        if key in known and not self.refresh and os.path.exists(self.blob_path(known[key])):
            return known[key]
        data, dummy, digest = registry.get_manifest(item["repository"], item["tag"])
        self.stats["bytes_downloaded"] += len(data)
        self._store(digest, data)
        known[key] = digest
        with open(refs + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(known, handle, indent=1, sort_keys=True)
        os.replace(refs + ".tmp", refs)
        return digest

    def fetch_image(self, item, pin=None):
        """Pull one planned image into the blob cache, narrowed to the architecture.
        Returns its BOM entry."""
        registry = self._registry(item["registry"])
        pins = [p for p in (item.get("digest"), pin) if p]
        if len(set(pins)) > 1:
            raise BundleError("%s: pinned digests disagree: %s" % (item["ref"], ", ".join(pins)))
        try:
            digest = pins[0] if pins else self._resolve(registry, item)
            data, top = self._manifest(registry, item["repository"], digest)
            media_type = top.get("mediaType") or (oci.MEDIA_OCI_INDEX if "manifests" in top else oci.MEDIA_OCI_MANIFEST)
            if "manifests" in top:
                desc = oci.platform_manifest(top, "linux", self.arch)
                manifest_digest = desc["digest"]
                dummy, manifest = self._manifest(registry, item["repository"], manifest_digest)
            else:
                manifest_digest, manifest = digest, top
            blobs = oci.manifest_blobs(manifest)
            size = len(data)
            for blob in blobs:
                if not self._cached_blob(blob["digest"]):
                    self.log("pull %s %s" % (item["ref"], blob["digest"]))
                    self.stats["bytes_downloaded"] += registry.fetch_blob(
                        item["repository"], blob["digest"], self.blob_path(blob["digest"]))
                    self.stats["blobs_downloaded"] += 1
                size += blob.get("size", 0)
        except oci.RegistryError as exc:
            raise BundleError("image %s (from %s): %s" % (item["ref"], item["registry"], exc))
        return {
            "name": item["name"], "ref": item["ref"], "digest": digest, "mediaType": media_type,
            "platform": "linux/%s" % self.arch, "manifest": manifest_digest,
            # What the layout holds below the top digest: the platform manifest (for an index),
            # its config and layers.
            "blobs": ([manifest_digest] if manifest_digest != digest else []) + [b["digest"] for b in blobs],
            "size": size,
        }

    def close(self):
        for registry in self._registries.values():
            registry.close()


def _pins_from(path):
    """Pins from a previous BOM: {file path or image ref: sha256 or digest}."""
    with open(path, encoding="utf-8") as handle:
        bom = json.load(handle)
    pins = {f["path"]: f["sha256"] for f in bom.get("files", []) + bom.get("packages", [])}
    pins.update((i["ref"], i["digest"]) for i in bom.get("images", []))
    return pins


def file_path(item):
    return "%s/%s/%s" % (FILES_DIR, item["name"], item["file"])


def package_path(os_id, filename):
    """A .deb's member: files/packages/<os id>/<file name>, the os id as the node role computes
    it on a host (``ansible_distribution | lower ~ '-' ~ ansible_distribution_major_version``)."""
    return "%s/packages/%s/%s" % (FILES_DIR, os_id, filename.rsplit("/", 1)[-1])


def build(plan, dest, cluster_name, kubernetes_version, cache=None, arch="amd64", pins=None,
          pins_from=None, compression="none", force=False, ca_file=None, registry_auth=None,
          refresh=False, log=None, now=None, signing_key=None, public_key=None):
    """Build (or keep, when identical) the bundle of one plan in ``dest``, signed with the
    private key file ``signing_key`` when given (checked against ``public_key``, the cluster
    file's ``bundle.publicKey``, when that file is on this machine). Returns a result dict with
    the archive, its sha256, the signature, the BOM and figures."""
    started = time.monotonic()
    for item in plan.get("packages", []):  # before any download: a missing gpgv is no surprise at the end
        try:
            debian_archive.signature_tools(item["keyring"])
        except debian_archive.ArchiveError as exc:
            raise BundleError("%s: %s" % (item["os"], exc))
    # Likewise a signing key that cannot sign (a passphrase without ssh-agent) or that the
    # air-gapped side would not trust.
    signer = signing_fingerprint(signing_key, public_key) if signing_key else None
    cache = cache or os.path.join(dest, "cache")
    pin_map = dict(_pins_from(pins_from)) if pins_from else {}
    pin_map.update(pins or {})
    builder = Builder(cache, arch=arch, ca_file=ca_file, registry_auth=registry_auth,
                      refresh=refresh, log=log)
    files, images, members, packages, os_releases = [], [], [], [], []
    try:
        for item in plan["files"]:
            path = file_path(item)
            local, digest, size = builder.fetch_file(item, pin_map.get(path) or pin_map.get(item["name"]))
            files.append({"name": item["name"], "version": item["version"], "arch": item["arch"],
                          "path": path, "sha256": digest, "size": size, "url": item["url"]})
            members.append((path, local))
        for item in plan["images"]:
            entry = builder.fetch_image(item, pin_map.get(item["ref"]))
            images.append(entry)
        for item in plan.get("packages", []):
            os_entry, entries, package_members = builder.fetch_packages(item, pin_map)
            os_releases.append(os_entry)
            packages.extend(entries)
            members.extend(package_members)
    finally:
        builder.close()

    layout_index = {"schemaVersion": 2, "mediaType": oci.MEDIA_OCI_INDEX, "manifests": []}
    blobs = {}
    for entry in images:
        top = builder.blob_path(entry["digest"])
        layout_index["manifests"].append({
            "mediaType": entry["mediaType"], "digest": entry["digest"], "size": os.path.getsize(top),
            "annotations": {REF_ANNOTATION: entry["ref"].rsplit(":", 1)[1], NAME_ANNOTATION: entry["ref"]},
        })
        for digest in [entry["digest"]] + entry["blobs"]:
            blobs[digest] = builder.blob_path(digest)
    index_bytes = json.dumps(layout_index, indent=1, sort_keys=True).encode()
    layout_bytes = b'{"imageLayoutVersion": "1.0.0"}\n'

    bom = {
        "apiVersion": BOM_API, "kind": BOM_KIND, "cluster": cluster_name,
        "kubernetesVersion": kubernetes_version, "os": "linux", "arch": arch,
        "cni": plan.get("cni"), "files": files, "images": images,
        "layout": {"path": LAYOUT, "index": "sha256:" + hashlib.sha256(index_bytes).hexdigest()},
        "osReleases": os_releases, "packages": packages,
    }
    name = archive_name(cluster_name, kubernetes_version, arch, compression)
    archive = os.path.join(dest, name)
    bom_path = archive + ".bom.json"
    sum_path = checksum_file(archive)
    sig_path = signature_file(archive)
    changed = True
    if not force and all(os.path.exists(p) for p in (archive, bom_path, sum_path)):
        with open(bom_path, encoding="utf-8") as handle:
            old = json.load(handle)
        with open(sum_path, encoding="utf-8") as handle:
            recorded = handle.read().split()[0]
        if dict(old, created=None) == dict(bom, created=None) and sha256_file(archive) == recorded:
            bom, archive_sha, changed = old, recorded, False
    if changed:
        bom["created"] = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
        bom_bytes = (json.dumps(bom, indent=1, sort_keys=True) + "\n").encode()
        os.makedirs(dest, exist_ok=True)
        if os.path.exists(sig_path):  # an earlier archive's: never left next to a new one
            os.unlink(sig_path)
        archive_sha = _write_archive(archive, compression, bom_bytes, members, layout_bytes, index_bytes, blobs)
        _atomic_write(bom_path, bom_bytes)
        _atomic_write(sum_path, ("%s  %s\n" % (archive_sha, name)).encode())
    if signer:
        with open(sum_path, "rb") as handle:
            checksum = handle.read()
        if _signed_by(sig_path, checksum) != signer:  # Ed25519 signatures are deterministic anyway
            _atomic_write(sig_path, sign(signing_key, checksum))
            changed = True
    stats = dict(builder.stats)
    return {
        "changed": changed, "archive": archive, "sha256": archive_sha, "bom_path": bom_path,
        "sha256_path": sum_path, "signature_path": sig_path if os.path.exists(sig_path) else None,
        "signed_by": _signed_by(sig_path, _read_bytes(sum_path)),
        "bom": bom, "size": os.path.getsize(archive),
        "file_count": len(files), "image_count": len(images), "blob_count": len(blobs),
        "package_count": len(packages), "os_releases": [o["os"] for o in os_releases],
        "member_count": 3 + len(members) + len(blobs) + 1, "seconds": round(time.monotonic() - started, 1),
        "stats": stats, "cache": os.path.abspath(cache),
    }


def _atomic_write(path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


class _HashingWriter(io.RawIOBase):
    def __init__(self, raw):
        super().__init__()
        self.raw = raw
        self.hash = hashlib.sha256()

    def writable(self):
        return True

    def write(self, data):
        self.hash.update(data)
        return self.raw.write(data)


def _write_archive(archive, compression, bom_bytes, members, layout_bytes, index_bytes, blobs):
    """A reproducible tar (sorted, fixed owner and mtime); returns its sha256."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(archive), prefix=".bundle-")
    try:
        with os.fdopen(fd, "wb") as raw:
            hashing = _HashingWriter(raw)
            out = gzip.GzipFile(fileobj=hashing, mode="wb", mtime=0, compresslevel=6) \
                if compression == "gzip" else hashing
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                def add_bytes(name, data):
                    info = tarfile.TarInfo(name)
                    info.size, info.mode, info.mtime = len(data), 0o644, 0
                    tar.addfile(info, io.BytesIO(data))

                def add_file(name, path, mode=0o644):
                    info = tarfile.TarInfo(name)
                    info.size, info.mode, info.mtime = os.path.getsize(path), mode, 0
                    with open(path, "rb") as handle:
                        tar.addfile(info, handle)

                add_bytes(BOM_NAME, bom_bytes)
                for name, path in sorted(members):
                    add_file(name, path, 0o755 if not name.endswith((".tgz", ".tar.gz", ".yaml", ".deb")) else 0o644)
                add_bytes(LAYOUT + "/oci-layout", layout_bytes)
                add_bytes(LAYOUT + "/index.json", index_bytes)
                for digest, path in sorted(blobs.items()):
                    add_file("%s/blobs/sha256/%s" % (LAYOUT, digest.split(":", 1)[1]), path)
            if compression == "gzip":
                out.close()
        os.chmod(tmp, 0o644)
        os.replace(tmp, archive)
        return hashing.hash.hexdigest()
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def human_size(size):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return "%.1f %s" % (size, unit) if unit != "B" else "%d B" % size
        size /= 1024.0
    return "%d B" % size


def summary(result):
    stats = result["stats"]
    return ("bundle %s: %d files, %d images (%d blobs), %d OS packages (%s), %s; downloaded %d bytes "
            "(%d files, %d blobs, %d packages; %d files, %d blobs and %d packages from the cache) in %.1fs%s" % (
                result["archive"], result["file_count"], result["image_count"], result["blob_count"],
                result.get("package_count", 0), ", ".join(result.get("os_releases", [])) or "no OS release",
                human_size(result["size"]), stats["bytes_downloaded"], stats["files_downloaded"],
                stats["blobs_downloaded"], stats["packages_downloaded"], stats["files_cached"],
                stats["blobs_cached"], stats["packages_cached"], result["seconds"],
                "" if result["changed"] else "; archive unchanged")) + (
        "; signed by %s" % result["signed_by"] if result.get("signed_by") else "; NOT SIGNED")


# -- the bundle's signature (OpenSSH signatures, ssh-keygen -Y) -------------------------------

# What is signed is the archive's checksum file, "<sha256>  <archive name>": the archive's sha256
# covers every byte of it, the BOM inside included. The signature sits next to it. A namespace of
# our own keeps a signature made for something else (a git commit, a file) from passing as a
# bundle's; the principal only names the one entry of the allowed-signers file made from
# bundle.publicKey.
SIGNATURE_NAMESPACE = "airgap.kubernetes-bundle"
_PRINCIPAL = "bundle-signer"
_KEY_LINE = re.compile(r"^((?:ssh|ecdsa|sk)-[A-Za-z0-9@.-]+)\s+([A-Za-z0-9+/]+={0,3})(\s.*)?$")
_FINGERPRINT = re.compile(r"\b(SHA256:[A-Za-z0-9+/]+)")
_SIGN_HOW = "-e bundle_signing_key=KEY with the airgap.kubernetes.bundle playbook"


def checksum_file(archive):
    """The archive's checksum file: ``<sha256>  <archive name>``."""
    return archive + ".sha256"


def signature_file(archive):
    """The archive's signature: the OpenSSH signature of its checksum file."""
    return checksum_file(archive) + ".sig"


def _read_bytes(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _ssh_keygen(args, data=b""):
    """Run ssh-keygen; returns (rc, stdout, stderr). Never interactive: no terminal, no askpass,
    so a key behind a passphrase fails at once instead of waiting for one (ssh-agent still
    signs)."""
    env = dict(os.environ, SSH_ASKPASS_REQUIRE="never")
    env.pop("DISPLAY", None)
    try:
        proc = subprocess.run(["ssh-keygen"] + args, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env, start_new_session=True, timeout=120, check=False)
    except OSError as exc:
        raise BundleError("cannot run ssh-keygen (%s); the controller needs it to sign and check the bundle's "
                          "signature (Debian/Ubuntu: package openssh-client)" % exc)
    except subprocess.TimeoutExpired:
        raise BundleError("ssh-keygen %s did not finish in 120 s" % " ".join(args[:2]))
    return (proc.returncode, proc.stdout.decode("utf-8", "replace"),
            " ".join(line.strip() for line in proc.stderr.decode("utf-8", "replace").splitlines()
                     if line.strip() and line.strip() != "Signing data on standard input"))


def sign(key, data):
    """An OpenSSH signature of ``data`` by the private key file ``key`` (or by ssh-agent, when it
    holds that key). Nothing of the key is logged, and no passphrase is ever asked for."""
    if not os.path.isfile(key):
        raise BundleError("the signing key %s does not exist" % key)
    rc, out, err = _ssh_keygen(["-Y", "sign", "-f", key, "-n", SIGNATURE_NAMESPACE], data)
    if rc != 0 or "BEGIN SSH SIGNATURE" not in out:
        if "passphrase" in err:
            raise BundleError("the signing key %s is protected by a passphrase and ssh-agent does not hold it: "
                              "run ssh-add %s first (the collection never asks for a passphrase)" % (key, key))
        raise BundleError("cannot sign with %s: %s" % (key, err or "ssh-keygen exited with %d" % rc))
    return out.encode()


def _signed_by(sig_path, data):
    """The fingerprint of the key that made the signature in ``sig_path`` over ``data``, whoever
    it is (no trust implied), or None when there is no such valid signature."""
    if data is None or not os.path.exists(sig_path):
        return None
    rc, out, dummy = _ssh_keygen(["-Y", "check-novalidate", "-n", SIGNATURE_NAMESPACE, "-s", sig_path], data)
    found = _FINGERPRINT.search(out) if rc == 0 else None
    return found.group(1) if found else None


def _fingerprints(public_key):
    """The fingerprints of the keys in a public key file (``ssh-keygen -l``), or None."""
    rc, out, dummy = _ssh_keygen(["-l", "-f", public_key])
    found = _FINGERPRINT.findall(out) if rc == 0 else []
    return found or None


def signing_fingerprint(key, public_key=None):
    """Check, before anything is built, that ``key`` signs (a test signature) and, when the
    cluster file's ``public_key`` is on this machine, that the air-gapped side will trust it.
    Returns the key's fingerprint."""
    probe = b"airgap.kubernetes: can this key sign?\n"
    fd, tmp = tempfile.mkstemp(prefix="airgap-probe-", suffix=".sig")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(sign(key, probe))
        fingerprint = _signed_by(tmp, probe)
    finally:
        os.unlink(tmp)
    if public_key and os.path.isfile(public_key):
        trusted = _fingerprints(public_key) or []
        if fingerprint not in trusted:
            raise BundleError("the signing key %s (%s) is not the key in bundle.publicKey %s (%s): the air-gapped "
                              "side would refuse the bundle. Sign with that key's private half, or set "
                              "bundle.publicKey to %s.pub"
                              % (key, fingerprint, public_key, ", ".join(trusted) or "no key", key))
    return fingerprint


def _trusted_keys(public_key):
    """The allowed-signers lines for the keys of a public key file; raises BundleError naming the
    file and the line at fault."""
    text = _read_bytes(public_key)
    if text is None:
        raise BundleError("cannot read it")
    text = text.decode("utf-8", "replace")
    if "PRIVATE KEY" in text:
        raise BundleError("it is a private key: name its public half (the .pub file) instead; the private key "
                          "stays on the connected side")
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _KEY_LINE.match(line)
        if not match:
            raise BundleError("line %d is not an OpenSSH public key (<type> <base64> [comment], as in the .pub file "
                              "ssh-keygen writes)" % number)
        lines.append('%s namespaces="%s" %s %s' % (_PRINCIPAL, SIGNATURE_NAMESPACE, match.group(1), match.group(2)))
    if not lines:
        raise BundleError("it holds no public key")
    if not _fingerprints(public_key):
        raise BundleError("ssh-keygen does not read it as an OpenSSH public key")
    return lines


class Trust(collections.namedtuple("Trust", "problems warnings signer checksum")):
    """What the signature check found: ``problems`` (each naming the file and the setting that
    fixes it), ``warnings`` (an unsigned bundle let through by bundle.allowUnsigned), ``signer``
    (the fingerprint of the trusted key that signed it, or None) and ``checksum``, the checksum
    file's text as it was checked (None when missing)."""


def check_signature(archive, public_key=None, allow_unsigned=False, cluster_file=None):
    """The signature of a bundle archive's checksum file, against the public key file the cluster
    file names (``bundle.publicKey``). Refuses a missing public key, a missing signature (unless
    ``allow_unsigned``), a signature by another key and one over other content. Reads only the
    small files next to the archive, never the archive."""
    name = os.path.basename(archive)
    where = " in %s" % cluster_file if cluster_file else ""
    sum_path, sig_path = checksum_file(archive), signature_file(archive)
    checksum = _read_bytes(sum_path)
    text = checksum.decode("utf-8", "replace") if checksum is not None else None
    if not public_key and not allow_unsigned:
        return Trust(["%s: bundle.publicKey is not set%s, so nothing proves who built the bundle: set it to the "
                      "public half (.pub) of the key the bundle is signed with (%s), or set bundle.allowUnsigned: "
                      "true to accept an unsigned bundle" % (name, where, _SIGN_HOW)], [], None, text)
    if checksum is None:
        return Trust(["%s: its checksum file %s is missing; carry it across with the archive (and its signature "
                      "%s)" % (name, os.path.basename(sum_path), os.path.basename(sig_path))], [], None, None)
    signed = os.path.exists(sig_path)
    if not signed and allow_unsigned:
        return Trust([], ["%s is NOT SIGNED and bundle.allowUnsigned is true%s: nothing proves who built it, its "
                          "checksum only shows that it arrived as written. Sign bundles (%s) and set "
                          "bundle.publicKey instead" % (name, where, _SIGN_HOW)], None, text)
    if not signed:
        return Trust(["%s: its signature %s is missing: sign the bundle on the connected side (%s) and carry the "
                      ".sig file with it, or set bundle.allowUnsigned: true%s to accept an unsigned bundle"
                      % (name, os.path.basename(sig_path), _SIGN_HOW, where)], [], None, text)
    if not public_key:
        return Trust([], ["%s: its signature %s is NOT CHECKED: bundle.publicKey is not set%s and "
                          "bundle.allowUnsigned is true; set bundle.publicKey to the signing key's public half"
                          % (name, os.path.basename(sig_path), where)], None, text)
    try:
        allowed = _trusted_keys(public_key)
    except BundleError as exc:
        return Trust(["bundle.publicKey %s%s: %s" % (public_key, where, exc)], [], None, text)
    fd, allowed_path = tempfile.mkstemp(prefix="airgap-allowed-signers-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(allowed) + "\n")
        rc, out, err = _ssh_keygen(["-Y", "verify", "-f", allowed_path, "-I", _PRINCIPAL, "-n", SIGNATURE_NAMESPACE,
                                    "-s", sig_path], checksum)
    finally:
        os.unlink(allowed_path)
    found = _FINGERPRINT.search(out)
    if rc == 0 and found:
        return Trust([], [], found.group(1), text)
    other = _signed_by(sig_path, checksum)
    if other:
        return Trust(["%s: signed by the key %s, not by the key bundle.publicKey names%s (%s, %s): the bundle "
                      "comes from someone else. Rebuild and sign it with the trusted key, or, if you trust %s, "
                      "point bundle.publicKey at its public half"
                      % (os.path.basename(sig_path), other, where, public_key,
                         ", ".join(_fingerprints(public_key) or []), other)], [], None, text)
    detail = " ".join(part for part in (out.strip(), err) if part and part != "Could not verify signature.")
    return Trust(["%s: the signature does not verify over %s (%s): the checksum file was changed after it was "
                  "signed, or the signature is another file's. Take both again from the connected side, where the "
                  "bundle playbook signs them (%s)" % (os.path.basename(sig_path), os.path.basename(sum_path),
                                                       detail or "ssh-keygen exited with %d" % rc, _SIGN_HOW)],
                 [], None, text)


# -- verification (the preflight, on the controller) ------------------------------------------

def archive_name(cluster_name, kubernetes_version, arch, compression="none"):
    return "%s-bundle-%s-%s%s" % (cluster_name, kubernetes_version, arch,
                                  ".tar.gz" if compression == "gzip" else ".tar")


def cluster_archive(cluster, arch):
    """The archive of a resolved cluster config: the one in its ``bundle.path`` (``.tar`` or
    ``.tar.gz``), or the ``.tar`` expected there when there is none yet."""
    directory, name, version = cluster["bundle"]["path"], cluster["name"], cluster["kubernetesVersion"]
    return find_archive(directory, name, version, arch) or os.path.join(directory, archive_name(name, version, arch))


def find_archive(directory, cluster_name, kubernetes_version, arch):
    """The archive of a cluster in a bundle directory (.tar or .tar.gz), or None."""
    for compression in ("none", "gzip"):
        path = os.path.join(directory, archive_name(cluster_name, kubernetes_version, arch, compression))
        if os.path.exists(path):
            return path
    return None


def _hash_member(tar, member):
    handle = tar.extractfile(member)
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


# The archive's top-level entries; nothing else may be in it.
_TOP_LEVEL = (BOM_NAME, FILES_DIR, LAYOUT)


def _shown(name):
    """A member name as a message shows it: quoted when it holds anything unprintable."""
    return name if name.isprintable() and name.strip() == name and name else repr(name)


def member_problems(member):
    """Why a tar member has no place in a bundle (an empty list when it has one). The build
    writes regular files only, owned by 0:0, mode 0644 or 0755, below bom.json, files/ and
    images/; directories are allowed. Anything that could write outside the destination, link
    to something else, make a device or keep privileges when extracted as root (GNU tar on the
    registry host restores owners and modes) is refused, whatever the BOM says."""
    name, problems = member.name, []
    parts = name.split("/")
    if name.startswith("/"):
        problems.append("has an absolute path")
    if ".." in parts:
        problems.append("has a '..' component")
    if not name.startswith("/") and ("" in parts or "." in parts):
        problems.append("is not a plain relative path (empty or '.' components)")
    if parts[0] not in _TOP_LEVEL or (parts[0] == BOM_NAME and len(parts) > 1):
        problems.append("is outside %s, %s/ and %s/" % (BOM_NAME, FILES_DIR, LAYOUT))
    if member.issym():
        problems.append("is a symbolic link (to %s)" % _shown(member.linkname))
    elif member.islnk():
        problems.append("is a hard link (to %s)" % _shown(member.linkname))
    elif member.ischr() or member.isblk():
        problems.append("is a device node")
    elif member.isfifo():
        problems.append("is a FIFO")
    elif not (member.isreg() or member.isdir()):
        problems.append("is not a regular file or directory (tar type %r)" % member.type)
    elif member.isdir() and name == BOM_NAME:
        problems.append("is a directory")
    elif member.isreg() and parts[0] in (FILES_DIR, LAYOUT) and len(parts) == 1:
        problems.append("is a file, not a directory")
    if member.mode & 0o7000:
        problems.append("has set-user-ID, set-group-ID or sticky bits (mode %04o)" % member.mode)
    if member.mode & 0o002:
        problems.append("is world-writable (mode %04o)" % member.mode)
    if member.uid or member.gid or member.uname not in ("", "root") or member.gname not in ("", "root"):
        problems.append("is owned by %s:%s (uid %d, gid %d), not root" % (
            _shown(member.uname or "-"), _shown(member.gname or "-"), member.uid, member.gid))
    return problems


Verified = collections.namedtuple("Verified", "bom problems warnings signer")


def verify(archive, plan=None, kubernetes_version=None, arch=None, cni_plugin=None, public_key=None,
           allow_unsigned=False, cluster_file=None):
    """Check a bundle archive: first its signature (``check_signature``: the checksum file signed
    by the key in ``public_key``, the cluster file's bundle.publicKey), before the archive is read;
    a bundle that fails it is not read at all. Then every member against the policy
    (``member_problems``) and no member twice, the archive's sha256 against the signed checksum
    file, every member against the BOM (files and OS packages by sha256, blobs by digest), every
    image's blobs present, and, given a cluster's plan, that the BOM covers every file, image, the
    CNI and, for every OS release, every package name it needs.

    Returns ``Verified(bom or None, problems, warnings, signer)``; each problem names the
    archive, member, file, package, image or CNI at fault, or the signature file and the setting
    that fixes it; ``warnings`` say that an unsigned bundle was let through (bundle.allowUnsigned);
    ``signer`` is the fingerprint of the trusted key that signed the bundle."""
    if not os.path.exists(archive):
        return Verified(None, ["%s: no such bundle archive; build it with the airgap.kubernetes.bundle playbook"
                               % archive], [], None)
    trust = check_signature(archive, public_key, allow_unsigned, cluster_file)
    if trust.problems:
        return Verified(None, trust.problems, trust.warnings, None)
    bom, problems = _check_archive(archive, trust.checksum, plan, kubernetes_version, arch, cni_plugin)
    return Verified(bom, problems, trust.warnings, trust.signer)


def _check_archive(archive, checksum, plan, kubernetes_version, arch, cni_plugin):
    """verify() once the checksum file's text is trusted: (bom or None, problems)."""
    problems = []
    name = os.path.basename(archive)
    sum_name = os.path.basename(checksum_file(archive))
    fields = checksum.split()
    if len(fields) != 2 or not _HEX.match(fields[0].lower()):
        problems.append("%s: %s is not '<sha256>  <archive name>'" % (name, sum_name))
    elif fields[1].lstrip("*") != name:
        problems.append("%s: %s is the checksum of %s, not of this archive" % (name, sum_name, _shown(fields[1])))
    else:
        actual = sha256_file(archive)
        if fields[0].lower() != actual:
            problems.append("%s: sha256 is %s, %s says %s (the archive changed or is incomplete)"
                            % (name, actual, sum_name, fields[0].lower()))
    bom, seen, names, refused_names = None, {}, set(), set()
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                refused = member_problems(member)
                if member.name in names:
                    refused.append("appears more than once in the archive")
                names.add(member.name)
                problems.extend("%s: member %s %s" % (name, _shown(member.name), why) for why in refused)
                if refused:
                    refused_names.add(member.name)
                if refused or not member.isreg():
                    continue
                if member.name == BOM_NAME:
                    bom = json.load(tar.extractfile(member))
                    continue
                seen[member.name] = _hash_member(tar, member)
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        return bom, problems + ["%s: cannot read the archive: %s" % (name, exc)]
    if bom is None:
        return None, problems + ["%s: has no %s" % (name, BOM_NAME)]
    if not isinstance(bom, dict) or bom.get("kind") != BOM_KIND:
        return None, problems + ["%s: %s is not a bundle manifest" % (name, BOM_NAME)]

    expected = {}
    for entry in bom.get("files", []):
        expected[entry["path"]] = (entry["sha256"], "file %s" % entry["path"])
    for entry in bom.get("packages", []):
        expected[entry["path"]] = (entry["sha256"], "package %s %s %s (%s)" % (
            entry["os"], entry["name"], entry["version"], entry["path"]))
    for entry in bom.get("images", []):
        for digest in [entry["digest"]] + entry.get("blobs", []):
            path = "%s/blobs/sha256/%s" % (LAYOUT, digest.split(":", 1)[1])
            expected.setdefault(path, (digest.split(":", 1)[1], "image %s blob %s" % (entry["ref"], digest)))
    for path, (digest, what) in sorted(expected.items()):
        if path in refused_names and path not in seen:
            continue  # named above
        if path not in seen:
            problems.append("%s: %s is missing from the archive" % (name, what))
        elif seen[path] != digest:
            problems.append("%s: %s has sha256 %s, the BOM says %s" % (name, what, seen[path], digest))
    for path in sorted(set(seen) - set(expected) - {LAYOUT + "/oci-layout", LAYOUT + "/index.json"}):
        problems.append("%s: %s is not in the BOM" % (name, path))
    layout_index = bom.get("layout", {}).get("index")
    index_path = LAYOUT + "/index.json"
    if layout_index and seen.get(index_path) != layout_index.split(":", 1)[1]:
        problems.append("%s: %s does not match the BOM" % (name, index_path))

    if kubernetes_version and bom.get("kubernetesVersion") != kubernetes_version:
        problems.append("%s: built for Kubernetes %s, the cluster asks for %s"
                        % (name, bom.get("kubernetesVersion"), kubernetes_version))
    if arch and bom.get("arch") != arch:
        problems.append("%s: built for %s, the cluster needs %s" % (name, bom.get("arch"), arch))
    if plan is not None:
        have_files = dict((f["path"], f) for f in bom.get("files", []))
        for item in plan["files"]:
            path = file_path(item)
            if path not in have_files:
                problems.append("%s: lacks %s %s (%s)" % (name, item["name"], item["version"], path))
            elif item.get("sha256") and have_files[path]["sha256"] != item["sha256"]:
                problems.append("%s: %s has sha256 %s, the collection pins %s"
                                % (name, path, have_files[path]["sha256"], item["sha256"]))
        have_images = dict((i["ref"], i) for i in bom.get("images", []))
        for item in plan["images"]:
            if item["ref"] not in have_images:
                problems.append("%s: lacks the image %s" % (name, item["ref"]))
            elif item.get("digest") and have_images[item["ref"]]["digest"] != item["digest"]:
                problems.append("%s: image %s is %s, the collection pins %s"
                                % (name, item["ref"], have_images[item["ref"]]["digest"], item["digest"]))
        have_os = dict((o["os"], o) for o in bom.get("osReleases", []))
        for item in plan.get("packages", []):
            if item["os"] not in have_os:
                problems.append("%s: lacks the OS packages for %s (%s)" % (name, item["os"], item["suite"]))
                continue
            have = set(p["name"] for p in bom.get("packages", []) if p["os"] == item["os"])
            for package in item["names"]:
                if package not in have:
                    problems.append("%s: lacks the package %s for %s" % (name, package, item["os"]))
    if cni_plugin:
        cni = bom.get("cni") or {}
        if cni.get("plugin") != cni_plugin:
            problems.append("%s: the cluster asks for the CNI plugin %s, the bundle carries %s"
                            % (name, cni_plugin, cni.get("plugin") or "no CNI"))
    return bom, problems


# -- the verified bundle, handed to the phases (the cluster_model action) ----------------------

UNPACKED_DIR = ".unpacked"
_UNPACKED_MARK = ".unpacked"
_VERIFIED_MARK = ".verified"


def recorded_sha256(archive, text=None):
    """The sha256 the archive's checksum file records (``text``: its content, when read already),
    or None."""
    if text is None:
        data = _read_bytes(checksum_file(archive))
        text = data.decode("utf-8", "replace") if data is not None else ""
    value = (text.split() or [""])[0].lower()
    return value if _HEX.match(value) else None


def unpacked_dir(bundle_dir, archive_sha256):
    """Where the controller unpacks a bundle's manifest and files: one directory per archive
    sha256 below the bundle directory, so a new bundle never mixes with an old one."""
    return os.path.join(bundle_dir, UNPACKED_DIR, archive_sha256[:16])


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _unpack(archive, dest):
    """The manifest, the files and the OS packages (not the images: the registry host unpacks
    those). Every member is held to ``member_problems`` again (the archive was verified, but it is
    read anew), and tarfile's 'data' filter extracts without owners, set-id bits or group/other
    write bits."""
    names = set()
    with tarfile.open(archive, mode="r|*") as tar:
        for member in tar:
            refused = member_problems(member)
            if member.name in names:
                refused.append("appears more than once in the archive")
            names.add(member.name)
            if refused:
                raise BundleError("%s: member %s %s" % (os.path.basename(archive), _shown(member.name),
                                                        "; ".join(refused)))
            if member.name != BOM_NAME and not member.name.startswith(FILES_DIR + "/"):
                continue
            tar.extract(member, dest, filter="data")


# The bundle's upstream archives (containerd, the CNI plugins, crictl, the registry) are unpacked
# on the controller, once per bundle, so that hosts receive the files they install (and only
# those), each known by its sha256, instead of an archive to unpack on every host.
MEMBERS_DIR = "members"
_MEMBERS_MARK = "members.json"
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


def _member_name(name):
    """An upstream archive's member name without a leading './'."""
    return name[2:] if name.startswith("./") else name


def upstream_member_problems(member):
    """Why a member of an upstream archive (containerd's, say) cannot be installed from it: the
    same rules as the bundle's own members, except owners (upstream archives carry their
    builders' ids; the hosts' files are root's)."""
    name, problems = _member_name(member.name), []
    parts = name.split("/")
    if member.name.startswith("/"):
        problems.append("has an absolute path")
    if ".." in parts:
        problems.append("has a '..' component")
    if member.issym() or member.islnk():
        problems.append("is a link (to %s)" % _shown(member.linkname))
    elif not (member.isreg() or member.isdir()):
        problems.append("is not a regular file or directory (tar type %r)" % member.type)
    if member.mode & 0o7000:
        problems.append("has set-user-ID, set-group-ID or sticky bits (mode %04o)" % member.mode)
    return problems


def _extract_hashed(tar, member, path, mode):
    """Write a regular member to ``path`` (through a temporary name, then renamed) with ``mode``;
    return its sha256."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle = tar.extractfile(member)
    digest = hashlib.sha256()
    with open(path + ".part", "wb") as out:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
    os.chmod(path + ".part", mode)
    os.replace(path + ".part", path)
    return digest.hexdigest()


def _unpack_members(bom, dest):
    """Unpack every upstream archive of the BOM's files below ``dest``/members/<file name>/ and
    return {file name: {member name: {path, sha256, mode}}}: mode 0755 for a member with any
    execute bit, else 0644."""
    found = {}
    for entry in bom.get("files", []):
        if not entry["path"].endswith(_ARCHIVE_SUFFIXES):
            continue
        archive = os.path.join(dest, entry["path"])
        root = os.path.join(dest, MEMBERS_DIR, entry["name"])
        members = {}
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                refused = upstream_member_problems(member)
                name = _member_name(member.name)
                if refused:
                    raise BundleError("%s (bundle file %s): member %s %s" % (
                        os.path.basename(archive), entry["name"], _shown(member.name), "; ".join(refused)))
                if not member.isreg():
                    continue
                if name in members:
                    raise BundleError("%s (bundle file %s): member %s appears more than once" % (
                        os.path.basename(archive), entry["name"], _shown(member.name)))
                path = os.path.join(root, name)
                mode = 0o755 if member.mode & 0o111 else 0o644
                members[name] = {"path": path, "sha256": _extract_hashed(tar, member, path, mode),
                                 "mode": "%04o" % mode}
        found[entry["name"]] = members
    return found


def members(bom, dest):
    """The upstream archives' members, unpacked on the controller once per bundle (a mark file
    holds what was unpacked); see ``_unpack_members``."""
    mark = os.path.join(dest, _MEMBERS_MARK)
    recorded = _read_json(mark)
    if isinstance(recorded, dict) and all(os.path.isfile(m["path"]) for f in recorded.values()
                                          for m in f.values()):
        return recorded
    found = _unpack_members(bom, dest)
    _atomic_write(mark, json.dumps(found, sort_keys=True).encode())
    return found


_LAYOUT_MARK = "layout.json"


def _unpack_layout(archive, layout, dest):
    """The OCI image layout's files (below ``layout``/ in the archive) unpacked below ``dest``, each
    member held to ``member_problems`` again; returns {path inside the layout: {path, sha256,
    mode}}. A blob whose content does not hash to its name is refused."""
    found = {}
    prefix = layout + "/"
    with tarfile.open(archive, mode="r:*") as tar:
        for member in tar:
            refused = member_problems(member)
            if refused:
                raise BundleError("%s: member %s %s" % (os.path.basename(archive), _shown(member.name),
                                                        "; ".join(refused)))
            if not member.isreg() or not member.name.startswith(prefix):
                continue
            inside = member.name[len(prefix):]
            if inside in found:
                raise BundleError("%s: member %s appears more than once" % (os.path.basename(archive),
                                                                            _shown(member.name)))
            path = os.path.join(dest, member.name)
            sha = _extract_hashed(tar, member, path, 0o644)
            if inside.startswith("blobs/sha256/") and os.path.basename(inside) != sha:
                raise BundleError("%s: blob %s has sha256 %s" % (os.path.basename(archive), _shown(member.name), sha))
            found[inside] = {"path": path, "sha256": sha, "mode": "0644"}
    return found


def layout_files(bom, archive, dest):
    """The images' OCI layout, unpacked on the controller once per bundle (a mark file holds what
    was unpacked), so that the registry host receives it file by file, each by its sha256 (a blob's
    is its name), and nothing else of the bundle; see ``_unpack_layout``."""
    mark = os.path.join(dest, _LAYOUT_MARK)
    recorded = _read_json(mark)
    if isinstance(recorded, dict) and recorded and all(os.path.isfile(f["path"]) for f in recorded.values()):
        return recorded
    found = _unpack_layout(archive, bom.get("layout", {}).get("path", LAYOUT), dest)
    _atomic_write(mark, json.dumps(found, sort_keys=True).encode())
    return found


def _trust_key(archive, public_key, allow_unsigned):
    """What the signature check depended on: the checksum file, the signature and the public key
    (their bytes), and allowUnsigned; a stamp made under other ones does not count."""
    parts = [_read_bytes(path) if path else None for path in (checksum_file(archive), signature_file(archive),
                                                              public_key)]
    return [hashlib.sha256(part).hexdigest() if part is not None else None for part in parts] + [bool(allow_unsigned)]


Prepared = collections.namedtuple("Prepared", "bom sha256 dir changed problems warnings signer")


def prepare(archive, directory, plan, kubernetes_version, arch, cni_plugin, recheck=False, public_key=None,
            allow_unsigned=False, cluster_file=None):
    """Verify a bundle archive for a cluster's plan and unpack its manifest and files on the
    controller, for the phases. The signature is checked at every call (``check_signature``: it
    reads only the small files next to the archive). The full ``verify`` runs once per archive
    file, plan and signature: a stamp written after it (path, size, mtime, inode, plan, and the
    checksum file, signature, public key and allowUnsigned it was trusted under) lets later phases
    of the same run, and later runs, skip re-reading an archive that has not changed (``recheck``
    reads it all the same, as the preflight does). The BOM returned is the one read from the
    archive itself, never the sidecar.

    Returns ``Prepared(bom, sha256, unpacked directory, changed, problems, warnings, signer)``."""
    if not os.path.exists(archive):
        verified = verify(archive)
        return Prepared(None, None, None, False, verified.problems, [], None)
    trust = check_signature(archive, public_key, allow_unsigned, cluster_file)
    if trust.problems:
        return Prepared(None, None, None, False, trust.problems, trust.warnings, None)
    sha = recorded_sha256(archive, trust.checksum)
    key = hashlib.sha256(json.dumps([plan, kubernetes_version, arch, cni_plugin,
                                     _trust_key(archive, public_key, allow_unsigned)],
                                    sort_keys=True).encode()).hexdigest()
    dest = unpacked_dir(directory, sha) if sha else None

    def stamp():
        info = os.stat(archive)
        return {"archive": os.path.abspath(archive), "sha256": sha, "size": info.st_size,
                "mtime_ns": info.st_mtime_ns, "inode": info.st_ino, "plan": key}

    if dest and not recheck:
        if (_read_json(os.path.join(dest, _VERIFIED_MARK)) == stamp()
                and os.path.exists(os.path.join(dest, _UNPACKED_MARK))):
            bom = _read_json(os.path.join(dest, BOM_NAME))
            if bom is not None:
                return Prepared(bom, sha, dest, False, [], trust.warnings, trust.signer)
    verified = verify(archive, plan, kubernetes_version=kubernetes_version, arch=arch, cni_plugin=cni_plugin,
                      public_key=public_key, allow_unsigned=allow_unsigned, cluster_file=cluster_file)
    if verified.problems:
        return Prepared(verified.bom, sha, None, False, verified.problems, verified.warnings, None)
    # verify() passed, so the archive's sha256 is the one its checksum file records.
    changed = not os.path.exists(os.path.join(dest, _UNPACKED_MARK))
    if changed:
        os.makedirs(dest, exist_ok=True)
        _unpack(archive, dest)
        _atomic_write(os.path.join(dest, _UNPACKED_MARK), (sha + "\n").encode())
    _atomic_write(os.path.join(dest, _VERIFIED_MARK), json.dumps(stamp()).encode())
    return Prepared(_read_json(os.path.join(dest, BOM_NAME)), sha, dest, changed, [], verified.warnings,
                    verified.signer)


def facts(bom, archive, sha, dest, signer=None):
    """The verified bundle as the roles take it: the fingerprint of the key that signed it (None
    for an unsigned bundle let through by bundle.allowUnsigned), files by name (controller paths in the unpacked
    directory, with version, architecture, sha256 and, for an upstream archive, its members
    unpacked on the controller by member name: path, sha256, mode), the images' OCI layout unpacked
    on the controller (``layout_files``: path inside the layout -> path, sha256, mode), images by name as ``ref@digest``, every
    image digest (index and platform manifest) for the health check, and OS packages by OS id."""
    packages = {}
    for entry in bom.get("packages", []):
        packages.setdefault(entry["os"], []).append(
            {"name": entry["name"], "path": os.path.join(dest, entry["path"]), "sha256": entry["sha256"]})
    unpacked = members(bom, dest)
    digests = set()
    for entry in bom["images"]:
        digests.add(entry["digest"])
        if entry.get("manifest"):
            digests.add(entry["manifest"])
    return {
        "archive": archive, "sha256": sha, "dir": dest, "signed_by": signer,
        "kubernetes_version": bom["kubernetesVersion"], "arch": bom["arch"],
        "layout": bom.get("layout", {}).get("path", LAYOUT),
        "layout_files": layout_files(bom, archive, dest),
        "files": {f["name"]: {"path": os.path.join(dest, f["path"]), "version": f["version"],
                              "arch": f["arch"], "sha256": f["sha256"],
                              "members": unpacked.get(f["name"], {})} for f in bom["files"]},
        "images": {i["name"]: "%s@%s" % (i["ref"], i["digest"]) for i in bom["images"]},
        "image_refs": {i["name"]: i["ref"] for i in bom["images"]},
        "digests": sorted(digests),
        "packages": packages,
    }
