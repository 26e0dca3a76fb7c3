#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: veeam_em_task
short_description: Delete a finished Veeam Backup Enterprise Manager task
version_added: 0.2.0
description:
  - Deletes an Enterprise Manager task (C(DELETE /api/tasks/{id})) once it has C(Finished), such as the task of a
    job start made by M(backupops.veeam.veeam_em_job_start) in a logon session of
    M(backupops.veeam.veeam_em_session). Enterprise Manager keeps the tasks of a logon session until the session
    ends; a play that starts many jobs in one long session can tidy them up as it goes.
  - A task that has not finished is never deleted (deleting it would stop the operation it stands for); with
    O(wait=true) the module awaits it first.
  - To read or await a task without changing anything, use M(backupops.veeam.veeam_task_info).
author:
  - backupops maintainers (@backupops)
options:
  task_id:
    description: The task's id, such as V(task-7).
    type: str
    required: true
  state:
    description:
      - V(absent) deletes the task. A task the logon session does not have (deleted already, or an unknown id) is
        left as it is (C(changed=false)).
    type: str
    choices: [absent]
    default: absent
  wait:
    description:
      - Wait until the task is C(Finished) before deleting it. Without it, a task that is still C(Running) or
        C(OperationFinished) fails the module, and nothing is deleted.
      - Never waits in check mode.
    type: bool
    default: true
extends_documentation_fragment:
  - backupops.veeam.em
  - backupops.veeam.wait
  - backupops.veeam.attributes
  - backupops.veeam.attributes.em_group
attributes:
  idempotent:
    description: Running the task twice in a row gives the same end state without a second change.
    support: full
    details:
      - The second run finds the task gone and reports C(changed=false).
notes:
  - Tasks belong to the logon session that created them, so O(session_token) (of that session) is required; a new
    logon sees none of another session's tasks.
seealso:
  - module: backupops.veeam.veeam_task_info
  - module: backupops.veeam.veeam_em_session
"""

EXAMPLES = r"""
- name: Start two jobs in one logon session, then delete their tasks
  hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Log on once
      backupops.veeam.veeam_em_session:
      register: em
      no_log: true

    - name: Start the jobs
      backupops.veeam.veeam_em_job_start:
        job_name: "{{ item }}"
        wait: false
        session_token: "{{ em.session_token }}"
      loop: [Daily SQL Backup, Exchange Backup]
      register: started

    - name: Delete each start task once it has finished
      backupops.veeam.veeam_em_task:
        task_id: "{{ item.task.id }}"
        state: absent
        session_token: "{{ em.session_token }}"
      loop: "{{ started.results | selectattr('task', 'defined') | list }}"
      loop_control:
        label: "{{ item.task.id }}"

    - name: Log off
      backupops.veeam.veeam_em_session:
        state: absent
        session_token: "{{ em.session_token }}"
"""

RETURN = r"""
task:
  description: The task as it was last read, before it was deleted (the keys of docs/vocabulary.md's task).
  returned: when the logon session had the task
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
      sample: OperationFinished
elapsed:
  description: Seconds spent waiting for the task to finish.
  returned: when the module waited
  type: float
  sample: 1.5
history:
  description: The states seen while waiting, with the seconds elapsed when each was first seen.
  returned: when the module waited
  type: list
  elements: dict
  sample: [{"state": "Running", "elapsed": 0.0}, {"state": "Finished", "elapsed": 1.5}]
msg:
  description: What happened, in words.
  returned: always
  type: str
  sample: Deleted task task-7 (StartJob, Finished)
"""

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils._errors import NotFoundError, UsageError
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule


def delete_task(module):
    p = module.params
    task_id = (p["task_id"] or "").strip()
    if not task_id:
        raise UsageError("task_id is empty: give the id of a task, such as task-7")
    if not p["session_token"]:
        raise UsageError("session_token is required: tasks belong to the logon session that created them, and a new "
                         "logon has none; log on with backupops.veeam.veeam_em_session and start the job with its "
                         "session_token")
    result = {"changed": False}
    with module.client() as em:
        try:
            task = em.get_task(task_id)
        except NotFoundError:
            result["msg"] = "Task %s is not in this logon session (deleted already, or an unknown id)" % task_id
            return result
        if not _em.task_done(task):
            if not p["wait"]:
                raise UsageError("Task %s (%s) is %s: deleting it would stop the operation, so it was not deleted; "
                                 "wait: true awaits it first" % (task_id, task.get("operation"), task.get("state")),
                                 details={"task": _em.public_task(task)})
            if module.check_mode:
                return dict(result, changed=True, task=_em.public_task(task),
                            msg="Would delete task %s (%s) once it has finished (it is %s)" % (
                                task_id, task.get("operation"), task.get("state")))
            waited = em.wait_task(task, module.poller())
            task = module.finish_wait(waited, result, "Task %s" % task_id, {"task": _em.public_task(waited.value)},
                                      hint="Run this task again with the same session_token to go on waiting")
        result["task"] = _em.public_task(task)
        what = "task %s (%s, %s)" % (task_id, task.get("operation"), task.get("state"))
        if module.check_mode:
            return dict(result, changed=True, msg="Would delete " + what)
        em.delete_task(task_id)
    return dict(result, changed=True, msg="Deleted " + what)


def main():
    module = VeeamModule(
        _em.CONNECTION,
        {
            "task_id": {"type": "str", "required": True},
            "state": {"type": "str", "default": "absent", "choices": ["absent"]},
        },
        wait=True,
        supports_check_mode=True,
    )
    module.run(delete_task)


if __name__ == "__main__":
    main()
