# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fixtures for the module tests: a fake clock, and no Veeam variables from the environment running the tests."""

from __future__ import annotations

import pytest

from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import FakeClock


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for prefix in ("VEEAM_EM_", "VEEAM_M365_", "VEEAM_VBR_"):
        for name in ("SERVER", "PORT", "USERNAME", "PASSWORD", "VALIDATE_CERTS", "CA_PATH", "TIMEOUT"):
            monkeypatch.delenv(prefix + name, raising=False)
