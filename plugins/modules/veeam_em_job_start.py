#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: veeam_em_job_start
short_description: Start a Veeam backup job through Enterprise Manager and await its task or backup session
version_added: 0.1.0
description:
  - Starts a job of Veeam Backup & Replication through the Veeam Backup Enterprise Manager REST API (a backup,
    replication, backup copy, file share (NAS) or agent job), found by id or by exact name.
  - Each job type is started the way Enterprise Manager documents it (backup and replica jobs with
    C(?action=start), backup copy jobs with C(?action=sync), file share jobs with C(/nas/jobs/{id}/start), agent
    jobs with C(/agents/jobs/{id}?action=start)).
  - Idempotent - a job that already has a running backup session is not started again (see O(if_running)).
  - Waits, by default, for the start task to finish (O(wait_for=task)) or for the backup session to end
    (O(wait_for=session)).
  - Starts several jobs at once with O(jobs), and awaits them together, so the whole run takes about as long as
    the slowest job.
author:
  - backupops maintainers (@backupops)
options:
  job_id:
    description:
      - The id of the job, as a GUID (V(5658281f-625e-4627-89dd-d2a0c48be99e)) or a UID
        (V(urn:veeam:Job:5658281f-625e-4627-89dd-d2a0c48be99e), also C(NasJob) and C(AgentBackupJob) UIDs).
      - Mutually exclusive with O(job_name) and O(jobs).
    type: str
  job_name:
    description:
      - The exact name of the job (case and spaces matter). Found with the Enterprise Manager query service, with
        the name quoted so that characters such as C("), C(;), C(,) or C(==) are part of the name.
      - When several jobs on different backup servers have this name, the module fails and lists them; choose
        with O(backup_server) or O(job_id).
    type: str
  jobs:
    description:
      - Several jobs to start in one task, each given like the single-job options. They are all found and
        checked before the first start, started one after the other, then awaited together.
      - The result has one entry per job in RV(jobs); the task fails if any job fails.
    type: list
    elements: dict
    suboptions:
      job_id:
        description: The id of the job, as for the module's O(job_id).
        type: str
      job_name:
        description: The exact name of the job, as for the module's O(job_name).
        type: str
      job_type:
        description: The job's type, as for the module's O(job_type); defaults to the module's O(job_type).
        type: str
        choices: [auto, backup, replica, backup_copy, file_share, agent]
      backup_server:
        description: The backup server of the job, as for the module's O(backup_server).
        type: str
  job_type:
    description:
      - The type of the job. V(auto) finds it (one to three lookups); any other value looks only there and skips
        the lookup of the type.
    type: str
    choices: [auto, backup, replica, backup_copy, file_share, agent]
    default: auto
  backup_server:
    description:
      - The name (or id) of the Veeam Backup & Replication server the job belongs to, to choose among jobs of the
        same name on different backup servers connected to Enterprise Manager.
    type: str
  if_running:
    description:
      - What to do when the job already has a running backup session.
      - V(skip) does not start it again and returns C(changed=false) with that session (and, with
        O(wait_for=session), awaits it).
      - V(fail) fails before anything is started.
    type: str
    choices: [skip, fail]
    default: skip
  wait:
    description:
      - Wait for the job, as O(wait_for) says. With V(false) the module returns as soon as Enterprise Manager
        accepted the start, with the task id.
      - Never waits in check mode.
    type: bool
    default: true
  wait_for:
    description:
      - V(task) waits until the Enterprise Manager task of the start is C(Finished), that is until the job was
        triggered on the backup server. It fails when the task reports no success.
      - V(session) waits until the job's backup session has stopped, and fails when its result is C(Failed) (or
        C(Warning), with O(fail_on_warning)).
    type: str
    choices: [task, session]
    default: task
  fail_on_warning:
    description:
      - With O(wait_for=session), fail when the session ends with the result C(Warning). Otherwise a warning
        result is reported as a warning and the task succeeds.
    type: bool
    default: false
extends_documentation_fragment:
  - backupops.veeam.em
  - backupops.veeam.wait
  - backupops.veeam.attributes
  - backupops.veeam.attributes.em_group
attributes:
  idempotent:
    description: Running the task twice in a row starts the job once, as long as the first run is still going.
    support: partial
    details: A job whose backup session is running is not started again (O(if_running=skip)); once the session
      has stopped, each run of the task starts the job anew, as a backup tool should.
notes:
  - Enterprise Manager tasks belong to the logon session that created them. When the module logs on by itself,
    that session ends with the module, so to await a task later with M(backupops.veeam.veeam_task_info) log on
    once with M(backupops.veeam.veeam_em_session) and pass O(session_token) to both modules.
  - If the logon session expires while the module waits for a task (Enterprise Manager ends idle sessions
    after 15 minutes), the module logs on again; the task then belongs to the expired session, so the module
    awaits the job's backup session instead and warns about it.
  - If the connection breaks after the start was sent, the module asks Enterprise Manager whether the job
    started before doing anything else; it never sends the start twice.
seealso:
  - module: backupops.veeam.veeam_task_info
  - module: backupops.veeam.veeam_em_job_info
  - module: backupops.veeam.veeam_em_session
  - name: Enterprise Manager REST API - Starting a job
    description: The documented flow this module follows.
    link: https://helpcenter.veeam.com/docs/vbr/em_rest/scenario_starting_a_job.html
"""

EXAMPLES = r"""
- name: Start a backup job by name and wait until it was triggered
  backupops.veeam.veeam_em_job_start:
    server: em.example.com
    username: "{{ vault_em_username }}"
    password: "{{ vault_em_password }}"
    ca_path: /etc/pki/veeam-em-ca.pem
    job_name: Daily SQL Backup

- name: Start a job and wait until its backup session has ended (fail on Failed, and on Warning)
  backupops.veeam.veeam_em_job_start:
    job_name: SQL Replication
    wait_for: session
    fail_on_warning: true
    wait_timeout: 7200
  register: run

- name: Report how it went
  ansible.builtin.debug:
    msg: "{{ run.job.name }}: {{ run.session.result }} after {{ run.elapsed }} s"

- name: Start a file share job by id without waiting, connection from module_defaults
  module_defaults:
    group/backupops.veeam.em:
      server: em.example.com
      username: "{{ vault_em_username }}"
      password: "{{ vault_em_password }}"
  backupops.veeam.veeam_em_job_start:
    job_id: f56f22d7-51fa-4916-a0d5-2faf2aa62ce2
    job_type: file_share
    wait: false

- name: Two jobs with the same name on different backup servers - pick one
  backupops.veeam.veeam_em_job_start:
    job_name: Nightly Backup
    backup_server: vbr02.lab.local

- name: Start several jobs together and wait for all of their sessions
  backupops.veeam.veeam_em_job_start:
    jobs:
      - job_name: Daily SQL Backup
      - job_name: Nightly Backup
        backup_server: vbr02.lab.local
      - job_id: 5149dacc-18e9-4cc6-88f5-a719d5ad0c31
    wait_for: session
  register: nightly

- name: Credentials from the environment (VEEAM_EM_SERVER, VEEAM_EM_USERNAME, VEEAM_EM_PASSWORD, VEEAM_EM_CA_PATH)
  backupops.veeam.veeam_em_job_start:
    job_name: Daily SQL Backup
"""

RETURN = r"""
job:
  description:
    - The job, with the keys of the collection's vocabulary (docs/vocabulary.md) - the same keys as the C(job) of
      M(backupops.veeam.veeam_m365_job_state) and M(backupops.veeam.veeam_vbr_job_state) - and Enterprise
      Manager's own beside them.
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
      sample: Daily SQL Backup
    type:
      description: The job's type in the collection's words - C(backup), C(replica), C(backup_copy), C(file_share)
        or C(agent), the values of O(backupops.veeam.veeam_em_job_start#module:job_type).
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
      sample: Nightly backup of the SQL servers
    enabled:
      description: Whether the job runs on its schedule (Enterprise Manager's C(ScheduleEnabled)).
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
      description: The next scheduled run (UTC), when scheduled.
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
      description: Whether the job has a schedule (Enterprise Manager's C(ScheduleConfigured)).
      type: bool
      sample: true
    schedule_enabled:
      description: Enterprise Manager's name for C(enabled) (the same value).
      type: bool
      sample: true
task:
  description:
    - The Enterprise Manager task of the start (docs/vocabulary.md). Tasks belong to the logon session that created
      them.
    - Not returned when nothing was started (C(changed=false)) or with O(jobs) (see RV(jobs)).
  returned: when a start was accepted
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
      description: The operation (C(StartJob), C(StartJobSync), C(StartNasJob), ...).
      type: str
      sample: StartJob
    success:
      description: Whether the task succeeded; null until it has a result.
      type: bool
      sample: true
    message:
      description: Enterprise Manager's message about the task.
      type: str
      sample: Job "Daily SQL Backup" triggered to start.
session:
  description:
    - The backup session of the run - the one started, with O(wait_for=session), or the one that was already
      running - with the keys of the collection's vocabulary (docs/vocabulary.md) and Enterprise Manager's own.
    - Not returned when it is not known (O(wait_for=task) of a job that was not running), nor with O(jobs) (see
      RV(jobs)).
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
      sample: Daily SQL Backup@2026-11-22 18:00:02
    job_id:
      description: The id of the job the session is a run of (the job's C(id)).
      type: str
      sample: 5658281f-625e-4627-89dd-d2a0c48be99e
    job_name:
      description: That job's name.
      type: str
      sample: Daily SQL Backup
    state:
      description: C(Starting), C(Working), C(Stopping), C(Stopped), or another state Enterprise Manager reports
        (C(Pausing), C(Resuming), C(WaitingTape), ...).
      type: str
      sample: Stopped
    result:
      description: C(None) while the session runs, then C(Success), C(Warning) or C(Failed).
      type: str
      sample: Success
    message:
      description: Enterprise Manager's message about the run (why it failed or warned); null when none.
      type: str
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
    is_retry:
      description: Whether the session is a retry of a failed run.
      type: bool
      sample: false
elapsed:
  description:
    - Seconds from the start (or from finding the running session) to the end of the wait.
    - With O(jobs), those of the slowest job.
  returned: always
  type: float
  sample: 4.2
history:
  description: The states seen while waiting, with the seconds elapsed when each was first seen.
  returned: when the module waited for one job
  type: list
  elements: dict
  sample: [{"state": "Running", "elapsed": 0.1}, {"state": "Finished", "elapsed": 2.3}]
last_state:
  description:
    - When the wait for one job ran out, the state it was last seen in (the last of RV(history)), such as C(Running) (a task) or C(Working) (a session).
  returned: when the wait for one job timed out
  type: str
  sample: Working
jobs:
  description:
    - One entry per job given in O(jobs), in the same order, as for a single job - RV(job), RV(task) (when a start
      was accepted), RV(session)
      (when known), RV(elapsed), C(changed), C(failed), C(msg) and, when the module waited, RV(history).
    - Also returned when the task fails (a job failed, or the wait timed out), with each job as far as it got.
    - Named C(jobs), not C(results), so that it does not clash with the C(results) of a loop (docs/vocabulary.md).
  returned: when O(jobs) is given
  type: list
  elements: dict
msg:
  description:
    - What happened, in words.
    - "With O(jobs), a count such as C(3 jobs: 2 started, 1 already running, 0 failed); when the task fails, the
      messages of the failed jobs follow."
  returned: always
  type: str
  sample: Started job 'Daily SQL Backup' (task task-7 Finished after 2.3 s)
error:
  description: On failure, what went wrong - C(kind), one word for it (docs/troubleshooting.md lists them), and
    the request that failed and what the server said (C(status), C(method), C(path), C(veeam_message), C(veeam_code)).
  returned: failure
  type: dict
  sample: {"kind": "not_found", "status": 404, "method": "GET", "path": "/api/jobs/{id}", "veeam_message": null, "veeam_code": null}
"""

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule, jobs_spec


def start_jobs(module):
    """veeam_em_job_state with state: started - find the jobs, start those that do not run, and await their tasks or
    backup sessions."""
    return module.bring_jobs(lambda em: _em.jobs_adapter(em, module.params, "started"), "started",
                             inherited=("job_type", "backup_server"))


def main():
    module = VeeamModule(
        _em.CONNECTION,
        dict(_em.JOB_OPTIONS, jobs=jobs_spec(**_em.JOB_ENTRY_OPTIONS),
             wait_for={"type": "str", "default": "task", "choices": ["task", "session"]}),
        wait=True,
        mutually_exclusive=[["job_id", "job_name", "jobs"]],
        required_one_of=[["job_id", "job_name", "jobs"]],
        supports_check_mode=True,
    )
    module.run(start_jobs)


if __name__ == "__main__":
    main()
