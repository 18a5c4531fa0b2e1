# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Descriptions of the attributes every module of the collection declares."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second run reports no change.
"""

    CONTROLLER = r"""
options: {}
attributes:
  action:
    description: Runs as an action plugin on the controller; no managed host is contacted.
    support: full
  async:
    description: Cannot run asynchronously.
    support: none
  platform:
    description: Runs on the Ansible controller.
    support: full
    platforms: posix
"""
