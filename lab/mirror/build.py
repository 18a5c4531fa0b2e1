#!/usr/bin/env python3
"""Build the lab mirror: upstream-equivalent Kubernetes artifacts, from the Go module proxy.

Files land in $AIRGAP_LAB_CACHE/mirror/files/<upstream host>/<upstream path> with upstream's
names, archive formats and checksum files; images are pushed to the mirror registry under
<upstream registry>/<repository>:<tag>. The versions are the collection's release table's
(plugins/plugin_utils/releases.py); lab/versions.yml says which Go module builds each component
(labconf.lab_versions). Everything is keyed by those versions: a warm run finds every output in
place, builds nothing and only makes sure the servers run.
The Debian archive subset (deb.debian.org/debian: InRelease, Packages.xz and the .debs the
collection's OS package table needs) is fetched, not built: a snapshot of upstream, kept until
the table changes.

  build.py            build what is missing, start the servers, write mirror/index.json
  build.py --only X   build component X (of COMPONENTS and SHARED below) and what it needs
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import time
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
import debian  # noqa: E402
import gobuild  # noqa: E402
import images  # noqa: E402
import labconf  # noqa: E402
import serve  # noqa: E402
from images import PATH_ENV, Layer, static_base  # noqa: E402

MIRROR = serve.MIRROR
FILES = serve.FILES
BIN = labconf.CACHE / "bin"
WORK = MIRROR / "work"
STAMPS = MIRROR / "stamps"
ARCH = "amd64"
SRC = HERE / "src"

# Bump a recipe's revision when its build steps change, so cached outputs are rebuilt.
REVISION = {"kubernetes": 1, "containerd": 1, "runc": 1, "cni_plugins": 1, "crictl": 1, "etcd": 1,
            "coredns": 1, "pause": 1, "metrics_server": 1, "registry": 1, "hello": 1, "kube_router": 1,
            "go_containerregistry": 1, "debian_archive": 2}

# The Debian userland for images whose programs call iptables and friends, as upstream's
# distroless-iptables gives kube-proxy.
# distroless-iptables gives kube-proxy; kube-router's image adds iproute2 and ipvsadm on Alpine.
# One base serves both.
IPTABLES_PACKAGES = ["iptables", "ipset", "nftables", "conntrack", "kmod", "ebtables", "arptables",
                     "iproute2", "ipvsadm"]

index: dict = {"files": {}, "images": {}}


def log(msg: str) -> None:
    print(f"lab-mirror: {msg}", flush=True)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- cached Go builds -----------------------------------------------------------------------

def built(component: str, row: dict, build) -> Path:
    """Directory of `component`'s binaries at the version of its `row`, building them when missing."""
    key = f"{row.get('version')}-r{REVISION[component]}"
    out = BIN / component / key
    stamp = out / ".done"
    if stamp.exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    log(f"building {component} {row.get('version')} (cold; Go caches make later builds fast)")
    start = time.monotonic()
    build(out, row)
    stamp.write_text(json.dumps({"seconds": round(time.monotonic() - start)}))
    log(f"built {component} in {time.monotonic() - start:.0f}s")
    return out


def info_of(row: dict) -> dict:
    """The module proxy's record of a component's module (kept: a warm run asks Go nothing)."""
    cached = STAMPS / "modules" / f"{row['module'].replace('/', '_')}@{row['version']}.json"
    if cached.exists():
        info = json.loads(cached.read_text())
        if Path(info["Dir"]).is_dir():
            return info
    info = gobuild.module_info(row["module"], row["version"])
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(info))
    return info


# --- publishing files the way upstream does -------------------------------------------------

def publish(rel: str, source, key: str | None = None) -> Path:
    """Put a file at files/<rel> (atomically) unless it is already there.

    `source` is a Path, bytes, or a function returning bytes (for archives: it only runs when
    the file must be made). With `key` (what the file is made from), a warm run trusts the stamp
    and neither rebuilds nor rehashes the file; without it, bytes are compared.
    """
    dest = FILES / rel
    if isinstance(source, Path) and key is None:
        st = source.stat()
        key = f"{source}:{st.st_size}:{st.st_mtime_ns}"
    stamp = STAMPS / "files" / (rel.replace("/", "_") + ".json")
    if key is not None and dest.exists() and stamp.exists():
        recorded = json.loads(stamp.read_text())
        if recorded["key"] == key and recorded["size"] == dest.stat().st_size:
            index["files"][rel] = recorded["sha256"]
            return dest
    data = source() if callable(source) else source
    if isinstance(data, bytes) and dest.exists() and dest.read_bytes() == data:
        pass
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            shutil.copyfile(data, tmp)
        tmp.chmod(0o644)
        tmp.replace(dest)
    digest = sha256(dest)
    if key is not None:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps({"key": key, "sha256": digest, "size": dest.stat().st_size}))
    index["files"][rel] = digest
    return dest


def sha_only(rel: str) -> None:
    """dl.k8s.io style: <file>.sha256 holding the bare hex digest."""
    publish(rel + ".sha256", index["files"][rel].encode())


def sha_line(rel: str, checksum_rel: str | None = None) -> None:
    """sha256sum style: '<hex>  <name>' lines, in <file>.sha256sum or a shared checksum file."""
    name = Path(rel).name
    publish(checksum_rel or rel + ".sha256sum", f"{index['files'][rel]}  {name}\n".encode())


def tarball(members: list[tuple[str, Path]], dirs: list[str] = ()) -> bytes:
    """A reproducible .tar.gz: fixed mtimes and owners, gzip header without a timestamp."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, images.EPOCH
            tar.addfile(info)
        for arcname, path in members:
            info = tarfile.TarInfo(arcname)
            info.size, info.mtime = path.stat().st_size, images.EPOCH
            info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            with open(path, "rb") as f:
                tar.addfile(info, f)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def github(repo: str, tag: str, name: str) -> str:
    return f"github.com/{repo}/releases/download/{tag}/{name}"


# --- images -----------------------------------------------------------------------------------

def image(ref: str, layers: list[Layer | Path], *, base: str = "", **config) -> str:
    """Push `ref` (upstream name, e.g. registry.k8s.io/pause:3.10.2) unless the mirror registry
    already holds what these inputs produced."""
    repo, tag = ref.rsplit(":", 1)
    layer_files, layer_keys, pending = [], [], []
    for i, layer in enumerate(layers):
        if isinstance(layer, Layer):
            path = WORK / "layers" / f"{repo.replace('/', '_')}-{tag}-{i}.tar"
            layer_keys.append(layer.key())
            pending.append((layer, path))
        else:
            st = layer.stat()
            layer_keys.append(f"{layer}:{st.st_size}:{st.st_mtime_ns}")
            path = layer
        layer_files.append(str(path))
    spec = {"ref": f"{serve.REGISTRY}/{ref}", "base": f"{serve.REGISTRY}/{base}" if base else "",
            "arch": ARCH, "layers": layer_files, **config}
    key = hashlib.sha256(json.dumps(
        [spec, layer_keys, index["images"].get(base, "")], sort_keys=True).encode()).hexdigest()
    stamp = STAMPS / "images" / f"{repo.replace('/', '_')}-{tag}.json"
    held = images.registry_digest(serve.REGISTRY, repo, tag)
    if stamp.exists():
        recorded = json.loads(stamp.read_text())
        if recorded["key"] == key and recorded["digest"] == held:
            index["images"][ref] = held
            return held
    for layer, path in pending:
        path.parent.mkdir(parents=True, exist_ok=True)
        layer.write(path)
    digest = images.push(tools()["imgbuild"], spec, WORK / "specs")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"key": key, "digest": digest}))
    log(f"pushed {ref} {digest}")
    index["images"][ref] = digest
    return digest


def binary_image(ref: str, files: dict[str, Path], *, base: str = "", static: bool = True,
                 **config) -> str:
    layer = Layer()
    for dest, src in files.items():
        layer.file(dest, src)
    layers = ([static_base()] if static and not base else []) + [layer]
    config.setdefault("env", [PATH_ENV])
    return image(ref, layers, base=base, **config)


_tools: dict[str, Path] = {}


def tools() -> dict[str, Path]:
    """The lab's own tools: imgbuild (assembles images) and the registry that serves them."""
    if not _tools:
        out = built("go_containerregistry", labconf.lab_tools()["go_containerregistry"],
                    lambda out, row: gobuild.build("imgbuild", {row["module"]: row["version"]}, ["."], out,
                                                   src=SRC / "imgbuild"))
        _tools["imgbuild"] = out / "imgbuild"
    return _tools


# --- components ---------------------------------------------------------------------------------
# Each takes `vs`, the versions of one release of the collection's table (labconf.lab_versions):
# {component: {"module", "version", "image_tag"}}.

def component_registry(vs: dict) -> None:
    row = vs["registry"]
    v = row["version"]
    out = built("registry", row, lambda out, row: gobuild.build(
        f"registry-{v}", {row["module"]: v},
        [f"{row['module']}/cmd/registry"], out,
        ldflags=[f"-X {row['module']}/version.version={v}",
                 f"-X {row['module']}/version.revision={gobuild.upstream_commit(info_of(row))}"]))
    name = f"registry_{v.lstrip('v')}_linux_{ARCH}.tar.gz"
    rel = github("distribution/distribution", v, name)
    publish(rel, lambda: tarball([("registry", out / "registry")]), key=str(out))
    sha_line(rel, rel + ".sha256")
    serve.REGISTRY_BIN.parent.mkdir(parents=True, exist_ok=True)
    if not serve.REGISTRY_BIN.exists() or sha256(serve.REGISTRY_BIN) != sha256(out / "registry"):
        shutil.copyfile(out / "registry", serve.REGISTRY_BIN)
        serve.REGISTRY_BIN.chmod(0o755)
    serve.up()
    config = Layer().text("etc/distribution/config.yml",
                          "version: 0.1\nlog: {fields: {service: registry}}\n"
                          "storage:\n  filesystem: {rootdirectory: /var/lib/registry}\n"
                          "http:\n  addr: :5000\n")
    image(f"docker.io/library/registry:{row['image_tag']}",
          [static_base(), Layer().file("bin/registry", out / "registry"), config],
          entrypoint=["registry"], cmd=["serve", "/etc/distribution/config.yml"], env=[PATH_ENV])


def k8s_ldflags(row: dict) -> list[str]:
    v = row["version"]
    major, minor = v.lstrip("v").split(".")[:2]
    commit = gobuild.upstream_commit(info_of(row))
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.gitVersion={v}", f"-X {pkg}.gitMajor={major}",
                  f"-X {pkg}.gitMinor={minor}", f"-X {pkg}.gitTreeState=clean",
                  f"-X {pkg}.gitCommit={commit}", f"-X {pkg}.buildDate=2026-01-01T00:00:00Z"]
    return flags


KUBE_BINARIES = ["kubeadm", "kubelet", "kubectl", "kube-apiserver", "kube-controller-manager",
                 "kube-scheduler", "kube-proxy"]


def kube_bin(vs: dict) -> Path:
    """Where the Kubernetes binaries of this release are (built by component_kubernetes)."""
    return BIN / "kubernetes" / f"{vs['kubernetes']['version']}-r{REVISION['kubernetes']}"


def component_kubernetes(vs: dict) -> Path:
    row = vs["kubernetes"]
    v = row["version"]

    def build(out: Path, row: dict) -> None:
        info = info_of(row)
        gobuild.build(f"kubernetes-{v}", {row["module"]: v},
                      [f"k8s.io/kubernetes/cmd/{b}" for b in KUBE_BINARIES], out,
                      replaces=gobuild.staging_replaces(info, v), ldflags=k8s_ldflags(row))

    out = built("kubernetes", row, build)
    for b in KUBE_BINARIES:
        rel = f"dl.k8s.io/release/{v}/bin/linux/{ARCH}/{b}"
        publish(rel, out / b)
        sha_only(rel)
    minor = ".".join(v.lstrip("v").split(".")[:2])
    publish(f"dl.k8s.io/release/stable-{minor}.txt", v.encode())
    tag = row["image_tag"]
    for b in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        binary_image(f"registry.k8s.io/{b}:{tag}", {f"usr/local/bin/{b}": out / b},
                     entrypoint=[f"/usr/local/bin/{b}"])
    binary_image(f"registry.k8s.io/kube-proxy:{tag}", {"usr/local/bin/kube-proxy": out / "kube-proxy"},
                 base=iptables_base(), entrypoint=["/usr/local/bin/kube-proxy"])
    return out


def iptables_base() -> str:
    """A lab-internal base image: Debian's iptables userland plus a wrapper that picks the
    legacy or nft backend the host uses (the job upstream's iptables-wrapper does)."""
    suite = "bookworm"
    rootfs = debian.rootfs_tar(suite, IPTABLES_PACKAGES, variant="minbase", name="iptables")
    wrapper = Layer().file("usr/sbin/iptables-wrapper", SRC / "iptables-wrapper", 0o755)
    for tool in ("iptables", "iptables-save", "iptables-restore",
                 "ip6tables", "ip6tables-save", "ip6tables-restore"):
        wrapper.symlink(f"usr/sbin/{tool}", "iptables-wrapper")
    ref = f"airgap-lab/debian-iptables:{suite}"
    image(ref, [Path(rootfs), wrapper], env=[PATH_ENV], cmd=["/bin/sh"])
    return ref


def component_kubeadm_images(vs: dict, kube: Path) -> dict[str, str]:
    """Ask the kubeadm we built which images it deploys; the release table must agree."""
    v = vs["kubernetes"]["version"]
    out = subprocess.run([str(kube / "kubeadm"), "config", "images", "list",
                          "--kubernetes-version", v], capture_output=True, text=True, check=True)
    wanted = dict(line.rsplit(":", 1) for line in out.stdout.split())
    expect = {"registry.k8s.io/etcd": vs["etcd"]["image_tag"],
              "registry.k8s.io/coredns/coredns": vs["coredns"]["image_tag"],
              "registry.k8s.io/pause": vs["pause"]["image_tag"]}
    wrong = [f"{repo}: the release table has {tag}, kubeadm {v} deploys {wanted.get(repo)}"
             for repo, tag in expect.items() if wanted.get(repo) != tag]
    if wrong:
        raise SystemExit("lab-mirror: the release table (plugins/plugin_utils/releases.py) disagrees "
                         "with kubeadm:\n  " + "\n  ".join(wrong))
    return wanted


def component_etcd(vs: dict) -> None:
    row = vs["etcd"]
    v = row["version"]
    mods = {m: v for m in ("go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/etcdctl/v3",
                           "go.etcd.io/etcd/etcdutl/v3")}
    commit = gobuild.upstream_commit(info_of(row))

    def build(out: Path, row: dict) -> None:
        gobuild.build(f"etcd-{v}", mods, list(mods), out,
                      ldflags=[f"-X go.etcd.io/etcd/api/v3/version.GitSHA={commit[:8]}"])
        (out / "server").rename(out / "etcd")  # Go names server/v3's binary after its directory

    out = built("etcd", row, build)
    names = {n: out / n for n in ("etcd", "etcdctl", "etcdutl")}
    dirname = f"etcd-{v}-linux-{ARCH}"
    rel = github("etcd-io/etcd", v, f"{dirname}.tar.gz")
    publish(rel, lambda: tarball([(f"{dirname}/{n}", p) for n, p in names.items()], dirs=[dirname]),
            key=str(out))
    sha_line(rel, github("etcd-io/etcd", v, "SHA256SUMS"))
    binary_image(f"registry.k8s.io/etcd:{row['image_tag']}",
                 {f"usr/local/bin/{n}": p for n, p in names.items()}, cmd=["/usr/local/bin/etcd"])


def component_simple(component: str, row: dict, package: str, binary: str, ldflags: list[str]) -> Path:
    """One binary from one package of the component's module."""
    return built(component, row, lambda out, row: gobuild.build(
        f"{component}-{row['version']}", {row["module"]: row["version"]}, [package], out,
        ldflags=ldflags)) / binary


def component_coredns(vs: dict) -> None:
    row = vs["coredns"]
    v = row["version"]
    commit = gobuild.upstream_commit(info_of(row))
    coredns = component_simple("coredns", row, "github.com/coredns/coredns", "coredns",
                               [f"-X github.com/coredns/coredns/coremain.GitCommit={commit[:7]}"])
    name = f"coredns_{v.lstrip('v')}_linux_{ARCH}.tgz"
    rel = github("coredns/coredns", v, name)
    publish(rel, lambda: tarball([("coredns", coredns)]), key=str(coredns))
    sha_line(rel, rel + ".sha256")
    binary_image(f"registry.k8s.io/coredns/coredns:{row['image_tag']}", {"coredns": coredns},
                 entrypoint=["/coredns"])


def component_metrics_server(vs: dict) -> None:
    row = vs["metrics_server"]
    v = row["version"]
    pkg = "sigs.k8s.io/metrics-server/pkg/version"
    commit = gobuild.upstream_commit(info_of(row))
    binary = component_simple("metrics_server", row, "sigs.k8s.io/metrics-server/cmd/metrics-server",
                              "metrics-server", [f"-X {pkg}.gitVersion={v}", f"-X {pkg}.gitCommit={commit}",
                                                 f"-X {pkg}.buildDate=2026-01-01T00:00:00Z"])
    binary_image(f"registry.k8s.io/metrics-server/metrics-server:{row['image_tag']}", {"metrics-server": binary},
                 entrypoint=["/metrics-server"], user="65534")
    # Upstream's release manifests are `kubectl kustomize manifests/overlays/<name>` of the tag.
    kubectl = kube_bin(vs) / "kubectl"
    overlays = Path(info_of(row)["Dir"]) / "manifests" / "overlays"
    for overlay, name in (("release", "components.yaml"), ("release-ha", "high-availability.yaml")):
        rendered = subprocess.run([str(kubectl), "kustomize", str(overlays / overlay)],
                                  capture_output=True, check=True).stdout
        publish(github("kubernetes-sigs/metrics-server", v, name), rendered)


def ours(component: str, row: dict, binary: str) -> Path:
    """A program of the lab's own (lab/mirror/src/<binary>), stamped with its version."""
    v = row["version"]
    return built(component, row, lambda out, row: gobuild.build(
        f"{binary}-{v}", {}, ["."], out, ldflags=[f"-X main.version={v}"], src=SRC / binary)) / binary


def component_pause(vs: dict) -> None:
    row = vs["pause"]
    image(f"registry.k8s.io/pause:{row['image_tag']}", [Layer().file("pause", ours("pause", row, "pause"))],
          entrypoint=["/pause"], user="65535:65535")


def component_hello(vs: dict) -> None:
    row = vs["hello"]
    binary_image(f"docker.io/airgapkubernetes/hello:{row['image_tag']}", {"hello": ours("hello", row, "hello")},
                 entrypoint=["/hello"], user="65532:65532")


def component_containerd(vs: dict) -> None:
    row = vs["containerd"]
    v = row["version"]
    m = row["module"]
    commit = gobuild.upstream_commit(info_of(row))
    bins = ["containerd", "containerd-shim-runc-v2", "ctr"]
    out = built("containerd", row, lambda out, row: gobuild.build(
        f"containerd-{v}", {m: v}, [f"{m}/cmd/{b}" for b in bins], out,
        ldflags=[f"-X {m}/version.Version={v}", f"-X {m}/version.Revision={commit}",
                 f"-X {m}/version.Package={m.removesuffix('/v2')}"]))
    name = f"containerd-{v.lstrip('v')}-linux-{ARCH}.tar.gz"
    rel = github("containerd/containerd", v, name)
    publish(rel, lambda: tarball([(f"bin/{b}", out / b) for b in bins], dirs=["bin"]), key=str(out))
    sha_line(rel)


def component_runc(vs: dict) -> None:
    row = vs["runc"]
    v = row["version"]
    commit = gobuild.upstream_commit(info_of(row))
    # Upstream's static build, without the libpathrs tag (a Rust library this lab cannot fetch).
    out = built("runc", row, lambda out, row: gobuild.build(
        f"runc-{v}", {row["module"]: v}, [row["module"]], out, cgo=True,
        tags=["seccomp", "urfave_cli_no_docs", "netgo", "osusergo"],
        ldflags=[f"-X main.gitCommit={commit[:8]}", "-extldflags -static"]))
    rel = github("opencontainers/runc", v, f"runc.{ARCH}")
    publish(rel, out / "runc")
    sha_line(rel, github("opencontainers/runc", v, "runc.sha256sum"))


def component_cni_plugins(vs: dict) -> None:
    row = vs["cni_plugins"]
    v = row["version"]

    def build(out: Path, row: dict) -> None:
        info = info_of(row)
        pkgs = [p for sub in ("plugins/main", "plugins/ipam", "plugins/meta")
                for p in gobuild.main_packages(info, sub)]
        gobuild.build(f"cni-plugins-{v}", {row["module"]: v}, pkgs, out,
                      ldflags=[f"-X {row['module']}/pkg/utils/buildversion.BuildVersion={v}"])

    out = built("cni_plugins", row, build)
    plugins = sorted(p for p in out.iterdir() if p.is_file() and not p.name.startswith("."))
    name = f"cni-plugins-linux-{ARCH}-{v}.tgz"
    rel = github("containernetworking/plugins", v, name)
    publish(rel, lambda: tarball([(f"./{p.name}", p) for p in plugins], dirs=["./"]), key=str(out))
    sha_line(rel, rel + ".sha256")


def component_crictl(vs: dict) -> None:
    row = vs["crictl"]
    v = row["version"]
    crictl = component_simple("crictl", row, "sigs.k8s.io/cri-tools/cmd/crictl", "crictl",
                              [f"-X sigs.k8s.io/cri-tools/pkg/version.Version={v}"])
    name = f"crictl-{v}-linux-{ARCH}.tar.gz"
    rel = github("kubernetes-sigs/cri-tools", v, name)
    publish(rel, lambda: tarball([("crictl", crictl)]), key=str(crictl))
    sha_only(rel)


def component_kube_router(vs: dict) -> None:
    row = vs["kube_router"]
    v = row["version"]
    m = row["module"]
    binary = component_simple("kube_router", row, f"{m}/cmd/kube-router", "kube-router",
                              [f"-X {m}/pkg/version.Version={v}",
                               f"-X {m}/pkg/version.BuildDate=2026-01-01T00:00:00Z"])
    binary_image(f"docker.io/cloudnativelabs/kube-router:{row['image_tag']}",
                 {"usr/local/bin/kube-router": binary}, base=iptables_base(),
                 entrypoint=["/usr/local/bin/kube-router"])
    # Upstream's manifests live in the repository (daemonset/), served from the module.
    root = Path(info_of(row)["Dir"])
    for manifest in ("kubeadm-kuberouter.yaml", "generic-kuberouter.yaml"):
        publish(f"raw.githubusercontent.com/cloudnativelabs/kube-router/{v}/daemonset/{manifest}",
                (root / "daemonset" / manifest).read_bytes())


# --- the Debian archive subset ---------------------------------------------------------------

DEBIAN_REL = "deb.debian.org/debian"  # where the subset lives below the mirror


def fetch(url: str, sha: str | None = None) -> bytes:
    """GET from the connected side, checked against an expected sha256; three tries."""
    for attempt in range(3):
        try:
            with urllib.request.urlopen(url, timeout=60) as resp:
                data = resp.read()
            break
        except OSError as exc:
            if attempt == 2:
                raise SystemExit(f"lab-mirror: {url}: {exc}")
            time.sleep(2 * (attempt + 1))
    if sha and hashlib.sha256(data).hexdigest() != sha:
        raise SystemExit(f"lab-mirror: {url} has sha256 {hashlib.sha256(data).hexdigest()}, expected {sha}")
    return data


def component_debian_archive() -> None:
    """For each OS release of the collection's table: the real InRelease (signed by Debian, its
    signature checked with the collection's code against this machine's Debian keyring) and
    Packages.xz of its suite and the pool files of the dependency closure of its packages
    (computed by the collection's resolver), from the connected side (lab/debian.py's mirror)."""
    releases = labconf.collection_module("releases")
    archive = labconf.collection_module("debian_archive")
    for os_id, row in releases.OS_RELEASES.items():
        suite, component = row["suite"], row["component"]
        key = {"names": sorted(row["packages"]), "avoid": sorted(row["avoid"]), "component": component,
               "arch": ARCH, "resolver": archive.REVISION, "recipe": REVISION["debian_archive"]}
        stamp = STAMPS / "debian" / f"{suite}.json"
        if stamp.exists():
            recorded = json.loads(stamp.read_text())
            if recorded["key"] == key and all((FILES / rel).exists() and (FILES / rel).stat().st_size == size
                                              for rel, digest, size in recorded["files"]):
                index["files"].update((rel, digest) for rel, digest, size in recorded["files"])
                continue
        upstream = f"{debian.MIRROR}/dists/{suite}"
        release_bytes = fetch(f"{upstream}/InRelease")
        with tempfile.NamedTemporaryFile(suffix=".InRelease") as signed:
            signed.write(release_bytes)
            signed.flush()
            try:
                text, dummy = archive.verify_inrelease(signed.name, releases.DEBIAN_KEYRING)
            except archive.ArchiveError as exc:
                raise SystemExit(f"lab-mirror: {upstream}/InRelease: {exc}")
        release = archive.parse_release(text)
        index_rel, index_sha, dummy = archive.index_path(release, component, ARCH)
        index_bytes = fetch(f"{upstream}/{index_rel}", index_sha)
        closure = archive.Archive.from_index(index_bytes, index_rel, row["avoid"]).closure(row["packages"])
        log(f"debian {os_id} ({suite} {release.get('Version')}): {len(closure)} packages, "
            f"{sum(int(s['Size']) for s in closure) / 1048576:.1f} MiB")
        files = []
        # Pool files first, the InRelease last: the mirror never names what it does not hold.
        for stanza in closure:
            digest = stanza["SHA256"]
            rel = f"{DEBIAN_REL}/{stanza['Filename']}"
            publish(rel, lambda url=f"{debian.MIRROR}/{stanza['Filename']}", digest=digest: fetch(url, digest),
                    key=digest)
            files.append((rel, digest))
        publish(f"{DEBIAN_REL}/dists/{suite}/{index_rel}", index_bytes, key=index_sha)
        files.append((f"{DEBIAN_REL}/dists/{suite}/{index_rel}", index_sha))
        release_rel = f"{DEBIAN_REL}/dists/{suite}/InRelease"
        publish(release_rel, release_bytes, key=hashlib.sha256(release_bytes).hexdigest())
        files.append((release_rel, index["files"][release_rel]))
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps({"key": key, "release": release.get("Version"), "files": [
            (rel, digest, (FILES / rel).stat().st_size) for rel, digest in files]}, indent=1))


# What one release of the collection's table needs, in build order.
COMPONENTS = {
    "registry": component_registry,
    "kubernetes": None,  # special: its kubeadm decides etcd/coredns/pause
    "etcd": component_etcd,
    "coredns": component_coredns,
    "pause": component_pause,
    "containerd": component_containerd,
    "runc": component_runc,
    "cni_plugins": component_cni_plugins,
    "crictl": component_crictl,
    "metrics_server": component_metrics_server,
    "kube_router": component_kube_router,
    "hello": component_hello,
}
# What every release shares (the OS package table is not per release), built after them.
SHARED = {
    "debian_archive": component_debian_archive,
}


def build_release(release: str, wanted: list[str], only: bool) -> dict:
    """Build what one release of the collection's table needs (outputs cached by version);
    return its versions (labconf.lab_versions)."""
    vs = labconf.lab_versions(release)
    component_registry(vs)  # the registry serves every image: it comes first
    if "kubernetes" in wanted or not only:
        kube = component_kubernetes(vs)
        index["kubeadm_images"] = [f"{r}:{t}" for r, t in component_kubeadm_images(vs, kube).items()]
    for name in wanted:
        if COMPONENTS.get(name) and name != "registry":
            COMPONENTS[name](vs)
    return vs


def write_index(vs: dict) -> None:
    old = json.loads((MIRROR / "index.json").read_text()) if (MIRROR / "index.json").exists() else {}
    merged = {
        "kubernetes_version": vs["kubernetes"]["version"],
        "arch": ARCH,
        "http": f"http://{serve.HTTP}",
        "registry": serve.REGISTRY,
        "files": {**old.get("files", {}), **index["files"]},
        "images": {k: v for k, v in {**old.get("images", {}), **index["images"]}.items()
                   if not k.startswith("airgap-lab/")},
        "kubeadm_images": index.get("kubeadm_images", old.get("kubeadm_images", [])),
    }
    (MIRROR / "index.json").write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=sorted([*COMPONENTS, *SHARED]), default=[])
    args = parser.parse_args()
    start = time.monotonic()
    for d in (FILES, BIN, WORK, STAMPS):
        d.mkdir(parents=True, exist_ok=True)
    wanted = args.only or [*COMPONENTS, *SHARED]
    # The table's default (newest) release only, for now; the others are a loop over
    # labconf.collection_module("releases").supported_versions() away.
    vs = build_release(labconf.default_release(), wanted, bool(args.only))
    for name in wanted:
        if name in SHARED:
            SHARED[name]()
    write_index(vs)
    log(f"mirror ready in {time.monotonic() - start:.0f}s: files on http://{serve.HTTP}/, "
        f"images on {serve.REGISTRY} ({len(index['files'])} files, {len(index['images'])} images)")


if __name__ == "__main__":
    main()
