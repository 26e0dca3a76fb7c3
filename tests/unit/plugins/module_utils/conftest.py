# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fixtures for the connection-helper tests: a fake server mounted on each Transport, a fake clock."""

from __future__ import annotations

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils._http import RetryPolicy, Transport
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import FakeClock, FakeServer


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    assert not fake.unrouted, "requests that matched no route: %r" % fake.unrouted


@pytest.fixture
def make_transport(server, clock):
    """``make_transport(base=..., **Transport kwargs)``: a Transport whose session talks to ``server`` and whose
    retry policy sleeps on ``clock`` with a fixed jitter (``rand`` = 0.5)."""
    made = []

    def make(base="https://em.example:9398/api", **kwargs):
        kwargs.setdefault("retry", RetryPolicy(sleep=clock.sleep, rand=lambda: 0.5))
        transport = Transport(base, **kwargs)
        server.mount_on(transport.session)
        made.append(transport)
        return transport
    yield make
    for transport in made:
        transport.close()
