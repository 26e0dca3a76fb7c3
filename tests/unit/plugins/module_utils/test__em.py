# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_em: logon/logoff, the token hand-off, re-logon, finding jobs, starting them (once), tasks and sessions."""

from __future__ import annotations

import re
import urllib.parse

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils._em import EnterpriseManager
from ansible_collections.backupops.veeam.plugins.module_utils._errors import VeeamError
from ansible_collections.backupops.veeam.plugins.module_utils._poll import Poller
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    BASIC, EM_SESSION_ID, EM_TOKEN, EM_TOKEN2, PASSWORD, USERNAME, Reply, assert_no_secrets, dropped, em_error,
    expect_error, fixture_bytes, jsonr, path_re, read_timeout, refused, xml)

DB_BACKUP = "5658281f-625e-4627-89dd-d2a0c48be99e"      # em_job_entity.xml, backup job on srv12.tech.local
REPLICA = "b04c217b-0538-4650-bec4-19deff4ea1ac"        # em_job_entity_replica_vmware.xml, on srv02.tech.local
COPY = "5adf6525-51d9-48b9-a72d-7f80701c714b"           # em_job_entity_immediate_backup_copy.xml
NAS = "93dfbb3e-f420-45cf-addc-4ee9297113f2"            # em_nas_job_entity.xml
AGENT = "a6deb158-b26c-4140-8b26-5a3cc344e8ec"          # em_agent_backup_job_entity.xml
SESSION = "d46e39e0-1131-4585-91a7-e828ce7eafae"        # em_backup_session_*.xml
SECOND_SESSION_ID = "2c1e0c55-6f7a-4b0e-9d61-0f6b7a8c9d10"
OTHER_SERVER_JOB = "0e4b4c6e-1f0a-4d37-9b7b-3f1d2b6c8a90"
ANY_LOGOFF = path_re(r"^/api/logonSessions/[0-9a-f-]+$")
LOGON = "/api/sessionMngr/"


# ------------------------------------------------------------------------------------------------ bodies
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


def sessions_list(*names):
    inner = "".join(re.sub(r' xmlns="[^"]*"', "", fixture_bytes(n).decode("utf-8")) for n in names)
    return xml(200, '<BackupJobSessions xmlns="http://www.veeam.com/ent/v1.0">%s</BackupJobSessions>' % inner)


def tasks_list(*names):
    inner = "".join(re.sub(r' xmlns="[^"]*"', "", fixture_bytes(n).decode("utf-8")) for n in names)
    return xml(200, '<Tasks xmlns="http://www.veeam.com/ent/v1.0">%s</Tasks>' % inner)


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture
def warnings():
    return []


@pytest.fixture
def em_server(server):
    server.on("POST", LOGON, logon_reply())
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    return server


@pytest.fixture
def make_em(make_transport, warnings):
    def make(**kwargs):
        kwargs.setdefault("username", USERNAME)
        kwargs.setdefault("password", PASSWORD)
        kwargs.setdefault("warn", warnings.append)
        return EnterpriseManager(make_transport(), **kwargs)
    return make


def job_of(name, kind="vm"):
    root_name, body = _em.W.root(_em.W.parse(fixture_bytes(name)))
    return _em._job(body, kind, root_name)


# ------------------------------------------------------------------------------------------------ construction
def test_unknown_api_version(make_em):
    with expect_error("usage") as caught:
        make_em(api_version="v1_8")
    assert str(caught.error) == "api_version 'v1_8' is not one of latest, v1_5, v1_6, v1_7"


@pytest.mark.parametrize("kwargs", [{"username": None}, {"password": None}, {"password": ""}])
def test_credentials_or_a_token_are_required(make_em, kwargs):
    with expect_error("usage") as caught:
        make_em(**kwargs)
    assert str(caught.error) == ("username and password are required (or session_token from "
                                 "backupops.veeam.veeam_em_session)")


# ------------------------------------------------------------------------------------------------ logon
def test_logon_takes_the_token_from_the_header_and_sends_basic_auth(em_server, make_em):
    with make_em() as em:
        assert em.token == EM_TOKEN and em.session_id == EM_SESSION_ID and em.user_name == "SRV12\\Administrator"
        assert em.owns_session
    logon = em_server.calls[0]
    assert (logon.method, logon.path, logon.params) == ("POST", LOGON, {"v": ["latest"]})
    assert logon.headers["Authorization"] == "Basic " + BASIC
    assert logon.headers["Accept"] == "application/xml"
    assert logon.body == b""


@pytest.mark.parametrize("version", ["v1_5", "v1_6", "v1_7"])
def test_logon_asks_for_the_api_version(em_server, make_em, version):
    with make_em(api_version=version):
        pass
    assert em_server.calls[0].params == {"v": [version]}


def test_the_token_is_never_taken_from_the_body(server, make_em):
    """The JSON logon body has a SessionId; the token is still the header (EM tokens are not derived ids)."""
    body = fixture_bytes("em_logon_session_twin_constructed.json")
    server.on("POST", LOGON, Reply(201, body, [("X-RestSvcSessionId", EM_TOKEN)], content_type="application/json"))
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em() as em:
        em.find_job(job_id=DB_BACKUP)
        assert em.token == EM_TOKEN and em.session_id == EM_SESSION_ID
    assert server.calls[1].headers["X-RestSvcSessionId"] == EM_TOKEN
    assert server.calls[2].path == "/api/logonSessions/%s" % EM_SESSION_ID


def test_a_logon_without_the_token_header_is_refused(server, make_em):
    server.on("POST", LOGON, xml(201, "em_logon_session.xml"))
    with expect_error("parse") as caught:
        with make_em():
            pass
    assert str(caught.error) == ("Enterprise Manager accepted the logon but sent no X-RestSvcSessionId header; is this "
                                 "the Enterprise Manager REST API (port 9398, path /api)? (HTTP 201 on POST "
                                 "/api/sessionMngr/)")


def test_every_call_sends_the_token_and_accepts_xml_only(em_server, make_em):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", "/api/tasks/task-1", xml(200, "em_task_running_start_job.xml"))
    with make_em() as em:
        em.find_job(job_id=DB_BACKUP)
        em.get_task("task-1")
    for call in em_server.calls:
        assert call.headers["Accept"] == "application/xml"
    for call in em_server.calls[1:]:
        assert call.headers["X-RestSvcSessionId"] == EM_TOKEN and "Authorization" not in call.headers
        assert "Cookie" not in call.headers


def test_wrong_credentials(server, make_em, warnings):
    server.on("POST", LOGON, em_error(401, "Unauthorized"))
    with expect_error("auth", warnings=warnings) as caught:
        with make_em():
            pass
    assert str(caught.error) == ("Enterprise Manager rejected the username or password for 'LAB\\svc-ansible' (HTTP 401 "
                                 "on POST /api/sessionMngr/). Check username (DOMAIN\\user) and password; the account "
                                 "needs the Portal Administrator role to start jobs")
    assert caught.error.veeam_message == "Unauthorized" and caught.error.status == 401
    assert server.count("POST") == 1 and server.count("DELETE") == 0


def test_a_busy_server_at_logon_is_retried(server, make_em, clock):
    server.on("POST", LOGON, Reply(503), logon_reply())
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em() as em:
        assert em.token == EM_TOKEN
    assert server.count("POST") == 2 and clock.sleeps == [0.375]


@pytest.mark.parametrize("body", [Reply(500, b"<html><title>Server Error</title></html>", content_type="text/html"),
                                  Reply(500, b"", content_type="application/xml"),
                                  Reply(500, b"<Error Message=", content_type="application/xml")])
def test_an_error_without_a_readable_body(server, make_em, body):
    server.on("POST", LOGON, body)
    with expect_error("http") as caught:
        with make_em():
            pass
    assert str(caught.error) == "Logon to Enterprise Manager failed (HTTP 500 on POST /api/sessionMngr/)"
    assert caught.error.veeam_message is None


def test_logon_server_error(server, make_em):
    server.on("POST", LOGON, em_error(500, "Object reference not set to an instance of an object."))
    with expect_error("http") as caught:
        with make_em():
            pass
    assert str(caught.error) == ("Logon to Enterprise Manager failed: Object reference not set to an instance of an "
                                 "object (HTTP 500 on POST /api/sessionMngr/)")


def test_an_api_version_the_server_does_not_offer(server, make_em):
    server.on("POST", LOGON, em_error(400, "Unsupported version"))
    server.on("GET", "/api/", xml(200, '<EnterpriseManager xmlns="http://www.veeam.com/ent/v1.0"><SupportedVersions>'
                                       '<SupportedVersion Name="v1_6"/><SupportedVersion Name="v1_7"/>'
                                       '</SupportedVersions></EnterpriseManager>'))
    with expect_error("usage") as caught:
        with make_em(api_version="v1_5"):
            pass
    assert str(caught.error) == ("Enterprise Manager does not offer REST API version v1_5; it offers v1_6, v1_7 (HTTP 400 "
                                 "on POST /api/sessionMngr/). Use api_version: latest")


@pytest.mark.parametrize("entry", [Reply(404), xml(200, "<EnterpriseManager/>"), Reply(200, b"<html>down</html>")])
def test_an_api_version_not_offered_by_a_server_that_does_not_list_versions(server, make_em, entry):
    server.on("POST", LOGON, Reply(404))
    server.on("GET", "/api/", entry)
    with expect_error("usage") as caught:
        with make_em(api_version="v1_6"):
            pass
    assert str(caught.error) == ("Enterprise Manager does not offer REST API version v1_6 (HTTP 404 on POST "
                                 "/api/sessionMngr/). Use api_version: latest")


# ------------------------------------------------------------------------------------------------ logoff
def test_logoff_on_exit(em_server, make_em):
    with make_em() as em:
        pass
    delete = em_server.calls[-1]
    assert (delete.method, delete.path) == ("DELETE", "/api/logonSessions/%s" % EM_SESSION_ID)
    assert delete.headers["X-RestSvcSessionId"] == EM_TOKEN
    assert em.token is None and not em.owns_session


@pytest.mark.parametrize("error", [ValueError("a bug in the module"), VeeamError("job failed", kind="job_failed")])
def test_logoff_also_when_the_body_raised(em_server, make_em, error):
    with pytest.raises(type(error)) as info:
        with make_em():
            raise error
    assert info.value is error
    assert em_server.count("DELETE", "/api/logonSessions/%s" % EM_SESSION_ID) == 1


def test_a_failed_logoff_is_a_warning_not_an_error(server, make_em, warnings):
    server.on("POST", LOGON, logon_reply())
    server.on("DELETE", ANY_LOGOFF, em_error(500, "Internal error"))
    with make_em():
        pass
    assert warnings == ["Could not log off from Enterprise Manager (Logoff from Enterprise Manager failed: Internal error "
                        "(HTTP 500 on DELETE /api/logonSessions/{id})); EM ends idle logon sessions after 15 minutes"]
    assert_no_secrets(warnings)


def test_an_unreachable_server_at_logoff_is_a_warning(server, make_em, warnings):
    server.on("POST", LOGON, logon_reply())
    server.on("DELETE", ANY_LOGOFF, refused())
    with make_em():
        pass
    assert len(warnings) == 1 and warnings[0].startswith("Could not log off from Enterprise Manager (Could not connect to")
    assert len(server.attempts) == 5  # logon + 4 tries of the (safe) DELETE
    assert_no_secrets(warnings)


@pytest.mark.parametrize("status", [401, 404])
def test_logoff_of_a_session_already_gone(server, make_em, warnings, status):
    server.on("POST", LOGON, logon_reply())
    server.on("DELETE", ANY_LOGOFF, Reply(status))
    with make_em() as em:
        pass
    assert warnings == [] and em.token is None


def test_a_handed_in_token_is_used_and_not_logged_off(server, make_em):
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    with make_em(username=None, password=None, session_token=EM_TOKEN) as em:
        assert em.find_job(job_id=DB_BACKUP)["name"] == "DB Backup"
        assert not em.owns_session
    assert [c.method for c in server.calls] == ["GET"]
    assert server.calls[0].headers["X-RestSvcSessionId"] == EM_TOKEN


def test_a_handed_in_token_is_logged_off_when_asked(server, make_em):
    server.on("GET", "/api/logonSessions", xml(200, '<EntityReferences xmlns="http://www.veeam.com/ent/v1.0"><Ref '
                                                    'Type="LogonSessionReference" UID="urn:veeam:LogonSession:%s" '
                                                    'Href="https://em:9398/api/logonSessions/%s"/></EntityReferences>'
                                                    % (EM_SESSION_ID, EM_SESSION_ID)))
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em(username=None, password=None, session_token=EM_TOKEN, logoff=True):
        pass
    assert [(c.method, c.path) for c in server.calls] == [
        ("GET", "/api/logonSessions"), ("DELETE", "/api/logonSessions/%s" % EM_SESSION_ID)]


def test_a_handed_in_token_with_its_session_id(server, make_em):
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em(username=None, password=None, session_token=EM_TOKEN, session_id=SECOND_SESSION_ID, logoff=True):
        pass
    assert [(c.method, c.path) for c in server.calls] == [("DELETE", "/api/logonSessions/%s" % SECOND_SESSION_ID)]


def test_a_token_whose_session_cannot_be_told_apart_is_a_warning_at_logoff(server, make_em, warnings):
    two = "".join('<Ref Type="LogonSessionReference" Href="https://em:9398/api/logonSessions/%s"/>' % i
                  for i in (EM_SESSION_ID, SECOND_SESSION_ID))
    server.on("GET", "/api/logonSessions", xml(200, "<EntityReferences>%s</EntityReferences>" % two))
    with make_em(username=None, password=None, session_token=EM_TOKEN, logoff=True):
        pass
    assert warnings == ["Could not log off from Enterprise Manager (Cannot tell which logon session the session token "
                        "belongs to (2 listed); pass session_id as well); EM ends idle logon sessions after 15 minutes"]
    assert server.count("DELETE") == 0


def test_an_owned_session_is_kept_when_asked(em_server, make_em):
    with make_em(logoff=False) as em:
        token = em.token
    assert token == EM_TOKEN and em_server.count("DELETE") == 0


# ------------------------------------------------------------------------------------------------ re-logon
def test_relogon_once_on_401_then_retry(server, make_em, warnings):
    server.on("POST", LOGON, logon_reply(), logon_reply(EM_TOKEN2, SECOND_SESSION_ID))
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, em_error(401, "Unauthorized"), xml(200, "em_job_entity.xml"))
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em() as em:
        assert em.find_job(job_id=DB_BACKUP)["id"] == DB_BACKUP
        assert em.relogons == 1 and em.token == EM_TOKEN2
    gets = [c for c in server.calls if c.method == "GET"]
    assert [c.headers["X-RestSvcSessionId"] for c in gets] == [EM_TOKEN, EM_TOKEN2]
    assert server.count("POST", LOGON) == 2
    deletes = [c.path for c in server.calls if c.method == "DELETE"]
    assert deletes == ["/api/logonSessions/%s" % SECOND_SESSION_ID]  # the expired one is gone already
    assert warnings == []


def test_a_second_401_is_an_error_not_a_loop(server, make_em, warnings):
    server.on("POST", LOGON, logon_reply(), logon_reply(EM_TOKEN2, SECOND_SESSION_ID))
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, em_error(401, "Unauthorized"))
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with expect_error("auth", warnings=warnings) as caught:
        with make_em() as em:
            em.find_job(job_id=DB_BACKUP)
    assert str(caught.error) == ("Enterprise Manager could not return the job: Unauthorized (HTTP 401 on GET "
                                 "/api/jobs/{id}). The logon session is no longer valid (Enterprise Manager ends idle "
                                 "sessions after 15 minutes)")
    assert server.count("POST", LOGON) == 2 and server.count("GET") == 2


def test_an_expired_handed_in_token_with_credentials_logs_on_again(server, make_em, warnings):
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, em_error(401, "Unauthorized"), xml(200, "em_job_entity.xml"))
    server.on("POST", LOGON, logon_reply(EM_TOKEN2, SECOND_SESSION_ID))
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em(session_token=EM_TOKEN) as em:
        em.find_job(job_id=DB_BACKUP)
    assert warnings == ["The Enterprise Manager session token was rejected (expired or logged off); logged on again, "
                        "and this task logs the new session off when it ends"]
    assert [(c.method, c.path) for c in server.calls if c.method != "GET"] == [
        ("POST", LOGON), ("DELETE", "/api/logonSessions/%s" % SECOND_SESSION_ID)]


def test_an_expired_handed_in_token_without_credentials(server, make_em, warnings):
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, em_error(401, "Unauthorized"))
    with expect_error("auth", warnings=warnings) as caught:
        with make_em(username=None, password=None, session_token=EM_TOKEN) as em:
            em.find_job(job_id=DB_BACKUP)
    assert str(caught.error) == (
        "Enterprise Manager could not return the job: Unauthorized (HTTP 401 on GET /api/jobs/{id}). The session token "
        "is no longer valid (Enterprise Manager ends sessions idle for 15 minutes): log on again with "
        "backupops.veeam.veeam_em_session, or give username and password as well so the module can log on by itself")
    assert server.count("POST") == 0


def test_logon_without_credentials(make_em):
    em = make_em(username=None, password=None, session_token=EM_TOKEN)
    with expect_error("auth") as caught:
        em.logon()
    assert str(caught.error) == ("The Enterprise Manager session has expired or was logged off, and no username and "
                                 "password were given to log on again (EM ends idle sessions after 15 minutes). Log on "
                                 "again with backupops.veeam.veeam_em_session")


# ------------------------------------------------------------------------------------------------ job ids
@pytest.mark.parametrize("value,expected", [
    (DB_BACKUP, (DB_BACKUP, None)),
    (DB_BACKUP.upper(), (DB_BACKUP, None)),
    ("  %s  " % DB_BACKUP, (DB_BACKUP, None)),
    ("urn:veeam:Job:%s" % DB_BACKUP, (DB_BACKUP, "vm")),
    ("urn:veeam:NasJob:%s" % NAS, (NAS, "nas")),
    ("urn:veeam:AgentBackupJob:%s" % AGENT, (AGENT, "agent")),
    ("urn:veeam:job:%s" % DB_BACKUP, (DB_BACKUP, "vm")),
])
def test_parse_job_id_accepts(value, expected):
    assert _em.parse_job_id(value) == expected


@pytest.mark.parametrize("value", ["", None, "DB Backup", DB_BACKUP[:-1], "{%s}" % DB_BACKUP, DB_BACKUP + "0",
                                   "urn:veeam:Job:not-a-guid", DB_BACKUP.replace("-", ""), "5658281g-625e-4627-89dd-d2a0c48be99e"])
def test_parse_job_id_rejects(value):
    with expect_error("usage") as caught:
        _em.parse_job_id(value)
    assert str(caught.error) == ("job_id %r is not a job id: give a GUID such as 5658281f-625e-4627-89dd-d2a0c48be99e or "
                                 "urn:veeam:Job:<guid>" % value)


def test_parse_job_id_rejects_urns_of_other_things():
    with expect_error("usage") as caught:
        _em.parse_job_id("urn:veeam:BackupJobSession:%s" % SESSION)
    assert str(caught.error) == ("job_id 'urn:veeam:BackupJobSession:%s' is a URN of type 'BackupJobSession', not of a "
                                 "job (Job, NasJob or AgentBackupJob)" % SESSION)


# ------------------------------------------------------------------------------------------------ find by id
def test_find_a_vm_job_by_id(em_server, make_em):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    with make_em() as em:
        job = em.find_job(job_id=DB_BACKUP.upper())
    assert em_server.calls[1].query == "format=Entity"
    assert _em.public(job)["name"] == "DB Backup" and job["type"] == "backup" and job["_kind"] == "vm"


@pytest.mark.parametrize("job_id,fixture,path,job_type", [
    ("urn:veeam:NasJob:%s" % NAS, "em_nas_job_entity.xml", "/api/nas/jobs/%s" % NAS, "file_share"),
    ("urn:veeam:AgentBackupJob:%s" % AGENT, "em_agent_backup_job_entity.xml", "/api/agents/jobs/%s" % AGENT, "agent"),
])
def test_a_urn_names_the_collection(em_server, make_em, job_id, fixture, path, job_type):
    em_server.on("GET", path, xml(200, fixture))
    with make_em() as em:
        job = em.find_job(job_id=job_id)
    assert [c.path for c in em_server.calls if c.method == "GET"] == [path]
    assert job["type"] == job_type


def test_a_bare_id_is_looked_for_in_every_collection(em_server, make_em):
    em_server.on("GET", "/api/jobs/%s" % AGENT, Reply(404))
    em_server.on("GET", "/api/nas/jobs/%s" % AGENT, Reply(404))
    em_server.on("GET", "/api/agents/jobs/%s" % AGENT, xml(200, "em_agent_backup_job_entity.xml"))
    with make_em() as em:
        assert em.find_job(job_id=AGENT)["name"] == "Server Backup"
    assert [c.path.split("/")[2] for c in em_server.calls if c.method == "GET"] == ["jobs", "nas", "agents"]


def test_an_unknown_id(em_server, make_em):
    for prefix in ("/api/jobs/", "/api/nas/jobs/", "/api/agents/jobs/"):
        em_server.on("GET", prefix + DB_BACKUP, Reply(404))
    with expect_error("not_found") as caught:
        with make_em() as em:
            em.find_job(job_id=DB_BACKUP)
    assert str(caught.error) == ("No job with id %s on Enterprise Manager. Check the id with "
                                 "backupops.veeam.veeam_em_job_info" % DB_BACKUP)


def test_an_id_of_another_type(em_server, make_em):
    em_server.on("GET", "/api/agents/jobs/%s" % DB_BACKUP, Reply(404))
    with expect_error("not_found") as caught:
        with make_em() as em:
            em.find_job(job_id=DB_BACKUP, job_type="agent")
    assert str(caught.error).startswith("No agent job with id %s on Enterprise Manager" % DB_BACKUP)


def test_a_job_of_another_type_than_asked(em_server, make_em):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    with expect_error("usage") as caught:
        with make_em() as em:
            em.find_job(job_id=DB_BACKUP, job_type="replica")
    assert str(caught.error) == ("Job %s ('DB Backup') is a backup job, not replica. Use job_type: auto, or the job's own "
                                 "type" % DB_BACKUP)


def test_reading_a_job_without_the_role(em_server, make_em, warnings):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, em_error(403, "Access denied."))
    with expect_error("forbidden", warnings=warnings) as caught:
        with make_em() as em:
            em.find_job(job_id=DB_BACKUP, job_type="backup")
    assert str(caught.error) == ("Enterprise Manager could not return the job: Access denied (HTTP 403 on GET "
                                 "/api/jobs/{id}). The account 'LAB\\svc-ansible' lacks the Enterprise Manager role for "
                                 "this; starting jobs needs Portal Administrator")


# ------------------------------------------------------------------------------------------------ find by name
def filter_of(call):
    return call.params["filter"][0]


@pytest.mark.parametrize("name", ['DB Backup', 'Say "hi"', 'a;b', 'x,y', 'Name==x', 'a==b;Name=="DB Backup"',
                                  '"', '""', "O'Brien", '(grouped)', '100% done & more=yes', 'Ünïcödé 日本 job', ' padded '])
def test_the_name_filter_is_quoted_and_escaped(em_server, make_em, name):
    em_server.on("GET", "/api/query", xml(200, query_result(entity("em_job_entity.xml", new_name=name))))
    with make_em() as em:
        job = em.find_job(job_name=name, job_type="backup")
    assert job["name"] == name
    query = em_server.calls[1]
    assert filter_of(query) == 'Name=="%s"' % name.replace('"', '""')
    assert query.params["type"] == ["Job"] and query.params["format"] == ["Entities"]
    assert query.params["pageSize"] == ["200"] and query.params["page"] == ["1"]
    raw_filter = query.query.split("filter=", 1)[1]
    assert not set(raw_filter) & set('";,=()& %'.replace("%", "")), raw_filter  # fully percent-encoded
    assert urllib.parse.unquote(raw_filter) == filter_of(query)


def test_quote_filter_value():
    assert _em.quote_filter_value("DB Backup") == '"DB Backup"'
    assert _em.quote_filter_value('a"b') == '"a""b"'
    assert _em.quote_filter_value('";Name=="x') == '""";Name==""x"'
    assert _em.quote_filter_value("") == '""'


def test_a_job_of_every_type_is_looked_for_by_name(em_server, make_em):
    agents = xml(200, query_result(entity("em_agent_backup_job_entity.xml"), wrapper="AgentBackupJobs"))
    em_server.on("GET", "/api/query", lambda call: agents if call.params["type"] == ["AgentBackupJob"] else empty_query())
    with make_em() as em:
        job = em.find_job(job_name="Server Backup")
    assert [c.params["type"][0] for c in em_server.calls if c.path == "/api/query"] == ["Job", "NasJob", "AgentBackupJob"]
    assert job["type"] == "agent" and job["_kind"] == "agent"


def test_no_job_by_that_name(em_server, make_em):
    em_server.on("GET", "/api/query", empty_query())
    with expect_error("not_found") as caught:
        with make_em() as em:
            em.find_job(job_name="Nightly", job_type="backup")
    assert str(caught.error) == ("No job named 'Nightly' on Enterprise Manager. List the jobs with "
                                 "backupops.veeam.veeam_em_job_info")


def test_names_are_matched_exactly(em_server, make_em):
    """EM compares names case-insensitively; the client wants exactly the name it was given."""
    em_server.on("GET", "/api/query", xml(200, query_result(entity("em_job_entity.xml", new_name="DB BACKUP"))))
    with expect_error("not_found") as caught:
        with make_em() as em:
            em.find_job(job_name="DB Backup", job_type="backup")
    assert str(caught.error) == ("No job named 'DB Backup' on Enterprise Manager. Names are matched exactly; jobs with the "
                                 "same name in other case: DB BACKUP")


def test_several_jobs_by_that_name_lists_their_backup_servers(em_server, make_em):
    twin = entity("em_job_entity.xml", new_id=OTHER_SERVER_JOB, server="vbr02.lab.local")
    em_server.on("GET", "/api/query", xml(200, query_result(entity("em_job_entity.xml"), twin)))
    with expect_error("ambiguous") as caught:
        with make_em() as em:
            em.find_job(job_name="DB Backup", job_type="backup")
    assert str(caught.error) == (
        "2 jobs are named 'DB Backup': %s (backup job on backup server srv12.tech.local); %s (backup job on backup server "
        "vbr02.lab.local). Choose one with backup_server or job_id" % (DB_BACKUP, OTHER_SERVER_JOB))
    matches = caught.error.to_result()["matches"]
    assert [m["backup_server"] for m in matches] == ["srv12.tech.local", "vbr02.lab.local"]
    assert all(not k.startswith("_") for m in matches for k in m)


@pytest.mark.parametrize("backup_server,expected", [("vbr02.lab.local", OTHER_SERVER_JOB), ("VBR02.LAB.LOCAL", OTHER_SERVER_JOB),
                                                    ("srv12.tech.local", DB_BACKUP),
                                                    ("d1444f74-27e6-4399-81a9-d28ba98913f0", DB_BACKUP)])
def test_backup_server_chooses_among_same_named_jobs(em_server, make_em, backup_server, expected):
    twin = entity("em_job_entity.xml", new_id=OTHER_SERVER_JOB, server="vbr02.lab.local")
    twin = twin.replace("d1444f74-27e6-4399-81a9-d28ba98913f0", "9d3e2f1a-0b4c-4d5e-8f6a-7b8c9d0e1f2a")
    em_server.on("GET", "/api/query", xml(200, query_result(entity("em_job_entity.xml"), twin)))
    with make_em() as em:
        assert em.find_job(job_name="DB Backup", job_type="backup", backup_server=backup_server)["id"] == expected


def test_backup_server_that_has_no_such_job(em_server, make_em):
    em_server.on("GET", "/api/query", xml(200, query_result(entity("em_job_entity.xml"))))
    with expect_error("not_found") as caught:
        with make_em() as em:
            em.find_job(job_name="DB Backup", job_type="backup", backup_server="vbr99")
    assert str(caught.error).startswith("No job named 'DB Backup' on backup server 'vbr99' on Enterprise Manager. ")


@pytest.mark.parametrize("name", ["", "   ", None])
def test_an_empty_name(make_em, name):
    with expect_error("usage") as caught:
        make_em().find_job(job_name=name)
    assert str(caught.error) == "job_name is empty: give the exact name of the job, or job_id"


def test_the_query_is_paged(em_server, make_em):
    pages = {"1": query_result(entity("em_job_entity.xml"), page=1, pages=2),
             "2": query_result(entity("em_job_entity_replica_vmware.xml", new_name="DB Backup"), page=2, pages=2)}
    em_server.on("GET", "/api/query", lambda call: xml(200, pages[call.params["page"][0]])
                 if call.params["type"] == ["Job"] else empty_query())
    with expect_error("ambiguous", "2 jobs are named 'DB Backup'"):
        with make_em() as em:
            em.find_job(job_name="DB Backup", job_type="auto")
    assert [c.params["page"][0] for c in em_server.calls if c.params.get("type") == ["Job"]] == ["1", "2"]


def test_list_jobs_with_a_backup_server_condition(em_server, make_em):
    em_server.on("GET", "/api/query", xml(200, query_result(entity("em_job_entity.xml"))))
    with make_em() as em:
        jobs = em.list_jobs(name='a"b', job_type="backup", backup_server="srv;12")
    assert filter_of(em_server.calls[1]) == 'Name=="a""b";BackupServerName=="srv;12"'
    assert [j["name"] for j in jobs] == ["DB Backup"]


def test_the_query_answer_in_json(em_server, make_em):
    em_server.on("GET", "/api/query", jsonr(200, "em_query_jobs_entities_twin_constructed.json"))
    with make_em() as em:
        jobs = em.list_jobs(job_type="auto")
    assert sorted({(j["name"], j["type"]) for j in jobs}) == [("DB Backup", "backup"), ("SQL Replication", "replica")]


def test_a_broken_query_answer(em_server, make_em):
    em_server.on("GET", "/api/query", Reply(200, b"<QueryResult><Entities><Jobs><Job Name=", content_type="application/xml"))
    with expect_error("parse") as caught:
        with make_em() as em:
            em.find_job(job_name="DB Backup", job_type="backup")
    assert str(caught.error).startswith("The server sent a list of backup, replica and backup copy jobs that is not "
                                        "well-formed XML (")


# ------------------------------------------------------------------------------------------------ start routes
@pytest.mark.parametrize("fixture,kind,expected", [
    ("em_job_entity.xml", "vm", "https://srv12.tech.local:9398/api/jobs/%s?action=start" % DB_BACKUP),
    ("em_job_entity_replica_vmware.xml", "vm", "https://localhost:9398/api/jobs/%s?action=start" % REPLICA),
    ("em_job_entity_immediate_backup_copy.xml", "vm",
     "https://enterpriseem01.tech.local:9398/api/jobs/%s?action=sync" % COPY),
    ("em_nas_job_entity.xml", "nas", "https://srv12.tech.local:9398/api/nas/jobs/%s/start" % NAS),
    ("em_agent_backup_job_entity.xml", "agent", "https://srv12.tech.local:9398/api/agents/jobs/%s?action=start" % AGENT),
])
def test_the_start_link_is_followed(make_em, fixture, kind, expected):
    assert make_em().start_path(job_of(fixture, kind)) == expected


@pytest.mark.parametrize("fixture,kind,expected", [
    ("em_job_entity.xml", "vm", "/api/jobs/%s?action=start" % DB_BACKUP),
    ("em_job_entity_immediate_backup_copy.xml", "vm", "/api/jobs/%s?action=sync" % COPY),
    ("em_nas_job_entity.xml", "nas", "/api/nas/jobs/%s/start" % NAS),
    ("em_agent_backup_job_entity.xml", "agent", "/api/agents/jobs/%s?action=start" % AGENT),
])
def test_the_documented_route_without_a_link(make_em, fixture, kind, expected):
    job = dict(job_of(fixture, kind), _links=[])
    assert make_em().start_path(job) == expected


def test_start_posts_once_to_the_link_at_the_configured_server(em_server, make_em):
    em_server.on("POST", "/api/jobs/%s" % DB_BACKUP, xml(202, "em_job_start_202_task_running.xml"))
    with make_em() as em:
        task = em.start(job_of("em_job_entity.xml"))
    post = [c for c in em_server.calls if c.path.startswith("/api/jobs/")][0]
    assert (post.netloc, post.query, post.body) == ("em.example:9398", "action=start", b"")
    assert task == {"id": "task-10", "state": "Running", "operation": "StartJob", "success": None, "message": None,
                    "href": "https://localhost:9398/api/tasks/task-10"}


def test_starting_without_the_role_names_portal_administrator(em_server, make_em, warnings):
    em_server.on("POST", "/api/jobs/%s" % DB_BACKUP, em_error(403, "Access denied."))
    with expect_error("forbidden", warnings=warnings) as caught:
        with make_em() as em:
            em.start(job_of("em_job_entity.xml"))
    assert str(caught.error) == ("Enterprise Manager refused to start job 'DB Backup': Access denied (HTTP 403 on POST "
                                 "/api/jobs/{id}). The account 'LAB\\svc-ansible' lacks the Enterprise Manager role for "
                                 "this; starting jobs needs Portal Administrator")
    assert em_server.count("POST", "/api/jobs/%s" % DB_BACKUP) == 1


@pytest.mark.parametrize("status,kind", [(409, "conflict"), (500, "http"), (503, "http"), (400, "http")])
def test_a_refused_start_carries_veeams_message(em_server, make_em, status, kind):
    em_server.on("POST", "/api/jobs/%s" % DB_BACKUP, em_error(status, "Job DB Backup is already running."))
    with expect_error(kind) as caught:
        with make_em() as em:
            em.start(job_of("em_job_entity.xml"))
    assert str(caught.error) == ("Enterprise Manager refused to start job 'DB Backup': Job DB Backup is already running "
                                 "(HTTP %d on POST /api/jobs/{id})" % status)
    assert caught.error.veeam_message == "Job DB Backup is already running."
    assert em_server.count("POST", "/api/jobs/%s" % DB_BACKUP) == 1


def test_a_start_refused_with_401_is_sent_again_after_a_new_logon(server, make_em):
    """A 401 means EM did not act on the request, so the start is sent again with the new token."""
    server.on("POST", LOGON, logon_reply(), logon_reply(EM_TOKEN2, SECOND_SESSION_ID))
    server.on("POST", "/api/jobs/%s" % DB_BACKUP, em_error(401, "Unauthorized"), xml(202, "em_task_running_start_job.xml"))
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em() as em:
        assert em.start(job_of("em_job_entity.xml"))["id"] == "task-1"
    starts = [c for c in server.calls if c.path == "/api/jobs/%s" % DB_BACKUP]
    assert [c.headers["X-RestSvcSessionId"] for c in starts] == [EM_TOKEN, EM_TOKEN2]


# ------------------------------------------------------------------------------------------------ lost starts
def start_task_of(name, task_id="task-10"):
    """The finished StartJob task of the docs, for the job ``name``."""
    return fixture_bytes("em_task_finished_start_job.xml").decode().replace("SQL Backup", name).replace(
        "task-10", task_id)


@pytest.mark.parametrize("fault", [dropped, read_timeout])
def test_a_lost_start_is_settled_by_the_tasks_and_not_sent_again(em_server, make_em, warnings, fault):
    em_server.on("POST", "/api/jobs/%s" % DB_BACKUP, fault(), xml(202, "em_task_running_start_job.xml"))
    em_server.on("GET", "/api/tasks", xml(200, "<Tasks>%s</Tasks>" % re.sub(r' xmlns="[^"]*"', "", start_task_of(
        "DB Backup"))))
    em_server.on("GET", "/api/jobs/%s/backupSessions" % DB_BACKUP, sessions_list())
    with make_em() as em:
        task = em.start(job_of("em_job_entity.xml"))
    assert task["id"] == "task-10" and task["operation"] == "StartJob"
    assert em_server.count("POST", "/api/jobs/%s" % DB_BACKUP) == 1
    assert warnings == ["The response to the start of job 'DB Backup' was lost; Enterprise Manager shows the job started, "
                        "so it was not started again"]


def test_a_lost_start_is_settled_by_a_new_running_session(em_server, make_em, warnings):
    em_server.on("POST", "/api/jobs/%s" % DB_BACKUP, dropped())
    em_server.on("GET", "/api/tasks", xml(200, "<Tasks/>"))
    em_server.on("GET", "/api/jobs/%s/backupSessions" % DB_BACKUP,
                 sessions_list("em_backup_session_working_reconstructed.xml"))
    with make_em() as em:
        task = em.start(job_of("em_job_entity.xml"), before={"id": "00000000-0000-4000-8000-000000000000"})
    assert task["_lost"] is True and task["id"] is None
    assert em_server.count("POST", "/api/jobs/%s" % DB_BACKUP) == 1 and len(warnings) == 1


@pytest.mark.parametrize("sessions,before", [
    (("em_backup_session_stopped_success.xml",), None),
    (("em_backup_session_working_reconstructed.xml",), {"id": SESSION}),  # the run that was already going
    ((), None),
])
def test_a_lost_start_that_did_not_happen(em_server, make_em, warnings, sessions, before):
    em_server.on("POST", "/api/jobs/%s" % DB_BACKUP, dropped())
    em_server.on("GET", "/api/tasks", tasks_list("em_task_finished_stop_job.xml"))
    em_server.on("GET", "/api/jobs/%s/backupSessions" % DB_BACKUP, sessions_list(*sessions))
    with expect_error("response_lost", warnings=warnings) as caught:
        with make_em() as em:
            em.start(job_of("em_job_entity.xml"), before=before)
    assert str(caught.error) == (
        "The start request for job 'DB Backup' got no response, and Enterprise Manager shows no new task or running "
        "session for it, so it was not started; it was not sent again (POST /api/jobs/{id}). Run the task again once the "
        "connection to Enterprise Manager is stable")
    assert em_server.count("POST", "/api/jobs/%s" % DB_BACKUP) == 1 and warnings == []


def test_a_running_start_task_without_message_settles_a_lost_start(em_server, make_em, warnings):
    em_server.on("POST", "/api/jobs/%s" % DB_BACKUP, dropped())
    em_server.on("GET", "/api/tasks", tasks_list("em_task_running_start_job.xml"))
    em_server.on("GET", "/api/jobs/%s/backupSessions" % DB_BACKUP, sessions_list())
    with make_em() as em:
        assert em.start(job_of("em_job_entity.xml"))["id"] == "task-1"
    assert len(warnings) == 1


def test_the_start_task_of_another_job_of_this_run_does_not_settle_a_lost_start(em_server, make_em, warnings):
    """Several jobs are started in one logon session: job A's start task (still running, no message yet) must not
    be taken for the start of job B whose response was lost."""
    em_server.on("POST", "/api/jobs/%s" % REPLICA, xml(202, "em_task_running_start_job.xml"))
    em_server.on("POST", "/api/jobs/%s" % DB_BACKUP, dropped())
    em_server.on("GET", "/api/tasks", tasks_list("em_task_running_start_job.xml"))
    em_server.on("GET", "/api/jobs/%s/backupSessions" % DB_BACKUP, sessions_list())
    with expect_error("response_lost", "The start request for job 'DB Backup' got no response", warnings=warnings):
        with make_em() as em:
            assert em.start(job_of("em_job_entity_replica_vmware.xml"))["id"] == "task-1"
            em.start(job_of("em_job_entity.xml"))
    assert em_server.count("POST", "/api/jobs/%s" % DB_BACKUP) == 1 and warnings == []


def test_one_task_settles_one_lost_start_only(em_server, make_em, warnings):
    em_server.on("POST", path_re(r"^/api/jobs/"), dropped())
    em_server.on("GET", "/api/tasks", tasks_list("em_task_running_start_job.xml"))
    em_server.on("GET", path_re(r"/backupSessions$"), sessions_list())
    with expect_error("response_lost", "The start request for job 'SQL Replication' got no response"):
        with make_em() as em:
            assert em.start(job_of("em_job_entity.xml"))["id"] == "task-1"
            em.start(dict(job_of("em_job_entity_replica_vmware.xml"), _links=[]))
    assert len(warnings) == 1


def test_a_timed_out_start_that_never_shows(em_server, make_em, clock, warnings):
    """A start that timed out may still be carried out: EM is watched as long again as ``timeout`` (30 s here)."""
    em_server.on("POST", "/api/jobs/%s" % DB_BACKUP, read_timeout())
    em_server.on("GET", "/api/tasks", xml(200, "<Tasks/>"))
    em_server.on("GET", "/api/jobs/%s/backupSessions" % DB_BACKUP, sessions_list())
    with expect_error("response_lost", warnings=warnings) as caught:
        with make_em() as em:
            em.start(job_of("em_job_entity.xml"))
    assert str(caught.error) == (
        "Enterprise Manager did not answer the start of job 'DB Backup' within 30 s (the timeout option), and 30 s "
        "later still shows no new task or running session for it; the start was not sent again, but Enterprise "
        "Manager may still carry it out (POST /api/jobs/{id}). Check the job (backupops.veeam.veeam_em_job_info) "
        "before starting it again, and raise timeout if Enterprise Manager is slow")
    assert em_server.count("POST", "/api/jobs/%s" % DB_BACKUP) == 1 and clock.sleeps == [1.0] * 30


def test_a_timed_out_start_that_shows_a_little_later(em_server, make_em, clock, warnings):
    em_server.on("POST", "/api/jobs/%s" % DB_BACKUP, read_timeout())
    em_server.on("GET", "/api/tasks", xml(200, "<Tasks/>"), xml(200, "<Tasks/>"), xml(200, "<Tasks/>"),
                 tasks_list("em_task_running_start_job.xml"))
    em_server.on("GET", "/api/jobs/%s/backupSessions" % DB_BACKUP, sessions_list())
    with make_em() as em:
        assert em.start(job_of("em_job_entity.xml"))["id"] == "task-1"
    assert em_server.count("POST", "/api/jobs/%s" % DB_BACKUP) == 1 and clock.sleeps == [1.0] * 3
    assert len(warnings) == 1


def test_a_start_whose_connection_was_refused_is_not_lost(em_server, make_em):
    em_server.on("POST", "/api/jobs/%s" % DB_BACKUP, refused(), xml(202, "em_task_running_start_job.xml"))
    with make_em() as em:
        assert em.start(job_of("em_job_entity.xml"))["id"] == "task-1"
    assert em_server.count("POST", "/api/jobs/%s" % DB_BACKUP) == 1 and em_server.count("GET") == 0


def test_a_task_of_another_job_does_not_settle_a_lost_start(em_server, make_em):
    em_server.on("POST", "/api/nas/jobs/%s/start" % NAS, dropped())
    em_server.on("GET", "/api/tasks", tasks_list("em_task_finished_start_job.xml"))  # 'SQL Backup', not ours
    em_server.on("GET", "/api/nas/jobs/%s/backupSessions" % NAS, sessions_list())
    with expect_error("response_lost"):
        with make_em() as em:
            em.start(job_of("em_nas_job_entity.xml", "nas"))
    assert em_server.count("POST", "/api/nas/jobs/%s/start" % NAS) == 1


# ------------------------------------------------------------------------------------------------ tasks
def test_get_task(em_server, make_em):
    em_server.on("GET", "/api/tasks/task-10", xml(200, "em_task_finished_start_job.xml"))
    with make_em() as em:
        task = em.get_task("task-10")
    assert (task["state"], task["success"], task["message"]) == ("Finished", True, 'Job "SQL Backup" triggered to start.')


def test_a_task_of_another_logon_session(em_server, make_em, warnings):
    em_server.on("GET", "/api/tasks/task-10", em_error(404, "Task not found"))
    with expect_error("not_found", warnings=warnings) as caught:
        with make_em() as em:
            em.get_task("task-10")
    assert str(caught.error) == (
        "Task task-10 was not found in this Enterprise Manager logon session: EM tasks belong to the logon session that "
        "created them, so a new logon cannot see them (HTTP 404 on GET /api/tasks/{id}). Pass session_token of the "
        "session that started the job (log on once with backupops.veeam.veeam_em_session and hand its token to each task)")


def test_delete_task(em_server, make_em):
    em_server.on("DELETE", "/api/tasks/task-10", Reply(204), Reply(404))
    with make_em() as em:
        em.delete_task("task-10")
        em.delete_task("task-10")
    assert em_server.count("DELETE", "/api/tasks/task-10") == 2


def test_wait_tasks_until_finished(em_server, make_em, clock):
    em_server.on("GET", "/api/tasks/task-1", xml(200, "em_task_running_start_job.xml"),
                 xml(200, "em_task_running_start_job.xml"), xml(200, "em_task_operation_finished_sync.xml"),
                 xml(200, "em_task_finished_ok.xml"))
    poller = Poller(600, 5, clock=clock.monotonic, sleep=clock.sleep)
    with make_em() as em:
        results = em.wait_tasks({"a": {"id": "task-1"}}, poller)
    result = results["a"]
    assert result.value["state"] == "Finished" and result.polls == 4
    assert [h["state"] for h in result.history] == ["Running", "OperationFinished", "Finished"]
    assert clock.sleeps == [1.0, 1.0, 1.0]


def test_wait_tasks_survives_a_busy_server(em_server, make_em, clock):
    em_server.on("GET", "/api/tasks/task-1", Reply(503), Reply(503), Reply(503), Reply(503),
                 xml(200, "em_task_finished_ok.xml"))
    poller = Poller(600, 5, clock=clock.monotonic, sleep=clock.sleep)
    with make_em() as em:
        assert em.wait_tasks({"a": {"id": "task-1"}}, poller)["a"].value["state"] == "Finished"


def test_a_task_lost_with_its_expired_session(server, make_em, clock):
    server.on("POST", LOGON, logon_reply(), logon_reply(EM_TOKEN2, SECOND_SESSION_ID))
    server.on("GET", "/api/tasks/task-1", em_error(401, "Unauthorized"), em_error(404, "Not found"))
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em() as em:
        result = em.wait_tasks({"a": {"id": "task-1", "state": "Running"}},
                               Poller(60, 5, clock=clock.monotonic, sleep=clock.sleep))["a"]
    assert result.value["state"] == "Lost" and result.value["lost"] is True


def test_wait_tasks_timeout(em_server, make_em, clock):
    em_server.on("GET", "/api/tasks/task-1", xml(200, "em_task_running_start_job.xml"))
    with expect_error("wait_timeout", "Gave up waiting after 30 s; last state: Running"):
        with make_em() as em:
            em.wait_tasks({"a": {"id": "task-1"}}, Poller(30, 5, clock=clock.monotonic, sleep=clock.sleep))


# ------------------------------------------------------------------------------------------------ sessions and runs
def test_sessions_follow_the_jobs_link_newest_first(em_server, make_em):
    older = fixture_bytes("em_backup_session_stopped_success.xml").decode().replace(
        "2014-10-19T05:22:52Z", "2014-10-18T05:22:52Z").replace(SESSION, "11111111-1111-4111-8111-111111111111")
    em_server.on("GET", "/api/jobs/%s/replicaSessions" % REPLICA, xml(
        200, '<ReplicaJobSessions>%s%s</ReplicaJobSessions>' % (
            re.sub(r' xmlns="[^"]*"', "", older),
            re.sub(r' xmlns="[^"]*"', "", fixture_bytes("em_backup_session_working_reconstructed.xml").decode()))))
    with make_em() as em:
        items = em.sessions(job_of("em_job_entity_replica_vmware.xml"))
    assert [s["id"] for s in items] == [SESSION, "11111111-1111-4111-8111-111111111111"]
    assert em_server.calls[1].query == "format=Entity"


def test_sessions_with_odd_fields_do_not_crash_the_sorting(em_server, make_em):
    odd = fixture_bytes("em_backup_session_stopped_success.xml").decode().replace(
        "<CreationTimeUTC>2014-10-19T05:22:52Z</CreationTimeUTC>",
        "<CreationTimeUTC>2014-10-19T05:22:52Z</CreationTimeUTC><CreationTimeUTC>again</CreationTimeUTC>").replace(
        SESSION, "22222222-2222-4222-8222-222222222222")
    em_server.on("GET", "/api/jobs/%s/backupSessions" % DB_BACKUP, xml(200, "<BackupJobSessions>%s%s</BackupJobSessions>" % (
        re.sub(r' xmlns="[^"]*"', "", odd),
        re.sub(r' xmlns="[^"]*"', "", fixture_bytes("em_backup_session_working_reconstructed.xml").decode()))))
    with make_em() as em:
        assert len(em.sessions(job_of("em_job_entity.xml"))) == 2


def test_a_job_whose_links_are_malformed_has_no_start_link(make_em):
    job = _em._job({"uid": "urn:veeam:Job:%s" % DB_BACKUP, "name": "x", "links": [
        {"rel": "Start", "href": {"text": "/api/jobs/x?action=start"}}, {"rel": ["Up"], "href": "/a"}, "text", 5]}, "vm")
    assert make_em().start_path(job) == "/api/jobs/%s?action=start" % DB_BACKUP
    assert job["backup_server"] is None


def test_sessions_without_a_link_use_the_documented_route(em_server, make_em):
    em_server.on("GET", "/api/nas/jobs/%s/backupSessions" % NAS, sessions_list("em_backup_session_stopped_success.xml"))
    with make_em() as em:
        latest = em.latest_session(dict(job_of("em_nas_job_entity.xml", "nas"), _links=[]))
    assert latest["state"] == "Stopped" and latest["result"] == "Success" and latest["progress"] == 100


def test_wait_runs_until_the_new_session_stops(em_server, make_em, clock):
    em_server.on("GET", "/api/jobs/%s/backupSessions" % DB_BACKUP, sessions_list(),
                 sessions_list("em_backup_session_working_reconstructed.xml"))
    em_server.on("GET", "/api/tasks/task-1", xml(200, "em_task_running_start_job.xml"))
    em_server.on("GET", "/api/backupSessions/%s" % SESSION, xml(200, "em_backup_session_working_reconstructed.xml"),
                 xml(200, "em_backup_session_stopped_success.xml"))
    run = {"job": job_of("em_job_entity.xml"), "before": None, "session": None, "task": {"id": "task-1"}}
    with make_em() as em:
        result = em.wait_runs({"DB Backup": run}, Poller(600, 5, clock=clock.monotonic, sleep=clock.sleep))["DB Backup"]
    assert result.value["session"]["state"] == "Stopped" and result.value["session"]["result"] == "Success"
    assert [h["state"] for h in result.history] == ["waiting for the backup session to appear", "Working", "Stopped/Success"]
    assert em_server.count("GET", "/api/tasks/task-1") == 1


def test_wait_runs_ends_when_the_start_task_failed(em_server, make_em, clock):
    failed = fixture_bytes("em_task_finished_start_job.xml").replace(b'Success="true"', b'Success="false"').replace(
        b'triggered to start.', b'failed to start: insufficient free space')
    em_server.on("GET", "/api/jobs/%s/backupSessions" % DB_BACKUP, sessions_list())
    em_server.on("GET", "/api/tasks/task-10", xml(200, failed.decode()))
    run = {"job": job_of("em_job_entity.xml"), "before": None, "session": None, "task": {"id": "task-10"}}
    with make_em() as em:
        result = em.wait_runs({"r": run}, Poller(600, 5, clock=clock.monotonic, sleep=clock.sleep))["r"]
    assert result.value["failed_start"] is True and _em.run_state(result.value) == "start failed"
    assert result.value["task"]["message"].endswith("insufficient free space")


def test_wait_runs_ignores_the_session_seen_before_the_start(em_server, make_em, clock):
    em_server.on("GET", "/api/jobs/%s/backupSessions" % DB_BACKUP, sessions_list("em_backup_session_stopped_success.xml"))
    run = {"job": job_of("em_job_entity.xml"), "before": SESSION, "session": None, "task": None}
    with expect_error("wait_timeout", "last state: waiting for the backup session to appear"):
        with make_em() as em:
            em.wait_runs({"r": run}, Poller(10, 5, clock=clock.monotonic, sleep=clock.sleep))


def test_a_session_without_its_href_is_read_by_id(em_server, make_em):
    em_server.on("GET", "/api/backupSessions/%s" % SESSION, xml(200, "em_backup_session_stopped_success.xml"))
    with make_em() as em:
        assert em.get_session({"id": SESSION, "name": "Fileserver Backup"})["state"] == "Stopped"
    assert em_server.calls[1].query == "format=Entity"


def test_a_logoff_without_a_token_is_a_no_op(make_em, server):
    assert make_em().logoff() is True and server.attempts == []


def test_wait_runs_when_the_start_task_vanished(em_server, make_em, clock):
    em_server.on("GET", "/api/jobs/%s/backupSessions" % DB_BACKUP, sessions_list(),
                 sessions_list("em_backup_session_stopped_success.xml"))
    em_server.on("GET", "/api/tasks/task-1", em_error(404, "Not found"))
    run = {"job": job_of("em_job_entity.xml"), "before": None, "session": None, "task": {"id": "task-1"}}
    with make_em() as em:
        result = em.wait_runs({"r": run}, Poller(600, 5, clock=clock.monotonic, sleep=clock.sleep))["r"]
    assert result.value["task"]["lost"] is True and result.value["session"]["state"] == "Stopped"
    assert em_server.count("GET", "/api/tasks/task-1") == 1  # a lost task is not asked for again


def test_wait_runs_stops_on_other_task_errors(em_server, make_em, clock):
    em_server.on("GET", "/api/jobs/%s/backupSessions" % DB_BACKUP, sessions_list())
    em_server.on("GET", "/api/tasks/task-1", em_error(500, "Internal error"))
    run = {"job": job_of("em_job_entity.xml"), "before": None, "session": None, "task": {"id": "task-1"}}
    with expect_error("http", "Enterprise Manager could not return the task task-1: Internal error (HTTP 500 on GET "
                              "/api/tasks/{id})"):
        with make_em() as em:
            em.wait_runs({"r": run}, Poller(600, 5, clock=clock.monotonic, sleep=clock.sleep))


def test_run_helpers():
    assert _em.run_state({"session": {"state": "Working", "result": "None"}}) == "Working"
    assert _em.run_state({"session": {"state": "Stopped", "result": "Failed"}}) == "Stopped/Failed"
    assert _em.run_state({"session": {}}) == "unknown"
    assert _em.run_done({"session": {"state": "Stopped"}}) and not _em.run_done({"session": {"state": "Postprocessing"}})
    assert not _em.run_done({"session": None}) and _em.run_done({"failed_start": True})
    assert _em.session_running({"state": "WaitingTape"}) and not _em.session_running({"state": "stopped"})
    assert not _em.session_running(None) and not _em.session_running({})
    assert _em.task_done({"state": "Finished"}) and not _em.task_done({"state": "OperationFinished"})


@pytest.mark.parametrize("path,shown", [
    ("/api/jobs/%s?action=start" % DB_BACKUP, "/api/jobs/{id}"),
    ("https://em01:9398/api/nas/jobs/%s/start" % NAS, "/api/nas/jobs/{id}/start"),
    ("/api/tasks/task-10", "/api/tasks/{id}"),
    ("/api/logonSessions/%s" % EM_SESSION_ID, "/api/logonSessions/{id}"),
    ("/api/query?type=Job&filter=Name%3D%3D%22x%22", "/api/query"),
    ("", "/"),
])
def test_shown_path(path, shown):
    assert _em.shown_path(path) == shown


def test_no_secret_in_any_request_but_where_it_belongs(em_server, make_em):
    """The password travels only in the logon's Authorization header, the token only in X-RestSvcSessionId."""
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    with make_em() as em:
        em.find_job(job_id=DB_BACKUP)
    for call in em_server.calls:
        text = call.url + call.body.decode("utf-8", "replace") + repr(
            {k: v for k, v in call.headers.items() if k not in ("Authorization", "X-RestSvcSessionId")})
        assert_no_secrets(text)
        assert PASSWORD not in repr(call.headers)
