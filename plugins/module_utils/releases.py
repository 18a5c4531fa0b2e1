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

Standard library only: modules that run on air-gapped hosts import it too.
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


def _image(name, upstream, repository, tag, when=None, digest=None):
    source = {"registry.k8s.io": "registryK8sIo", "docker.io": "dockerHub", "quay.io": "quayIo"}[upstream]
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
        # Calico cannot be built for the lab (lab/mirror/src/calico/README.md); kube-router is
        # the lab's CNI, ready here for when cluster.yml offers it (cluster_config.CNI_PLUGINS).
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


def cluster_plan(cluster, arch=DEFAULT_ARCH, include_cni=True):
    """Everything one cluster needs: ``{"files": [...], "images": [...], "cni": plugin or None,
    "missing_cni": plugin or None}`` for a resolved cluster config."""
    row = release(cluster["kubernetesVersion"])
    sources = cluster["sources"]
    files = artifact_plan(row["artifacts"], sources, arch, cluster)
    images = image_plan(row["images"], sources, cluster)
    plugin = cluster["cni"]["plugin"]
    cni = row["cni"].get(plugin)
    result = {"files": files, "images": images, "cni": None, "missing_cni": None}
    if not include_cni:
        return result
    if cni is None:
        result["missing_cni"] = plugin
        return result
    result["cni"] = {"plugin": plugin, "version": cni["version"]}
    files.extend(artifact_plan(cni.get("artifacts", []) + cni.get("manifests", []), sources, arch, cluster))
    images.extend(image_plan(cni.get("images", []), sources, cluster))
    return result
