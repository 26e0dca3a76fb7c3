# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_em: the Enterprise Manager client (the token on every call, a new logon on 401, finding jobs, start routes,
tasks and sessions) and its job adapter, EmJobs, driven through the job lifecycle against the fake server: a start
sent once, a lost start settled by the logon session's tasks and the job's sessions, start tasks and backup sessions
awaited, a start refused later.  The logon session itself is tested in test__auth."""

from __future__ import annotations

import functools
import re
import urllib.parse

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    EM_TOKEN, EM_TOKEN2, PASSWORD, Reply, assert_no_secrets, dropped, em_error, expect_error,
    fixture_bytes, jsonr, path_re, read_timeout, refused, xml)
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils import veeam_vocabulary as V
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_wire import (
    AGENT, ANY_LOGOFF, COPY, DB_BACKUP, DB_SESSIONS, LOGON, NAS, OTHER_SERVER_JOB, REPLICA, SECOND, SECOND_SESSION_ID,
    FILESERVER, SESSION,
    empty_query, entity, job_of, logon_reply, query_result, session_xml, sessions_list, start_task_of, task_xml,
    tasks_list)

WORKING = "em_backup_session_working_reconstructed.xml"
STOPPED = "em_backup_session_stopped_success.xml"
SESSION_PATH = "/api/backupSessions/%s" % SESSION
SESSION_NAME = "Fileserver Backup@2014-10-19 05:22:52"


# ------------------------------------------------------------------------------------------------ the lifecycle
@pytest.fixture
def em_run(make_em, lifecycle):
    """``em_run(wanted, wait_for="task", wait=True, many=None, handed_token=False, em_params=None, **options)``:
    start the jobs of ``wanted`` as veeam_em_job_start does, in one logon session; the lifecycle's result."""
    def run(wanted, wait_for="task", wait=True, many=None, handed_token=False, em_params=None, state="started",
            **options):
        with make_em(**(em_params or {})) as em:
            adapter = _em.EmJobs(em, wait_for=wait_for, wait=wait, handed_token=handed_token)
            return lifecycle(adapter, state, wait=wait, **options).run(wanted, many=many)
    return run


def by_id(*ids):
    return [{"job_id": job_id, "job_name": None, "job_type": "auto", "backup_server": None} for job_id in ids]


@pytest.fixture
def db_backup(em_server):
    """'DB Backup' (em_job_entity.xml), with no session yet; tests add the start and what follows."""
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list())
    return em_server


START = "/api/jobs/%s" % DB_BACKUP


# ------------------------------------------------------------------------------------------------ construction
@pytest.mark.parametrize("params", [{"username": None}, {"password": None}, {"password": ""}])
def test_credentials_or_a_token_are_required(make_em, params):
    with expect_error("usage") as caught:
        make_em(**params)
    assert str(caught.error) == ("username and password are required: set the options (or module_defaults) or the "
                                 "VEEAM_EM_USERNAME and VEEAM_EM_PASSWORD environment variables; or give session_token "
                                 "from backupops.veeam.veeam_em_session")


def test_a_token_alone_is_enough(make_em):
    em = make_em(username=None, password=None, session_token=EM_TOKEN)
    assert em.auth.token == EM_TOKEN and not em.auth.can_renew


def test_the_connection_of_enterprise_manager():
    conn = _em.CONNECTION
    assert (conn.name, conn.env, conn.port, conn.default_version, conn.base_path) == (
        "em", "VEEAM_EM", 9398, "latest", "/api")
    assert conn.versions == _em.API_VERSIONS == ("latest", "v1_5", "v1_6", "v1_7")
    assert conn.options == {"session_token": {"type": "str", "no_log": True}}
    assert conn.connect is _em.connect


# ------------------------------------------------------------------------------------------------ calls
def test_every_call_sends_the_token_and_accepts_xml_only(em_server, make_em):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", "/api/tasks/task-1", xml(200, "em_task_running_start_job.xml"))
    with make_em() as em:
        em.find_job(job_id=DB_BACKUP)
        em.get_task("task-1")
    for call in em_server.calls:
        assert call.headers["Accept"] == "application/xml"
    for call in em_server.calls[1:-1]:
        assert call.headers["X-RestSvcSessionId"] == EM_TOKEN and "Authorization" not in call.headers
        assert "Cookie" not in call.headers


def test_relogon_once_on_401_then_retry(server, make_em, warnings):
    server.on("POST", LOGON, logon_reply(), logon_reply(EM_TOKEN2, SECOND_SESSION_ID))
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, em_error(401, "Unauthorized"), xml(200, "em_job_entity.xml"))
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em() as em:
        assert em.find_job(job_id=DB_BACKUP)["id"] == DB_BACKUP
        assert em.auth.renewals == 1 and em.auth.token == EM_TOKEN2
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


def test_a_403_of_a_handed_in_token_names_the_account_in_use(server, make_em):
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, em_error(403, "Access denied."))
    with expect_error("forbidden") as caught:
        with make_em(username=None, password=None, session_token=EM_TOKEN) as em:
            em.find_job(job_id=DB_BACKUP, job_type="backup")
    assert str(caught.error).endswith("The account 'in use' lacks the Enterprise Manager role for this; acting on jobs "
                                      "(start, stop, retry, schedule) needs Portal Administrator")


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
                                 "this; acting on jobs (start, stop, retry, schedule) needs Portal Administrator")


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
    assert query.query.endswith("&page=1")  # the page number comes after the other parameters
    raw_filter = query.query.split("filter=", 1)[1][:-len("&page=1")]
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
    assert str(caught.error) == ("No job named 'DB Backup' on backup server 'vbr99' on Enterprise Manager. Jobs of that "
                                 "name are on backup server srv12.tech.local")
    assert len([c for c in em_server.calls if c.path == "/api/query"]) == 4  # the type check (every type) found none


def test_backup_server_whose_job_of_that_name_is_of_another_type(em_server, make_em):
    """The name is on the server, as another type: the error names the type (after the fix of _pick_typed, a job of
    the asked type on another server no longer counts as "another type")."""
    replica = entity("em_job_entity_replica_vmware.xml", new_name="DB Backup")
    em_server.on("GET", "/api/query", lambda call: xml(200, query_result(entity("em_job_entity.xml"), replica))
                 if call.params["type"] == ["Job"] else empty_query())
    with expect_error("usage") as caught:
        with make_em() as em:
            em.find_job(job_name="DB Backup", job_type="backup", backup_server="srv02.tech.local")
    assert str(caught.error) == "Job 'DB Backup' is a replica job, not backup. Use job_type: replica, or auto"


# ------------------------------------------------------------------------------------------------ a wrong job_type
def test_a_job_of_the_name_but_another_type_names_its_type(em_server, make_em):
    copy = entity("em_job_entity_immediate_backup_copy.xml", new_name="Nightly")
    em_server.on("GET", "/api/query", lambda call: xml(200, query_result(copy))
                 if call.params["type"] == ["Job"] and "Type" not in filter_of(call) else empty_query())
    with expect_error("usage") as caught:
        with make_em() as em:
            em.find_job(job_name="Nightly", job_type="backup")
    assert str(caught.error) == "Job 'Nightly' is a backup copy job, not backup. Use job_type: backup_copy, or auto"
    types = [c.params["type"][0] for c in em_server.calls if c.path == "/api/query"]
    assert types == ["Job", "Job", "NasJob", "AgentBackupJob"]  # the lookup, then one more query in every type


def test_a_name_of_two_other_types(em_server, make_em):
    copy = entity("em_job_entity_immediate_backup_copy.xml", new_name="Nightly")
    agents = xml(200, query_result(entity("em_agent_backup_job_entity.xml", new_name="Nightly"),
                                   wrapper="AgentBackupJobs"))
    answers = {"Job": xml(200, query_result(copy)), "AgentBackupJob": agents}
    em_server.on("GET", "/api/query", lambda call: answers.get(call.params["type"][0], empty_query()))
    with expect_error("usage") as caught:
        with make_em() as em:
            em.find_job(job_name="Nightly", job_type="file_share")
    assert str(caught.error) == ("Job 'Nightly' is a agent and a backup copy job, not file share. Use job_type: agent, "
                                 "or auto")


def test_a_wrong_type_costs_a_query_only_on_that_error(em_server, make_em):
    em_server.on("GET", "/api/query", xml(200, query_result(entity("em_job_entity.xml"))))
    with make_em() as em:
        em.find_job(job_name="DB Backup", job_type="backup")
    assert len([c for c in em_server.calls if c.path == "/api/query"]) == 1


def test_a_name_of_no_type_at_all_stays_not_found(em_server, make_em):
    em_server.on("GET", "/api/query", empty_query())
    with expect_error("not_found", "No job named 'Nightly' on Enterprise Manager"):
        with make_em() as em:
            em.find_job(job_name="Nightly", job_type="replica")
    assert len([c for c in em_server.calls if c.path == "/api/query"]) == 4


def test_a_name_in_other_case_of_another_type_is_not_a_wrong_type(em_server, make_em):
    copy = entity("em_job_entity_immediate_backup_copy.xml", new_name="NIGHTLY")
    em_server.on("GET", "/api/query", lambda call: xml(200, query_result(copy))
                 if call.params["type"] == ["Job"] else empty_query())
    with expect_error("not_found", "No job named 'Nightly' on Enterprise Manager"):
        with make_em() as em:
            em.find_job(job_name="Nightly", job_type="backup")


def test_auto_costs_no_query_for_a_wrong_type(em_server, make_em):
    em_server.on("GET", "/api/query", empty_query())
    with expect_error("not_found"):
        with make_em() as em:
            em.find_job(job_name="Nightly", job_type="auto")
    assert len([c for c in em_server.calls if c.path == "/api/query"]) == 3


def test_a_wrong_type_among_several_jobs(em_server, make_em):
    copy = entity("em_job_entity_immediate_backup_copy.xml", new_name="Nightly")
    em_server.on("GET", "/api/query", lambda call: xml(200, query_result(entity("em_job_entity.xml"), copy))
                 if call.params["type"] == ["Job"] else empty_query())
    with expect_error("usage", "Job 'Nightly' is a backup copy job, not backup"):
        with make_em() as em:
            em.find_jobs([{"job_name": "DB Backup", "job_type": "backup"}, {"job_name": "Nightly", "job_type": "backup"}])


# ------------------------------------------------------------------------------------------------ query pages
def test_query_reads_every_page_with_the_page_number_last(em_server, make_em):
    pages = {"1": query_result(entity("em_job_entity.xml"), page=1, pages=3),
             "2": query_result(entity("em_job_entity.xml", new_name="Two", new_id=SECOND), page=2, pages=3),
             "3": query_result(entity("em_job_entity.xml", new_name="Three", new_id=OTHER_SERVER_JOB), page=3, pages=3)}
    em_server.on("GET", "/api/query", lambda call: xml(200, pages[call.params["page"][0]]))
    with make_em() as em:
        entities = em.query("type=Job&format=Entities&pageSize=1", "list of jobs")
    assert [e["name"] for e in entities] == ["DB Backup", "Two", "Three"]
    assert [c.query for c in em_server.calls if c.path == "/api/query"] == [
        "type=Job&format=Entities&pageSize=1&page=%d" % n for n in (1, 2, 3)]


def test_query_refuses_a_page_that_brings_nothing_new(em_server, make_em):
    """A server that ignores the page number sends page 1 again: reading stops at page 2 with an error, since the
    rest of the list (where a job looked for may be) cannot be read."""
    em_server.on("GET", "/api/query", xml(200, query_result(entity("em_job_entity.xml"), page=1, pages=5)))
    with expect_error("parse") as caught:
        with make_em() as em:
            em.query("type=Job&format=Entities", "list of jobs")
    assert str(caught.error).startswith("The server sent page 2 of list of jobs with nothing new")
    assert len([c for c in em_server.calls if c.path == "/api/query"]) == 2


def test_query_stops_at_an_empty_page(em_server, make_em):
    em_server.on("GET", "/api/query", xml(200, query_result(entity("em_job_entity.xml"), page=1, pages=9)),
                 xml(200, query_result(page=2, pages=9)), xml(200, query_result(entity("em_nas_job_entity.xml"))))
    with make_em() as em:
        assert len(em.query("type=Job&format=Entities", "list of jobs")) == 1
    assert len([c for c in em_server.calls if c.path == "/api/query"]) == 2


def test_query_that_never_ends_is_refused(em_server, make_em, monkeypatch):
    monkeypatch.setattr(_em, "collect_pages", functools.partial(_em.collect_pages, max_pages=4))
    counter = iter(range(1000))
    em_server.on("GET", "/api/query", lambda call: xml(200, query_result(entity(
        "em_job_entity.xml", new_id="%08d-0000-4000-8000-000000000000" % next(counter)), page=1, pages=99)))
    with expect_error("parse") as caught:
        with make_em() as em:
            em.list_jobs(job_type="backup")
    assert str(caught.error) == ("The server kept sending pages of list of backup, replica and backup copy jobs: 4 pages "
                                 "(4 items) were read, and it still said there were more")


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
                                 "this; acting on jobs (start, stop, retry, schedule) needs Portal Administrator")
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


# ------------------------------------------------------------------------------------------------ starting (lifecycle)
def test_a_start_through_the_lifecycle_awaits_its_task(db_backup, em_run, clock, journal):
    db_backup.on("POST", START, xml(202, "em_task_running_start_job.xml"))
    db_backup.on("GET", "/api/tasks/task-1", xml(200, "em_task_running_start_job.xml"),
                 xml(200, "em_task_operation_finished_sync.xml"), xml(200, "em_task_finished_ok.xml"))
    result = em_run(by_id(DB_BACKUP))
    assert result["changed"] is True
    assert result["msg"] == "Started job 'DB Backup': task task-1 Finished after 3.0 s"
    assert result["task"] == {"id": "task-1", "state": "Finished", "operation": "StartJob", "success": True,
                              "message": "Ok"}
    assert [h["state"] for h in result["history"]] == ["Running", "OperationFinished", "Finished"]
    assert result["job"]["name"] == "DB Backup" and all(not k.startswith("_") for k in result["job"])
    assert "session" not in result and clock.sleeps == [1.0, 1.0, 1.0]
    assert db_backup.count("POST", START) == 1
    post = [c for c in db_backup.calls if c.path == START and c.method == "POST"][0]
    assert post.query == "action=start" and post.body == b""
    assert journal.changes == ["Started job 'DB Backup' (task task-1)"]


def test_a_start_without_waiting(db_backup, em_run, clock):
    db_backup.on("POST", START, xml(202, "em_job_start_202_task_running.xml"))
    result = em_run(by_id(DB_BACKUP), wait=False)
    assert result["msg"] == "Started job 'DB Backup' (task task-10)" and result["task"]["state"] == "Running"
    assert result["changed"] is True and "history" not in result and clock.sleeps == []
    assert db_backup.count("GET", path_re(r"^/api/tasks")) == 0


def test_a_running_job_is_not_started_again(em_server, em_run, journal):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list(WORKING))
    result = em_run(by_id(DB_BACKUP))
    assert result["changed"] is False and em_server.count("POST", START) == 0
    assert result["msg"] == ("Job 'DB Backup' is already running (session %s, Working, 42%% done); not started again"
                             % SESSION_NAME)
    assert result["session"]["state"] == "Working" and "task" not in result
    assert not set(result["session"]) & {"href", "job_uid"}
    assert (result["session"]["job_id"], result["session"]["job_name"]) == (FILESERVER, "Fileserver Backup")  # the fixture's
    assert journal.changes == []


def test_a_running_job_is_awaited_through_its_session(em_server, em_run, clock):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list(WORKING))
    em_server.on("GET", SESSION_PATH, xml(200, WORKING), xml(200, STOPPED))
    result = em_run(by_id(DB_BACKUP), wait_for="session")
    assert result["changed"] is False
    assert result["msg"].endswith("not started again: session %s ended Success after 2.0 s" % SESSION_NAME)
    assert em_server.calls[-2].query == "format=Entity"


def test_if_running_fail_names_the_running_session(em_server, em_run):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list(WORKING))
    with expect_error("conflict") as caught:
        em_run(by_id(DB_BACKUP), if_running="fail")
    assert str(caught.error) == ("Job 'DB Backup' is already running (session %s, Working, 42%% done). Use if_running: "
                                 "skip to leave it running and report its session" % SESSION_NAME)
    assert caught.error.details["session"]["state"] == "Working"


def test_check_mode_reads_and_sends_nothing(db_backup, em_run):
    result = em_run(by_id(DB_BACKUP), check_mode=True)
    assert result == {"changed": True, "msg": "Would start job 'DB Backup'", "elapsed": 0.0,
                      "job": result["job"]}
    assert [c.method for c in db_backup.calls] == ["POST", "GET", "GET", "DELETE"]  # logon, job, sessions, logoff


def test_a_refused_start_of_a_job_that_is_not_running(db_backup, em_run):
    db_backup.on("POST", START, em_error(500, "Not enough licenses."))
    with expect_error("http") as caught:
        em_run(by_id(DB_BACKUP))
    assert str(caught.error) == ("Enterprise Manager refused to start job 'DB Backup': Not enough licenses (HTTP 500 on "
                                 "POST /api/jobs/{id})")
    assert caught.error.status == 500 and db_backup.count("GET", DB_SESSIONS) == 2  # read again after the refusal


def test_a_start_refused_because_it_started_meanwhile(em_server, em_run, warnings):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list(), sessions_list(WORKING))
    em_server.on("POST", START, em_error(409, "Job DB Backup is already running."))
    result = em_run(by_id(DB_BACKUP), wait=False)
    assert result["changed"] is False and result["msg"].startswith("Job 'DB Backup' is already running (session")
    assert warnings == ["Enterprise Manager refused to start job 'DB Backup': Job DB Backup is already running. It "
                        "started since the module read it, so it was left running"]
    assert em_server.count("POST", START) == 1


# ------------------------------------------------------------------------------------------------ lost starts
@pytest.mark.parametrize("fault", [dropped, read_timeout])
def test_a_lost_start_is_settled_by_the_tasks_and_not_sent_again(db_backup, em_run, warnings, clock, fault):
    db_backup.on("POST", START, fault(), xml(202, "em_task_running_start_job.xml"))
    db_backup.on("GET", "/api/tasks", tasks_list(start_task_of("DB Backup")))
    result = em_run(by_id(DB_BACKUP))
    assert result["task"]["id"] == "task-10" and result["task"]["operation"] == "StartJob"
    assert result["msg"] == "Started job 'DB Backup': task task-10 Finished after 0.0 s"
    assert db_backup.count("POST", START) == 1 and clock.sleeps == []
    assert warnings == ["The response to the start of job 'DB Backup' was lost; Enterprise Manager shows it took "
                        "effect, so it was not sent again"]


def test_a_lost_start_is_settled_by_a_new_running_session(em_server, em_run, warnings):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list(session_xml("Stopped", "Success", session_id=SECOND_SESSION_ID)),
                 sessions_list(WORKING))
    em_server.on("POST", START, dropped())
    em_server.on("GET", "/api/tasks", xml(200, "<Tasks/>"))
    result = em_run(by_id(DB_BACKUP))
    assert result["changed"] is True and "task" not in result  # no task to await: nothing more to wait for
    assert result["msg"] == "Started job 'DB Backup'"
    assert em_server.count("POST", START) == 1 and len(warnings) == 1


@pytest.mark.parametrize("before,after", [
    ((STOPPED,), (STOPPED,)),
    ((STOPPED,), (WORKING,)),  # the session seen before the start, not a new one
    ((), ()),
])
def test_a_lost_start_that_did_not_happen(em_server, em_run, warnings, journal, before, after):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list(*before), sessions_list(*after))
    em_server.on("POST", START, dropped())
    em_server.on("GET", "/api/tasks", tasks_list("em_task_finished_stop_job.xml"))
    with expect_error("response_lost", warnings=warnings) as caught:
        em_run(by_id(DB_BACKUP))
    assert str(caught.error) == (
        "The start request for job 'DB Backup' got no response, and Enterprise Manager shows it did not take effect; it "
        "was not sent again (POST /api/jobs/{id}). Run the task again once the connection to Enterprise Manager is "
        "stable")
    assert em_server.count("POST", START) == 1 and warnings == []
    assert journal.annotate(caught.error) == (str(caught.error), False)


def test_a_running_start_task_without_message_settles_a_lost_start(db_backup, em_run, warnings):
    db_backup.on("POST", START, dropped())
    db_backup.on("GET", "/api/tasks", tasks_list("em_task_running_start_job.xml"))
    assert em_run(by_id(DB_BACKUP), wait=False)["task"]["id"] == "task-1"
    assert len(warnings) == 1


def two_jobs(server):
    """'DB Backup' and 'SQL Replication' by id, no session running (one query per session type)."""
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    server.on("GET", "/api/jobs/%s" % REPLICA, xml(200, "em_job_entity_replica_vmware.xml"))
    server.on("GET", "/api/query", empty_query())
    server.on("GET", DB_SESSIONS, sessions_list())
    server.on("GET", "/api/jobs/%s/replicaSessions" % REPLICA, sessions_list())


def test_the_start_task_of_another_job_of_this_run_does_not_settle_a_lost_start(em_server, em_run, warnings, journal):
    """Several jobs are started in one logon session: job A's start task (still running, no message yet) must not
    be taken for the start of job B whose response was lost."""
    two_jobs(em_server)
    em_server.on("POST", "/api/jobs/%s" % REPLICA, xml(202, "em_task_running_start_job.xml"))
    em_server.on("POST", START, dropped())
    em_server.on("GET", "/api/tasks", tasks_list("em_task_running_start_job.xml"))
    with expect_error("response_lost", "The start request for job 'DB Backup' got no response", warnings=warnings) as caught:
        em_run(by_id(REPLICA, DB_BACKUP))
    assert em_server.count("POST", START) == 1 and warnings == []
    msg, changed = journal.annotate(caught.error)
    assert changed and msg.startswith("Started job 'SQL Replication' (task task-1), then: The start request for job "
                                      "'DB Backup' got no response")
    assert [r["changed"] for r in caught.error.details["jobs"]] == [True, False]


def test_one_task_settles_one_lost_start_only(em_server, em_run, warnings, journal):
    two_jobs(em_server)
    em_server.on("POST", path_re(r"^/api/jobs/"), dropped())
    em_server.on("GET", "/api/tasks", tasks_list("em_task_running_start_job.xml"))
    with expect_error("response_lost", "The start request for job 'SQL Replication' got no response") as caught:
        em_run(by_id(DB_BACKUP, REPLICA))
    assert len(warnings) == 1 and em_server.count("POST") == 3  # logon + one start each
    assert journal.annotate(caught.error)[0].startswith("Started job 'DB Backup' (task task-1), then: ")


def test_a_timed_out_start_that_never_shows(db_backup, em_run, clock, warnings):
    """A start that timed out may still be carried out: EM is watched as long again as ``timeout`` (30 s here)."""
    db_backup.on("POST", START, read_timeout())
    db_backup.on("GET", "/api/tasks", xml(200, "<Tasks/>"))
    with expect_error("response_lost", warnings=warnings) as caught:
        em_run(by_id(DB_BACKUP))
    assert str(caught.error) == (
        "Enterprise Manager did not answer the start of job 'DB Backup' within 30 s (the timeout option), and 30 s "
        "later still shows no sign of it; the start was not sent again, but Enterprise Manager may still carry it out "
        "(POST /api/jobs/{id}). Check the job's state and sessions before you start it again, and raise timeout if "
        "Enterprise Manager is slow")
    assert db_backup.count("POST", START) == 1 and clock.sleeps == [1.0] * 30
    assert db_backup.count("GET", "/api/tasks") == 31


def test_a_timed_out_start_that_shows_a_little_later(db_backup, em_run, clock, warnings):
    db_backup.on("POST", START, read_timeout())
    db_backup.on("GET", "/api/tasks", xml(200, "<Tasks/>"), xml(200, "<Tasks/>"), xml(200, "<Tasks/>"),
                 tasks_list("em_task_running_start_job.xml"))
    assert em_run(by_id(DB_BACKUP), wait=False)["task"]["id"] == "task-1"
    assert db_backup.count("POST", START) == 1 and clock.sleeps == [1.0] * 3
    assert len(warnings) == 1


def test_a_task_of_another_job_does_not_settle_a_lost_start(em_server, em_run):
    em_server.on("GET", "/api/nas/jobs/%s" % NAS, xml(200, "em_nas_job_entity.xml"))
    em_server.on("GET", "/api/nas/jobs/%s/backupSessions" % NAS, sessions_list())
    em_server.on("POST", "/api/nas/jobs/%s/start" % NAS, dropped())
    em_server.on("GET", "/api/tasks", tasks_list("em_task_finished_start_job.xml"))  # 'SQL Backup', not ours
    with expect_error("response_lost", "The start request for job 'Shared Files Backup' got no response"):
        em_run(by_id("urn:veeam:NasJob:%s" % NAS))
    assert em_server.count("POST", "/api/nas/jobs/%s/start" % NAS) == 1


def test_a_start_whose_connection_was_refused_is_not_lost(em_server, make_em):
    em_server.on("POST", START, refused(), xml(202, "em_task_running_start_job.xml"))
    with make_em() as em:
        assert em.start(job_of("em_job_entity.xml"))["id"] == "task-1"
    assert em_server.count("POST", START) == 1 and em_server.count("GET") == 0


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


def test_the_tasks_of_the_logon_session(em_server, make_em):
    em_server.on("GET", "/api/tasks", tasks_list("em_task_running_start_job.xml", "em_task_finished_stop_job.xml"))
    with make_em() as em:
        assert [(t["id"], t["operation"]) for t in em.tasks()] == [("task-1", "StartJob"), ("task-1", "StopJob")]


def test_wait_task_until_finished(em_server, make_em, poller, clock):
    em_server.on("GET", "/api/tasks/task-1", xml(200, "em_task_running_start_job.xml"),
                 xml(200, "em_task_operation_finished_sync.xml"), xml(200, "em_task_finished_ok.xml"))
    with make_em() as em:
        result = em.wait_task({"id": "task-1", "state": "Running"}, poller(600))
    assert result.done and result.value["state"] == "Finished" and result.polls == 3
    assert [h["state"] for h in result.history] == ["Running", "OperationFinished", "Finished"]
    assert clock.sleeps == [1.0, 1.0, 1.0]  # the task was just read: the first poll after a pause


def test_wait_task_survives_a_busy_server(em_server, make_em, poller):
    em_server.on("GET", "/api/tasks/task-1", Reply(503), Reply(503), Reply(503), Reply(503),
                 xml(200, "em_task_finished_ok.xml"))
    with make_em() as em:
        assert em.wait_task({"id": "task-1"}, poller(600)).value["state"] == "Finished"


def test_wait_task_that_runs_out(em_server, make_em, poller):
    em_server.on("GET", "/api/tasks/task-1", xml(200, "em_task_running_start_job.xml"))
    with make_em() as em:
        result = em.wait_task({"id": "task-1", "state": "Running"}, poller(30))
    assert not result.done and result.elapsed == 30.0 and result.value["state"] == "Running"


def test_a_task_lost_with_its_expired_session(server, em_run, warnings):
    server.on("POST", LOGON, logon_reply(), logon_reply(EM_TOKEN2, SECOND_SESSION_ID))
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    server.on("GET", DB_SESSIONS, sessions_list(), sessions_list(WORKING))
    server.on("POST", START, xml(202, "em_task_running_start_job.xml"))
    server.on("GET", "/api/tasks/task-1", em_error(401, "Unauthorized"), em_error(404, "Not found"))
    result = em_run(by_id(DB_BACKUP))
    assert result["task"]["state"] == "Lost" and result["session"]["state"] == "Working"
    assert result["msg"] == "Started job 'DB Backup': its backup session is Working"
    assert warnings == ["The Enterprise Manager logon session expired while waiting for task task-1 of job 'DB Backup'; "
                        "the task belonged to it, so the job's backup session was read instead"]


def test_waiting_for_a_task_that_runs_out(db_backup, em_run, journal):
    db_backup.on("POST", START, xml(202, "em_task_running_start_job.xml"))
    db_backup.on("GET", "/api/tasks/task-1", xml(200, "em_task_running_start_job.xml"))
    with expect_error("wait_timeout") as caught:
        em_run(by_id(DB_BACKUP), wait_timeout=30)
    assert str(caught.error) == (
        "Gave up waiting after 30 s (wait_timeout 30 s): job 'DB Backup': task task-1 still Running. The task (task-1) "
        "belonged to this module's own logon session, which ended with it: to await a task later, log on with "
        "backupops.veeam.veeam_em_session and pass its session_token to veeam_em_job_start (or "
        "veeam_em_job_state) and backupops.veeam.veeam_task_info; or await the backup session with wait_for: session")
    details = caught.error.details
    assert details["changed"] is True and details["last_state"] == "Running" and details["task"]["id"] == "task-1"
    assert details["history"] == [{"state": "Running", "elapsed": 0.0}] and details["job"]["name"] == "DB Backup"
    assert journal.annotate(caught.error)[1] is True


def test_a_timeout_shows_the_task_as_last_read(db_backup, em_run):
    db_backup.on("POST", START, xml(202, "em_task_running_start_job.xml"))
    db_backup.on("GET", "/api/tasks/task-1", xml(200, "em_task_operation_finished_sync.xml"))
    with expect_error("wait_timeout", "job 'DB Backup': task task-1 still OperationFinished") as caught:
        em_run(by_id(DB_BACKUP), wait_timeout=30)
    details = caught.error.details
    assert details["task"]["state"] == "OperationFinished" and details["last_state"] == "OperationFinished"
    assert "session" not in details


def test_waiting_for_a_task_of_a_handed_in_session_that_runs_out(server, em_run):
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    server.on("GET", DB_SESSIONS, sessions_list())
    server.on("POST", START, xml(202, "em_task_running_start_job.xml"))
    server.on("GET", "/api/tasks/task-1", xml(200, "em_task_running_start_job.xml"))
    with expect_error("wait_timeout") as caught:
        em_run(by_id(DB_BACKUP), wait_timeout=10, handed_token=True,
               em_params={"username": None, "password": None, "session_token": EM_TOKEN})
    assert str(caught.error).endswith("To go on waiting, run backupops.veeam.veeam_task_info with task_id=task-1, wait: "
                                      "true and the same session_token")


# ------------------------------------------------------------------------------------------------ sessions (lifecycle)
def test_wait_for_session_until_the_new_session_stops(em_server, em_run, clock):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list(), sessions_list(WORKING))
    em_server.on("POST", START, xml(202, "em_task_running_start_job.xml"))
    em_server.on("GET", "/api/tasks/task-1", xml(200, "em_task_running_start_job.xml"), xml(200, "em_task_finished_ok.xml"))
    em_server.on("GET", SESSION_PATH, xml(200, WORKING), xml(200, STOPPED))
    result = em_run(by_id(DB_BACKUP), wait_for="session")
    assert result["changed"] is True and result["session"]["state"] == "Stopped"
    assert result["session"]["result"] == "Success" and result["task"]["success"] is True
    assert result["msg"] == "Started job 'DB Backup': session %s ended Success after 3.0 s" % SESSION_NAME
    assert [h["state"] for h in result["history"]] == ["waiting for the backup session to appear", "Working",
                                                       "Stopped/Success"]
    assert em_server.count("GET", "/api/tasks/task-1") == 2  # not read once the task has finished


def test_wait_for_session_takes_a_session_as_the_runs_only_once_the_start_task_has_finished(em_server, em_run):
    """With other operators starting the same job, a new session may be theirs while EM refuses our start: a new
    session that stops while the start task still runs does not end the wait; the task is read on, and decides."""
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list(), sessions_list(WORKING))
    em_server.on("POST", START, xml(202, "em_task_running_start_job.xml"))
    em_server.on("GET", "/api/tasks/task-1", xml(200, "em_task_running_start_job.xml"))
    em_server.on("GET", SESSION_PATH, xml(200, STOPPED))
    with expect_error("wait_timeout") as caught:
        em_run(by_id(DB_BACKUP), wait_for="session", wait_timeout=10)
    assert str(caught.error).startswith(
        "Gave up waiting after 10 s (wait_timeout 10 s): job 'DB Backup': task task-1 still Running (session %s is "
        "Stopped/Success). " % SESSION_NAME)
    assert em_server.count("GET", "/api/tasks/task-1") >= 5  # read on, every round
    details = caught.error.details
    assert details["task"]["state"] == "Running" and details["session"]["state"] == "Stopped"
    assert details["last_state"] == "Stopped/Success" and details["changed"] is True


def test_wait_for_session_a_session_that_stopped_is_the_runs_once_the_task_finished(em_server, em_run, clock):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list(), sessions_list(STOPPED))
    em_server.on("POST", START, xml(202, "em_task_running_start_job.xml"))
    em_server.on("GET", "/api/tasks/task-1", xml(200, "em_task_running_start_job.xml"),
                 xml(200, "em_task_running_start_job.xml"), xml(200, "em_task_finished_ok.xml"))
    em_server.on("GET", SESSION_PATH, xml(200, STOPPED))
    result = em_run(by_id(DB_BACKUP), wait_for="session")
    assert result["changed"] is True and result["msg"].endswith("ended Success after 3.0 s")
    assert result["task"]["state"] == "Finished" and result["task"]["success"] is True
    assert em_server.count("GET", "/api/tasks/task-1") == 3


def test_wait_for_session_of_a_start_task_that_failed(em_server, em_run, journal):
    failed = start_task_of("DB Backup").replace('Success="true"', 'Success="false"').replace(
        "triggered to start.", "failed to start: insufficient free space")
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list())
    em_server.on("POST", START, xml(202, "em_job_start_202_task_running.xml"))
    em_server.on("GET", "/api/tasks/task-10", xml(200, failed))
    with expect_error("job_failed") as caught:
        em_run(by_id(DB_BACKUP), wait_for="session")
    assert str(caught.error) == ("Enterprise Manager did not start job 'DB Backup': task task-10 finished with 'Job \"DB "
                                 "Backup\" failed to start: insufficient free space'")
    assert caught.error.details["changed"] is False and caught.error.details["task"]["success"] is False
    assert journal.changes == [] and journal.annotate(caught.error)[1] is False


def test_a_start_task_that_failed_while_another_operator_started_the_job(em_server, em_run, warnings):
    """The start was refused later, but the job runs (someone else's run): reported as if_running: skip says, and
    awaited in a second round."""
    failed = start_task_of("DB Backup").replace('Success="true"', 'Success="false"').replace(
        "triggered to start.", "is already running")
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list(), sessions_list(WORKING))
    em_server.on("POST", START, xml(202, "em_job_start_202_task_running.xml"))
    em_server.on("GET", "/api/tasks/task-10", xml(200, failed))
    em_server.on("GET", SESSION_PATH, xml(200, WORKING), xml(200, STOPPED))
    result = em_run(by_id(DB_BACKUP), wait_for="session")
    assert result["changed"] is False and result["session"]["result"] == "Success"
    assert result["msg"] == ("Job 'DB Backup' is already running (session %s, Working, 42%% done); not started again: "
                             "session %s ended Success after 3.0 s" % (SESSION_NAME, SESSION_NAME))
    assert warnings == ["Enterprise Manager refused to start job 'DB Backup' (task task-10 finished with 'Job \"DB "
                        "Backup\" is already running'). It started since the module read it, so it was left running"]


def test_wait_for_task_of_a_start_task_that_failed(db_backup, em_run):
    failed = task_xml(1, "Finished", False, "Cannot start job")
    db_backup.on("POST", START, xml(202, "em_task_running_start_job.xml"))
    db_backup.on("GET", "/api/tasks/task-1", xml(200, failed))
    with expect_error("job_failed", "Enterprise Manager did not start job 'DB Backup': task task-1 finished with "
                                    "'Cannot start job'"):
        em_run(by_id(DB_BACKUP))


def test_wait_for_session_ignores_the_session_seen_before_the_start(em_server, em_run):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list(STOPPED))
    em_server.on("POST", START, xml(202, "em_task_running_start_job.xml"))
    em_server.on("GET", "/api/tasks/task-1", xml(200, "em_task_finished_ok.xml"))
    with expect_error("wait_timeout") as caught:
        em_run(by_id(DB_BACKUP), wait_for="session", wait_timeout=10)
    assert str(caught.error) == (
        "Gave up waiting after 10 s (wait_timeout 10 s): job 'DB Backup': waiting for the backup session to appear. The "
        "job keeps running; to go on waiting, run the task again (a running job is not started twice)")
    assert "session" not in caught.error.details and caught.error.details["task"]["id"] == "task-1"


def test_a_timeout_shows_the_session_and_task_as_last_read(em_server, em_run):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list(), sessions_list(WORKING))
    em_server.on("POST", START, xml(202, "em_task_running_start_job.xml"))
    em_server.on("GET", "/api/tasks/task-1", xml(200, "em_task_finished_ok.xml"))
    em_server.on("GET", SESSION_PATH, xml(200, WORKING))
    with expect_error("wait_timeout", "job 'DB Backup': session %s still Working" % SESSION_NAME) as caught:
        em_run(by_id(DB_BACKUP), wait_for="session", wait_timeout=10)
    assert caught.error.details.get("session", {}).get("state") == "Working"
    assert caught.error.details["task"]["state"] == "Finished"


def test_wait_for_session_when_the_start_task_vanished(em_server, em_run):
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list(), sessions_list(STOPPED))
    em_server.on("POST", START, xml(202, "em_task_running_start_job.xml"))
    em_server.on("GET", "/api/tasks/task-1", em_error(404, "Not found"))
    result = em_run(by_id(DB_BACKUP), wait_for="session")
    assert result["session"]["state"] == "Stopped" and result["msg"].endswith("ended Success after 1.0 s")
    assert em_server.count("GET", "/api/tasks/task-1") == 1  # a lost task is not asked for again


def test_wait_for_session_reads_the_start_task_once_more_at_the_end(em_server, em_run):
    """A session that ended while the start task was still running: the task's final state is read once."""
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list(), sessions_list(STOPPED))
    em_server.on("POST", START, xml(202, "em_task_running_start_job.xml"))
    em_server.on("GET", "/api/tasks/task-1", xml(200, "em_task_operation_finished_sync.xml"),
                 xml(200, "em_task_finished_ok.xml"))
    em_server.on("GET", SESSION_PATH, xml(200, STOPPED))
    result = em_run(by_id(DB_BACKUP), wait_for="session")
    assert result["task"]["state"] == "Finished" and result["session"]["state"] == "Stopped"


def test_waiting_stops_on_other_task_errors(db_backup, em_run, journal):
    db_backup.on("POST", START, xml(202, "em_task_running_start_job.xml"))
    db_backup.on("GET", "/api/tasks/task-1", em_error(500, "Internal error"))
    with expect_error("http") as caught:
        em_run(by_id(DB_BACKUP), wait_for="session")
    assert journal.annotate(caught.error) == (
        "Started job 'DB Backup' (task task-1), then: Enterprise Manager could not return the task task-1: Internal "
        "error (HTTP 500 on GET /api/tasks/{id})", True)


@pytest.mark.parametrize("result,failure,kind", [("Warning", "Low disk space", None), ("Failed", "No space", "job_failed")])
def test_how_a_session_ended_is_judged(em_server, em_run, warnings, result, failure, kind):
    ended = session_xml("Stopped", result, failure=failure, progress=100)
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", DB_SESSIONS, sessions_list(), sessions_list(ended))
    em_server.on("POST", START, xml(202, "em_task_running_start_job.xml"))
    em_server.on("GET", "/api/tasks/task-1", xml(200, "em_task_finished_ok.xml"))
    if kind:
        with expect_error(kind) as caught:
            em_run(by_id(DB_BACKUP), wait_for="session")
        assert str(caught.error) == "Started job 'DB Backup': session %s ended %s after 1.0 s: %s" % (
            SESSION_NAME, result, failure)
        assert caught.error.details["session"]["failure_message"] == failure
        assert caught.error.details["session"]["message"] == failure
    else:
        done = em_run(by_id(DB_BACKUP), wait_for="session")
        assert done["changed"] is True and done["msg"].endswith("ended Warning after 1.0 s: %s" % failure)
        assert warnings == ["Job 'DB Backup' ended with a warning: %s" % failure]
        # the session of a job's run names that job, and has the vocabulary's keys (docs/vocabulary.md)
        session = done["session"]
        assert (session["job_id"], session["job_name"]) == (done["job"]["id"], done["job"]["name"]) == (
            DB_BACKUP, "DB Backup")
        assert (session["state"], session["result"], session["message"]) == ("Stopped", "Warning", failure)
        assert (session["progress_percent"], session["processed_objects"], session["canceled"]) == (100, None, None)
        assert set(session) == V.session_keys("EM") and set(done["job"]) == V.job_keys("EM")


# ------------------------------------------------------------------------------------------------ sessions (client)
def test_sessions_follow_the_jobs_link_newest_first(em_server, make_em):
    older = fixture_bytes(STOPPED).decode().replace("2014-10-19T05:22:52Z", "2014-10-18T05:22:52Z").replace(
        SESSION, "11111111-1111-4111-8111-111111111111")
    em_server.on("GET", "/api/jobs/%s/replicaSessions" % REPLICA, xml(
        200, '<ReplicaJobSessions>%s%s</ReplicaJobSessions>' % (
            re.sub(r' xmlns="[^"]*"', "", older), re.sub(r' xmlns="[^"]*"', "", fixture_bytes(WORKING).decode()))))
    with make_em() as em:
        items = em.sessions(job_of("em_job_entity_replica_vmware.xml"))
    assert [s["id"] for s in items] == [SESSION, "11111111-1111-4111-8111-111111111111"]
    assert em_server.calls[1].query == "format=Entity"


def test_sessions_with_odd_fields_do_not_crash_the_sorting(em_server, make_em):
    odd = fixture_bytes(STOPPED).decode().replace(
        "<CreationTimeUTC>2014-10-19T05:22:52Z</CreationTimeUTC>",
        "<CreationTimeUTC>2014-10-19T05:22:52Z</CreationTimeUTC><CreationTimeUTC>again</CreationTimeUTC>").replace(
        SESSION, "22222222-2222-4222-8222-222222222222")
    em_server.on("GET", DB_SESSIONS, sessions_list(odd, WORKING))
    with make_em() as em:
        assert len(em.sessions(job_of("em_job_entity.xml"))) == 2


def test_a_job_whose_links_are_malformed_has_no_start_link(make_em):
    job = _em._job({"uid": "urn:veeam:Job:%s" % DB_BACKUP, "name": "x", "links": [  # pylint: disable=protected-access
        {"rel": "Start", "href": {"text": "/api/jobs/x?action=start"}}, {"rel": ["Up"], "href": "/a"}, "text", 5]}, "vm")
    assert make_em().start_path(job) == "/api/jobs/%s?action=start" % DB_BACKUP
    assert job["backup_server"] is None


def test_sessions_without_a_link_use_the_documented_route(em_server, make_em):
    em_server.on("GET", "/api/nas/jobs/%s/backupSessions" % NAS, sessions_list(STOPPED))
    with make_em() as em:
        latest = em.latest_session(dict(job_of("em_nas_job_entity.xml", "nas"), _links=[]))
    assert latest["state"] == "Stopped" and latest["result"] == "Success" and latest["progress_percent"] == 100


def test_a_session_without_its_href_is_read_by_id(em_server, make_em):
    em_server.on("GET", SESSION_PATH, xml(200, STOPPED))
    with make_em() as em:
        assert em.get_session({"id": SESSION, "name": "Fileserver Backup"})["state"] == "Stopped"
    assert em_server.calls[1].query == "format=Entity"


def test_run_helpers():
    assert _em.run_state({"state": "Working", "result": "None"}) == "Working"
    assert _em.run_state({"state": "Stopped", "result": "Failed"}) == "Stopped/Failed"
    assert _em.run_state({}) == "unknown"
    assert _em.run_state(None) == "waiting for the backup session to appear"
    assert _em.session_running({"state": "WaitingTape"}) and not _em.session_running({"state": "stopped"})
    assert _em.session_running({"state": "Postprocessing"})
    assert not _em.session_running(None) and not _em.session_running({})
    assert _em.task_done({"state": "Finished"}) and not _em.task_done({"state": "OperationFinished"})
    assert not _em.task_done(None)


def test_public_drops_private_keys():
    job = job_of("em_job_entity.xml")
    assert set(_em.public(job)) == set(job) - {"_kind", "_root", "_links"}
    assert _em.public(None) is None


def test_the_adapter_states_of_a_watch():
    adapter = _em.EmJobs(client=None, wait_for="session")
    task = {"id": "task-1", "state": "Running"}
    assert (adapter.state({"task": task}), adapter.waiting_for({"task": task})) == ("Running", "task task-1 still Running")
    watch = {"job": {}, "before": None, "task": task, "session": None, "refused": False}
    assert adapter.state(watch) == "waiting for the backup session to appear" and not adapter.ended(watch)
    assert adapter.state(dict(watch, refused=True)) == "start refused" and adapter.ended(dict(watch, refused=True))
    working = {"name": "S@1", "state": "Working", "result": "None"}
    stopped = dict(working, state="Stopped", result="Success")
    assert adapter.waiting_for(dict(watch, session=working)) == "session S@1 still Working"
    # a session that stopped is the run's only once the start task has finished (or is gone, or there is none)
    assert not adapter.ended(dict(watch, session=stopped))
    assert adapter.waiting_for(dict(watch, session=stopped)) == "task task-1 still Running (session S@1 is " \
                                                                "Stopped/Success)"
    assert adapter.ended(dict(watch, session=stopped, task=dict(task, state="Finished")))
    assert adapter.ended(dict(watch, session=stopped, task=dict(task, lost=True)))
    assert adapter.ended(dict(watch, session=stopped, task=None))
    assert not adapter.ended(dict(watch, session=working, task=dict(task, state="Finished")))
    assert _em.EmJobs(None, wait_for="session", wait=True).need_before and not _em.EmJobs(None).need_before


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


def test_no_secret_in_the_lifecycles_errors(db_backup, em_run, warnings):
    db_backup.on("POST", START, dropped())
    db_backup.on("GET", "/api/tasks", xml(200, "<Tasks/>"))
    with expect_error("response_lost", warnings=warnings) as caught:
        em_run(by_id(DB_BACKUP))
    assert_no_secrets(caught.error, caught.error.details)
