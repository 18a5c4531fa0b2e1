# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the offline bundle of a cluster file on the controller; the module file holds the
documentation."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.airgap.kubernetes.plugins.plugin_utils import bundle
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.files import load_cluster
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.releases import (
    ARCHITECTURES,
    cluster_plan,
)

display = Display()

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "dest": {"type": "path"},
    "cache": {"type": "path"},
    "arch": {"type": "str", "default": "amd64", "choices": ARCHITECTURES},
    "include_cni": {"type": "bool", "default": True},
    "pins": {"type": "dict", "default": {}},
    "pins_from": {"type": "path"},
    "compression": {"type": "str", "default": "none", "choices": ["none", "gzip"]},
    "ca_file": {"type": "path"},
    "registry_auth": {"type": "dict", "default": {}, "no_log": True},
    "refresh": {"type": "bool", "default": False},
    "force": {"type": "bool", "default": False},
    "signing_key": {"type": "path"},
}


def default_cache():
    """The controller's download cache, shared by every cluster (blobs are content-addressed),
    outside the bundle directory that is carried across the gap."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "airgap.kubernetes", "bundle")


class ActionModule(ActionBase):
    """Download, verify and pack everything one cluster needs."""

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
        plan = cluster_plan(cluster, arch=args["arch"], include_cni=args["include_cni"])
        if plan["missing_cni"]:
            return dict(result, failed=True, msg=(
                "%s asks for the CNI plugin %s, and the collection has no rows for it with "
                "Kubernetes %s yet (plugins/plugin_utils/releases.py). Build with include_cni=false "
                "for a bundle without a CNI; the preflight refuses that bundle for this cluster."
                % (source, plan["missing_cni"], cluster["kubernetesVersion"])))
        dest = args["dest"] or cluster["bundle"]["path"]
        public_key, allow_unsigned = cluster["bundle"]["publicKey"], cluster["bundle"]["allowUnsigned"]
        if not args["signing_key"] and public_key and not allow_unsigned:
            return dict(result, failed=True, msg=(
                "%s sets bundle.publicKey (%s), so the air-gapped side refuses an unsigned bundle: give the "
                "private key to sign it with, signing_key (-e bundle_signing_key=KEY with the "
                "airgap.kubernetes.bundle playbook)" % (source, public_key)))
        if self._task.check_mode:
            try:  # a key that cannot sign, or that the air-gapped side would not trust, shows now
                signer = bundle.signing_fingerprint(args["signing_key"], public_key) if args["signing_key"] else None
            except bundle.BundleError as exc:
                return dict(result, failed=True, msg="bundle of %s: %s" % (source, exc))
            return dict(result, changed=True, dest=dest, plan=plan, signed_by=signer,
                        msg="would build the bundle of %s in %s, %s" % (
                            source, dest, "signed by %s" % signer if signer else "NOT SIGNED"))
        try:
            built = bundle.build(
                plan, dest, cluster["name"], cluster["kubernetesVersion"], cache=args["cache"] or default_cache(),
                arch=args["arch"], pins=args["pins"], pins_from=args["pins_from"],
                compression=args["compression"], force=args["force"], ca_file=args["ca_file"],
                registry_auth=args["registry_auth"], refresh=args["refresh"], log=display.vvv,
                signing_key=args["signing_key"], public_key=public_key)
        except (bundle.BundleError, OSError, ValueError) as exc:
            return dict(result, failed=True, msg="bundle of %s: %s" % (source, exc))
        result.update(
            changed=built["changed"], archive=built["archive"], sha256=built["sha256"],
            bom_path=built["bom_path"], sha256_path=built["sha256_path"], size=built["size"],
            file_count=built["file_count"], image_count=built["image_count"],
            blob_count=built["blob_count"], package_count=built["package_count"],
            os_releases=built["os_releases"], seconds=built["seconds"], cache=built["cache"],
            bytes_downloaded=built["stats"]["bytes_downloaded"], stats=built["stats"],
            signature_path=built["signature_path"], signed_by=built["signed_by"],
            cni=plan["cni"], msg=bundle.summary(built))
        if not built["signed_by"]:
            result["warnings"] = result.get("warnings", []) + [
                "%s is not signed: the air-gapped side refuses it unless %s sets bundle.allowUnsigned: true. Sign "
                "it with signing_key (-e bundle_signing_key=KEY)" % (built["archive"], source)]
        return result
