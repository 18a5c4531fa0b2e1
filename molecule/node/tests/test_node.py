# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""molecule/node's verify step: what the node role promises, on the node (fixtures:
molecule/conftest.py)."""

from __future__ import annotations

import pytest

# The role scenarios' lab has one host, lab-1. testinfra's ansible backend cannot read
# ansible-core 2.19+'s inventory JSON (the cluster inventory plugin's values come tagged unsafe,
# {"__ansible_unsafe": ...}), so the tests use the lab's own view of the host, as tests/e2e does.
testinfra_hosts = ["podman://lab-1"]

# The role's defaults (node_sysctls), which playbooks/nodes.yml keeps.
SYSCTLS = {
    "net.ipv4.ip_forward": 1,
    "net.bridge.bridge-nf-call-iptables": 1,
    "net.bridge.bridge-nf-call-ip6tables": 1,
}
SYSCTL_FILE = "/etc/sysctl.d/99-airgap-kubernetes.conf"


def test_the_bundles_os_packages_are_installed(host, bom):
    """Every .deb the bundle holds for this host's OS (id <distribution>-<major>, as nodes.yml
    picks them) is installed; the host could not have fetched any of them."""
    os_id = "%s-%s" % (host.system_info.distribution.lower(), host.system_info.release.split(".")[0])
    names = sorted({p["name"] for p in bom.get("packages", []) if p["os"] == os_id})
    assert names, "the bundle has no packages for %s (it has: %s)" % (
        os_id, sorted({p["os"] for p in bom.get("packages", [])}))
    missing = [name for name in names if not host.package(name).is_installed]
    assert not missing


def test_swap_is_off(host):
    assert host.file("/proc/swaps").content_string.splitlines()[1:] == []


@pytest.mark.parametrize("evidence", ["/sys/module/overlay", "/proc/sys/net/bridge"])
def test_the_kernel_modules_are_present(host, evidence):
    """overlay and br_netfilter, loaded or built in (the role's own evidence of each)."""
    assert host.file(evidence).exists


@pytest.mark.parametrize("name,value", sorted(SYSCTLS.items()))
def test_the_sysctls_are_set_and_kept_for_boot(host, name, value):
    assert host.sysctl(name) == value
    kept = host.file(SYSCTL_FILE)
    assert (kept.user, kept.group, kept.mode) == ("root", "root", 0o644)
    assert "%s=%s" % (name, value) in kept.content_string.replace(" ", "").splitlines()


def test_the_service_network_is_routed_on_a_host_without_a_default_route(host, lab):
    """The lab's hosts have no default route: the node address's interface carries the Service
    network, now and at boot."""
    if host.check_output("ip -4 route show default").strip():
        pytest.skip("this host has a default route: the role adds no route")
    cidr = lab["config"]["network"]["serviceCIDR"]
    route = host.check_output("ip -4 route show %s", cidr).strip()
    assert route.startswith(cidr + " dev "), "no route for the Service network %s: %r" % (cidr, route)
    assert host.service("airgap-service-route").is_enabled
