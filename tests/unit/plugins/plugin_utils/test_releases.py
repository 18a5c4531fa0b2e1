# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release table: every row complete, and a cluster's plan built from its sources."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.airgap.kubernetes.plugins.plugin_utils import releases
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.model import load
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.schema import SCHEMA

HERE = os.path.dirname(os.path.abspath(__file__))
MIRROR = {
    "kubernetesReleases": "http://127.0.0.1:18080/dl.k8s.io",
    "githubReleases": "http://127.0.0.1:18080/github.com",
    "registryK8sIo": "http://127.0.0.1:15000/registry.k8s.io",
    "dockerHub": "http://127.0.0.1:15000/docker.io",
}


def cluster(**settings):
    with open(os.path.join(HERE, "cluster", "fixtures", "valid", "minimal.yml"), encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    raw.update(settings)
    return load(raw, base_dir=HERE, check_files=False)


@pytest.mark.parametrize("version", releases.supported_versions())
def test_every_row_is_complete(version):
    row = releases.SUPPORTED_RELEASES[version]
    sources = SCHEMA["sources"]["options"]
    for artifact in row["artifacts"]:
        assert set(artifact) >= {"name", "version", "source", "path", "checksum", "sha256", "arch"}, artifact
        assert artifact["source"] in sources and artifact.get("when", "registry_host") in releases.CONDITIONS
    for image in row["images"]:
        assert image["source"] in sources and image.get("when", "registry_host") in releases.CONDITIONS
    for rows in (row["artifacts"], row["images"]):
        names = [r["name"] for r in rows]
        assert len(names) == len(set(names)), "duplicate names in %s" % names


def test_plan_follows_sources_and_conditions():
    plan = releases.cluster_plan(cluster(sources=MIRROR, addons={"sampleApp": {"enabled": True}}))
    urls = {f["name"]: f["url"] for f in plan["files"]}
    assert urls["kubeadm"] == "http://127.0.0.1:18080/dl.k8s.io/release/v1.37.2/bin/linux/amd64/kubeadm"
    assert urls["containerd"] == ("http://127.0.0.1:18080/github.com/containerd/containerd/releases/download/"
                                  "v2.4.2/containerd-2.4.2-linux-amd64.tar.gz")
    checksums = {f["name"]: f["checksum_url"] for f in plan["files"]}
    assert checksums["runc"].endswith("/opencontainers/runc/releases/download/v1.5.2/runc.sha256sum")
    refs = {i["ref"]: i["registry"] for i in plan["images"]}
    assert refs["registry.k8s.io/etcd:3.7.0-0"] == "http://127.0.0.1:15000/registry.k8s.io"
    assert refs["docker.io/airgapkubernetes/hello:v1.0.0"] == "http://127.0.0.1:15000/docker.io"
    assert len(refs) == 11
    assert plan["missing_cni"] is None and plan["cni"] == {"plugin": "kube-router", "version": "v2.1.0"}

    lean = releases.cluster_plan(cluster(addons={"metricsServer": {"enabled": False}}))
    assert "registry.k8s.io/metrics-server/metrics-server:v0.8.0" not in {i["ref"] for i in lean["images"]}
    assert "docker.io/airgapkubernetes/hello:v1.0.0" not in {i["ref"] for i in lean["images"]}
    assert lean["files"][0]["url"].startswith("https://dl.k8s.io/release/")


def test_a_cni_row_adds_its_files_and_images(monkeypatch):
    row = releases.SUPPORTED_RELEASES["v1.37.2"]
    # A made-up CNI: the table, not the schema, decides what a plugin's row brings.
    monkeypatch.setitem(row["cni"], "example-cni", {
        "version": "v9.9.9",
        "artifacts": [],
        "manifests": [{"name": "example-manifest", "version": "v9.9.9", "source": "githubReleases",
                       "path": "example/cni/releases/download/{version}/cni.yaml",
                       "checksum": None, "sha256": {"amd64": "0" * 64}, "arch": ["amd64"]}],
        "images": [{"name": "example-node", "upstream": "quay.io", "repository": "example/node",
                    "tag": "v9.9.9", "source": "quayIo", "digest": None}],
    })
    config = cluster()
    config["cni"]["plugin"] = "example-cni"
    plan = releases.cluster_plan(config)
    assert plan["cni"] == {"plugin": "example-cni", "version": "v9.9.9"} and plan["missing_cni"] is None
    assert plan["files"][-1]["sha256"] == "0" * 64 and plan["files"][-1]["checksum_url"] is None
    assert plan["images"][-1]["ref"] == "quay.io/example/node:v9.9.9"


def test_a_cni_without_a_row_is_named(monkeypatch):
    monkeypatch.delitem(releases.SUPPORTED_RELEASES["v1.37.2"]["cni"], "kube-router")
    plan = releases.cluster_plan(cluster())
    assert plan["missing_cni"] == "kube-router" and plan["cni"] is None


def test_the_kube_router_row():
    config = cluster()
    config["cni"]["plugin"] = "kube-router"
    plan = releases.cluster_plan(config)
    assert plan["cni"] == {"plugin": "kube-router", "version": "v2.1.0"}
    assert plan["images"][-1]["ref"] == "docker.io/cloudnativelabs/kube-router:v2.1.0"


def test_os_releases_and_their_package_plan():
    # The ids are what the node role computes on a host: distribution, lower case, '-', major version.
    assert releases.OS_RELEASES["debian-12"]["suite"] == "bookworm"
    assert releases.OS_RELEASES["debian-13"]["suite"] == "trixie"
    for row in releases.OS_RELEASES.values():
        assert row["source"] in SCHEMA["sources"]["options"]
        assert {"conntrack", "socat", "ethtool", "ebtables", "ipset", "iptables", "iproute2", "kmod"} <= set(row["packages"])
    plan = releases.cluster_plan(cluster(sources=dict(MIRROR, debianArchive="http://127.0.0.1:18080/deb.debian.org/debian/")))
    assert [(p["os"], p["suite"], p["archive"]) for p in plan["packages"]] == [
        ("debian-12", "bookworm", "http://127.0.0.1:18080/deb.debian.org/debian"),
        ("debian-13", "trixie", "http://127.0.0.1:18080/deb.debian.org/debian")]
    assert plan["packages"][0]["avoid"] == ["usrmerge"] and plan["packages"][0]["arch"] == "amd64"
    one = releases.cluster_plan(cluster(bundle={"osReleases": ["debian-13", "debian-13"]}))
    assert [p["os"] for p in one["packages"]] == ["debian-13"]
    assert releases.cluster_plan(cluster(bundle={"osReleases": []}))["packages"] == []
