# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""veeam_vbr_session_info: read a session, await it (a timeout names the session and its last state), judge its
result only when waiting, never changed, never waits in check mode; the client is a fake whose wait is the real
``Vbr.wait_session`` on a fake clock (no network)."""

from __future__ import annotations

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _vbr
from ansible_collections.backupops.veeam.plugins.module_utils._poll import Poller
from ansible_collections.backupops.veeam.plugins.modules import veeam_vbr_session_info
from ansible_collections.backupops.veeam.tests.unit.plugins.modules.module_fakes import (
    VBR_ARGS, patch_client, patch_poller, traceback_of)

SESSION = "c5b4f2b4-8d5e-4b7e-a1cf-000000000002"
JOB = "9b2e4d70-1c3a-4f5e-8d90-000000000001"


def session(state="Working", result="None", message="", canceled=False, progress=40, name="VBR Daily Backup"):
    return {"id": SESSION, "name": name, "jobId": JOB, "sessionType": "BackupJob", "state": state,
            "progressPercent": progress, "creationTime": "2026-11-22T19:00:00+01:00",
            "result": {"result": result, "message": message, "isCanceled": canceled}}


class FakeVbr:
    """``session`` answers ``sessions`` in turn (the last repeats); ``wait_session`` is the real client's."""

    revision = "1.3-rev1"

    def __init__(self, *sessions, error=None):
        self.sessions = list(sessions)
        self.error = error
        self.read = []
        self.pollers = []

    def session(self, session_id):
        self.read.append(session_id)
        if self.error is not None:
            raise self.error
        return self.sessions.pop(0) if len(self.sessions) > 1 else self.sessions[0]

    def wait_session(self, raw, poller):
        assert isinstance(poller, Poller)
        self.pollers.append((poller.timeout, poller.interval))
        return _vbr.Vbr.wait_session(self, raw, poller)


@pytest.fixture
def session_info(run_module, monkeypatch, clock):
    def run(client, **args):
        patch_poller(monkeypatch, clock)
        asked = patch_client(monkeypatch, client)
        return run_module(dict(VBR_ARGS, **args), veeam_vbr_session_info.main), asked
    return run


def test_read_a_session(session_info):
    vbr = FakeVbr(session())
    result, asked = session_info(vbr, session_id=" %s " % SESSION)
    assert not result.failed and result.result["changed"] is False and asked == [{}]
    assert result.result["msg"] == "Session VBR Daily Backup is Working"
    assert result.result["session"]["id"] == SESSION and result.result["session"]["progress_percent"] == 40
    assert result.result["api_version"] == "1.3-rev1" and vbr.read == [SESSION]
    assert "elapsed" not in result.result and "history" not in result.result


@pytest.mark.parametrize("raw,msg", [
    (session("Stopped", "Success"), "Session VBR Daily Backup is Stopped: Success"),
    (session("Stopped", "Warning", "1 of 2 VMs was skipped"),
     "Session VBR Daily Backup is Stopped: Warning (1 of 2 VMs was skipped)"),
    (session("Stopped", "Failed", "Job has been stopped by user", canceled=True),
     "Session VBR Daily Backup is Stopped: Stopped (Job has been stopped by user)"),
    (session("WaitingTape"), "Session VBR Daily Backup is WaitingTape"),
    (session(name=None), "Session %s is Working" % SESSION),
])
def test_the_message_of_a_session(session_info, raw, msg):
    result, _asked = session_info(FakeVbr(raw), session_id=SESSION)
    assert result.result["msg"] == msg


def test_a_failed_session_read_without_waiting_does_not_fail(session_info):
    result, _asked = session_info(FakeVbr(session("Stopped", "Failed", "No space")), session_id=SESSION)
    assert not result.failed and result.result["session"]["result"] == "Failed"


def test_await_a_session(session_info, clock):
    vbr = FakeVbr(session("Starting", progress=0), session(progress=50), session("Stopped", "Success", progress=100))
    result, _asked = session_info(vbr, session_id=SESSION, wait=True, wait_timeout=120, poll_interval=2)
    assert not result.failed and result.result["changed"] is False
    assert result.result["msg"] == "Session VBR Daily Backup is Stopped: Success"
    assert [h["state"] for h in result.result["history"]] == ["Starting", "Working", "Stopped"]
    assert result.result["elapsed"] == 2.0 and vbr.pollers == [(120.0, 2.0)]
    assert clock.sleeps == [1.0, 1.0]  # the session was just read: the first poll after a pause


def test_an_unknown_state_is_awaited(session_info):
    vbr = FakeVbr(session(), session("Postprocessing"), session("Stopped", "Success"))
    result, _asked = session_info(vbr, session_id=SESSION, wait=True)
    assert [h["state"] for h in result.result["history"]] == ["Working", "Postprocessing", "Stopped"]


@pytest.mark.parametrize("ending,fail_on_warning,fails", [("Failed", False, True), ("Warning", False, False),
                                                          ("Warning", True, True), ("Success", True, False)])
def test_a_session_awaited_is_judged(session_info, fail_calls, ending, fail_on_warning, fails):
    vbr = FakeVbr(session(), session("Stopped", ending, "Reason"))
    result, _asked = session_info(vbr, session_id=SESSION, wait=True, fail_on_warning=fail_on_warning)
    assert result.failed is fails and result.result["changed"] is False
    if fails:
        assert result.result["error"]["kind"] == "job_failed" and traceback_of(result, fail_calls) == ""
        assert result.result["msg"] == "Session VBR Daily Backup is Stopped: %s (Reason)" % ending
        assert result.result["session"]["result"] == ending and result.result["api_version"] == "1.3-rev1"


def test_a_canceled_session_awaited_does_not_fail(session_info):
    vbr = FakeVbr(session(), session("Stopped", "Failed", canceled=True))
    result, _asked = session_info(vbr, session_id=SESSION, wait=True)
    assert not result.failed and result.result["msg"] == "Session VBR Daily Backup is Stopped: Stopped"


def test_a_wait_that_runs_out(session_info, fail_calls):
    vbr = FakeVbr(session(progress=10), session(progress=60))
    result, _asked = session_info(vbr, session_id=SESSION, wait=True, wait_timeout=30)
    assert result.failed and result.result["error"]["kind"] == "wait_timeout" and result.result["changed"] is False
    assert result.result["msg"] == ("Session VBR Daily Backup was still Working after 30 s (wait_timeout 30 s). Run the "
                                    "task again to go on waiting (nothing is sent twice)")
    assert result.result["session"]["progress_percent"] == 60 and result.result["elapsed"] == 30.0
    assert result.result["api_version"] == "1.3-rev1" and traceback_of(result, fail_calls) == ""


def test_a_wait_whose_last_poll_failed(session_info):
    lost = E.TransportError("Lost the connection to https://vbr.example:9419", method="GET", path="/api/v1/sessions/{id}")
    vbr = FakeVbr(session(), session(), lost)

    def reading(session_id):
        vbr.read.append(session_id)
        if len(vbr.read) > 2:
            raise lost
        return session()
    vbr.session = reading
    result, _asked = session_info(vbr, session_id=SESSION, wait=True, wait_timeout=3)
    assert result.result["msg"] == ("Session VBR Daily Backup was still Working after 3 s (wait_timeout 3 s); the last "
                                    "poll failed: Lost the connection to https://vbr.example:9419 (GET "
                                    "/api/v1/sessions/{id}). Run the task again to go on waiting (nothing is sent "
                                    "twice)")


def test_no_wait_in_check_mode(session_info):
    vbr = FakeVbr(session(), session("Stopped", "Failed"))
    result, _asked = session_info(vbr, session_id=SESSION, wait=True, _ansible_check_mode=True)
    assert not result.failed and vbr.read == [SESSION] and vbr.pollers == []


@pytest.mark.parametrize("session_id", ["", "   "])
def test_an_empty_session_id(session_info, fail_calls, session_id):
    vbr = FakeVbr(session())
    result, asked = session_info(vbr, session_id=session_id)
    assert result.failed and result.result["msg"] == "session_id is empty: give the id of a session (a GUID)"
    assert asked == [] and traceback_of(result, fail_calls) == ""


def test_session_id_is_required(session_info):
    result, asked = session_info(FakeVbr(session()))
    assert result.failed and "missing required arguments: session_id" in result.result["msg"] and asked == []


def test_an_unknown_session(session_info, fail_calls):
    vbr = FakeVbr(error=E.NotFoundError("No VBR session with id %s" % SESSION, status=404))
    result, _asked = session_info(vbr, session_id=SESSION)
    assert result.failed and result.result["error"]["kind"] == "not_found" and traceback_of(result, fail_calls) == ""


@pytest.mark.parametrize("args,message", [
    ({"wait_timeout": -3}, "wait_timeout must be a positive number of seconds, got -3"),
    ({"poll_interval": 0.25}, "poll_interval must be a positive number of seconds (at least 0.5), got 0.25"),
])
def test_numbers_no_run_can_use(session_info, args, message):
    result, asked = session_info(FakeVbr(session()), session_id=SESSION, **args)
    assert result.failed and result.result["msg"] == message and asked == []
