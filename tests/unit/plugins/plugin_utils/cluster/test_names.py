# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every name the playbooks need, derived once from a cluster file."""

from __future__ import annotations

import json
import os
import shutil

import yaml

from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.model import load
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.names import derive, host_port

BASE = """\
plugin: airgap.kubernetes.cluster
apiVersion: airgap.kubernetes/v1alpha1
kind: Cluster
name: demo
hosts:
  - {name: cp1, address: 192.0.2.11, roles: [control_plane]}
  - {name: reg, address: 192.0.2.10, roles: [registry]}
  - {name: w1, address: 192.0.2.12, roles: [worker]}
"""
FILES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "valid", "files")


def names(tmp_path, extra=""):
    path = tmp_path / "demo.cluster.yml"
    path.write_text(BASE + extra)
    return derive(load(yaml.safe_load(path.read_text()), base_dir=str(tmp_path)), str(path))


def test_defaults_come_from_the_hosts_roles(tmp_path):
    got = names(tmp_path)
    assert got["first_control_plane"] == "cp1"
    assert got["endpoint"] == {"host": "192.0.2.11", "port": 6443, "address": "192.0.2.11:6443",
                               "url": "https://192.0.2.11:6443"}
    assert got["registry"] == {
        "host": "192.0.2.10", "port": 5000, "address": "192.0.2.10:5000", "managed": True, "username": "airgap",
        "password_file": str(tmp_path / "pki" / "demo" / "registry-password"), "tls_mode": "generated",
        "pull": {"username": "airgap-pull", "password_file": str(tmp_path / "pki" / "demo" / "registry-pull-password")},
        "ca_file": str(tmp_path / "pki" / "demo" / "ca.crt"),
        "mirrors": ["docker.io", "quay.io", "registry.k8s.io"]}
    assert got["pki_dir"] == str(tmp_path / "pki" / "demo")
    assert got["kubeconfig"] == str(tmp_path / "demo" / "demo.kubeconfig")
    assert got["cluster_file"] == str(tmp_path / "demo.cluster.yml")
    json.dumps(got)  # the playbooks get it as a task result


def test_a_vip_a_set_password_and_a_provided_ca(tmp_path):
    for name in ("registry-ca.pem", "registry.pem", "registry-key.pem"):
        shutil.copy(os.path.join(FILES, name), str(tmp_path / ("site-" + name)))
    got = names(tmp_path, """\
controlPlane: {endpoint: {host: 192.0.2.100, port: 8443}}
registry:
  auth: {username: pusher, password: s3cret}
  tls: {mode: provided, caFile: site-registry-ca.pem, certFile: site-registry.pem, keyFile: site-registry-key.pem}
""")
    assert got["endpoint"]["address"] == "192.0.2.100:8443"
    assert got["registry"]["username"] == "pusher"
    assert got["registry"]["password_file"] == ""
    # Nodes still get a pull-only identity of their own from the registry the collection runs.
    assert got["registry"]["pull"]["username"] == "airgap-pull"
    assert got["registry"]["ca_file"] == os.path.join(str(tmp_path), "site-registry-ca.pem")
    assert "s3cret" not in json.dumps(got)


def test_ipv6_addresses_are_bracketed_with_their_port():
    assert host_port("fd00::1", 6443) == "[fd00::1]:6443"
    assert host_port("192.0.2.1", 6443) == "192.0.2.1:6443"
    assert host_port("api.example.org", 6443) == "api.example.org:6443"


def test_a_registry_the_site_runs_is_reached_with_registry_auth(tmp_path):
    path = tmp_path / "demo.cluster.yml"
    path.write_text(BASE.replace("roles: [registry]", "roles: [worker]") + """\
registry:
  host: registry.example.org
  auth: {username: site, password: s3cret}
""")
    got = derive(load(yaml.safe_load(path.read_text()), base_dir=str(tmp_path)), str(path))
    assert got["registry"]["managed"] is False
    assert got["registry"]["pull"] == {"username": "site", "password_file": ""}
    assert got["registry"]["address"] == "registry.example.org:5000"
