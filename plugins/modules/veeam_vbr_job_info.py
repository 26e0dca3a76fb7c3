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
  schedule_state:
    description:
      - Read the settings of each job whose status does not say whether it runs on its schedule (a running job, or
        a status this module does not know) - one request per such job - so that C(enabled) is never null.
      - Without it, C(enabled) of such a job is null.
    type: bool
    default: false
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
      collection's vocabulary, docs/vocabulary.md, and VBR's own keys) and C(running_session).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "9b2e4d70-1c3a-4f5e-8d90-000000000001", "name": "VBR Daily Backup", "type": "backup",
            "veeam_type": "VSphereBackup", "enabled": true, "running": false, "last_result": "Success",
            "status": "Inactive", "running_session": null}]
  contains:
    running_session:
      description:
        - The session of a running job, with the keys of RV(backupops.veeam.veeam_vbr_job_state#module:session)
          (its C(job_name) is the job's name); null when the job does not run or O(running_session=false).
      type: dict
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
  description: On failure, what went wrong - C(kind), one word for it (docs/troubleshooting.md lists them), and
    the request that failed and what the server said (C(status), C(method), C(path), C(veeam_message), C(veeam_code)).
  returned: failure
  type: dict
  sample: {"kind": "not_found", "status": 404, "method": "GET", "path": "/api/v1/jobs/states", "veeam_message": null, "veeam_code": null}
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
            if p["schedule_state"] and job["enabled"] is None:  # a running job's status does not say; its settings do
                disabled = vbr.job(job["id"]).get("isDisabled")
                job["enabled"] = (not disabled) if isinstance(disabled, bool) else None
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
            "schedule_state": {"type": "bool", "default": False},
        },
        mutually_exclusive=[["job_name", "job_id", "name_pattern"]],
        supports_check_mode=True,
    )
    module.run(list_jobs)


if __name__ == "__main__":
    main()
