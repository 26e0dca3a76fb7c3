#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: veeam_em_job_info
short_description: List Veeam backup jobs known to Enterprise Manager, with their latest session
version_added: 0.1.0
description:
  - Lists the jobs of the backup servers connected to Veeam Backup Enterprise Manager (backup, replication,
    backup copy, file share and agent jobs), filtered by exact name, id, type or backup server, each with the
    state and result of its latest backup session.
  - Returns a list, empty when nothing matches. Each entry is the job with the keys of the collection's vocabulary
    (docs/vocabulary.md), the same as the C(job) that M(backupops.veeam.veeam_em_job_start) returns, with whether it
    runs (RV(jobs[].running)), the result of its last run (RV(jobs[].last_result)) and its latest session
    (RV(jobs[].latest_session)). Its RV(jobs[].id), RV(jobs[].type) and RV(jobs[].backup_server) are what
    M(backupops.veeam.veeam_em_job_start) takes as O(backupops.veeam.veeam_em_job_start#module:job_id),
    O(backupops.veeam.veeam_em_job_start#module:job_type) and O(backupops.veeam.veeam_em_job_start#module:backup_server).
author:
  - backupops maintainers (@backupops)
options:
  job_name:
    description: Only the job(s) with exactly this name (several backup servers may have one each).
    type: str
  job_id:
    description: Only the job with this id (a GUID or a C(urn:veeam:...) UID); an unknown id gives an empty list.
    type: str
  job_type:
    description: Only jobs of this type; V(auto) lists every type.
    type: str
    choices: [auto, backup, replica, backup_copy, file_share, agent]
    default: auto
  backup_server:
    description: Only the jobs of this backup server (its name, as Enterprise Manager shows it).
    type: str
  latest_session:
    description:
      - Read each job's latest backup session (one request per job). V(false) lists the jobs alone, with one
        request per job type.
    type: bool
    default: true
extends_documentation_fragment:
  - backupops.veeam.em
  - backupops.veeam.attributes.info_module
  - backupops.veeam.attributes.em_group
seealso:
  - module: backupops.veeam.veeam_em_job_start
"""

EXAMPLES = r"""
- name: All jobs with the result of their last run
  backupops.veeam.veeam_em_job_info:
    server: em.example.com
    username: "{{ vault_em_username }}"
    password: "{{ vault_em_password }}"
  register: info

- name: Jobs whose last run failed
  ansible.builtin.debug:
    msg: "{{ info.jobs | selectattr('last_result', 'eq', 'Failed') | map(attribute='name') | list }}"

- name: Find the file share jobs of one backup server
  backupops.veeam.veeam_em_job_info:
    job_type: file_share
    backup_server: vbr02.example.com
    latest_session: false
  register: shares

- name: Start each of them without waiting (an entry's id and type are the start module's job_id and job_type)
  backupops.veeam.veeam_em_job_start:
    job_id: "{{ item.id }}"
    job_type: "{{ item.type }}"
    wait: false
  loop: "{{ shares.jobs }}"
  loop_control:
    label: "{{ item.name }}"
"""

RETURN = r"""
jobs:
  description:
    - The matching jobs, sorted by name; an empty list when none match.
    - Each is the job with the keys of the collection's vocabulary (docs/vocabulary.md), the same as the C(job)
      of M(backupops.veeam.veeam_em_job_start) (with C(running) and C(last_result) filled in from the latest
      session), and C(latest_session).
    - An entry's C(id) and C(type) are what O(backupops.veeam.veeam_em_job_start#module:job_id) and
      O(backupops.veeam.veeam_em_job_start#module:job_type) take (see the examples).
  returned: always
  type: list
  elements: dict
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
      description: Whether the job's latest session is still running; null with
        O(backupops.veeam.veeam_em_job_info#module:latest_session=false).
      type: bool
      sample: false
    last_result:
      description: The result of the job's last run (C(Success), C(Warning), C(Failed)) - the result of its latest
        session once that has stopped; null while it runs, when the job never ran, or with
        O(backupops.veeam.veeam_em_job_info#module:latest_session=false).
      type: str
      sample: Success
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
    latest_session:
      description:
        - The job's newest backup session, with the keys of
          RV(backupops.veeam.veeam_em_job_start#module:session); null when the job has none or
          O(latest_session=false).
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
msg:
  description: How many jobs were found.
  returned: always
  type: str
  sample: 4 jobs
error:
  description:
    - On failure, what went wrong, besides RV(msg) (docs/troubleshooting.md explains each message).
  returned: failure
  type: dict
  contains:
    kind:
      description: One word for what went wrong - C(usage), C(auth), C(forbidden), C(not_found), C(ambiguous),
        C(conflict), C(http), C(parse), C(connection), C(tls), C(timeout), C(response_lost), C(wait_timeout) or
        C(job_failed).
      type: str
      sample: not_found
    status:
      description: The HTTP status of the request that failed; null when none was answered.
      type: int
      sample: 404
    method:
      description: The HTTP method of that request.
      type: str
      sample: GET
    path:
      description: Its path, with ids as placeholders.
      type: str
      sample: /api/query
    veeam_message:
      description: What the server said, when it said something.
      type: str
    veeam_code:
      description: The server's error code, when it gave one.
      type: str
"""

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils._errors import NotFoundError
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule


def describe(em, job, with_session):
    """A job in the collection's vocabulary, with its latest session and whether it runs (when asked for)."""
    entry = _em.public(job)
    latest = em.latest_session(job) if with_session else None
    entry["latest_session"] = _em.public_session(latest) if latest else None
    entry["running"] = _em.session_running(latest) if with_session else None
    entry["last_result"] = (latest.get("result") if latest and not entry["running"] else None) if with_session else None
    return entry


def job_info(module):
    p = module.params
    with module.client() as em:
        if p["job_id"]:
            try:
                jobs = [em.find_job(job_id=p["job_id"], job_type=p["job_type"])]
            except NotFoundError:
                jobs = []
        else:
            jobs = em.list_jobs(name=p["job_name"], job_type=p["job_type"], backup_server=p["backup_server"])
        if p["job_name"] is not None:
            jobs = [j for j in jobs if j["name"] == p["job_name"]]
        if p["backup_server"]:
            jobs = [j for j in jobs if (j["backup_server"] or "").lower() == p["backup_server"].lower()]
        entries = [describe(em, job, p["latest_session"]) for job in jobs]
    entries.sort(key=lambda e: ((e["name"] or "").lower(), e["backup_server"] or ""))
    return {"changed": False, "jobs": entries, "msg": "%d job%s" % (len(entries), "" if len(entries) == 1 else "s")}


def main():
    module = VeeamModule(
        _em.CONNECTION,
        {
            "job_name": {"type": "str"},
            "job_id": {"type": "str"},
            "job_type": {"type": "str", "default": "auto", "choices": ["auto"] + list(_em.JOB_TYPES)},
            "backup_server": {"type": "str"},
            "latest_session": {"type": "bool", "default": True},
        },
        mutually_exclusive=[["job_name", "job_id"]],
        supports_check_mode=True,
    )
    module.run(job_info)


if __name__ == "__main__":
    main()
