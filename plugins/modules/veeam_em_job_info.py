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
    (RV(jobs[].latest_session)). Its C(id), C(type) and C(backup_server) are what
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
    backup_server: vbr01.lab.local
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
    - Each has the keys of RV(backupops.veeam.veeam_em_job_start#module:job) (the collection's vocabulary,
      docs/vocabulary.md, and Enterprise Manager's own keys), with C(running) and C(last_result) filled in from
      the latest session, and C(latest_session).
    - An entry's C(id) and C(type) are what O(backupops.veeam.veeam_em_job_start#module:job_id) and
      O(backupops.veeam.veeam_em_job_start#module:job_type) take (see the examples).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "5658281f-625e-4627-89dd-d2a0c48be99e", "name": "Daily SQL Backup", "type": "backup",
            "veeam_type": "Backup", "enabled": true, "running": false, "last_result": "Success",
            "backup_server": "vbr01.lab.local", "latest_session": {"name": "Daily SQL Backup@2026-11-22 18:00:02",
            "job_id": "5658281f-625e-4627-89dd-d2a0c48be99e", "state": "Stopped", "result": "Success"}}]
  contains:
    running:
      description: Whether the job's latest session is still running; null with O(latest_session=false).
      type: bool
      sample: false
    last_result:
      description: The result of the job's last run (C(Success), C(Warning), C(Failed)) - the result of its
        latest session once that has stopped; null while it runs, when the job never ran, or with
        O(latest_session=false).
      type: str
      sample: Success
    latest_session:
      description:
        - The job's newest backup session, with the keys of RV(backupops.veeam.veeam_em_job_start#module:session);
          null when the job has none or O(latest_session=false).
      type: dict
msg:
  description: How many jobs were found.
  returned: always
  type: str
  sample: 4 jobs
error:
  description: On failure, what went wrong - C(kind), one word for it (docs/troubleshooting.md lists them), and
    the request that failed and what the server said (C(status), C(method), C(path), C(veeam_message), C(veeam_code)).
  returned: failure
  type: dict
  sample: {"kind": "not_found", "status": 404, "method": "GET", "path": "/api/query", "veeam_message": null, "veeam_code": null}
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
