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
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.names import derive, host_port, state_paths

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
    assert got["state_dir"] == str(tmp_path)
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


def state(got):
    return {key: got[key] for key in ("state_dir", "cluster_state_dir", "pki_dir", "kubeconfig", "snapshots_dir")} | {
        "password_file": got["registry"]["password_file"], "pull": got["registry"]["pull"]["password_file"],
        "ca_file": got["registry"]["ca_file"]}


def test_without_state_dir_the_state_stays_where_it_always_was(tmp_path):
    """A cluster file written before stateDir existed keeps its CA, passwords and kubeconfig: the
    very paths the collection used before (the cluster file's directory), with no migration."""
    expected = {
        "state_dir": str(tmp_path), "cluster_state_dir": str(tmp_path / "demo"),
        "pki_dir": str(tmp_path / "pki" / "demo"), "kubeconfig": str(tmp_path / "demo" / "demo.kubeconfig"),
        "snapshots_dir": str(tmp_path / "demo" / "snapshots"),
        "password_file": str(tmp_path / "pki" / "demo" / "registry-password"),
        "pull": str(tmp_path / "pki" / "demo" / "registry-pull-password"),
        "ca_file": str(tmp_path / "pki" / "demo" / "ca.crt")}
    assert state(names(tmp_path)) == expected
    # The generator writes stateDir: "." into a starter file: the same place.
    assert state(names(tmp_path, 'stateDir: "."\n')) == expected


def test_an_absolute_state_dir_holds_every_state_path(tmp_path):
    persistent = tmp_path / "volume" / "airgap"
    got = state(names(tmp_path, "stateDir: %s\n" % persistent))
    assert got == {
        "state_dir": str(persistent), "cluster_state_dir": str(persistent / "demo"),
        "pki_dir": str(persistent / "pki" / "demo"), "kubeconfig": str(persistent / "demo" / "demo.kubeconfig"),
        "snapshots_dir": str(persistent / "demo" / "snapshots"),
        "password_file": str(persistent / "pki" / "demo" / "registry-password"),
        "pull": str(persistent / "pki" / "demo" / "registry-pull-password"),
        "ca_file": str(persistent / "pki" / "demo" / "ca.crt")}
    assert not persistent.exists()  # deriving names writes nothing


def test_a_relative_state_dir_is_relative_to_the_cluster_file(tmp_path, monkeypatch):
    monkeypatch.chdir("/")  # not the working directory's
    got = names(tmp_path, "stateDir: ../state\n")
    assert got["state_dir"] == str(tmp_path.parent / "state")
    assert got["kubeconfig"] == str(tmp_path.parent / "state" / "demo" / "demo.kubeconfig")
    assert got["registry"]["password_file"] == str(tmp_path.parent / "state" / "pki" / "demo" / "registry-password")


def test_state_paths_alone_resolve_against_the_cluster_file(tmp_path):
    cluster_file = str(tmp_path / "c" / "cluster.yml")
    assert state_paths("demo", cluster_file)["pki_dir"] == str(tmp_path / "c" / "pki" / "demo")
    assert state_paths("demo", cluster_file, "s")["kubeconfig"] == str(tmp_path / "c" / "s" / "demo" / "demo.kubeconfig")
    assert state_paths("demo", cluster_file, "/srv/airgap")["state_dir"] == "/srv/airgap"
