# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The wait options shared by every module that can wait."""

    DOCUMENTATION = r"""
options:
  wait_timeout:
    description:
      - How many seconds to wait at most. When it runs out the module fails, names what it waited for and its
        last state, and says how to go on waiting.
      - Must be positive.
    type: int
    default: 3600
  poll_interval:
    description:
      - The longest pause, in seconds, between two polls while waiting.
      - The first polls come after about a second and the pause grows with the time already waited (a tenth of
        it), up to O(poll_interval); so a short job is noticed within a second of its end and a long one does not
        load the server.
      - At least V(0.5).
    type: float
    default: 5
"""
