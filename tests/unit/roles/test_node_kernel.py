# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node role's kernel tasks (builtin modules only) on this machine, with stand-ins for sysctl
and modprobe first in PATH: nothing of the machine's kernel is read or changed except what
stat sees under tmp_path, and the files go to tmp_path."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys

import pytest

FAKE_SYSCTL = r'''#!/usr/bin/env python3
import json, os, sys
state_file = os.environ["FAKE_KERNEL_STATE"]
with open(state_file) as handle:
    state = json.load(handle)
args = sys.argv[1:]
if args[:1] == ["--ignore"]:
    for key in args[1:]:
        if key in state["sysctl"]:
            print("%s = %s" % (key, state["sysctl"][key]))
elif args[:1] == ["--write"]:
    for assignment in args[1:]:
        key, value = assignment.split("=", 1)
        if key not in state["sysctl"]:
            sys.exit("sysctl: cannot stat /proc/sys/%s: No such file or directory" % key.replace(".", "/"))
        state["sysctl"][key] = value
        state["written"].append(assignment)
else:
    sys.exit("unexpected arguments %r" % args)
with open(state_file, "w") as handle:
    json.dump(state, handle)
'''

FAKE_MODPROBE = r'''#!/usr/bin/env python3
import json, os, sys
state_file = os.environ["FAKE_KERNEL_STATE"]
with open(state_file) as handle:
    state = json.load(handle)
state["modprobe"].append(sys.argv[1:])
open(state["evidence"][sys.argv[1]], "w").close()
with open(state_file, "w") as handle:
    json.dump(state, handle)
'''

PLAY = """\
- name: Run the node role's kernel tasks
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Include the kernel tasks
      ansible.builtin.include_role:
        name: airgap.kubernetes.node
        tasks_from: kernel
"""

# Module names no kernel has: /sys/module/<name> never exists, so only the evidence paths under
# tmp_path decide what is present.
BUILTIN, LOADABLE = "airgap_test_builtin", "airgap_test_loadable"


@pytest.fixture(name="kernel")
def fixture_kernel(tmp_path, ansible_env):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in (("sysctl", FAKE_SYSCTL), ("modprobe", FAKE_MODPROBE)):
        (bindir / name).write_text(text)
        (bindir / name).chmod(0o755)
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "builtin-evidence").write_text("")
    state = {"sysctl": {"net.ipv4.ip_forward": "0", "net.ipv4.ip_local_port_range": "32768\t60999"},
             "written": [], "modprobe": [],
             "evidence": {BUILTIN: str(tmp_path / "builtin-evidence"), LOADABLE: str(tmp_path / "loaded")}}
    state_file = tmp_path / "kernel.json"
    state_file.write_text(json.dumps(state))
    env = dict(ansible_env, FAKE_KERNEL_STATE=str(state_file), PATH=str(bindir) + os.pathsep + ansible_env["PATH"])
    settings = {
        "ansible_python_interpreter": sys.executable,
        "node_disable_swap": False,
        "node_kernel_modules": [BUILTIN, LOADABLE],
        "node_sysctls": {"net.ipv4.ip_forward": 1, "net.ipv4.ip_local_port_range": "32768 60999"},
        "__node_module_evidence": state["evidence"],
        "__node_sysctl_file": str(tmp_path / "sysctl.conf"),
        "__node_modules_file": str(tmp_path / "modules.conf"),
    }

    class Kernel:
        path = tmp_path

        @staticmethod
        def run(check=False):
            command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                       "play.yml", "-e", json.dumps(settings)] + (["--check"] if check else [])
            result = subprocess.run(command, env=env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, check=False, timeout=300)
            assert result.returncode == 0, result.stdout
            return int(re.search(r"localhost\s+: ok=\d+\s+changed=(\d+)", result.stdout).group(1)), result.stdout

        @staticmethod
        def state():
            return json.loads(state_file.read_text())

        @staticmethod
        def set_sysctl(key, value):
            current = json.loads(state_file.read_text())
            current["sysctl"][key] = value
            current["written"] = []
            state_file.write_text(json.dumps(current))

    return Kernel


def test_kernel_tasks_check_mode_first_run_rerun_and_drift(kernel):
    """One sequence (each ansible-playbook run takes seconds): check mode on a fresh host, the
    first run, a second run, a drifted value seen by check mode, then repaired."""
    changed, out = kernel.run(check=True)
    assert changed == 2, out  # the two files; modprobe and sysctl --write are skipped
    assert not (kernel.path / "sysctl.conf").exists() and not (kernel.path / "modules.conf").exists()
    assert kernel.state()["written"] == [] and kernel.state()["modprobe"] == []

    changed, out = kernel.run()
    state = kernel.state()
    assert state["modprobe"] == [[LOADABLE]], out
    # The port range is the same value in other whitespace: only ip_forward is written.
    assert state["written"] == ["net.ipv4.ip_forward=1"], out
    assert changed == 4, out  # modules-load.d file, modprobe, sysctl.d file, sysctl --write
    modules = (kernel.path / "modules.conf").read_text()
    assert LOADABLE in modules and BUILTIN not in modules
    lines = [line for line in (kernel.path / "sysctl.conf").read_text().splitlines() if not line.startswith("#")]
    assert lines == ["net.ipv4.ip_forward = 1", "net.ipv4.ip_local_port_range = 32768 60999"]
    assert stat.S_IMODE(os.stat(str(kernel.path / "sysctl.conf")).st_mode) == 0o644

    changed, out = kernel.run()
    assert changed == 0, out
    assert kernel.state()["modprobe"] == [[LOADABLE]] and kernel.state()["written"] == ["net.ipv4.ip_forward=1"]

    kernel.set_sysctl("net.ipv4.ip_forward", "0")
    changed, out = kernel.run(check=True)
    assert changed == 0 and kernel.state()["written"] == [], out
    assert re.search(r"Set the sysctls whose live value differs\] \*+\nskipping: \[localhost\]", out), out
    changed, out = kernel.run()
    assert changed == 1, out
    assert kernel.state()["written"] == ["net.ipv4.ip_forward=1"]
