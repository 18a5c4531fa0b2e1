# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate a cluster file on the controller; the module file holds the documentation."""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.model import resolve
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import check, problems_message

ARGUMENT_SPEC = {
    "path": {"type": "path"},
    "config": {"type": "dict"},
    "base_dir": {"type": "path"},
    "check_files": {"type": "bool", "default": True},
}


class ActionModule(ActionBase):
    """Validate cluster.yml before any host is touched."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            mutually_exclusive=[["path", "config"]],
            required_one_of=[["path", "config"]],
        )
        source = "the given config"
        if args["path"]:
            source = os.path.abspath(args["path"])
            try:
                raw = self._loader.load_from_file(source, cache="none")
            except AnsibleError as exc:
                return dict(result, failed=True, msg="cannot read cluster file %s: %s" % (source, exc))
            base_dir = args["base_dir"] or os.path.dirname(source)
        else:
            raw = args["config"]
            base_dir = args["base_dir"] or os.getcwd()
        config, problems = check(raw, base_dir=base_dir, check_files=args["check_files"])
        result.update(changed=False, problems=problems)
        if problems:
            result.update(failed=True, msg=problems_message(source, problems))
            return result
        result.update(cluster=resolve(config, base_dir=base_dir),
                      msg="%s is a valid cluster file" % source)
        return result
