# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checking a cluster file against the schema: ``check`` returns every problem at once.

Field types, choices, defaults and required fields are checked with ansible-core's own
``ArgumentSpecValidator``; this module only walks the tree so that every problem names its field
path (``hosts[2].address``), then adds the checks a spec cannot express (duplicates, overlaps,
files that must exist, the strict format of every string that ends up in a generated file).
Every problem is collected; nothing stops at the first. The work is linear in the size of the
file (a problem is indexed by every prefix of its path), and no message quotes more than a short
excerpt of a value, nor ever the value of a ``no_log`` field.

Reading the file itself (size, encoding, YAML anchors, duplicate keys) is files.py's job.
"""

from __future__ import annotations

import copy
import difflib
import ipaddress
import os
import re
import stat

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.common.validation import check_type_path
from ansible.module_utils.errors import RequiredError
from ansible.parsing.vault import EncryptedString
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
# A name the resolver (inet_aton) would read as an IPv4 address: its last label is a number
# (192.0.2.256, 192.0.2.012, 3221225985) or a hex number (0xc0000201).
_NUMERIC_LABEL = re.compile(r"(^|\.)([0-9]+|0x[0-9a-f]*)$")
_FLAG = re.compile(r"^[a-z][a-z0-9-]*$")
# A base URL: scheme, host (a name, an IPv4 address or a bracketed IPv6 one), optional port and
# path; no query, fragment, quote, space or brace.
_URL = re.compile(r"^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[A-Za-z0-9._~%!$&()*+,;=:@/-]*)?$")
_REGISTRY = re.compile(r"^(http://)?[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9._/-]+)?$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Users: no ':' (htpasswd and HTTP basic auth separate user and password with it), no leading '-'
# (an ssh option), no quote, space or shell character.
_SSH_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$")
_REGISTRY_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
# A resolv.conf path on the nodes, as CoreDNS's forward plugin takes it.
_RESOLV_PATH = re.compile(r"^/[A-Za-z0-9._/-]{1,254}$")
# A kubelet flag value is written inside double quotes in kubeadm's YAML.
_KUBELET_VALUE = re.compile(r'^[^"\\]{0,1024}$')
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# In vars, which only Ansible reads (a PEM certificate, a banner), lines and tabs are fine.
_CONTROL_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_TEMPLATE = re.compile(r"\{\{|\{%|\{#")
# CoreDNS's forward plugin takes at most 15 upstreams.
MAX_UPSTREAMS = 15
# The longest excerpt of a value a message quotes, and the longest message.
_EXCERPT = 60
_MESSAGE = 400
# Key, certificate and key files are small; anything bigger is not one.
MAX_KEY_FILE_BYTES = 1024 * 1024
# How many problems one message lists; the rest are counted.
MESSAGE_PROBLEMS = 100
_PATH_BREAK = re.compile(r"[.\[]")


def type_name(value):
    """The YAML-ish type of a value, as messages name it (Ansible's loader tags its values with
    subclasses such as _AnsibleTaggedList)."""
    for base in (bool, int, float, str, dict, list):
        if isinstance(value, base):
            return base.__name__
    return "null" if value is None else type(value).__name__


def excerpt(value):
    """A value as a message quotes it: repr, cut to a short excerpt."""
    text = repr(value if isinstance(value, (str, int, float, bool, type(None))) else str(value))
    return text if len(text) <= _EXCERPT else text[:_EXCERPT - 4] + "...'"


class Problems:
    """Every problem found in one cluster file, each tied to a field path."""

    def __init__(self):
        self.items = []
        self.no_log_values = set()
        self._prefixes = set()

    def add(self, path, message):
        path = path or "(top level)"
        message = remove_values(message, self.no_log_values) if self.no_log_values else message
        if len(message) > _MESSAGE:
            message = message[:_MESSAGE - 3] + "..."
        self.items.append((path, message))
        for match in _PATH_BREAK.finditer(path):
            self._prefixes.add(path[:match.start()])
        self._prefixes.add(path)

    def has(self, prefix):
        """Whether a problem was reported for this path or below it."""
        return prefix in self._prefixes

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


def problems_message(source, problems, limit=MESSAGE_PROBLEMS):
    """One message listing the problems of a cluster file, each naming its field; past ``limit``
    the rest are counted, so a file with 10,000 bad hosts still gives a readable message."""
    where = " in %s" % source if source else ""
    shown = ["  - " + p for p in problems[:limit]]
    if len(problems) > limit:
        shown.append("  ... and %d more" % (len(problems) - limit))
    return "%d problem(s)%s:\n%s" % (len(problems), where, "\n".join(shown))


class ClusterConfigError(Exception):
    """A cluster file with problems; ``problems`` lists every one as 'path: message'."""

    def __init__(self, problems, source=None):
        self.problems = list(problems)
        self.source = source
        super().__init__(problems_message(source, self.problems))


_VALIDATORS = {}


def _validator(key, opt):
    """ArgumentSpecValidator for one option, made once per option (not once per host)."""
    cache_key = (id(opt), key)
    if cache_key not in _VALIDATORS:
        spec = {k: v for k, v in opt.items() if k in _VALIDATOR_KEYS}
        if opt.get("options") and not opt.get("required") and "default" not in spec:
            spec["default"] = [] if opt["type"] == "list" else {}
        _VALIDATORS[cache_key] = (ArgumentSpecValidator({key: spec}), spec)
    return _VALIDATORS[cache_key]


def _check_text(problems, field, value, secret=False, lines_ok=False):
    """Strings (and the keys and items of free-form mappings and lists) hold no control character
    (a newline would break the YAML, TOML or systemd file they end up in) and no template syntax:
    the inventory marks every value unsafe, so Ansible would never evaluate it, and a literal
    '{{' in a setting is a mistake. A ``secret`` (a no_log field) may hold template syntax, as it
    is never templated, and its value is never quoted; ``lines_ok`` for the values of vars, which
    no template of the collection reads."""
    if isinstance(value, EncryptedString):
        return
    if isinstance(value, str):
        shown = "" if secret else ": " + excerpt(value)
        if (_CONTROL_BUT_LINES if lines_ok else _CONTROL).search(value):
            problems.add(field, "contains a control character (newline, tab, ...)%s" % shown)
        elif not secret and _TEMPLATE.search(value):
            problems.add(field, "contains template syntax ({{, {%% or {#): values in a cluster file are data, "
                         "never templated; write the value itself%s" % shown)
    elif isinstance(value, dict):
        for key, item in value.items():
            sub = join_path(field, str(key)[:100])
            if isinstance(key, str) and (_CONTROL.search(key) or _TEMPLATE.search(key)):
                problems.add(sub, "the key contains a control character or template syntax")
            _check_text(problems, sub, item, secret, lines_ok)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(problems, "%s[%d]" % (field, index), item, secret, lines_ok)


def _decrypt(problems, field, value):
    """The plain text of a vault-encrypted value, or None (and a problem) when it cannot be
    decrypted."""
    try:
        return str(value)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # any failure of the vault
        problems.add(field, "cannot decrypt the vault-encrypted value (%s); give the vault password "
                     "(--ask-vault-pass or --vault-password-file)" % type(exc).__name__)
        return None


_INVALID = object()


def _plain_valid(opt, value):
    """``value`` as ArgumentSpecValidator would return it when it plainly fits ``opt`` (the right
    type, a listed choice), else _INVALID: then the validator runs, for its message. This keeps
    a cluster of 10,000 valid hosts from costing 90,000 validator runs."""
    kind = opt["type"]
    choices = opt.get("choices")
    if kind == "str" and isinstance(value, str) and not isinstance(value, bool):
        return value if choices is None or value in choices else _INVALID
    if kind == "path" and isinstance(value, str):
        return check_type_path(value)
    if kind == "bool" and isinstance(value, bool) or kind == "int" and isinstance(value, int) and not isinstance(
            value, bool):
        return value
    if kind == "dict" and isinstance(value, dict) and "no_log" not in opt:
        return value
    if kind == "list" and isinstance(value, list):
        element = opt.get("elements")
        if element == "dict" and all(isinstance(item, dict) for item in value):
            return value
        if element == "str" and all(isinstance(item, str) for item in value) and (
                choices is None or all(item in choices for item in value)):
            return value
    return _INVALID


def _not_mappings(problems, field, opt, value):
    """Sections are mappings and hosts are mappings, as written: ArgumentSpecValidator would
    read a string as JSON or key=value (``ssh: user=root``). Returns None when ``value`` itself
    is refused, else the indices of the items of a list of mappings that are not one."""
    if value is None or not opt.get("options"):
        return set()
    if opt["type"] == "dict" and not isinstance(value, dict):
        problems.add(field, "must be a mapping, got %s" % type_name(value))
        return None
    if opt["type"] == "list" and not isinstance(value, list):
        problems.add(field, "must be a list of mappings, got %s" % type_name(value))
        return None
    bad = set()
    for index, item in enumerate(value if opt["type"] == "list" else []):
        if not isinstance(item, dict):
            problems.add("%s[%d]" % (field, index), "must be a mapping, got %s" % type_name(item))
            bad.add(index)
    return bad


def _walk(params, options, path, problems, level=None):
    """Validate one mapping level with ArgumentSpecValidator, field by field, then recurse."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        problems.add(path, "must be a mapping, got %s" % type_name(params))
        return None
    result = {}
    for key in params:
        if key not in options:
            name = str(key)[:100]
            close = difflib.get_close_matches(name, list(options), n=1)
            hint = "did you mean %s? " % close[0] if close else ""
            problems.add(join_path(path, name), "unknown key; %sexpected one of: %s" % (hint, ", ".join(options)))
    for key, opt in options.items():
        field = join_path(path, key)
        validator, spec = _validator(key, opt)
        given = {key: params[key]} if key in params else {}
        encrypted = given.get(key) if isinstance(given.get(key), EncryptedString) else None
        if encrypted is not None:
            given[key] = _decrypt(problems, field, encrypted)
            if given[key] is None:
                result[key] = encrypted  # present, for the level's constraints (required_together)
                continue
        if spec.get("no_log") and isinstance(given.get(key), str):
            problems.no_log_values.add(given[key])
        not_mappings = _not_mappings(problems, field, opt, given.get(key))
        if not_mappings is None:
            result[key] = None
            continue
        if not_mappings:
            given[key] = [{} if index in not_mappings else item for index, item in enumerate(given[key])]
        if opt["type"] == "path" and isinstance(given.get(key), (dict, list)):
            # ArgumentSpecValidator would take str() of it: a directory named "['a', 'b']".
            problems.add(field, "must be a path (a string), got %s" % type_name(given[key]))
            result[key] = None
            continue
        if key not in given:
            if spec.get("required"):
                problems.add(field, "required but missing")
                result[key] = None
                continue
            value = copy.deepcopy(spec.get("default"))
        else:
            value = _plain_valid(opt, given[key])
        if value is _INVALID:
            outcome = validator.validate(given)
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
                value = [None if index in not_mappings else
                         _walk(item, opt["options"], "%s[%d]" % (field, index), problems, opt)
                         for index, item in enumerate(value)]
        else:
            _check_text(problems, field, value, secret=bool(spec.get("no_log")), lines_ok=key == "vars")
        # A secret stays vault-encrypted: ansible-inventory then prints its ciphertext, and it is
        # decrypted only where a play uses it.
        result[key] = encrypted if encrypted is not None and spec.get("no_log") else value
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


def address_key(value):
    """How two spellings of one address compare: an IP address in its compressed form
    (2001:db8::1 and 2001:0db8:0:0:0:0:0:1 are one), a DNS name in lowercase."""
    ip = _ip(value)
    return ip.compressed if ip is not None else value.lower()


def _check_port(problems, path, value):
    if isinstance(value, int) and not 1 <= value <= 65535:
        problems.add(path, "port %d is out of range 1-65535" % value)


def _ip_problem(ip, loopback_ok=False):
    """Why an IP address cannot be a host's, or None."""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return "is an IPv4-mapped IPv6 address; write the IPv4 address %s" % ip.ipv4_mapped
    if ip.is_unspecified:
        return "is the unspecified address (any host), not one host's"
    if ip.is_multicast:
        return "is a multicast address, not one host's"
    if ip.version == 4 and ip == ipaddress.IPv4Address("255.255.255.255"):
        return "is the broadcast address, not one host's"
    if ip.is_loopback:
        return None if loopback_ok else "is a loopback address: every node would reach itself"
    if ip.is_reserved:
        return "is in a reserved range, not a usable host address"
    if ip.is_link_local and not loopback_ok:
        return "is a link-local address, which Kubernetes cannot route"
    return None


def _numeric_problem(name):
    """What is wrong with a name the resolver would take for an IPv4 address."""
    parts = name.split(".")
    if all(part.isdigit() for part in parts) and len(parts) == 4:
        for part in parts:
            if int(part) > 255:
                return "%s is out of range 0-255" % part[:10]
        return "leading zero: the resolver reads %s as octal" % next(p for p in parts if len(p) > 1 and p[0] == "0")
    if parts[-1].startswith("0x"):
        return "the resolver reads %s as a hex number" % parts[-1][:12]
    return "four numbers 0-255 are an IPv4 address; the resolver reads a shorter or longer row of numbers differently"


def _check_address(problems, path, value, loopback_ok=False):
    """An IP address a host can have (no leading zeros, no unspecified, multicast or loopback
    address) or a DNS name; ``loopback_ok`` for where Ansible connects (an SSH tunnel)."""
    if value is None:
        return
    if "%" in value:
        problems.add(path, "%s: an address with a zone index (%%) is not supported" % excerpt(value))
        return
    ip = _ip(value)
    if ip is not None:
        problem = _ip_problem(ip, loopback_ok)
        if problem:
            problems.add(path, "%s %s" % (excerpt(value), problem))
        return
    name = value.lower()
    if _NUMERIC_LABEL.search(name):
        problems.add(path, "%s is not a valid IPv4 address (%s) and not a DNS name"
                     % (excerpt(value), _numeric_problem(name)))
    elif not _DNS_NAME.match(name):
        problems.add(path, "%s is neither an IP address nor a DNS name" % excerpt(value))


def resolve_path(value, base_dir):
    """A path field as the controller reads it: ~ expanded, relative to ``base_dir`` (the cluster
    file's directory), normalised; None stays None."""
    if value is None:
        return None
    value = os.path.expanduser(value)
    if not os.path.isabs(value) and base_dir:
        value = os.path.join(base_dir, value)
    return os.path.normpath(value)


def _read_small_file(problems, path, resolved):
    """The bytes of a regular file of at most MAX_KEY_FILE_BYTES, or None and a problem."""
    try:
        info = os.stat(resolved)
    except OSError:
        problems.add(path, "file %s does not exist" % resolved)
        return None
    if not stat.S_ISREG(info.st_mode):
        problems.add(path, "%s is not a regular file" % resolved)
        return None
    if info.st_size > MAX_KEY_FILE_BYTES:
        problems.add(path, "%s is %d bytes: too big for a key or certificate (at most 1 MiB)"
                     % (resolved, info.st_size))
        return None
    try:
        with open(resolved, "rb") as handle:
            return handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        problems.add(path, "cannot read %s: %s" % (resolved, exc.strerror))
        return None


def _pem_certificates(data):
    from cryptography import x509  # pylint: disable=import-outside-toplevel  # an ansible-core requirement

    if hasattr(x509, "load_pem_x509_certificates"):
        return x509.load_pem_x509_certificates(data)
    return [x509.load_pem_x509_certificate(data)]


def _pem_private_key(data):
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel

    return serialization.load_pem_private_key(data, password=None)


def _public_bytes(key):
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel

    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _check_file(problems, path, value, base_dir, check_files, kind=None):
    """A file named by the cluster file exists and is a regular file; with ``kind``, its content
    is what the field says (the registry's files are copied to its host, so a path such as
    ../../../etc/passwd must not pass for a certificate). Returns what was parsed, if anything."""
    if value is None or not check_files:
        return None
    resolved = resolve_path(value, base_dir)
    if kind is None:
        if not os.path.isfile(resolved):
            problems.add(path, "file %s does not exist" % resolved)
        return None
    data = _read_small_file(problems, path, resolved)
    if data is None:
        return None
    if kind == "ssh-key":
        # Only ssh reads it, on the controller: any format ssh takes, from anywhere (~/.ssh).
        if data.lstrip().startswith((b"ssh-", b"ecdsa-", b"sk-")):
            problems.add(path, "%s is a public key; name the private key (without .pub)" % resolved)
        return None
    if kind == "certificate":
        try:
            return _pem_certificates(data)
        except ValueError:
            problems.add(path, "%s is not a PEM certificate (-----BEGIN CERTIFICATE-----)" % resolved)
            return None
    try:
        return _pem_private_key(data)
    except TypeError:
        problems.add(path, "%s is an encrypted private key; the registry needs it unencrypted" % resolved)
    except Exception:  # pylint: disable=broad-exception-caught  # ValueError or UnsupportedAlgorithm
        problems.add(path, "%s is not a PEM private key (-----BEGIN ... PRIVATE KEY-----)" % resolved)
    return None


def _check_vars(problems, path, variables):
    for key in variables or {}:
        if not isinstance(key, str) or not _IDENTIFIER.match(key):
            problems.add(path, "%s is not a valid variable name" % excerpt(key))
        elif key.startswith("airgap_cluster"):
            problems.add("%s.%s" % (path, key), "airgap_cluster* variables are set by the inventory plugin")


def _check_user(problems, path, value, pattern=_SSH_USER):
    if value is not None and problems.ok(path) and not pattern.match(value):
        problems.add(path, "%s is not a user name (letters, digits, '_', '.', '@', '-'; no ':' or space; "
                     "at most 64)" % excerpt(value))


def _check_name_and_ssh(config, problems, base_dir, check_files):
    if problems.ok("name") and not _DNS_LABEL.match(config["name"]):
        problems.add("name", "%s is not a DNS label (lowercase letters, digits, '-', at most 63)"
                     % excerpt(config["name"]))
    ssh = config.get("ssh") or {}
    _check_user(problems, "ssh.user", ssh.get("user"))
    if problems.ok("ssh.port"):
        _check_port(problems, "ssh.port", ssh.get("port"))
    if problems.ok("ssh.keyFile"):
        _check_file(problems, "ssh.keyFile", ssh.get("keyFile"), base_dir, check_files, "ssh-key")


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
                problems.add(base + ".name", "%s is not a lowercase DNS name (a Kubernetes node name)"
                             % excerpt(name))
            elif name in names:
                problems.add(base + ".name", "duplicate host name %s (also %s)" % (excerpt(name), names[name]))
            else:
                names[name] = base + ".name"
        if address is not None and problems.ok(base + ".address"):
            _check_address(problems, base + ".address", address)
            if problems.ok(base + ".address"):
                ip = _ip(address)
                key = ip.compressed if ip is not None else address.lower()
                if key in addresses:
                    problems.add(base + ".address", "duplicate address %s (also %s)"
                                 % (excerpt(address), addresses[key]))
                else:
                    addresses[key] = base + ".address"
                if ip is not None:
                    host_ips.append((base + ".address", ip))
        if roles is not None and problems.ok(base + ".roles"):
            if not roles:
                problems.add(base + ".roles", "must name at least one of: %s" % ", ".join(ROLES))
            if len(set(roles)) < len(roles):
                problems.add(base + ".roles", "role %s is listed twice"
                             % next(role for role in roles if roles.count(role) > 1))
            for role in set(roles):
                role_paths[role].append(base)
        host_ssh = host.get("ssh") or {}
        _check_user(problems, base + ".ssh.user", host_ssh.get("user"))
        if problems.ok(base + ".ssh.port"):
            _check_port(problems, base + ".ssh.port", host_ssh.get("port"))
        if problems.ok(base + ".ssh.host"):
            _check_address(problems, base + ".ssh.host", host_ssh.get("host"), loopback_ok=True)
        if problems.ok(base + ".ssh.keyFile"):
            _check_file(problems, base + ".ssh.keyFile", host_ssh.get("keyFile"), base_dir, check_files, "ssh-key")
        target = (host_ssh.get("host") or address, host_ssh.get("port") or ssh.get("port"))
        if None not in target and not problems.has(base):
            target = (address_key(target[0]), target[1])
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
                     % ", ".join(role_paths["control_plane"][:10]))
    if not role_paths["worker"]:
        problems.add("hosts", "no host has the role worker; give the control plane the role worker "
                     "too to run workloads on it")
    if len(role_paths["registry"]) > 1:
        problems.add("hosts", "%s have the role registry; one registry host is supported"
                     % ", ".join(role_paths["registry"][:10]))
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


def _upstream_problem(upstream):
    """Why an upstreamDNS entry is not an address[:port] or a resolv.conf path, or None."""
    if upstream.startswith("/"):
        if not _RESOLV_PATH.match(upstream) or "/../" in upstream + "/":
            return "is not a resolv.conf path (letters, digits, '.', '_', '-', '/')"
        return None
    host, port = upstream, None
    if upstream.startswith("["):
        host, sep, port = upstream[1:].partition("]:")
        if not sep:
            return "is not [IPv6 address]:port"
    elif upstream.count(":") == 1:
        host, port = upstream.split(":")
    ip = _ip(host)
    if ip is None or (upstream.startswith("[") and ip.version != 6):
        return "is neither an IP address (optionally :port, [IPv6]:port) nor a resolv.conf path"
    problem = _ip_problem(ip)
    if problem:
        return problem
    if port is not None and (not port.isdigit() or not 1 <= int(port) <= 65535):
        return "has no valid port (1-65535) after ':'"
    return None


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
            problems.add(field, "%s is not a CIDR network (address/prefix with no host bits set)"
                         % excerpt(network[key]))
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
        problems.add("network.clusterDomain", "%s is not a DNS domain" % excerpt(network["clusterDomain"]))
    if problems.ok("network.upstreamDNS"):
        upstreams = network.get("upstreamDNS") or []
        if len(upstreams) > MAX_UPSTREAMS:
            problems.add("network.upstreamDNS", "%d entries; CoreDNS forwards to at most %d"
                         % (len(upstreams), MAX_UPSTREAMS))
        for index, upstream in enumerate(upstreams[:MAX_UPSTREAMS]):
            problem = _upstream_problem(upstream)
            if problem:
                problems.add("network.upstreamDNS[%d]" % index, "%s %s" % (excerpt(upstream), problem))


def _check_registry(config, problems, base_dir, check_files):
    registry = config.get("registry") or {}
    if problems.ok("registry.host"):
        _check_address(problems, "registry.host", registry.get("host"))
    if problems.ok("registry.port"):
        _check_port(problems, "registry.port", registry.get("port"))
    _check_user(problems, "registry.auth.username", (registry.get("auth") or {}).get("username"),
                _REGISTRY_USER)
    tls = registry.get("tls") or {}
    if not problems.ok("registry.tls"):
        return
    # Checked whatever the mode: these files are copied to the registry host.
    _check_file(problems, "registry.tls.caFile", tls.get("caFile"), base_dir, check_files, "certificate")
    certificates = _check_file(problems, "registry.tls.certFile", tls.get("certFile"), base_dir, check_files,
                               "certificate")
    key = _check_file(problems, "registry.tls.keyFile", tls.get("keyFile"), base_dir, check_files, "private-key")
    if certificates and key is not None and _public_bytes(certificates[0].public_key()) != _public_bytes(
            key.public_key()):
        problems.add("registry.tls.keyFile", "%s is not the private key of registry.tls.certFile's certificate"
                     % resolve_path(tls["keyFile"], base_dir))


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


def _check_state_dir(config, problems, base_dir, check_files):
    """stateDir, or its nearest existing parent, is a directory: the controller creates the
    cluster's state below it."""
    value = config.get("stateDir")
    if value is None or not problems.ok("stateDir"):
        return
    if not value.strip():
        problems.add("stateDir", "is empty; leave it out for the cluster file's directory")
        return
    path = resolve_path(value, base_dir)
    if not check_files or not os.path.isabs(path):
        return
    existing = path
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        what = "exists and is not a directory" if existing == path else \
            "cannot be created: %s is not a directory" % existing
        problems.add("stateDir", "%s %s; name a directory for the cluster's CA, passwords and kubeconfig"
                     % (path, what))


def _check_kubelet(config, problems):
    kubelet = config.get("kubelet") or {}
    if problems.ok("kubelet.extraArgs"):
        for flag, value in (kubelet.get("extraArgs") or {}).items():
            field = "kubelet.extraArgs.%s" % str(flag)[:100]
            if not isinstance(flag, str) or not _FLAG.match(flag):
                problems.add(field, "flag names are lowercase words joined by '-', without '--'")
            elif flag == "node-ip":
                problems.add(field, "set from each host's address (hosts[].address); leave it out")
            if isinstance(value, (dict, list)) or value is None:
                problems.add(field, "the value must be a string, number or boolean")
            elif isinstance(value, str) and problems.ok(field) and not _KUBELET_VALUE.match(value):
                problems.add(field, "a flag value has no double quote or backslash and at most 1024 characters: %s"
                             % excerpt(value))


def _check_sources(config, problems):
    """Base URLs are http(s) URLs; registries are host[:port][/path]."""
    for key, value in (config.get("sources") or {}).items():
        field = "sources." + key
        if value is None or not problems.ok(field):
            continue
        if SCHEMA["sources"]["options"][key]["default"].startswith("http"):
            if not _URL.match(value):
                problems.add(field, "%s is not an http(s):// URL (a base URL: host[:port][/path], no query, quote, "
                             "space or brace)" % excerpt(value))
        elif not _REGISTRY.match(value):
            problems.add(field, "%s is not a registry (host[:port][/path], or "
                         "http://host[:port][/path] for a plain-HTTP mirror)" % excerpt(value))


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
    _check_state_dir(config, problems, base_dir, check_files)
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
        what = "an empty file" if raw is None else type_name(raw)
        problems.add("", "a cluster file is a mapping with apiVersion %s and kind %s, got %s"
                     % (API_VERSION, KIND, what))
        return None, problems.messages()
    config = _walk(raw, SCHEMA, "", problems)
    _semantic_checks(config, problems, base_dir, check_files)
    return config, problems.messages()
