# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""veeam_vbr_job_state: its options (state, full, if_running, jobs), what it hands the VBR adapter and the lifecycle,
its results and failures; the client is a fake and the adapter an in-memory one (no network)."""

from __future__ import annotations

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _vbr
from ansible_collections.backupops.veeam.plugins.module_utils._jobs import ACTIONS
from ansible_collections.backupops.veeam.plugins.modules import veeam_vbr_job_state
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.fake_jobs import fake_job
from ansible_collections.backupops.veeam.tests.unit.plugins.modules.module_fakes import (
    VBR_ARGS, fake_jobs_maker, traceback_of)

JOB_ID = "9b2e4d70-1c3a-4f5e-8d90-000000000001"


@pytest.fixture
def vbr(monkeypatch, clock):
    """``vbr(*fake_jobs)``: the module's client and VbrJobs replaced; what the adapter was asked to find is kept."""
    return fake_jobs_maker(monkeypatch, clock, _vbr, "VbrJobs", "VBR", "Daily")


@pytest.fixture
def state(run_module):
    def run(**args):
        return run_module(dict(VBR_ARGS, **args), veeam_vbr_job_state.main)
    return run


# ------------------------------------------------------------------------------------------------ options
@pytest.mark.parametrize("args,message", [
    ({}, "one of the following is required: job_id, job_name, jobs"),
    ({"state": "running", "job_name": "Daily"}, "value of state must be one of: started, stopped, retried, enabled, "
                                                "disabled, got: running"),
    ({"job_id": JOB_ID, "job_name": "Daily"}, "parameters are mutually exclusive: job_id|job_name|jobs"),
    ({"job_name": "Daily", "jobs": [{"job_name": "Other"}]}, "parameters are mutually exclusive: job_id|job_name|jobs"),
    ({"jobs": [{"job_id": JOB_ID, "job_name": "Daily"}]}, "parameters are mutually exclusive: job_id|job_name"),
    ({"jobs": [{"full": True}]}, "one of the following is required: job_id, job_name"),
    ({"job_name": "Daily", "if_running": "wait"}, "value of if_running must be one of: skip, fail, got: wait"),
    ({"job_name": "Daily", "organization": "contoso"}, "Unsupported parameters"),
    ({"job_name": "Daily", "session_token": "x"}, "Unsupported parameters"),
])
def test_option_checks(vbr, state, args, message):
    run = vbr()
    result = state(**args)
    assert result.failed and message in result.result["msg"]
    assert run.asked == [] and run.made == []


@pytest.mark.parametrize("args", [{"state": "stopped", "full": True}, {"state": "retried", "full": True},
                                  {"state": "enabled", "jobs": [{"job_name": "Daily", "full": True}]}])
def test_full_only_with_started(vbr, state, fail_calls, args):
    run = vbr()
    result = state(**dict({"job_name": "Daily"} if "jobs" not in args else {}, **args))
    assert result.failed and result.result["msg"] == "full applies to state: started only"
    assert result.result["error"]["kind"] == "usage" and result.result["changed"] is False
    assert traceback_of(result, fail_calls) == "" and run.asked == []


@pytest.mark.parametrize("args,message", [
    ({"poll_interval": 0.2}, "poll_interval must be a positive number of seconds (at least 0.5), got 0.2"),
    ({"poll_interval": "inf"}, "poll_interval must be a positive number of seconds (at least 0.5), got inf"),
    ({"wait_timeout": 0}, "wait_timeout must be a positive number of seconds, got 0"),
    ({"timeout": "nan"}, "timeout must be a positive number of seconds, got nan"),
])
def test_numbers_no_run_can_use(vbr, state, fail_calls, args, message):
    run = vbr()
    result = state(job_name="Daily", **args)
    assert result.failed and result.result["msg"] == message and traceback_of(result, fail_calls) == ""
    assert run.asked == []


def test_the_defaults(vbr, state, fail_calls):
    run = vbr(fake_job("Daily", runs=[["Working", "Success"]]))
    result = state(job_name="Daily")
    assert not result.failed and fail_calls == []
    assert result.result["msg"] == "Started job 'Daily': run ended Success after 1.0 s"  # started, awaited
    invocation = result.params
    assert (invocation["state"], invocation["api_version"], invocation["port"], invocation["if_running"]) == (
        "started", "auto", 9419, "skip")
    assert run.made[0][1] == {} and run.asked == [{}]


# ------------------------------------------------------------------------------------------------ one job
def test_start_one_job(vbr, state):
    run = vbr(fake_job("Daily", runs=[["Working", "Success"]]))
    result = state(job_name="Daily")
    assert result.result["changed"] is True and result.result["api_version"] == "f1"
    assert result.result["job"]["name"] == "Daily" and result.result["history"][-1]["state"] == "Success"
    assert run.wanted == [[{"job_id": None, "job_name": "Daily", "full": False}]]
    assert run.adapter.sent == [("Daily", "start")]


def test_what_the_adapter_is_asked_for(vbr, state):
    run = vbr(fake_job("Daily"))
    state(job_id=JOB_ID.upper(), full=True, wait=False)
    assert run.wanted == [[{"job_id": JOB_ID.upper(), "job_name": None, "full": True}]]


@pytest.mark.parametrize("wanted,job,msg", [
    ("enabled", {"enabled": True}, "Job 'Daily' is already enabled"),
    ("disabled", {"enabled": False}, "Job 'Daily' is already disabled"),
    ("stopped", {}, "Job 'Daily' is not running (last result Success)"),
    ("retried", {}, "Job 'Daily' did not fail last time (last result Success); not retried"),
    ("started", {"running": True}, "Job 'Daily' is already running; not started again"),
    ("stopped", {"running": True, "stopping": True}, "Job 'Daily' is being stopped already; the stop was not sent "
                                                     "again"),
])
def test_a_job_in_the_state_already(vbr, state, wanted, job, msg):
    run = vbr(fake_job("Daily", **job))
    result = state(state=wanted, job_name="Daily", wait=False)
    assert not result.failed and result.result["changed"] is False and result.result["msg"] == msg
    assert run.adapter.sent == []


@pytest.mark.parametrize("wanted,job,msg", [
    ("enabled", {"enabled": False}, "Enabled job 'Daily' (receipt r-id-daily-1)"),
    ("disabled", {}, "Disabled job 'Daily' (receipt r-id-daily-1)"),
    ("stopped", {"running": True}, "Asked VBR to stop job 'Daily' (receipt r-id-daily-1)"),
    ("retried", {"failed_last": True}, "Retried job 'Daily' (receipt r-id-daily-1)"),
    ("started", {}, "Started job 'Daily' (receipt r-id-daily-1)"),
])
def test_a_job_brought_into_the_state(vbr, state, wanted, job, msg):
    run = vbr(fake_job("Daily", **job))
    result = state(state=wanted, job_name="Daily", wait=False)
    assert not result.failed and result.result["changed"] is True and result.result["msg"] == msg
    assert run.adapter.sent == [("Daily", ACTIONS[wanted])]


def test_a_job_being_stopped_is_awaited(vbr, state):
    run = vbr(fake_job("Daily", running=True, stopping=True, runs=[["Stopping", "Stopped"]]))
    result = state(state="stopped", job_name="Daily")
    assert result.result["changed"] is False and run.adapter.sent == [] and run.adapter.polled == ["Daily"]
    assert result.result["msg"].endswith("the stop was not sent again: run ended Stopped after 1.0 s")


def test_an_active_full(vbr, state):
    vbr(fake_job("Daily"))
    result = state(job_name="Daily", full=True, wait=False)
    assert result.result["msg"] == "Started job 'Daily' (receipt r-id-daily-1)"


def test_enable_never_waits(vbr, state, clock):
    run = vbr(fake_job("Daily", enabled=False))
    result = state(state="enabled", job_name="Daily", wait=True)
    assert result.result["changed"] is True and run.adapter.polled == [] and clock.sleeps == []


@pytest.mark.parametrize("wanted,job,msg", [("started", {}, "Would start job 'Daily'"),
                                            ("retried", {"failed_last": True}, "Would retry job 'Daily'"),
                                            ("stopped", {"running": True}, "Would stop job 'Daily'"),
                                            ("disabled", {}, "Would disable job 'Daily'")])
def test_check_mode(vbr, state, wanted, job, msg):
    run = vbr(fake_job("Daily", **job))
    result = state(state=wanted, job_name="Daily", _ansible_check_mode=True)
    assert not result.failed and result.result["changed"] is True and result.result["msg"] == msg
    assert run.adapter.sent == [] and run.adapter.surveys[0][2] is False


def test_if_running_fail(vbr, state, fail_calls):
    run = vbr(fake_job("Daily", running=True, label="session Daily, Working, 40% done"))
    result = state(job_name="Daily", if_running="fail")
    assert result.failed and result.result["error"]["kind"] == "conflict" and result.result["changed"] is False
    assert result.result["msg"] == ("Job 'Daily' is already running (session Daily, Working, 40% done). Use if_running: "
                                    "skip to leave it running and report its session")
    assert run.adapter.sent == [] and traceback_of(result, fail_calls) == ""


@pytest.mark.parametrize("ending,kind", [("Failed", "job_failed"), ("Warning", None)])
def test_how_a_run_ended(vbr, state, fail_calls, ending, kind):
    vbr(fake_job("Daily", runs=[["Working", ending]], reason="1 of 2 VMs was skipped"))
    result = state(job_name="Daily")
    if kind:
        assert result.failed and result.result["error"]["kind"] == kind and result.result["changed"] is True
        assert traceback_of(result, fail_calls) == ""
    else:
        assert not result.failed and result.warnings == ["Job 'Daily' ended with a warning: 1 of 2 VMs was skipped"]
    assert result.result["msg"] == "Started job 'Daily': run ended %s after 1.0 s: 1 of 2 VMs was skipped" % ending


def test_fail_on_warning(vbr, state):
    vbr(fake_job("Daily", runs=[["Working", "Warning"]]))
    result = state(job_name="Daily", fail_on_warning=True)
    assert result.failed and result.result["error"]["kind"] == "job_failed"


def test_a_timeout_keeps_the_run_and_says_how_to_go_on(vbr, state, fail_calls):
    run = vbr(fake_job("Daily", runs=[["Queued", "Working"]]))
    result = state(job_name="Daily", wait_timeout=10)
    assert result.failed and result.result["error"]["kind"] == "wait_timeout" and result.result["changed"] is True
    assert result.result["msg"] == ("Gave up waiting after 10 s (wait_timeout 10 s): job 'Daily': run of Daily still "
                                    "Working. The job keeps running; to go on waiting, run the task again (a running job "
                                    "is not started twice)")
    assert run.adapter.kept == {"Daily": "Working"} and result.result["kept"] == "Working"
    assert result.result["last_state"] == "Working" and traceback_of(result, fail_calls) == ""


def test_a_refused_start(vbr, state, fail_calls):
    refusal = E.ForbiddenError("VBR refused to start job 'Daily': Access denied", status=403)
    vbr(fake_job("Daily", send=[("refuse", refusal, False)]))
    result = state(job_name="Daily")
    assert result.failed and result.result["error"]["kind"] == "forbidden" and result.result["changed"] is False
    assert traceback_of(result, fail_calls) == ""


def test_a_lost_start_is_settled_not_sent_again(vbr, state):
    run = vbr(fake_job("Daily", send=[("lost", True, False)], runs=[["Working", "Success"]]))
    result = state(job_name="Daily")
    assert not result.failed and run.adapter.sent == [("Daily", "start")] and run.adapter.looked == ["Daily"]
    assert result.warnings == ["The response to the start of job 'Daily' was lost; VBR shows it took effect, so it was "
                               "not sent again"]


# ------------------------------------------------------------------------------------------------ several jobs
def test_several_jobs(vbr, state):
    run = vbr(fake_job("A"), fake_job("B", running=True), fake_job("C"))
    result = state(jobs=[{"job_name": "A"}, {"job_name": "B", "full": False}, {"job_id": "id-c"}], full=True,
                   wait=False)
    assert result.result["msg"] == "3 jobs: 2 started, 1 already running, 0 failed"
    assert run.wanted == [[{"job_id": None, "job_name": "A", "full": True},
                           {"job_id": None, "job_name": "B", "full": False},
                           {"job_id": "id-c", "job_name": None, "full": True}]]


def test_one_entry_of_jobs_is_a_list_of_one(vbr, state):
    vbr(fake_job("A"))
    result = state(state="stopped", jobs=[{"job_name": "A"}])
    assert result.result["msg"] == "1 job: 0 stopped, 1 not running, 0 failed" and result.result["changed"] is False


def test_a_failure_in_a_list_reports_every_job(vbr, state, fail_calls):
    vbr(fake_job("A"), fake_job("B", runs=[["Working", "Failed"]]))
    result = state(jobs=[{"job_name": "A"}, {"job_name": "B"}])
    assert result.failed and result.result["changed"] is True
    assert result.result["msg"].startswith("2 jobs: 2 started, 0 already running, 1 failed: Started job 'B': ")
    assert [r["failed"] for r in result.result["jobs"]] == [False, True]
    assert traceback_of(result, fail_calls) == ""


def test_a_job_given_twice(vbr, state, fail_calls):
    run = vbr(fake_job("A"))
    result = state(jobs=[{"job_name": "A"}, {"job_id": "id-a"}])
    assert result.failed and result.result["msg"] == "Job 'A' is given twice in jobs" and run.adapter.sent == []
    assert traceback_of(result, fail_calls) == ""


def test_an_unexpected_exception_is_a_bug_with_its_traceback(vbr, state, fail_calls, monkeypatch):
    run = vbr(fake_job("Daily"))
    monkeypatch.setattr(run.adapter, "view", lambda r: 1 / 0)
    result = state(job_name="Daily", wait=False)
    assert result.failed and "ZeroDivisionError" in result.result["msg"]
    assert "Traceback" in traceback_of(result, fail_calls)
