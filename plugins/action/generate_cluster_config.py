# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a commented starter cluster file on the controller; the module file holds the docs."""

from __future__ import annotations

import os
import tempfile

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.generate import StarterError, starter_config
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.render import render_yaml
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import check, problems_message

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "dest": {"type": "path", "required": True},
    "hosts": {"type": "list", "elements": "raw", "default": []},
    "hosts_file": {"type": "path"},
    "ssh_user": {"type": "str"},
    "ssh_port": {"type": "int"},
    "ssh_key_file": {"type": "path"},
    "ssh_common_args": {"type": "str"},
    "kubernetes_version": {"type": "str"},
    "fail_cgroup_v1": {"type": "bool"},
    "sample_app": {"type": "bool"},
    "settings": {"type": "dict", "default": {}},
    "check_files": {"type": "bool", "default": True},
    "force": {"type": "bool", "default": False},
}

HEADER = [
    "Cluster file for airgap.kubernetes, written by airgap.kubernetes.generate_cluster_config.",
    "It is the inventory and the whole configuration: ansible-playbook -i THIS_FILE "
    "airgap.kubernetes.site. Every field is described in docs/cluster-config.md; fields left "
    "out take their defaults.",
]


class ActionModule(ActionBase):
    """Generate a starter cluster.yml, validated before it is written."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        dest = os.path.abspath(args["dest"])
        hosts = list(args["hosts"])
        if args["hosts_file"]:
            try:
                rows = self._loader.load_from_file(args["hosts_file"], cache="none")
            except AnsibleError as exc:
                return dict(result, failed=True, msg="cannot read hosts_file: %s" % exc)
            if not isinstance(rows, list):
                return dict(result, failed=True,
                            msg="hosts_file %s must hold a list of hosts" % args["hosts_file"])
            hosts.extend(rows)
        try:
            raw = starter_config(
                args["name"], hosts, ssh_user=args["ssh_user"], ssh_port=args["ssh_port"],
                ssh_key_file=args["ssh_key_file"], ssh_common_args=args["ssh_common_args"],
                kubernetes_version=args["kubernetes_version"],
                fail_cgroup_v1=args["fail_cgroup_v1"], sample_app=args["sample_app"],
                settings=args["settings"])
        except StarterError as exc:
            return dict(result, failed=True, msg=str(exc))
        config, problems = check(raw, base_dir=os.path.dirname(dest), check_files=args["check_files"])
        if problems:
            return dict(result, failed=True, problems=problems,
                        msg=problems_message("the generated config", problems))
        content = render_yaml(config, header=HEADER)
        before = None
        if os.path.exists(dest):
            with open(dest, encoding="utf-8") as handle:
                before = handle.read()
        result.update(dest=dest, changed=before != content)
        if before is not None and before != content and not args["force"]:
            return dict(result, failed=True, changed=False,
                        msg="%s exists and differs; set force=true to overwrite it" % dest)
        if self._task.diff and result["changed"]:
            result["diff"] = {"before": before or "", "after": content,
                              "before_header": dest, "after_header": dest}
        if result["changed"] and not self._task.check_mode:
            directory = os.path.dirname(dest)
            os.makedirs(directory, exist_ok=True)
            handle, temp = tempfile.mkstemp(prefix=".cluster-", suffix=".yml", dir=directory)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(content)
                os.chmod(temp, 0o600)
                os.replace(temp, dest)
            finally:
                if os.path.exists(temp):
                    os.unlink(temp)
        result["msg"] = "%s %s" % ("wrote" if result["changed"] else "unchanged", dest)
        return result
