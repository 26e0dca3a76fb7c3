# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""veeam_em_job_start: its options, what it hands the Enterprise Manager adapter and the lifecycle, its results and
failures; the client is a fake and the adapter an in-memory one (no network)."""

from __future__ import annotations

import types

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.modules import veeam_em_job_start
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.fake_jobs import FakeJobs, fake_job
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import EM_TOKEN
from ansible_collections.backupops.veeam.tests.unit.plugins.modules.module_fakes import (
    EM_ARGS, patch_adapter, patch_client, patch_poller, traceback_of)


class Started:
    """What a module run did: the client asked for, the adapter made, the adapter itself."""

    def __init__(self, asked, made, adapter):
        self.asked = asked
        self.made = made
        self.adapter = adapter


@pytest.fixture
def em(monkeypatch, clock):
    """``em(*fake_jobs)``: the module's client and EmJobs replaced; returns a :class:`Started`."""
    def make(*jobs):
        adapter = FakeJobs(list(jobs) or [fake_job("Daily")], clock=clock)
        adapter.product = "Enterprise Manager"
        patch_poller(monkeypatch, clock)
        asked = patch_client(monkeypatch, types.SimpleNamespace())
        made = patch_adapter(monkeypatch, _em, "EmJobs", adapter)
        return Started(asked, made, adapter)
    return make


@pytest.fixture
def start(run_module):
    def run(**args):
        return run_module(dict(EM_ARGS, **args), veeam_em_job_start.main)
    return run


# ------------------------------------------------------------------------------------------------ options
@pytest.mark.parametrize("args,message", [
    ({}, "one of the following is required: job_id, job_name, jobs"),
    ({"job_id": "x", "job_name": "y"}, "parameters are mutually exclusive: job_id|job_name|jobs"),
    ({"job_name": "y", "jobs": [{"job_name": "z"}]}, "parameters are mutually exclusive: job_id|job_name|jobs"),
    ({"jobs": [{"job_id": "x", "job_name": "y"}]}, "parameters are mutually exclusive: job_id|job_name"),
    ({"jobs": [{"job_type": "backup"}]}, "one of the following is required: job_id, job_name"),
    ({"job_name": "y", "wait_for": "run"}, "value of wait_for must be one of: task, session, got: run"),
    ({"job_name": "y", "if_running": "wait"}, "value of if_running must be one of: skip, fail, got: wait"),
    ({"job_name": "y", "job_type": "vm"}, "value of job_type must be one of: auto, backup, replica, backup_copy, "
                                          "file_share, agent, got: vm"),
    ({"job_name": "y", "api_version": "v8"}, "value of api_version must be one of: latest, v1_5, v1_6, v1_7, got: v8"),
])
def test_option_checks(em, start, args, message):
    started = em()
    result = start(**args)
    assert result.failed and message in result.result["msg"]
    assert started.asked == [] and started.made == []


@pytest.mark.parametrize("args,message", [
    ({"poll_interval": "nan"}, "poll_interval must be a positive number of seconds (at least 0.5), got nan"),
    ({"poll_interval": 0}, "poll_interval must be a positive number of seconds (at least 0.5), got 0.0"),
    ({"wait_timeout": 0}, "wait_timeout must be a positive number of seconds, got 0"),
    ({"timeout": 0}, "timeout must be a positive number of seconds, got 0.0"),
    ({"timeout": "inf"}, "timeout must be a positive number of seconds, got inf"),
])
def test_numbers_no_run_can_use(em, start, fail_calls, args, message):
    started = em()
    result = start(job_name="Daily", **args)
    assert result.failed and result.result["msg"] == message and result.result["error"]["kind"] == "usage"
    assert result.result["changed"] is False and traceback_of(result, fail_calls) == ""
    assert started.asked == [] and started.adapter.sent == []


# ------------------------------------------------------------------------------------------------ one job
def test_one_job_by_name(em, start, fail_calls):
    started = em(fake_job("Daily", runs=[["Running", "Success"]]))
    result = start(job_name="Daily")
    assert not result.failed and result.result["changed"] is True
    assert result.result["msg"] == "Started job 'Daily': run ended Success after 1.0 s"
    assert result.result["job"] == {"id": "id-daily", "name": "Daily"} and "jobs" not in result.result
    assert started.adapter.sent == [("Daily", "start")] and fail_calls == []
    assert started.asked == [{}]
    assert started.made[0][1] == {"wait_for": "task", "wait": True, "handed_token": False}
    assert started.adapter.surveys[0] == (["Daily"], "start", True)


def test_what_the_adapter_is_asked_for(em, start, monkeypatch):
    started = em(fake_job("Daily"))
    wanted = []
    real = started.adapter.find
    monkeypatch.setattr(started.adapter, "find", lambda w: wanted.append(w) or real(w))
    start(job_name="Daily", job_type="backup", backup_server="vbr01", wait_for="session", wait=False,
          session_token=EM_TOKEN)
    assert wanted == [[{"job_id": None, "job_name": "Daily", "job_type": "backup", "backup_server": "vbr01"}]]
    assert started.made[0][1] == {"wait_for": "session", "wait": False, "handed_token": True}


def test_a_running_job_is_not_started_again(em, start):
    started = em(fake_job("Daily", running=True, label="session Daily@1, Working"))
    result = start(job_name="Daily", wait=False)
    assert not result.failed and result.result["changed"] is False
    assert result.result["msg"] == "Job 'Daily' is already running (session Daily@1, Working); not started again"
    assert started.adapter.sent == []


def test_if_running_fail(em, start, fail_calls):
    started = em(fake_job("Daily", running=True))
    result = start(job_name="Daily", if_running="fail")
    assert result.failed and result.result["error"]["kind"] == "conflict"
    assert result.result["msg"] == ("Job 'Daily' is already running. Use if_running: skip to leave it running and "
                                    "report its session")
    assert result.result["changed"] is False and result.result["job"]["name"] == "Daily"
    assert traceback_of(result, fail_calls) == "" and started.adapter.sent == []


def test_check_mode_predicts_and_sends_nothing(em, start):
    started = em(fake_job("Daily"))
    result = start(job_name="Daily", _ansible_check_mode=True)
    assert not result.failed and result.result["changed"] is True
    assert result.result["msg"] == "Would start job 'Daily'"
    assert started.adapter.sent == [] and started.adapter.polled == []
    assert started.adapter.surveys == [(["Daily"], "start", False)]


def test_without_waiting(em, start, clock):
    started = em(fake_job("Daily"))
    result = start(job_name="Daily", wait=False)
    assert result.result["msg"] == "Started job 'Daily' (receipt r-id-daily-1)" and result.result["changed"] is True
    assert started.adapter.polled == [] and clock.sleeps == []


def test_a_failed_run_fails_the_task_without_a_traceback(em, start, fail_calls):
    em(fake_job("Daily", runs=[["Working", "Failed"]], reason="No space left"))
    result = start(job_name="Daily")
    assert result.failed and result.result["error"]["kind"] == "job_failed" and result.result["changed"] is True
    assert result.result["msg"] == "Started job 'Daily': run ended Failed after 1.0 s: No space left"
    assert result.result["history"][-1]["state"] == "Failed" and traceback_of(result, fail_calls) == ""


@pytest.mark.parametrize("fail_on_warning", [False, True])
def test_a_warning(em, start, fail_on_warning):
    em(fake_job("Daily", runs=[["Working", "Warning"]], reason="Low disk space"))
    result = start(job_name="Daily", fail_on_warning=fail_on_warning)
    assert result.failed is fail_on_warning and result.result["changed"] is True
    if not fail_on_warning:
        assert result.warnings == ["Job 'Daily' ended with a warning: Low disk space"]


def test_a_wait_that_runs_out(em, start, fail_calls):
    em(fake_job("Daily", runs=[["Working"]]))
    result = start(job_name="Daily", wait_timeout=30)
    assert result.failed and result.result["error"]["kind"] == "wait_timeout" and result.result["changed"] is True
    assert result.result["msg"].startswith("Gave up waiting after 30 s (wait_timeout 30 s): job 'Daily': run of Daily "
                                           "still Working. ")
    assert result.result["last_state"] == "Working" and traceback_of(result, fail_calls) == ""


def test_a_lost_start_that_did_not_take_effect(em, start, fail_calls):
    started = em(fake_job("Daily", send=[("lost", False, False)]))
    result = start(job_name="Daily")
    assert result.failed and result.result["error"]["kind"] == "response_lost" and result.result["changed"] is False
    assert result.result["msg"].startswith("The start request for job 'Daily' got no response")
    assert started.adapter.sent == [("Daily", "start")] and traceback_of(result, fail_calls) == ""


def test_a_lost_start_that_took_effect_warns(em, start):
    started = em(fake_job("Daily", send=[("lost", True, False)]))
    result = start(job_name="Daily", wait=False)
    assert not result.failed and result.result["changed"] is True and len(started.adapter.sent) == 1
    assert result.warnings == ["The response to the start of job 'Daily' was lost; Enterprise Manager shows it took "
                               "effect, so it was not sent again"]


def test_an_unknown_job(em, start, fail_calls):
    em(fake_job("Daily"))
    result = start(job_name="Nightly")
    assert result.failed and result.result["error"]["kind"] == "not_found" and traceback_of(result, fail_calls) == ""


# ------------------------------------------------------------------------------------------------ several jobs
def test_several_jobs(em, start):
    started = em(fake_job("A"), fake_job("B", running=True), fake_job("C"))
    result = start(jobs=[{"job_name": "A"}, {"job_name": "B"}, {"job_id": "id-c"}], wait=False)
    assert not result.failed and result.result["changed"] is True
    assert result.result["msg"] == "3 jobs: 2 started, 1 already running, 0 failed"
    assert [r["job"]["name"] for r in result.result["jobs"]] == ["A", "B", "C"]
    assert "job" not in result.result and started.adapter.sent == [("A", "start"), ("C", "start")]


def test_one_entry_of_jobs_is_a_list_of_one(em, start):
    em(fake_job("A"))
    result = start(jobs=[{"job_name": "A"}], wait=False)
    assert result.result["msg"] == "1 job: 1 started, 0 already running, 0 failed" and len(result.result["jobs"]) == 1


def test_jobs_inherit_job_type_and_backup_server(em, start, monkeypatch):
    started = em(fake_job("A"), fake_job("B"))
    wanted = []
    real = started.adapter.find
    monkeypatch.setattr(started.adapter, "find", lambda w: wanted.append(w) or real(w))
    start(jobs=[{"job_name": "A"}, {"job_name": "B", "job_type": "agent", "backup_server": "vbr02"}],
          job_type="backup", backup_server="vbr01", wait=False)
    assert wanted == [[{"job_id": None, "job_name": "A", "job_type": "backup", "backup_server": "vbr01"},
                       {"job_id": None, "job_name": "B", "job_type": "agent", "backup_server": "vbr02"}]]


def test_an_error_after_a_start_says_what_was_started(em, start, fail_calls):
    em(fake_job("A"), fake_job("B", send=[("refuse", E.AuthError("rejected", status=401), False)]))
    result = start(jobs=[{"job_name": "A"}, {"job_name": "B"}], wait=False)
    assert result.failed and result.result["changed"] is True
    assert result.result["msg"] == "Started job 'A' (receipt r-id-a-1), then: rejected (HTTP 401)"
    assert [r["changed"] for r in result.result["jobs"]] == [True, False]
    assert traceback_of(result, fail_calls) == ""


def test_a_refusal_in_a_list_fails_that_job_only(em, start):
    refusal = E.HttpError("Enterprise Manager refused to start job 'B': Busy", status=500)
    em(fake_job("A"), fake_job("B", send=[("refuse", refusal, False)]))
    result = start(jobs=[{"job_name": "A"}, {"job_name": "B"}], wait=False)
    assert result.failed and result.result["error"]["kind"] == "job_failed" and result.result["changed"] is True
    assert result.result["msg"] == ("2 jobs: 1 started, 0 already running, 1 failed: Enterprise Manager refused to "
                                    "start job 'B': Busy (HTTP 500)")


# ------------------------------------------------------------------------------------------------ bugs
def test_an_unexpected_exception_is_a_bug_with_its_traceback(em, start, fail_calls, monkeypatch):
    started = em(fake_job("Daily"))
    monkeypatch.setattr(started.adapter, "survey", lambda *args, **kwargs: {}["missing"])
    result = start(job_name="Daily")
    assert result.failed and result.result["msg"].startswith("Unexpected error in ")
    assert result.result["msg"].endswith(": KeyError: 'missing' (please report this as a bug)")
    assert "Traceback" in traceback_of(result, fail_calls)


def test_the_client_is_left_even_when_the_run_fails(em, start):
    started = em(fake_job("Daily", runs=[["Working", "Failed"]]))
    assert start(job_name="Daily").failed
    client = started.made[0][0]
    assert client.entered == 1 and client.exited == 1
