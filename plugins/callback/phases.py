# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: phases
type: aggregate
short_description: Time the phases of airgap.kubernetes.site
version_added: 0.1.0
description:
  - Times the phases of a playbook run and prints, at the end of each phase, one line with its
    name and seconds, and at the end of the run a table of every phase and the total.
  - A phase is a run of consecutive plays whose play variable C(airgap_phase) has the same value.
    The site playbook sets it on each import (C(vars) of C(ansible.builtin.import_playbook)
    become vars of every play in the imported playbook), so the phases are preflight, registry,
    nodes, control plane, join, add-ons, verify and summary. Plays without C(airgap_phase) are
    not timed; a playbook with none prints nothing.
  - A phase starts when its first play starts and ends when a play of another phase starts or the
    run ends (Ansible tells callbacks when a play starts, not when it ends), so the line of a phase
    shows up under the header of the next phase's first play.
  - A phase in which a host failed (a task failed and was neither ignored nor rescued by a block)
    or became unreachable is marked C(failed) with those hosts. When every host fails, Ansible
    stops the run; the failed phase is still in the table with the time it took.
  - The callback prints the table itself and keeps nothing else, no file and no variable. The
    summary play is a phase too, which only the end of the run can time, and a playbook that read
    the timings would depend on a callback that its users may not have enabled. A run without the
    callback has no phase timings and is otherwise the same.
requirements:
  - Enabled in the Ansible configuration, as every callback from a collection must be (Ansible
    loads no collection callback by itself). In C(ansible.cfg), C(callbacks_enabled =
    airgap.kubernetes.phases) in the C([defaults]) section; or the environment,
    E(ANSIBLE_CALLBACKS_ENABLED=airgap.kubernetes.phases). The environment variable replaces the
    configuration file's list, so name every callback you want in it.
notes:
  - An interrupted run (Ctrl-C) or one that stops on an error in a playbook itself, rather than a
    failed task, prints no table.
author:
  - airgap.kubernetes maintainers (@airgap)
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = airgap.kubernetes.phases

# or, for one run:
# ANSIBLE_CALLBACKS_ENABLED=airgap.kubernetes.phases ansible-playbook -i cluster.yml site.yml
#
# The end of the output of a run (after the PLAY RECAP), for example:
# PHASES ****************************************************************
# preflight          3.1 s
# registry          78.4 s
# nodes            121.9 s
# control plane     31.0 s
# join              16.2 s
# add-ons           34.7 s
# verify             5.3 s
# summary            1.2 s
# total            291.8 s
"""

import time

from ansible import constants as C
from ansible.plugins.callback import CallbackBase

PHASE_VAR = "airgap_phase"


class CallbackModule(CallbackBase):
    """Record when each airgap_phase starts and ends; print its line, then the table."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "airgap.kubernetes.phases"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.clock = time.monotonic
        # Finished phases, in order: {"name", "seconds", "failed": [host, ...]}.
        self.phases = []
        # The phase running now: {"name", "start", "failed": set of hosts}, and its latest play.
        self.current = None
        self.play = None

    def v2_playbook_on_play_start(self, play):
        self.play = play
        name = play.get_vars().get(PHASE_VAR)
        name = None if name is None else str(name)
        if self.current is not None and self.current["name"] == name:
            return  # the next play (or serial batch) of the same phase
        if self.current is not None:
            self.show_phase(self.end_phase())
        if name is not None:
            self.current = {"name": name, "start": self.clock(), "failed": set()}

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self.host_failed(result)

    def v2_runner_on_unreachable(self, result):
        self.host_failed(result)

    def host_failed(self, result):
        # Ansible takes a failed or unreachable host out of the play (play._removed_hosts, the
        # list ansible_play_hosts is computed from) before it calls the callbacks, and puts it
        # back when a block's rescue handles the failure; an ignored failure never takes it out.
        # So the host failed for good exactly when it is out of the play now.
        host = result.host.get_name()
        if self.current is not None and host in self.play._removed_hosts:
            self.current["failed"].add(host)

    def v2_playbook_on_stats(self, stats):
        if self.current is not None:
            self.end_phase()
        if self.phases:
            self._display.banner("PHASES")
            for phase in self.phases:
                self.show_row(phase["name"], phase["seconds"], phase["failed"])
            self.show_row("total", sum(phase["seconds"] for phase in self.phases), [])
        self.phases = []

    def end_phase(self):
        phase = {"name": self.current["name"], "seconds": self.clock() - self.current["start"],
                 "failed": sorted(self.current["failed"])}
        self.phases.append(phase)
        self.current = None
        return phase

    def show_phase(self, phase):
        text = "phase %s: %.1f s" % (phase["name"], phase["seconds"])
        if phase["failed"]:
            self._display.display("%s, failed: %s" % (text, ", ".join(phase["failed"])), color=C.COLOR_ERROR)
        else:
            self._display.display(text)

    def show_row(self, name, seconds, failed):
        text = "%-14s %7.1f s" % (name, seconds)
        if failed:
            self._display.display("%s  failed: %s" % (text, ", ".join(failed)), color=C.COLOR_ERROR)
        else:
            self._display.display(text)
