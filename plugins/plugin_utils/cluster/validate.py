# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checking a cluster file against the schema: ``check`` returns every problem at once.

Field types, choices, defaults and required fields are checked with ansible-core's own
``ArgumentSpecValidator``; this module only walks the tree so that every problem names its field
path (``hosts[2].address``), then adds the checks a spec cannot express (duplicates, overlaps,
files that must exist). Every problem is collected; nothing stops at the first.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import RequiredError
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.schema import (
    API_VERSION,
    KIND,
    ROLES,
    SCHEMA,
    join_path,
)

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

    def ok(self, path):
        """Whether this field and everything below it passed so far (the checks that follow
        look only at such fields)."""
        return not self.has(path)

    def messages(self):
        return ["%s: %s" % item for item in self.items]

    def __bool__(self):
        return bool(self.items)

    def __len__(self):
        return len(self.items)


def problems_message(source, problems):
    """One message listing every problem of a cluster file, each naming its field."""
    where = " in %s" % source if source else ""
    return "%d problem(s)%s:\n%s" % (len(problems), where, "\n".join("  - " + p for p in problems))


class ClusterConfigError(Exception):
    """A cluster file with problems; ``problems`` lists every one as 'path: message'."""

    def __init__(self, problems, source=None):
        self.problems = list(problems)
        self.source = source
        super().__init__(problems_message(source, self.problems))


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
            problems.add(join_path(path, key), "unknown key; %sexpected one of: %s" % (hint, ", ".join(options)))
    for key, opt in options.items():
        field = join_path(path, key)
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


def resolve_path(value, base_dir):
    """A path field as the controller reads it: ~ expanded, relative to ``base_dir`` (the cluster
    file's directory), normalised; None stays None."""
    if value is None:
        return None
    value = os.path.expanduser(value)
    if not os.path.isabs(value) and base_dir:
        value = os.path.join(base_dir, value)
    return os.path.normpath(value)


def _check_file(problems, path, value, base_dir, check_files):
    if value is None or not check_files:
        return
    resolved = resolve_path(value, base_dir)
    if not os.path.isfile(resolved):
        problems.add(path, "file %s does not exist" % resolved)


def _check_vars(problems, path, variables):
    for key in variables or {}:
        if not isinstance(key, str) or not _IDENTIFIER.match(key):
            problems.add(path, "%r is not a valid variable name" % (key,))
        elif key.startswith("airgap_cluster"):
            problems.add("%s.%s" % (path, key), "airgap_cluster* variables are set by the inventory plugin")


def _check_name_and_ssh(config, problems, base_dir, check_files):
    if problems.ok("name") and not _DNS_LABEL.match(config["name"]):
        problems.add("name", "%r is not a DNS label (lowercase letters, digits, '-', at most 63)"
                     % config["name"])
    ssh = config.get("ssh") or {}
    if problems.ok("ssh.port"):
        _check_port(problems, "ssh.port", ssh.get("port"))
    if problems.ok("ssh.keyFile"):
        _check_file(problems, "ssh.keyFile", ssh.get("keyFile"), base_dir, check_files)


def _check_hosts(config, problems, base_dir, check_files):
    """Each host alone and against the others (names, addresses, SSH targets), and the
    cluster's vars. Returns the host paths of each role and the hosts' IP addresses."""
    ssh = config.get("ssh") or {}
    hosts = config.get("hosts") or []
    if problems.ok("hosts") and not hosts:
        problems.add("hosts", "must list at least one host")
    names, addresses, endpoints = {}, {}, {}
    role_paths = {role: [] for role in ROLES}
    host_ips = []
    for index, host in enumerate(hosts):
        base = "hosts[%d]" % index
        if host is None:
            continue
        name, address, roles = host.get("name"), host.get("address"), host.get("roles")
        if name is not None and problems.ok(base + ".name"):
            if not _DNS_NAME.match(name):
                problems.add(base + ".name", "%r is not a lowercase DNS name (a Kubernetes node name)"
                             % name)
            elif name in names:
                problems.add(base + ".name", "duplicate host name %r (also %s)" % (name, names[name]))
            else:
                names[name] = base + ".name"
        if address is not None and problems.ok(base + ".address"):
            _check_address(problems, base + ".address", address)
            if address in addresses:
                problems.add(base + ".address", "duplicate address %r (also %s)"
                             % (address, addresses[address]))
            else:
                addresses[address] = base + ".address"
            if _ip(address) is not None:
                host_ips.append((base + ".address", _ip(address)))
        if roles is not None and problems.ok(base + ".roles"):
            if not roles:
                problems.add(base + ".roles", "must name at least one of: %s" % ", ".join(ROLES))
            for role in roles:
                if roles.count(role) > 1:
                    problems.add(base + ".roles", "role %s is listed twice" % role)
                    break
            for role in set(roles):
                role_paths[role].append(base)
        host_ssh = host.get("ssh") or {}
        if problems.ok(base + ".ssh.port"):
            _check_port(problems, base + ".ssh.port", host_ssh.get("port"))
        if problems.ok(base + ".ssh.host"):
            _check_address(problems, base + ".ssh.host", host_ssh.get("host"))
        if problems.ok(base + ".ssh.keyFile"):
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
    return role_paths, host_ips


def _check_roles(config, problems, role_paths):
    """The roles the hosts hold together: one control plane, a worker, at most one registry."""
    if not config.get("hosts") or problems.has("hosts"):
        return
    if not role_paths["control_plane"]:
        problems.add("hosts", "no host has the role control_plane; a cluster needs one")
    if len(role_paths["control_plane"]) > 1:
        problems.add("hosts", "%s have the role control_plane; v1alpha1 supports one control plane "
                     "(several behind controlPlane.endpoint.host come later)"
                     % ", ".join(role_paths["control_plane"]))
    if not role_paths["worker"]:
        problems.add("hosts", "no host has the role worker; give the control plane the role worker "
                     "too to run workloads on it")
    if len(role_paths["registry"]) > 1:
        problems.add("hosts", "%s have the role registry; one registry host is supported"
                     % ", ".join(role_paths["registry"]))
    registry = config.get("registry") or {}
    if not role_paths["registry"] and problems.ok("registry.host") and not registry.get("host"):
        problems.add("registry.host", "no host has the role registry, so registry.host must name "
                     "an existing registry")


def _check_control_plane(config, problems):
    endpoint = ((config.get("controlPlane") or {}).get("endpoint") or {})
    if problems.ok("controlPlane.endpoint.host"):
        _check_address(problems, "controlPlane.endpoint.host", endpoint.get("host"))
    if problems.ok("controlPlane.endpoint.port"):
        _check_port(problems, "controlPlane.endpoint.port", endpoint.get("port"))


def _check_network(config, problems, host_ips):
    """The pod and service networks (sizes, no overlap with each other or a host), the cluster
    domain and the upstream DNS servers."""
    network = config.get("network")
    if network is None:  # the section is not a mapping, and that problem is reported already
        return
    nets = {}
    for key, max_v4, max_v6, what in (("podCIDR", 24, 64, "each node gets a /24 (IPv4) or /64 (IPv6)"),
                                      ("serviceCIDR", 12, 108, "kube-apiserver's limit")):
        field = "network." + key
        if not problems.ok(field):
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
    if problems.ok("network.clusterDomain") and not _DNS_NAME.match(network["clusterDomain"]):
        problems.add("network.clusterDomain", "%r is not a DNS domain" % network["clusterDomain"])
    if problems.ok("network.upstreamDNS"):
        for index, upstream in enumerate(network.get("upstreamDNS") or []):
            host = upstream.rsplit(":", 1)[0] if upstream.count(":") == 1 else upstream
            if not upstream.startswith("/") and _ip(host) is None:
                problems.add("network.upstreamDNS[%d]" % index,
                             "%r is neither an IP address (optionally :port) nor a resolv.conf path" % upstream)


def _check_registry(config, problems, base_dir, check_files):
    registry = config.get("registry") or {}
    if problems.ok("registry.host"):
        _check_address(problems, "registry.host", registry.get("host"))
    if problems.ok("registry.port"):
        _check_port(problems, "registry.port", registry.get("port"))
    tls = registry.get("tls") or {}
    if problems.ok("registry.tls") and tls.get("mode") == "provided":
        for key in ("caFile", "certFile", "keyFile"):
            _check_file(problems, "registry.tls." + key, tls.get(key), base_dir, check_files)


def _check_bundle(config, problems, base_dir, check_files):
    """bundle.publicKey names an existing file, and not the private half of the key."""
    public_key = (config.get("bundle") or {}).get("publicKey")
    if public_key is None or not problems.ok("bundle.publicKey"):
        return
    _check_file(problems, "bundle.publicKey", public_key, base_dir, check_files)
    if check_files and not problems.has("bundle.publicKey"):
        path = resolve_path(public_key, base_dir)
        try:
            with open(path, "rb") as handle:
                private = b"PRIVATE KEY" in handle.read(4096)
        except OSError as exc:
            problems.add("bundle.publicKey", "cannot read %s: %s" % (path, exc.strerror))
            return
        if private:
            problems.add("bundle.publicKey", "%s is a private key; name its public half (the .pub file): the "
                         "private key stays on the connected side" % path)


def _check_kubelet(config, problems):
    kubelet = config.get("kubelet") or {}
    if problems.ok("kubelet.extraArgs"):
        for flag, value in (kubelet.get("extraArgs") or {}).items():
            field = "kubelet.extraArgs.%s" % flag
            if not isinstance(flag, str) or not _FLAG.match(flag):
                problems.add(field, "flag names are lowercase words joined by '-', without '--'")
            if isinstance(value, (dict, list)) or value is None:
                problems.add(field, "the value must be a string, number or boolean")


def _check_sources(config, problems):
    """Base URLs are http(s) URLs; registries are host[:port][/path]."""
    for key, value in (config.get("sources") or {}).items():
        field = "sources." + key
        if value is None or not problems.ok(field):
            continue
        if SCHEMA["sources"]["options"][key]["default"].startswith("http"):
            if not _URL.match(value):
                problems.add(field, "%r is not an http(s):// URL" % value)
        elif not _REGISTRY.match(value):
            problems.add(field, "%r is not a registry (host[:port][/path], or "
                         "http://host[:port][/path] for a plain-HTTP mirror)" % value)


def _semantic_checks(config, problems, base_dir, check_files):
    """Checks ArgumentSpecValidator cannot express, section by section, in the file's order of
    concerns. Only fields that passed it are checked."""
    _check_name_and_ssh(config, problems, base_dir, check_files)
    role_paths, host_ips = _check_hosts(config, problems, base_dir, check_files)
    _check_roles(config, problems, role_paths)
    _check_control_plane(config, problems)
    _check_network(config, problems, host_ips)
    _check_registry(config, problems, base_dir, check_files)
    _check_bundle(config, problems, base_dir, check_files)
    _check_kubelet(config, problems)
    _check_sources(config, problems)


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
