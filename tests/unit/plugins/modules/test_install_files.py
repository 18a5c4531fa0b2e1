# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""install_files: the host side compares by sha256 and installs only content it was sent and that
hashes right; the action plugin (through ansible-playbook on localhost) sends only what the host
lacks, and repairs a deleted or changed file."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.airgap.kubernetes.plugins.modules import install_files

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(REPO, "tests"))
import collection  # noqa: E402  pylint: disable=wrong-import-position


def sha(data):
    return hashlib.sha256(data).hexdigest()


def run(capsys, files, check_mode=False):
    args = {"files": files}
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args), pytest.raises(SystemExit):
        install_files.main()
    return json.loads(capsys.readouterr().out)


def test_content_is_compared_by_sha256_and_only_sent_content_is_installed(tmp_path, capsys):
    dest = tmp_path / "bin" / "tool"
    item = {"dest": str(dest), "sha256": sha(b"v2"), "mode": "0755"}
    # Nothing there and nothing sent: the host says what it lacks and changes nothing.
    result = run(capsys, [item])
    assert (result["missing"], result["changed"]) == ([str(dest)], False) and not dest.exists()
    staged = tmp_path / "staged"
    staged.write_bytes(b"v2")
    result = run(capsys, [dict(item, src=str(staged))])
    assert result["installed"] == [str(dest)] and result["changed"]
    assert dest.read_bytes() == b"v2" and oct(dest.stat().st_mode & 0o777) == "0o755" and not staged.exists()
    # The same content again: nothing to do.
    result = run(capsys, [item])
    assert (result["changed"], result["installed"], result["fixed"], result["missing"]) == (False, [], [], [])
    # Only the mode drifted: fixed in place, in check mode only reported.
    dest.chmod(0o600)
    assert run(capsys, [item], check_mode=True)["fixed"] == [str(dest)]
    assert oct(dest.stat().st_mode & 0o777) == "0o600"
    assert run(capsys, [item])["fixed"] == [str(dest)] and oct(dest.stat().st_mode & 0o777) == "0o755"


def test_a_file_sent_with_other_content_is_refused_and_the_destination_kept(tmp_path, capsys):
    dest = tmp_path / "tool"
    dest.write_bytes(b"v1")
    staged = tmp_path / "staged"
    staged.write_bytes(b"tampered")
    result = run(capsys, [{"dest": str(dest), "sha256": sha(b"v2"), "src": str(staged)}])
    assert result["failed"] and "does not have sha256 %s" % sha(b"v2") in result["msg"]
    assert dest.read_bytes() == b"v1" and sorted(os.listdir(tmp_path)) == ["staged", "tool"]


@pytest.mark.parametrize("item, message", [
    ({"dest": "relative/tool", "sha256": "0" * 64}, "relative/tool: dest must be an absolute path"),
    ({"dest": "/x/tool", "sha256": "abc"}, "/x/tool: sha256 'abc' is not 64 hex digits"),
    ({"dest": "/x/tool", "sha256": "0" * 64, "mode": "rwx"}, "/x/tool: mode 'rwx' is not an octal mode"),
])
def test_bad_items_are_refused_naming_them(capsys, item, message):
    result = run(capsys, [item])
    assert result["failed"] and message in result["msg"]


def test_a_directory_in_the_way_is_refused(tmp_path, capsys):
    (tmp_path / "tool").mkdir()
    result = run(capsys, [{"dest": str(tmp_path / "tool"), "sha256": "0" * 64}])
    assert result["failed"] and "is not a regular file" in result["msg"]


def playbook(tmp_path, files, *extra):
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Install", "airgap.kubernetes.install_files": {"files": files}, "register": "result"},
        {"name": "Show", "ansible.builtin.debug": {"var": "result"}}]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection.collections_path(), ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable, str(play)] + list(extra),
                          capture_output=True, text=True, env=env, check=False, timeout=300)
    report = json.loads(proc.stdout[proc.stdout.index("{"):])
    return report["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_the_action_sends_only_what_the_host_lacks_and_repairs_drift(tmp_path):
    src = tmp_path / "controller"
    src.mkdir()
    (src / "a").write_bytes(b"aaaa")
    (src / "b").write_bytes(b"bb")
    host = tmp_path / "host"
    files = [{"src": str(src / "a"), "dest": str(host / "bin" / "a"), "mode": "0755"},
             # A bundle entry as cluster_model returns it: path, sha256 and keys the install ignores.
             {"path": str(src / "b"), "sha256": sha(b"bb"), "version": "v1", "members": {}, "dest_dir": str(host / "lib")}]
    first = playbook(tmp_path, files)
    assert first["changed"] and first["bytes_sent"] == 6
    assert sorted(first["installed"]) == [str(host / "bin" / "a"), str(host / "lib" / "b")]
    assert playbook(tmp_path, files)["changed"] is False
    (host / "lib" / "b").unlink()
    check = playbook(tmp_path, files, "--check")
    assert (check["changed"], check["installed"], check["bytes_sent"]) == (True, [str(host / "lib" / "b")], 2)
    assert not (host / "lib" / "b").exists()
    repaired = playbook(tmp_path, files)
    assert (repaired["installed"], repaired["bytes_sent"]) == ([str(host / "lib" / "b")], 2)
    assert (host / "lib" / "b").read_bytes() == b"bb"


def test_the_action_names_an_unknown_key_and_a_missing_source(tmp_path):
    result = playbook(tmp_path, [{"src": "/nonexistent", "dest": "/x"}])
    assert result["failed"] and "/nonexistent is not a file on the controller" in result["msg"]
    (tmp_path / "a").write_bytes(b"a")
    result = playbook(tmp_path, [{"src": str(tmp_path / "a"), "dest": "/x", "mdoe": "0755"}])
    assert result["failed"] and "unknown key(s) mdoe" in result["msg"]
