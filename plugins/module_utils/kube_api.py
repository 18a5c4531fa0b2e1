# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Kubernetes API client in the standard library: kubeconfig in, JSON out.

Modules that use it run on air-gapped hosts (a control plane's /etc/kubernetes/admin.conf), which
have neither the kubernetes Python client nor PyYAML. So:

- ``load_kubeconfig`` reads a kubeconfig with PyYAML when it is importable and otherwise with
  ``parse_yaml``, a reader for the block YAML that kubeadm, kubectl and Ansible write (mappings,
  sequences, plain and quoted scalars, ``{}``/``[]``); anything else is refused with a message.
- ``KubeClient`` speaks HTTPS with urllib and ssl: the cluster's CA (``certificate-authority-data``
  is handed to ssl as a string; no file), the user's client certificate and key (embedded ones are
  written to 0600 files in a 0700 temporary directory only while ssl loads them, then removed) or
  a bearer token, a timeout on every request, no proxy from the environment.
- Every failure is a ``KubeAPIError`` whose message names the server and the request, and never
  holds a token or a key.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request

try:
    import yaml  # not on the hosts; used when it is there
    HAS_YAML = True
except ImportError:  # pragma: no cover - depends on the host
    HAS_YAML = False


class KubeconfigError(Exception):
    """A kubeconfig that cannot be used; the message names the file and the field."""


class KubeAPIError(Exception):
    """A request that got no usable answer; the message names the server and the request."""

    def __init__(self, message, status=None, kind=None):
        super().__init__(message)
        self.status = status
        self.kind = kind  # tls, timeout, connect, http, decode


# -- YAML, the subset kubeconfigs are written in ------------------------------------------------

_PLAIN_NULL = ("", "~", "null", "Null", "NULL")
_INT = re.compile(r"^[-+]?[0-9]+$")


class _YAMLError(ValueError):
    pass


def _strip_comment(text):
    """Drop a trailing comment (a '#' at the start or after a blank, outside quotes)."""
    quote = None
    for pos, char in enumerate(text):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"" and (pos == 0 or text[pos - 1] in " \t:-[{,"):
            quote = char
        elif char == "#" and (pos == 0 or text[pos - 1] in " \t"):
            return text[:pos].rstrip()
    return text.rstrip()


def _scalar(text, where):
    text = text.strip()
    if text.startswith('"'):
        if len(text) < 2 or not text.endswith('"'):
            raise _YAMLError("%s: unterminated double-quoted string" % where)
        try:
            return json.loads(text)
        except ValueError:
            raise _YAMLError("%s: unsupported escape in a double-quoted string" % where)
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'"):
            raise _YAMLError("%s: unterminated single-quoted string" % where)
        return text[1:-1].replace("''", "'")
    if text == "{}":
        return {}
    if text == "[]":
        return []
    if text[:1] in ("{", "[", "|", ">", "&", "*", "!"):
        raise _YAMLError("%s: %r is YAML this reader does not handle (flow collections, block "
                         "scalars, anchors, tags); write the kubeconfig in plain block style or "
                         "install PyYAML (python3-yaml)" % (where, text[:20]))
    if text in _PLAIN_NULL:
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        return int(text)
    return text


def _split_key(text):
    """'key: value' -> (key, value text) or None when the line is not a mapping entry."""
    if text[:1] in "'\"":
        end = text.find(text[0], 1)
        while end > 0 and text[0] == "'" and text[end + 1:end + 2] == "'":
            end = text.find("'", end + 2)
        if end < 0:
            return None
        rest = text[end + 1:]
        if rest == ":" or rest.startswith(": "):
            return _scalar(text[:end + 1], "key"), rest[1:].strip()
        return None
    match = re.match(r"^([^\s#'\"][^:]*?):(?:\s+(.*))?$", text)
    if not match:
        return None
    return match.group(1), (match.group(2) or "").strip()


def parse_yaml(text):
    """Parse block-style YAML (one document) into dicts, lists and scalars."""
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        if "\t" in raw[:len(raw) - len(raw.lstrip())]:
            raise _YAMLError("line %d: a tab in the indentation" % number)
        content = _strip_comment(raw)
        if not content.strip() or content.strip() in ("---", "..."):
            if content.strip() == "---" and lines:
                raise _YAMLError("line %d: a second YAML document" % number)
            continue
        lines.append([len(content) - len(content.lstrip(" ")), content.strip(), number])
    if not lines:
        return None
    value, pos = _block(lines, 0, lines[0][0])
    if pos != len(lines):
        raise _YAMLError("line %d: unexpected indentation" % lines[pos][2])
    return value


def _block(lines, pos, indent):
    if lines[pos][1] == "-" or lines[pos][1].startswith("- "):
        return _sequence(lines, pos, indent)
    if _split_key(lines[pos][1]) is None:
        # A lone scalar (a document or a value on its own line), possibly folded over lines.
        parts = [lines[pos][1]]
        pos += 1
        while pos < len(lines) and lines[pos][0] >= indent and _split_key(lines[pos][1]) is None \
                and not lines[pos][1].startswith("- "):
            parts.append(lines[pos][1])
            pos += 1
        return _scalar(" ".join(parts), "line %d" % lines[pos - 1][2]), pos
    return _mapping(lines, pos, indent)


def _value(lines, pos, indent, rest, number, parent_indent):
    """The value after 'key:' or '- ': inline, or the block on the next lines."""
    if rest:
        value = _scalar(rest, "line %d" % number)
        # A plain scalar may continue on more-indented lines.
        while pos < len(lines) and lines[pos][0] > parent_indent and isinstance(value, str) \
                and rest[:1] not in "'\"" and _split_key(lines[pos][1]) is None \
                and not lines[pos][1].startswith("- "):
            value = value + " " + lines[pos][1]
            pos += 1
        return value, pos
    if pos < len(lines) and (lines[pos][0] > parent_indent or (
            lines[pos][0] == parent_indent and (lines[pos][1] == "-" or lines[pos][1].startswith("- "))
            and indent == parent_indent)):
        return _block(lines, pos, lines[pos][0])
    return None, pos


def _mapping(lines, pos, indent):
    result = {}
    while pos < len(lines) and lines[pos][0] == indent:
        if lines[pos][1] == "-" or lines[pos][1].startswith("- "):
            break
        number = lines[pos][2]
        entry = _split_key(lines[pos][1])
        if entry is None:
            raise _YAMLError("line %d: expected 'key: value'" % number)
        key, rest = entry
        if key in result:
            raise _YAMLError("line %d: duplicate key %r" % (number, key))
        result[key], pos = _value(lines, pos + 1, indent, rest, number, indent)
    if pos < len(lines) and lines[pos][0] > indent:
        raise _YAMLError("line %d: unexpected indentation" % lines[pos][2])
    return result, pos


def _sequence(lines, pos, indent):
    result = []
    while pos < len(lines) and lines[pos][0] == indent and (lines[pos][1] == "-" or lines[pos][1].startswith("- ")):
        number = lines[pos][2]
        rest = lines[pos][1][1:]
        inner = rest.lstrip(" ")
        if not inner:
            value, pos = _value(lines, pos + 1, indent + 1, "", number, indent)
        elif inner.startswith("- ") or _split_key(inner) is not None:
            # "- key: value" starts a mapping (or "- - x" a sequence) one column past the dash.
            lines[pos] = [indent + 1 + len(rest) - len(inner), inner, number]
            value, pos = _block(lines, pos, lines[pos][0])
        else:
            value, pos = _value(lines, pos + 1, indent, inner, number, indent)
        result.append(value)
    return result, pos


# -- kubeconfig ----------------------------------------------------------------------------------

class KubeConfig:
    """What a client needs from a kubeconfig: the server, how to trust it, who we are."""

    def __init__(self, server, ca_data=None, ca_file=None, cert_data=None, cert_file=None, key_data=None,
                 key_file=None, token=None, insecure=False, context=None, source=None):
        self.server = server.rstrip("/")
        self.ca_data = ca_data
        self.ca_file = ca_file
        self.cert_data = cert_data
        self.cert_file = cert_file
        self.key_data = key_data
        self.key_file = key_file
        self.token = token
        self.insecure = insecure
        self.context = context
        self.source = source

    def __repr__(self):  # never the key or the token
        return "KubeConfig(server=%r, context=%r, source=%r)" % (self.server, self.context, self.source)


def _named(config, section, name, path):
    for entry in config.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    raise KubeconfigError("%s: %s has no entry named %r" % (path, section, name))


def _decode(value, field, path):
    try:
        return base64.b64decode(value, validate=False).decode("ascii")
    except (ValueError, TypeError, UnicodeDecodeError):
        raise KubeconfigError("%s: %s is not base64 of a PEM text" % (path, field))


def read_kubeconfig_text(path):
    """The kubeconfig file's content as a dict, or KubeconfigError naming the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise KubeconfigError("cannot read the kubeconfig %s: %s" % (path, exc.strerror or exc))
    errors = (ValueError, yaml.YAMLError) if HAS_YAML else (ValueError,)
    try:
        data = yaml.safe_load(text) if HAS_YAML else parse_yaml(text)
    except errors as exc:
        raise KubeconfigError("%s is not a readable kubeconfig: %s" % (path, exc))
    if not isinstance(data, dict):
        raise KubeconfigError("%s is not a kubeconfig (no mapping at the top)" % path)
    return data


def load_kubeconfig(path, context=None, server=None):
    """Read a kubeconfig file and pick a context (the current one unless named)."""
    data = read_kubeconfig_text(path)
    base = os.path.dirname(os.path.abspath(path))
    name = context or data.get("current-context")
    if not name:
        raise KubeconfigError("%s has no current-context; name a context" % path)
    ctx = _named(data, "contexts", name, path).get("context") or {}
    cluster = _named(data, "clusters", ctx.get("cluster"), path).get("cluster") or {}
    user = {}
    if ctx.get("user"):
        user = _named(data, "users", ctx.get("user"), path).get("user") or {}

    def file_field(section, field):
        value = section.get(field)
        return os.path.join(base, value) if value else None

    url = server or cluster.get("server")
    if not url:
        raise KubeconfigError("%s: cluster %r has no server" % (path, ctx.get("cluster")))
    if not url.startswith("https://"):
        raise KubeconfigError("%s: server %s is not an https:// URL" % (path, url))
    token = user.get("token")
    if not token and user.get("tokenFile"):
        try:
            with open(file_field(user, "tokenFile"), encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as exc:
            raise KubeconfigError("%s: cannot read tokenFile of user %r: %s" % (path, ctx.get("user"), exc.strerror))
    for unsupported in ("exec", "auth-provider"):
        if user.get(unsupported) and not (token or user.get("client-certificate-data") or user.get("client-certificate")):
            raise KubeconfigError("%s: user %r authenticates with %s, which this client does not run; use a "
                                  "kubeconfig with a client certificate or a token (admin.conf)"
                                  % (path, ctx.get("user"), unsupported))
    return KubeConfig(
        server=url,
        ca_data=_decode(cluster["certificate-authority-data"], "certificate-authority-data", path)
        if cluster.get("certificate-authority-data") else None,
        ca_file=file_field(cluster, "certificate-authority"),
        cert_data=_decode(user["client-certificate-data"], "client-certificate-data", path)
        if user.get("client-certificate-data") else None,
        cert_file=file_field(user, "client-certificate"),
        key_data=_decode(user["client-key-data"], "client-key-data", path) if user.get("client-key-data") else None,
        key_file=file_field(user, "client-key"),
        token=token,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        context=name,
        source=path,
    )


# -- the client ----------------------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def ssl_context(config):
    """An SSL context that trusts the kubeconfig's CA and presents its client certificate."""
    if config.insecure:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        try:
            context = ssl.create_default_context(cafile=config.ca_file, cadata=config.ca_data)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise KubeconfigError("%s: the cluster CA (%s) cannot be loaded: %s"
                                  % (config.source, config.ca_file or "certificate-authority-data", exc))
    if config.cert_data or config.cert_file:
        if not (config.key_data or config.key_file):
            raise KubeconfigError("%s: the user has a client certificate but no key" % config.source)
        scratch = None
        try:
            cert, key = config.cert_file, config.key_file
            if config.cert_data or config.key_data:
                scratch = tempfile.mkdtemp(prefix="airgap-kube-")  # 0700
                if config.cert_data:
                    cert = _secret_file(scratch, "client.crt", config.cert_data)
                if config.key_data:
                    key = _secret_file(scratch, "client.key", config.key_data)
            context.load_cert_chain(cert, key)
        except (ssl.SSLError, OSError) as exc:
            raise KubeconfigError("%s: the client certificate and key cannot be loaded: %s"
                                  % (config.source, getattr(exc, "reason", None) or exc.strerror or exc))
        finally:
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
    return context


def _secret_file(directory, name, data):
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(data)
    return path


class KubeClient:
    """GET requests against one API server with one identity."""

    def __init__(self, config, timeout=10.0):
        self.config = config
        self.server = config.server
        self.timeout = timeout
        self.requests = 0
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),  # the API server is on the site's network, not behind a proxy
            urllib.request.HTTPSHandler(context=ssl_context(config)))

    def request(self, path, timeout=None, accept="application/json"):
        """GET path (with its query); returns a Response for every HTTP status, raises KubeAPIError
        when there is no HTTP answer."""
        url = self.server + path
        headers = {"Accept": accept, "User-Agent": "airgap.kubernetes"}
        if self.config.token:
            headers["Authorization"] = "Bearer " + self.config.token
        timeout = self.timeout if timeout is None else timeout
        self.requests += 1
        where = "GET %s" % url
        try:
            with self._opener.open(urllib.request.Request(url, headers=headers), timeout=timeout) as answer:
                return Response(answer.status, dict(answer.headers.items()), answer.read())
        except urllib.error.HTTPError as exc:
            try:
                body = exc.read()
            except (OSError, socket.timeout):
                body = b""
            return Response(exc.code, dict(exc.headers.items()) if exc.headers else {}, body)
        except urllib.error.URLError as exc:
            raise _no_answer(where, self.server, exc.reason, timeout)
        except (socket.timeout, TimeoutError, ssl.SSLError, OSError) as exc:
            raise _no_answer(where, self.server, exc, timeout)

    def get_json(self, path, timeout=None):
        response = self.request(path, timeout=timeout)
        if response.status != 200:
            raise KubeAPIError("GET %s%s: HTTP %d%s" % (self.server, path, response.status, _status_detail(response)),
                               status=response.status, kind="http")
        try:
            return response.json()
        except ValueError:
            raise KubeAPIError("GET %s%s: the answer is not JSON" % (self.server, path), kind="decode")


def _status_detail(response):
    """The message of a Kubernetes Status body, or a hint for the usual statuses."""
    message = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            message = body.get("message") or ""
    except ValueError:
        message = response.text.strip()[:200]
    hint = {401: "the API server does not accept these credentials (an expired or foreign client certificate?)",
            403: "the user lacks permission"}.get(response.status, "")
    return "".join(": " + part for part in (message, hint) if part)


def _no_answer(where, server, reason, timeout):
    if isinstance(reason, ssl.SSLCertVerificationError):
        return KubeAPIError("%s: the TLS certificate of %s is not trusted (%s); check the kubeconfig's "
                            "certificate-authority(-data)" % (where, server, reason.verify_message or reason),
                            kind="tls")
    if isinstance(reason, (socket.timeout, TimeoutError)) or "timed out" in str(reason):
        return KubeAPIError("%s: no answer from %s within %s s" % (where, server, _seconds(timeout)), kind="timeout")
    if isinstance(reason, ssl.SSLError):
        hint = ""
        if isinstance(reason, ssl.SSLEOFError) or "ALERT" in str(reason.reason or ""):
            hint = " (the server ended the handshake: does it accept the kubeconfig's client certificate?)"
        return KubeAPIError("%s: TLS with %s failed: %s%s" % (where, server, reason.reason or reason, hint), kind="tls")
    if isinstance(reason, ConnectionRefusedError):
        return KubeAPIError("%s: %s refused the connection (is kube-apiserver running?)" % (where, server),
                            kind="connect")
    if isinstance(reason, OSError):
        return KubeAPIError("%s: cannot reach %s: %s" % (where, server, reason.strerror or reason), kind="connect")
    return KubeAPIError("%s: cannot reach %s: %s" % (where, server, reason), kind="connect")


def _seconds(value):
    return ("%g" % value) if isinstance(value, (int, float)) else str(value)


def quote(value):
    return urllib.parse.quote(value, safe="")
