#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: veeam_vbr_job_info
short_description: List Veeam Backup & Replication jobs with their state, last result and running session
version_added: 0.2.0
description:
  - Lists the jobs of a Veeam Backup & Replication server through its REST API (C(/api/v1/jobs/states)), with each
    job's status, the result of its last run, its last and next run, and the session that runs now, if any.
  - Reads only; changes nothing.
author:
  - backupops maintainers (@backupops)
options:
  job_name:
    description:
      - Only the job of this exact name (case, spaces and quotes matter).
      - Mutually exclusive with O(job_id) and O(name_pattern).
    type: str
  job_id:
    description:
      - Only the job of this id (a GUID).
      - Mutually exclusive with O(job_name) and O(name_pattern).
    type: str
  name_pattern:
    description:
      - Only the jobs whose name matches this shell-style pattern (V(VBR *), V(*SQL*)), regardless of case.
    type: str
  job_type:
    description:
      - Only the jobs of this type, given as the collection's word (V(backup), V(replica), V(backup_copy),
        V(file_share), V(agent)) or VBR's own name (V(VSphereBackup), V(HyperVBackup), ...), regardless of case.
    type: str
  running_session:
    description:
      - Read the session of each running job (one request per running job), returned as C(running_session).
    type: bool
    default: true
extends_documentation_fragment:
  - backupops.veeam.vbr
  - backupops.veeam.attributes.info_module
  - backupops.veeam.attributes.vbr_group
seealso:
  - module: backupops.veeam.veeam_vbr_job_state
  - module: backupops.veeam.veeam_vbr_session_info
"""

EXAMPLES = r"""
- name: List every job
  backupops.veeam.veeam_vbr_job_info:
    server: vbr.example.com
    username: "{{ vault_vbr_username }}"
    password: "{{ vault_vbr_password }}"
  register: vbr_jobs

- name: The jobs whose last run failed
  ansible.builtin.debug:
    msg: "{{ vbr_jobs.jobs | selectattr('last_result', 'equalto', 'Failed') | map(attribute='name') | list }}"

- name: One job, by its exact name
  backupops.veeam.veeam_vbr_job_info:
    job_name: VBR Daily Backup
  register: daily

- name: The backup copy jobs that run now
  backupops.veeam.veeam_vbr_job_info:
    job_type: backup_copy
  register: copies
"""

RETURN = r"""
jobs:
  description:
    - The jobs, sorted by name; each has the keys of RV(backupops.veeam.veeam_vbr_job_state#module:job) (the
      collection's vocabulary, docs/vocabulary.md) and C(running_session).
  returned: always
  type: list
  elements: dict
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
    running_session:
      description:
        - The session of a running job, with the keys of RV(backupops.veeam.veeam_vbr_job_state#module:session);
          null when the job does not run or O(running_session=false).
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
api_version:
  description: The REST API revision used.
  returned: always
  type: str
  sample: 1.3-rev1
msg:
  description: How many jobs were found.
  returned: always
  type: str
  sample: 12 jobs
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
      sample: /api/v1/jobs/states
    veeam_message:
      description: What the server said, when it said something.
      type: str
    veeam_code:
      description: The server's error code, when it gave one.
      type: str
"""

import fnmatch

from ansible_collections.backupops.veeam.plugins.module_utils import _vbr
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule


def selected(job, params):
    """Whether a job (its view) passes the filters of the task."""
    if params["job_name"] is not None and job["name"] != params["job_name"]:
        return False
    if params["job_id"] and str(job["id"]).lower() != params["job_id"].strip().lower():
        return False
    if params["name_pattern"] and not fnmatch.fnmatch(str(job["name"]).lower(), params["name_pattern"].lower()):
        return False
    wanted = (params["job_type"] or "").lower()
    return not wanted or wanted in (str(job["type"]).lower(), str(job["veeam_type"]).lower())


def list_jobs(module):
    p = module.params
    with module.client() as vbr:
        jobs = [_vbr.job_view(state) for state in vbr.job_states(name=p["job_name"])]
        jobs = sorted((job for job in jobs if selected(job, p)), key=lambda job: str(job["name"]).lower())
        for job in jobs:
            running = p["running_session"] and job["running"] and job["last_session_id"]
            # the session names its job as every job module's does (docs/vocabulary.md): VBR's session does not
            job["running_session"] = dict(_vbr.session_view(vbr.session(job["last_session_id"])),
                                          job_name=job["name"]) if running else None
    return {"changed": False, "jobs": jobs, "api_version": vbr.revision,
            "msg": "%d job%s" % (len(jobs), "" if len(jobs) == 1 else "s")}


def main():
    module = VeeamModule(
        _vbr.CONNECTION,
        {
            "job_name": {"type": "str"},
            "job_id": {"type": "str"},
            "name_pattern": {"type": "str"},
            "job_type": {"type": "str"},
            "running_session": {"type": "bool", "default": True},
        },
        mutually_exclusive=[["job_name", "job_id", "name_pattern"]],
        supports_check_mode=True,
    )
    module.run(list_jobs)


if __name__ == "__main__":
    main()
