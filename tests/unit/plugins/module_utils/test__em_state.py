# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_em.EmJobs through the job lifecycle for the states other than started (veeam_em_job_state): a stop awaited
until the session stopped (a backup copy job through its session's Stop link), a stop refused in its task, a retry
only after a Failed session (and never of a backup copy job), and the schedule toggle - read before, read again
right before toggling, never toggled into the wrong state, a lost toggle settled by reading the schedule state."""

from __future__ import annotations

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    dropped, expect_error, fixture_bytes, xml)
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_wire import (
    COPY, DB_BACKUP, DB_SESSIONS, SESSION, session_xml, sessions_list, task_xml, tasks_list)

JOB = "/api/jobs/%s" % DB_BACKUP
SESSION_PATH = "/api/backupSessions/%s" % SESSION
COPY_JOB = "/api/jobs/%s" % COPY
COPY_SESSIONS = "/api/jobs/%s/backupSessions" % COPY
SESSION_NAME = "Fileserver Backup@2014-10-19 05:22:52"


def job_entity(enabled=True):
    return xml(200, fixture_bytes("em_job_entity.xml").decode("utf-8").replace(
        "<ScheduleEnabled>true</ScheduleEnabled>", "<ScheduleEnabled>%s</ScheduleEnabled>" % str(enabled).lower()))


def by_id(*ids):
    return [{"job_id": job_id, "job_name": None, "job_type": "auto", "backup_server": None} for job_id in ids]


@pytest.fixture
def em_state(make_em, lifecycle):
    """``em_state(state, wanted, **params)``: veeam_em_job_state's run in one logon session (its adapter from
    ``_em.jobs_adapter``, so wait_for defaults as the module's do); the lifecycle's result."""
    def run(state, wanted, check_mode=False, many=None, **params):
        params.setdefault("wait", True)
        with make_em() as em:
            adapter = _em.jobs_adapter(em, params, state)
            return lifecycle(adapter, state, wait=params["wait"], check_mode=check_mode).run(wanted, many=many)
    return run


def posts(server, path=JOB):
    return [c.query for c in server.calls if c.method == "POST" and c.path == path]


# ------------------------------------------------------------------------------------------------ wait_for
def test_wait_for_defaults_by_state(make_em):
    em = make_em()
    assert _em.jobs_adapter(em, {"wait": True}, "started").wait_for == "task"
    assert _em.jobs_adapter(em, {"wait": True}, "stopped").wait_for == "session"
    assert _em.jobs_adapter(em, {"wait": True}, "retried").wait_for == "session"
    assert _em.jobs_adapter(em, {"wait": True, "wait_for": "task"}, "stopped").wait_for == "task"
    assert _em.jobs_adapter(em, {"wait": True, "session_token": "t" * 20}, "stopped").handed_token is True


# ------------------------------------------------------------------------------------------------ stop
def test_a_stop_is_awaited_until_the_session_stopped(em_server, em_state, journal):
    em_server.on("GET", JOB, job_entity())
    em_server.on("GET", DB_SESSIONS, sessions_list(session_xml("Working")))
    em_server.on("POST", JOB, xml(202, task_xml(3, "Running", operation="StopJob")))
    em_server.on("GET", "/api/tasks/task-3", xml(200, task_xml(3, "Finished", True, "triggered to stop", operation="StopJob")))
    em_server.on("GET", SESSION_PATH, xml(200, session_xml("Stopping")),
                 xml(200, session_xml("Stopped", "Failed", failure="Job has been stopped by user.", progress=100)))
    result = em_state("stopped", by_id(DB_BACKUP))
    assert result["changed"] is True
    assert result["msg"].startswith("Stopped job 'DB Backup': session %s ended Failed (stopped) after" % SESSION_NAME)
    assert result["session"]["state"] == "Stopped" and result["task"]["operation"] == "StopJob"
    assert posts(em_server) == ["action=stop"]
    assert journal.changes == ["Stopped job 'DB Backup' (task task-3)"]


def test_a_job_that_does_not_run_is_not_stopped(em_server, em_state):
    em_server.on("GET", JOB, job_entity())
    em_server.on("GET", DB_SESSIONS, sessions_list("em_backup_session_stopped_success.xml"))
    result = em_state("stopped", by_id(DB_BACKUP))
    assert result["changed"] is False and posts(em_server) == []
    assert result["msg"] == "Job 'DB Backup' is not running (last session %s ended Success)" % SESSION_NAME


def test_a_stop_refused_because_the_run_ended_meanwhile(em_server, em_state, warnings):
    em_server.on("GET", JOB, job_entity())
    em_server.on("GET", DB_SESSIONS, sessions_list(session_xml("Working")),
                 sessions_list("em_backup_session_stopped_success.xml"))
    em_server.on("POST", JOB, xml(202, task_xml(3, "Running", operation="StopJob")))
    em_server.on("GET", "/api/tasks/task-3", xml(200, task_xml(
        3, "Finished", False, 'Cannot stop job "DB Backup". The job is not running.', operation="StopJob")))
    em_server.on("GET", SESSION_PATH, xml(200, "em_backup_session_stopped_success.xml"))
    result = em_state("stopped", by_id(DB_BACKUP))
    assert result["changed"] is False and posts(em_server) == ["action=stop"]
    assert result["msg"].startswith("Job 'DB Backup' is not running")
    assert len(warnings) == 1 and warnings[0].startswith("Enterprise Manager refused to stop job 'DB Backup'")
    assert warnings[0].endswith("Its run ended since the module read it")


def test_a_backup_copy_job_is_stopped_through_its_session(em_server, em_state):
    em_server.on("GET", COPY_JOB, xml(200, "em_job_entity_immediate_backup_copy.xml"))
    em_server.on("GET", COPY_SESSIONS, sessions_list(session_xml("Working")))
    em_server.on("POST", SESSION_PATH, xml(202, task_xml(4, "Running", operation="StopJobSession")))
    result = em_state("stopped", by_id(COPY), wait=False)
    assert result["changed"] is True and posts(em_server, COPY_JOB) == []
    assert posts(em_server, SESSION_PATH) == ["action=stop"]
    assert result["msg"] == "Asked Enterprise Manager to stop job '%s' (task task-4)" % result["job"]["name"]


# ------------------------------------------------------------------------------------------------ retry
def test_a_retry_after_a_failed_session_awaits_the_retry(em_server, em_state):
    em_server.on("GET", JOB, job_entity())
    failed = session_xml("Stopped", "Failed", failure="snapshot failed", progress=100)
    retry = session_xml("Stopped", "Success", session_id="0b0b0b0b-0000-4000-8000-000000000002",
                        created="2026-11-23T18:00:02Z", progress=100)
    em_server.on("GET", DB_SESSIONS, sessions_list(failed), sessions_list(retry, failed))
    em_server.on("POST", JOB, xml(202, task_xml(5, "Running", operation="RetryJob")))
    em_server.on("GET", "/api/tasks/task-5", xml(200, task_xml(5, "Finished", True, "triggered to retry", operation="RetryJob")))
    result = em_state("retried", by_id(DB_BACKUP))
    assert result["changed"] is True and posts(em_server) == ["action=retry"]
    assert result["msg"].startswith("Retried job 'DB Backup': session") and "ended Success" in result["msg"]
    assert result["session"]["id"] == "0b0b0b0b-0000-4000-8000-000000000002"


@pytest.mark.parametrize("check_mode", [True, False])
def test_a_job_whose_last_session_did_not_fail_is_not_retried(em_server, em_state, check_mode):
    em_server.on("GET", JOB, job_entity())
    em_server.on("GET", DB_SESSIONS, sessions_list("em_backup_session_stopped_success.xml"))
    result = em_state("retried", by_id(DB_BACKUP), check_mode=check_mode)
    assert result["changed"] is False and posts(em_server) == []
    assert result["msg"] == ("Job 'DB Backup' did not fail last time (last session %s ended Success); not retried"
                             % SESSION_NAME)


def test_check_mode_predicts_a_retry_after_a_failed_session(em_server, em_state):
    em_server.on("GET", JOB, job_entity())
    em_server.on("GET", DB_SESSIONS, sessions_list(session_xml("Stopped", "Failed", progress=100)))
    result = em_state("retried", by_id(DB_BACKUP), check_mode=True)
    assert result["changed"] is True and result["msg"] == "Would retry job 'DB Backup'" and posts(em_server) == []


def test_a_backup_copy_job_is_never_retried(em_server, em_state):
    em_server.on("GET", COPY_JOB, xml(200, "em_job_entity_immediate_backup_copy.xml"))
    with expect_error("usage") as caught:
        em_state("retried", by_id(COPY))
    assert "Enterprise Manager cannot retry backup copy jobs" in str(caught.error)
    assert posts(em_server, COPY_JOB) == []


# ------------------------------------------------------------------------------------------------ the toggle
def test_disable_reads_the_schedule_again_toggles_once_and_awaits_the_task(em_server, em_state, journal):
    em_server.on("GET", JOB, job_entity(True), job_entity(True), job_entity(False))
    em_server.on("POST", JOB, xml(202, task_xml(6, "Running", operation="UpdateJob")))
    em_server.on("GET", "/api/tasks/task-6", xml(200, task_xml(6, "Finished", True, "Ok", operation="UpdateJob")))
    result = em_state("disabled", by_id(DB_BACKUP))
    assert result["changed"] is True and posts(em_server) == ["action=toggleScheduleEnabled"]
    assert result["msg"].startswith("Disabled the schedule of job 'DB Backup': task task-6 Finished")
    assert result["job"]["schedule_enabled"] is False and result["job"]["enabled"] is False
    assert [c.method for c in em_server.calls if c.path == JOB] == ["GET", "GET", "POST", "GET"]
    assert journal.changes == ["Disabled the schedule of job 'DB Backup' (task task-6)"]


@pytest.mark.parametrize("state,enabled", [("disabled", False), ("enabled", True)])
def test_a_schedule_in_the_state_is_not_toggled(em_server, em_state, state, enabled):
    em_server.on("GET", JOB, job_entity(enabled))
    result = em_state(state, by_id(DB_BACKUP))
    assert result["changed"] is False and posts(em_server) == []
    assert result["msg"] == "Job 'DB Backup' is already %s" % state


def test_a_schedule_changed_by_someone_else_before_the_toggle_is_not_toggled(em_server, em_state, warnings):
    em_server.on("GET", JOB, job_entity(True), job_entity(False))
    result = em_state("disabled", by_id(DB_BACKUP))
    assert result["changed"] is False and posts(em_server) == []
    assert warnings == ["Job 'DB Backup' is already disabled: it was disabled since the module read it, so nothing "
                        "was sent"]


def test_check_mode_predicts_the_toggle(em_server, em_state):
    em_server.on("GET", JOB, job_entity(True))
    result = em_state("disabled", by_id(DB_BACKUP), check_mode=True)
    assert result["changed"] is True and result["msg"] == "Would disable the schedule of job 'DB Backup'"
    assert posts(em_server) == []


def test_a_lost_toggle_is_settled_by_the_schedule_state_and_never_sent_again(em_server, em_state, warnings):
    em_server.on("GET", JOB, job_entity(True), job_entity(True), job_entity(False))
    em_server.on("POST", JOB, dropped())
    em_server.on("GET", "/api/tasks", tasks_list())
    result = em_state("disabled", by_id(DB_BACKUP))
    assert result["changed"] is True and posts(em_server) == ["action=toggleScheduleEnabled"]
    assert result["job"]["schedule_enabled"] is False
    assert warnings == ["The response to the disable of job 'DB Backup' was lost; Enterprise Manager shows it took "
                        "effect, so it was not sent again"]


def test_a_lost_toggle_that_did_not_happen_is_not_sent_again(em_server, em_state):
    em_server.on("GET", JOB, job_entity(True))
    em_server.on("POST", JOB, dropped())
    em_server.on("GET", "/api/tasks", tasks_list())
    with expect_error("response_lost") as caught:
        em_state("disabled", by_id(DB_BACKUP))
    assert "shows it did not take effect; it was not sent again" in str(caught.error)
    assert posts(em_server) == ["action=toggleScheduleEnabled"]


def test_a_lost_toggle_whose_task_runs_is_awaited(em_server, em_state):
    em_server.on("GET", JOB, job_entity(True), job_entity(True), job_entity(True), job_entity(False))
    em_server.on("POST", JOB, dropped())
    em_server.on("GET", "/api/tasks", tasks_list(task_xml(7, "Running", operation="UpdateJob")))
    em_server.on("GET", "/api/tasks/task-7", xml(200, task_xml(7, "Finished", True, "Ok", operation="UpdateJob")))
    result = em_state("disabled", by_id(DB_BACKUP))
    assert result["changed"] is True and result["task"]["id"] == "task-7"
    assert result["job"]["schedule_enabled"] is False and posts(em_server) == ["action=toggleScheduleEnabled"]


def test_a_toggle_whose_task_finished_but_the_schedule_did_not_change_fails(em_server, em_state):
    em_server.on("GET", JOB, job_entity(True))
    em_server.on("POST", JOB, xml(202, task_xml(6, "Running", operation="UpdateJob")))
    em_server.on("GET", "/api/tasks/task-6", xml(200, task_xml(6, "Finished", True, "Ok", operation="UpdateJob")))
    with expect_error("job_failed") as caught:
        em_state("disabled", by_id(DB_BACKUP))
    assert str(caught.error) == ("Enterprise Manager did not disable the schedule of job 'DB Backup': task task-6 "
                                 "Finished, but the schedule is still enabled")
    assert posts(em_server) == ["action=toggleScheduleEnabled"]


def test_several_toggles_in_one_task(em_server, em_state):
    em_server.on("GET", JOB, job_entity(True), job_entity(True), job_entity(False))
    em_server.on("GET", COPY_JOB, xml(200, "em_job_entity_immediate_backup_copy.xml"))
    em_server.on("POST", JOB, xml(202, task_xml(6, "Running", operation="UpdateJob")))
    em_server.on("GET", "/api/tasks/task-6", xml(200, task_xml(6, "Finished", True, "Ok", operation="UpdateJob")))
    result = em_state("enabled", by_id(DB_BACKUP, COPY))
    assert result["msg"] == "2 jobs: 0 enabled, 2 already enabled, 0 failed" and posts(em_server) == []
