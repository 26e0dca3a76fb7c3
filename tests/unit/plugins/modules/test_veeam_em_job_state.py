# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""veeam_em_job_state: its options (state, wait_for and its default per state, jobs), what it hands EmJobs and the
lifecycle, its results; the client is a fake and the adapter an in-memory one (no network).  EmJobs itself is
tested against the fake server in test__em_state."""

from __future__ import annotations

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.modules import veeam_em_job_state
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.fake_jobs import fake_job
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import EM_TOKEN
from ansible_collections.backupops.veeam.tests.unit.plugins.modules.module_fakes import (
    EM_ARGS, fake_jobs_maker)


@pytest.fixture
def em(monkeypatch, clock):
    """``em(*fake_jobs)``: the module's client and EmJobs replaced; what the adapter was asked to find is kept."""
    return fake_jobs_maker(monkeypatch, clock, _em, "EmJobs", "Enterprise Manager", "Daily")


@pytest.fixture
def state(run_module):
    def run(**args):
        return run_module(dict(EM_ARGS, **args), veeam_em_job_state.main)
    return run


@pytest.mark.parametrize("args,message", [
    ({}, "one of the following is required: job_id, job_name, jobs"),
    ({"state": "running", "job_name": "Daily"}, "value of state must be one of: started, stopped, retried, enabled, "
                                                "disabled, got: running"),
    ({"job_id": "x", "job_name": "Daily"}, "parameters are mutually exclusive: job_id|job_name|jobs"),
    ({"jobs": [{"job_id": "x", "job_name": "y"}]}, "parameters are mutually exclusive: job_id|job_name"),
    ({"job_name": "Daily", "wait_for": "run"}, "value of wait_for must be one of: task, session, got: run"),
    ({"job_name": "Daily", "full": True}, "Unsupported parameters"),
])
def test_option_checks(em, state, args, message):
    run = em()
    result = state(**args)
    assert result.failed and message in result.result["msg"]
    assert run.asked == [] and run.made == []


@pytest.mark.parametrize("asked,wait_for", [("started", "task"), ("stopped", "session"), ("retried", "session"),
                                            ("enabled", "session"), ("disabled", "session")])
def test_wait_for_defaults_by_state(em, state, asked, wait_for):
    run = em(fake_job("Daily", running=asked == "stopped", enabled=asked == "disabled", failed_last=True))
    result = state(job_name="Daily", state=asked)
    assert not result.failed, result.result["msg"]
    assert run.made[0][1] == {"wait_for": wait_for, "wait": True, "handed_token": False}


@pytest.mark.parametrize("asked,action,words", [("stopped", "stop", "Stopped"), ("retried", "retry", "Retried"),
                                                ("disabled", "disable", "Disabled"), ("enabled", "enable", "Enabled")])
def test_each_state_reaches_the_adapter_once(em, state, asked, action, words):
    run = em(fake_job("Daily", running=asked == "stopped", enabled=asked == "disabled", failed_last=True))
    result = state(job_name="Daily", state=asked)
    assert result.result["changed"] is True and result.result["msg"].startswith("%s job 'Daily'" % words)
    assert run.adapter.sent == [("Daily", action)]


def test_a_list_with_the_task_options(em, state):
    run = em(fake_job("Daily", running=True), fake_job("Files", running=False))
    result = state(state="stopped", wait_for="task", session_token=EM_TOKEN, job_type="backup",
                   jobs=[{"job_name": "Daily"}, {"job_name": "Files", "job_type": "file_share",
                                                 "backup_server": "vbr01"}])
    assert result.result["msg"] == "2 jobs: 1 stopped, 1 not running, 0 failed"
    assert [entry["changed"] for entry in result.result["jobs"]] == [True, False]
    assert run.wanted == [[{"job_id": None, "job_name": "Daily", "job_type": "backup", "backup_server": None},
                           {"job_id": None, "job_name": "Files", "job_type": "file_share", "backup_server": "vbr01"}]]
    assert run.made[0][1] == {"wait_for": "task", "wait": True, "handed_token": True}


def test_check_mode_sends_nothing(em, state):
    run = em(fake_job("Daily", enabled=True))
    result = state(job_name="Daily", state="disabled", _ansible_check_mode=True)
    assert result.result["changed"] is True and result.result["msg"] == "Would disable job 'Daily'"
    assert run.adapter.sent == []
