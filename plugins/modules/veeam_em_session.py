#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: veeam_em_session
short_description: Log on to Veeam Backup Enterprise Manager once for a whole play, and log off at its end
version_added: 0.1.0
description:
  - With O(state=present), logs on to Enterprise Manager and returns the session token, which the other
    Enterprise Manager modules take as O(session_token), so a play logs on once however many tasks it runs.
  - With O(state=absent), logs the session off again (C(DELETE /api/logonSessions/{id})).
  - Enterprise Manager tasks belong to the logon session that created them, so sharing one session is also how
    M(backupops.veeam.veeam_task_info) can read a task that M(backupops.veeam.veeam_em_job_start) created.
  - The token is a secret. Register the result of O(state=present) on a task with C(no_log) set to C(true) (see
    the examples); the modules that take it as O(session_token) never print it.
author:
  - backupops maintainers (@backupops)
options:
  state:
    description:
      - V(present) logs on and returns the token; V(absent) logs the session of O(session_token) off.
    type: str
    choices: [present, absent]
    default: present
  logon_session_id:
    description:
      - The id of the logon session to log off with O(state=absent) (RV(logon_session_id) of O(state=present)).
        When not given, the module asks Enterprise Manager for the session of O(session_token) (which carries it
        when it came from this module).
      - The alias O(session_id) is the name of releases before 0.2.0; O(session_token) is the login, not this.
    type: str
    aliases: [session_id]
    version_added: 0.2.0
extends_documentation_fragment:
  - backupops.veeam.em
  - backupops.veeam.attributes
  - backupops.veeam.attributes.em_group
attributes:
  check_mode:
    support: full
    details: Logging on and off changes nothing in Veeam's configuration, and the play's other tasks need the
      session for their read requests in check mode too, so this module logs on and off in check mode as well.
  idempotent:
    description: Running the task twice gives the same end state.
    support: partial
    details: Each O(state=present) run is a new logon session; O(state=absent) of a session that is already gone
      reports C(changed=false).
notes:
  - Enterprise Manager logs off a session that has been idle for 15 minutes. A module given an expired
    O(session_token) together with O(username) and O(password) logs on again on its own (and logs that new
    session off when it ends).
seealso:
  - module: backupops.veeam.veeam_em_job_start
  - module: backupops.veeam.veeam_task_info
"""

EXAMPLES = r"""
- name: Start a job with one logon, await its task in another task, log off
  hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  module_defaults:
    group/backupops.veeam.em:
      server: em.example.com
      ca_path: /etc/pki/veeam-em-ca.pem
  tasks:
    - name: Log on once
      backupops.veeam.veeam_em_session:
        username: "{{ vault_em_username }}"
        password: "{{ vault_em_password }}"
      register: em
      no_log: true   # the result holds the session token

    - name: Work with the session, and always log off
      block:
        - name: Start a job without waiting
          backupops.veeam.veeam_em_job_start:
            session_token: "{{ em.session_token }}"
            job_name: Daily SQL Backup
            wait: false
          register: started

        - name: Await its task (it belongs to this logon session)
          backupops.veeam.veeam_task_info:
            session_token: "{{ em.session_token }}"
            task_id: "{{ started.task.id }}"
            wait: true
      always:
        - name: Log off
          backupops.veeam.veeam_em_session:
            state: absent
            session_token: "{{ em.session_token }}"
            logon_session_id: "{{ em.logon_session_id }}"
"""

RETURN = r"""
session_token:
  description:
    - The session token, to pass as O(session_token) to the other Enterprise Manager modules. A secret, so set
      C(no_log) to C(true) on the task that registers it.
  returned: when O(state=present)
  type: str
logon_session_id:
  description: The id of the logon session (for O(logon_session_id) with O(state=absent)).
  returned: when O(state=present)
  type: str
  sample: 15a3fc97-0325-4119-b789-5c0367c6c565
user_name:
  description: The account Enterprise Manager logged on.
  returned: when O(state=present)
  type: str
  sample: VEEAM\ansible-admin
api_version:
  description: The REST API version asked for at logon.
  returned: when O(state=present)
  type: str
  sample: latest
msg:
  description: What happened.
  returned: always
  type: str
error:
  description: On failure, what went wrong - C(kind), one word for it (docs/troubleshooting.md lists them), and
    the request that failed and what the server said (C(status), C(method), C(path), C(veeam_message), C(veeam_code)).
  returned: failure
  type: dict
  sample: {"kind": "not_found", "status": 404, "method": "GET", "path": "/api/sessionMngr/", "veeam_message": null, "veeam_code": null}
"""

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils._errors import AuthError, NotFoundError, UsageError
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule


def log_on(module):
    p = module.params
    if p["session_token"]:
        raise UsageError("session_token is for state: absent; state: present logs on with username and password")
    with module.client(logoff=False) as em:
        logon = em.auth
    who = logon.user_name or p["username"]
    return {"changed": True, "session_token": logon.handoff, "logon_session_id": logon.session_id,
            "user_name": logon.user_name, "api_version": p["api_version"],
            "msg": "Logged on to Enterprise Manager as %s (session %s)" % (who, logon.session_id)}


def log_off(module):
    p = module.params
    if not p["session_token"]:
        raise UsageError("state: absent needs session_token (the one state: present returned)")
    with module.client(logoff=False) as em:
        logon = em.auth
        try:
            gone = logon.logoff()
        except (AuthError, NotFoundError):
            gone = True
    if gone:
        return {"changed": False, "msg": "The Enterprise Manager session was already logged off or expired"}
    return {"changed": True, "msg": "Logged off from Enterprise Manager (session %s)" % logon.session_id}


def main():
    module = VeeamModule(
        _em.CONNECTION,
        {
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "logon_session_id": {"type": "str", "aliases": ["session_id"]},
        },
        supports_check_mode=True,
    )
    module.run(log_on if module.params["state"] == "present" else log_off)


if __name__ == "__main__":
    main()
