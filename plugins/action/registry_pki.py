# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry's CA and serving certificate on the controller; the module file holds the docs."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.airgap.kubernetes.plugins.plugin_utils import pki

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "common_name": {"type": "str", "required": True},
    "subject_alt_names": {"type": "list", "elements": "str", "required": True},
    "ca_common_name": {"type": "str", "default": pki.CA_COMMON_NAME},
    "valid_days": {"type": "int", "default": 825},
    "ca_valid_days": {"type": "int", "default": 3650},
    "renew_before_days": {"type": "int", "default": 30},
}


class ActionModule(ActionBase):
    """Make or keep ca.key, ca.crt, registry.key and registry.crt in one directory."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            made = pki.ensure(args["path"], args["common_name"], args["subject_alt_names"],
                              check_mode=self._task.check_mode, ca_common_name=args["ca_common_name"],
                              valid_days=args["valid_days"], ca_valid_days=args["ca_valid_days"],
                              renew_before_days=args["renew_before_days"])
        except pki.PkiError as exc:
            return dict(result, failed=True, msg=str(exc))
        except OSError as exc:
            return dict(result, failed=True, msg="cannot make the registry PKI in %s: %s" % (args["path"], exc))
        warnings = made.pop("warnings")
        if warnings:
            result["warnings"] = result.get("warnings", []) + warnings
        result.update(made)
        prefix = "would " if self._task.check_mode else ""
        result["msg"] = ("; ".join(prefix + a for a in made["actions"]) if made["actions"]
                         else "the CA and the registry certificate in %s are kept" % args["path"])
        return result
