# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verify a cluster's bundle on the controller (the preflight); the module file holds the
documentation."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase
from ansible_collections.airgap.kubernetes.plugins.plugin_utils import bundle
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.files import load_cluster
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.releases import (
    ARCHITECTURES,
    cluster_plan,
)

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "archive": {"type": "path"},
    "arch": {"type": "str", "default": "amd64", "choices": ARCHITECTURES},
}


class ActionModule(ActionBase):
    """The bundle is intact and holds everything the cluster file asks for."""

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
        archive = args["archive"] or bundle.cluster_archive(cluster, args["arch"])
        plan = cluster_plan(cluster, arch=args["arch"])
        try:
            verified = bundle.verify(archive, plan, kubernetes_version=cluster["kubernetesVersion"], arch=args["arch"],
                                     cni_plugin=cluster["cni"]["plugin"], public_key=cluster["bundle"]["publicKey"],
                                     allow_unsigned=cluster["bundle"]["allowUnsigned"], cluster_file=source)
        except bundle.BundleError as exc:  # ssh-keygen missing
            return dict(result, failed=True, archive=archive, problems=[str(exc)], msg=str(exc))
        bom, problems = verified.bom, verified.problems
        result.update(changed=False, archive=archive, problems=problems, signed_by=verified.signer)
        if verified.warnings:
            result["warnings"] = result.get("warnings", []) + verified.warnings
        if problems:
            result.update(failed=True, msg="the bundle %s is refused for %s (%d problem(s)):\n%s" % (
                archive, source, len(problems), "\n".join("  - " + p for p in problems)))
            return result
        result.update(bom=bom, msg="%s: %s; %d files, %d images and %d OS packages verified, everything %s asks "
                      "for is there" % (archive, "signed by %s" % verified.signer if verified.signer else "NOT SIGNED",
                                        len(bom["files"]), len(bom["images"]), len(bom.get("packages", [])), source))
        return result
