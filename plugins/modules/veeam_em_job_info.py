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
  - Returns a list, empty when nothing matches. Each job's keys are named like the options of
    M(backupops.veeam.veeam_em_job_start) (RV(jobs[].job_id), RV(jobs[].job_name), RV(jobs[].job_type),
    RV(jobs[].backup_server)), so an entry can be handed to it as is.
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
    msg: "{{ info.jobs | selectattr('latest_session.result', 'defined') | selectattr('latest_session.result', 'eq', 'Failed')
             | map(attribute='job_name') | list }}"

- name: Find the file share jobs of one backup server
  backupops.veeam.veeam_em_job_info:
    job_type: file_share
    backup_server: vbr02.example.com
    latest_session: false
  register: shares

- name: Start each of them without waiting (the info keys are the start module's options)
  backupops.veeam.veeam_em_job_start:
    job_id: "{{ item.job_id }}"
    job_type: "{{ item.job_type }}"
    wait: false
  loop: "{{ shares.jobs }}"
  loop_control:
    label: "{{ item.job_name }}"
"""

RETURN = r"""
jobs:
  description: The matching jobs; an empty list when none match.
  returned: always
  type: list
  elements: dict
  contains:
    job_id:
      description: The job's id (the O(backupops.veeam.veeam_em_job_start#module:job_id) of the start module).
      type: str
      sample: 5658281f-625e-4627-89dd-d2a0c48be99e
    job_name:
      description: The job's name.
      type: str
      sample: Daily Backup
    job_type:
      description: The job's type, named like the values of O(job_type).
      type: str
      sample: backup
    backup_server:
      description: The name of the backup server the job belongs to.
      type: str
      sample: vbr01.example.com
    backup_server_id:
      description: The id of that backup server.
      type: str
    uid:
      description: The job's UID.
      type: str
      sample: urn:veeam:Job:5658281f-625e-4627-89dd-d2a0c48be99e
    veeam_type:
      description: Veeam's own name of the job type (C(Backup), C(Replica), C(BackupCopy), C(NasBackup), ...).
      type: str
    platform:
      description: The job's platform, when known.
      type: str
    description:
      description: The job's description.
      type: str
    schedule_enabled:
      description: Whether the job's schedule is enabled.
      type: bool
    next_run:
      description: The next scheduled run (UTC), when scheduled.
      type: str
    running:
      description: Whether the latest session is still running.
      type: bool
    latest_session:
      description: The job's newest backup session (keys as RV(backupops.veeam.veeam_em_job_start#module:session));
        null when the job has none or O(latest_session=false).
      type: dict
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
