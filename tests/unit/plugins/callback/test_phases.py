# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phases callback: driven with stand-in plays and a clock, then in a real ansible-playbook run."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import yaml

from ansible import constants as C
from ansible_collections.airgap.kubernetes.plugins.callback.phases import CallbackModule

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))


class Play:
    """What the callback reads of a play: its vars, and the hosts Ansible took out of it."""

    def __init__(self, phase=None):
        self.vars = {} if phase is None else {"airgap_phase": phase}
        self._removed_hosts = []

    def get_vars(self):
        return dict(self.vars)


class Host:
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


class Result:
    def __init__(self, host):
        self.host = Host(host)


class Display:
    def __init__(self):
        self.lines = []

    def display(self, msg, color=None):
        self.lines.append((msg, color))

    def banner(self, msg):
        self.lines.append(("== %s" % msg, None))

    @property
    def verbosity(self):
        return 0


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def make_callback():
    callback = CallbackModule(display=Display())
    callback.clock = Clock()
    return callback


def printed(callback):
    return [msg for msg, _color in callback._display.lines]


def test_each_phase_has_a_line_when_the_next_starts_and_a_row_at_the_end():
    callback = make_callback()
    callback.v2_playbook_on_play_start(Play("preflight"))
    callback.clock.now += 3.04
    callback.v2_playbook_on_play_start(Play("registry"))
    callback.clock.now += 10
    callback.v2_playbook_on_play_start(Play("registry"))  # a second play of the same phase
    callback.clock.now += 70.5
    callback.v2_playbook_on_play_start(Play("control plane"))
    callback.clock.now += 31
    assert printed(callback) == ["phase preflight: 3.0 s", "phase registry: 80.5 s"]
    callback.v2_playbook_on_stats(stats=None)
    assert printed(callback)[2:] == [
        "== PHASES",
        "preflight          3.0 s",
        "registry          80.5 s",
        "control plane     31.0 s",
        "total            114.5 s",
    ]


def test_a_failed_phase_keeps_its_time_and_names_its_hosts():
    callback = make_callback()
    callback.v2_playbook_on_play_start(Play("nodes"))
    play = Play("nodes")
    callback.v2_playbook_on_play_start(play)
    callback.clock.now += 12.3
    play._removed_hosts.extend(["w2", "w1"])  # as Ansible does before it calls the callbacks
    callback.v2_runner_on_failed(Result("w2"))
    callback.v2_runner_on_unreachable(Result("w1"))
    callback.v2_playbook_on_stats(stats=None)  # every host failed: Ansible stops the run here
    assert callback._display.lines[-2:] == [("nodes             12.3 s  failed: w1, w2", C.COLOR_ERROR),
                                            ("total             12.3 s", None)]


def test_ignored_and_rescued_failures_do_not_fail_the_phase():
    callback = make_callback()
    play = Play("join")
    callback.v2_playbook_on_play_start(play)
    callback.v2_runner_on_failed(Result("w1"), ignore_errors=True)  # w1 stays in the play
    callback.v2_runner_on_failed(Result("w2"))  # rescued: Ansible put w2 back already
    callback.clock.now += 1
    callback.v2_playbook_on_play_start(Play("add-ons"))
    assert callback._display.lines == [("phase join: 1.0 s", None)]


def test_plays_without_a_phase_are_not_timed():
    callback = make_callback()
    callback.v2_playbook_on_play_start(Play())
    callback.v2_runner_on_failed(Result("h1"))
    callback.v2_playbook_on_stats(stats=None)
    assert not callback._display.lines
    callback.v2_playbook_on_play_start(Play("verify"))
    callback.clock.now += 2
    callback.v2_playbook_on_play_start(Play())  # a play of no phase ends the phase
    callback.clock.now += 50
    callback.v2_playbook_on_stats(stats=None)
    assert printed(callback) == ["phase verify: 2.0 s", "== PHASES", "verify             2.0 s",
                                 "total              2.0 s"]


def test_site_playbook_is_the_list_of_phases():
    with open(os.path.join(REPO, "playbooks", "site.yml"), encoding="utf-8") as stream:
        site = yaml.safe_load(stream)
    assert [entry["vars"]["airgap_phase"] for entry in site] == [
        "preflight", "registry", "nodes", "control plane", "join", "add-ons", "verify", "summary"]
    assert all(set(entry) == {"name", "ansible.builtin.import_playbook", "vars"} for entry in site)


# Import vars win over a play's own vars, so each phase is an import, as in playbooks/site.yml.
PLAYBOOKS = {
    "site.yml": """
- name: The first phase
  ansible.builtin.import_playbook: first.yml
  vars:
    airgap_phase: first
- name: The second phase
  ansible.builtin.import_playbook: second.yml
  vars:
    airgap_phase: second
- name: No phase
  ansible.builtin.import_playbook: none.yml
- name: The third phase
  ansible.builtin.import_playbook: third.yml
  vars:
    airgap_phase: third
""",
    "first.yml": """
- name: First play of the first phase
  hosts: all
  gather_facts: false
  tasks:
    - name: Take some time
      ansible.builtin.pause:
        seconds: 1
- name: Second play of the first phase
  hosts: all
  gather_facts: false
  tasks:
    - name: Fail on b only
      ansible.builtin.fail:
        msg: b fails
      when: inventory_hostname == 'b'
""",
    "second.yml": """
- name: A play whose failures are rescued or ignored
  hosts: all
  gather_facts: false
  tasks:
    - name: Fail and rescue
      block:
        - name: Fail
          ansible.builtin.fail:
            msg: rescued
      rescue:
        - name: Rescue
          ansible.builtin.debug:
            msg: rescued
    - name: Fail and ignore
      ansible.builtin.fail:
        msg: ignored
      ignore_errors: true
""",
    "none.yml": """
- name: A play of no phase
  hosts: all
  gather_facts: false
  tasks:
    - name: Say hello
      ansible.builtin.debug:
        msg: hello
""",
    "third.yml": """
- name: A play whose host is unreachable
  hosts: all
  gather_facts: false
  tasks:
    - name: Reach an address nothing listens on
      ansible.builtin.ping:
      vars:
        ansible_connection: ssh
        ansible_host: 127.0.0.1
        ansible_port: 1
""",
}


def run_playbook(ansible_env, tmp_path, enabled):
    for name, text in PLAYBOOKS.items():
        (tmp_path / name).write_text(text)
    env = dict(ansible_env)
    if enabled:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "airgap.kubernetes.phases"
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "a,b,", "-c", "local",
               "-e", "ansible_python_interpreter=%s" % sys.executable, "site.yml"]
    return subprocess.run(command, env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False, timeout=300)


def test_a_real_run_prints_the_phases(ansible_env, tmp_path):
    run = run_playbook(ansible_env, tmp_path, enabled=True)
    assert run.returncode == 4, run.stdout  # a host unreachable
    table = run.stdout.split("PHASES *")[-1].strip().splitlines()[1:]
    assert [re.sub(r"[0-9]+\.[0-9] s", "N s", line) for line in table] == [
        "first              N s  failed: b",
        "second             N s",
        "third              N s  failed: a",
        "total              N s",
    ], run.stdout
    first = float(table[0].split()[1])
    assert 1.0 <= first < 60, run.stdout  # the pause is in it
    assert re.search(r"^phase first: [0-9.]+ s, failed: b$", run.stdout, re.M), run.stdout
    assert re.search(r"^phase second: [0-9.]+ s$", run.stdout, re.M), run.stdout


def test_without_the_callback_the_playbook_runs_the_same(ansible_env, tmp_path):
    run = run_playbook(ansible_env, tmp_path, enabled=False)
    assert run.returncode == 4, run.stdout
    assert "PHASES" not in run.stdout and "phase first" not in run.stdout
