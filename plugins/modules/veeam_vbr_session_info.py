#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: veeam_vbr_session_info
short_description: Read or await a Veeam Backup & Replication session
version_added: 0.2.0
description:
  - Reads one session of a Veeam Backup & Replication server by its id (C(/api/v1/sessions/{id})) - its state,
    result, message, progress and times - or, with O(wait), awaits it until it has stopped and judges its result.
  - The VBR counterpart of M(backupops.veeam.veeam_task_info) - for example, to await a session that
    M(backupops.veeam.veeam_vbr_job_state) started with O(backupops.veeam.veeam_vbr_job_state#module:wait=false).
  - Reads only; changes nothing.
author:
  - backupops maintainers (@backupops)
options:
  session_id:
    description:
      - The id of the session (a GUID), as RV(backupops.veeam.veeam_vbr_job_state#module:session.id) returns it.
    type: str
    required: true
  wait:
    description:
      - Wait until the session has stopped, then fail when its result is C(Failed) (or C(Warning), with
        O(fail_on_warning)). A session state this module does not know counts as still running.
      - With V(false) the session is read once, whatever its state, and the task never fails on its result.
      - Never waits in check mode.
    type: bool
    default: false
  fail_on_warning:
    description:
      - With O(wait), fail when the session ends with the result C(Warning).
    type: bool
    default: false
extends_documentation_fragment:
  - backupops.veeam.vbr
  - backupops.veeam.wait
  - backupops.veeam.attributes.info_module
  - backupops.veeam.attributes.vbr_group
seealso:
  - module: backupops.veeam.veeam_vbr_job_state
"""

EXAMPLES = r"""
- name: Start a job without waiting
  backupops.veeam.veeam_vbr_job_state:
    job_name: VBR Daily Backup
    wait: false
  register: started

- name: Later, await its session (fails if it failed)
  backupops.veeam.veeam_vbr_session_info:
    session_id: "{{ started.session.id }}"
    wait: true
    wait_timeout: 7200
  register: session

- name: Report
  ansible.builtin.debug:
    msg: "{{ session.session.name }}: {{ session.session.result }} ({{ session.session.message }})"
"""

RETURN = r"""
session:
  description:
    - The session, with the keys of RV(backupops.veeam.veeam_vbr_job_state#module:session) (the collection's
      vocabulary, docs/vocabulary.md) - but C(job_name) is null here (VBR's session does not name its job; its
      C(name) is the job's name).
    - On failure (the session failed, or the wait timed out) as last read.
  returned: always
  type: dict
  sample: {"id": "c5b4f2b4-8d5e-4b7e-a1cf-6c7f0d7a2e11", "name": "VBR Daily Backup",
           "job_id": "9b2e4d70-1c3a-4f5e-8d90-000000000001", "job_name": null, "state": "Stopped",
           "result": "Success", "message": null, "canceled": false, "progress_percent": 100,
           "processed_objects": null, "veeam_type": "BackupJob"}
elapsed:
  description: Seconds waited.
  returned: with O(wait)
  type: float
  sample: 12.4
history:
  description: The states seen while waiting, with the seconds elapsed when each was first seen.
  returned: with O(wait)
  type: list
  elements: dict
  sample: [{"state": "Working", "elapsed": 0.0}, {"state": "Stopped", "elapsed": 12.4}]
api_version:
  description: The REST API revision used.
  returned: always
  type: str
  sample: 1.3-rev1
msg:
  description: The session's state and result, in words.
  returned: always
  type: str
  sample: "Session VBR Daily Backup is Stopped: Success"
error:
  description: On failure, what went wrong - C(kind), one word for it (docs/troubleshooting.md lists them), and
    the request that failed and what the server said (C(status), C(method), C(path), C(veeam_message), C(veeam_code)).
  returned: failure
  type: dict
  sample: {"kind": "not_found", "status": 404, "method": "GET", "path": "/api/v1/sessions/{id}", "veeam_message": null, "veeam_code": null}
"""

from ansible_collections.backupops.veeam.plugins.module_utils import _vbr
from ansible_collections.backupops.veeam.plugins.module_utils._errors import JobFailedError, UsageError
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule


def session_info(module):
    p = module.params
    session_id = (p["session_id"] or "").strip()
    if not session_id:
        raise UsageError("session_id is empty: give the id of a session (a GUID)")
    with module.client() as vbr:
        raw = vbr.session(session_id)
        result = {"changed": False, "api_version": vbr.revision}
        if p["wait"] and not module.check_mode:
            waited = vbr.wait_session(raw, module.poller())
            raw = module.finish_wait(waited, result, "Session %s" % (raw.get("name") or session_id),
                                     {"session": _vbr.session_view(waited.value)})
    session = result["session"] = _vbr.session_view(raw)
    ended = _vbr.session_result(raw) if _vbr.session_ended(raw) else None
    result["msg"] = "Session %s is %s%s%s" % (session["name"] or session["id"], session["state"],
                                              ": %s" % ended if ended else "",
                                              " (%s)" % session["message"] if session["message"] else "")
    if p["wait"] and not module.check_mode and str(ended).lower() in ("failed", "warning" if p["fail_on_warning"] else "-"):
        raise JobFailedError(result["msg"], details={k: v for k, v in result.items() if k != "msg"})
    return result


def main():
    module = VeeamModule(
        _vbr.CONNECTION,
        {
            "session_id": {"type": "str", "required": True},
            "fail_on_warning": {"type": "bool", "default": False},
        },
        wait=False,
        supports_check_mode=True,
    )
    module.run(session_info)


if __name__ == "__main__":
    main()
