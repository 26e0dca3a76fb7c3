# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Helpers for the module tests: a module run without network.

``VeeamModule.client`` is replaced by a context manager around a fake client (recording how it was asked for and
entered); the API's job adapter by a factory of an in-memory adapter (recording its arguments); the Poller by one on
a fake clock.  What is tested is the module's own part: its options, the checks it makes, what it hands the client
or the lifecycle, and the result it builds.
"""

from __future__ import annotations

import functools
import types

from ansible_collections.backupops.veeam.plugins.module_utils import _module
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule
from ansible_collections.backupops.veeam.plugins.module_utils._poll import Poller
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.fake_jobs import FakeJobs, fake_job
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import PASSWORD, USERNAME

EM_ARGS = {"server": "em.example", "username": USERNAME, "password": PASSWORD}
M365_ARGS = {"server": "vb365.example", "username": USERNAME, "password": PASSWORD}
VBR_ARGS = {"server": "vbr.example", "username": USERNAME, "password": PASSWORD}


class ClientContext:
    """What the fake ``VeeamModule.client`` returns: ``with`` gives the fake client."""

    def __init__(self, client):
        self.client = client

    def __enter__(self):
        self.client.entered = getattr(self.client, "entered", 0) + 1
        return self.client

    def __exit__(self, exc_type, exc, tb):
        self.client.exited = getattr(self.client, "exited", 0) + 1
        return False


def patch_client(monkeypatch, client):
    """``VeeamModule.client(**extra)`` gives ``client``; returns the list of the ``extra`` of each call."""
    asked = []

    def fake(self, **extra):  # pylint: disable=unused-argument
        asked.append(extra)
        return ClientContext(client)
    monkeypatch.setattr(VeeamModule, "client", fake)
    return asked


def patch_adapter(monkeypatch, api_module, name, adapter):
    """``api_module.<name>(client, **options)`` gives ``adapter``; returns the list of ``(client, options)``."""
    made = []

    def factory(client, **options):
        made.append((client, options))
        return adapter
    monkeypatch.setattr(api_module, name, factory)
    return made


def patch_poller(monkeypatch, clock):
    """The module's Poller waits on ``clock``."""
    monkeypatch.setattr(_module, "Poller", functools.partial(Poller, clock=clock.monotonic, sleep=clock.sleep))


def traceback_of(exit_, fail_calls):
    """The traceback a failed run carried ("" for none): what it gave ``fail_json`` as ``exception`` or, if it gave
    none, what ansible-core put in the result."""
    assert exit_.failed, exit_.result
    given = fail_calls[-1].get("exception") if fail_calls else None
    return given if given is not None else exit_.result.get("exception", "")


class Run:
    """What a job-state module run was given: the client's ``asked`` options, the adapters ``made``, the fake
    ``adapter`` and what it was ``wanted`` to find."""

    def __init__(self, asked, made, adapter, wanted):
        self.asked = asked
        self.made = made
        self.adapter = adapter
        self.wanted = wanted


def fake_jobs_maker(monkeypatch, clock, api_module, adapter_name, product, default_job):
    """``make(*fake_jobs)`` for a job-state module's tests: its client and its adapter (``api_module.adapter_name``)
    replaced by a FakeJobs of ``product``; what the adapter was asked to find is kept in ``Run.wanted``."""
    def make(*jobs):
        adapter = FakeJobs(list(jobs) or [fake_job(default_job)], clock=clock)
        adapter.product = product
        wanted = []
        real = adapter.find
        monkeypatch.setattr(adapter, "find", lambda w: wanted.append(w) or real(w))
        patch_poller(monkeypatch, clock)
        asked = patch_client(monkeypatch, types.SimpleNamespace())
        made = patch_adapter(monkeypatch, api_module, adapter_name, adapter)
        return Run(asked, made, adapter, wanted)
    return make
