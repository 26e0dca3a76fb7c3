# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""veeam_task_info: read a task, await it (a timeout names the task and how to go on), fail a finished task without
success when waiting, delete only a finished task and never in check mode, never changed; the client is a fake
whose wait runs on a fake clock (no network)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils._poll import Poller
from ansible_collections.backupops.veeam.plugins.modules import veeam_task_info
from ansible_collections.backupops.veeam.tests.unit.plugins.modules.module_fakes import (
    EM_ARGS, patch_client, patch_poller, traceback_of)


def task(state, success=None, message=None, task_id="task-7"):
    return {"id": task_id, "state": state, "operation": "StartJob", "success": success, "message": message,
            "href": "https://em/api/tasks/%s" % task_id}


class FakeEm:
    """get_task answers ``states`` in turn (the last repeats); wait_task polls them as the real client does."""

    def __init__(self, *tasks, error=None):
        self.tasks = list(tasks)
        self.error = error
        self.read = []
        self.deleted = []
        self.waits = []

    def get_task(self, task_id):
        self.read.append(task_id)
        if self.error is not None:
            raise self.error
        return self.tasks.pop(0) if len(self.tasks) > 1 else self.tasks[0]

    def wait_task(self, first, poller):
        assert isinstance(poller, Poller)
        self.waits.append((poller.timeout, poller.interval))
        return poller.wait(lambda: self.get_task(first["id"]), lambda t: t["state"] == "Finished",
                           lambda t: t.get("state") or "unknown", value=first, fresh=True)

    def delete_task(self, task_id):
        self.deleted.append(task_id)


@pytest.fixture
def task_info(run_module, monkeypatch, clock):
    def run(client, **args):
        patch_poller(monkeypatch, clock)
        asked = patch_client(monkeypatch, client)
        return run_module(dict(EM_ARGS, **args), veeam_task_info.main), asked
    return run


def test_read_a_task(task_info):
    em = FakeEm(task("Running"))
    result, asked = task_info(em, task_id=" task-7 ")
    assert not result.failed and result.result["changed"] is False and result.result["deleted"] is False
    assert result.result["task"] == {"id": "task-7", "state": "Running", "operation": "StartJob", "success": None,
                                     "message": None}
    assert result.result["msg"] == "Task task-7 (StartJob) is Running"
    assert em.read == ["task-7"] and asked == [{}] and "elapsed" not in result.result


def test_task_id_is_required_and_not_empty(task_info, fail_calls):
    result, asked = task_info(FakeEm(task("Running")))
    assert result.failed and "missing required arguments: task_id" in result.result["msg"] and asked == []
    result, asked = task_info(FakeEm(task("Running")), task_id="  ")
    assert result.failed and result.result["msg"] == "task_id is empty: give the id of a task, such as task-7"
    assert asked == [] and traceback_of(result, fail_calls) == ""


def test_await_a_task(task_info, clock):
    em = FakeEm(task("Running"), task("OperationFinished", True), task("Finished", True, "Job started"))
    result, _asked = task_info(em, task_id="task-7", wait=True, wait_timeout=120, poll_interval=2)
    assert not result.failed and result.result["changed"] is False
    assert result.result["msg"] == "Task task-7 (StartJob) is Finished: Job started"
    assert [h["state"] for h in result.result["history"]] == ["Running", "OperationFinished", "Finished"]
    assert result.result["elapsed"] == 2.0 and em.waits == [(120.0, 2.0)] and clock.sleeps == [1.0, 1.0]


def test_await_a_task_already_finished(task_info):
    em = FakeEm(task("Finished", True))
    result, _asked = task_info(em, task_id="task-7", wait=True)
    assert result.result["elapsed"] == 0.0 and result.result["history"] == [{"state": "Finished", "elapsed": 0.0}]
    assert em.waits == []


def test_a_wait_that_runs_out(task_info, fail_calls):
    em = FakeEm(task("Running"))
    result, _asked = task_info(em, task_id="task-7", wait=True, wait_timeout=30)
    assert result.failed and result.result["error"]["kind"] == "wait_timeout" and result.result["changed"] is False
    assert result.result["msg"] == ("Task task-7 was still Running after 30 s (wait_timeout 30 s). Run this task again "
                                    "with the same session_token to go on waiting")
    assert result.result["task"]["state"] == "Running" and result.result["elapsed"] == 30.0
    assert traceback_of(result, fail_calls) == ""


def test_a_task_that_finished_without_success_fails_when_awaited(task_info, fail_calls):
    em = FakeEm(task("Running"), task("Finished", False, "Job is already running"))
    result, _asked = task_info(em, task_id="task-7", wait=True)
    assert result.failed and result.result["error"]["kind"] == "job_failed" and result.result["changed"] is False
    assert result.result["msg"] == "Task task-7 (StartJob) finished without success: Job is already running"
    assert result.result["task"]["success"] is False and "history" in result.result
    assert traceback_of(result, fail_calls) == ""


def test_a_task_that_finished_without_success_is_only_reported_when_read(task_info):
    result, _asked = task_info(FakeEm(task("Finished", False, "Nope")), task_id="task-7")
    assert not result.failed and result.result["task"]["success"] is False


def test_delete_a_finished_task(task_info):
    em = FakeEm(task("Finished", True))
    result, _asked = task_info(em, task_id="task-7", delete=True)
    assert result.result["deleted"] is True and em.deleted == ["task-7"] and result.result["changed"] is False


def test_a_running_task_is_not_deleted(task_info):
    em = FakeEm(task("Running"))
    result, _asked = task_info(em, task_id="task-7", delete=True)
    assert result.result["deleted"] is False and em.deleted == []


def test_check_mode_neither_waits_nor_deletes(task_info, clock):
    em = FakeEm(task("Running"), task("Finished", False, "x"))
    result, _asked = task_info(em, task_id="task-7", wait=True, delete=True, _ansible_check_mode=True)
    assert not result.failed and em.waits == [] and em.deleted == [] and clock.sleeps == []
    assert result.result["history"] == [{"state": "Running", "elapsed": 0.0}]


def test_a_task_of_another_logon_session(task_info, fail_calls):
    em = FakeEm(error=E.NotFoundError("Task task-7 was not found in this Enterprise Manager logon session",
                                      status=404))
    result, _asked = task_info(em, task_id="task-7")
    assert result.failed and result.result["error"]["kind"] == "not_found" and traceback_of(result, fail_calls) == ""


@pytest.mark.parametrize("args,message", [
    ({"wait_timeout": 0}, "wait_timeout must be a positive number of seconds, got 0"),
    ({"poll_interval": "nan"}, "poll_interval must be a positive number of seconds (at least 0.5), got nan"),
])
def test_numbers_no_run_can_use(task_info, args, message):
    result, asked = task_info(FakeEm(task("Running")), task_id="task-7", wait=True, **args)
    assert result.failed and result.result["msg"] == message and asked == []


def test_a_bug_fails_with_its_traceback(task_info, fail_calls):
    result, _asked = task_info(FakeEm(error=RuntimeError("boom")), task_id="task-7")
    assert result.failed and result.result["msg"].endswith(": RuntimeError: boom (please report this as a bug)")
    assert "Traceback" in traceback_of(result, fail_calls)


def test_delete_is_deprecated_and_says_what_to_use(task_info):
    result, _asked = task_info(FakeEm(task("Finished", True)), task_id="task-7", delete=True)
    deprecations = result.result.get("deprecations") or []
    assert len(deprecations) == 1, deprecations
    # ansible-core 2.19 wraps the message in an event and the collection in plugin info; 2.16 has them flat
    text = json.dumps(deprecations[0], default=str)
    assert "'delete' is deprecated" in text and "backupops.veeam" in text and deprecations[0]["version"] == "1.0.0"


def test_no_deprecation_without_delete(task_info):
    result, _asked = task_info(FakeEm(task("Finished", True)), task_id="task-7")
    assert not result.result.get("deprecations")
