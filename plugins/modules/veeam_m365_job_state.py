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
      - The result has one entry per job in RV(results); the task fails if any job fails.
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
    msg: "{{ run.job.name }}: {{ run.session.status }} after {{ run.elapsed }} s ({{ run.session.details }})"

- name: Start an active full backup (REST API v6 or later) without waiting; v8 returns the session at once
  backupops.veeam.veeam_m365_job_state:
    job_id: 3a6c1f10-5b1e-4e0a-9c11-000000000001
    state: started
    full: true
    wait: false
  register: started

- name: Fail on a Warning too, and give a long job two hours
  backupops.veeam.veeam_m365_job_state:
    job_name: OneDrive Nightly
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
    state: enabled

- name: Start three jobs with one login and wait for all of them (about as long as the slowest one)
  backupops.veeam.veeam_m365_job_state:
    state: started
    jobs:
      - job_name: Exchange Daily
        organization: contoso.onmicrosoft.com
      - job_name: OneDrive Nightly
        full: true
      - job_id: 3a6c1f10-5b1e-4e0a-9c11-000000000002
    wait_timeout: 7200
  register: nightly

- name: Report each job
  ansible.builtin.debug:
    msg: "{{ nightly.results | map(attribute='msg') | list }}"

- name: Credentials from the environment (VEEAM_M365_SERVER, VEEAM_M365_USERNAME, VEEAM_M365_PASSWORD), newest API
  backupops.veeam.veeam_m365_job_state:
    job_name: Exchange Daily
    organization: Contoso
    state: started
    api_version: auto
"""

RETURN = r"""
job:
  description:
    - The job as VB365 describes it, read again after a change (so RV(job.last_status) shows the run that was
      started, and RV(job.is_enabled) the new setting).
    - The same keys in every API version; a field the version does not have is null.
    - Not returned with O(jobs) (see RV(results)).
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
    description:
      description: The job's description.
      type: str
      sample: All mailboxes, every night
    is_enabled:
      description: Whether the job runs on its schedule.
      type: bool
      sample: true
    last_status:
      description:
        - The status of the job's newest run - C(Queued), C(Running), C(Success), C(Warning), C(Failed),
          C(Stopped), C(NotConfigured) or C(Disconnected); null for a job that never ran.
        - V(v2) to V(v4) have no C(Queued) (a queued job is C(Running)).
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
    last_backup:
      description: The end of the newest successful run (REST API V(v7) and later; null before).
      type: str
      sample: "2026-11-22T19:23:07.5808570Z"
    organization_id:
      description:
        - The id of the job's organization. Always in V(v8); before V(v8) only when the module looked the
          organization up (O(organization) given), else null.
      type: str
      sample: 1f0c6a52-7d3b-4c1e-9a4f-2b8e5d6c7a01
    organization:
      description: The name of the job's organization, when the module read the organizations (O(organization)
        given), else null.
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
    - The job session of the run - the one started, the one that was already running, or the one stopped.
    - With O(state=started) and O(wait=false) it is returned in V(v8) (the start answers with it) and, before
      V(v8), when VB365 listed the new session by the time the module looked.
    - Not returned when nothing runs, nor when the run was followed through the job's C(lastStatus) (see the
      notes), nor with O(jobs) (see RV(results)).
  returned: when known
  type: dict
  contains:
    id:
      description: The session's id.
      type: str
      sample: 9a415259-b211-4522-920a-98a2cba33f54
    job_id:
      description: The job's id (REST API V(v8); null before).
      type: str
      sample: 3a6c1f10-5b1e-4e0a-9c11-000000000001
    status:
      description: C(Queued), C(Running), C(Success), C(Warning), C(Failed), C(Stopped), C(NotConfigured) or
        C(Disconnected) (V(v2) to V(v4) have no C(Queued)).
      type: str
      sample: Success
    progress:
      description: The number of objects processed so far (not a percentage).
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
    details:
      description: VB365's summary of the run, such as the amount transferred or the reason of a failure
        (REST API V(v6) and later; null before).
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
    job_type:
      description: C(Backup) or C(Copy) (V(v7) and later).
      type: str
      sample: Backup
    job_session_config_type:
      description: C(Full) for an active full backup (O(full=true)), else C(Incremental) (V(v8) only).
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
  description: The states seen while waiting, with the seconds elapsed when each was first seen.
  returned: when the module waited for one job
  type: list
  elements: dict
  sample: [{"state": "Queued", "elapsed": 0.0}, {"state": "Running", "elapsed": 1.0}, {"state": "Success", "elapsed": 3.6}]
results:
  description:
    - One entry per job given in O(jobs), in the same order, each with RV(job), RV(session) (when known),
      C(changed), C(failed), C(msg), RV(elapsed) and, when the module waited, RV(history), as for a single job.
    - Also returned when the task fails (a job failed or the wait timed out), with each job as far as it got.
  returned: when O(jobs) is given
  type: list
  elements: dict
  sample: [{"job": {"id": "3a6c1f10-5b1e-4e0a-9c11-000000000001", "name": "Exchange Daily", "last_status": "Success"},
            "session": {"id": "9a415259-b211-4522-920a-98a2cba33f54", "status": "Success"}, "changed": true,
            "failed": false, "elapsed": 3.6,
            "msg": "Started job 'Exchange Daily': session 9a415259-b211-4522-920a-98a2cba33f54 ended Success after 3.6 s"}]
api_version:
  description: The REST API version used (the one found with O(api_version=auto)).
  returned: success
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
"""

import time

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.module_utils._errors import VeeamError
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule


def report(vb, job, changed, msg, session=None, waited=None):
    """The module's result: the job (and session) as the user sees them."""
    result = {"changed": changed, "msg": msg, "job": vb.job_view(job), "api_version": vb.version}
    if session:
        result["session"] = _m365.session_view(session)
    if waited is not None:
        result["elapsed"] = waited.elapsed
        result["history"] = waited.history
    return result


def refused(err):
    """VB365 refused an action because of the job's state (start while running, stop while idle): a 400 with
    RESTExceptionInfo (v8 errorCode OperationConflict), or a 409."""
    return err.kind == E.CONFLICT or (err.kind == E.HTTP and err.status in (400, 409))


def set_enabled(module, vb, job, enabled):
    verb, word = ("enable", "enabled") if enabled else ("disable", "disabled")
    if job.get("isEnabled") is enabled:
        return report(vb, job, False, "Job %r is already %s" % (job["name"], word))
    if module.check_mode:
        return report(vb, job, True, "Would %s job %r" % (verb, job["name"]))
    vb.act(job, verb)
    return report(vb, vb.get_job(job["id"]), True, "%s job %r" % (word.capitalize(), job["name"]))


def already_running(module, vb, job, why):
    """The job runs: report its run, and await it when asked to."""
    session = vb.running_session(job["id"])
    msg = running_msg(job, why, session)
    if module.check_mode or not module.params["wait"]:
        return report(vb, job, False, msg, session)
    return await_run(module, vb, _m365.new_run(job, session=session, ending=True), False, msg)


def running_msg(job, why, session):
    return "Job %r %s%s; not started again" % (job["name"], why, " (session %s, %s)" % (
        session["id"], session.get("status")) if session else "")


def check_full(vb, job, full):
    if full and not vb.routes.supports_full:
        raise VeeamError("full: true needs VB365 REST API v6 or later; %s has no active full backup in its start "
                         "action" % vb.version, kind=E.USAGE, details={"job": vb.job_view(job)})


def send_start(module, vb, job, full, before):
    """Start the job: ``(session or None, None)``, or ``(None, fresh job)`` when VB365 refused the start because the
    job started meanwhile (with a warning).  Other refusals and errors are raised."""
    try:
        return vb.act(job, "start", full=full, before=before), None
    except VeeamError as err:
        if not refused(err):
            raise
        fresh = vb.get_job(job["id"])
        if not _m365.is_running(fresh.get("lastStatus")):
            raise
        module.warn("VB365 refused to start job %r: %s. It started since the module read it, so it was left "
                    "running" % (job["name"], err.veeam_message or err))
        return None, fresh


def new_session(vb, job, session, before):
    """The session of a start that was not awaited: the one VB365 answered with (v8), else the job's newest one
    when it is not the one seen before the start."""
    if session is None and before is not _m365.NOT_READ:
        latest = vb.latest_session(job["id"])
        session = latest if latest and latest["id"] != before else None
    return session


def start(module, vb, job):
    p = module.params
    check_full(vb, job, p["full"])
    if _m365.is_running(job.get("lastStatus")):
        return already_running(module, vb, job, "is already running")
    kind = "an active full backup of " if p["full"] else ""
    if module.check_mode:
        return report(vb, job, True, "Would start %sjob %r" % (kind, job["name"]))
    before = vb.session_before_start(job["id"])
    session, fresh = send_start(module, vb, job, p["full"], before)
    if fresh is not None:
        return already_running(module, vb, fresh, "started meanwhile")
    if not p["wait"]:
        session = new_session(vb, job, session, before)
        return report(vb, vb.get_job(job["id"]), True, "Started %sjob %r%s" % (
            kind, job["name"], " (session %s)" % session["id"] if session else ""), session)
    return await_run(module, vb, _m365.new_run(job, session=session, before=before), True,
                     "Started %sjob %r" % (kind, job["name"]))


def stop(module, vb, job):
    p = module.params
    if not _m365.is_running(job.get("lastStatus")):
        return report(vb, job, False, "Job %r is not running (last status %s)" % (
            job["name"], job.get("lastStatus") or "none: it never ran"))
    session = vb.running_session(job["id"])
    if module.check_mode:
        return report(vb, job, True, "Would stop job %r" % job["name"], session)
    try:
        vb.act(job, "stop")
    except VeeamError as err:
        if not refused(err):
            raise
        fresh = vb.get_job(job["id"])
        if _m365.is_running(fresh.get("lastStatus")):
            raise
        module.warn("VB365 refused to stop job %r: %s. Its run ended since the module read it" % (
            job["name"], err.veeam_message or err))
        return report(vb, fresh, False, "Job %r is not running (its run ended %s before it could be stopped)" % (
            job["name"], fresh.get("lastStatus")), vb.get_session(session["id"]) if session else None)
    if not p["wait"]:
        return report(vb, vb.get_job(job["id"]), True, "Asked VB365 to stop job %r" % job["name"],
                      vb.get_session(session["id"]) if session else None)
    return await_run(module, vb, _m365.new_run(job, session=session, ending=True), True,
                     "Stopped job %r" % job["name"], stopping=True)


def await_run(module, vb, run, changed, intro, stopping=False):
    """Wait for a run to end, then judge how it ended."""
    waited = vb.wait_runs({0: run}, module.poller(), on_timeout=lambda pending, _done, elapsed: timeout_error(
        module, vb, pending[0][0], changed, elapsed, stopping))[0]
    result, failed = outcome(module, vb, waited, changed, intro, stopping)
    if failed:
        raise VeeamError(result.pop("msg"), kind=E.JOB_FAILED, details=result)
    return result


def outcome(module, vb, waited, changed, intro, stopping=False):
    """How an awaited run ended: ``(result, failed)``.  Failed when the run ended Failed, NotConfigured or
    Disconnected (no backup was made), or Warning with fail_on_warning; other endings than Success warn."""
    run = waited.value
    session = run["session"]
    job = vb.get_job(run["job"]["id"])
    status = str((session or {}).get("status") or job.get("lastStatus") or "")
    ending = "session %s ended %s" % (session["id"], status) if session else "the run ended %s" % status
    msg = "%s: %s after %.1f s" % (intro, ending, waited.elapsed)
    details = (session or {}).get("details")
    result = report(vb, job, changed, msg + (": %s" % details if details and status.lower() != "success" else ""),
                    session, waited)
    lowered = status.lower()
    if stopping:
        if lowered != "stopped":
            module.warn("Job %r ended %s before the stop took effect" % (job["name"], status or "in no known state"))
        return result, False
    if _m365.ended_badly(status) or (lowered == "warning" and module.params["fail_on_warning"]):
        return result, True
    if lowered == "warning":
        module.warn("Job %r ended with a warning%s" % (job["name"], ": %s" % details if details else ""))
    elif lowered != "success":
        module.warn("Job %r ended %s" % (job["name"], status or "in no known state"))
    return result, False


def waiting_for(run):
    """The state a run is still in, in words, for timeout messages."""
    session = run.get("session")
    return "session %s %s" % (session["id"], _m365.run_state(run)) if session else _m365.run_state(run)


def timeout_error(module, vb, run, changed, elapsed, stopping):
    """The wait ran out: say which job, its last state, and how to go on."""
    session = run.get("session")
    if stopping:
        how = "VB365 may take a while to stop a job; run the task again to go on waiting (the stop is not sent twice)"
    else:
        how = ("The job keeps running; to go on waiting, run the task again with state: started (a running job is "
               "not started twice)")
    return VeeamError("Gave up waiting after %.0f s (wait_timeout %s s) for job %r: %s" % (
        elapsed, module.params["wait_timeout"], run["job"]["name"], waiting_for(run)), kind=E.WAIT_TIMEOUT, hint=how,
        details={"changed": changed, "elapsed": elapsed, "job": vb.job_view(run.get("job_now") or run["job"]),
                 "session": _m365.session_view(session), "api_version": vb.version})


# ---------------------------------------------------------------------------------------------- several jobs
class Run:
    """One job of ``jobs``: found, checked, maybe started, maybe awaited."""

    def __init__(self, job, full):
        self.job = job
        self.full = full
        self.before = _m365.NOT_READ   # the newest session before the start (see Vb365.session_before_start)
        self.session = None            # the run's session, when known
        self.running = False           # it was running already (or started meanwhile): not started
        self.changed = False
        self.failed = False
        self.msg = ""
        self.started_at = None
        self.elapsed = 0.0
        self.history = None
        self.view = None               # the job as read after its run ended

    @property
    def kind(self):
        return "an active full backup of " if self.full else ""

    def result(self, vb):
        out = {"job": self.view or vb.job_view(self.job), "changed": self.changed, "failed": self.failed, "msg": self.msg,
               "elapsed": round(self.elapsed, 2)}
        if self.session:
            out["session"] = _m365.session_view(self.session)
        if self.history is not None:
            out["history"] = self.history
        return out


def requested_jobs(params):
    """The entries of ``jobs``, with the task's organization and full for the entries that do not set them."""
    wanted = []
    for entry in params["jobs"]:
        if entry.get("job_id") and entry.get("organization"):
            raise VeeamError("A job of jobs has both job_id and organization: organization chooses among jobs of the "
                             "same name, give it with job_name", kind=E.USAGE)
        wanted.append({"job_id": entry.get("job_id"), "job_name": entry.get("job_name"),
                       "organization": None if entry.get("job_id") else (
                           entry.get("organization") or params["organization"]),
                       "full": params["full"] if entry.get("full") is None else entry["full"]})
    return wanted


def find_and_check(module, vb):
    """Find every job, check the whole list, and read what each start's session is told apart from, before anything
    is started (bad input changes nothing)."""
    wanted = requested_jobs(module.params)
    jobs = vb.find_jobs(wanted)
    runs, seen = [], set()
    for item, job in zip(wanted, jobs):
        if job["id"] in seen:
            raise VeeamError("Job %r is given twice in jobs" % job["name"], kind=E.USAGE)
        seen.add(job["id"])
        check_full(vb, job, item["full"])
        runs.append(Run(job, item["full"]))
    for run in runs:
        if _m365.is_running(run.job.get("lastStatus")):
            run.running = True
            run.session = vb.running_session(run.job["id"])
            run.msg = running_msg(run.job, "is already running", run.session)
        elif not module.check_mode:
            run.before = vb.session_before_start(run.job["id"])
    return runs


def start_each(module, vb, runs):
    """Start the jobs that do not run, one after the other.  A start that VB365 answers with an error status fails
    that job (the others go on); any other error (the connection, the token, a lost answer VB365 cannot settle) ends
    the task, and says what was started before it."""
    for run in runs:
        if run.running:
            continue
        run.started_at = time.monotonic()
        try:
            session, fresh = send_start(module, vb, run.job, run.full, run.before)
        except VeeamError as err:
            if err.status is None or err.kind not in (E.CONFLICT, E.HTTP, E.FORBIDDEN, E.NOT_FOUND):
                raise
            run.failed = True
            run.msg = str(err)
            continue
        if fresh is not None:
            run.job, run.running = fresh, True
            run.session = vb.running_session(fresh["id"])
            run.msg = running_msg(fresh, "started meanwhile", run.session)
            continue
        run.changed, run.session = True, session
        run.msg = "Started %sjob %r" % (run.kind, run.job["name"])


def await_all(module, vb, runs):
    """Await every started or running job together: one wait, each job's outcome as for a single job."""
    keys = [i for i, run in enumerate(runs) if run.changed or run.running]
    pending = {i: _m365.new_run(runs[i].job, session=runs[i].session, before=runs[i].before,
                                ending=runs[i].running) for i in keys}
    if not pending:
        return
    waited = vb.wait_runs(pending, module.poller(), on_timeout=lambda left, done, elapsed: jobs_timeout_error(
        module, vb, runs, left, done, elapsed))
    for i, result in waited.items():
        judge(module, vb, runs[i], result)


def judge(module, vb, run, waited):
    """Take an awaited run's outcome into its Run."""
    result, failed = outcome(module, vb, waited, run.changed, run.msg)
    run.session = waited.value["session"]
    run.failed, run.msg, run.elapsed, run.history = failed, result["msg"], waited.elapsed, waited.history
    run.view = result["job"]


def jobs_timeout_error(module, vb, runs, left, done, elapsed):
    """The wait for several jobs ran out: name each job still running and its state; the jobs that ended are
    reported as they ended."""
    for i, result in done.items():
        judge(module, vb, runs[i], result)
    lines = []
    for i, (value, history) in left.items():
        run = runs[i]
        run.session, run.elapsed, run.history = value.get("session"), elapsed, history
        run.msg = "%s: still %s after %.0f s" % (run.msg, waiting_for(value), elapsed)
        lines.append("job %r: %s" % (run.job["name"], waiting_for(value)))
    results = [run.result(vb) for run in runs]
    return VeeamError("Gave up waiting after %.0f s (wait_timeout %s s): %s" % (
        elapsed, module.params["wait_timeout"], "; ".join(lines)), kind=E.WAIT_TIMEOUT,
        hint="The jobs keep running; to go on waiting, run the task again (a running job is not started twice)",
        details={"changed": any(r["changed"] for r in results), "elapsed": elapsed, "results": results,
                 "api_version": vb.version})


def run_jobs(module, vb):
    """``state: started`` with ``jobs``: one login, every job found and checked, then started one after the other,
    then all awaited together."""
    p = module.params
    runs = find_and_check(module, vb)
    if module.check_mode:
        for run in runs:
            if not run.running:
                run.changed = True
                run.msg = "Would start %sjob %r" % (run.kind, run.job["name"])
        return jobs_report(vb, runs, "would be started")
    try:
        start_each(module, vb, runs)
        if p["wait"]:
            await_all(module, vb, runs)
        else:
            for run in runs:
                if run.changed:
                    run.session = new_session(vb, run.job, run.session, run.before)
                    run.job = vb.get_job(run.job["id"])
                    if run.session:
                        run.msg += " (session %s)" % run.session["id"]
    except VeeamError as err:
        err.details.setdefault("results", [run.result(vb) for run in runs])
        raise
    for run in runs:
        if run.started_at and not run.elapsed:
            run.elapsed = time.monotonic() - run.started_at
    return jobs_report(vb, runs)


def jobs_report(vb, runs, started="started"):
    results = [run.result(vb) for run in runs]
    failed = [r for r in results if r["failed"]]
    msg = "%d job%s: %d %s, %d already running, %d failed" % (
        len(runs), "" if len(runs) == 1 else "s", sum(1 for r in runs if r.changed), started,
        sum(1 for r in runs if r.running), len(failed))
    changed = any(r["changed"] for r in results)
    if failed:
        raise VeeamError(msg + ": " + "; ".join(r["msg"] for r in failed), kind=E.JOB_FAILED,
                         details={"results": results, "changed": changed, "api_version": vb.version})
    return {"changed": changed, "results": results, "msg": msg, "api_version": vb.version,
            "elapsed": max([r["elapsed"] for r in results] or [0.0])}


def run_job_state(module):
    p = module.params
    if p["full"] and p["state"] != "started":
        raise VeeamError("full applies to state: started only", kind=E.USAGE)
    if p["jobs"] and p["state"] != "started":
        raise VeeamError("jobs applies to state: started only; give one job with job_id or job_name for state: %s"
                         % p["state"], kind=E.USAGE)
    with module.m365() as vb:
        try:
            if p["jobs"]:
                return run_jobs(module, vb)
            job = vb.find_job(p["job_id"], p["job_name"], p["organization"])
            if p["state"] in ("enabled", "disabled"):
                return set_enabled(module, vb, job, p["state"] == "enabled")
            if p["state"] == "started":
                return start(module, vb, job)
            return stop(module, vb, job)
        except VeeamError as err:
            raise vb.annotate(err) from None


def main():
    module = VeeamModule(
        "m365",
        {
            "job_id": {"type": "str"},
            "job_name": {"type": "str"},
            "jobs": {"type": "list", "elements": "dict", "options": {
                "job_id": {"type": "str"},
                "job_name": {"type": "str"},
                "organization": {"type": "str"},
                "full": {"type": "bool"},
            }, "mutually_exclusive": [["job_id", "job_name"], ["job_id", "organization"]],
                "required_one_of": [["job_id", "job_name"]]},
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
    module.run(run_job_state)


if __name__ == "__main__":
    main()
