# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""molecule/containerd's verify step: what the containerd role promises, on the node
(fixtures: molecule/conftest.py)."""

from __future__ import annotations

import json

import pytest

# The role scenarios' lab has one host, lab-1. testinfra's ansible backend cannot read
# ansible-core 2.19+'s inventory JSON (the cluster inventory plugin's values come tagged unsafe,
# {"__ansible_unsafe": ...}), so the tests use the lab's own view of the host, as tests/e2e does.
testinfra_hosts = ["podman://lab-1"]

CERTS_DIR = "/etc/containerd/certs.d"


def test_containerd_runs_and_starts_at_boot(host):
    service = host.service("containerd")
    assert service.is_running
    assert service.is_enabled


def test_containerd_answers_on_its_socket_with_the_bundles_version(host, bom):
    """crictl (from the bundle, pointed at the socket by /etc/crictl.yaml) asks containerd over CRI."""
    answer = dict(line.split(":", 1) for line in host.check_output("crictl version").splitlines() if ":" in line)
    assert answer["RuntimeName"].strip() == "containerd"
    assert answer["RuntimeVersion"].strip().lstrip("v") == bom["files_by_name"]["containerd"]["version"].lstrip("v")


def test_it_pulls_the_pause_image_through_the_site_registry_by_digest(host, bom):
    """The lab's hosts reach nothing outside the lab, and containerd maps registry.k8s.io onto
    the site registry with no fallback upstream: a pull that succeeds came through it."""
    pause = bom["images_by_name"]["pause"]
    image = "%s@%s" % (pause["ref"].rsplit(":", 1)[0], pause["digest"])
    host.run("crictl rmi %s", image)  # absent on a fresh node; present after an earlier verify
    host.check_output("crictl pull %s", image)
    status = json.loads(host.check_output("crictl inspecti --output json %s", image))["status"]
    assert image in status["repoDigests"]


@pytest.mark.parametrize("path", ["/usr/local/bin/containerd", "/usr/local/sbin/runc", "/usr/local/bin/crictl",
                                  "/opt/cni/bin/loopback"])
def test_the_binaries_are_roots_and_executable(host, path):
    item = host.file(path)
    assert item.is_file
    assert (item.user, item.group, item.mode) == ("root", "root", 0o755)


def test_each_mirrored_registry_resolves_to_the_site_registry_only(host, lab):
    """One hosts.toml per mirrored registry and one for the site registry itself; each holds the
    pull identity's credentials, so it is root's alone."""
    site = lab["names"]["registry"]
    for name in site["mirrors"] + [site["address"]]:
        item = host.file("%s/%s/hosts.toml" % (CERTS_DIR, name))
        assert (item.user, item.group, item.mode) == ("root", "root", 0o600), name
        assert 'server = "https://%s' % site["address"] in item.content_string, name
    assert host.file("%s/airgap-registry-ca.crt" % CERTS_DIR).mode == 0o644
