# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Connection options of the Veeam Backup Enterprise Manager modules."""

    DOCUMENTATION = r"""
options:
  server:
    description:
      - The Enterprise Manager server as a hostname, V(host:port) or a URL (V(https://em.example.com:9398)).
      - A port or scheme in O(server) wins over O(port) and the default V(https).
      - Required. If not set, the value of the E(VEEAM_EM_SERVER) environment variable is used.
    type: str
  port:
    description:
      - The port of the Enterprise Manager REST API.
      - If not set, the value of the E(VEEAM_EM_PORT) environment variable is used.
    type: int
    default: 9398
  username:
    description:
      - The account to log on with, for example V(DOMAIN\\user).
      - Starting jobs needs the Enterprise Manager role Portal Administrator; Portal User and Restore Operator
        accounts can log on and read, but Enterprise Manager refuses their job actions (HTTP 403).
      - Required unless O(session_token) is given.
      - If not set, the value of the E(VEEAM_EM_USERNAME) environment variable is used.
    type: str
  password:
    description:
      - The password of O(username).
      - If not set, the value of the E(VEEAM_EM_PASSWORD) environment variable is used.
    type: str
  validate_certs:
    description:
      - Check the server's TLS certificate. Leave this on and give O(ca_path) for a certificate signed by your
        own CA; V(false) makes the connection, and the password sent over it, open to interception.
      - If not set, the value of the E(VEEAM_EM_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file with the CA certificate(s) that signed the server's certificate.
      - If not set, the value of the E(VEEAM_EM_CA_PATH) environment variable is used; without either, the CA bundle
        that comes with requests (certifi) is used; E(REQUESTS_CA_BUNDLE) and other requests settings from the
        environment are not read.
    type: path
  timeout:
    description:
      - Seconds to wait for the server to answer one request (not how long to wait for a job; see
        O(ignore:wait_timeout) where a module waits).
      - If not set, the value of the E(VEEAM_EM_TIMEOUT) environment variable is used.
    type: float
    default: 30
  api_version:
    description:
      - The Enterprise Manager REST API version to log on with. V(latest) is the newest the server offers
        (v1_7 on Veeam Backup & Replication 12 and 13).
    type: str
    choices: [latest, v1_5, v1_6, v1_7]
    default: latest
  session_token:
    description:
      - The token of an Enterprise Manager logon session made by M(backupops.veeam.veeam_em_session), so that a
        play logs on once and every task uses the same session. Tasks created by a job start belong to the
        logon session that started the job, so O(session_token) is also how a later task finds them.
      - A module given O(session_token) does not log that session off; M(backupops.veeam.veeam_em_session) with
        O(backupops.veeam.veeam_em_session#module:state=absent) does, that is what it is for. If O(username) and
        O(password) are given too and the session has expired, the module logs on again and logs that new session
        off when it ends.
    type: str
notes:
  - The modules talk to Enterprise Manager from where they run; run them on C(localhost) (or in the execution
    environment), not on managed hosts.
  - Every module run logs on once and logs off when it ends, also when it fails, unless O(session_token) is given.
  - Passwords and session tokens are never printed, also at high verbosity.
requirements:
  - requests >= 2.25
  - xmltodict >= 0.12
"""

    # The job options of veeam_em_job_start and veeam_em_job_state.
    JOBS = r"""
options:
  job_id:
    description:
      - The id of the job, as a GUID (V(5658281f-625e-4627-89dd-d2a0c48be99e)) or a UID
        (V(urn:veeam:Job:5658281f-625e-4627-89dd-d2a0c48be99e), also C(NasJob) and C(AgentBackupJob) UIDs).
      - Mutually exclusive with O(job_name) and O(jobs).
    type: str
  job_name:
    description:
      - The exact name of the job (case and spaces matter). Found with the Enterprise Manager query service, with
        the name quoted so that characters such as C("), C(;), C(,) or C(==) are part of the name.
      - When several jobs on different backup servers have this name, the module fails and lists them; choose
        with O(backup_server) or O(job_id).
    type: str
  jobs:
    description:
      - Several jobs in one task, each given like the single-job options. They are all found and checked before
        the first action is sent, acted on one after the other, then awaited together.
      - The result has one entry per job in RV(jobs); the task fails if any job fails.
    type: list
    elements: dict
    suboptions:
      job_id:
        description: The id of the job, as for the module's O(job_id).
        type: str
      job_name:
        description: The exact name of the job, as for the module's O(job_name).
        type: str
      job_type:
        description: The job's type, as for the module's O(job_type); defaults to the module's O(job_type).
        type: str
        choices: [auto, backup, replica, backup_copy, file_share, agent]
      backup_server:
        description: The backup server of the job, as for the module's O(backup_server).
        type: str
  job_type:
    description:
      - The type of the job. V(auto) finds it (one to three lookups); any other value looks only there and skips
        the lookup of the type.
    type: str
    choices: [auto, backup, replica, backup_copy, file_share, agent]
    default: auto
  backup_server:
    description:
      - The name (or id) of the Veeam Backup & Replication server the job belongs to, to choose among jobs of the
        same name on different backup servers connected to Enterprise Manager.
    type: str
  if_running:
    description:
      - What to do when the job already has a running backup session and is to be started.
      - V(skip) does not start it again and returns C(changed=false) with that session (and, with
        O(wait_for=session), awaits it).
      - V(fail) fails before anything is started.
    type: str
    choices: [skip, fail]
    default: skip
  fail_on_warning:
    description:
      - With O(wait_for=session), fail when the session ends with the result C(Warning). Otherwise a warning
        result is reported as a warning and the task succeeds.
    type: bool
    default: false
"""
