# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""veeam_m365_job_state: its options (state, full, organization, jobs), what it hands the VB365 adapter and the
lifecycle, its results and failures; the client is a fake and the adapter an in-memory one (no network)."""

from __future__ import annotations

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.modules import veeam_m365_job_state
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.fake_jobs import fake_job
from ansible_collections.backupops.veeam.tests.unit.plugins.modules.module_fakes import (
    M365_ARGS, fake_jobs_maker, traceback_of)

JOB_ID = "3a6c1f10-5b1e-4e0a-9c11-000000000001"


@pytest.fixture
def vb(monkeypatch, clock):
    """``vb(*fake_jobs)``: the module's client and Vb365Jobs replaced; what the adapter was asked to find is kept."""
    return fake_jobs_maker(monkeypatch, clock, _m365, "Vb365Jobs", "VB365", "Mail")


@pytest.fixture
def state(run_module):
    def run(**args):
        return run_module(dict(M365_ARGS, **args), veeam_m365_job_state.main)
    return run


# ------------------------------------------------------------------------------------------------ options
@pytest.mark.parametrize("args,message", [
    ({"job_name": "Mail"}, "missing required arguments: state"),
    ({"state": "started"}, "one of the following is required: job_id, job_name, jobs"),
    ({"state": "running", "job_name": "Mail"}, "value of state must be one of: enabled, disabled, started, stopped, "
                                               "got: running"),
    ({"state": "started", "job_id": JOB_ID, "job_name": "Mail"},
     "parameters are mutually exclusive: job_id|job_name|jobs"),
    ({"state": "started", "job_id": JOB_ID, "organization": "contoso"},
     "parameters are mutually exclusive: job_id|organization"),
    ({"state": "started", "jobs": [{"job_id": JOB_ID, "organization": "contoso"}]},
     "parameters are mutually exclusive: job_id|organization"),
    ({"state": "started", "jobs": [{"organization": "contoso"}]}, "one of the following is required: job_id, job_name"),
    ({"state": "started", "job_name": "Mail", "api_version": "v9"},
     "value of api_version must be one of: v2, v3, v4, v5, v6, v7, v8, auto, got: v9"),
    ({"state": "started", "job_name": "Mail", "if_running": "fail"}, "Unsupported parameters"),
])
def test_option_checks(vb, state, args, message):
    run = vb()
    result = state(**args)
    assert result.failed and message in result.result["msg"]
    assert run.asked == [] and run.made == []


@pytest.mark.parametrize("args", [{"state": "stopped", "full": True}, {"state": "enabled", "full": True},
                                  {"state": "disabled", "jobs": [{"job_name": "Mail", "full": True}]}])
def test_full_only_with_started(vb, state, fail_calls, args):
    run = vb()
    result = state(**dict({"job_name": "Mail"} if "jobs" not in args else {}, **args))
    assert result.failed and result.result["msg"] == "full applies to state: started only"
    assert result.result["error"]["kind"] == "usage" and result.result["changed"] is False
    assert traceback_of(result, fail_calls) == "" and run.asked == []


@pytest.mark.parametrize("args,message", [
    ({"poll_interval": "nan"}, "poll_interval must be a positive number of seconds (at least 0.5), got nan"),
    ({"wait_timeout": 0}, "wait_timeout must be a positive number of seconds, got 0"),
    ({"wait_timeout": -1}, "wait_timeout must be a positive number of seconds, got -1"),
    ({"timeout": 0}, "timeout must be a positive number of seconds, got 0.0"),
])
def test_numbers_no_run_can_use(vb, state, fail_calls, args, message):
    run = vb()
    result = state(state="started", job_name="Mail", **args)
    assert result.failed and result.result["msg"] == message and traceback_of(result, fail_calls) == ""
    assert run.asked == []


# ------------------------------------------------------------------------------------------------ one job
def test_start_one_job(vb, state, fail_calls):
    run = vb(fake_job("Mail", runs=[["Running", "Success"]]))
    result = state(state="started", job_name="Mail")
    assert not result.failed and result.result["changed"] is True and fail_calls == []
    assert result.result["msg"] == "Started job 'Mail': run ended Success after 1.0 s"
    assert result.result["api_version"] == "f1" and result.result["job"]["name"] == "Mail"
    assert run.wanted == [[{"job_id": None, "job_name": "Mail", "organization": None, "full": False}]]
    assert run.made[0][1] == {} and run.asked == [{}]


def test_what_the_adapter_is_asked_for(vb, state):
    run = vb(fake_job("Mail"))
    state(state="started", job_name="Mail", organization="contoso", full=True, wait=False)
    assert run.wanted == [[{"job_id": None, "job_name": "Mail", "organization": "contoso", "full": True}]]


@pytest.mark.parametrize("wanted,job,msg", [
    ("enabled", {"enabled": True}, "Job 'Mail' is already enabled"),
    ("disabled", {"enabled": False}, "Job 'Mail' is already disabled"),
    ("stopped", {}, "Job 'Mail' is not running (last result Success)"),
    ("started", {"running": True}, "Job 'Mail' is already running; not started again"),
])
def test_a_job_in_the_state_already(vb, state, wanted, job, msg):
    run = vb(fake_job("Mail", runs=[["Working", "Success"]], **job))
    result = state(state=wanted, job_name="Mail", wait=False)
    assert not result.failed and result.result["changed"] is False and result.result["msg"] == msg
    assert run.adapter.sent == []


@pytest.mark.parametrize("wanted,job,msg", [
    ("enabled", {"enabled": False}, "Enabled job 'Mail' (receipt r-id-mail-1)"),
    ("disabled", {}, "Disabled job 'Mail' (receipt r-id-mail-1)"),
    ("stopped", {"running": True}, "Asked VB365 to stop job 'Mail' (receipt r-id-mail-1)"),
    ("started", {}, "Started job 'Mail' (receipt r-id-mail-1)"),
])
def test_a_job_brought_into_the_state(vb, state, wanted, job, msg):
    run = vb(fake_job("Mail", **job))
    result = state(state=wanted, job_name="Mail", wait=False)
    assert not result.failed and result.result["changed"] is True and result.result["msg"] == msg
    assert len(run.adapter.sent) == 1


def test_enable_never_waits(vb, state, clock):
    run = vb(fake_job("Mail", enabled=False))
    result = state(state="enabled", job_name="Mail", wait=True)
    assert result.result["changed"] is True and run.adapter.polled == [] and clock.sleeps == []


@pytest.mark.parametrize("wanted,job,msg", [("started", {}, "Would start job 'Mail'"),
                                            ("stopped", {"running": True}, "Would stop job 'Mail'"),
                                            ("disabled", {}, "Would disable job 'Mail'")])
def test_check_mode(vb, state, wanted, job, msg):
    run = vb(fake_job("Mail", **job))
    result = state(state=wanted, job_name="Mail", _ansible_check_mode=True)
    assert not result.failed and result.result["changed"] is True and result.result["msg"] == msg
    assert run.adapter.sent == [] and run.adapter.surveys[0][2] is False


def test_a_stop_that_the_run_beat(vb, state):
    vb(fake_job("Mail", running=True, runs=[["Stopping", "Success"]]))
    result = state(state="stopped", job_name="Mail")
    assert not result.failed and result.warnings == ["Job 'Mail' ended Success before the stop took effect"]


@pytest.mark.parametrize("status", ["Failed", "NotConfigured", "Disconnected"])
def test_a_run_without_a_backup_fails(vb, state, fail_calls, status):
    vb(fake_job("Mail", runs=[["Running", status]], reason="Proxy offline"))
    result = state(state="started", job_name="Mail")
    assert result.failed and result.result["error"]["kind"] == "job_failed" and result.result["changed"] is True
    assert result.result["msg"] == "Started job 'Mail': run ended %s after 1.0 s: Proxy offline" % status
    assert traceback_of(result, fail_calls) == ""


def test_a_refused_start_that_the_job_did_not_reach(vb, state, fail_calls):
    vb(fake_job("Mail", send=[("refuse", E.ForbiddenError("VB365 refused to start job 'Mail': Access denied",
                                                          status=403), False)]))
    result = state(state="started", job_name="Mail")
    assert result.failed and result.result["error"]["kind"] == "forbidden" and result.result["changed"] is False
    assert traceback_of(result, fail_calls) == ""


# ------------------------------------------------------------------------------------------------ several jobs
def test_several_jobs(vb, state):
    run = vb(fake_job("A"), fake_job("B", running=True), fake_job("C"))
    result = state(state="started", jobs=[{"job_name": "A"}, {"job_name": "B"}, {"job_id": "id-c"}],
                   organization="contoso", full=True, wait=False)
    assert result.result["msg"] == "3 jobs: 2 started, 1 already running, 0 failed"
    assert run.wanted == [[{"job_id": None, "job_name": "A", "organization": "contoso", "full": True},
                           {"job_id": None, "job_name": "B", "organization": "contoso", "full": True},
                           {"job_id": "id-c", "job_name": None, "organization": None, "full": True}]]


def test_one_entry_of_jobs_is_a_list_of_one(vb, state):
    vb(fake_job("A"))
    result = state(state="stopped", jobs=[{"job_name": "A"}])
    assert result.result["msg"] == "1 job: 0 stopped, 1 not running, 0 failed" and result.result["changed"] is False


def test_a_failure_in_a_list_reports_every_job(vb, state, fail_calls):
    vb(fake_job("A"), fake_job("B", runs=[["Running", "Failed"]]))
    result = state(state="started", jobs=[{"job_name": "A"}, {"job_name": "B"}])
    assert result.failed and result.result["changed"] is True
    assert result.result["msg"].startswith("2 jobs: 2 started, 0 already running, 1 failed: Started job 'B': ")
    assert [r["failed"] for r in result.result["jobs"]] == [False, True]
    assert traceback_of(result, fail_calls) == ""


def test_an_unexpected_exception_is_a_bug_with_its_traceback(vb, state, fail_calls, monkeypatch):
    run = vb(fake_job("Mail"))
    monkeypatch.setattr(run.adapter, "view", lambda r: 1 / 0)
    result = state(state="started", job_name="Mail", wait=False)
    assert result.failed and "ZeroDivisionError" in result.result["msg"]
    assert "Traceback" in traceback_of(result, fail_calls)
