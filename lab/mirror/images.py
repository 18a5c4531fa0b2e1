"""Image layers and pushes for the lab mirror, without a container engine.

Layers are plain tar files written here with fixed owners and times (the same inputs give the
same digest); imgbuild (lab/mirror/src/imgbuild, built with go-containerregistry) assembles them
into OCI images and pushes them to the mirror registry on 127.0.0.1.
"""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

EPOCH = 1767225600  # 2026-01-01T00:00:00Z, the fixed mtime of every file in a lab layer
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Layer:
    """A layer tar assembled from host files and generated text, written deterministically."""

    def __init__(self) -> None:
        # path, data (bytes, or a Path read when the tar is written), mode, link target
        self.entries: list[tuple[str, bytes | Path | None, int, str | None]] = []

    def dir(self, path: str, mode: int = 0o755) -> "Layer":
        self.entries.append((path.strip("/"), None, mode, None))
        return self

    def file(self, path: str, source: Path, mode: int = 0o755) -> "Layer":
        self.entries.append((path.strip("/"), Path(source), mode, None))
        return self

    def text(self, path: str, content: str, mode: int = 0o644) -> "Layer":
        self.entries.append((path.strip("/"), content.encode(), mode, None))
        return self

    def symlink(self, path: str, target: str) -> "Layer":
        self.entries.append((path.strip("/"), None, 0o777, target))
        return self

    def key(self) -> str:
        """What the layer is made of, cheaply: host files by path, size and mtime, not content."""
        h = hashlib.sha256()
        for path, data, mode, link in sorted(self.entries, key=lambda e: e[0]):
            if isinstance(data, Path):
                st = data.stat()
                data = f"{data}:{st.st_size}:{st.st_mtime_ns}".encode()
            h.update(repr((path, data, mode, link)).encode())
        return h.hexdigest()

    def write(self, out: Path) -> Path:
        """Write the tar with every parent directory present, sorted, root-owned."""
        paths = {e[0] for e in self.entries}
        parents = []
        for path, *_ in self.entries:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                parent = "/".join(parts[:i])
                if parent not in paths:
                    paths.add(parent)
                    parents.append((parent, None, 0o755, None))
        tmp = out.with_suffix(".tmp")
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            for path, data, mode, link in sorted(parents + self.entries):
                info = tarfile.TarInfo(path)
                info.mtime, info.mode, info.uid, info.gid = EPOCH, mode, 0, 0
                if link is not None:
                    info.type, info.linkname = tarfile.SYMTYPE, link
                    tar.addfile(info)
                elif data is None:
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                else:
                    content = data.read_bytes() if isinstance(data, Path) else data
                    info.size = len(content)
                    tar.addfile(info, io.BytesIO(content))
        tmp.replace(out)
        return out


def static_base() -> Layer:
    """What distroless/static gives a static binary: users, groups, name service, CA certs, /tmp."""
    layer = Layer()
    layer.text("etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\n"
               "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
               "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")
    layer.text("etc/group", "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")
    layer.text("etc/nsswitch.conf", "hosts: files dns\n")
    layer.file("etc/ssl/certs/ca-certificates.crt", Path("/etc/ssl/certs/ca-certificates.crt"), 0o644)
    layer.dir("tmp", 0o1777).dir("root", 0o700).dir("home/nonroot", 0o700)
    return layer


def push(imgbuild: Path, spec: dict, workdir: Path) -> str:
    """Assemble and push one image; return the digest of the pushed index."""
    workdir.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(spec["ref"].encode()).hexdigest()[:16]
    spec_file = workdir / f"{name}.json"
    spec_file.write_text(json.dumps(spec, indent=1))
    out = subprocess.run([str(imgbuild), str(spec_file)], text=True, capture_output=True)
    if out.returncode != 0:
        raise SystemExit(f"lab-mirror: image {spec['ref']} failed: {out.stderr.strip()}")
    return out.stdout.split()[-1]


def registry_digest(registry: str, repo: str, tag: str) -> str | None:
    """The digest the mirror registry holds for repo:tag, or None."""
    req = urllib.request.Request(
        f"http://{registry}/v2/{repo}/manifests/{tag}", method="HEAD",
        headers={"Accept": "application/vnd.oci.image.index.v1+json,"
                           "application/vnd.oci.image.manifest.v1+json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.headers.get("Docker-Content-Digest")
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise
