#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: veeam_m365_session
short_description: Log in to Veeam Backup for Microsoft 365 once for a whole play, and log out at its end
version_added: 0.2.0
description:
  - With O(state=present), logs in to VB365 (OAuth2 password grant) and returns a session token, which the other
    VB365 modules take as O(session_token), so a play makes one token request however many tasks it runs.
  - VB365 throttles its token endpoint for clients that are not on the server itself (by default 1 request a
    second, 5 a minute and 1500 an hour, answered with HTTP 429 C(Quota Exceeded)); a play of several VB365
    tasks that each log in meets that limit, a play that logs in once does not.
  - With O(state=absent), logs the token out (C(POST /vN/token/logout), REST API V(v7) and later; V(v6) and older
    have no logout, and the token expires on its own).
  - The token is a secret. Register the result of O(state=present) on a task with C(no_log) set to C(true) (see
    the examples); the modules that take it as O(session_token) never print it.
author:
  - backupops maintainers (@backupops)
options:
  state:
    description:
      - V(present) logs in and returns the session token; V(absent) logs the token of O(session_token) out.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - backupops.veeam.m365
  - backupops.veeam.attributes
  - backupops.veeam.attributes.m365_group
attributes:
  check_mode:
    support: full
    details: Logging in and out changes nothing in VB365's configuration, and the play's other tasks need the
      token for their read requests in check mode too, so this module logs in and out in check mode as well.
  idempotent:
    description: Running the task twice gives the same end state.
    support: partial
    details: Each O(state=present) run is a new login; O(state=absent) of a token that is already logged out or
      expired reports C(changed=false).
notes:
  - The session token carries the access token, its refresh token, when it runs out, and the REST API version the
    login used (with O(api_version=auto), the newest the server offers), so later tasks need no version detection.
  - An access token lives an hour by default. Tasks do not refresh a token they were handed before it runs out
    (a refresh replaces it for every task); once it has expired, the first task that needs it refreshes it, and
    later tasks log in again with O(username) and O(password) when those are given too (module_defaults).
seealso:
  - module: backupops.veeam.veeam_m365_job_state
  - module: backupops.veeam.veeam_m365_restore_session
"""

EXAMPLES = r"""
- name: Several VB365 tasks with one login (a play run with -i localhost, -c local)
  hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  module_defaults:
    group/backupops.veeam.m365:
      server: "{{ lookup('ansible.builtin.env', 'VEEAM_M365_SERVER') }}"
      username: "{{ lookup('ansible.builtin.env', 'VEEAM_M365_USERNAME') }}"
      password: "{{ lookup('ansible.builtin.env', 'VEEAM_M365_PASSWORD') }}"
      ca_path: "{{ lookup('ansible.builtin.env', 'VEEAM_M365_CA_PATH') }}"
      api_version: auto
  tasks:
    - name: Log in once
      backupops.veeam.veeam_m365_session:
      register: vb365
      no_log: true

    - name: Work with that token
      module_defaults:
        group/backupops.veeam.m365:
          session_token: "{{ vb365.session_token }}"
      block:
        - name: Start a job and wait for its run
          backupops.veeam.veeam_m365_job_state:
            job_name: Exchange Daily
            organization: contoso.onmicrosoft.com
            state: started

        - name: Disable another one
          backupops.veeam.veeam_m365_job_state:
            job_name: Teams Weekly
            state: disabled

      always:
        - name: Log out
          backupops.veeam.veeam_m365_session:
            state: absent
            session_token: "{{ vb365.session_token }}"
"""

RETURN = r"""
session_token:
  description:
    - The session token for O(session_token) of the other VB365 modules. A secret - register it with C(no_log).
  returned: with O(state=present)
  type: str
api_version:
  description: The REST API version the login used (the one found with O(api_version=auto)).
  returned: always
  type: str
  sample: v8
expires_in:
  description: Seconds until the access token runs out.
  returned: with O(state=present)
  type: int
  sample: 3600
msg:
  description: What happened, in words.
  returned: always
  type: str
  sample: Logged in to VB365 (REST API v8) as svc-ansible@contoso.example
error:
  description: On failure, what went wrong - C(kind), one word for it (docs/troubleshooting.md lists them), and
    the request that failed and what the server said (C(status), C(method), C(path), C(veeam_message), C(veeam_code)).
  returned: failure
  type: dict
  sample: {"kind": "not_found", "status": 404, "method": "GET", "path": "/v8/token", "veeam_message": null, "veeam_code": null}
"""

import time

from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.module_utils._errors import UsageError
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule


def log_in(module):
    p = module.params
    if p["session_token"]:
        raise UsageError("session_token is for state: absent; state: present logs in with username and password")
    with module.client(keep_open=True) as vb:
        token = vb.handoff()
        expires = vb.auth.expires_epoch
    return {"changed": True, "session_token": token, "api_version": vb.version,
            "expires_in": max(0, int(expires - time.time())) if expires else 0,
            "msg": "Logged in to VB365 (REST API %s) as %s" % (vb.version, p["username"])}


def log_out(module):
    if not module.params["session_token"]:
        raise UsageError("state: absent needs session_token (the one state: present returned)")
    with module.client(end_handed=True) as vb:
        if not vb.routes.has_logout:
            return {"changed": False, "api_version": vb.version,
                    "msg": "VB365 REST API %s has no logout; the token expires on its own" % vb.version}
        gone = vb.auth.logout()
    if gone:
        return {"changed": False, "api_version": vb.version,
                "msg": "The VB365 token was logged out already or has expired"}
    return {"changed": True, "api_version": vb.version, "msg": "Logged out from VB365"}


def main():
    module = VeeamModule(
        _m365.CONNECTION,
        {"state": {"type": "str", "default": "present", "choices": ["present", "absent"]}},
        supports_check_mode=True,
    )
    module.run(log_in if module.params["state"] == "present" else log_out)


if __name__ == "__main__":
    main()
