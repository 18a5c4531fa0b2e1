# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster.yml model, on the controller: one file describes one cluster, its hosts (the
Ansible inventory) and every setting.

``schema``    the shape of the file (``SCHEMA``) and its constants; the only place that knows it
``validate``  ``check``: every problem of a file, each naming its field path
``model``     ``resolve``/``load``: the effective settings; ``inventory``: groups and variables
``files``     ``load_cluster``: read, check and resolve a file with Ansible's data loader
``render``    the commented starter file and docs/cluster-config.md, both from ``SCHEMA``
``generate``  a starter config from a short host list

The inventory plugin ``airgap.kubernetes.cluster``, the ``validate_cluster_config`` and
``generate_cluster_config`` actions and docs/cluster-config.md are all made from ``SCHEMA``.
Nothing here ships to hosts.
"""
