# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Answers of Enterprise Manager and VB365 for :class:`veeam_fakes.FakeServer`, built from the recorded fixtures:
ids of the samples, logon and token answers, job entities renamed or moved, query results, session and task
lists, VB365 jobs, sessions and pages.  Shared by the client, adapter and lifecycle tests."""

from __future__ import annotations

import json
import re

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    EM_SESSION_ID, EM_TOKEN, M365_ACCESS, M365_REFRESH, Reply, fixture_bytes, jsonr, path_re, xml)

# ------------------------------------------------------------------------------------------------ Enterprise Manager
DB_BACKUP = "5658281f-625e-4627-89dd-d2a0c48be99e"      # em_job_entity.xml, backup job on srv12.tech.local
REPLICA = "b04c217b-0538-4650-bec4-19deff4ea1ac"        # em_job_entity_replica_vmware.xml, on srv02.tech.local
COPY = "5adf6525-51d9-48b9-a72d-7f80701c714b"           # em_job_entity_immediate_backup_copy.xml
NAS = "93dfbb3e-f420-45cf-addc-4ee9297113f2"            # em_nas_job_entity.xml
AGENT = "a6deb158-b26c-4140-8b26-5a3cc344e8ec"          # em_agent_backup_job_entity.xml
SESSION = "d46e39e0-1131-4585-91a7-e828ce7eafae"        # em_backup_session_*.xml
FILESERVER = "4856ab37-2235-45e8-affe-d515878b01a9"     # the job of the sessions of em_backup_session_*.xml
OTHER_SESSION = "11111111-1111-4111-8111-111111111111"
SECOND_SESSION_ID = "2c1e0c55-6f7a-4b0e-9d61-0f6b7a8c9d10"
OTHER_SERVER_JOB = "0e4b4c6e-1f0a-4d37-9b7b-3f1d2b6c8a90"
SECOND = "7a1c6e0b-3d2f-4e5a-9b8c-0d1e2f3a4b5c"
ANY_LOGOFF = path_re(r"^/api/logonSessions/[0-9a-f-]+$")
LOGON = "/api/sessionMngr/"
DB_SESSIONS = "/api/jobs/%s/backupSessions" % DB_BACKUP


def logon_reply(token=EM_TOKEN, session_id=EM_SESSION_ID, status=201):
    body = fixture_bytes("em_logon_session.xml").replace(EM_SESSION_ID.encode(), session_id.encode())
    return Reply(status, body, [("X-RestSvcSessionId", token),
                                ("Set-Cookie", "X-RestSvcSessionId=%s; Path=/api; HttpOnly" % token)],
                 content_type="application/xml; charset=utf-8")


def entity(name, new_name=None, new_id=None, server=None, start_link=True):
    """The top of a job entity fixture (no schedule/info), optionally renamed, re-identified or moved."""
    text = fixture_bytes(name).decode("utf-8")
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    text = re.sub(r"\s*<JobScheduleOptions>.*?</JobScheduleOptions>", "", text, flags=re.S)
    text = re.sub(r"\s*<JobInfo>.*?</JobInfo>", "", text, flags=re.S)
    text = text.replace(' xmlns="http://www.veeam.com/ent/v1.0"', "")
    if new_name:
        quoted = new_name.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
        text = re.sub(r'Name="[^"]*" UID', lambda _m: 'Name="%s" UID' % quoted, text, count=1)
    if new_id:
        old = re.search(r'UID="urn:veeam:[A-Za-z]+:([0-9a-f-]+)"', text).group(1)
        text = text.replace(old, new_id)
    if server:
        text = re.sub(r'(Type="BackupServerReference" Href="[^"]*" Name=")[^"]*"', r'\g<1>%s"' % server, text)
    if not start_link:
        text = re.sub(r'\s*<Link Rel="Start"[^>]*/>', "", text)
    return text.strip()


def query_result(*entities, page=1, pages=1, wrapper="Jobs"):
    """A query-service answer with entities (``<Entities><Jobs><Job/>..``; NAS and agent jobs in their own list)."""
    return ('<QueryResult xmlns="http://www.veeam.com/ent/v1.0"><Entities><%s>%s</%s></Entities>'
            '<PagingInfo PageNum="%d" PageSize="200" PagesCount="%d"/></QueryResult>'
            % (wrapper, "".join(entities), wrapper, page, pages))


def empty_query():
    return xml(200, '<QueryResult xmlns="http://www.veeam.com/ent/v1.0"><Entities><Jobs/></Entities>'
                    '<PagingInfo PageNum="1" PageSize="200" PagesCount="1"/></QueryResult>')


def _inner(name_or_text):
    text = fixture_bytes(name_or_text).decode("utf-8") if name_or_text.endswith(".xml") else name_or_text
    return re.sub(r' xmlns="[^"]*"', "", re.sub(r"<\?xml[^>]*\?>", "", text))


def sessions_list(*names):
    """A job's sessions (fixture names or XML texts of sessions)."""
    return xml(200, '<BackupJobSessions xmlns="http://www.veeam.com/ent/v1.0">%s</BackupJobSessions>'
               % "".join(_inner(n) for n in names))


def tasks_list(*names):
    """A logon session's tasks (fixture names or XML texts of tasks)."""
    return xml(200, '<Tasks xmlns="http://www.veeam.com/ent/v1.0">%s</Tasks>' % "".join(_inner(n) for n in names))


def session_xml(state="Working", result="None", session_id=SESSION, created="2026-11-22T18:00:02Z", failure="",
                progress=42):
    """A backup session of 'DB Backup' (the working session fixture, restated: its job is DB Backup)."""
    text = fixture_bytes("em_backup_session_working_reconstructed.xml").decode("utf-8")
    text = text.replace("urn:veeam:Job:%s" % FILESERVER, "urn:veeam:Job:%s" % DB_BACKUP)
    text = text.replace("<JobName>Fileserver Backup</JobName>", "<JobName>DB Backup</JobName>")
    text = text.replace(SESSION, session_id).replace("<State>Working</State>", "<State>%s</State>" % state)
    text = text.replace("<Result>None</Result>", "<Result>%s</Result>" % result)
    text = text.replace("<CreationTimeUTC>2014-10-19T05:22:52Z", "<CreationTimeUTC>%s" % created)
    text = text.replace("<FailureMessage/>", "<FailureMessage>%s</FailureMessage>" % failure if failure
                        else "<FailureMessage/>")
    return text.replace("<Progress>42</Progress>", "<Progress>%d</Progress>" % progress)


def task_xml(num, state, success=None, message=None, operation="StartJob"):
    result = "" if success is None else '<Result Success="%s"><Message>%s</Message></Result>' % (
        "true" if success else "false", message or "Ok")
    return ('<Task xmlns="http://www.veeam.com/ent/v1.0" Type="Task" Href="https://localhost:9398/api/tasks/task-%d">'
            '<TaskId>task-%d</TaskId><State>%s</State><Operation>%s</Operation>%s</Task>'
            % (num, num, state, operation, result))


def start_task_of(name, task_id="task-10"):
    """The finished StartJob task of the docs, for the job ``name``."""
    return fixture_bytes("em_task_finished_start_job.xml").decode().replace("SQL Backup", name).replace(
        "task-10", task_id)


def job_of(name, kind="vm"):
    root_name, body = _em.W.root(_em.W.parse(fixture_bytes(name)))
    return _em._job(body, kind, root_name)  # pylint: disable=protected-access


# ------------------------------------------------------------------------------------------------ VB365
JOB = "93089cfa-81d6-4551-8a7b-a7290868d6f9"       # m365_job_v8_reconstructed.json, "Backup Job ABC"
ORG = "b2d9414d-c417-4a94-b3a5-85d5c3dd8ec3"
ORG2 = "5d0c3b8e-2f1a-4b6c-9d7e-8f9a0b1c2d3e"
M365_SESSION = "9f4eba99-ce30-419b-a942-354744045f51"
NEW_SESSION = "0a0a0a0a-0000-4000-8000-000000000001"
BASE = "https://vb365.example:4443"
ANY_VERSION = ("v2", "v3", "v4", "v5", "v6", "v7", "v8")


def token_body(access=M365_ACCESS, refresh=M365_REFRESH, expires_in=3600):
    data = json.loads(fixture_bytes("m365_token_reconstructed.json"))
    data.update(access_token=access, refresh_token=refresh, expires_in=expires_in)
    return jsonr(200, data)


def job(**changes):
    data = json.loads(fixture_bytes("m365_job_v8_reconstructed.json"))
    data.update(changes)
    return data


def page(items, offset=0, limit=500):
    return jsonr(200, {"offset": offset, "limit": limit, "results": items, "_links": {"self": {"href": "/v8/Jobs"}}})


def session_body(status="Running", **changes):
    data = json.loads(fixture_bytes("m365_job_session_running_v8_reconstructed.json"))
    data.update(status=status, **changes)
    if status is None:
        del data["status"]
    return data


def sessions_page(*sessions):
    return jsonr(200, {"offset": 0, "limit": 30, "results": list(sessions)})
