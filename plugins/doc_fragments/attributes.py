# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Attributes shared by the modules: check mode, diff mode and action group membership."""

    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in check mode and return a prediction of C(changed) without changing anything.
    support: full
    details: In check mode the module makes only read requests (log on, find the job, read its state), never
      starts, stops or changes anything, and never waits.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode).
    support: none
"""

    INFO_MODULE = r"""
attributes:
  check_mode:
    description: Can run in check mode and return a prediction of C(changed) without changing anything.
    support: full
    details: This module only reads, so check mode changes nothing in its behaviour.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode).
    support: N/A
    details: This module does not change anything.
"""

    EM_GROUP = r"""
attributes:
  action_group:
    description: Use C(group/backupops.veeam.em) or C(group/backupops.veeam.veeam) in C(module_defaults) to set
      defaults for this module.
    support: full
    membership:
      - backupops.veeam.em
      - backupops.veeam.veeam
"""

    M365_GROUP = r"""
attributes:
  action_group:
    description: Use C(group/backupops.veeam.m365) or C(group/backupops.veeam.veeam) in C(module_defaults) to set
      defaults for this module.
    support: full
    membership:
      - backupops.veeam.m365
      - backupops.veeam.veeam
"""

    VBR_GROUP = r"""
attributes:
  action_group:
    description: Use C(group/backupops.veeam.vbr) or C(group/backupops.veeam.veeam) in C(module_defaults) to set
      defaults for this module.
    support: full
    membership:
      - backupops.veeam.vbr
      - backupops.veeam.veeam
"""
