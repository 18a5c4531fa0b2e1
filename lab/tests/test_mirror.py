"""The lab mirror serves what upstream publishes, in upstream's shape, on 127.0.0.1 only.

Runs after `make lab-mirror`; every check talks to the running servers the way the bundle
builder will (HTTP for files, the registry API for images).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import labconf  # noqa: E402

VERSIONS = labconf.lab_versions()  # the release table's default release, as the mirror builds it
K8S = VERSIONS["kubernetes"]["version"]
HTTP = f"http://{labconf.MIRROR_HOST}:{labconf.MIRROR_HTTP_PORT}"
REGISTRY = f"http://{labconf.MIRROR_HOST}:{labconf.MIRROR_REGISTRY_PORT}"
INDEX_ACCEPT = ("application/vnd.oci.image.index.v1+json,"
                "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_ACCEPT = "application/vnd.oci.image.manifest.v1+json"


def get(url: str, accept: str | None = None) -> tuple[bytes, dict]:
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.read(), dict(resp.headers)


def image_config(ref: str) -> dict:
    """The linux/amd64 config of an upstream-named image, read through the registry API."""
    repo, tag = ref.rsplit(":", 1)
    body, headers = get(f"{REGISTRY}/v2/{repo}/manifests/{tag}", INDEX_ACCEPT)
    idx = json.loads(body)
    assert idx["mediaType"] == "application/vnd.oci.image.index.v1+json", ref
    assert hashlib.sha256(body).hexdigest() == headers["Docker-Content-Digest"].split(":")[1]
    amd64 = [m for m in idx["manifests"] if m["platform"] == {"os": "linux", "architecture": "amd64"}]
    assert len(amd64) == 1, f"{ref}: no single linux/amd64 manifest in {idx}"
    manifest = json.loads(get(f"{REGISTRY}/v2/{repo}/manifests/{amd64[0]['digest']}",
                              MANIFEST_ACCEPT)[0])
    return json.loads(get(f"{REGISTRY}/v2/{repo}/blobs/{manifest['config']['digest']}")[0])


@pytest.fixture(scope="module")
def kube_binaries(tmp_path_factory) -> Path:
    """kubeadm, kubelet and kubectl downloaded from the mirror as a user would, checksums checked."""
    d = tmp_path_factory.mktemp("bin")
    for b in ("kubeadm", "kubelet", "kubectl"):
        url = f"{HTTP}/dl.k8s.io/release/{K8S}/bin/linux/amd64/{b}"
        data, _ = get(url)
        published = get(url + ".sha256")[0].decode().strip()
        assert re.fullmatch(r"[0-9a-f]{64}", published), f"{b}.sha256 is not a bare sha256: {published!r}"
        assert hashlib.sha256(data).hexdigest() == published, f"{b} does not match its .sha256"
        (d / b).write_bytes(data)
        (d / b).chmod(0o755)
    return d


def test_binaries_print_the_pinned_release(kube_binaries):
    kubelet = subprocess.run([kube_binaries / "kubelet", "--version"], capture_output=True, text=True)
    assert kubelet.stdout.strip() == f"Kubernetes {K8S}"
    kubeadm = subprocess.run([kube_binaries / "kubeadm", "version", "-o", "short"],
                             capture_output=True, text=True)
    assert kubeadm.stdout.strip() == K8S
    kubectl = subprocess.run([kube_binaries / "kubectl", "version", "--client", "-o", "json"],
                             capture_output=True, text=True)
    assert json.loads(kubectl.stdout)["clientVersion"]["gitVersion"] == K8S


def test_binaries_are_static(kube_binaries):
    for b in ("kubeadm", "kubelet", "kubectl"):
        head = (kube_binaries / b).read_bytes()[:4096]
        assert head[:4] == b"\x7fELF"
        assert b"/lib64/ld-linux" not in head, f"{b} is dynamically linked"


def test_every_kubeadm_image_is_in_the_registry(kube_binaries):
    listed = subprocess.run([kube_binaries / "kubeadm", "config", "images", "list",
                             "--kubernetes-version", K8S], capture_output=True, text=True, check=True)
    refs = listed.stdout.split()
    assert len(refs) == 7, refs
    for ref in refs:
        config = image_config(ref)["config"]
        assert config.get("Entrypoint") or config.get("Cmd"), f"{ref} has nothing to run"
        assert any(e.startswith("PATH=") and "/usr/local/bin" in e for e in config.get("Env", [])) \
            or ref.split(":")[0].endswith(("pause", "coredns")), f"{ref} has no PATH for its command"


@pytest.mark.parametrize("ref", [
    f"registry.k8s.io/metrics-server/metrics-server:{VERSIONS['metrics_server']['image_tag']}",
    f"docker.io/library/registry:{VERSIONS['registry']['image_tag']}",
    f"docker.io/airgapkubernetes/hello:{VERSIONS['hello']['image_tag']}",
    f"docker.io/cloudnativelabs/kube-router:{VERSIONS['kube_router']['image_tag']}",
])
def test_addon_images_are_in_the_registry(ref):
    assert image_config(ref)["config"]["Entrypoint"]


@pytest.mark.parametrize("path, image", [
    (f"github.com/kubernetes-sigs/metrics-server/releases/download/"
     f"{VERSIONS['metrics_server']['version']}/components.yaml",
     f"registry.k8s.io/metrics-server/metrics-server:{VERSIONS['metrics_server']['image_tag']}"),
    (f"raw.githubusercontent.com/cloudnativelabs/kube-router/{VERSIONS['kube_router']['version']}"
     f"/daemonset/kubeadm-kuberouter.yaml", "docker.io/cloudnativelabs/kube-router"),
])
def test_addon_manifests_are_served(path, image):
    docs = [d for d in yaml.safe_load_all(get(f"{HTTP}/{path}")[0]) if d]
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "DaemonSet"} & kinds, kinds
    images = {c["image"] for d in docs if d["kind"] in ("Deployment", "DaemonSet")
              for c in d["spec"]["template"]["spec"]["containers"]}
    assert image in images


def test_kube_proxy_image_has_the_iptables_userland():
    config = image_config(f"registry.k8s.io/kube-proxy:{K8S}")
    assert config["config"]["Entrypoint"] == ["/usr/local/bin/kube-proxy"]
    assert len(config["rootfs"]["diff_ids"]) >= 3, "kube-proxy should sit on a Debian iptables base"


def test_every_checksum_file_matches_its_file():
    index = json.loads((labconf.CACHE / "mirror" / "index.json").read_text())
    sums = {rel: digest for rel, digest in index["files"].items()}
    checked = 0
    for rel in sums:
        if not rel.endswith((".sha256", ".sha256sum", "SHA256SUMS")):
            continue
        text = get(f"{HTTP}/{rel}")[0].decode()
        for line in text.strip().splitlines():
            parts = line.split()
            target = (rel.rsplit("/", 1)[0] + "/" + parts[1]) if len(parts) == 2 \
                else rel.rsplit(".", 1)[0]
            data = get(f"{HTTP}/{target}")[0]
            assert hashlib.sha256(data).hexdigest() == parts[0], f"{target} does not match {rel}"
            checked += 1
    assert checked >= 10, f"only {checked} checksums found in the mirror"


def test_servers_listen_on_loopback_only():
    for port in (labconf.MIRROR_HTTP_PORT, labconf.MIRROR_REGISTRY_PORT):
        listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                                   text=True, check=True).stdout.split("\n")
        addrs = {line.split()[3].rsplit(":", 1)[0] for line in listening if line.strip()}
        assert addrs == {labconf.MIRROR_HOST}, f"port {port} listens on {addrs}"


def test_warm_rebuild_changes_nothing():
    files = labconf.CACHE / "mirror" / "files"
    before = {p: p.stat().st_mtime_ns for p in files.rglob("*") if p.is_file()}
    run = subprocess.run([sys.executable, str(labconf.LAB / "mirror" / "build.py")],
                         capture_output=True, text=True, env=dict(os.environ))
    assert run.returncode == 0, run.stdout + run.stderr
    assert not re.search(r"lab-mirror: (building|pushed) ", run.stdout), run.stdout
    after = {p: p.stat().st_mtime_ns for p in files.rglob("*") if p.is_file()}
    assert after == before
    assert not any(stat.S_IMODE(p.stat().st_mode) & 0o002 for p in after), "world-writable file"
