#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pod_network_leftovers
short_description: Remove the pod network an earlier cluster membership left on a host
version_added: 0.1.0
description:
  - C(kubeadm reset) leaves the pod network behind (its documentation says to clean the CNI
    configuration by hand). A host that joins again gets a new Node and with it a new pod CIDR,
    while the CNI's bridge keeps the old one's gateway address, so every new pod on the host
    stays in C(ContainerCreating) with I(failed to set bridge addr ... already has an IP address
    different from ...).
  - For each CNI configuration in O(config_dir) whose network name is in O(networks), this
    removes the bridge interfaces it names, the host-local IP allocations of that network below
    O(state_dir), and the configuration file itself (the CNI's pod writes it again once the node
    has its pod CIDR). Configurations of other networks are not touched.
  - Run it only on a host without kubeadm state (nothing of the cluster runs there), before
    C(kubeadm join).
options:
  networks:
    description: The CNI network names the cluster's pod network uses.
    type: list
    elements: str
    required: true
  config_dir:
    description: The CNI configuration directory.
    type: path
    default: /etc/cni/net.d
  state_dir:
    description: The CNI plugins' state directory (host-local keeps allocations in C(networks/<name>)).
    type: path
    default: /var/lib/cni
extends_documentation_fragment:
  - airgap.kubernetes.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
author:
  - airgap.kubernetes maintainers (@airgap)
"""

EXAMPLES = r"""
- name: Remove kube-router's bridge and configuration left by an earlier membership
  airgap.kubernetes.pod_network_leftovers:
    networks: [kube-router]
"""

RETURN = r"""
interfaces:
  description: Bridge interfaces removed (or, in check mode, that would be).
  type: list
  elements: str
  returned: always
  sample: [kube-bridge]
files:
  description: Configuration files and allocation directories removed.
  type: list
  elements: str
  returned: always
"""

import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402


def configurations(config_dir, networks):
    """(path, network name, bridge names) of each CNI configuration of one of ``networks``."""
    found = []
    if not os.path.isdir(config_dir):
        return found
    for name in sorted(os.listdir(config_dir)):
        path = os.path.join(config_dir, name)
        if not name.endswith((".conf", ".conflist", ".json")) or not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                config = json.load(handle)
        except (OSError, ValueError):
            continue
        if not isinstance(config, dict) or config.get("name") not in networks:
            continue
        plugins = config.get("plugins") if isinstance(config.get("plugins"), list) else [config]
        bridges = [p["bridge"] for p in plugins if isinstance(p, dict) and p.get("type") == "bridge"
                   and isinstance(p.get("bridge"), str) and p["bridge"]]
        found.append((path, config["name"], bridges))
    return found


def main():
    module = AnsibleModule(
        argument_spec={
            "networks": {"type": "list", "elements": "str", "required": True},
            "config_dir": {"type": "path", "default": "/etc/cni/net.d"},
            "state_dir": {"type": "path", "default": "/var/lib/cni"},
        },
        supports_check_mode=True,
    )
    networks = module.params["networks"]
    interfaces, files = [], []
    for path, network, bridges in configurations(module.params["config_dir"], networks):
        for bridge in bridges:
            if os.path.exists(os.path.join("/sys/class/net", bridge)) and bridge not in interfaces:
                interfaces.append(bridge)
        files.append(path)
        allocations = os.path.join(module.params["state_dir"], "networks", network)
        if os.path.isdir(allocations) and allocations not in files:
            files.append(allocations)
    if not module.check_mode:
        ip = module.get_bin_path("ip", required=True)
        for bridge in interfaces:
            rc, dummy, err = module.run_command([ip, "link", "delete", bridge])
            if rc != 0:
                module.fail_json(msg="could not remove the interface %s: %s" % (bridge, err.strip()))
        for path in files:
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
    module.exit_json(changed=bool(interfaces or files), interfaces=interfaces, files=files)


if __name__ == "__main__":
    main()
