#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: veeam_em_job_state
short_description: Start, stop, retry, enable or disable a Veeam job through Enterprise Manager, and await it
version_added: 0.2.0
description:
  - Brings a job of Veeam Backup & Replication into the O(state) asked for, through the Veeam Backup Enterprise
    Manager REST API - a backup, replication, backup copy, file share (NAS) or agent job, found by id or by exact
    name, or several jobs at once with O(jobs).
  - V(started) starts the job unless it runs already, the way M(backupops.veeam.veeam_em_job_start) does (that
    module is this one with O(state=started)).
  - V(stopped) stops a running job (C(?action=stop); file share jobs C(/nas/jobs/{id}/stop); a backup copy job,
    which has no stop action of its own, through its running session's C(Stop) link,
    C(/backupSessions/{id}?action=stop)) and by default waits until its session has stopped. A job that does
    not run is left alone.
  - V(retried) retries a job whose last session ended C(Failed) (Enterprise Manager refuses a retry otherwise, and
    check mode predicts the same) and by default awaits the retry's session. A job whose last run did not fail is
    left alone. Backup copy jobs have no retry; the module fails before anything is sent.
  - V(enabled) and V(disabled) decide whether the job runs on its schedule. Enterprise Manager has no "enable"
    and "disable", only C(?action=toggleScheduleEnabled), which turns the schedule to the other state. The module
    therefore reads the job's C(ScheduleEnabled) first and toggles only a job that is not in the asked state; it
    reads the job again right before the toggle (another operator may have changed it), never toggles twice, and
    awaits the toggle's task so that the next read sees the new state. A job already in the state is left alone.
author:
  - backupops maintainers (@backupops)
options:
  state:
    description:
      - V(started) - the job runs; it is started unless it is running already (see O(if_running)).
      - V(stopped) - the job does not run; it is stopped if it does.
      - V(retried) - a job whose last session failed is retried; others are left alone.
      - V(enabled) or V(disabled) - the job runs on its schedule, or not. A disabled job can still be started.
    type: str
    choices: [started, stopped, retried, enabled, disabled]
    default: started
  wait:
    description:
      - Wait for the job, as O(wait_for) says. With V(false) the module returns as soon as Enterprise Manager
        accepted the action, with the task id.
      - With O(state=enabled) or O(state=disabled) the toggle's task is awaited whatever O(wait) says.
      - Never waits in check mode.
    type: bool
    default: true
  wait_for:
    description:
      - V(task) waits until the Enterprise Manager task of the action is C(Finished), that is until the backup
        server took the action. It fails when the task reports no success.
      - V(session) waits until the job's backup session has stopped - the session a start or retry made, or the
        running session a stop was sent to - and fails when a started or retried run ends C(Failed) (or
        C(Warning), with O(fail_on_warning)).
      - The default is V(task) with O(state=started) (as M(backupops.veeam.veeam_em_job_start)), and V(session)
        with O(state=stopped) and O(state=retried) (until the stop took effect, the retry's run ended).
    type: str
    choices: [task, session]
extends_documentation_fragment:
  - backupops.veeam.em
  - backupops.veeam.em.jobs
  - backupops.veeam.wait
  - backupops.veeam.attributes
  - backupops.veeam.attributes.em_group
attributes:
  idempotent:
    description: Running the task twice in a row gives the same end state without a second change.
    support: partial
    details:
      - V(stopped), V(enabled) and V(disabled) change nothing when the job is in that state already; V(retried)
        changes nothing when the last run did not fail.
      - V(started) starts a job once while it runs; once its session has stopped, each run of the task starts the
        job anew, as a backup tool should.
notes:
  - The schedule toggle is never sent to a job whose schedule is in the asked state already, and never sent
    twice. If the connection breaks after a toggle was sent, the module reads the job's schedule state (and the
    logon session's tasks) to learn what happened instead of toggling again - a second toggle would undo the
    first.
  - Enterprise Manager has no "canceled" flag - a run stopped by someone ends with the result C(Failed)
    ("Job has been stopped by user."). With O(state=stopped), a session that ends C(Failed) counts as stopped; one
    that ends C(Success) or C(Warning) ended by itself before the stop took effect, which the module reports with
    a warning.
  - Enterprise Manager answers every action with a task and refuses an action it cannot do (stopping a job that
    no longer runs, retrying one that did not fail) in that task's result. When the job is then in the asked
    state anyway (another operator stopped it meanwhile), the module reports it with C(changed=false) and a
    warning; otherwise the task fails with Enterprise Manager's message.
  - The module never sends an action twice. If the connection breaks after an action was sent, it asks Enterprise
    Manager what happened (its task in this logon session, the job's sessions, the schedule state) before
    anything else.
  - Enterprise Manager tasks belong to the logon session that created them; to await a task later with
    M(backupops.veeam.veeam_task_info), log on once with M(backupops.veeam.veeam_em_session) and pass
    O(session_token) to both modules.
seealso:
  - module: backupops.veeam.veeam_em_job_start
  - module: backupops.veeam.veeam_em_job_info
  - module: backupops.veeam.veeam_em_session
  - module: backupops.veeam.veeam_task_info
  - name: Enterprise Manager REST API - Toggling the job schedule
    description: The toggle this module reads the schedule state around.
    link: https://helpcenter.veeam.com/docs/vbr/em_rest/post_jobs_id_action_togglescheduleenabled.html
"""

EXAMPLES = r"""
- name: Stop a job if it runs, and wait until its session has stopped
  backupops.veeam.veeam_em_job_state:
    server: em.example.com
    username: "{{ vault_em_username }}"
    password: "{{ vault_em_password }}"
    ca_path: /etc/pki/veeam-em-ca.pem
    job_name: Daily SQL Backup
    state: stopped

- name: Keep two jobs from running on their schedule (no change for a job that is disabled already)
  backupops.veeam.veeam_em_job_state:
    state: disabled
    jobs:
      - job_name: Daily SQL Backup
      - job_name: Shared Files Backup
        job_type: file_share

- name: Put the schedule back
  backupops.veeam.veeam_em_job_state:
    job_name: Daily SQL Backup
    state: enabled

- name: Retry a job whose last run failed, and wait for the retry's session
  backupops.veeam.veeam_em_job_state:
    job_name: File Server Backup
    state: retried
  register: retry

- name: Report how the retry went
  ansible.builtin.debug:
    msg: "{{ retry.msg }} ({{ retry.session.result | default('not retried') }})"

- name: Stop a backup copy job (through its running session)
  backupops.veeam.veeam_em_job_state:
    job_name: Offsite Backup Copy
    job_type: backup_copy
    state: stopped

- name: Start a job, with one logon for the play and the connection from module_defaults
  module_defaults:
    group/backupops.veeam.em:
      server: em.example.com
      session_token: "{{ em_logon.session_token }}"
  backupops.veeam.veeam_em_job_state:
    job_name: Exchange Backup
    state: started
    wait_for: session
"""

RETURN = r"""
job:
  description:
    - The job, with the keys of the collection's vocabulary (docs/vocabulary.md) - the same keys as the C(job) of
      M(backupops.veeam.veeam_m365_job_state) and M(backupops.veeam.veeam_vbr_job_state) - and Enterprise
      Manager's own beside them; read again after a schedule change (so RV(job.enabled) shows the new setting).
    - Not returned with O(jobs) (see RV(jobs)).
  returned: when one job is given; also on failure when the run failed, the wait timed out, or the job runs and
    O(if_running=fail)
  type: dict
  contains:
    id:
      description: The job's id (a GUID, lower case).
      type: str
      sample: 5658281f-625e-4627-89dd-d2a0c48be99e
    name:
      description: The job's name.
      type: str
      sample: Daily Backup
    type:
      description: The job's type in the collection's words - C(backup), C(replica), C(backup_copy), C(file_share)
        or C(agent), the values of O(job_type).
      type: str
      sample: backup
    veeam_type:
      description: Enterprise Manager's own name of the job type (C(Backup), C(Replica), C(BackupCopy),
        C(ImmediateBackupCopy), C(NasBackup), C(AgentBackup), ...).
      type: str
      sample: Backup
    description:
      description: The job's description.
      type: str
      sample: Nightly backup of the file servers
    enabled:
      description: Whether the job runs on its schedule (Enterprise Manager's C(ScheduleEnabled)); after
        O(state=enabled) or O(state=disabled), as read after the toggle.
      type: bool
      sample: true
    running:
      description: Always null here - a job entity does not say whether the job runs (RV(session) does, and
        M(backupops.veeam.veeam_em_job_info) fills it in from the latest session).
      type: bool
    last_result:
      description: Always null here (RV(session) has the result of the run; M(backupops.veeam.veeam_em_job_info)
        fills it in from the latest session).
      type: str
    last_run:
      description: Always null - Enterprise Manager does not say when a job last ran (see the C(creation_time) of its
        session).
      type: str
    next_run:
      description: The next scheduled run (UTC), when scheduled and enabled.
      type: str
      sample: "2026-11-22T22:00:00Z"
    uid:
      description: Enterprise Manager's UID of the job.
      type: str
      sample: urn:veeam:Job:5658281f-625e-4627-89dd-d2a0c48be99e
    platform:
      description: The platform of the job (C(VMware), C(HyperV), C(vCloud), C(AgentForWindows), ...), when known.
      type: str
      sample: VMware
    backup_server:
      description: The name of the backup server the job belongs to.
      type: str
      sample: vbr01.example.com
    backup_server_id:
      description: The id of that backup server.
      type: str
      sample: ce15a8c7-aa49-495e-b05b-ee3398c91018
    schedule_configured:
      description: Whether the job has a schedule at all (Enterprise Manager's C(ScheduleConfigured)).
      type: bool
      sample: true
    schedule_enabled:
      description: Enterprise Manager's name for C(enabled) (the same value).
      type: bool
      sample: true
task:
  description:
    - The Enterprise Manager task of the action - a start, stop, retry or schedule toggle (docs/vocabulary.md).
      Tasks belong to the logon session that created them.
    - Not returned when nothing was sent (C(changed=false)) or with O(jobs) (see RV(jobs)).
  returned: when an action was accepted
  type: dict
  contains:
    id:
      description: The task id, for M(backupops.veeam.veeam_task_info).
      type: str
      sample: task-7
    state:
      description: C(Running), C(OperationFinished) or C(Finished) (C(Lost) when the logon session expired while
        waiting and the task could no longer be read).
      type: str
      sample: Finished
    operation:
      description: The operation (C(StartJob), C(StopJob), C(StopJobSession) for a backup copy job, C(RetryJob),
        C(UpdateJob) for a schedule toggle, ...).
      type: str
      sample: StopJob
    success:
      description: Whether the task succeeded; null until it has a result.
      type: bool
      sample: true
    message:
      description: Enterprise Manager's message about the task.
      type: str
      sample: Job "Daily Backup" triggered to stop.
session:
  description:
    - The backup session of the job, when known - the one a start or retry made (with O(wait_for=session)), the
      running one a stop was sent to, or the one found running - with the keys of the collection's vocabulary
      (docs/vocabulary.md) and Enterprise Manager's own.
    - Not returned when it is not known, nor with O(jobs) (see RV(jobs)).
  returned: when known
  type: dict
  contains:
    id:
      description: The session's id (a GUID).
      type: str
      sample: d46e39e0-1131-4585-91a7-e828ce7eafae
    name:
      description: The session's name (the job's name and the start time).
      type: str
      sample: Daily Backup@2026-11-22 18:00:02
    job_id:
      description: The id of the job the session is a run of (the job's C(id)).
      type: str
      sample: 5658281f-625e-4627-89dd-d2a0c48be99e
    job_name:
      description: That job's name.
      type: str
      sample: Daily Backup
    state:
      description: C(Starting), C(Working), C(Stopping), C(Stopped), or another state Enterprise Manager reports
        (C(Pausing), C(Resuming), C(WaitingTape), ...).
      type: str
      sample: Stopped
    result:
      description: C(None) while the session runs, then C(Success), C(Warning) or C(Failed) (a stopped run ends
        C(Failed)).
      type: str
      sample: Failed
    message:
      description: Enterprise Manager's message about the run (C(Job has been stopped by user.) after a stop); null
        when none.
      type: str
      sample: Job has been stopped by user.
    canceled:
      description: Always null - Enterprise Manager does not say whether a run was stopped by someone.
      type: bool
    progress_percent:
      description: Percent done, 0 to 100.
      type: int
      sample: 100
    processed_objects:
      description: Always null - Enterprise Manager counts percent, not objects (see C(progress_percent)).
      type: int
    creation_time:
      description: When the session started (UTC).
      type: str
      sample: "2026-11-22T18:00:02Z"
    end_time:
      description: When the session ended (UTC); null while it runs.
      type: str
      sample: "2026-11-22T18:04:41Z"
    uid:
      description: Enterprise Manager's UID of the session.
      type: str
      sample: urn:veeam:BackupJobSession:d46e39e0-1131-4585-91a7-e828ce7eafae
    veeam_job_type:
      description: Enterprise Manager's C(JobType) of the session (C(Backup), C(Replica), ...).
      type: str
      sample: Backup
    failure_message:
      description: Enterprise Manager's name for C(message) (the same value).
      type: str
      sample: Job has been stopped by user.
    is_retry:
      description: Whether the session is a retry of a failed run.
      type: bool
      sample: false
elapsed:
  description:
    - Seconds from the action (or from finding the running session) to the end of the wait.
    - With O(jobs), those of the slowest job.
  returned: always
  type: float
  sample: 1.2
history:
  description: The states seen while waiting, with the seconds elapsed when each was first seen.
  returned: when the module waited for one job
  type: list
  elements: dict
  sample: [{"state": "Working", "elapsed": 0.0}, {"state": "Stopped/Failed", "elapsed": 1.2}]
last_state:
  description:
    - When the wait for one job ran out, the state it was last seen in (the last of RV(history)), such as C(Running) (a task) or C(Stopping) (a session).
  returned: when the wait for one job timed out
  type: str
  sample: Stopping
jobs:
  description:
    - One entry per job given in O(jobs), in the same order, as for a single job - RV(job), RV(task) (when an action
      was accepted), RV(session) (when known), RV(elapsed), C(changed), C(failed), C(msg) and, when the module
      waited, RV(history).
    - Also returned when the task fails (a job failed, or the wait timed out), with each job as far as it got.
    - Named C(jobs), not C(results), so that it does not clash with the C(results) of a loop (docs/vocabulary.md).
  returned: when O(jobs) is given
  type: list
  elements: dict
msg:
  description:
    - What happened, in words.
    - "With O(jobs), a count such as C(3 jobs: 2 disabled, 1 already disabled, 0 failed); when the task fails, the
      messages of the failed jobs follow."
  returned: always
  type: str
  sample: "Stopped job 'Daily Backup': session Daily Backup@2026-11-22 18:00:02 ended Failed (stopped) after 1.2 s"
error:
  description: On failure, what went wrong - C(kind), one word for it (docs/troubleshooting.md lists them), and
    the request that failed and what the server said (C(status), C(method), C(path), C(veeam_message), C(veeam_code)).
  returned: failure
  type: dict
  sample: {"kind": "forbidden", "status": 403, "method": "POST", "path": "/api/jobs/{id}", "veeam_message": "Access denied", "veeam_code": null}
"""

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule, jobs_spec


def bring_jobs(module):
    """Find the jobs and bring each into ``state``; await what the actions made."""
    state = module.params["state"]
    return module.bring_jobs(lambda em: _em.jobs_adapter(em, module.params, state), state,
                             inherited=("job_type", "backup_server"))


def main():
    module = VeeamModule(
        _em.CONNECTION,
        dict(_em.JOB_OPTIONS, jobs=jobs_spec(**_em.JOB_ENTRY_OPTIONS),
             state={"type": "str", "default": "started",
                    "choices": ["started", "stopped", "retried", "enabled", "disabled"]},
             wait_for={"type": "str", "choices": ["task", "session"]}),
        wait=True,
        mutually_exclusive=[["job_id", "job_name", "jobs"]],
        required_one_of=[["job_id", "job_name", "jobs"]],
        supports_check_mode=True,
    )
    module.run(bring_jobs)


if __name__ == "__main__":
    main()
