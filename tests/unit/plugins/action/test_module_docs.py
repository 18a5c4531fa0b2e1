# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doc-only module files describe exactly the options their action plugins accept.

validate-modules cannot check this for a module whose code is an action plugin.
"""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.airgap.kubernetes.plugins.action import build_bundle as bundle_action
from ansible_collections.airgap.kubernetes.plugins.action import generate_cluster_config as generate_action
from ansible_collections.airgap.kubernetes.plugins.action import registry_pki as pki_action
from ansible_collections.airgap.kubernetes.plugins.action import validate_cluster_config as validate_action
from ansible_collections.airgap.kubernetes.plugins.action import verify_bundle as verify_action
from ansible_collections.airgap.kubernetes.plugins.modules import build_bundle as bundle_module
from ansible_collections.airgap.kubernetes.plugins.modules import generate_cluster_config as generate_module
from ansible_collections.airgap.kubernetes.plugins.modules import registry_pki as pki_module
from ansible_collections.airgap.kubernetes.plugins.modules import validate_cluster_config as validate_module
from ansible_collections.airgap.kubernetes.plugins.modules import verify_bundle as verify_module


@pytest.mark.parametrize("module, action", [(validate_module, validate_action), (generate_module, generate_action),
                                            (bundle_module, bundle_action), (verify_module, verify_action),
                                            (pki_module, pki_action)])
def test_documented_options_match_the_argument_spec(module, action):
    documented = yaml.safe_load(module.DOCUMENTATION)["options"]
    assert set(documented) == set(action.ARGUMENT_SPEC)
    for name, spec in action.ARGUMENT_SPEC.items():
        doc = documented[name]
        assert doc["type"] == spec["type"], name
        assert doc.get("required", False) == spec.get("required", False), name
        assert doc.get("default") == spec.get("default"), name
        assert doc.get("elements") == spec.get("elements"), name
