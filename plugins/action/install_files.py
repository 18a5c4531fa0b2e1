# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Send a host only the files it lacks; the module file holds the documentation."""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.airgap.kubernetes.plugins.plugin_utils import bundle

ARGUMENT_SPEC = {
    "files": {"type": "list", "elements": "dict", "required": True},
    "create_dirs": {"type": "bool", "default": True},
}
# What an item of files may hold: the file (src, or path as the bundle's entries name it), where
# it goes (dest, or dest_dir and the source's name) and how. An entry of the bundle
# (airgap.kubernetes.cluster_model's bundle.files.<name>, or a member of one) can be given as it is:
# its version, arch and members are not about installing and are ignored.
ITEM_KEYS = {"src", "path", "dest", "dest_dir", "sha256", "mode", "owner", "group"}
BUNDLE_ENTRY_KEYS = {"version", "arch", "members", "name", "size"}


class ActionModule(ActionBase):
    """Compare on the host by sha256 (one module call), send what differs, install it (a second call)."""

    # The temporary directory is made only when something is sent (most runs send nothing).
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        sources = {}
        wanted = []
        for number, item in enumerate(args["files"], 1):
            unknown = sorted(set(item) - ITEM_KEYS - BUNDLE_ENTRY_KEYS)
            src = item.get("src") or item.get("path")
            where = "install_files: files[%d] (%s)" % (number, src or item.get("dest") or "?")
            if unknown:
                raise AnsibleActionFail("%s: unknown key(s) %s; an item holds %s" % (
                    where, ", ".join(unknown), ", ".join(sorted(ITEM_KEYS))))
            if not src:
                raise AnsibleActionFail("%s: needs src (or path), the file on the controller" % where)
            if bool(item.get("dest")) == bool(item.get("dest_dir")):
                raise AnsibleActionFail("%s: give dest, or dest_dir (the file keeps its name)" % where)
            src = os.path.expanduser(str(src))
            if not os.path.isfile(src):
                raise AnsibleActionFail("%s: %s is not a file on the controller" % (where, src))
            dest = str(item.get("dest") or os.path.join(str(item["dest_dir"]), os.path.basename(src)))
            sha = str(item.get("sha256") or "").lower() or bundle.sha256_file(src)
            sources[dest] = src
            wanted.append({key: value for key, value in (
                ("dest", dest), ("sha256", sha), ("mode", str(item.get("mode") or "0644")),
                ("owner", item.get("owner")), ("group", item.get("group"))) if value is not None})

        module_args = {"files": wanted, "create_dirs": args["create_dirs"]}
        compared = self._execute_module(module_name="airgap.kubernetes.install_files", module_args=module_args,
                                        task_vars=task_vars)
        if compared.get("failed") or not compared.get("missing"):
            return dict(result, **compared, bytes_sent=0)
        missing = compared["missing"]
        sent = sum(os.path.getsize(sources[dest]) for dest in missing)
        if self._task.check_mode:
            return dict(result, **dict(compared, changed=True, installed=missing, missing=[]), bytes_sent=sent)

        if self._connection._shell.tmpdir is None:
            self._make_tmp_path()
        tmpdir = self._connection._shell.tmpdir
        try:
            staged = {}
            for number, dest in enumerate(missing):
                remote = self._connection._shell.join_path(tmpdir, "file-%d" % number)
                self._transfer_file(sources[dest], remote)
                staged[dest] = remote
            self._fixup_perms2([tmpdir] + list(staged.values()))
            module_args["files"] = [dict(item, src=staged[item["dest"]]) if item["dest"] in staged else item
                                    for item in wanted]
            installed = self._execute_module(module_name="airgap.kubernetes.install_files",
                                             module_args=module_args, task_vars=task_vars)
        finally:
            self._remove_tmp_path(tmpdir)
        installed["fixed"] = sorted(set(installed.get("fixed", [])) | set(compared.get("fixed", [])))
        installed["changed"] = bool(installed.get("changed") or compared.get("changed"))
        return dict(result, **installed, bytes_sent=sent)
