# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make ansible_collections.airgap.kubernetes importable under plain pytest (make units).

ansible-test units already runs from an ansible_collections tree; then this does nothing.
"""

from __future__ import annotations

import importlib.util
import os
import sys

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "collection.py")


def load_helper():
    """tests/collection.py, loaded by path (tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location("airgap_collection_helper", HELPER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


try:
    import ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.schema  # noqa: F401, pylint: disable=unused-import
except ImportError:
    sys.path.insert(0, load_helper().collections_path())


import pytest  # noqa: E402 (after the import path is set up)


@pytest.fixture(name="ansible_env")
def fixture_ansible_env(tmp_path):
    """Environment for running ansible-* commands against this checkout as airgap.kubernetes."""
    env = load_helper().environment()
    config = tmp_path / "ansible.cfg"
    config.write_text("# empty: the tests do not depend on an ansible.cfg\n")
    env.update(
        ANSIBLE_INVENTORY_UNPARSED_FAILED="true",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_HOST_KEY_CHECKING="false",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
        ANSIBLE_CONFIG=str(config),
        PAGER="cat",
    )
    return env


def ansible_command(name):
    """An ansible CLI from the same environment as the running Python."""
    return os.path.join(os.path.dirname(sys.executable), name)
