# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a cluster file with Ansible's data loader, shared by the action plugins that take one."""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.model import resolve
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import check, problems_message


def load_cluster(loader, path, check_files=False):
    """Read, check and resolve the cluster file at `path` with Ansible's data loader.

    Returns ``(cluster, None)``, or ``(None, failure)`` where failure holds ``msg`` (and
    ``problems``) for the action to return with ``failed=True``.
    """
    source = os.path.abspath(path)
    try:
        raw = loader.load_from_file(source, cache="none")
    except AnsibleError as exc:
        return None, {"msg": "cannot read cluster file %s: %s" % (source, exc)}
    base_dir = os.path.dirname(source)
    config, problems = check(raw, base_dir=base_dir, check_files=check_files)
    if problems:
        return None, {"problems": problems, "msg": problems_message(source, problems)}
    return resolve(config, base_dir=base_dir), None
