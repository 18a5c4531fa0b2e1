# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every name derived from a cluster file, computed once, on the controller.

Playbooks map these values onto role variables and never re-derive them in Jinja: the API
endpoint, the registry's address, user, CA and mirrored upstream registries, the controller's
state and PKI paths, the kubeconfig, and the first control plane. ``derive`` reads no file: the
bundle, which is found and verified at run time, is added by the ``cluster_facts`` action
(plugins/action/cluster_facts.py) with ``bundle.facts``.
"""

from __future__ import annotations

import ipaddress
import os

from ansible_collections.airgap.kubernetes.plugins.plugin_utils import releases

# The push identity of the site registry when the cluster file sets no registry.auth.
DEFAULT_REGISTRY_USER = "airgap"
# The pull-only identity nodes get from a registry the collection runs.
PULL_REGISTRY_USER = "airgap-pull"


def host_port(host, port):
    """``host:port``, with an IPv6 address in brackets as URLs and kubeadm want it."""
    try:
        if ipaddress.ip_address(host).version == 6:
            return "[%s]:%s" % (host, port)
    except ValueError:
        pass
    return "%s:%s" % (host, port)


def state_paths(cluster_name, cluster_file, state_dir=None):
    """Where the controller keeps what must outlive a run, below ``state_dir`` (the cluster file's
    stateDir, resolved; relative to the cluster file's directory, which is also the default):
    the registry's CA, key and credentials (``pki/<name>``), the admin kubeconfig
    (``<name>/<name>.kubeconfig``) and, beside it, the directory reserved for etcd snapshots
    (``<name>/snapshots``). Directories are made mode 0700, keys, passwords and the kubeconfig
    0600, by the tasks that write them."""
    base = os.path.join(os.path.dirname(os.path.abspath(cluster_file)), state_dir or ".")
    base = os.path.normpath(base)
    cluster_dir = os.path.join(base, cluster_name)
    return {
        "state_dir": base,
        "cluster_state_dir": cluster_dir,
        "pki_dir": os.path.join(base, "pki", cluster_name),
        "kubeconfig": os.path.join(cluster_dir, "%s.kubeconfig" % cluster_name),
        "snapshots_dir": os.path.join(cluster_dir, "snapshots"),
    }


def mirrored_registries(cluster):
    """The upstream registries whose image names nodes resolve through the site registry: every
    registry the collection's release table takes images from."""
    del cluster  # every release pulls from the same upstreams; kept for the day one differs
    return sorted(releases.UPSTREAM_REGISTRIES)


# The CNI network name(s) each pod network writes into /etc/cni/net.d (for kube-router, the
# name in roles/addons/templates/kube-router.yaml.j2's cni-conf.json): what a host that joins
# again must not keep of an earlier membership.
POD_NETWORKS = {"kube-router": ["kube-router"]}


def derive(cluster, cluster_file):
    """The derived names of one resolved cluster config (``model.resolve``) read from
    ``cluster_file``. JSON-serialisable; holds no secret (the registry password stays in the
    cluster file or in ``registry.password_file``, which a lookup reads when a play needs it)."""
    paths = state_paths(cluster["name"], cluster_file, cluster.get("stateDir"))
    registry = cluster["registry"]
    endpoint = cluster["controlPlane"]["endpoint"]
    generated = registry["tls"]["mode"] == "generated"
    auth = registry["auth"]
    by_role = {}
    for host in cluster["hosts"]:
        for role in host["roles"]:
            by_role.setdefault(role, []).append(host["name"])
    push = {"username": auth["username"] or DEFAULT_REGISTRY_USER,
            # Read with the password lookup, which creates it on first use, when auth is unset.
            "password_file": "" if auth["password"] else os.path.join(paths["pki_dir"], "registry-password")}
    # Nodes pull with an identity of their own that cannot push (the registry the collection runs
    # is read-only to it); a registry the site runs itself (no host with role registry) is
    # reached with registry.auth.
    managed = "registry" in by_role
    pull = ({"username": PULL_REGISTRY_USER,
             "password_file": os.path.join(paths["pki_dir"], "registry-pull-password")} if managed else dict(push))
    return dict(paths, **{
        "cluster": cluster["name"],
        "cluster_file": os.path.abspath(cluster_file),
        "kubernetes_version": cluster["kubernetesVersion"],
        "first_control_plane": by_role["control_plane"][0],
        "pod_networks": POD_NETWORKS.get(cluster["cni"]["plugin"], []),
        "endpoint": {
            "host": endpoint["host"], "port": endpoint["port"],
            "address": host_port(endpoint["host"], endpoint["port"]),
            "url": "https://%s" % host_port(endpoint["host"], endpoint["port"]),
        },
        "registry": {
            "host": registry["host"], "port": registry["port"],
            "address": host_port(registry["host"], registry["port"]),
            "managed": managed,
            "username": push["username"], "password_file": push["password_file"],
            "pull": pull,
            "tls_mode": registry["tls"]["mode"],
            "ca_file": os.path.join(paths["pki_dir"], "ca.crt") if generated else (registry["tls"]["caFile"] or ""),
            "mirrors": mirrored_registries(cluster),
        },
    })
