#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: veeam_m365_job_info
short_description: List Veeam Backup for Microsoft 365 backup jobs with their schedule state, last status and next run
version_added: 0.2.0
description:
  - Lists the backup jobs of Veeam Backup for Microsoft 365 (VB365) through its REST API, in every API version
    from V(v2) to V(v8) (all pages of the list in V(v8)), with each job's schedule state (C(enabled)), whether it
    runs, the status and result of its last run, its last and next run, and its organization.
  - Reads only; changes nothing.
author:
  - backupops maintainers (@backupops)
options:
  job_name:
    description:
      - Only the jobs of this exact name (case, spaces and quotes matter; jobs of different organizations may share
        a name).
      - Mutually exclusive with O(job_id) and O(name_pattern).
    type: str
  job_id:
    description:
      - Only the job of this id (a GUID).
      - Mutually exclusive with O(job_name), O(name_pattern) and O(organization).
    type: str
  name_pattern:
    description:
      - Only the jobs whose name matches this shell-style pattern (V(Exchange *), V(*OneDrive*)), regardless of
        case.
    type: str
  organization:
    description:
      - Only the jobs of this organization, given as its name (V(contoso.onmicrosoft.com)), its Microsoft 365
        name (V(Contoso)) or its id; names are matched regardless of case.
    type: str
  running_session:
    description:
      - Read the session of each running job (one request per running job), returned as C(running_session).
    type: bool
    default: true
extends_documentation_fragment:
  - backupops.veeam.m365
  - backupops.veeam.attributes.info_module
  - backupops.veeam.attributes.m365_group
notes:
  - Before REST API V(v8) jobs do not name their organization; the module reads C(/Organizations/{id}/Jobs) for
    each organization (or only for O(organization)) to fill the C(organization) of each entry of RV(jobs).
seealso:
  - module: backupops.veeam.veeam_m365_job_state
  - module: backupops.veeam.veeam_m365_session
"""

EXAMPLES = r"""
- name: List every VB365 job
  backupops.veeam.veeam_m365_job_info:
    server: vb365.example.com
    username: "{{ vault_m365_username }}"
    password: "{{ vault_m365_password }}"
  register: vb365_jobs

- name: The jobs whose schedule is disabled
  ansible.builtin.debug:
    msg: "{{ vb365_jobs.jobs | rejectattr('enabled') | map(attribute='name') | list }}"

- name: The jobs of one organization whose last run failed
  backupops.veeam.veeam_m365_job_info:
    organization: contoso.onmicrosoft.com
  register: contoso

- name: Say which
  ansible.builtin.debug:
    msg: "{{ contoso.jobs | selectattr('last_result', 'equalto', 'Failed') | map(attribute='name') | list }}"

- name: The Exchange jobs, with the token of veeam_m365_session
  backupops.veeam.veeam_m365_job_info:
    name_pattern: "Exchange*"
    session_token: "{{ vb365.session_token }}"
"""

RETURN = r"""
jobs:
  description:
    - The jobs, sorted by name (then organization); each has the keys of
      RV(backupops.veeam.veeam_m365_job_state#module:job) (docs/vocabulary.md), and C(running_session).
    - C(enabled) (and VB365's C(is_enabled)) says whether the job runs on its schedule; C(running) whether its last
      status is C(Queued) or C(Running); C(last_status) is VB365's status word of the last run and C(last_result)
      its result (C(Success), C(Warning), C(Failed); null when it never ran or runs now); C(last_run) and
      C(next_run) are VB365's times.
    - C(running_session) is the session of a running job (the keys of
      RV(backupops.veeam.veeam_m365_job_state#module:session)), null when the job does not run or
      O(running_session=false).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "3a6c1f10-5b1e-4e0a-9c11-000000000001", "name": "Exchange Daily", "type": "backup",
            "enabled": true, "running": false, "last_status": "Success", "last_result": "Success",
            "last_run": "2026-11-22T19:23:04.0808570Z", "next_run": "2026-11-22T22:00:00Z",
            "organization": "contoso.onmicrosoft.com", "running_session": null}]
api_version:
  description: The REST API version used (the one found with O(api_version=auto)).
  returned: always
  type: str
  sample: v8
msg:
  description: How many jobs were found.
  returned: always
  type: str
  sample: 9 jobs
"""

import fnmatch

from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.module_utils._errors import NotFoundError, UsageError
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule


def selected(job, params):
    """Whether a job (its view) passes the name filters of the task."""
    if params["job_name"] is not None and job["name"] != params["job_name"]:
        return False
    pattern = params["name_pattern"]
    return not pattern or fnmatch.fnmatch(str(job["name"] or "").lower(), pattern.lower())


def list_jobs(module):
    p = module.params
    if p["job_name"] is not None and not p["job_name"].strip():
        raise UsageError("job_name is empty: give the exact name of the job, or job_id")
    with module.client() as vb:
        if p["job_id"]:
            try:
                jobs = [vb.job_view(vb.find_job(job_id=p["job_id"]))]
            except NotFoundError:
                jobs = []
        else:
            jobs = [job for job in vb.job_views(p["organization"]) if selected(job, p)]
        jobs.sort(key=lambda job: (str(job["name"] or "").lower(), str(job["organization"] or "")))
        for job in jobs:
            session = vb.running_session(job["id"]) if p["running_session"] and job["running"] else None
            job["running_session"] = dict(_m365.session_view(session), job_id=session.get("jobId") or job["id"],
                                          job_name=job["name"]) if session else None
    return {"changed": False, "jobs": jobs, "api_version": vb.version,
            "msg": "%d job%s" % (len(jobs), "" if len(jobs) == 1 else "s")}


def main():
    module = VeeamModule(
        _m365.CONNECTION,
        {
            "job_name": {"type": "str"},
            "job_id": {"type": "str"},
            "name_pattern": {"type": "str"},
            "organization": {"type": "str"},
            "running_session": {"type": "bool", "default": True},
        },
        mutually_exclusive=[["job_name", "job_id", "name_pattern"], ["job_id", "organization"]],
        supports_check_mode=True,
    )
    module.run(list_jobs)


if __name__ == "__main__":
    main()
