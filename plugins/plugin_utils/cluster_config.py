# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster.yml model: schema, validation, defaults and renderings.

One file describes one cluster: its hosts (the Ansible inventory) and every setting. This module
is the only place that knows its shape. The inventory plugin ``airgap.kubernetes.cluster``, the
``validate_cluster_config`` and ``generate_cluster_config`` actions and docs/cluster-config.md
are all made from ``SCHEMA`` below.

Field types, choices, defaults and required fields are checked with ansible-core's own
``ArgumentSpecValidator``; this module only walks the tree so that every problem names its field
path (``hosts[2].address``), then adds the checks a spec cannot express (duplicates, overlaps,
files that must exist). Every problem is collected; nothing stops at the first.

Controller-side: the inventory plugin and the action plugins import it; nothing ships it to hosts.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import textwrap

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import RequiredError
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.releases import (
    DEBIAN_KEYRING,
    DEFAULT_KUBERNETES_VERSION,
    OS_RELEASES,
    supported_versions,
)

API_VERSION = "airgap.kubernetes/v1alpha1"
KIND = "Cluster"
INVENTORY_PLUGIN = "airgap.kubernetes.cluster"
ROLES = ["control_plane", "worker", "registry"]
# Inventory group of each host role.
ROLE_GROUPS = {"control_plane": "control_plane", "worker": "workers", "registry": "registry"}

# The CNI plugins the collection can install, as data: each row names its settings block
# (``cni.<plugin>``) and that block's options. Adding a CNI is adding a row (and a role).
CNI_PLUGINS = {
    "kube-router": {
        "description": "kube-router settings (used when cni.plugin is kube-router): it routes pod "
                       "traffic between nodes and enforces NetworkPolicy with iptables and ipset; "
                       "kube-proxy keeps serving Services.",
        "options": {},
    },
    "calico": {
        "description": "Calico settings (used when cni.plugin is calico).",
        "options": {
            "encapsulation": {
                "type": "str",
                "default": "VXLAN",
                "choices": ["VXLAN", "VXLANCrossSubnet", "IPIP", "IPIPCrossSubnet", "None"],
                "description": "Encapsulation of the pod network, as Calico's IPPool spells it. "
                               "VXLAN works on any L3 network and needs no BGP.",
            },
            "mtu": {
                "type": "int",
                "default": 0,
                "description": "MTU of pod interfaces; 0 lets Calico detect it from the host "
                               "interface. Otherwise 1000 to 9000.",
            },
        },
    },
}
# kube-router is the CNI proven end to end in the lab; Calico cannot be built there yet
# (lab/mirror/src/calico/README.md), so no release bundles it and the bundle refuses it.
DEFAULT_CNI = "kube-router"

_HOST_SSH = {
    "host": {
        "type": "str",
        "description": "Address Ansible connects to, when it differs from address "
                       "(a management network, a jump through NAT). Default: address.",
    },
    "user": {"type": "str", "description": "SSH user. Default: ssh.user at the top level."},
    "port": {"type": "int", "description": "SSH port. Default: ssh.port at the top level."},
    "keyFile": {
        "type": "path",
        "description": "Private key file on the controller, relative to cluster.yml or absolute. "
                       "Default: ssh.keyFile at the top level.",
    },
}

# The schema of cluster.yml, in ArgumentSpecValidator's format plus a description per option
# (``description`` is ignored by the validator, as in roles' meta/argument_specs.yml).
# Level constraints (required_if, required_together) sit beside ``options`` as in module specs.
SCHEMA = {
    "apiVersion": {
        "type": "str", "required": True, "choices": [API_VERSION],
        "description": "Version of this file's schema.",
    },
    "kind": {"type": "str", "required": True, "choices": [KIND], "description": "Always Cluster."},
    "plugin": {
        "type": "str", "required": True, "choices": [INVENTORY_PLUGIN],
        "description": "Makes the file an inventory source: Ansible's default auto inventory "
                       "plugin hands it to airgap.kubernetes.cluster, so `-i cluster.yml` needs no "
                       "ansible.cfg change, and the yaml inventory plugin leaves it alone.",
    },
    "name": {
        "type": "str", "required": True,
        "description": "Cluster name: a DNS label (lowercase letters, digits, '-'). Names the "
                       "inventory group cluster_<name> ('-' becomes '_').",
    },
    "kubernetesVersion": {
        "type": "str", "default": DEFAULT_KUBERNETES_VERSION, "choices": supported_versions(),
        "description": "Kubernetes release to install; one of the collection's supported "
                       "releases (plugins/plugin_utils/releases.py).",
    },
    "ssh": {
        "type": "dict",
        "description": "SSH settings shared by every host; a host's own ssh block overrides them.",
        "options": {
            "user": {"type": "str", "default": "root", "description": "SSH user."},
            "port": {"type": "int", "default": 22, "description": "SSH port."},
            "keyFile": {
                "type": "path",
                "description": "Private key file on the controller, relative to cluster.yml or "
                               "absolute. Unset: ssh-agent and ~/.ssh defaults.",
            },
            "commonArgs": {
                "type": "str",
                "description": "Extra ssh options for every connection (ansible_ssh_common_args), "
                               "for example a known_hosts file or a jump host.",
            },
        },
    },
    "vars": {
        "type": "dict", "default": {},
        "description": "Extra Ansible variables for every host of the cluster (for example "
                       "ansible_python_interpreter); set on the cluster group.",
    },
    "hosts": {
        "type": "list", "elements": "dict", "required": True,
        "description": "The machines. Every host needs a name, an address and its roles.",
        "options": {
            "name": {
                "type": "str", "required": True,
                "description": "Inventory hostname and Kubernetes node name (a lowercase DNS "
                               "name).",
            },
            "address": {
                "type": "str", "required": True,
                "description": "IP address (or DNS name) the node is reached at inside the "
                               "cluster; the kubelet's node IP.",
            },
            "roles": {
                "type": "list", "elements": "str", "required": True, "choices": ROLES,
                "description": "What the host runs: control_plane, worker, registry (several "
                               "allowed; a single-host cluster holds all three).",
            },
            "ssh": {"type": "dict", "description": "Per-host SSH settings.", "options": _HOST_SSH},
            "vars": {
                "type": "dict", "default": {},
                "description": "Extra Ansible variables for this host only (for example "
                               "ansible_python_interpreter).",
            },
        },
    },
    "controlPlane": {
        "type": "dict",
        "description": "How clients reach the API server.",
        "options": {
            "endpoint": {
                "type": "dict",
                "description": "The API server endpoint (kubeadm controlPlaneEndpoint).",
                "options": {
                    "host": {
                        "type": "str",
                        "description": "IP or DNS name. Default: the control-plane host's address. "
                                       "Reserved for a VIP when several control planes are "
                                       "supported.",
                    },
                    "port": {"type": "int", "default": 6443, "description": "API server port."},
                },
            },
        },
    },
    "network": {
        "type": "dict",
        "description": "Cluster networking.",
        "options": {
            "podCIDR": {
                "type": "str", "default": "10.244.0.0/16",
                "description": "Pod network; must not overlap the service network or any host "
                               "address. Nodes get a /24 each (IPv4), so at most /24.",
            },
            "serviceCIDR": {
                "type": "str", "default": "10.96.0.0/12",
                "description": "Service network; must not overlap the pod network or any host "
                               "address. At most a /12 (IPv4).",
            },
            "clusterDomain": {
                "type": "str", "default": "cluster.local",
                "description": "DNS domain of Services (CoreDNS and the kubelet's clusterDomain).",
            },
            "upstreamDNS": {
                "type": "list", "elements": "str", "default": ["/etc/resolv.conf"],
                "description": "Where CoreDNS forwards names outside the cluster: DNS server "
                               "addresses, or a resolv.conf path on the nodes (kubeadm's default "
                               "is the node's /etc/resolv.conf). Empty for a site without DNS: "
                               "CoreDNS then answers cluster names only, and does not fail for "
                               "want of an upstream.",
            },
        },
    },
    "cni": {
        "type": "dict",
        "description": "Pod network plugin.",
        "options": dict(
            {
                "plugin": {
                    "type": "str", "default": DEFAULT_CNI, "choices": sorted(CNI_PLUGINS),
                    "description": "Which CNI plugin to install.",
                },
            },
            **{
                name: {"type": "dict", "description": row["description"], "options": row["options"]}
                for name, row in CNI_PLUGINS.items() if row["options"]
            }
        ),
    },
    "registry": {
        "type": "dict",
        "description": "The in-site container registry every node pulls images from.",
        "options": {
            "host": {
                "type": "str",
                "description": "Registry address as nodes reach it. Default: the address of the "
                               "host with role registry; set it (with no registry host) to use a "
                               "registry you already run.",
            },
            "port": {"type": "int", "default": 5000, "description": "Registry port."},
            "tls": {
                "type": "dict",
                "description": "The registry's TLS certificate.",
                "required_if": [["mode", "provided", ["certFile", "keyFile"]]],
                "options": {
                    "mode": {
                        "type": "str", "default": "generated", "choices": ["generated", "provided"],
                        "description": "generated: the collection makes a CA and a certificate; "
                                       "provided: use certFile and keyFile (and caFile).",
                    },
                    "caFile": {
                        "type": "path",
                        "description": "CA certificate (PEM) nodes trust, for mode provided; unset "
                                       "when the certificate chains to a CA the hosts trust.",
                    },
                    "certFile": {"type": "path", "description": "Certificate (PEM), for mode provided."},
                    "keyFile": {"type": "path", "description": "Private key (PEM), for mode provided."},
                },
            },
            "auth": {
                "type": "dict",
                "description": "Credentials for pushing and pulling (htpasswd). Unset: user airgap with "
                               "a password the collection generates and keeps on the controller "
                               "(pki/<name>/registry-password next to the cluster file).",
                "required_together": [["username", "password"]],
                "options": {
                    "username": {"type": "str", "description": "User name."},
                    "password": {
                        "type": "str", "no_log": True,
                        "description": "Password; never logged. Prefer an ansible-vault encrypted "
                                       "value.",
                    },
                },
            },
        },
    },
    "addons": {
        "type": "dict",
        "description": "Optional components. CoreDNS is always installed.",
        "options": {
            "metricsServer": {
                "type": "dict",
                "description": "metrics-server (kubectl top, HorizontalPodAutoscaler).",
                "options": {"enabled": {"type": "bool", "default": True, "description": "Install it."}},
            },
            "sampleApp": {
                "type": "dict",
                "description": "A small Deployment and Service that show the cluster works.",
                "options": {"enabled": {"type": "bool", "default": False, "description": "Install it."}},
            },
        },
    },
    "kubelet": {
        "type": "dict",
        "description": "Kubelet settings for every node.",
        "options": {
            "failCgroupV1": {
                "type": "bool", "default": True,
                "description": "KubeletConfiguration failCgroupV1: refuse to start on a cgroup v1 "
                               "host (upstream default true since 1.35). Set false only for hosts "
                               "that cannot run cgroup v2.",
            },
            "extraArgs": {
                "type": "dict", "default": {},
                "description": "Extra kubelet flags, name without '--' to value (kubeadm "
                               "nodeRegistration.kubeletExtraArgs).",
            },
        },
    },
    "bundle": {
        "type": "dict",
        "description": "The offline bundle.",
        "options": {
            "path": {
                "type": "path", "default": "bundle",
                "description": "Directory on the controller, relative to cluster.yml or absolute, "
                               "that holds the bundle archive and its manifest.",
            },
            "osReleases": {
                "type": "list", "elements": "str", "default": list(OS_RELEASES), "choices": list(OS_RELEASES),
                "description": "OS releases of the hosts, as <distribution>-<major version>; the "
                               "bundle carries the OS packages (.deb) each one lacks for Kubernetes, "
                               "with their dependencies. Default: every supported release.",
            },
            "debianKeyring": {
                "type": "path", "default": DEBIAN_KEYRING,
                "description": "OpenPGP public keys on the connected machine, relative to "
                               "cluster.yml or absolute, that the Debian archive's signed Release "
                               "files (InRelease) must verify against (with gpgv) before any of its "
                               "packages is trusted. Default: Debian's archive keys as the package "
                               "debian-archive-keyring installs them.",
            },
        },
    },
    "sources": {
        "type": "dict",
        "description": "Where the connected side downloads artifacts from. Changing a mirror is "
                       "changing one of these.",
        "options": {
            "kubernetesReleases": {
                "type": "str", "default": "https://dl.k8s.io",
                "description": "Base URL of Kubernetes binaries (kubeadm, kubelet, kubectl).",
            },
            "githubReleases": {
                "type": "str", "default": "https://github.com",
                "description": "Base URL of GitHub release downloads (containerd, runc, CNI "
                               "plugins, crictl, Calico).",
            },
            "debianArchive": {
                "type": "str", "default": "http://deb.debian.org/debian",
                "description": "Debian archive for OS packages.",
            },
            "registryK8sIo": {
                "type": "str", "default": "registry.k8s.io",
                "description": "Registry mirroring registry.k8s.io: host[:port][/path prefix], HTTPS; "
                               "prefix http:// for a plain-HTTP mirror (a lab), for example "
                               "http://127.0.0.1:15000/registry.k8s.io.",
            },
            "dockerHub": {
                "type": "str", "default": "docker.io",
                "description": "Registry mirroring Docker Hub.",
            },
            "quayIo": {"type": "str", "default": "quay.io", "description": "Registry mirroring quay.io."},
        },
    },
}

_VALIDATOR_KEYS = ("type", "required", "default", "choices", "elements", "no_log", "aliases")
_LEVEL_CONSTRAINTS = ("required_if", "required_together", "mutually_exclusive", "required_one_of",
                      "required_by")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")
_FLAG = re.compile(r"^[a-z][a-z0-9-]*$")
_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")
_REGISTRY = re.compile(r"^(http://)?[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9._/-]+)?$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Problems:
    """Every problem found in one cluster file, each tied to a field path."""

    def __init__(self):
        self.items = []
        self.no_log_values = set()

    def add(self, path, message):
        message = remove_values(message, self.no_log_values) if self.no_log_values else message
        self.items.append((path or "(top level)", message))

    def has(self, prefix):
        """Whether a problem was reported for this path or below it."""
        return any(p == prefix or p.startswith(prefix + ".") or p.startswith(prefix + "[")
                   for p, dummy in self.items)

    def messages(self):
        return ["%s: %s" % item for item in self.items]

    def __bool__(self):
        return bool(self.items)

    def __len__(self):
        return len(self.items)


class ClusterConfigError(Exception):
    """A cluster file with problems; ``problems`` lists every one as 'path: message'."""

    def __init__(self, problems, source=None):
        self.problems = list(problems)
        self.source = source
        where = " in %s" % source if source else ""
        listing = "\n".join("  - " + p for p in self.problems)
        super().__init__("%d problem(s)%s:\n%s" % (len(self.problems), where, listing))


def _join(path, key):
    return "%s.%s" % (path, key) if path else key


def _walk(params, options, path, problems, level=None):
    """Validate one mapping level with ArgumentSpecValidator, field by field, then recurse."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        problems.add(path, "must be a mapping, got %s" % type(params).__name__)
        return None
    result = {}
    for key in params:
        if key not in options:
            close = difflib.get_close_matches(str(key), list(options), n=1)
            hint = "did you mean %s? " % close[0] if close else ""
            problems.add(_join(path, key), "unknown key; %sexpected one of: %s" % (hint, ", ".join(options)))
    for key, opt in options.items():
        field = _join(path, key)
        spec = {k: v for k, v in opt.items() if k in _VALIDATOR_KEYS}
        if opt.get("options") and not opt.get("required") and "default" not in spec:
            spec["default"] = [] if opt["type"] == "list" else {}
        given = {key: params[key]} if key in params else {}
        if spec.get("no_log") and isinstance(given.get(key), str):
            problems.no_log_values.add(given[key])
        outcome = ArgumentSpecValidator({key: spec}).validate(given)
        for error in outcome.errors.errors:
            if isinstance(error, RequiredError):
                problems.add(field, "required but missing")
            else:
                problems.add(field, error.msg)
        value = outcome.validated_parameters.get(key)
        if outcome.errors.errors:
            result[key] = None
            continue
        if opt.get("options") and value is not None:
            if opt["type"] == "dict":
                value = _walk(value, opt["options"], field, problems, opt)
            else:
                value = [_walk(item, opt["options"], "%s[%d]" % (field, index), problems, opt)
                         for index, item in enumerate(value)]
        result[key] = value
    constraints = {k: level[k] for k in _LEVEL_CONSTRAINTS if level and k in level}
    if constraints:
        present = {k: v for k, v in result.items() if v is not None}
        outcome = ArgumentSpecValidator({k: {"type": "raw"} for k in options}, **constraints).validate(present)
        for error in outcome.errors.errors:
            problems.add(path, error.msg)
    return result


def _network(value):
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        return None


def _ip(value):
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _check_port(problems, path, value):
    if isinstance(value, int) and not 1 <= value <= 65535:
        problems.add(path, "port %d is out of range 1-65535" % value)


def _check_address(problems, path, value):
    if value is not None and _ip(value) is None and not _DNS_NAME.match(value.lower()):
        problems.add(path, "%r is neither an IP address nor a DNS name" % value)


def _resolve_path(value, base_dir):
    if value is None:
        return None
    value = os.path.expanduser(value)
    if not os.path.isabs(value) and base_dir:
        value = os.path.join(base_dir, value)
    return os.path.normpath(value)


def _check_file(problems, path, value, base_dir, check_files):
    if value is None or not check_files:
        return
    resolved = _resolve_path(value, base_dir)
    if not os.path.isfile(resolved):
        problems.add(path, "file %s does not exist" % resolved)


def _check_vars(problems, path, variables):
    for key in variables or {}:
        if not isinstance(key, str) or not _IDENTIFIER.match(key):
            problems.add(path, "%r is not a valid variable name" % (key,))
        elif key.startswith("airgap_cluster"):
            problems.add("%s.%s" % (path, key), "airgap_cluster* variables are set by the inventory plugin")


def _semantic_checks(config, problems, base_dir, check_files):
    """Checks ArgumentSpecValidator cannot express. Only fields that passed it are checked."""
    def ok(field):
        return not problems.has(field)

    if ok("name") and not _DNS_LABEL.match(config["name"]):
        problems.add("name", "%r is not a DNS label (lowercase letters, digits, '-', at most 63)"
                     % config["name"])

    ssh = config.get("ssh") or {}
    if ok("ssh.port"):
        _check_port(problems, "ssh.port", ssh.get("port"))
    if ok("ssh.keyFile"):
        _check_file(problems, "ssh.keyFile", ssh.get("keyFile"), base_dir, check_files)

    hosts = config.get("hosts") or []
    if ok("hosts") and not hosts:
        problems.add("hosts", "must list at least one host")
    names, addresses, endpoints = {}, {}, {}
    role_paths = {role: [] for role in ROLES}
    host_ips = []
    for index, host in enumerate(hosts):
        base = "hosts[%d]" % index
        if host is None:
            continue
        name, address, roles = host.get("name"), host.get("address"), host.get("roles")
        if name is not None and ok(base + ".name"):
            if not _DNS_NAME.match(name):
                problems.add(base + ".name", "%r is not a lowercase DNS name (a Kubernetes node name)"
                             % name)
            elif name in names:
                problems.add(base + ".name", "duplicate host name %r (also %s)" % (name, names[name]))
            else:
                names[name] = base + ".name"
        if address is not None and ok(base + ".address"):
            _check_address(problems, base + ".address", address)
            if address in addresses:
                problems.add(base + ".address", "duplicate address %r (also %s)"
                             % (address, addresses[address]))
            else:
                addresses[address] = base + ".address"
            if _ip(address) is not None:
                host_ips.append((base + ".address", _ip(address)))
        if roles is not None and ok(base + ".roles"):
            if not roles:
                problems.add(base + ".roles", "must name at least one of: %s" % ", ".join(ROLES))
            for role in roles:
                if roles.count(role) > 1:
                    problems.add(base + ".roles", "role %s is listed twice" % role)
                    break
            for role in set(roles):
                role_paths[role].append(base)
        host_ssh = host.get("ssh") or {}
        if ok(base + ".ssh.port"):
            _check_port(problems, base + ".ssh.port", host_ssh.get("port"))
        if ok(base + ".ssh.host"):
            _check_address(problems, base + ".ssh.host", host_ssh.get("host"))
        if ok(base + ".ssh.keyFile"):
            _check_file(problems, base + ".ssh.keyFile", host_ssh.get("keyFile"), base_dir, check_files)
        target = (host_ssh.get("host") or address, host_ssh.get("port") or ssh.get("port"))
        if None not in target and not problems.has(base):
            if target in endpoints:
                problems.add(base + ".ssh", "Ansible would connect to %s:%s, as for %s"
                             % (target[0], target[1], endpoints[target]))
            else:
                endpoints[target] = base
        _check_vars(problems, base + ".vars", host.get("vars"))

    _check_vars(problems, "vars", config.get("vars"))

    hosts_ok = hosts and not problems.has("hosts")
    if hosts_ok and not role_paths["control_plane"]:
        problems.add("hosts", "no host has the role control_plane; a cluster needs one")
    if hosts_ok and len(role_paths["control_plane"]) > 1:
        problems.add("hosts", "%s have the role control_plane; v1alpha1 supports one control plane "
                     "(several behind controlPlane.endpoint.host come later)"
                     % ", ".join(role_paths["control_plane"]))
    if hosts_ok and not role_paths["worker"]:
        problems.add("hosts", "no host has the role worker; give the control plane the role worker "
                     "too to run workloads on it")
    if hosts_ok and len(role_paths["registry"]) > 1:
        problems.add("hosts", "%s have the role registry; one registry host is supported"
                     % ", ".join(role_paths["registry"]))
    registry = config.get("registry") or {}
    if (hosts_ok and not role_paths["registry"] and ok("registry.host")
            and not registry.get("host")):
        problems.add("registry.host", "no host has the role registry, so registry.host must name "
                     "an existing registry")

    endpoint = ((config.get("controlPlane") or {}).get("endpoint") or {})
    if ok("controlPlane.endpoint.host"):
        _check_address(problems, "controlPlane.endpoint.host", endpoint.get("host"))
    if ok("controlPlane.endpoint.port"):
        _check_port(problems, "controlPlane.endpoint.port", endpoint.get("port"))

    network = config.get("network") or {}
    nets = {}
    for key, max_v4, max_v6, what in (("podCIDR", 24, 64, "each node gets a /24 (IPv4) or /64 (IPv6)"),
                                      ("serviceCIDR", 12, 108, "kube-apiserver's limit")):
        field = "network." + key
        if not ok(field):
            continue
        net = _network(network[key])
        if net is None:
            problems.add(field, "%r is not a CIDR network (address/prefix with no host bits set)"
                         % network[key])
            continue
        nets[field] = net
        if key == "podCIDR" and net.prefixlen > (max_v4 if net.version == 4 else max_v6):
            problems.add(field, "/%d is too small; %s" % (net.prefixlen, what))
        if key == "serviceCIDR" and net.prefixlen < (max_v4 if net.version == 4 else max_v6):
            problems.add(field, "/%d is too large; at most /%d (%s)"
                         % (net.prefixlen, max_v4 if net.version == 4 else max_v6, what))
    if len(nets) == 2:
        pod, svc = nets["network.podCIDR"], nets["network.serviceCIDR"]
        if pod.version != svc.version:
            problems.add("network.serviceCIDR", "IPv%d while network.podCIDR is IPv%d"
                         % (svc.version, pod.version))
        elif pod.overlaps(svc):
            problems.add("network.serviceCIDR", "%s overlaps network.podCIDR %s" % (svc, pod))
    for field, net in nets.items():
        for host_field, ip in host_ips:
            if ip.version == net.version and ip in net:
                problems.add(host_field, "%s lies inside %s %s" % (ip, field, net))
    if ok("network.clusterDomain") and not _DNS_NAME.match(network["clusterDomain"]):
        problems.add("network.clusterDomain", "%r is not a DNS domain" % network["clusterDomain"])
    if ok("network.upstreamDNS"):
        for index, upstream in enumerate(network.get("upstreamDNS") or []):
            host = upstream.rsplit(":", 1)[0] if upstream.count(":") == 1 else upstream
            if not upstream.startswith("/") and _ip(host) is None:
                problems.add("network.upstreamDNS[%d]" % index,
                             "%r is neither an IP address (optionally :port) nor a resolv.conf path" % upstream)

    cni = config.get("cni") or {}
    calico = cni.get("calico") or {}
    if ok("cni.calico.mtu") and calico.get("mtu") not in (None, 0) and not 1000 <= calico["mtu"] <= 9000:
        problems.add("cni.calico.mtu", "%d is not 0 (detect) or 1000-9000" % calico["mtu"])

    if ok("registry.host"):
        _check_address(problems, "registry.host", registry.get("host"))
    if ok("registry.port"):
        _check_port(problems, "registry.port", registry.get("port"))
    tls = registry.get("tls") or {}
    if ok("registry.tls") and tls.get("mode") == "provided":
        for key in ("caFile", "certFile", "keyFile"):
            _check_file(problems, "registry.tls." + key, tls.get(key), base_dir, check_files)

    kubelet = config.get("kubelet") or {}
    if ok("kubelet.extraArgs"):
        for flag, value in (kubelet.get("extraArgs") or {}).items():
            field = "kubelet.extraArgs.%s" % flag
            if not isinstance(flag, str) or not _FLAG.match(flag):
                problems.add(field, "flag names are lowercase words joined by '-', without '--'")
            if isinstance(value, (dict, list)) or value is None:
                problems.add(field, "the value must be a string, number or boolean")

    sources = config.get("sources") or {}
    for key, value in sources.items():
        field = "sources." + key
        if value is None or not ok(field):
            continue
        if SCHEMA["sources"]["options"][key]["default"].startswith("http"):
            if not _URL.match(value):
                problems.add(field, "%r is not an http(s):// URL" % value)
        elif not _REGISTRY.match(value):
            problems.add(field, "%r is not a registry (host[:port][/path], or "
                         "http://host[:port][/path] for a plain-HTTP mirror)" % value)


def check(raw, base_dir=None, check_files=True):
    """Validate a loaded cluster file.

    Returns ``(config, problems)``: the config with defaults filled (as written, paths not
    resolved) and a list of 'path: message' strings, empty when the file is valid.
    ``base_dir`` is the cluster file's directory, for relative paths.
    """
    problems = Problems()
    if not isinstance(raw, dict):
        problems.add("", "a cluster file is a mapping with apiVersion %s and kind %s, got %s"
                     % (API_VERSION, KIND, type(raw).__name__))
        return None, problems.messages()
    config = _walk(raw, SCHEMA, "", problems)
    _semantic_checks(config, problems, base_dir, check_files)
    return config, problems.messages()


def resolve(config, base_dir=None):
    """The effective settings of a valid config: every host's SSH settings filled from the top
    level, the endpoint and registry host filled from host roles, and paths made absolute."""
    result = json.loads(json.dumps(config))
    ssh = result["ssh"]
    ssh["keyFile"] = _resolve_path(ssh["keyFile"], base_dir)
    for host in result["hosts"]:
        host_ssh = host["ssh"]
        host_ssh["host"] = host_ssh["host"] or host["address"]
        for key in ("user", "port", "keyFile"):
            if host_ssh[key] is None:
                host_ssh[key] = ssh[key]
        host_ssh["keyFile"] = _resolve_path(host_ssh["keyFile"], base_dir)
    first = dict((role, next((h for h in result["hosts"] if role in h["roles"]), None)) for role in ROLES)
    endpoint = result["controlPlane"]["endpoint"]
    if not endpoint["host"]:
        endpoint["host"] = first["control_plane"]["address"]
    registry = result["registry"]
    if not registry["host"]:
        registry["host"] = first["registry"]["address"]
    for key in ("caFile", "certFile", "keyFile"):
        registry["tls"][key] = _resolve_path(registry["tls"][key], base_dir)
    result["bundle"]["path"] = _resolve_path(result["bundle"]["path"], base_dir)
    result["bundle"]["debianKeyring"] = _resolve_path(result["bundle"]["debianKeyring"], base_dir)
    return result


def load(raw, base_dir=None, check_files=True, source=None):
    """Validate and resolve; raise ClusterConfigError listing every problem."""
    config, problems = check(raw, base_dir=base_dir, check_files=check_files)
    if problems:
        raise ClusterConfigError(problems, source=source)
    return resolve(config, base_dir=base_dir)


def group_name(cluster_name):
    """The inventory group of one cluster."""
    return "cluster_" + re.sub(r"[^A-Za-z0-9_]", "_", cluster_name)


def inventory(cluster, source=None):
    """Map resolved settings onto the inventory: groups, per-host variables and the variables
    of the cluster group (the whole config under ``airgap_cluster``)."""
    groups = {group_name(cluster["name"]): [], "control_plane": [], "workers": [], "registry": []}
    hostvars = {}
    for host in cluster["hosts"]:
        groups[group_name(cluster["name"])].append(host["name"])
        for role in host["roles"]:
            groups[ROLE_GROUPS[role]].append(host["name"])
        variables = dict(host["vars"])
        variables.update({
            "ansible_host": host["ssh"]["host"],
            "ansible_user": host["ssh"]["user"],
            "ansible_port": host["ssh"]["port"],
            "airgap_node": {"name": host["name"], "address": host["address"], "roles": host["roles"]},
        })
        if host["ssh"]["keyFile"]:
            variables["ansible_ssh_private_key_file"] = host["ssh"]["keyFile"]
        hostvars[host["name"]] = variables
    group_vars = dict(cluster["vars"], airgap_cluster=cluster, airgap_cluster_file=source)
    if cluster["ssh"]["commonArgs"]:
        group_vars["ansible_ssh_common_args"] = cluster["ssh"]["commonArgs"]
    return groups, hostvars, group_vars


# -- Renderings: the commented starter file and the reference page, both from SCHEMA. --------

_PLAIN = re.compile(r"^[A-Za-z0-9_/~][A-Za-z0-9_./:~@+-]*$")
_YAML_WORDS = re.compile(r"^(y|n|yes|no|on|off|true|false|null|~|"
                         r"[-+]?([0-9_]+(\.[0-9_]*)?|\.[0-9_]+)([eE][-+]?[0-9]+)?|"
                         r"[0-9_]+(:[0-5]?[0-9])+|0x[0-9a-fA-F_]+|0o?[0-7_]+|0b[01_]+|\.inf|\.nan)$",
                         re.IGNORECASE)


def yaml_scalar(value):
    """A YAML 1.1/1.2-safe rendering of one scalar or a flat list/dict of scalars."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[%s]" % ", ".join(yaml_scalar(v) for v in value)
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s: %s" % (yaml_scalar(str(k)), yaml_scalar(v)) for k, v in value.items())
    value = str(value)
    if _PLAIN.match(value) and not _YAML_WORDS.match(value):
        return value
    return json.dumps(value)


def _comment(lines, indent, text, width=96):
    for line in textwrap.wrap(text, max(40, width - indent - 2)):
        lines.append("%s# %s" % (" " * indent, line))


def _unset(value):
    return value is None or value == {} or (isinstance(value, dict) and all(map(_unset, value.values())))


def _render(options, values, indent, lines, comments, prune=False):
    for key, opt in options.items():
        value = values.get(key)
        if prune and _unset(value) and not opt.get("required"):
            continue
        if comments:
            _comment(lines, indent, opt["description"])
        pad = " " * indent
        if opt.get("options") and opt["type"] == "dict":
            lines.append("%s%s:" % (pad, key))
            _render(opt["options"], value or {}, indent + 2, lines, comments, prune)
        elif opt.get("options"):
            lines.append("%s%s:" % (pad, key))
            for index, item in enumerate(value or []):
                sub = []
                _render(opt["options"], item, indent + 4, sub, comments and index == 0, prune=True)
                first = next(i for i, line in enumerate(sub) if not line.lstrip().startswith("#"))
                for line in sub[:first]:
                    lines.append(" " * (indent + 2) + line.lstrip())
                lines.append("%s  - %s" % (pad, sub[first].lstrip()))
                lines.extend(sub[first + 1:])
        else:
            lines.append("%s%s: %s" % (pad, key, yaml_scalar(value)))


def render_yaml(config, header=None):
    """Render a config (as returned by ``check``) as a commented cluster.yml."""
    lines = ["---"]
    for text in header or []:
        _comment(lines, 0, text) if text else lines.append("#")
    ordered = dict(config, plugin=config.get("plugin") or INVENTORY_PLUGIN)
    _render(SCHEMA, ordered, 0, lines, True)
    return "\n".join(lines) + "\n"


def _reference_rows(options, path, rows):
    for key, opt in options.items():
        field = _join(path, key)
        kind = opt["type"]
        if kind == "list":
            kind = "list of %s" % ("mappings" if opt.get("elements") == "dict" else opt.get("elements"))
        if opt.get("required"):
            default = "**required**"
        elif "default" in opt and not opt.get("options"):
            default = "`%s`" % yaml_scalar(opt["default"])
        else:
            default = ""
        text = opt["description"]
        if opt.get("choices") and len(opt["choices"]) > 0:
            text += " Choices: %s." % ", ".join("`%s`" % c for c in opt["choices"])
        for rule in opt.get("required_if", []):
            text += " With `%s: %s`, %s are required." % (rule[0], rule[1], ", ".join("`%s`" % r for r in rule[2]))
        for rule in opt.get("required_together", []):
            text += " %s go together." % " and ".join("`%s`" % r for r in rule)
        rows.append((field, kind, default, text))
        if opt.get("options"):
            _reference_rows(opt["options"], field + ("[]" if opt["type"] == "list" else ""), rows)


def reference_markdown():
    """The reference page of every cluster.yml field (docs/cluster-config.md)."""
    rows = []
    _reference_rows(SCHEMA, "", rows)
    lines = [
        "<!-- Generated from plugins/plugin_utils/cluster_config.py by docs/generate.py; "
        "do not edit. -->",
        "# cluster.yml reference (%s, kind %s)" % (API_VERSION, KIND),
        "",
        "One file describes a cluster: its hosts (the Ansible inventory, through the "
        "`airgap.kubernetes.cluster` inventory plugin) and every setting. Only `plugin`, "
        "`apiVersion`, `kind`, `name` and `hosts` are required; everything else has a default. Relative paths "
        "are relative to the cluster file. Start from `ansible-playbook "
        "airgap.kubernetes.generate_cluster_config -e cluster=NAME -e nodes=ADDR,ADDR` or "
        "[examples/cluster.yml](../examples/cluster.yml).",
        "",
        "Supported Kubernetes versions: %s." % ", ".join("`%s`" % v for v in supported_versions()),
        "CNI plugins: %s." % ", ".join("`%s`" % c for c in sorted(CNI_PLUGINS)),
        "",
        "| Field | Type | Default | Description |",
        "| --- | --- | --- | --- |",
    ]
    for field, kind, default, text in rows:
        text = text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
        lines.append("| `%s` | %s | %s | %s |" % (field, kind, default, text))
    return "\n".join(lines) + "\n"
