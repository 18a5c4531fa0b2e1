# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write docs/cluster-config.md from the schema in plugins/plugin_utils/cluster/schema.py.

    python docs/generate.py          # rewrite the page
    python docs/generate.py --check  # exit 1 when the committed page is stale
"""

from __future__ import annotations

import importlib.util
import os
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
PAGE = os.path.join(DOCS, "cluster-config.md")


def reference_markdown():
    """Import the schema through a temporary ansible_collections tree (tests/collection.py)."""
    spec = importlib.util.spec_from_file_location("collection", os.path.join(DOCS, "..", "tests", "collection.py"))
    helper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helper)
    sys.path.insert(0, helper.collections_path())
    module = importlib.import_module("ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.render")
    return module.reference_markdown()


def main(argv):
    text = reference_markdown()
    if argv == ["--check"]:
        with open(PAGE, encoding="utf-8") as handle:
            if handle.read() != text:
                sys.stderr.write("%s is stale: run python docs/generate.py\n" % PAGE)
                return 1
        return 0
    with open(PAGE, "w", encoding="utf-8") as handle:
        handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
