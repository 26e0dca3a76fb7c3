# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fixtures for the connection-helper tests: a fake server mounted on each Transport, a fake clock, the journal
of a module run, Enterprise Manager and VB365 clients on the fake server, and the job lifecycle on the fake clock."""

from __future__ import annotations

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.module_utils._errors import Journal
from ansible_collections.backupops.veeam.plugins.module_utils._http import RetryPolicy, Transport
from ansible_collections.backupops.veeam.plugins.module_utils._jobs import Lifecycle
from ansible_collections.backupops.veeam.plugins.module_utils._poll import Poller
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    PASSWORD, USERNAME, FakeClock, FakeServer, Reply)
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_wire import (
    ANY_LOGOFF, ANY_VERSION, BASE, LOGON, logon_reply, token_body)


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

    def make(base="https://em.example:9398", **kwargs):
        kwargs.setdefault("retry", RetryPolicy(sleep=clock.sleep, rand=lambda: 0.5))
        transport = Transport(base, **kwargs)
        server.mount_on(transport.session)
        made.append(transport)
        return transport
    yield make
    for transport in made:
        transport.close()


@pytest.fixture
def warnings():
    """The warnings of the module run, in order (the journal's sink)."""
    return []


@pytest.fixture
def journal(warnings):
    return Journal(sink=warnings.append)


@pytest.fixture
def poller(clock):
    """``poller(timeout, interval=5)``: a Poller on the fake clock."""
    def make(timeout, interval=5):
        return Poller(timeout, interval, clock=clock.monotonic, sleep=clock.sleep)
    return make


@pytest.fixture
def lifecycle(journal, poller, clock):
    """``lifecycle(adapter, state, **options)``: the job lifecycle of a module run, on the fake clock."""
    def make(adapter, state, **options):
        options.setdefault("wait_timeout", 600)
        return Lifecycle(adapter, state, journal, poller=poller, clock=clock.monotonic, **options)
    return make


# ------------------------------------------------------------------------------------------------ Enterprise Manager
@pytest.fixture
def em_server(server):
    server.on("POST", LOGON, logon_reply())
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    return server


@pytest.fixture
def make_em(make_transport, journal):
    """``make_em(**params)``: the Enterprise Manager client of a module run (``logoff`` as ``connect`` takes it)."""
    def make(logoff=None, **params):
        given = {"username": USERNAME, "password": PASSWORD, "api_version": "latest", "session_token": None,
                 "logon_session_id": None}
        given.update(params)
        return _em.connect(make_transport(), given, journal, logoff=logoff)
    return make


# ------------------------------------------------------------------------------------------------ VB365
@pytest.fixture
def vb_server(server):
    for version in ANY_VERSION:
        server.on("POST", "/%s/token" % version, token_body())
        server.on("POST", "/%s/token/logout" % version, Reply(204))
    return server


@pytest.fixture
def token_clock(monkeypatch, clock):
    """VB365 tokens made by the client live on the fake clock, and their retry policy sleeps on it."""
    real = _m365.Vb365Token

    def made(*args, **kwargs):
        kwargs.setdefault("clock", clock.monotonic)
        kwargs.setdefault("retry", RetryPolicy(attempts=6, base=1.0, cap=20.0, sleep=clock.sleep, rand=lambda: 0.5))
        return real(*args, **kwargs)
    monkeypatch.setattr(_m365, "Vb365Token", made)


@pytest.fixture
def make_vb(make_transport, journal, token_clock):  # pylint: disable=unused-argument
    """``make_vb(version="v8", timeout=30)``: the VB365 client of a module run."""
    def make(version="v8", username=USERNAME, password=PASSWORD, **transport):
        return _m365.connect(make_transport(base=BASE, **transport),
                             {"api_version": version, "username": username, "password": password}, journal)
    return make
