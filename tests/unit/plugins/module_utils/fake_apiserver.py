# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A loopback HTTPS server that answers like a Kubernetes API server from recorded answers.

    with FakeAPIServer(pki, fixture) as api:     # fixture: {"responses": {path: answer}}
        api.url          # https://127.0.0.1:PORT, certificate for 127.0.0.1 from pki's CA
        api.log          # paths asked, in order (api.headers: their request headers)
        api.unknown      # paths asked that the fixture has no answer for (answered 404)

An answer is {"status", "date", "content_type", and "json" or "text"}, or {"stall": true}, as
tests/e2e/test_health.py --capture records them from the lab. The server asks for a client
certificate from pki's CA (as kube-apiserver does); stall=True accepts connections and the TLS
handshake and then never answers.
"""

from __future__ import annotations

import http.server
import json
import ssl
import threading


class FakeAPIServer:
    def __init__(self, pki, fixture=None, stall=False, server_cert=None):
        self.pki = pki
        self.fixture = fixture or {"responses": {}}
        self.stall = stall
        self.server_cert = server_cert or pki.server
        self.log = []
        self.headers = []
        self.unknown = []
        self.stop = threading.Event()
        self.server = None
        self.url = None

    def answer(self, handler):
        self.log.append(handler.path)
        self.headers.append(dict(handler.headers.items()))
        if self.stall:
            self.stop.wait(60)
            return
        recorded = self.fixture["responses"].get(handler.path)
        if recorded is None:
            self.unknown.append(handler.path)
            recorded = {"status": 404, "content_type": "application/json", "json": {
                "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                "message": "the fake API server has no recorded answer for %s" % handler.path}}
        if recorded.get("stall"):  # recorded as "no answer in time"
            self.stop.wait(60)
            return
        if "json" in recorded:
            body = json.dumps(recorded["json"]).encode()
        else:
            body = recorded.get("text", "").encode()
        handler.send_response(recorded["status"])
        handler.send_header("Content-Type", recorded.get("content_type", "application/json"))
        handler.send_header("Content-Length", str(len(body)))
        if recorded.get("date"):
            handler.send_header("Date", recorded["date"])
        handler.end_headers()
        handler.wfile.write(body)

    def __enter__(self):
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def date_time_string(self, timestamp=None):
                return ""  # the recorded Date is sent instead

            def send_header(self, keyword, value):
                if keyword == "Date" and not value:
                    return
                super().send_header(keyword, value)

            def do_GET(self):
                api.answer(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self.server_cert)
        context.load_verify_locations(self.pki.ca[0])
        context.verify_mode = ssl.CERT_REQUIRED
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = "https://127.0.0.1:%d" % self.server.server_address[1]
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
