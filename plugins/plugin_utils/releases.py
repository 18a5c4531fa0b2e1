# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's table of supported Kubernetes releases: the one place that says which
versions the collection installs, and every file and image each release needs.

Each release is keyed by the Kubernetes version (with the leading ``v``, as upstream tags it);
``kubernetes_version`` in cluster.yml is validated against the keys of this table.

Every artifact is one row of ``artifacts``:

``name``      what the roles call it (also its name in the bundle)
``version``   the upstream version, as it appears in the URL
``source``    the cluster.yml ``sources`` key of the base URL (changing a mirror is changing that)
``path``      the path below the base URL; ``{version}`` and ``{arch}`` are filled in
``checksum``  the path of upstream's checksum file (bare hex, or ``<hex>  <name>`` lines)
``sha256``    pinned digests by architecture, where the collection pins one (``{}``: verified
              against the checksum file only; users pin more with the bundle's ``pins``)
``arch``      architectures upstream publishes it for
``when``      a named condition on the cluster config (``CONDITIONS``); absent: always

Every image is one row of ``images``: ``name``, ``upstream`` (the registry upstream publishes
it on, which is also the first path element of its name in the offline registry),
``repository``, ``tag``, ``source`` (the ``sources`` key of the registry to pull it from),
``digest`` (a pinned index/manifest digest, or None) and ``when``.

The CNI plugins are rows of ``cni``, keyed by the ``cni.plugin`` value, each with its own
``version``, ``artifacts``, ``images`` and ``manifests`` rows. Adding a CNI is adding a row.

The OS packages (.deb) a host needs beyond a minimal install are rows of ``OS_RELEASES``, keyed
by the id the node role computes on a host (``ansible_distribution | lower ~ '-' ~
ansible_distribution_major_version``): the suite, the ``sources`` key of the archive, and the
package names. The bundle adds their dependency closure (debian_archive.py).

Controller-side (the bundle and the cluster model read it). Standard library only, with no imports
from the collection: the lab's mirror builder loads this file by path.
"""

from __future__ import annotations

ARCHITECTURES = ["amd64"]
DEFAULT_ARCH = "amd64"

_GITHUB_PATH = "{repo}/releases/download/{tag}/{file}"


def _github(name, version, repo, tag, file, checksum, when=None):
    row = {
        "name": name, "version": version, "source": "githubReleases",
        "path": _GITHUB_PATH.format(repo=repo, tag=tag, file=file),
        "checksum": _GITHUB_PATH.format(repo=repo, tag=tag, file=checksum),
        "sha256": {}, "arch": list(ARCHITECTURES),
    }
    if when:
        row["when"] = when
    return row


def _kube_binary(name, version):
    path = "release/{version}/bin/linux/{arch}/" + name
    return {
        "name": name, "version": version, "source": "kubernetesReleases", "path": path,
        "checksum": path + ".sha256", "sha256": {}, "arch": list(ARCHITECTURES),
    }


# The upstream registries images come from, each with the cluster.yml ``sources`` key of the
# registry to pull it from. Nodes resolve these names through the site registry (containerd's
# hosts.toml), so this is also the list of mirrored registries.
UPSTREAM_REGISTRIES = {"registry.k8s.io": "registryK8sIo", "docker.io": "dockerHub", "quay.io": "quayIo"}


def _image(name, upstream, repository, tag, when=None, digest=None):
    source = UPSTREAM_REGISTRIES[upstream]
    row = {"name": name, "upstream": upstream, "repository": repository, "tag": tag,
           "source": source, "digest": digest}
    if when:
        row["when"] = when
    return row


# Order matters: the last row is the default for new cluster files.
SUPPORTED_RELEASES = {
    "v1.37.2": {
        "tested": "lab (end to end)",
        "artifacts": [
            _kube_binary("kubeadm", "v1.37.2"),
            _kube_binary("kubelet", "v1.37.2"),
            _kube_binary("kubectl", "v1.37.2"),
            _github("containerd", "2.4.2", "containerd/containerd", "v{version}",
                    "containerd-{version}-linux-{arch}.tar.gz",
                    "containerd-{version}-linux-{arch}.tar.gz.sha256sum"),
            _github("runc", "v1.5.2", "opencontainers/runc", "{version}", "runc.{arch}", "runc.sha256sum"),
            _github("cni-plugins", "v1.10.0", "containernetworking/plugins", "{version}",
                    "cni-plugins-linux-{arch}-{version}.tgz", "cni-plugins-linux-{arch}-{version}.tgz.sha256"),
            _github("crictl", "v1.37.0", "kubernetes-sigs/cri-tools", "{version}",
                    "crictl-{version}-linux-{arch}.tar.gz", "crictl-{version}-linux-{arch}.tar.gz.sha256"),
            _github("registry", "3.0.0", "distribution/distribution", "v{version}",
                    "registry_{version}_linux_{arch}.tar.gz", "registry_{version}_linux_{arch}.tar.gz.sha256",
                    when="registry_host"),
        ],
        # kubeadm's images (`kubeadm config images list`), then the add-ons'.
        "images": [
            _image("kube-apiserver", "registry.k8s.io", "kube-apiserver", "v1.37.2"),
            _image("kube-controller-manager", "registry.k8s.io", "kube-controller-manager", "v1.37.2"),
            _image("kube-scheduler", "registry.k8s.io", "kube-scheduler", "v1.37.2"),
            _image("kube-proxy", "registry.k8s.io", "kube-proxy", "v1.37.2"),
            _image("coredns", "registry.k8s.io", "coredns/coredns", "v1.14.6"),
            _image("pause", "registry.k8s.io", "pause", "3.10.2"),
            _image("etcd", "registry.k8s.io", "etcd", "3.7.0-0"),
            _image("metrics-server", "registry.k8s.io", "metrics-server/metrics-server", "v0.8.0",
                   when="metrics_server"),
            _image("registry", "docker.io", "library/registry", "3.0.0", when="registry_host"),
            _image("hello", "docker.io", "airgapkubernetes/hello", "v1.0.0", when="sample_app"),
        ],
        # Pod network plugins for this release, keyed by cni.plugin: their files, images and
        # manifests (artifact rows; a pinned sha256 where upstream publishes no checksum file).
        # A cluster asking for a CNI without a row here gets no bundle (or, with
        # include_cni=false, a bundle without a CNI, which the preflight refuses).
        # kube-router is the one CNI cluster.yml offers (cluster/schema.py CNI_PLUGINS); Calico
        # has no row because the lab cannot build it (lab/mirror/src/calico/README.md).
        # Its DaemonSet is the CNI role's template, as upstream's daemonset/*.yaml are examples
        # to edit (cluster CIDR, API server address), so only its image is bundled.
        "cni": {
            "kube-router": {
                "version": "v2.1.0",
                "artifacts": [],
                "manifests": [],
                "images": [_image("kube-router", "docker.io", "cloudnativelabs/kube-router", "v2.1.0")],
            },
        },
    },
}

DEFAULT_KUBERNETES_VERSION = list(SUPPORTED_RELEASES)[-1]

# What kubelet, kubeadm, kube-proxy (iptables mode) and kube-router (iptables and ipset) need on
# a Debian host that a minimal install (debootstrap minbase, a cloud or container image) lacks.
# Upstream's kubelet package (pkgs.k8s.io) depends on iptables, iproute2, mount, util-linux,
# ethtool, ebtables, socat and conntrack; the collection installs the kubelet binary instead of
# that package, so it brings those itself. mount and util-linux (mount, losetup and nsenter:
# kubeadm's mandatory preflight checks and the kubelet's volume code) are Priority required,
# on every Debian host, so they are not listed.
DEBIAN_NODE_PACKAGES = [
    # conntrack: upstream's kubelet package depends on it; kubeadm's preflight required it
    # before v1.32, and it is how an operator inspects or flushes the connection tracking
    # table that kube-proxy's Service NAT lives in.
    "conntrack",
    # socat: upstream's kubelet package depends on it, for runtimes that forward ports
    # (kubectl port-forward) through it; containerd forwards in Go, so nothing here calls it:
    # kept so a node has what upstream's package gives it.
    "socat",
    # ethtool: upstream's kubelet package depends on it; reading and turning off NIC offloads
    # (checksum offload on VXLAN and bridge devices) is how some pod-network faults are fixed.
    "ethtool",
    # ebtables: upstream's kubelet package depends on it (kubenet's bridge rules used it);
    # nothing here calls it either, kept for the same reason as socat.
    "ebtables",
    # ipset: kube-router's NetworkPolicy rules match on ipsets; the host's ipset shows and
    # removes the sets it leaves behind (kube-router --cleanup-config on reset).
    "ipset",
    # iptables: the kubelet creates KUBE-IPTABLES-HINT, KUBE-KUBELET-CANARY and KUBE-FIREWALL
    # with the host's iptables, and the iptables-wrapper of kube-proxy's and kube-router's
    # images picks the legacy or nft backend from the rules the host wrote.
    "iptables",
    # iproute2: upstream's kubelet package depends on it; ip and tc show the addresses, routes
    # and qdiscs the CNI plugins and kube-router set. Priority important, so minimal installs
    # lack it.
    "iproute2",
    # kmod: modprobe, to load overlay and br_netfilter (containerd's snapshotter, bridged pod
    # traffic through iptables) and the netfilter modules kube-proxy and kube-router use.
    "kmod",
]

# Debian's archive signing keys as Debian and Ubuntu install them (package debian-archive-keyring).
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

# OS releases the bundle carries packages for (cluster.yml bundle.osReleases picks some).
# ``avoid``: packages an alternative must not take for the base system when another member
# satisfies it, as debootstrap does by hand (bookworm's init-system-helpers depends on
# "usrmerge | usr-is-merged", and installed hosts have usr-is-merged).
OS_RELEASES = {
    "debian-12": {"suite": "bookworm", "source": "debianArchive", "component": "main",
                  "avoid": ["usrmerge"], "packages": DEBIAN_NODE_PACKAGES},
    "debian-13": {"suite": "trixie", "source": "debianArchive", "component": "main",
                  "avoid": [], "packages": DEBIAN_NODE_PACKAGES},
}

# Named conditions of rows (``when``) on a resolved cluster config.
CONDITIONS = {
    "registry_host": lambda cluster: any("registry" in h["roles"] for h in cluster["hosts"]),
    "metrics_server": lambda cluster: bool(cluster["addons"]["metricsServer"]["enabled"]),
    "sample_app": lambda cluster: bool(cluster["addons"]["sampleApp"]["enabled"]),
}

# Where each registry source's default points when the API host differs from the name
# (Docker Hub's images are named docker.io/..., served by registry-1.docker.io).
REGISTRY_API_HOSTS = {"docker.io": "registry-1.docker.io"}


def supported_versions():
    """Return the supported Kubernetes versions, oldest first."""
    return list(SUPPORTED_RELEASES)


def _wanted(row, cluster):
    return cluster is None or not row.get("when") or CONDITIONS[row["when"]](cluster)


def _fill(text, row, arch):
    return text.format(version=row["version"], arch=arch)


def _join(base, path):
    return base.rstrip("/") + "/" + path.lstrip("/")


def artifact_plan(release_rows, sources, arch, cluster=None):
    """Resolve artifact rows into what to download: name, version, file name, url, checksum url,
    pinned sha256 (or None). Rows whose ``when`` is false for ``cluster`` are left out."""
    plan = []
    for row in release_rows:
        if not _wanted(row, cluster):
            continue
        if arch not in row["arch"]:
            raise ValueError("%s %s is not published for %s" % (row["name"], row["version"], arch))
        path = _fill(row["path"], row, arch)
        plan.append({
            "name": row["name"], "version": row["version"], "arch": arch,
            "file": path.rsplit("/", 1)[-1],
            "url": _join(sources[row["source"]], path),
            "checksum_url": _join(sources[row["source"]], _fill(row["checksum"], row, arch))
            if row.get("checksum") else None,
            "sha256": row.get("sha256", {}).get(arch),
        })
    return plan


def image_plan(release_rows, sources, cluster=None):
    """Resolve image rows: name, ``ref`` (the upstream name, e.g. registry.k8s.io/pause:3.10.2,
    which is also its name below the offline registry), ``pull`` (registry base, repository and
    tag to pull from the configured source) and a pinned digest (or None)."""
    plan = []
    for row in release_rows:
        if not _wanted(row, cluster):
            continue
        plan.append({
            "name": row["name"], "tag": row["tag"], "digest": row.get("digest"),
            "ref": "%s/%s:%s" % (row["upstream"], row["repository"], row["tag"]),
            "registry": sources[row["source"]], "repository": row["repository"],
        })
    return plan


def release(version):
    """The row of one supported release; KeyError names the supported ones."""
    try:
        return SUPPORTED_RELEASES[version]
    except KeyError:
        raise KeyError("Kubernetes %s is not supported; supported: %s"
                       % (version, ", ".join(supported_versions()))) from None


def package_plan(os_releases, sources, arch, keyring=DEBIAN_KEYRING):
    """Resolve OS release rows: per OS id, the archive's base URL, suite, component,
    architecture, the package names whose closure to bundle and the keyring its signed Release
    file must verify against."""
    plan = []
    for os_id in dict.fromkeys(os_releases):
        row = OS_RELEASES[os_id]
        plan.append({
            "os": os_id, "suite": row["suite"], "component": row["component"], "arch": arch,
            "archive": sources[row["source"]].rstrip("/"), "names": list(row["packages"]),
            "avoid": list(row["avoid"]), "keyring": keyring,
        })
    return plan


def cluster_plan(cluster, arch=DEFAULT_ARCH, include_cni=True):
    """Everything one cluster needs: ``{"files": [...], "images": [...], "packages": [...],
    "cni": plugin or None, "missing_cni": plugin or None}`` for a resolved cluster config."""
    row = release(cluster["kubernetesVersion"])
    sources = cluster["sources"]
    files = artifact_plan(row["artifacts"], sources, arch, cluster)
    images = image_plan(row["images"], sources, cluster)
    packages = package_plan(cluster["bundle"]["osReleases"], sources, arch, cluster["bundle"]["debianKeyring"])
    plugin = cluster["cni"]["plugin"]
    cni = row["cni"].get(plugin)
    result = {"files": files, "images": images, "packages": packages, "cni": None, "missing_cni": None}
    if not include_cni:
        return result
    if cni is None:
        result["missing_cni"] = plugin
        return result
    result["cni"] = {"plugin": plugin, "version": cni["version"]}
    files.extend(artifact_plan(cni.get("artifacts", []) + cni.get("manifests", []), sources, arch, cluster))
    images.extend(image_plan(cni.get("images", []), sources, cluster))
    return result
