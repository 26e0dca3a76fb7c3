#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: veeam_m365_job_state
short_description: Enable, disable, start or stop a Veeam Backup for Microsoft 365 backup job, and await its run
version_added: 0.1.0
description:
  - Brings a backup job of Veeam Backup for Microsoft 365 (VB365) into the O(state) asked for, through the VB365
    REST API, in every API version from V(v2) (VBO 2.0) to V(v8) (VB365 8).
  - V(enabled) and V(disabled) decide whether the job runs on its schedule. A job already in that state is left
    alone.
  - V(started) starts the job unless it is already running (its last status is C(Queued) or C(Running)), and by
    default waits until the run ends. The task fails when the run ends C(Failed), C(NotConfigured) or
    C(Disconnected), or C(Warning) with O(fail_on_warning).
  - V(started) also takes several jobs at once with O(jobs) - one login for all of them, all started first and
    then awaited together, so the task takes about as long as the slowest job.
  - V(stopped) stops a running job and by default waits until it no longer runs. A job that is not running is
    left alone.
  - The job is found by O(job_id), or by its exact O(job_name) among all jobs (all pages of the list in V(v8)),
    optionally within one O(organization).
author:
  - backupops maintainers (@backupops)
options:
  job_id:
    description:
      - The id of the job (a GUID, such as V(3a6c1f10-5b1e-4e0a-9c11-000000000001)).
      - Mutually exclusive with O(job_name), O(jobs) and O(organization).
    type: str
  job_name:
    description:
      - The exact name of the job (case, spaces and quotes matter).
      - Jobs of different organizations may share a name; the module then fails and lists them with their
        organizations. Choose one with O(organization) or O(job_id).
      - Mutually exclusive with O(job_id) and O(jobs).
    type: str
  jobs:
    description:
      - With O(state=started), several jobs to start in one task, each given like the single-job options.
      - The module logs in once, finds every job and checks the whole list (unknown or ambiguous names, a job
        given twice, O(full) where the API version has no active full backup) before the first start, starts the
        jobs that are not running one after the other, then awaits all of them together (with O(wait)), so the
        task takes about as long as the slowest job. A job that is already running is not started again; its
        current run is awaited.
      - A start that VB365 answers with an error status fails that job only; the others are started and awaited.
        Any other error (connection, login, a lost answer that VB365 cannot settle) ends the task, and its message
        says which jobs were started before it.
      - The result has one entry per job in RV(jobs); the task fails if any job fails.
      - Mutually exclusive with O(job_id) and O(job_name). Only valid with O(state=started).
    type: list
    elements: dict
    suboptions:
      job_id:
        description: The id of the job, as for the module's O(job_id). Mutually exclusive with O(jobs[].job_name)
          and O(jobs[].organization).
        type: str
      job_name:
        description: The exact name of the job, as for the module's O(job_name).
        type: str
      organization:
        description: The organization of the job named O(jobs[].job_name), as for the module's O(organization);
          the module's O(organization) when not given.
        type: str
      full:
        description: Run an active full backup of this job, as for the module's O(full); the module's O(full)
          when not given.
        type: bool
  organization:
    description:
      - The organization of the job named O(job_name), given as its name (V(contoso.onmicrosoft.com)), its
        Microsoft 365 name (V(Contoso)) or its id; names are matched regardless of case.
      - Before V(v8) jobs do not say which organization they belong to, so the module reads
        C(/Organizations/{id}/Jobs) as well; in V(v8) the jobs carry C(organizationId).
      - With O(jobs), the organization of the entries that are given by name and do not set their own.
    type: str
  state:
    description:
      - V(enabled) or V(disabled) - the job runs on its schedule, or not. A disabled job can still be started.
      - V(started) - the job is running; it is started unless its last status is C(Queued) or C(Running).
      - V(stopped) - the job is not running; it is stopped if it is.
    type: str
    required: true
    choices: [enabled, disabled, started, stopped]
  full:
    description:
      - "With O(state=started), run an active full backup instead of an incremental one (the start's body
        C({\"full\": true}))."
      - Needs REST API V(v6) or later; with V(v2) to V(v5) the module fails before anything is started, as those
        versions have no such option.
      - Only valid with O(state=started). With O(jobs), the default of the entries that do not set their own.
    type: bool
    default: false
  wait:
    description:
      - With O(state=started), wait until the run ends - until its session shows one of the statuses that end a
        run (C(Success), C(Warning), C(Failed), C(Stopped), C(NotConfigured), C(Disconnected)) - then fail on
        C(Failed), C(NotConfigured) and C(Disconnected) (and on C(Warning) with O(fail_on_warning)). When the job
        was already running, its current run is awaited.
      - A session without a status, or with a status this module does not know, counts as still running - the
        wait goes on until a known status shows, or fails after O(wait_timeout) naming the last status seen.
      - With O(state=stopped), wait until the job no longer runs.
      - With V(false) the module returns as soon as VB365 accepted the request.
      - Has no effect with O(state=enabled) or O(state=disabled). Never waits in check mode.
    type: bool
    default: true
  fail_on_warning:
    description:
      - With O(state=started) and O(wait), fail when the run ends with the status C(Warning). Otherwise the
        warning is reported as an Ansible warning and the task succeeds.
    type: bool
    default: false
extends_documentation_fragment:
  - backupops.veeam.m365
  - backupops.veeam.wait
  - backupops.veeam.attributes
  - backupops.veeam.attributes.m365_group
attributes:
  idempotent:
    description: Running the task twice in a row gives the same end state without a second change.
    support: partial
    details:
      - V(enabled), V(disabled) and V(stopped) change nothing when the job is already in that state.
      - V(started) starts a job once while it runs; once the run has ended, each run of the task starts the job
        anew, as a backup tool should.
notes:
  - "How the versions differ, where you notice it:"
  - "V(v2) to V(v5): every action is C(POST /vN/Jobs/{id}/Action) with a body such as C({\"start\": null}), and
    the answer has no body. There is no active full backup (O(full)). V(v2) to V(v4) report a queued job as
    C(Running) (they have no C(Queued)) and list all of a job's sessions at once; V(v5) lists them in pages."
  - "V(v6) and V(v7): one endpoint per action (C(POST /vN/Jobs/{id}/start) with C({\"full\": false}), C(/stop),
    C(/enable), C(/disable)); a start answers C(204) with no body. To await the run, the module reads the job's
    newest session before the start and then waits for a newer one (V(v6) C(/Jobs/{id}/JobSessions), V(v7)
    C(/JobSessions?jobId=)), so a run that VB365 lists a moment late is not mistaken for the previous one."
  - "V(v8): a start answers with the new job session, so RV(session) is known at once, also with O(wait=false).
    Jobs carry their C(organizationId), and the job list comes in pages."
  - "Up to V(v5), if the server does not list a job's sessions (404), the run is followed through the job's
    C(lastStatus) and C(lastRun) instead, with a warning, and RV(session) is not returned."
  - "VB365 answers a start of a running job, and a stop of an idle one, with an error; the module reads the job
    first and does not send them. If another client started or stopped the job in between, the module reports
    the job as it found it then, with C(changed=false) and a warning."
  - "The module never sends a start twice: if the connection breaks after the start was sent, it asks VB365
    whether the job started (it runs, its C(lastRun) moved on, or it lists a new session) before doing anything
    else. When the start's answer did not come within O(timeout), VB365 may still be working on it: the module
    looks for the new run once a second for as long again as O(timeout) (30 s at most), and if it still sees
    none, it fails saying that VB365 may still carry the start out (check the job before starting it again)."
  - "How a run's status is read: C(Queued) and C(Running) go on; C(Success), C(Warning), C(Failed), C(Stopped),
    C(NotConfigured) and C(Disconnected) end it (the values of the status enum of the VB365 REST API). A
    C(NotConfigured) or C(Disconnected) run made no backup, so the task fails as for C(Failed); a C(Stopped) one
    gives a warning. A missing or unknown status is taken as still running (assumption: a value added by a newer
    VB365 more likely names a state of a running job than an end). A job whose C(lastStatus) is unknown counts
    as not running when the module decides whether to start it: VB365 refuses a start of a running job, and the
    module then reports the job as running."
seealso:
  - module: backupops.veeam.veeam_m365_restore_session
  - name: VB365 REST API reference (v8) - Jobs
    description: The job actions this module sends from V(v6) on.
    link: https://helpcenter.veeam.com/references/vbo365/8/rest/tag/Job
"""

EXAMPLES = r"""
- name: Start a VB365 backup job and wait until its run ends (fails if the run fails)
  backupops.veeam.veeam_m365_job_state:
    server: vb365.example.com
    username: "{{ vault_vb365_username }}"
    password: "{{ vault_vb365_password }}"
    ca_path: /etc/pki/vb365-ca.pem
    job_name: Exchange Daily
    organization: contoso.onmicrosoft.com
    state: started
  register: run

- name: Report how it went
  ansible.builtin.debug:
    msg: "{{ run.job.name }}: {{ run.session.result }} after {{ run.elapsed }} s ({{ run.session.message }})"

- name: Start an active full backup (REST API v6 or later) without waiting; v8 returns the session at once
  backupops.veeam.veeam_m365_job_state:
    job_id: 3a6c1f10-5b1e-4e0a-9c11-000000000001
    state: started
    full: true
    wait: false
  register: started

- name: Fail on a Warning too, and give a long job two hours
  backupops.veeam.veeam_m365_job_state:
    job_name: Müller's Mailboxes
    state: started
    fail_on_warning: true
    wait_timeout: 7200
    poll_interval: 30

- name: Stop a job if it runs, and wait until it has stopped
  backupops.veeam.veeam_m365_job_state:
    job_name: Long Archive Job
    state: stopped

- name: Disable the schedule of a job (no change if it is already disabled)
  backupops.veeam.veeam_m365_job_state:
    job_name: Teams Weekly
    state: disabled

- name: An old VBO 4 server (REST API v4) - connection from module_defaults
  module_defaults:
    group/backupops.veeam.m365:
      server: vbo.example.com
      username: "{{ vault_vb365_username }}"
      password: "{{ vault_vb365_password }}"
      api_version: v4
  backupops.veeam.veeam_m365_job_state:
    job_name: Exchange Daily
    organization: contoso.onmicrosoft.com
    state: enabled

- name: Start three jobs with one login and wait for all of them (about as long as the slowest one)
  backupops.veeam.veeam_m365_job_state:
    state: started
    jobs:
      - job_name: Exchange Daily
        organization: contoso.onmicrosoft.com
      - job_name: Fabrikam OneDrive Nightly
        full: true
      - job_id: 3a6c1f10-5b1e-4e0a-9c11-000000000007
    wait_timeout: 7200
  register: nightly

- name: Report each job
  ansible.builtin.debug:
    msg: "{{ nightly.jobs | map(attribute='msg') | list }}"

- name: Credentials from the environment (VEEAM_M365_SERVER, VEEAM_M365_USERNAME, VEEAM_M365_PASSWORD), newest API
  backupops.veeam.veeam_m365_job_state:
    job_name: Exchange Daily
    organization: contoso.onmicrosoft.com
    state: started
    api_version: auto
"""

RETURN = r"""
job:
  description:
    - The job, with the keys of the collection's vocabulary (docs/vocabulary.md) - the same keys as the C(job) of
      M(backupops.veeam.veeam_em_job_start) and M(backupops.veeam.veeam_vbr_job_state) - and VB365's own beside
      them; read again after a change (so RV(job.last_status) shows the run that was started, and RV(job.enabled)
      the new setting).
    - The same keys in every API version; a field the version does not have is null.
    - Not returned with O(jobs) (see RV(jobs)).
  returned: success, and on failure when the run ended Failed (or Warning) or the wait timed out
  type: dict
  contains:
    id:
      description: The job's id.
      type: str
      sample: 3a6c1f10-5b1e-4e0a-9c11-000000000001
    name:
      description: The job's name.
      type: str
      sample: Exchange Daily
    type:
      description: Always C(backup) (VB365's backup jobs; a copy job's runs say C(Copy) in their session's
        C(veeam_job_type)).
      type: str
      sample: backup
    veeam_type:
      description: Always null - VB365 gives its backup jobs no type.
      type: str
    description:
      description: The job's description.
      type: str
      sample: All mailboxes, every night
    enabled:
      description: Whether the job runs on its schedule (VB365's C(isEnabled)).
      type: bool
      sample: true
    running:
      description: Whether a run of the job goes on (C(last_status) is C(Queued) or C(Running)).
      type: bool
      sample: false
    last_result:
      description:
        - The result of the job's last finished run - C(Success), C(Warning) or C(Failed) (C(Failed) also for
          C(Stopped), C(NotConfigured) and C(Disconnected), as the session's C(result) says).
        - Null when the job never ran or runs now.
      type: str
      sample: Success
    last_run:
      description: When the newest run started (UTC, ISO 8601); null for a job that never ran.
      type: str
      sample: "2026-11-22T19:23:04.0808570Z"
    next_run:
      description: The next scheduled run (UTC); null when the job or its schedule is disabled.
      type: str
      sample: "2026-11-22T22:00:00.0000000Z"
    is_enabled:
      description: VB365's name for C(enabled) (the same value).
      type: bool
      sample: true
    last_status:
      description:
        - VB365's status of the job's newest run - C(Queued), C(Running), C(Success), C(Warning), C(Failed),
          C(Stopped), C(NotConfigured) or C(Disconnected); null for a job that never ran.
        - V(v2) to V(v4) have no C(Queued) (a queued job is C(Running)).
      type: str
      sample: Success
    last_backup:
      description: The end of the newest successful run (REST API V(v7) and later; null before).
      type: str
      sample: "2026-11-22T19:23:07.5808570Z"
    organization_id:
      description:
        - The id of the job's organization. Always in V(v8); before V(v8) only when the module looked the
          organization up (O(backupops.veeam.veeam_m365_job_state#module:organization) given), else null.
      type: str
      sample: 1f0c6a52-7d3b-4c1e-9a4f-2b8e5d6c7a01
    organization:
      description: The name of the job's organization, when the module read the organizations
        (O(backupops.veeam.veeam_m365_job_state#module:organization) given), else null.
      type: str
      sample: contoso.onmicrosoft.com
    backup_type:
      description: C(EntireOrganization) or C(SelectedItems), spelled so in every version (V(v2) to V(v5) send
        C(entireOrganization)).
      type: str
      sample: EntireOrganization
    repository_id:
      description: The id of the job's backup repository (REST API V(v6) and later; null before).
      type: str
      sample: 7c1e7a7e-0000-4000-8000-00000000c001
session:
  description:
    - The job session of the run - the one started, the one that was already running, or the one stopped - with
      the keys of the collection's vocabulary (docs/vocabulary.md) and VB365's own.
    - With O(state=started) and O(wait=false) it is returned in V(v8) (the start answers with it) and, before
      V(v8), when VB365 listed the new session by the time the module looked.
    - Not returned when nothing runs, nor when the run was followed through the job's C(lastStatus) (see the
      notes), nor with O(jobs) (see RV(jobs)).
  returned: when known
  type: dict
  contains:
    id:
      description: The session's id.
      type: str
      sample: 9a415259-b211-4522-920a-98a2cba33f54
    name:
      description: Always null - VB365 gives job sessions no name.
      type: str
    job_id:
      description: The id of the job the session is a run of (VB365's C(jobId) in V(v8); the job the module read it
        for before).
      type: str
      sample: 3a6c1f10-5b1e-4e0a-9c11-000000000001
    job_name:
      description: That job's name.
      type: str
      sample: Exchange Daily
    state:
      description:
        - From VB365's C(status) (docs/vocabulary.md has the table) - C(Queued), C(Working) (C(Running)), or
          C(Stopped) (every status that ends a run).
        - A status this module does not know is returned as it is, and the module goes on waiting.
      type: str
      sample: Stopped
    result:
      description:
        - From VB365's C(status) - C(None) while the run goes on, then C(Success), C(Warning) or C(Failed)
          (C(Failed) also for C(Stopped), C(NotConfigured) and C(Disconnected), runs that backed nothing up).
        - Null for a status this module does not know.
      type: str
      sample: Success
    message:
      description: VB365's summary of the run, such as the amount transferred or why it failed (REST API V(v6) and
        later; null before). The same as C(details).
      type: str
      sample: "Transferred: 13 MB (285 items) at 4.3 MB/s (95 items/s)"
    canceled:
      description: Whether the run was stopped by someone (C(status) C(Stopped)).
      type: bool
      sample: false
    progress_percent:
      description: Always null - VB365 counts objects, not percent (see C(processed_objects)).
      type: int
    processed_objects:
      description: The number of objects processed so far (VB365's C(progress), which is not a percentage).
      type: int
      sample: 5
    creation_time:
      description: When the session was created (UTC).
      type: str
      sample: "2026-11-22T19:23:04.0808570Z"
    end_time:
      description: When the session ended (UTC); null while it runs.
      type: str
      sample: "2026-11-22T19:23:07.5808570Z"
    status:
      description: VB365's own status word - C(Queued), C(Running), C(Success), C(Warning), C(Failed), C(Stopped),
        C(NotConfigured) or C(Disconnected) (V(v2) to V(v4) have no C(Queued)).
      type: str
      sample: Success
    details:
      description: VB365's name for C(message) (the same value).
      type: str
      sample: "Transferred: 13 MB (285 items) at 4.3 MB/s (95 items/s)"
    retry_count:
      description: How many times the run was retried (V(v6) and later).
      type: int
      sample: 0
    job_will_be_retried:
      description: Whether VB365 will retry the run (V(v7) and later).
      type: bool
      sample: false
    veeam_job_type:
      description: VB365's C(jobType) of the run - C(Backup) or C(Copy) (V(v7) and later).
      type: str
      sample: Backup
    job_session_config_type:
      description: C(Full) for an active full backup (O(backupops.veeam.veeam_m365_job_state#module:full=true)), else
        C(Incremental) (V(v8) only).
      type: str
      sample: Incremental
    statistics:
      description:
        - Transfer statistics, snake_cased (C(processing_rate_bytes_ps), C(transferred_data_bytes),
          C(processed_objects), C(bottleneck), ...).
        - V(v2) gives them as display strings (C(processing_rate), C(transferred_data), ...), later versions as
          numbers.
      type: dict
      sample: {"processed_objects": 285, "transferred_data_bytes": 13680000, "bottleneck": "Source"}
elapsed:
  description:
    - Seconds from the start (or stop, or from finding the running job) to the end of the wait.
    - With O(jobs), those of the slowest job.
  returned: when the module waited, and with O(jobs)
  type: float
  sample: 3.6
history:
  description: The states seen while waiting (VB365's status words), with the seconds elapsed when each was first
    seen.
  returned: when the module waited for one job
  type: list
  elements: dict
  sample: [{"state": "Queued", "elapsed": 0.0}, {"state": "Running", "elapsed": 1.0}, {"state": "Success", "elapsed": 3.6}]
last_state:
  description:
    - When the wait for one job ran out, the state it was last seen in (the last of RV(history)), such as C(Running).
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
  description: The REST API version used (the one found with O(api_version=auto)).
  returned: always
  type: str
  sample: v8
msg:
  description:
    - What happened, in words.
    - "With O(jobs), a count such as C(3 jobs: 2 started, 1 already running, 0 failed); when the task fails, the
      messages of the failed jobs follow."
  returned: always
  type: str
  sample: "Started job 'Exchange Daily': session 9a415259-b211-4522-920a-98a2cba33f54 ended Success after 3.6 s"
error:
  description: On failure, what went wrong - C(kind), one word for it (docs/troubleshooting.md lists them), and
    the request that failed and what the server said (C(status), C(method), C(path), C(veeam_message), C(veeam_code)).
  returned: failure
  type: dict
  sample: {"kind": "not_found", "status": 404, "method": "GET", "path": "/v8/Jobs/{id}/start", "veeam_message": null, "veeam_code": null}
"""

from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule, jobs_spec


def bring_jobs(module):
    """Find the jobs and bring each into ``state``: enable, disable, start (and await) or stop (and await)."""
    return module.bring_jobs(_m365.Vb365Jobs, module.params["state"], inherited=("organization", "full"),
                             by_name_only=("organization",))


def main():
    module = VeeamModule(
        _m365.CONNECTION,
        {
            "job_id": {"type": "str"},
            "job_name": {"type": "str"},
            "jobs": jobs_spec(organization={"type": "str"}, full={"type": "bool"}),
            "organization": {"type": "str"},
            "state": {"type": "str", "required": True, "choices": ["enabled", "disabled", "started", "stopped"]},
            "full": {"type": "bool", "default": False},
            "fail_on_warning": {"type": "bool", "default": False},
        },
        wait=True,
        mutually_exclusive=[["job_id", "job_name", "jobs"], ["job_id", "organization"]],
        required_one_of=[["job_id", "job_name", "jobs"]],
        supports_check_mode=True,
    )
    module.run(bring_jobs)


if __name__ == "__main__":
    main()
