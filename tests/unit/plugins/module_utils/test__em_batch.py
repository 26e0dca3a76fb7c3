# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_em: fewer requests for many jobs - the tasks of a logon session read with one GET /api/tasks per round."""

from __future__ import annotations

from ansible_collections.backupops.veeam.plugins.module_utils._poll import Poller
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.test__em import (  # pylint: disable=unused-import
    em_server, make_em, warnings)
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import xml


def task_xml(num, state, success=None, message=None):
    result = "" if success is None else '<Result Success="%s"><Message>%s</Message></Result>' % (
        "true" if success else "false", message or "Ok")
    return ('<Task Type="Task" Href="https://localhost:9398/api/tasks/task-%d"><TaskId>task-%d</TaskId>'
            '<State>%s</State><Operation>StartJob</Operation>%s</Task>' % (num, num, state, result))


def tasks_reply(*tasks):
    return xml(200, '<Tasks xmlns="http://www.veeam.com/ent/v1.0">%s</Tasks>' % "".join(tasks))


def poller(clock):
    return Poller(600, 5, clock=clock.monotonic, sleep=clock.sleep)


def test_several_tasks_are_read_with_one_list_per_round(em_server, make_em, clock):
    em_server.on("GET", "/api/tasks",
                 tasks_reply(task_xml(1, "Finished", True), task_xml(2, "Running"), task_xml(3, "Running")),
                 tasks_reply(task_xml(1, "Finished", True), task_xml(2, "Finished", False, "Cannot start job"),
                             task_xml(3, "OperationFinished", True)))
    em_server.on("GET", "/api/tasks/task-3", xml(200, task_xml(3, "Finished", True)))
    tasks = {key: {"id": "task-%d" % num, "state": "Running"} for num, key in ((1, "a"), (2, "b"), (3, "c"))}
    with make_em() as em:
        results = em.wait_tasks(tasks, poller(clock), fresh=True)
    assert em_server.count("GET", "/api/tasks") == 2       # rounds with several tasks pending: one list each
    assert em_server.count("GET", "/api/tasks/task-3") == 1  # the last one alone: read on its own
    assert results["a"].value["success"] is True and results["a"].elapsed == 1.0
    assert results["b"].value["success"] is False and results["b"].value["message"] == "Cannot start job"
    assert results["c"].value["state"] == "Finished" and results["c"].polls == 3
    assert clock.sleeps == [1.0, 1.0, 1.0]                 # fresh: no poll at once after the start


def test_a_task_missing_from_the_list_is_read_on_its_own(em_server, make_em, clock):
    em_server.on("GET", "/api/tasks", tasks_reply(task_xml(1, "Finished", True)))
    em_server.on("GET", "/api/tasks/task-2", xml(200, task_xml(2, "Finished", True)))
    with make_em() as em:
        results = em.wait_tasks({"a": {"id": "task-1"}, "b": {"id": "task-2"}}, poller(clock))
    assert {k: r.value["state"] for k, r in results.items()} == {"a": "Finished", "b": "Finished"}
    assert em_server.count("GET", "/api/tasks") == 1 and em_server.count("GET", "/api/tasks/task-2") == 1


def test_one_task_is_read_on_its_own(em_server, make_em, clock):
    em_server.on("GET", "/api/tasks/task-1", xml(200, task_xml(1, "Finished", True)))
    with make_em() as em:
        result = em.wait_tasks({"a": {"id": "task-1", "state": "Running"}}, poller(clock), fresh=True)["a"]
    assert result.polls == 1 and em_server.count("GET", "/api/tasks") == 0
    assert result.history == [{"state": "Running", "elapsed": 0.0}, {"state": "Finished", "elapsed": 1.0}]
