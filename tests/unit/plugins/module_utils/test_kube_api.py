# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kube_api: kubeconfigs read without PyYAML, and the HTTPS client against a loopback API server
with openssl-made certificates: trusted, untrusted, wrong name, foreign client certificate,
a server that never answers, and one that is not there."""

from __future__ import annotations

import os
import socket
import stat
import tempfile
import time

import pytest
import yaml

from fake_apiserver import FakeAPIServer
from kube_pki import Pki
from ansible_collections.airgap.kubernetes.plugins.module_utils import kube_api


@pytest.fixture(name="pki", scope="module")
def fixture_pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("kube-api"))


VERSION = {"status": 200, "content_type": "application/json", "json": {"major": "1", "minor": "37",
                                                                       "gitVersion": "v1.37.2"}}
UNAUTHORIZED = {"status": 401, "content_type": "application/json", "json": {
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized",
    "reason": "Unauthorized", "code": 401}}

# Kubeconfig shapes: kubeadm's (sequences at the parent's indentation), Ansible's to_nice_yaml
# (indented sequences), and a hand-written one with comments, quotes and a document marker.
SHAPES = [
    "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: TFMwdA==\n    server: https://10.0.0.1:6443\n"
    "  name: lab\ncontexts:\n- context:\n    cluster: lab\n    user: admin\n  name: admin@lab\n"
    "current-context: admin@lab\nkind: Config\npreferences: {}\nusers:\n- name: admin\n  user:\n"
    "    client-certificate-data: QUJD\n    client-key-data: REVG\n",
    "apiVersion: v1\nclusters:\n    -   cluster:\n            server: https://10.0.0.1:6443\n        name: lab\n"
    "contexts:\n    -   context:\n            cluster: lab\n            user: admin\n        name: admin@lab\n"
    "current-context: admin@lab\nkind: Config\nusers:\n    -   name: admin\n        user:\n"
    "            token: abc.def\n",
    "---\n# written by hand\napiVersion: \"v1\"   # quoted\nkind: 'Config'\nclusters:\n  - name: 'it''s'\n"
    "    cluster:\n      server: \"https://[fd00::1]:6443\"\n      insecure-skip-tls-verify: true\n"
    "contexts: []\nextensions:\n  - - nested\n    - 1\n  -\n    key: ~\ncurrent-context: \"\"\nport: 6443\n",
]


@pytest.mark.parametrize("text", SHAPES, ids=["kubeadm", "to_nice_yaml", "by-hand"])
def test_the_yaml_reader_agrees_with_pyyaml(text):
    assert kube_api.parse_yaml(text) == yaml.safe_load(text)


def test_the_yaml_reader_agrees_on_a_kubeadm_kubeconfig(pki):
    text = pki.kubeconfig("https://127.0.0.1:6443")
    assert kube_api.parse_yaml(text) == yaml.safe_load(text)


@pytest.mark.parametrize("text, message", [
    ("a: {b: 1}\n", "flow collections"),
    ("a: &x 1\n", "anchors"),
    ("a: |\n  text\n", "block scalars"),
    ("a: 1\na: 2\n", "duplicate key 'a'"),
    ("a: 1\n  b: 2\n", "unexpected indentation"),
    ("a: \"open\n", "unterminated"),
    ("a: 1\n---\nb: 2\n", "a second YAML document"),
])
def test_the_yaml_reader_refuses_what_it_does_not_handle(text, message):
    with pytest.raises(ValueError, match=message):
        kube_api.parse_yaml(text)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("with_pyyaml", [True, False], ids=["pyyaml", "stdlib"])
def test_load_kubeconfig_embedded_and_files(pki, tmp_path, monkeypatch, with_pyyaml):
    monkeypatch.setattr(kube_api, "HAS_YAML", with_pyyaml)
    config = kube_api.load_kubeconfig(write(tmp_path, "admin.conf", pki.kubeconfig("https://127.0.0.1:6443")))
    assert config.server == "https://127.0.0.1:6443" and config.context == "kubernetes-admin@lab"
    assert config.ca_data.startswith("-----BEGIN CERTIFICATE-----")
    assert config.key_data.startswith("-----BEGIN PRIVATE KEY-----") and config.key_file is None
    assert "PRIVATE" not in repr(config)

    os.makedirs(tmp_path / "sub")
    text = pki.kubeconfig("https://127.0.0.1:6443/", embed=False).replace(pki.dir + "/", "../pki-copy/")
    config = kube_api.load_kubeconfig(write(tmp_path / "sub", "kubeconfig", text), server="https://10.0.0.9:6443")
    assert config.server == "https://10.0.0.9:6443"
    assert config.ca_file == os.path.join(str(tmp_path), "sub", "..", "pki-copy", "ca.crt")


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("current-context: kubernetes-admin@lab", "current-context: nope"),
     "contexts has no entry named 'nope'"),
    (lambda t: t.replace("https://127.0.0.1:6443", "http://127.0.0.1:6443"), "is not an https:// URL"),
    (lambda t: t.split("users:")[0] + "users:\n- name: kubernetes-admin\n  user:\n    exec:\n      command: x\n",
     "authenticates with exec"),
    (lambda t: "- just\n- a list\n", "no mapping at the top"),
    (lambda t: t.replace("client-key-data: ", "client-key-data: !!"), "not base64|not a readable"),
])
def test_bad_kubeconfigs_are_named(pki, tmp_path, edit, message):
    path = write(tmp_path, "admin.conf", edit(pki.kubeconfig("https://127.0.0.1:6443")))
    with pytest.raises(kube_api.KubeconfigError, match=message) as info:
        kube_api.KubeClient(kube_api.load_kubeconfig(path))
    assert path in str(info.value)


def test_missing_kubeconfig_is_named(tmp_path):
    with pytest.raises(kube_api.KubeconfigError, match="cannot read the kubeconfig %s/admin.conf: No such file" % tmp_path):
        kube_api.load_kubeconfig(str(tmp_path / "admin.conf"))


def test_embedded_key_lives_in_a_private_file_only_while_ssl_loads_it(pki, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen = []
    real = kube_api._secret_file

    def spy(directory, name, data):
        path = real(directory, name, data)
        seen.append((stat.S_IMODE(os.stat(directory).st_mode), stat.S_IMODE(os.stat(path).st_mode)))
        return path

    monkeypatch.setattr(kube_api, "_secret_file", spy)
    with FakeAPIServer(pki, {"responses": {"/version": VERSION}}) as api:
        client = kube_api.KubeClient(kube_api.load_kubeconfig(write(tmp_path, "admin.conf", pki.kubeconfig(api.url))))
        assert client.get_json("/version")["gitVersion"] == "v1.37.2"
    assert seen == [(0o700, 0o600), (0o700, 0o600)]
    assert not list(scratch.iterdir())


def test_certificate_files_and_token(pki, tmp_path):
    with FakeAPIServer(pki, {"responses": {"/version": VERSION}}) as api:
        client = kube_api.KubeClient(kube_api.load_kubeconfig(
            write(tmp_path, "files.conf", pki.kubeconfig(api.url, embed=False))))
        assert client.get_json("/version")["major"] == "1"
        text = pki.kubeconfig(api.url, embed=False).replace(
            "    client-certificate: %s\n    client-key: %s\n" % pki.admin,
            "    client-certificate: %s\n    client-key: %s\n    token: s3cr3t-token\n" % pki.admin)
        client = kube_api.KubeClient(kube_api.load_kubeconfig(write(tmp_path, "token.conf", text)))
        client.get_json("/version")
        assert api.headers[-1]["Authorization"] == "Bearer s3cr3t-token"
        assert api.headers[0].get("Authorization") is None


def client_for(pki, tmp_path, server, **kwargs):
    return kube_api.KubeClient(kube_api.load_kubeconfig(write(tmp_path, "admin.conf", pki.kubeconfig(server, **kwargs))),
                               timeout=1)


def test_a_server_certificate_from_another_ca_is_refused(pki, tmp_path):
    with FakeAPIServer(pki, {"responses": {"/version": VERSION}}) as api:
        client = client_for(pki, tmp_path, api.url, ca=pki.foreign_ca)
        with pytest.raises(kube_api.KubeAPIError) as info:
            client.get_json("/version")
    assert info.value.kind == "tls"
    assert str(info.value).startswith("GET %s/version: the TLS certificate of %s is not trusted" % (api.url, api.url))
    assert "certificate-authority" in str(info.value)


def test_a_server_certificate_for_another_name_is_refused(pki, tmp_path):
    with FakeAPIServer(pki, {"responses": {"/version": VERSION}}, server_cert=pki.wrong_name) as api:
        with pytest.raises(kube_api.KubeAPIError, match="is not trusted.*(mismatch|match)") as info:
            client_for(pki, tmp_path, api.url).get_json("/version")
    assert info.value.kind == "tls"


def test_a_client_certificate_from_another_ca_is_refused_by_the_server(pki, tmp_path):
    with FakeAPIServer(pki, {"responses": {"/version": VERSION}}) as api:
        with pytest.raises(kube_api.KubeAPIError) as info:
            client_for(pki, tmp_path, api.url, client=pki.foreign_admin).get_json("/version")
    assert api.url in str(info.value)
    assert info.value.kind in ("tls", "connect")
    assert "PRIVATE" not in str(info.value)


def test_a_server_that_never_answers_times_out_naming_it(pki, tmp_path):
    with FakeAPIServer(pki, stall=True) as api:
        client = client_for(pki, tmp_path, api.url)
        started = time.monotonic()
        with pytest.raises(kube_api.KubeAPIError) as info:
            client.request("/readyz?verbose")
        assert time.monotonic() - started < 5
    assert info.value.kind == "timeout"
    assert str(info.value) == "GET %s/readyz?verbose: no answer from %s within 1 s" % (api.url, api.url)


def test_an_absent_server_is_named(pki, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = "https://127.0.0.1:%d" % port
    with pytest.raises(kube_api.KubeAPIError) as info:
        client_for(pki, tmp_path, url).get_json("/version")
    assert info.value.kind == "connect"
    assert str(info.value) == "GET %s/version: %s refused the connection (is kube-apiserver running?)" % (url, url)


def test_http_errors_carry_the_status_message(pki, tmp_path):
    with FakeAPIServer(pki, {"responses": {"/api/v1/nodes": UNAUTHORIZED}}) as api:
        client = client_for(pki, tmp_path, api.url)
        with pytest.raises(kube_api.KubeAPIError) as info:
            client.get_json("/api/v1/nodes")
        assert info.value.status == 401 and info.value.kind == "http"
        assert "HTTP 401: Unauthorized: the API server does not accept these credentials" in str(info.value)
        answer = client.request("/nowhere")
        assert answer.status == 404 and api.unknown == ["/nowhere"]
