#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: veeam_vbr_job_state
short_description: Start, stop, retry, enable or disable a Veeam Backup & Replication job, and await its session
version_added: 0.2.0
description:
  - Brings a job of Veeam Backup & Replication (VBR) 12 or 13 into the O(state) asked for through the backup server's
    own REST API (port 9419), with no Enterprise Manager needed.
  - V(started) starts the job unless it runs already, and by default waits until the session the start made has
    stopped. The task fails when the session ends C(Failed) (or C(Warning), with O(fail_on_warning)).
  - V(stopped) stops a running job and by default waits until its session has stopped; a job that does not run is
    left alone.
  - V(retried) retries a job whose last run failed (VBR 13, REST API revision V(1.3-rev0) or later) and awaits the
    retry's session; a job whose last run did not fail is left alone.
  - V(enabled) and V(disabled) decide whether the job runs on its schedule; a job already in that state is left
    alone.
  - The job is found by O(job_id) or its exact O(job_name); several jobs are brought into the state in one task with
    O(jobs) - one login, every job found and checked first, the actions sent one after the other, and the runs
    awaited together, so the task takes about as long as the slowest job.
author:
  - backupops maintainers (@backupops)
options:
  job_id:
    description:
      - The id of the job (a GUID, such as V(9b2e4d70-1c3a-4f5e-8d90-000000000001)).
      - Mutually exclusive with O(job_name) and O(jobs).
    type: str
  job_name:
    description:
      - The exact name of the job (case, spaces and quotes matter). When several jobs have this name, the module
        fails and lists their ids.
      - Mutually exclusive with O(job_id) and O(jobs).
    type: str
  jobs:
    description:
      - Several jobs to bring into O(state) in one task, each given like the single-job options.
      - Every job is found and checked (unknown or ambiguous names, a job given twice) before the first action is
        sent. A job that is already in the state is left alone; an action VBR refuses fails that job only.
      - The result has one entry per job in RV(jobs); the task fails if any job fails.
      - Mutually exclusive with O(job_id) and O(job_name).
    type: list
    elements: dict
    suboptions:
      job_id:
        description: The id of the job, as for the module's O(job_id).
        type: str
      job_name:
        description: The exact name of the job, as for the module's O(job_name).
        type: str
      full:
        description: Run an active full backup of this job, as for the module's O(full); the module's O(full) when
          not given.
        type: bool
  state:
    description:
      - V(started) - the job runs; it is started unless it is running already (see O(if_running)).
      - V(stopped) - the job does not run; it is stopped if it does.
      - V(retried) - a job whose last run failed is retried; others are left alone.
      - V(enabled) or V(disabled) - the job runs on its schedule, or not. A disabled job can still be started.
    type: str
    choices: [started, stopped, retried, enabled, disabled]
    default: started
  full:
    description:
      - With O(state=started), run an active full backup (the start's C(performActiveFull)).
    type: bool
    default: false
  if_running:
    description:
      - With O(state=started), what to do when the job is running already.
      - V(skip) does not start it again and returns C(changed=false) with its running session (and awaits it with
        O(wait)).
      - V(fail) fails before anything is sent.
    type: str
    choices: [skip, fail]
    default: skip
  wait:
    description:
      - Wait until the session the action made (or, with O(state=started) and a running job, the running session)
        has stopped, then judge its result.
      - A session state this module does not know (a later VBR may add some) counts as still running.
      - Has no effect with O(state=enabled) or O(state=disabled). Never waits in check mode.
    type: bool
    default: true
  fail_on_warning:
    description:
      - With O(wait), fail when the session ends with the result C(Warning). Otherwise the warning is reported as an
        Ansible warning and the task succeeds.
    type: bool
    default: false
extends_documentation_fragment:
  - backupops.veeam.vbr
  - backupops.veeam.wait
  - backupops.veeam.attributes
  - backupops.veeam.attributes.vbr_group
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
  - The module never sends an action twice. If the connection breaks after an action was sent, the module asks VBR
    what happened (a start took effect when the job names a newer session or runs) before anything else; when the
    answer was late rather than cut off, it looks for as long again as O(timeout) (30 s at most) and otherwise
    fails saying that VBR may still carry the action out.
  - If VBR refuses an action because another operator did the same meanwhile (the job runs, or stopped), the module
    reports the job as it is then, with C(changed=false) and a warning.
  - "A start that VBR answers with HTTP 204 (newer servers, a job with nothing to process) made no session: the task
    reports C(changed=true) and warns, and there is nothing to await."
  - Job and session enums change case between revisions (C(running) up to V(1.3-rev0), C(Running) from
    V(1.3-rev1)); the module compares them without regard to case.
seealso:
  - module: backupops.veeam.veeam_vbr_job_info
  - module: backupops.veeam.veeam_vbr_session_info
  - name: VBR REST API reference - Jobs
    description: The job actions this module sends.
    link: https://helpcenter.veeam.com/references/vbr/13/rest/1.3-rev1/tag/Jobs
"""

EXAMPLES = r"""
- name: Start a backup job and wait until its session has stopped (fails if it fails)
  backupops.veeam.veeam_vbr_job_state:
    server: vbr.example.com
    username: "{{ vault_vbr_username }}"
    password: "{{ vault_vbr_password }}"
    ca_path: /etc/pki/vbr-ca.pem
    job_name: VBR Daily Backup
  register: run

- name: Report how it went
  ansible.builtin.debug:
    msg: "{{ run.job.name }}: {{ run.session.result }} after {{ run.elapsed }} s"

- name: An active full backup, without waiting
  backupops.veeam.veeam_vbr_job_state:
    job_name: VBR SQL Backup
    full: true
    wait: false

- name: Retry the jobs whose last run failed (VBR 13); the others are left alone
  backupops.veeam.veeam_vbr_job_state:
    state: retried
    jobs:
      - job_name: VBR Failing Job
      - job_name: VBR Daily Backup

- name: Stop a job if it runs, and wait until its session has stopped
  backupops.veeam.veeam_vbr_job_state:
    job_name: VBR Long Running
    state: stopped

- name: Keep a job from running on its schedule (no change if it is disabled already)
  backupops.veeam.veeam_vbr_job_state:
    job_name: VBR Daily Backup
    state: disabled

- name: Start three jobs with one login and wait for all of them, connection from module_defaults
  module_defaults:
    group/backupops.veeam.vbr:
      server: vbr.example.com
      username: "{{ vault_vbr_username }}"
      password: "{{ vault_vbr_password }}"
      api_version: 1.2-rev1
  backupops.veeam.veeam_vbr_job_state:
    jobs:
      - job_name: VBR Daily Backup
      - job_name: VBR SQL Backup
        full: true
      - job_id: 9b2e4d70-1c3a-4f5e-8d90-000000000004
    wait_timeout: 7200
  register: nightly
"""

RETURN = r"""
job:
  description:
    - The job, with the keys of the collection's vocabulary (docs/vocabulary.md) - the same keys as the C(job) of
      M(backupops.veeam.veeam_em_job_start) and M(backupops.veeam.veeam_m365_job_state) - and VBR's own beside
      them - its state from C(/api/v1/jobs/states), read again after a change.
    - Not returned with O(jobs) (see RV(jobs)).
  returned: success, and on failure when the run ended badly or the wait timed out
  type: dict
  contains:
    id:
      description: The job's id.
      type: str
      sample: 9b2e4d70-1c3a-4f5e-8d90-000000000001
    name:
      description: The job's name.
      type: str
      sample: VBR Daily Backup
    type:
      description: The job's type in the collection's words (C(backup), C(replica), C(backup_copy), C(file_share),
        C(file_share_copy), C(object_storage), C(agent)), or VBR's own name in lower case when the collection has no
        word for it.
      type: str
      sample: backup
    veeam_type:
      description: VBR's name of the job type (C(VSphereBackup), C(HyperVBackup), C(BackupCopy), ...; C(Backup) in
        revision V(1.1-rev0)).
      type: str
      sample: VSphereBackup
    description:
      description: The job's description.
      type: str
      sample: Nightly backup of the file servers
    enabled:
      description: Whether the job runs on its schedule (not VBR's C(isDisabled), or from its C(status)); null when
        VBR did not say (a running job whose settings were not read).
      type: bool
      sample: true
    running:
      description: Whether a run of the job goes on (its status is C(Running), C(Starting) or C(Stopping)).
      type: bool
      sample: false
    last_result:
      description: The result of the job's last run - C(Success), C(Warning) or C(Failed), capitalised in every
        revision; null when the job never ran (VBR says C(None)).
      type: str
      sample: Success
    last_run:
      description: When the last run started.
      type: str
      sample: "2026-12-04T16:20:00+01:00"
    next_run:
      description: The next scheduled run, when scheduled.
      type: str
      sample: "2026-12-04T22:00:00+01:00"
    status:
      description: VBR's own status of the job (C(running), C(inactive), C(disabled); capitalised from V(1.3-rev1),
        which adds C(Starting), C(Stopping), C(Stopped), C(Enabled)).
      type: str
      sample: Inactive
    last_session_id:
      description: The id of the job's last session.
      type: str
      sample: c5b4f2b4-8d5e-4b7e-a1cf-6c7f0d7a2e11
    workload:
      description: What the job protects (C(Vm), C(Application), C(Server), C(Workstation), ...).
      type: str
      sample: Vm
    repository_name:
      description: The job's backup repository.
      type: str
      sample: Default Backup Repository
    objects_count:
      description: The number of objects the job processes.
      type: int
      sample: 2
session:
  description:
    - The session of the run - the one the action made, or the running one that was found - with the keys of the
      collection's vocabulary (docs/vocabulary.md) and VBR's own.
    - Not returned when no session is known (enable, disable, a start VBR answered with no session), nor with
      O(jobs) (see RV(jobs)).
  returned: when known
  type: dict
  contains:
    id:
      description: The session's id, for M(backupops.veeam.veeam_vbr_session_info).
      type: str
      sample: c5b4f2b4-8d5e-4b7e-a1cf-6c7f0d7a2e11
    name:
      description: The session's name (VBR names it after the job).
      type: str
      sample: VBR Daily Backup
    job_id:
      description: The id of the job the session is a run of (C(activityId) in revision V(1.1-rev0)).
      type: str
      sample: 9b2e4d70-1c3a-4f5e-8d90-000000000001
    job_name:
      description: That job's name.
      type: str
      sample: VBR Daily Backup
    state:
      description: C(Starting), C(Working), C(Stopping), C(Stopped), or another state VBR reports, capitalised in every
        revision (V(1.2-rev1) sends C(working)).
      type: str
      sample: Stopped
    result:
      description: C(None) while it runs, then C(Success), C(Warning) or C(Failed), capitalised in every revision.
      type: str
      sample: Success
    message:
      description: VBR's explanation of the result; null when none.
      type: str
    canceled:
      description: Whether the session was stopped by someone before it ended by itself.
      type: bool
      sample: false
    progress_percent:
      description: Percent done, 0 to 100.
      type: int
      sample: 100
    processed_objects:
      description: Always null - VBR reports percent, not objects (see C(progress_percent)).
      type: int
    creation_time:
      description: When the session started.
      type: str
      sample: "2026-12-04T16:20:00+01:00"
    end_time:
      description: When the session stopped; null while it runs.
      type: str
      sample: "2026-12-04T16:23:12+01:00"
    veeam_type:
      description: VBR's session type (C(BackupJob); C(Job) in V(1.1-rev0)).
      type: str
      sample: BackupJob
elapsed:
  description:
    - Seconds from the action (or from finding the running job) to the end of the wait.
    - With O(jobs), those of the slowest job.
  returned: always
  type: float
  sample: 3.2
history:
  description: The session states seen while waiting, with the seconds elapsed when each was first seen.
  returned: when the module waited for one job
  type: list
  elements: dict
  sample: [{"state": "Starting", "elapsed": 0.0}, {"state": "Working", "elapsed": 1.0}, {"state": "Stopped", "elapsed": 3.2}]
last_state:
  description:
    - When the wait for one job ran out, the state it was last seen in (the last of RV(history)), such as C(Working).
  returned: when the wait for one job timed out
  type: str
  sample: Working
jobs:
  description:
    - One entry per job given in O(jobs), in the same order, as for a single job - RV(job), RV(session)
      (when known), RV(elapsed), C(changed), C(failed), C(msg) and, when the module waited, RV(history).
    - Also returned when the task fails (a job failed, or the wait timed out), with each job as far as it got.
    - Named C(jobs), not C(results), so that it does not clash with the C(results) of a loop (docs/vocabulary.md).
  returned: when O(jobs) is given
  type: list
  elements: dict
api_version:
  description: The REST API revision used (the one found with O(api_version=auto)).
  returned: always
  type: str
  sample: 1.3-rev1
msg:
  description:
    - What happened, in words.
    - "With O(jobs), a count such as C(3 jobs: 2 started, 1 already running, 0 failed); when the task fails, the
      messages of the failed jobs follow."
  returned: always
  type: str
  sample: "Started job 'VBR Daily Backup': session VBR Daily Backup ended Success after 3.2 s"
error:
  description: On failure, what went wrong - C(kind), one word for it (docs/troubleshooting.md lists them), and
    the request that failed and what the server said (C(status), C(method), C(path), C(veeam_message), C(veeam_code)).
  returned: failure
  type: dict
  sample: {"kind": "not_found", "status": 404, "method": "GET", "path": "/api/v1/jobs/{id}/start", "veeam_message": null, "veeam_code": null}
"""

from ansible_collections.backupops.veeam.plugins.module_utils import _vbr
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule, jobs_spec


def bring_jobs(module):
    """Find the jobs and bring each into ``state``; await the sessions the actions made."""
    return module.bring_jobs(_vbr.VbrJobs, module.params["state"], inherited=("full",))


def main():
    module = VeeamModule(
        _vbr.CONNECTION,
        {
            "job_id": {"type": "str"},
            "job_name": {"type": "str"},
            "jobs": jobs_spec(full={"type": "bool"}),
            "state": {"type": "str", "default": "started",
                      "choices": ["started", "stopped", "retried", "enabled", "disabled"]},
            "full": {"type": "bool", "default": False},
            "if_running": {"type": "str", "default": "skip", "choices": ["skip", "fail"]},
            "fail_on_warning": {"type": "bool", "default": False},
        },
        wait=True,
        mutually_exclusive=[["job_id", "job_name", "jobs"]],
        required_one_of=[["job_id", "job_name", "jobs"]],
        supports_check_mode=True,
    )
    module.run(bring_jobs)


if __name__ == "__main__":
    main()
