# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""molecule/registry's verify step: what the registry role promises, on the registry host and
from this machine as a node sees the registry (fixtures: molecule/conftest.py)."""

from __future__ import annotations

import pytest

# The role scenarios' lab has one host, lab-1. testinfra's ansible backend cannot read
# ansible-core 2.19+'s inventory JSON (the cluster inventory plugin's values come tagged unsafe,
# {"__ansible_unsafe": ...}), so the tests use the lab's own view of the host, as tests/e2e does.
testinfra_hosts = ["podman://lab-1"]

CONFIG_DIR = "/etc/airgap-registry"
# What a registry may answer a manifest request with (the bundle keeps upstream's index).
MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


def test_the_registry_runs_and_starts_at_boot(host):
    service = host.service("airgap-registry")
    assert service.is_running
    assert service.is_enabled


def test_the_push_instance_is_stopped(host):
    """Images go in through a second instance that runs only while something is missing."""
    service = host.service("airgap-registry-push")
    assert not service.is_running
    assert not service.is_enabled
    assert not host.socket("tcp://127.0.0.1:5001").is_listening


def test_the_registry_listens_on_its_port(host, lab):
    assert host.socket("tcp://%d" % lab["names"]["registry"]["port"]).is_listening


@pytest.mark.parametrize("name", ["htpasswd", "htpasswd-push", "tls.key"])
def test_credentials_and_the_key_are_for_root_and_the_registry_only(host, name):
    item = host.file("%s/%s" % (CONFIG_DIR, name))
    assert item.is_file
    assert (item.user, item.group, item.mode) == ("root", "airgap-registry", 0o640)


def test_it_answers_only_over_tls_and_only_with_credentials(registry):
    """The certificate checks out against the cluster's registry CA (the request would fail
    otherwise); plain HTTP on the same port is refused, and so is an anonymous request."""
    assert registry("/v2/", tls=False, auth=False)[0] == 400
    assert registry("/v2/", auth=False)[0] == 401
    assert registry("/v2/")[0] == 200


def pause_manifest(bom):
    """The pause image's manifest path in the site registry: /v2/<upstream name>/manifests/<digest>."""
    pause = bom["images_by_name"]["pause"]
    return "/v2/%s/manifests/%s" % (pause["ref"].rsplit(":", 1)[0], pause["digest"]), pause["digest"]


def test_the_pull_identity_pulls_a_manifest_by_digest(registry, bom):
    path, digest = pause_manifest(bom)
    status, headers = registry(path, headers={"Accept": MANIFEST_TYPES})
    assert status == 200, "%s: %s" % (path, status)
    assert headers["Docker-Content-Digest"] == digest


def test_an_anonymous_pull_is_refused(registry, bom):
    path = pause_manifest(bom)[0]
    assert registry(path, headers={"Accept": MANIFEST_TYPES}, auth=False)[0] == 401


def test_the_pull_identity_cannot_push(registry):
    """The instance nodes reach is read-only: a blob upload is refused as not allowed (405),
    not as unauthenticated (401)."""
    assert registry("/v2/airgap-kubernetes/molecule-probe/blobs/uploads/", method="POST")[0] == 405
