# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names the collection derives from a cluster file (plugins/plugin_utils/cluster/names.py),
for the Makefile, the lab's tests and the benchmarks: they ask the model where the kubeconfig or
the registry's CA is instead of spelling the state directory's layout again.

    python tests/cluster_names.py CLUSTER_FILE kubeconfig          # one name (dotted for a nested one)
    python tests/cluster_names.py CLUSTER_FILE registry.ca_file
    python tests/cluster_names.py CLUSTER_FILE                     # every name, as JSON
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import collection  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, collection.collections_path())
# pylint: disable-next=wrong-import-position,wrong-import-order
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.files import load_cluster  # noqa: E402
# pylint: disable-next=wrong-import-position,wrong-import-order
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.names import derive  # noqa: E402


class ClusterFileError(Exception):
    """A cluster file that cannot be read or is invalid."""


def cluster(cluster_file):
    """The resolved cluster of a file (defaults filled, paths absolute)."""
    resolved, failure = load_cluster(None, cluster_file)
    if failure:
        raise ClusterFileError(failure["msg"])
    return resolved


def names(cluster_file):
    """Every derived name of a cluster file, as the cluster_model action returns them (without the
    bundle)."""
    return derive(cluster(cluster_file), os.path.abspath(cluster_file))


def name(cluster_file, key):
    """One derived name; ``key`` is dotted for a nested one (``registry.ca_file``)."""
    value = names(cluster_file)
    for part in key.split("."):
        value = value[part]
    return value


def main(argv):
    if len(argv) not in (1, 2):
        sys.exit(__doc__)
    try:
        value = name(argv[0], argv[1]) if len(argv) == 2 else names(argv[0])
    except ClusterFileError as exc:
        sys.exit(str(exc))
    except KeyError as exc:
        sys.exit("no derived name %s" % exc)
    print(value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
