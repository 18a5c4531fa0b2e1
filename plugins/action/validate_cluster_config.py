# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate a cluster file on the controller; the module file holds the documentation."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.files import is_cluster_file, read_cluster_file
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.model import masked, resolve
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import (
    ClusterConfigError,
    check,
    problems_message,
)

ARGUMENT_SPEC = {
    "path": {"type": "path"},
    "config": {"type": "dict"},
    "base_dir": {"type": "path"},
    "check_files": {"type": "bool", "default": True},
}
# Inventory sources that are directories are searched this deep for cluster files.
_MAX_DIR_DEPTH = 3


def inventory_cluster_files(sources):
    """The cluster files among the inventory sources (``ansible_inventory_sources``): each file
    the cluster inventory plugin would take, whether or not it parsed, and those inside a source
    directory. Host lists ('a,b') and missing paths are not files and are skipped."""
    found = []
    for source in sources or []:
        if not isinstance(source, str) or "," in source:
            continue
        source = os.path.abspath(os.path.expanduser(source))
        if os.path.isdir(source):
            top = source.count(os.sep)
            for directory, subdirs, files in os.walk(source):
                subdirs[:] = sorted(d for d in subdirs if not d.startswith(".")
                                    and directory.count(os.sep) - top < _MAX_DIR_DEPTH)
                found.extend(os.path.join(directory, name) for name in sorted(files)
                             if not name.startswith(".") and is_cluster_file(os.path.join(directory, name)))
        elif is_cluster_file(source):
            found.append(source)
    return list(dict.fromkeys(found))


class ActionModule(ActionBase):
    """Validate cluster.yml before any host is touched."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        dummy, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            mutually_exclusive=[["path", "config"]],
        )
        result["changed"] = False
        if args["config"] is not None:
            return self._validate(result, args["config"], "the given config", args["base_dir"] or os.getcwd(),
                                  args["check_files"])
        if args["path"]:
            paths = [os.path.abspath(args["path"])]
        else:
            sources = task_vars.get("ansible_inventory_sources") or []
            paths = inventory_cluster_files(sources)
            if not paths:
                return dict(result, failed=True, problems=[], files=[], msg=(
                    "no cluster file in the inventory (%s): the airgap.kubernetes playbooks take their hosts and "
                    "settings from one; give it with -i cluster.yml (airgap.kubernetes.generate_cluster_config "
                    "writes one) or -e cluster_file=cluster.yml. The roles alone work with a plain inventory."
                    % (", ".join(str(s) for s in sources) or "none given")))
        results = [self._validate({}, None, path, args["base_dir"] if args["path"] and args["base_dir"]
                                  else os.path.dirname(path), args["check_files"]) for path in paths]
        result["files"] = paths
        result["problems"] = [p for one in results for p in one["problems"]]
        failed = [one for one in results if one.get("failed")]
        if failed:
            return dict(result, failed=True, msg="\n".join(one["msg"] for one in failed))
        if len(results) == 1:
            result["cluster"] = results[0]["cluster"]
        result["msg"] = "\n".join(one["msg"] for one in results)
        return result

    def _validate(self, result, raw, source, base_dir, check_files):
        """Check one file (raw None: read from ``source``) or one config."""
        result = dict(result, changed=False)
        if raw is None:
            try:
                raw = read_cluster_file(source)
            except ClusterConfigError as exc:
                return dict(result, failed=True, problems=exc.problems, msg=str(exc))
        config, problems = check(raw, base_dir=base_dir, check_files=check_files)
        result["problems"] = problems
        if problems:
            return dict(result, failed=True, msg=problems_message(source, problems))
        # -v prints the result: the password is masked (it may be vault-encrypted in the file).
        return dict(result, cluster=masked(resolve(config, base_dir=base_dir)),
                    msg="%s is a valid cluster file" % source)
