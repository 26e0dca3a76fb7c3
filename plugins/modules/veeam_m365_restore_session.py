#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: veeam_m365_restore_session
short_description: Open (explore) or close a Veeam Backup for Microsoft 365 restore session
version_added: 0.1.0
description:
  - With O(state=present), explores the backup of a Veeam Backup for Microsoft 365 (VB365) job at a point in
    time (the job's C(explore) action), which opens a restore session of the O(type) asked for - Exchange,
    OneDrive, SharePoint or Teams - and returns it. Restore operations and tools such as the Veeam Explorers
    then work in that session.
  - With O(state=absent), stops the restore session O(restore_session_id) and, by default, waits until VB365
    reports it C(Stopped). A session that is already stopped is left alone.
  - Works with the REST API versions V(v3) (VBO 3.0) to V(v8) (VB365 8); V(v2) has no explore action.
author:
  - backupops maintainers (@backupops)
options:
  state:
    description:
      - V(present) opens a new restore session on the backup of the job given by O(job_id) or O(job_name).
      - V(absent) stops the restore session O(restore_session_id).
    type: str
    choices: [present, absent]
    default: present
  job_id:
    description:
      - With O(state=present), the id of the job whose backup to explore (a GUID).
      - Mutually exclusive with O(job_name) and O(organization).
    type: str
  job_name:
    description:
      - With O(state=present), the exact name of the job whose backup to explore. When jobs of several
        organizations have this name, the module fails and lists them; choose with O(organization) or O(job_id).
    type: str
  organization:
    description:
      - The organization of the job named O(job_name), given as its name (V(contoso.onmicrosoft.com)), its
        Microsoft 365 name (V(Contoso)) or its id.
    type: str
  point_in_time:
    description:
      - The point in time to explore, as an ISO 8601 date and time (V(2026-11-20T22:00:00Z),
        V(2026-11-20T23:00:00+01:00)); a time without an offset is taken as UTC.
      - VB365 uses the newest restore point at or before that time. A time before the organization's first
        backup gives a session with no data; a time after its last backup gives the latest data.
      - When not given, the current time is sent, which gives the latest restore point.
      - V(v3) to V(v5) take the time as C(yyyy-MM-dd HH:mm:ss.fff) without a time zone; the module sends it in
        UTC (see the notes).
    type: str
  type:
    description:
      - The kind of restore session - V(vex) Exchange, V(veod) OneDrive, V(vesp) SharePoint, V(vet) Teams.
      - V(vet) needs REST API V(v5) or later (Teams backups came with VBO 5).
      - VB365 spells these C(vex) up to V(v5) and C(Vex) from V(v6); the module sends each version its own
        spelling and returns V(vex) and so on in every version.
    type: str
    choices: [vex, veod, vesp, vet]
    default: vex
  show_deleted:
    description: Show items that were deleted before O(point_in_time).
    type: bool
    default: false
  show_all_versions:
    description: Show every version of items that were changed before O(point_in_time), not only the newest.
    type: bool
    default: false
  restore_session_id:
    description:
      - With O(state=absent), the id of the restore session to stop (RV(restore_session.id) of O(state=present)).
      - The alias O(session_id) is the name of releases before 0.2.0; O(session_token) is the login, not this.
    type: str
    aliases: [session_id]
    version_added: 0.2.0
  wait:
    description:
      - With O(state=absent), wait until VB365 reports the session C(Stopped).
      - Has no effect with O(state=present) (VB365 answers an explore with the session, already C(Working)).
        Never waits in check mode.
    type: bool
    default: true
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
      - O(state=absent) changes nothing when the session is already stopped.
      - O(state=present) opens a new restore session every time it runs, because VB365 cannot tell which of the
        open sessions (of other users and tools, too) a task would mean. Stop the session with O(state=absent)
        when done, for example in an C(always) section.
      - The explore is never sent twice within a run - when its answer is lost, the module looks for the session
        it opened (see the notes).
notes:
  - "How the versions differ, where you notice it:"
  - "V(v2): no explore action; O(state=present) fails before anything is sent."
  - "V(v3) to V(v5): the explore is C(POST /vN/Jobs/{id}/Action) with C({\"explore\": {\"datetime\": ...,
    \"type\": \"vex\", ...}}), and a stop is C(POST /vN/RestoreSessions/{id}/Action) with C({\"stop\": null}).
    V(vet) (Teams) needs V(v5)."
  - "V(v6) to V(v8): the explore is C(POST /vN/Jobs/{id}/explore) with C({\"dateTime\": ..., \"type\": \"Vex\",
    ...}) (answered C(200) in V(v6) and V(v7), C(201) in V(v8)), and a stop is
    C(POST /vN/RestoreSessions/{id}/Stop) (C(200) in V(v6) and V(v7), C(204) in V(v8))."
  - "Assumptions where Veeam's documentation is silent: the V(v3) to V(v5) time format carries no time zone, and
    the module sends UTC (a server that reads it as its local time explores a point shifted by its UTC offset);
    the V(v2) to V(v5) stop body C({\"stop\": null}) follows the pattern of the job actions; VB365 refuses to
    stop a stopped session, so the module reads the session first."
  - "A restore session keeps the backup open in VB365 until it is stopped (VB365 closes idle sessions after a
    while on its own)."
  - "A lost answer to the explore is settled the way a lost start is settled, never by sending the explore again:
    before the explore, the module reads the restore sessions VB365 lists (V(v8) - the newest one, as V(v8) sorts
    them newest first; V(v3) to V(v7) - all of them, as those versions do not say in which order they list them);
    when the explore's answer is lost, it takes the one new C(Working) restore session of the O(type) asked for,
    returns it and warns. When VB365 lists none, the task fails saying none was opened (or, when the answer timed
    out, after looking once a second for as long again as O(timeout), that VB365 may still open one). When it
    lists several new ones (other users exploring at the same moment) and neither their C(scopeName) (the job's
    name, V(v6) and later) nor their C(initiatedBy) tells which is this task's, the task fails and names them, so
    they can be stopped with O(state=absent)."
  - "An account that may not list restore sessions (C(403) or C(404) on C(GET /RestoreSessions)) can still
    explore; only a lost answer then cannot be settled, and the task fails saying so."
seealso:
  - module: backupops.veeam.veeam_m365_job_state
  - name: VB365 REST API reference (v8) - Create Restore Session
    description: The explore action this module sends from V(v6) on.
    link: https://helpcenter.veeam.com/references/vbo365/8/rest/tag/Job
"""

EXAMPLES = r"""
- name: Explore the latest Exchange backup of a job, work with it, and always close it again
  module_defaults:
    group/backupops.veeam.m365:
      server: vb365.example.com
      username: "{{ vault_vb365_username }}"
      password: "{{ vault_vb365_password }}"
      ca_path: /etc/pki/vb365-ca.pem
  block:
    - name: Open a restore session
      backupops.veeam.veeam_m365_restore_session:
        job_name: Exchange Daily
        organization: contoso.onmicrosoft.com
        type: vex
      register: explored

    - name: Show it
      ansible.builtin.debug:
        msg: "{{ explored.restore_session.name }} {{ explored.restore_session.id }} is {{ explored.restore_session.state }}"
  always:
    - name: Close the restore session
      backupops.veeam.veeam_m365_restore_session:
        state: absent
        restore_session_id: "{{ explored.restore_session.id }}"
      when: explored.restore_session is defined

- name: SharePoint as it was 12 hours ago (a fixed time works too, "2026-11-20T22:00:00Z"), with deleted items and all versions
  backupops.veeam.veeam_m365_restore_session:
    job_id: 3a6c1f10-5b1e-4e0a-9c11-000000000002
    type: vesp
    point_in_time: "{{ '%Y-%m-%dT%H:%M:%SZ' | ansible.builtin.strftime(now(utc=true).timestamp() - 43200, utc=true) }}"
    show_deleted: true
    show_all_versions: true
  register: sharepoint

- name: Close it when done
  backupops.veeam.veeam_m365_restore_session:
    state: absent
    restore_session_id: "{{ sharepoint.restore_session.id }}"

- name: Teams (needs REST API v5 or later)
  backupops.veeam.veeam_m365_restore_session:
    job_name: Teams Weekly
    type: vet
    api_version: v5
  register: teams

- name: Close a restore session by id (no change if it is already stopped)
  backupops.veeam.veeam_m365_restore_session:
    state: absent
    restore_session_id: "{{ teams.restore_session.id }}"
"""

RETURN = r"""
restore_session:
  description:
    - The restore session - the one opened (O(state=present)), or the one stopped or found stopped
      (O(state=absent)), as VB365 reported it last.
    - The same keys in every API version (docs/vocabulary.md); a field the version does not have is null.
  returned: success, and on failure when the wait for the stop timed out
  type: dict
  contains:
    id:
      description: The session's id, for O(restore_session_id) with O(state=absent).
      type: str
      sample: fa561ea7-9017-4ffd-a890-6fe85e2c6662
    name:
      description: The session's name.
      type: str
      sample: Restore Session (Exchange)
    type:
      description: V(vex), V(veod), V(vesp) or V(vet), spelled so in every version (VB365 itself sends C(Vex) from
        V(v6)).
      type: str
      sample: vex
    state:
      description: C(Working) while the session is open, C(Stopped) once it is closed (first letter capitalised in
        every version).
      type: str
      sample: Working
    result:
      description: C(Success), C(Warning) or C(Failed) (first letter capitalised in every version).
      type: str
      sample: Success
    creation_time:
      description: When the session was opened (UTC).
      type: str
      sample: "2026-11-22T19:23:04.3761470Z"
    end_time:
      description: When the session was stopped (UTC); null while it works.
      type: str
    organization:
      description: The name of the organization whose backup the session explores.
      type: str
      sample: contoso.onmicrosoft.com
    initiated_by:
      description: The account that opened the session.
      type: str
      sample: svc-ansible@contoso.example
    details:
      description: VB365's details about the session.
      type: str
    scope_name:
      description: What the session explores, such as the job's name (REST API V(v6) and later; null before).
      type: str
      sample: Exchange Daily
    client_host:
      description: The host the session was opened from (V(v6) and later).
      type: str
    reason:
      description: The reason given for the restore (V(v6) and later).
      type: str
job:
  description: The job whose backup was explored, with the keys of
    RV(backupops.veeam.veeam_m365_job_state#module:job).
  returned: when O(state=present)
  type: dict
  sample: {"id": "3a6c1f10-5b1e-4e0a-9c11-000000000001", "name": "Exchange Daily", "is_enabled": true,
           "last_status": "Success", "last_run": "2026-11-21T19:21:35.0254800Z", "organization_id": null}
elapsed:
  description: Seconds from the stop to VB365 reporting the session C(Stopped).
  returned: when the module waited for a stop
  type: float
  sample: 0.1
history:
  description: The states seen while waiting for the stop, with the seconds elapsed when each was first seen.
  returned: when the module waited for a stop
  type: list
  elements: dict
  sample: [{"state": "Stopped", "elapsed": 0.0}]
api_version:
  description: The REST API version used (the one found with O(api_version=auto)).
  returned: success
  type: str
  sample: v8
msg:
  description: What happened, in words.
  returned: always
  type: str
  sample: "Explored the backup of job 'Exchange Daily' (latest restore point): restore session fa561ea7-9017-4ffd-a890-6fe85e2c6662 is Working"
error:
  description: On failure, what went wrong - C(kind), one word for it (docs/troubleshooting.md lists them), and
    the request that failed and what the server said (C(status), C(method), C(path), C(veeam_message), C(veeam_code)).
  returned: failure
  type: dict
  sample: {"kind": "not_found", "status": 404, "method": "GET", "path": "/v8/RestoreSessions/{id}", "veeam_message": null, "veeam_code": null}
"""

from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.module_utils._errors import UsageError
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule

JOB_OPTIONS = ("job_id", "job_name", "organization", "point_in_time")


def check_options(params):
    """Options that belong to the other state are refused before anything is sent."""
    if params["state"] == "present":
        if params["restore_session_id"]:
            raise UsageError("restore_session_id is for state: absent; state: present opens a new restore session on the "
                             "backup of job_id or job_name")
        return _m365.parse_point_in_time(params["point_in_time"])
    given = [name for name in JOB_OPTIONS if params[name]]
    if given:
        raise UsageError("%s %s for state: present; state: absent stops the restore session restore_session_id"
                         % (", ".join(given), "is" if len(given) == 1 else "are"))
    return None


def explore(module, vb, point_in_time):
    p = module.params
    job = vb.find_job(p["job_id"], p["job_name"], p["organization"])
    if not vb.routes.supports_explore:
        raise UsageError("Exploring backups needs VB365 REST API v3 or later; %s has no explore action"
                         % vb.version, details={"job": vb.job_view(job)})
    vb.check_restore_type(p["type"])
    when = point_in_time.strftime("%Y-%m-%dT%H:%M:%SZ") if point_in_time else "latest restore point"
    if module.check_mode:
        return {"changed": True, "job": vb.job_view(job), "api_version": vb.version,
                "msg": "Would explore the backup of job %r (%s, %s)" % (job["name"], p["type"], when)}
    raw = vb.explore(job, point_in_time, p["type"], p["show_deleted"], p["show_all_versions"])
    session = _m365.restore_session_view(raw)
    return {"changed": True, "job": vb.job_view(job), "restore_session": session, "api_version": vb.version,
            "msg": "Explored the backup of job %r (%s): restore session %s is %s" % (
                job["name"], when, session["id"], session["state"])}


def close(module, vb):
    p = module.params
    raw = vb.get_restore_session(p["restore_session_id"])
    if _m365.restore_session_stopped(raw):
        return {"changed": False, "restore_session": _m365.restore_session_view(raw), "api_version": vb.version,
                "msg": "Restore session %s is already stopped" % raw.get("id")}
    if module.check_mode:
        return {"changed": True, "restore_session": _m365.restore_session_view(raw), "api_version": vb.version,
                "msg": "Would stop restore session %s (%s)" % (raw.get("id"), raw.get("name"))}
    if not vb.stop_restore_session(raw["id"]):
        module.warn("VB365 refused to stop restore session %s because it was stopped meanwhile" % raw["id"])
        raw = vb.get_restore_session(raw["id"])
        return {"changed": False, "restore_session": _m365.restore_session_view(raw), "api_version": vb.version,
                "msg": "Restore session %s is already stopped" % raw.get("id")}
    result = {"changed": True, "api_version": vb.version}
    if p["wait"]:
        waited = vb.wait_restore_session_stopped(raw, module.poller())
        raw = module.finish_wait(waited, result, "Restore session %s" % raw["id"],
                                 {"restore_session": _m365.restore_session_view(waited.value)})
    else:
        raw = vb.get_restore_session(raw["id"])
    result["restore_session"] = _m365.restore_session_view(raw)
    result["msg"] = "Stopped restore session %s (%s); it is %s" % (raw.get("id"), raw.get("name"), raw.get("state"))
    return result


def run_restore_session(module):
    point_in_time = check_options(module.params)
    with module.client() as vb:
        if module.params["state"] == "present":
            return explore(module, vb, point_in_time)
        return close(module, vb)


def main():
    module = VeeamModule(
        _m365.CONNECTION,
        {
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "job_id": {"type": "str"},
            "job_name": {"type": "str"},
            "organization": {"type": "str"},
            "point_in_time": {"type": "str"},
            "type": {"type": "str", "default": "vex", "choices": list(_m365.RESTORE_TYPES)},
            "show_deleted": {"type": "bool", "default": False},
            "show_all_versions": {"type": "bool", "default": False},
            "restore_session_id": {"type": "str", "aliases": ["session_id"]},
        },
        wait=True,
        mutually_exclusive=[["job_id", "job_name"], ["job_id", "organization"]],
        required_if=[["state", "present", ["job_id", "job_name"], True], ["state", "absent", ["restore_session_id"]]],
        supports_check_mode=True,
    )
    module.run(run_restore_session)


if __name__ == "__main__":
    main()
