# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster model for the phase playbooks; the module file holds the documentation."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase
from ansible_collections.airgap.kubernetes.plugins.plugin_utils import bundle
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.files import load_cluster
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.names import derive
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.releases import ARCHITECTURES, cluster_plan

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "archive": {"type": "path"},
    "arch": {"type": "str", "default": "amd64", "choices": ARCHITECTURES},
    "bundle": {"type": "bool", "default": True},
    "recheck": {"type": "bool", "default": False},
}


class ActionModule(ActionBase):
    """Derived names and the verified bundle of one cluster file."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        source = os.path.abspath(args["path"])
        cluster, failure = load_cluster(self._loader, source)
        if failure:
            return dict(result, failed=True, **failure)
        result.update(derive(cluster, source), changed=False)
        if not args["bundle"]:
            return result
        directory = cluster["bundle"]["path"]
        archive = args["archive"] or bundle.cluster_archive(cluster, args["arch"])
        try:
            prepared = bundle.prepare(
                archive, directory, cluster_plan(cluster, arch=args["arch"]),
                kubernetes_version=cluster["kubernetesVersion"], arch=args["arch"],
                cni_plugin=cluster["cni"]["plugin"], recheck=args["recheck"],
                public_key=cluster["bundle"]["publicKey"], allow_unsigned=cluster["bundle"]["allowUnsigned"],
                cluster_file=source)
        except (bundle.BundleError, OSError) as exc:
            return dict(result, failed=True, problems=[str(exc)], msg="cannot verify or unpack %s: %s" % (archive, exc))
        if prepared.warnings:
            result["warnings"] = result.get("warnings", []) + prepared.warnings
        if prepared.problems:
            return dict(result, failed=True, problems=prepared.problems,
                        msg="the bundle %s is refused for %s (%d problem(s)):\n%s" % (
                            archive, source, len(prepared.problems), "\n".join("  - " + p for p in prepared.problems)))
        result.update(changed=prepared.changed, bundle=bundle.facts(prepared.bom, archive, prepared.sha256,
                                                                    prepared.dir, prepared.signer))
        return result
