# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's table of supported Kubernetes releases: the one place that says which
versions the collection installs.

Each row is keyed by the Kubernetes version (with the leading ``v``, as upstream tags it).
``artifacts`` is where the bundle work adds one row per artifact (name, version, url from a
base-URL setting, sha256, arch); ``kubernetes_version`` in cluster.yml is validated against the
keys of this table. Standard library only: modules that run on air-gapped hosts import it too.
"""

from __future__ import annotations

# Order matters: the last row is the default for new cluster files.
SUPPORTED_RELEASES = {
    "v1.37.2": {
        "tested": "lab (end to end)",
        "artifacts": [],
    },
}

DEFAULT_KUBERNETES_VERSION = list(SUPPORTED_RELEASES)[-1]


def supported_versions():
    """Return the supported Kubernetes versions, oldest first."""
    return list(SUPPORTED_RELEASES)
