# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The effective settings of a valid cluster.yml: defaults filled, paths resolved."""

from __future__ import annotations

import os

import yaml

from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.model import group_name, load
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.releases import SUPPORTED_RELEASES

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")


def read(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_minimal_file_gets_every_default():
    path = os.path.join(FIXTURES, "valid", "minimal.yml")
    cluster = load(read(path), base_dir=os.path.dirname(path))
    assert cluster["kubernetesVersion"] == list(SUPPORTED_RELEASES)[-1]
    assert cluster["network"] == {"podCIDR": "10.244.0.0/16", "serviceCIDR": "10.96.0.0/12",
                                  "clusterDomain": "cluster.local", "upstreamDNS": ["/etc/resolv.conf"]}
    assert cluster["cni"] == {"plugin": "kube-router"}
    assert cluster["kubelet"] == {"failCgroupV1": True, "extraArgs": {}}
    assert cluster["addons"]["metricsServer"]["enabled"] is True
    assert cluster["addons"]["sampleApp"]["enabled"] is False
    assert cluster["controlPlane"]["endpoint"] == {"host": "192.168.1.10", "port": 6443}
    assert cluster["registry"]["host"] == "192.168.1.10"
    assert cluster["registry"]["tls"]["mode"] == "generated"
    assert cluster["hosts"][0]["ssh"] == {"host": "192.168.1.10", "user": "root", "port": 22, "keyFile": None}
    assert cluster["bundle"]["path"] == os.path.join(os.path.dirname(path), "bundle")
    assert cluster["sources"]["kubernetesReleases"] == "https://dl.k8s.io"


def test_full_file_keeps_every_value_and_resolves_paths():
    path = os.path.join(FIXTURES, "valid", "full.yml")
    raw = read(path)
    cluster = load(raw, base_dir=os.path.dirname(path))
    files = os.path.join(os.path.dirname(path), "files")
    assert cluster["hosts"][0]["ssh"] == {"host": "203.0.113.11", "user": "admin", "port": 22,
                                          "keyFile": os.path.join(files, "dummy-ssh-key")}
    assert cluster["hosts"][2]["ssh"]["user"] == "debian"
    assert cluster["hosts"][2]["ssh"]["port"] == 2222
    assert cluster["registry"]["host"] == "reg1.example.net"
    assert cluster["registry"]["tls"]["certFile"] == os.path.join(files, "registry.pem")
    assert cluster["kubelet"]["extraArgs"] == {"max-pods": 200, "node-labels": "rack=a1"}
    assert cluster["bundle"]["debianKeyring"] == os.path.join(os.path.dirname(path), "keys", "mirror-archive.gpg")
    for key in ("cni", "network", "addons", "sources", "controlPlane"):
        assert cluster[key] == raw[key]


def test_group_name_is_a_valid_group():
    assert group_name("lab-one") == "cluster_lab_one"
