#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: veeam_task_info
short_description: Read, or await, a Veeam Backup Enterprise Manager task
version_added: 0.1.0
description:
  - Reads an Enterprise Manager task (C(GET /api/tasks/{id})), such as the task of a job start made by
    M(backupops.veeam.veeam_em_job_start) with O(backupops.veeam.veeam_em_job_start#module:wait=false), and
    optionally waits until it has C(Finished).
  - Enterprise Manager tasks belong to the logon session that created them, so give the O(session_token) of
    that session (from M(backupops.veeam.veeam_em_session)). A new logon cannot see the task, and the module
    says so.
  - A task goes C(Running), then C(OperationFinished) (done on the backup server, Enterprise Manager has not
    collected the outcome yet), then C(Finished), with C(success) and Enterprise Manager's message.
author:
  - backupops maintainers (@backupops)
options:
  task_id:
    description: The task's id, such as V(task-7).
    type: str
    required: true
  wait:
    description:
      - Wait until the task is C(Finished), then fail if it reports no success.
      - Never waits in check mode.
    type: bool
    default: false
  delete:
    description:
      - Deprecated, to be removed in 1.0.0 - an C(_info) module should change nothing. Use
        M(backupops.veeam.veeam_em_task) with O(backupops.veeam.veeam_em_task#module:state=absent), which reports
        the deletion as a change and can await the task first.
      - Delete the task from Enterprise Manager (C(DELETE /api/tasks/{id})) once it has finished. A task that is
        not finished is not deleted (deleting it would stop the operation).
      - Not done in check mode.
    type: bool
extends_documentation_fragment:
  - backupops.veeam.em
  - backupops.veeam.wait
  - backupops.veeam.attributes.info_module
  - backupops.veeam.attributes.em_group
notes:
  - This module never reports C(changed=true); deleting a finished task is housekeeping, shown in RV(deleted).
seealso:
  - module: backupops.veeam.veeam_em_job_start
  - module: backupops.veeam.veeam_em_session
  - module: backupops.veeam.veeam_em_task
"""

EXAMPLES = r"""
- name: Await the start task of a job, in the logon session that started it
  backupops.veeam.veeam_task_info:
    server: em.example.com
    session_token: "{{ em.session_token }}"
    task_id: "{{ started.task.id }}"
    wait: true
    wait_timeout: 600
  register: task

- name: Read a task once
  backupops.veeam.veeam_task_info:
    session_token: "{{ em.session_token }}"
    task_id: "{{ started.task.id }}"

# Ad-hoc, with the server and CA from the environment (VEEAM_EM_SERVER, VEEAM_EM_CA_PATH):
#   ansible localhost -m backupops.veeam.veeam_task_info -a 'task_id=task-7 session_token=...'
"""

RETURN = r"""
task:
  description: The task.
  returned: success
  type: dict
  contains:
    id:
      description: The task id.
      type: str
      sample: task-7
    state:
      description: C(Running), C(OperationFinished) or C(Finished).
      type: str
      sample: Finished
    operation:
      description: The operation (C(StartJob), C(StartJobSync), C(StartNasJob), C(StopJob), ...).
      type: str
      sample: StartJob
    success:
      description: Whether the task succeeded; null until it has a result.
      type: bool
      sample: true
    message:
      description: Enterprise Manager's message.
      type: str
      sample: Job "Daily Backup" triggered to start.
elapsed:
  description: Seconds spent waiting.
  returned: when O(wait=true)
  type: float
history:
  description: The states seen while waiting, with the seconds elapsed when each was first seen.
  returned: when O(wait=true)
  type: list
  elements: dict
deleted:
  description: Whether the task was deleted (with the deprecated O(delete) only).
  returned: always
  type: bool
msg:
  description: What happened.
  returned: always
  type: str
error:
  description: On failure, what went wrong - C(kind), one word for it (docs/troubleshooting.md lists them), and
    the request that failed and what the server said (C(status), C(method), C(path), C(veeam_message), C(veeam_code)).
  returned: failure
  type: dict
  sample: {"kind": "not_found", "status": 404, "method": "GET", "path": "/api/tasks/{id}", "veeam_message": null, "veeam_code": null}
"""

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils._errors import JobFailedError, UsageError
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule


def task_info(module):
    p = module.params
    task_id = (p["task_id"] or "").strip()
    if not task_id:
        raise UsageError("task_id is empty: give the id of a task, such as task-7")
    result = {"changed": False, "deleted": False}
    with module.client() as em:
        task = em.get_task(task_id)
        if p["wait"] and not module.check_mode and not _em.task_done(task):
            waited = em.wait_task(task, module.poller())
            task = module.finish_wait(waited, result, "Task %s" % task_id, {"task": _em.public_task(waited.value)},
                                      hint="Run this task again with the same session_token to go on waiting")
        elif p["wait"]:
            result.update(elapsed=0.0, history=[{"state": task.get("state"), "elapsed": 0.0}])
        if p["delete"] and _em.task_done(task) and not module.check_mode:
            em.delete_task(task_id)
            result["deleted"] = True
    result["task"] = _em.public_task(task)
    result["msg"] = "Task %s (%s) is %s%s" % (task_id, task.get("operation"), task.get("state"),
                                              ": %s" % task["message"] if task.get("message") else "")
    if p["wait"] and not module.check_mode and task.get("success") is False:
        reason = task.get("message") or "no message"
        text = "Task %s (%s) finished without success: %s" % (task_id, task.get("operation"), reason)
        raise JobFailedError(text, details={k: v for k, v in result.items() if k != "msg"})
    return result


def main():
    module = VeeamModule(
        _em.CONNECTION,
        {
            "task_id": {"type": "str", "required": True},
            "delete": {"type": "bool", "removed_in_version": "1.0.0",
                       "removed_from_collection": "backupops.veeam"},
        },
        wait=False,
        supports_check_mode=True,
    )
    module.run(task_info)


if __name__ == "__main__":
    main()
