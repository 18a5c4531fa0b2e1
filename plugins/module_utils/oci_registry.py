# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small OCI distribution (registry v2 API) client in the standard library.

It pulls manifests and indexes by tag or digest, narrows an index to one platform, fetches blobs
with digest verification, and pushes blobs (skipping those the registry has, monolithic or
chunked upload) and manifests. It answers Basic and Bearer-token authentication challenges (as
registry.k8s.io, Docker Hub and distribution with htpasswd send them), speaks HTTPS with the
system CAs or a given CA file, and plain HTTP for a mirror given as ``http://host:port/prefix``.

Runs on air-gapped hosts (the push module) and on the controller (the bundle), so: standard
library only, no secrets in messages.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import ssl
import tempfile
import urllib.parse

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST)
MANIFEST_TYPES = (MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST)
ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)

# Hosts whose registry API lives elsewhere than the name of their images.
API_HOSTS = {"docker.io": "registry-1.docker.io", "index.docker.io": "registry-1.docker.io"}
CHUNK = 1024 * 1024
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHALLENGE_PARAM = re.compile(r'([A-Za-z_]+)="([^"]*)"')


class RegistryError(Exception):
    """A registry request that failed; the message names the request and the registry's error."""

    def __init__(self, message, status=None, code=None):
        super().__init__(message)
        self.status = status
        self.code = code


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(reference):
    return bool(_DIGEST.match(reference or ""))


def parse_base(base):
    """``[http://]host[:port][/prefix]`` -> (scheme, host, port or None, prefix without slashes)."""
    scheme = "https"
    if base.startswith("http://"):
        scheme, base = "http", base[len("http://"):]
    elif base.startswith("https://"):
        base = base[len("https://"):]
    hostport, dummy, prefix = base.partition("/")
    host, dummy, port = hostport.partition(":")
    if not host:
        raise RegistryError("%r names no registry host" % base)
    host = API_HOSTS.get(host, host)
    return scheme, host, int(port) if port else None, prefix.strip("/")


def _registry_error(method, url, status, body):
    detail = ""
    code = None
    try:
        errors = json.loads(body.decode("utf-8")).get("errors") or []
        if errors:
            code = errors[0].get("code")
            detail = "; ".join("%s: %s" % (e.get("code"), e.get("message")) for e in errors)
    except (ValueError, AttributeError, UnicodeDecodeError):
        detail = body[:200].decode("utf-8", "replace").strip()
    return RegistryError("%s %s: HTTP %d%s" % (method, url, status, " " + detail if detail else ""),
                         status=status, code=code)


class Registry:
    """One registry (with an optional path prefix below which repositories live).

    ``base`` is ``host[:port][/prefix]`` (HTTPS) or ``http://host[:port][/prefix]``. ``ca_file``
    adds a CA bundle; ``insecure=True`` forces plain HTTP. ``username``/``password`` answer Basic
    challenges and are sent to token services for Bearer challenges; without them, anonymous tokens
    are requested.
    """

    def __init__(self, base, username=None, password=None, ca_file=None, insecure=False,
                 timeout=60, chunk_size=None, user_agent="airgap.kubernetes"):
        self.scheme, self.host, self.port, self.prefix = parse_base(base)
        if insecure:
            self.scheme = "http"
        self.username = username
        self.password = password
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.user_agent = user_agent
        self._context = None
        if self.scheme == "https":
            try:
                # The system CAs and the given one: a private mirror may redirect to a public CDN.
                self._context = ssl.create_default_context()
                if ca_file:
                    self._context.load_verify_locations(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise RegistryError("cannot load CA file %s: %s" % (ca_file, exc))
        self._conns = {}
        self._auth = {}      # (host[:port], scope or "*") -> Authorization header value
        self.stats = {"requests": 0, "bytes_down": 0, "bytes_up": 0}

    # -- plumbing --------------------------------------------------------------------------

    @property
    def origin(self):
        default = 443 if self.scheme == "https" else 80
        port = "" if self.port in (None, default) else ":%d" % self.port
        return "%s://%s%s" % (self.scheme, self.host, port)

    def repo_path(self, repository):
        return "/".join(p for p in (self.prefix, repository.strip("/")) if p)

    def _connection(self, scheme, host, port):
        key = (scheme, host, port)
        conn = self._conns.get(key)
        if conn is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._context)
            else:
                conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
            self._conns[key] = conn
        return conn

    def close(self):
        for conn in self._conns.values():
            conn.close()
        self._conns = {}

    def _raw(self, method, url, headers=None, body=None):
        """One HTTP exchange; returns (status, headers, response) with the body unread."""
        parts = urllib.parse.urlsplit(url)
        path = parts.path + ("?" + parts.query if parts.query else "")
        headers = dict(headers or {}, **{"User-Agent": self.user_agent})
        for attempt in (1, 2):  # a kept-alive connection the server closed gets one retry
            conn = self._connection(parts.scheme, parts.hostname, parts.port)
            try:
                if hasattr(body, "read"):
                    body.seek(0)
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                self.stats["requests"] += 1
                return response.status, response.headers, response
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                self._conns.pop((parts.scheme, parts.hostname, parts.port), None)
                if attempt == 2:
                    raise RegistryError("%s %s: connection lost: %s" % (method, url, exc))
            except ssl.SSLCertVerificationError as exc:
                conn.close()
                self._conns.pop((parts.scheme, parts.hostname, parts.port), None)
                raise RegistryError("%s %s: TLS certificate not trusted (%s); give the registry's CA "
                                    "file" % (method, url, exc.verify_message or exc))
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._conns.pop((parts.scheme, parts.hostname, parts.port), None)
                raise RegistryError("%s %s: %s" % (method, url, exc))
        raise AssertionError("unreachable")

    def _authorize(self, netloc, challenge, scope):
        """Answer a WWW-Authenticate challenge of one host; returns True when a retry makes sense."""
        kind, dummy, params = (challenge or "").partition(" ")
        kind = kind.lower()
        if kind == "basic":
            if self.username is None:
                return False
            token = base64.b64encode(("%s:%s" % (self.username, self.password or "")).encode()).decode()
            self._auth[(netloc, "*")] = "Basic " + token
            return True
        if kind != "bearer":
            return False
        values = dict(_CHALLENGE_PARAM.findall(params))
        realm = values.get("realm")
        if not realm:
            return False
        query = {"service": values["service"]} if values.get("service") else {}
        scopes = [s for s in (values.get("scope"), scope) if s]
        query_text = urllib.parse.urlencode(query)
        for item in dict.fromkeys(scopes):
            query_text += ("&" if query_text else "") + urllib.parse.urlencode({"scope": item})
        url = realm + ("&" if "?" in realm else "?") + query_text if query_text else realm
        headers = {"Accept": "application/json"}
        if self.username is not None:
            creds = base64.b64encode(("%s:%s" % (self.username, self.password or "")).encode()).decode()
            headers["Authorization"] = "Basic " + creds
        status, dummy, response = self._raw("GET", url, headers)
        body = response.read()
        if status != 200:
            what = "credentials refused" if status in (401, 403) else "HTTP %d" % status
            raise RegistryError("token request to %s failed: %s" % (realm, what), status=status)
        try:
            data = json.loads(body.decode("utf-8"))
            token = data.get("token") or data["access_token"]
        except (ValueError, KeyError, AttributeError):
            raise RegistryError("token service %s returned no token" % realm)
        self._auth[(netloc, scope)] = "Bearer " + token
        return True

    def request(self, method, path, scope, headers=None, body=None, ok=(200,), stream=False,
                url=None):
        """A registry API request with authentication; raises RegistryError unless the status is
        in ``ok``. Returns (status, headers, body bytes or the open response when ``stream``).

        GET and HEAD follow redirects (registry.k8s.io redirects every request to a backend,
        registries send blobs to a CDN); credentials and tokens are kept per host, so a
        redirect target never receives another host's."""
        url = url or self.origin + path
        challenged = set()
        for dummy in range(10):
            netloc = urllib.parse.urlsplit(url).netloc
            sent = dict(headers or {})
            auth = self._auth.get((netloc, scope)) or self._auth.get((netloc, "*"))
            if auth:
                sent["Authorization"] = auth
            status, resp_headers, response = self._raw(method, url, sent, body)
            if status == 401 and 401 not in ok:
                response.read()
                if netloc not in challenged and self._authorize(netloc, resp_headers.get("WWW-Authenticate"), scope):
                    challenged.add(netloc)
                    continue
                hint = "credentials refused" if self.username else "give a username and password"
                raise RegistryError("%s %s: HTTP 401 authentication required (%s)" % (method, url, hint),
                                    status=401, code="UNAUTHORIZED")
            if status in (301, 302, 303, 307, 308) and status not in ok and method in ("GET", "HEAD") \
                    and resp_headers.get("Location"):
                response.read()
                url = urllib.parse.urljoin(url, resp_headers["Location"])
                continue
            if status in ok:
                if stream:
                    return status, resp_headers, response
                data = response.read()
                self.stats["bytes_down"] += len(data)
                return status, resp_headers, data
            raise _registry_error(method, url.split("?", 1)[0], status, response.read())
        raise RegistryError("%s %s: too many redirects or authentication rounds" % (method, url.split("?", 1)[0]))

    # -- reading ---------------------------------------------------------------------------

    def _scope(self, repository, actions="pull"):
        return "repository:%s:%s" % (self.repo_path(repository), actions)

    def get_manifest(self, repository, reference, accept=ACCEPT):
        """Fetch a manifest or index: (bytes, media type, digest). A digest reference is verified."""
        path = "/v2/%s/manifests/%s" % (self.repo_path(repository), reference)
        dummy, headers, data = self.request("GET", path, self._scope(repository), {"Accept": accept})
        digest = sha256_digest(data)
        if is_digest(reference) and digest != reference:
            raise RegistryError("%s@%s: the registry sent content with digest %s"
                                % (self.repo_path(repository), reference, digest))
        media_type = headers.get("Content-Type", "").split(";")[0].strip()
        try:
            media_type = json.loads(data.decode("utf-8")).get("mediaType") or media_type
        except (ValueError, UnicodeDecodeError, AttributeError):
            raise RegistryError("%s:%s: the manifest is not JSON" % (self.repo_path(repository), reference))
        return data, media_type, digest

    def manifest_digest(self, repository, reference, accept=ACCEPT):
        """HEAD a manifest: its digest, or None when the registry does not have it."""
        path = "/v2/%s/manifests/%s" % (self.repo_path(repository), reference)
        status, headers, dummy = self.request("HEAD", path, self._scope(repository), {"Accept": accept},
                                              ok=(200, 404))
        if status == 404:
            return None
        return headers.get("Docker-Content-Digest") or (reference if is_digest(reference) else None)

    def blob_exists(self, repository, digest):
        path = "/v2/%s/blobs/%s" % (self.repo_path(repository), digest)
        status, dummy, dummy2 = self.request("HEAD", path, self._scope(repository), ok=(200, 404))
        return status == 200

    def fetch_blob(self, repository, digest, dest):
        """Download a blob to ``dest`` (through a temporary file), verifying its digest."""
        path = "/v2/%s/blobs/%s" % (self.repo_path(repository), digest)
        dummy, dummy2, response = self.request("GET", path, self._scope(repository), stream=True)
        hasher = hashlib.sha256()
        directory = os.path.dirname(os.path.abspath(dest))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".blob-")
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            got = "sha256:" + hasher.hexdigest()
            if got != digest:
                raise RegistryError("%s blob %s: received %d bytes with digest %s"
                                    % (self.repo_path(repository), digest, size, got))
            os.replace(tmp, dest)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self.stats["bytes_down"] += size
        return size

    # -- writing ---------------------------------------------------------------------------

    def push_blob(self, repository, digest, path, mount_from=None):
        """Upload the blob in file ``path`` unless the registry has it. Returns the bytes sent
        (0 when it was there already). Monolithic by default; chunked with ``chunk_size``."""
        if self.blob_exists(repository, digest):
            return 0
        scope = self._scope(repository, "pull,push")
        repo = self.repo_path(repository)
        start = "/v2/%s/blobs/uploads/" % repo
        if mount_from:
            start += "?" + urllib.parse.urlencode({"mount": digest, "from": self.repo_path(mount_from)})
        status, headers, dummy = self.request("POST", start, scope, {"Content-Length": "0"}, b"",
                                              ok=(201, 202))
        if status == 201:
            return 0
        location = self._location(headers, "POST " + start)
        size = os.path.getsize(path)
        with open(path, "rb") as blob:
            if self.chunk_size and size > self.chunk_size:
                offset = 0
                while offset < size:
                    data = blob.read(self.chunk_size)
                    dummy, headers, dummy2 = self.request(
                        "PATCH", None, scope, {"Content-Type": "application/octet-stream",
                                               "Content-Range": "%d-%d" % (offset, offset + len(data) - 1),
                                               "Content-Length": str(len(data))},
                        data, ok=(202,), url=location)
                    offset += len(data)
                    location = self._location(headers, "PATCH " + repo)
                self.request("PUT", None, scope, {"Content-Length": "0"}, b"", ok=(201,),
                             url=self._with_digest(location, digest))
            else:
                self.request("PUT", None, scope, {"Content-Type": "application/octet-stream",
                                                  "Content-Length": str(size)},
                             blob, ok=(201,), url=self._with_digest(location, digest))
        self.stats["bytes_up"] += size
        return size

    def put_manifest(self, repository, reference, data, media_type):
        """Push a manifest or index under a tag or its digest; returns the digest, checked
        against what the registry computed."""
        digest = sha256_digest(data)
        path = "/v2/%s/manifests/%s" % (self.repo_path(repository), reference)
        dummy, headers, dummy2 = self.request(
            "PUT", path, self._scope(repository, "pull,push"),
            {"Content-Type": media_type, "Content-Length": str(len(data))}, data, ok=(201,))
        answered = headers.get("Docker-Content-Digest")
        if answered and answered != digest:
            raise RegistryError("PUT %s: the registry stored digest %s, expected %s"
                                % (self.origin + path, answered, digest))
        self.stats["bytes_up"] += len(data)
        return digest

    def _location(self, headers, what):
        location = headers.get("Location")
        if not location:
            raise RegistryError("%s: the registry sent no upload Location" % what)
        return urllib.parse.urljoin(self.origin + "/", location)

    @staticmethod
    def _with_digest(location, digest):
        return location + ("&" if "?" in location else "?") + urllib.parse.urlencode({"digest": digest})


def platform_manifest(index, os_name="linux", arch="amd64", variant=None):
    """The descriptor of one platform's manifest in an image index (parsed JSON); RegistryError
    naming the platforms it has otherwise."""
    found = []
    for desc in index.get("manifests") or []:
        plat = desc.get("platform") or {}
        found.append("%s/%s%s" % (plat.get("os"), plat.get("architecture"),
                                  "/" + plat["variant"] if plat.get("variant") else ""))
        if plat.get("os") == os_name and plat.get("architecture") == arch and \
                (variant is None or plat.get("variant") == variant):
            return desc
    raise RegistryError("no %s/%s manifest in the index (it has: %s)"
                        % (os_name, arch, ", ".join(found) or "none"))


def manifest_blobs(manifest):
    """The descriptors (config first, then layers) a manifest (parsed JSON) refers to."""
    return [manifest["config"]] + list(manifest.get("layers") or [])
