# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shape of cluster.yml: ``SCHEMA`` and the constants other code names.

``SCHEMA`` is in ansible-core's ``ArgumentSpecValidator`` format plus a description per option;
validate.py checks files against it, render.py writes the starter file and the reference page
from it.
"""

from __future__ import annotations

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
}
# kube-router is the one CNI the collection installs, built and tested end to end in the lab.
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
    "stateDir": {
        "type": "path", "default": ".",
        "description": "Directory on the controller, relative to cluster.yml or absolute, that keeps "
                       "what must outlive a run: the registry's CA, key and generated passwords in "
                       "pki/<name>/, the admin kubeconfig in <name>/ (both directories mode 0700, the "
                       "secrets and the kubeconfig 0600). Default: the cluster file's directory. Under "
                       "AWX, an absolute path on a persistent volume (docs/awx.md): a job's copy of the "
                       "project, and anything kept next to the cluster file in it, is thrown away after "
                       "the job. Missing directories are created; an existing stateDir must be a "
                       "directory.",
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
                               "(pki/<name>/registry-password in stateDir).",
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
            "publicKey": {
                "type": "path",
                "description": "OpenSSH public key file on the controller, relative to cluster.yml or "
                               "absolute: the public half of the key the bundle is signed with on the "
                               "connected side (-e bundle_signing_key=KEY). Every phase checks the "
                               "bundle's signature (<archive>.sha256.sig) against it with ssh-keygen "
                               "before it reads the archive or contacts a host; a file with several keys, "
                               "one a line, trusts each. Required unless allowUnsigned is true.",
            },
            "allowUnsigned": {
                "type": "bool", "default": False,
                "description": "Accept a bundle without a signature, with a warning at every phase. A "
                               "signature that does not verify against publicKey is refused all the "
                               "same. Leave it false: without a signature nothing proves who built the "
                               "bundle.",
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
                               "plugins, crictl).",
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


def join_path(path, key):
    """The field path of ``key`` below ``path`` (``ssh.port``), as problems and the reference name fields."""
    return "%s.%s" % (path, key) if path else key
