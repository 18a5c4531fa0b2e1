# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm_token against a stand-in kubeadm that answers in the format recorded on the lab
cluster (fixtures/kubeadm_token/): reuse, create, delete, check mode, the CA hash, failures."""

from __future__ import annotations

import datetime
import json
import os
import stat
import sys

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.airgap.kubernetes.plugins.module_utils import kubeadm as ku
from ansible_collections.airgap.kubernetes.plugins.modules import kubeadm_token

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "kubeadm_token")

# A kubeadm that keeps its tokens in a JSON file and prints `token list -o json` the way the
# real one does (one indented object per token, as recorded in token-list.json).
FAKE_KUBEADM = r'''#!PYTHON
import json, os, sys, datetime
state = os.environ["FAKE_KUBEADM_STATE"]
args = sys.argv[1:]
if args[:2] == ["--kubeconfig", args[1]]:
    args = args[2:]
tokens = json.load(open(state))
with open(state + ".log", "a") as log:
    log.write(" ".join(args) + "\n")
if os.environ.get("FAKE_KUBEADM_FAIL"):
    sys.stderr.write("failed to load admin kubeconfig: open /etc/kubernetes/admin.conf: no such file or directory\n")
    sys.exit(1)
if args[:2] == ["token", "list"]:
    for t in tokens:
        print(json.dumps(t, indent=4))
elif args[:2] == ["token", "create"]:
    rest = args[2:]
    token = rest.pop(0) if rest and not rest[0].startswith("--") else "abcdef.%016d" % len(tokens)
    opts = dict(zip(rest[::2], rest[1::2]))
    minutes = int(opts.get("--ttl", "24h").rstrip("m")) if opts.get("--ttl", "").endswith("m") else 1440
    expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = {"kind": "BootstrapToken", "apiVersion": "output.kubeadm.k8s.io/v1alpha3", "token": token,
             "expires": expires, "usages": ["authentication", "signing"],
             "groups": ["system:bootstrappers:kubeadm:default-node-token"]}
    if opts.get("--description"):
        entry["description"] = opts["--description"]
    tokens.append(entry)
    print(token)
elif args[:2] == ["token", "delete"]:
    ids = args[2:]
    tokens = [t for t in tokens if t["token"].split(".")[0] not in ids]
    for i in ids:
        print("bootstrap token %r deleted" % i)
else:
    sys.exit("unexpected arguments: %r" % args)
json.dump(tokens, open(state, "w"))
'''


@pytest.fixture(name="kubeadm")
def fixture_kubeadm(tmp_path, monkeypatch):
    """Path of the stand-in kubeadm; its tokens start as the recorded list."""
    with open(os.path.join(FIXTURES, "token-list.json"), encoding="utf-8") as handle:
        recorded = ku.parse_token_list(handle.read())
    state = tmp_path / "tokens.json"
    state.write_text(json.dumps(recorded))
    path = tmp_path / "kubeadm"
    path.write_text(FAKE_KUBEADM.replace("PYTHON", sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("FAKE_KUBEADM_STATE", str(state))
    return str(path)


def run(capsys, args, check_mode=False):
    args = dict(args, ca_cert=os.path.join(FIXTURES, "ca.crt"))
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args), pytest.raises(SystemExit):
        kubeadm_token.main()
    return json.loads(capsys.readouterr().out)


def calls(kubeadm):
    with open(os.environ["FAKE_KUBEADM_STATE"] + ".log", encoding="utf-8") as handle:
        return [line.split() for line in handle.read().splitlines()]


def test_ca_cert_hash_matches_kubeadm():
    with open(os.path.join(FIXTURES, "ca.crt"), encoding="ascii") as handle:
        pem = handle.read()
    with open(os.path.join(FIXTURES, "ca.hash"), encoding="ascii") as handle:
        assert ku.ca_cert_hash(pem) == handle.read().strip()


def test_parse_recorded_token_list():
    with open(os.path.join(FIXTURES, "token-list.json"), encoding="utf-8") as handle:
        tokens = ku.parse_token_list(handle.read())
    assert [t.get("description") for t in tokens] == [None, "probe"]
    assert all(ku.TOKEN_RE.match(t["token"]) for t in tokens)


def test_bad_certificate_is_named():
    with pytest.raises(ku.KubeadmError):
        ku.ca_cert_hash("no certificate here")
    with pytest.raises(ku.KubeadmError):
        ku.ca_cert_hash("-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n")


def test_create_then_reuse_then_delete(kubeadm, capsys):
    args = {"kubeadm": kubeadm, "ttl": "15m", "description": "airgap.kubernetes join"}
    first = run(capsys, args)
    assert first["changed"] and ku.TOKEN_RE.match(first["token"])
    assert first["ca_cert_hashes"] == ["sha256:1192e8c199c5743ead295f6085e0205cf03b5fc8600a77638e97151ea570e04a"]
    assert all("." not in t["token_id"] for t in first["tokens"])  # secrets are not listed

    second = run(capsys, args)
    assert not second["changed"] and second["token"] == first["token"]

    # A token with less than min_ttl left is not reused.
    third = run(capsys, dict(args, min_ttl=3600))
    assert third["changed"] and third["token"] != first["token"]

    gone = run(capsys, {"kubeadm": kubeadm, "state": "absent", "description": "airgap.kubernetes join"})
    assert gone["changed"] and sorted(gone["deleted"]) == sorted([first["token_id"], third["token_id"]])
    assert not [t for t in gone["tokens"] if t["description"] == "airgap.kubernetes join"]
    again = run(capsys, {"kubeadm": kubeadm, "state": "absent", "description": "airgap.kubernetes join"})
    assert not again["changed"] and again["deleted"] == []


def test_expired_recorded_token_is_not_reused(kubeadm, capsys):
    # The recorded "probe" token expired on 2026-11-25; asking for it makes a new one.
    result = run(capsys, {"kubeadm": kubeadm, "description": "probe"})
    assert result["changed"]
    assert result["token"] != "gj3e2e.86qqdxb9ficf0fl0"


def test_check_mode_changes_nothing(kubeadm, capsys):
    result = run(capsys, {"kubeadm": kubeadm, "description": "new"}, check_mode=True)
    assert result["changed"] and "token" not in result
    assert not [c for c in calls(kubeadm) if c[:2] != ["token", "list"]]
    removed = run(capsys, {"kubeadm": kubeadm, "state": "absent", "description": "probe"}, check_mode=True)
    assert removed["changed"] and removed["deleted"] == ["gj3e2e"]
    assert not [c for c in calls(kubeadm) if c[:2] != ["token", "list"]]


def test_specific_token(kubeadm, capsys):
    token = "zzzzzz.0123456789abcdef"
    created = run(capsys, {"kubeadm": kubeadm, "token": token})
    # A token given as the (no_log) parameter is masked wherever it would be returned.
    assert created["changed"] and created["token_id"] == "zzzzzz" and token not in json.dumps(created)
    again = run(capsys, {"kubeadm": kubeadm, "token": token})
    assert again["changed"] is False, again


def test_bad_token_value_is_refused_without_echo(kubeadm, capsys):
    result = run(capsys, {"kubeadm": kubeadm, "token": "not-a-token-secret"})
    assert result["failed"] and "not-a-token-secret" not in result["msg"]


def test_kubeadm_failure_is_reported(kubeadm, capsys, monkeypatch):
    monkeypatch.setenv("FAKE_KUBEADM_FAIL", "1")
    result = run(capsys, {"kubeadm": kubeadm})
    assert result["failed"] and "kubeadm token list failed" in result["msg"]
    assert "admin.conf" in result["msg"]


def test_recorded_expiry_parses():
    assert kubeadm_token._expires({"expires": "2026-11-26T21:22:35Z"}) == datetime.datetime(
        2026, 11, 26, 21, 22, 35, tzinfo=datetime.timezone.utc)
