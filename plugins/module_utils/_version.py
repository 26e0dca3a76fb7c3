# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection's version, for the User-Agent.  Private to backupops.veeam: not a public API.

``galaxy.yml`` is the source; modules cannot read it at run time (they travel without it), so it is repeated here
once, and ``tests/unit/plugins/module_utils/test__version.py`` fails when the two disagree.
"""

from __future__ import annotations

COLLECTION_VERSION = "0.2.0"
