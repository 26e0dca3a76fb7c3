# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""veeam_em_task: delete a finished task (changed), await an unfinished one first or refuse it without wait, leave
a task the logon session does not have (changed=false), need the session_token of the task's logon session, and
predict without acting in check mode; the client is a fake whose wait runs on a fake clock (no network)."""

from __future__ import annotations

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.modules import veeam_em_task
from ansible_collections.backupops.veeam.tests.unit.plugins.modules.module_fakes import (
    EM_ARGS, patch_client, patch_poller, traceback_of)
from ansible_collections.backupops.veeam.tests.unit.plugins.modules.test_veeam_task_info import FakeEm, task

TOKEN = {"session_token": "c2Vzc2lvbi10b2tlbi1vZi10aGUtcGxheS0xMjM0NTY="}


@pytest.fixture
def em_task(run_module, monkeypatch, clock):
    def run(client, **args):
        patch_poller(monkeypatch, clock)
        asked = patch_client(monkeypatch, client)
        return run_module(dict(EM_ARGS, **dict(TOKEN, **args)), veeam_em_task.main), asked
    return run


def test_a_finished_task_is_deleted(em_task):
    em = FakeEm(task("Finished", True, "OperationFinished"))
    result, _asked = em_task(em, task_id="task-7")
    assert not result.failed and result.result["changed"] is True and em.deleted == ["task-7"]
    assert result.result["msg"] == "Deleted task task-7 (StartJob, Finished)"
    assert result.result["task"] == {"id": "task-7", "state": "Finished", "operation": "StartJob", "success": True,
                                     "message": "OperationFinished"}
    assert "elapsed" not in result.result


def test_an_unfinished_task_is_awaited_then_deleted(em_task, clock):
    em = FakeEm(task("Running"), task("OperationFinished", True), task("Finished", True))
    result, _asked = em_task(em, task_id="task-7", poll_interval=2)
    assert not result.failed and result.result["changed"] is True and em.deleted == ["task-7"]
    assert [h["state"] for h in result.result["history"]] == ["Running", "OperationFinished", "Finished"]
    assert em.waits and clock.sleeps


def test_without_wait_an_unfinished_task_is_refused(em_task, fail_calls):
    em = FakeEm(task("Running"))
    result, _asked = em_task(em, task_id="task-7", wait=False)
    assert result.failed and result.result["error"]["kind"] == "usage" and em.deleted == []
    assert result.result["msg"] == ("Task task-7 (StartJob) is Running: deleting it would stop the operation, so it "
                                    "was not deleted; wait: true awaits it first")
    assert result.result["task"]["state"] == "Running" and traceback_of(result, fail_calls) == ""


def test_a_wait_that_runs_out_deletes_nothing(em_task):
    em = FakeEm(task("Running"))
    result, _asked = em_task(em, task_id="task-7", wait_timeout=30)
    assert result.failed and result.result["error"]["kind"] == "wait_timeout" and em.deleted == []
    assert result.result["changed"] is False


def test_a_task_the_session_does_not_have_is_left_alone(em_task):
    em = FakeEm(error=E.NotFoundError("Task task-7 was not found in the logon session of session_token", status=404))
    result, _asked = em_task(em, task_id="task-7")
    assert not result.failed and result.result["changed"] is False and em.deleted == []
    assert result.result["msg"] == "Task task-7 is not in this logon session (deleted already, or an unknown id)"


def test_check_mode_predicts_and_deletes_nothing(em_task, clock):
    em = FakeEm(task("Finished", True))
    result, _asked = em_task(em, task_id="task-7", _ansible_check_mode=True)
    assert result.result["changed"] is True and em.deleted == []
    assert result.result["msg"] == "Would delete task task-7 (StartJob, Finished)"
    em = FakeEm(task("Running"))
    result, _asked = em_task(em, task_id="task-7", _ansible_check_mode=True)
    assert result.result["changed"] is True and em.deleted == [] and em.waits == [] and clock.sleeps == []
    assert result.result["msg"] == "Would delete task task-7 (StartJob) once it has finished (it is Running)"


def test_the_session_token_is_required(em_task):
    result, asked = em_task(FakeEm(task("Finished", True)), task_id="task-7", session_token=None)
    assert result.failed and result.result["msg"].startswith("session_token is required: tasks belong to the logon "
                                                             "session that created them")
    assert asked == []


def test_an_empty_task_id(em_task):
    result, asked = em_task(FakeEm(task("Finished", True)), task_id=" ")
    assert result.failed and result.result["msg"] == "task_id is empty: give the id of a task, such as task-7"
    assert asked == []
