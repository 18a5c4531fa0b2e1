# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A loopback OCI registry for the unit tests: the v2 API subset the collection uses, in memory,
with optional Basic or Bearer-token authentication as distribution and registry.k8s.io do it.

    with FakeRegistry(auth="bearer", users={"u": "p"}) as reg:
        reg.url            # http://127.0.0.1:PORT
        reg.log            # [(method, path), ...]
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import re
import ssl
import threading
import urllib.parse
import uuid


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class FakeRegistry:
    def __init__(self, auth=None, users=None, anonymous_pull=False, tls=None):
        self.tls = tls                      # (certfile, keyfile): serve HTTPS
        self.auth = auth                    # None, "basic" or "bearer"
        self.users = users or {}
        self.anonymous_pull = anonymous_pull
        self.blobs = {}                     # digest -> bytes
        self.manifests = {}                 # (repo, reference) -> (bytes, media type)
        self.uploads = {}
        self.log = []
        self.tokens = {}                    # token -> (user, scopes)
        self.fail = {}                      # (method, path regex) -> (status, body)
        self.corrupt_blobs = set()
        self.redirect_blobs = None          # base URL to redirect blob GETs to (a "CDN")
        self.redirect_all = None            # (base URL, repository prefix): registry.k8s.io's redirector
        self.server = None

    # -- content helpers --
    def add_blob(self, data):
        digest = digest_of(data)
        self.blobs[digest] = data
        return digest

    def add_manifest(self, repo, tag, data, media_type):
        digest = digest_of(data)
        self.manifests[(repo, tag)] = (data, media_type)
        self.manifests[(repo, digest)] = (data, media_type)
        return digest

    def __enter__(self):
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                registry.handle(self)

            do_HEAD = do_POST = do_PUT = do_PATCH = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self):
        scheme = "https" if self.tls else "http"
        return "%s://127.0.0.1:%d" % (scheme, self.server.server_address[1])

    @property
    def base(self):
        """The registry base as the client takes it (no scheme: HTTPS)."""
        if self.tls:
            return "127.0.0.1:%d" % self.server.server_address[1]
        return self.url

    # -- protocol --
    def reply(self, req, status, body=b"", headers=None):
        req.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            req.send_header(key, value)
        req.end_headers()
        if req.command != "HEAD" and body:
            req.wfile.write(body)

    def error(self, req, status, code, message, headers=None):
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self.reply(req, status, body, dict(headers or {}, **{"Content-Type": "application/json"}))

    def allowed(self, req, repo, push):
        if not self.auth:
            return True
        header = req.headers.get("Authorization") or ""
        if self.auth == "basic":
            if header.startswith("Basic "):
                user, dummy, password = base64.b64decode(header[6:]).decode().partition(":")
                if self.users.get(user) == password:
                    return True
            self.error(req, 401, "UNAUTHORIZED", "authentication required",
                       {"WWW-Authenticate": 'Basic realm="fake"'})
            return False
        scope = "repository:%s:%s" % (repo, "pull,push" if push else "pull")
        if header.startswith("Bearer "):
            user, scopes = self.tokens.get(header[7:], (None, ()))
            action = "push" if push else "pull"
            if any(s.startswith("repository:%s:" % repo) and action in s.split(":")[-1].split(",")
                   for s in scopes):
                return True
        self.error(req, 401, "UNAUTHORIZED", "authentication required", {
            "WWW-Authenticate": 'Bearer realm="%s/token",service="fake",scope="%s"' % (self.url, scope)})
        return False

    def token(self, req, query):
        user = None
        header = req.headers.get("Authorization") or ""
        if header.startswith("Basic "):
            user, dummy, password = base64.b64decode(header[6:]).decode().partition(":")
            if self.users.get(user) != password:
                return self.reply(req, 401, b'{"details":"bad credentials"}')
        scopes = query.get("scope", [])
        if user is None:
            if not self.anonymous_pull:
                scopes = []
            scopes = [s.rsplit(":", 1)[0] + ":pull" for s in scopes]
        token = uuid.uuid4().hex
        self.tokens[token] = (user, scopes)
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        return self.reply(req, 200, body, {"Content-Type": "application/json"})

    def handle(self, req):
        parts = urllib.parse.urlsplit(req.path)
        path, query = parts.path, urllib.parse.parse_qs(parts.query)
        self.log.append((req.command, req.path))
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        for (method, pattern), (status, text) in self.fail.items():
            if method == req.command and re.search(pattern, path):
                return self.error(req, status, "DENIED", text)
        if self.redirect_all and path.startswith("/v2/"):
            target, prefix = self.redirect_all
            rest = path[len("/v2/"):]
            return self.reply(req, 307, b"", {"Location": "%s/v2/%s/%s" % (target, prefix, rest)})
        if path == "/token":
            return self.token(req, query)
        if path.startswith("/cdn/"):
            digest = path[len("/cdn/"):]
            return self.reply(req, 200, self.blobs[digest])
        if path == "/v2/":
            return self.reply(req, 200, b"{}") if self.allowed(req, "", False) else None
        match = re.match(r"^/v2/(?P<repo>.+?)/(?P<kind>manifests|blobs|blobs/uploads)/(?P<ref>[^/]*)$", path)
        if not match:
            return self.error(req, 404, "NOT_FOUND", "no route")
        repo, kind, ref = match.group("repo", "kind", "ref")
        push = req.command in ("POST", "PUT", "PATCH")
        if not self.allowed(req, repo, push):
            return None
        if kind == "manifests":
            if req.command == "PUT":
                digest = digest_of(body)
                data = json.loads(body)
                for desc in [data.get("config")] + data.get("layers", []) if "layers" in data else []:
                    if desc and desc["digest"] not in self.blobs:
                        return self.error(req, 400, "MANIFEST_BLOB_UNKNOWN", "blob unknown: " + desc["digest"])
                media = req.headers.get("Content-Type")
                self.manifests[(repo, ref)] = (body, media)
                self.manifests[(repo, digest)] = (body, media)
                return self.reply(req, 201, b"", {"Docker-Content-Digest": digest,
                                                  "Location": "/v2/%s/manifests/%s" % (repo, digest)})
            if (repo, ref) not in self.manifests:
                return self.error(req, 404, "MANIFEST_UNKNOWN", "manifest unknown")
            data, media = self.manifests[(repo, ref)]
            return self.reply(req, 200, data, {"Content-Type": media, "Docker-Content-Digest": digest_of(data)})
        if kind == "blobs":
            if ref not in self.blobs:
                return self.error(req, 404, "BLOB_UNKNOWN", "blob unknown")
            if self.redirect_blobs and req.command == "GET":
                return self.reply(req, 307, b"", {"Location": "%s/cdn/%s" % (self.redirect_blobs, ref)})
            data = self.blobs[ref]
            if ref in self.corrupt_blobs:
                data = b"X" + data[1:]
            return self.reply(req, 200, data, {"Docker-Content-Digest": ref})
        # uploads
        if req.command == "POST" and ref == "":
            if "mount" in query and query["mount"][0] in self.blobs:
                return self.reply(req, 201, b"", {"Docker-Content-Digest": query["mount"][0]})
            upload = uuid.uuid4().hex
            self.uploads[upload] = bytearray()
            return self.reply(req, 202, b"", {"Location": "/v2/%s/blobs/uploads/%s?state=x" % (repo, upload),
                                              "Range": "0-0"})
        if ref not in self.uploads:
            return self.error(req, 404, "BLOB_UPLOAD_UNKNOWN", "upload unknown")
        if req.command == "PATCH":
            self.uploads[ref] += body
            return self.reply(req, 202, b"", {"Location": "/v2/%s/blobs/uploads/%s" % (repo, ref),
                                              "Range": "0-%d" % (len(self.uploads[ref]) - 1)})
        if req.command == "PUT":
            data = bytes(self.uploads.pop(ref) + body)
            digest = query.get("digest", [""])[0]
            if digest_of(data) != digest:
                return self.error(req, 400, "DIGEST_INVALID", "provided digest did not match uploaded content")
            self.blobs[digest] = data
            return self.reply(req, 201, b"", {"Docker-Content-Digest": digest})
        return self.error(req, 405, "UNSUPPORTED", "unsupported")
