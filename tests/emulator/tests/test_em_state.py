"""EM behaviour in process (frozen clock, moved with ``Clock.advance``): logon, roles, actions, the task and
backup-session timelines, failure cases, tasks per logon session, errors, JSON options, state keeping."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest

from emulator.core import Clock, Request
from emulator.em import EnterpriseManagerApi

from .conftest import (ADMIN, JOB_AGENT_LINUX, JOB_AGENT_WIN, JOB_COPY, JOB_EXCHANGE, JOB_FILESERVER, JOB_IMMEDIATE,
                       JOB_LONG, JOB_NAS, JOB_NIGHTLY_2, JOB_REPLICA, JOB_REPORTS, JOB_RUNNING, JOB_SQL, JOB_WEEKLY, NS,
                       PORTAL_USER, EmCaller, basic, make_api, xml)


def _task(caller: EmCaller, href_or_id: str) -> dict[str, str | None]:
    task_id = href_or_id.rsplit("/", 1)[-1]
    root = caller.get_xml(f"/api/tasks/{task_id}")
    result = root.find(f"{NS}Result")
    return {"state": root.findtext(f"{NS}State"), "operation": root.findtext(f"{NS}Operation"),
            "success": result.get("Success") if result is not None else None,
            "message": result.findtext(f"{NS}Message") if result is not None else None}


def _action(caller: EmCaller, path: str, query: str = "") -> str:
    resp = caller.call("POST", path, query)
    assert resp.status == 202, resp.body
    root = xml(resp.body)
    assert root.tag == f"{NS}Task" and root.findtext(f"{NS}State") == "Running" and root.find(f"{NS}Result") is None
    return root.findtext(f"{NS}TaskId") or ""


def _latest_session(caller: EmCaller, job_id: str, coll: str = "jobs", kind: str = "backupSessions"):
    root = caller.get_xml(f"/api/{coll}/{job_id}/{kind}", {"format": "Entity"})
    sessions = list(root)
    assert sessions, "no session"
    return max(sessions, key=lambda s: s.findtext(f"{NS}CreationTimeUTC") or "")


# --------------------------------------------------------------------------------------------- logon

def test_logon_versions_and_token() -> None:
    api, _clock = make_api()
    caller = EmCaller(api)
    for version in ("latest", "v1_5", "v1_6", "v1_7", "V1_7"):
        resp = caller.logon(version=version)
        assert resp.status == 201
        token = resp.headers["X-RestSvcSessionId"]
        assert len(base64.b64decode(token)) == 16
        session_id = xml(resp.body).findtext(f"{NS}SessionId")
        assert token != base64.b64encode(str(session_id).encode()).decode()
        assert resp.headers["Set-Cookie"] == f"X-RestSvcSessionId={token}; Path=/api"
    no_version = api.handle(Request("POST", "/api/sessionMngr", "", {"Authorization": basic(*ADMIN)}))
    assert no_version.status == 201
    assert api.state_view()["logon_sessions"][-1]["version"] == "v1_7"
    bad = api.handle(Request("POST", "/api/sessionMngr/", "v=v1_8", {"Authorization": basic(*ADMIN)}))
    assert bad.status == 400 and xml(bad.body).tag == f"{NS}Error"


@pytest.mark.parametrize("auth", [None, basic("VEEAM\\ansible-admin", "wrong"), basic("nobody", "x"), "Basic !!!",
                                  "Bearer abc"])
def test_logon_rejected(auth: str | None) -> None:
    api, _clock = make_api()
    headers = {"Authorization": auth} if auth else {}
    resp = api.handle(Request("POST", "/api/sessionMngr/", "v=latest", headers))
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == "Basic Realm=RestSvc"
    err = xml(resp.body)
    assert err.tag == f"{NS}Error" and err.get("StatusCode") == "401" and err.get("Message")
    assert api.counters_view()["logon_failures"] == 1


def test_user_name_is_case_insensitive_password_is_not() -> None:
    api, _clock = make_api()
    assert EmCaller(api).logon(("veeam\\ANSIBLE-ADMIN", ADMIN[1])).status == 201
    assert EmCaller(api).logon((ADMIN[0], ADMIN[1].upper())).status == 401


def test_cookie_wins_over_header(em_api) -> None:
    api, _clock, caller = em_api
    good = caller.token
    other = EmCaller(api)
    other.logon()
    assert caller.call("GET", "/api/jobs", headers={"Cookie": f"X-RestSvcSessionId={other.token}"}).status == 200
    stale = {"Cookie": "X-RestSvcSessionId=c3RhbGUtdG9rZW4tMTIzNA=="}
    assert caller.call("GET", "/api/jobs", headers=stale).status == 401
    assert good and caller.call("GET", "/api/jobs", auth=False, headers={"Cookie": f"a=b; X-RestSvcSessionId={good}"}).status == 200


def test_logon_sessions_and_logoff(em_api) -> None:
    api, _clock, caller = em_api
    root = caller.get_xml("/api/logonSessions")
    assert root.tag == f"{NS}LogonSessions" and len(root) == 1
    sid = root[0].findtext(f"{NS}SessionId")
    assert caller.get_xml(f"/api/logonSessions/{sid}").findtext(f"{NS}UserName") == ADMIN[0]
    assert caller.call("DELETE", f"/api/logonSessions/{uuid.uuid4()}").status == 404
    resp = caller.call("DELETE", f"/api/logonSessions/{sid}")
    assert resp.status == 204 and resp.body == b""
    assert caller.call("GET", "/api/jobs").status == 401
    view = api.counters_view()
    assert view["logons"] == 1 and view["logoffs"] == 1 and view["open_sessions"] == 0


def test_idle_timeout_is_wall_clock(em_api) -> None:
    api, clock, caller = em_api
    clock.advance(10_000)  # simulated time does not expire sessions
    assert caller.call("GET", "/api/jobs").status == 200
    api.apply_config({"session_idle_timeout": 0.05})
    time.sleep(0.1)
    resp = caller.call("GET", "/api/jobs")
    assert resp.status == 401 and "expired" in xml(resp.body).get("Message", "")
    assert api.counters_view()["open_sessions"] == 0 and api.counters_view()["sessions_expired"] == 1


def test_expire_auth(em_api) -> None:
    api, _clock, caller = em_api
    api.expire_auth()
    assert caller.call("GET", "/api/tasks").status == 401
    assert caller.logon().status == 201 and caller.call("GET", "/api/tasks").status == 200


# --------------------------------------------------------------------------------------------- roles

def test_portal_user_reads_but_cannot_act() -> None:
    api, _clock = make_api()
    user = EmCaller(api)
    assert user.logon(PORTAL_USER).status == 201
    denied = user.call("GET", "/api/jobs")
    assert denied.status == 403 and xml(denied.body).get("Message") == "Access denied"
    assert user.call("GET", "/api/query", {"type": "Job", "filter": 'Name=="Daily SQL Backup"'}).status == 200
    assert user.call("GET", f"/api/jobs/{JOB_SQL}", "format=Entity").status == 200
    assert user.call("GET", "/api/backupSessions").status == 200
    for method, path, query in [("POST", f"/api/jobs/{JOB_SQL}", "action=start"),
                                ("POST", f"/api/jobs/{JOB_SQL}", "action=toggleScheduleEnabled"),
                                ("POST", f"/api/jobs/{JOB_COPY}", "action=sync"),
                                ("POST", f"/api/nas/jobs/{JOB_NAS}/start", ""),
                                ("POST", f"/api/agents/jobs/{JOB_AGENT_WIN}", "action=start")]:
        resp = user.call(method, path, query)
        assert resp.status == 403 and xml(resp.body).get("Message") == "Access denied", path
    assert api.counters_view()["starts"] == {} and api.counters_view()["tasks_created"] == 0
    api.apply_config({"portal_user_can_list_jobs": True})
    assert user.call("GET", "/api/jobs").status == 200


# --------------------------------------------------------------------------------------------- timelines

def test_start_task_and_session_timeline(em_api) -> None:
    api, clock, caller = em_api
    task_id = _action(caller, f"/api/jobs/{JOB_SQL}", "action=start")
    assert _task(caller, task_id) == {"state": "Running", "operation": "StartJob", "success": None, "message": None}
    sess = _latest_session(caller, JOB_SQL)
    assert sess.findtext(f"{NS}State") == "Starting" and sess.findtext(f"{NS}Result") == "None"
    assert sess.find(f"{NS}EndTimeUTC") is None and sess.findtext(f"{NS}Progress") == "0"
    assert sess.find(f"{NS}FailureMessage") is not None and sess.findtext(f"{NS}FailureMessage") == ""
    assert sess.get("Name") == f"Daily SQL Backup@{sess.findtext(f'{NS}CreationTimeUTC')[:19].replace('T', ' ')}"
    clock.advance(1.0)
    assert _task(caller, task_id) == {"state": "OperationFinished", "operation": "StartJob", "success": "true",
                                      "message": "OperationFinished"}
    sess = _latest_session(caller, JOB_SQL)
    assert sess.findtext(f"{NS}State") == "Working" and sess.findtext(f"{NS}Progress") == "33"
    clock.advance(0.5)
    assert _task(caller, task_id) == {"state": "Finished", "operation": "StartJob", "success": "true",
                                      "message": 'Job "Daily SQL Backup" triggered to start.'}
    clock.advance(1.4)
    assert _latest_session(caller, JOB_SQL).findtext(f"{NS}Progress") == "96"
    clock.advance(0.2)
    sess = _latest_session(caller, JOB_SQL)
    assert (sess.findtext(f"{NS}State"), sess.findtext(f"{NS}Result"), sess.findtext(f"{NS}Progress")) == \
        ("Stopped", "Success", "100")
    assert sess.findtext(f"{NS}EndTimeUTC") and sess.find(f"{NS}FailureMessage") is None
    assert api.counters_view()["starts"] == {JOB_SQL: 1}
    assert api.counters_view()["actions"] == {JOB_SQL: {"start": 1}}


@pytest.mark.parametrize("job_id,result,message", [
    (JOB_EXCHANGE, "Warning", "1 of 3 VMs processed with warnings: changed block tracking is disabled on mbx03."),
    (JOB_FILESERVER, "Failed", "Error: Failed to create VM snapshot: insufficient free space on datastore ds-02."),
])
def test_configured_results(em_api, job_id: str, result: str, message: str) -> None:
    _api, clock, caller = em_api
    _action(caller, f"/api/jobs/{job_id}", "action=start")
    clock.advance(3)
    sess = _latest_session(caller, job_id)
    assert sess.findtext(f"{NS}Result") == result and sess.findtext(f"{NS}FailureMessage") == message


def test_start_while_running_fails_in_the_task(em_api) -> None:
    api, clock, caller = em_api
    _action(caller, f"/api/jobs/{JOB_SQL}", "action=start")
    second = _action(caller, f"/api/jobs/{JOB_SQL}", "action=start")
    clock.advance(1.0)
    assert _task(caller, second) == {"state": "OperationFinished", "operation": "StartJob", "success": "false",
                                     "message": 'Cannot start job "Daily SQL Backup". The job is already running.'}
    clock.advance(0.5)
    assert _task(caller, second)["state"] == "Finished"
    assert api.counters_view()["starts"] == {JOB_SQL: 1}
    assert api.counters_view()["actions"] == {JOB_SQL: {"start": 2}}
    running = caller.get_xml(f"/api/jobs/{JOB_RUNNING}/backupSessions", "format=Entity")
    assert [s.findtext(f"{NS}State") for s in running] == ["Working"]
    task = _action(caller, f"/api/jobs/{JOB_RUNNING}", "action=start")
    clock.advance(2)
    assert _task(caller, task)["success"] == "false"


def test_stop(em_api) -> None:
    _api, clock, caller = em_api
    idle = _action(caller, f"/api/jobs/{JOB_SQL}", "action=stop")
    clock.advance(2)
    assert _task(caller, idle) == {"state": "Finished", "operation": "StopJob", "success": "false",
                                   "message": 'Cannot stop job "Daily SQL Backup". The job is not running.'}
    _action(caller, f"/api/jobs/{JOB_LONG}", "action=start")
    clock.advance(100)
    stop = _action(caller, f"/api/jobs/{JOB_LONG}", "action=stop")
    sess = _latest_session(caller, JOB_LONG)
    assert sess.findtext(f"{NS}State") == "Stopping" and sess.findtext(f"{NS}Result") == "None"
    clock.advance(1.5)
    assert _task(caller, stop)["message"] == 'Job "Long Running Archive" triggered to stop.'
    sess = _latest_session(caller, JOB_LONG)
    assert (sess.findtext(f"{NS}State"), sess.findtext(f"{NS}Result"), sess.findtext(f"{NS}FailureMessage")) == \
        ("Stopped", "Failed", "Job has been stopped by user.")


def test_stop_session(em_api) -> None:
    _api, clock, caller = em_api
    _action(caller, f"/api/jobs/{JOB_LONG}", "action=start")
    sess = _latest_session(caller, JOB_LONG)
    stop_href = [ln.get("Href") for ln in sess.iter(f"{NS}Link") if ln.get("Rel") == "Stop"][0]
    assert stop_href.endswith("?action=stop")
    sid = sess.get("UID").rsplit(":", 1)[1]
    task = _action(caller, f"/api/backupSessions/{sid}", "action=stop")
    clock.advance(2)
    assert _task(caller, task) == {"state": "Finished", "operation": "StopJobSession", "success": "true",
                                   "message": f'Job Session "{sess.get("Name")}" triggered to stop.'}
    assert _latest_session(caller, JOB_LONG).findtext(f"{NS}State") == "Stopped"
    again = _action(caller, f"/api/backupSessions/{sid}", "action=stop")
    clock.advance(2)
    assert _task(caller, again)["success"] == "false"
    assert caller.call("POST", f"/api/backupSessions/{sid}", "action=start").status == 400


def test_retry(em_api) -> None:
    _api, clock, caller = em_api
    not_failed = _action(caller, f"/api/jobs/{JOB_SQL}", "action=retry")
    clock.advance(2)
    assert _task(caller, not_failed)["message"] == 'Cannot retry job "Daily SQL Backup". The last job session did not fail.'
    retry = _action(caller, f"/api/jobs/{JOB_FILESERVER}", "action=retry")
    clock.advance(2)
    assert _task(caller, retry) == {"state": "Finished", "operation": "RetryJob", "success": "true",
                                    "message": 'Job "File Server Backup" triggered to retry.'}
    sess = _latest_session(caller, JOB_FILESERVER)
    assert sess.findtext(f"{NS}IsRetry") == "true" and sess.findtext(f"{NS}Result") == "Success"
    again = _action(caller, f"/api/jobs/{JOB_FILESERVER}", "action=retry")
    clock.advance(2)
    assert _task(caller, again)["success"] == "false"


def test_backup_copy_sync_and_type_checks(em_api) -> None:
    api, clock, caller = em_api
    resp = caller.call("POST", f"/api/jobs/{JOB_COPY}", "action=start")
    assert resp.status == 400 and "sync" in xml(resp.body).get("Message", "")
    assert caller.call("POST", f"/api/jobs/{JOB_IMMEDIATE}", "action=stop").status == 400
    assert caller.call("POST", f"/api/jobs/{JOB_SQL}", "action=sync").status == 400
    assert caller.call("POST", f"/api/jobs/{JOB_SQL}", "action=explode").status == 400
    assert caller.call("POST", f"/api/jobs/{JOB_SQL}").status == 400
    assert caller.call("POST", f"/api/jobs/{JOB_SQL}", "action=clone").status == 501
    task = _action(caller, f"/api/jobs/{JOB_COPY}", "action=sync")
    clock.advance(1.0)
    assert _task(caller, task) == {"state": "OperationFinished", "operation": "StartJobSync", "success": "true",
                                   "message": "OperationFinished"}
    clock.advance(0.5)
    assert _task(caller, task)["message"] == "Ok"
    sess = _latest_session(caller, JOB_COPY)
    assert sess.findtext(f"{NS}JobType") == "BackupCopy"
    assert api.counters_view()["starts"] == {JOB_COPY: 1}


def test_replica_sessions(em_api) -> None:
    _api, clock, caller = em_api
    _action(caller, f"/api/jobs/{JOB_REPLICA}", "action=start")
    clock.advance(5)
    sess = _latest_session(caller, JOB_REPLICA, kind="replicaSessions")
    assert sess.tag == f"{NS}ReplicaJobSession" and sess.get("UID").startswith("urn:veeam:ReplicaJobSession:")
    assert not [ln for ln in sess.iter(f"{NS}Link") if ln.get("Rel") == "Stop"]
    assert len(caller.get_xml(f"/api/jobs/{JOB_REPLICA}/backupSessions")) == 0
    sid = sess.get("UID").rsplit(":", 1)[1]
    assert caller.call("GET", f"/api/replicaSessions/{sid}").status == 200
    assert caller.get_xml(f"/api/jobs/{JOB_SQL}/replicaSessions", "format=Entity").tag == f"{NS}ReplicaJobSessions"
    assert caller.call("GET", f"/api/backupSessions/{sid}").status == 404


def test_nas_and_agent_actions(em_api) -> None:
    api, clock, caller = em_api
    task = _action(caller, f"/api/nas/jobs/{JOB_NAS}/start")
    clock.advance(2)
    assert _task(caller, task) == {"state": "Finished", "operation": "StartNasJob", "success": "true",
                                   "message": 'Job "Shared Files Backup" triggered to start.'}
    stop = _action(caller, f"/api/nas/jobs/{JOB_NAS}/STOP")
    clock.advance(2)
    assert _task(caller, stop)["operation"] == "StopNasJob"
    sess = _latest_session(caller, JOB_NAS, coll="nas/jobs")
    assert sess.findtext(f"{NS}JobType") == "NasBackup" and sess.findtext(f"{NS}Result") == "Failed"
    assert caller.call("POST", f"/api/nas/jobs/{JOB_NAS}", "action=start").status == 405
    task = _action(caller, f"/api/agents/jobs/{JOB_AGENT_LINUX}", "action=start")
    clock.advance(3)
    assert _task(caller, task)["operation"] == "StartJob"
    sess = _latest_session(caller, JOB_AGENT_LINUX, coll="agents/jobs")
    assert sess.findtext(f"{NS}JobType") == "AgentBackup" and sess.findtext(f"{NS}Result") == "Failed"
    retry = _action(caller, f"/api/agents/jobs/{JOB_AGENT_LINUX}", "action=retry")
    clock.advance(2)
    assert _task(caller, retry)["operation"] == "RetryAgentJob" and _task(caller, retry)["success"] == "true"
    assert caller.call("POST", f"/api/agents/jobs/{JOB_AGENT_LINUX}", "action=sync").status == 400
    assert caller.call("GET", f"/api/jobs/{JOB_NAS}").status == 404  # NAS jobs are not under /jobs
    assert caller.call("GET", f"/api/agents/jobs/{JOB_SQL}").status == 404
    names = [r.get("Name") for r in caller.get_xml("/api/nas/backupSessions")]
    assert names and all(n.startswith("Shared Files Backup@") for n in names)
    assert all(r.get("Name").split("@")[0] in ("Linux Agent Backup", "Windows Servers Agent Backup")
               for r in caller.get_xml("/api/agents/backupSessions"))
    assert api.counters_view()["starts"] == {JOB_NAS: 1, JOB_AGENT_LINUX: 1}


def test_toggle_schedule(em_api) -> None:
    _api, clock, caller = em_api
    job = caller.get_xml(f"/api/jobs/{JOB_WEEKLY}", "format=Entity")
    assert job.findtext(f"{NS}ScheduleEnabled") == "false" and job.find(f"{NS}NextRun") is None
    task = _action(caller, f"/api/jobs/{JOB_WEEKLY}", "action=toggleScheduleEnabled")
    job = caller.get_xml(f"/api/jobs/{JOB_WEEKLY}", "format=Entity")
    assert job.findtext(f"{NS}ScheduleEnabled") == "true" and job.findtext(f"{NS}NextRun").endswith("Z")
    clock.advance(2)
    assert _task(caller, task) == {"state": "Finished", "operation": "UpdateJob", "success": "true", "message": "Ok"}
    _action(caller, f"/api/nas/jobs/{JOB_NAS}/toggleScheduleEnabled")
    assert caller.get_xml(f"/api/nas/jobs/{JOB_NAS}", "format=Entity").findtext(f"{NS}ScheduleEnabled") == "false"


def test_task_collect_delay_none_stays_operation_finished() -> None:
    api, clock = make_api()
    api.apply_config({"jobs": {"Daily SQL Backup": {"task_collect_delay": None, "task_duration": 2}}})
    caller = EmCaller(api)
    caller.logon()
    task = _action(caller, f"/api/jobs/{JOB_SQL}", "action=start")
    clock.advance(1.9)
    assert _task(caller, task)["state"] == "Running"
    clock.advance(3600)
    assert _task(caller, task)["state"] == "OperationFinished"


# --------------------------------------------------------------------------------------------- tasks

def test_tasks_belong_to_their_logon_session(em_api) -> None:
    api, _clock, caller = em_api
    task = _action(caller, f"/api/jobs/{JOB_REPORTS}", "action=start")
    other = EmCaller(api)
    other.logon()
    # Real EM: HTTP 500 "There is no backup task with id [task-N] in current rest session" (docs/emulator.md).
    refused = other.call("GET", f"/api/tasks/{task}")
    assert refused.status == 500
    assert f"There is no backup task with id [{task}] in current rest session" in refused.body.decode("utf-8")
    assert len(other.get_xml("/api/tasks")) == 0
    tasks = caller.get_xml("/api/tasks")
    assert tasks.tag == f"{NS}Tasks" and [t.findtext(f"{NS}TaskId") for t in tasks] == ["task-1"]
    assert other.call("DELETE", f"/api/tasks/{task}").status == 500
    assert caller.call("DELETE", f"/api/tasks/{task}").status == 204
    assert caller.call("GET", f"/api/tasks/{task}").status == 500
    assert caller.call("GET", "/api/tasks/task-99").status == 500
    assert caller.call("GET", "/api/tasks/task-x").status == 404
    assert _action(caller, f"/api/jobs/{JOB_NIGHTLY_2}", "action=start") == "task-2"


# --------------------------------------------------------------------------------------------- errors

@pytest.mark.parametrize("method,path,query,status", [
    ("GET", f"/api/jobs/{uuid.uuid4()}", "", 404),
    ("GET", "/api/jobs/not-a-guid", "", 400),
    ("POST", "/api/jobs/12345", "action=start", 400),
    ("GET", "/api/nothing", "", 404),
    ("GET", "/other", "", 404),
    ("DELETE", f"/api/jobs/{JOB_SQL}", "", 405),
    ("PUT", "/api/tasks", "", 405),
    ("GET", f"/api/jobs/{JOB_SQL}", "format=Full", 400),
    ("GET", f"/api/backupSessions/{uuid.uuid4()}", "", 404),
    ("GET", f"/api/backupServers/{uuid.uuid4()}", "", 404),
])
def test_errors(em_api, method: str, path: str, query: str, status: int) -> None:
    _api, _clock, caller = em_api
    resp = caller.call(method, path, query)
    assert resp.status == status
    err = xml(resp.body)
    assert err.tag == f"{NS}Error" and err.get("StatusCode") == str(status) and err.get("Message")
    if status == 405:
        assert resp.headers["Allow"]
    js = caller.call(method, path, query, {"Accept": "application/json"})
    data = json.loads(js.body)
    assert list(data) == ["FirstChanceExceptionMessage", "Message", "StackTrace", "Status", "StatusCode"]
    assert data["StatusCode"] == status


def test_no_token_is_401(em_api) -> None:
    _api, _clock, caller = em_api
    resp = caller.call("GET", "/api/jobs", auth=False)
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Basic Realm=RestSvc"
    assert caller.call("GET", "/api/", auth=False).status == 200


def test_path_case_and_trailing_slash(em_api) -> None:
    _api, _clock, caller = em_api
    assert caller.call("GET", f"/API/Jobs/{JOB_SQL.upper()}/").status == 200
    assert caller.call("GET", "/api/BACKUPSERVERS").status == 200


# --------------------------------------------------------------------------------------------- JSON options

def test_json_bom_and_camel_case(em_api) -> None:
    api, _clock, caller = em_api
    plain = caller.call("GET", f"/api/jobs/{JOB_SQL}", headers={"Accept": "application/json"})
    assert plain.body[:1] == b"{" and plain.headers["Content-Type"].startswith("application/json")
    api.apply_config({"json_bom": True})
    bom = caller.call("GET", f"/api/jobs/{JOB_SQL}", headers={"Accept": "application/json"})
    assert bom.body.startswith(b"\xef\xbb\xbf") and json.loads(bom.body.decode("utf-8-sig"))["Name"] == "Daily SQL Backup"
    assert caller.call("GET", "/api/nothing", headers={"Accept": "application/json"}).body.startswith(b"\xef\xbb\xbf")
    assert caller.call("GET", f"/api/jobs/{JOB_SQL}").body.startswith(b"<?xml")
    api.apply_config({"json_bom": False, "json_case": "camel"})
    data = json.loads(caller.call("GET", f"/api/jobs/{JOB_SQL}", headers={"Accept": "application/json"}).body)
    assert list(data) == ["links", "uid", "name", "href", "type"]


@pytest.mark.parametrize("accept,is_json", [("application/json", True), ("application/xml", False), (None, False),
                                            ("*/*", False), ("application/xml, application/json", False),
                                            ("application/json, application/xml", True),
                                            ("application/json; charset=utf-8", True)])
def test_accept_negotiation(accept: str | None, is_json: bool) -> None:
    headers = {"Accept": accept} if accept else {}
    assert EnterpriseManagerApi.wants_json(Request("GET", "/api/", "", headers)) is is_json


# --------------------------------------------------------------------------------------------- lists, history

def test_history_and_30_day_window(em_api) -> None:
    api, clock, caller = em_api
    refs = caller.get_xml(f"/api/jobs/{JOB_SQL}/backupSessions")
    assert len(refs) == 2
    created = [s.findtext(f"{NS}CreationTimeUTC") for s in caller.get_xml(f"/api/jobs/{JOB_SQL}/backupSessions",
                                                                          "format=Entity")]
    assert created == sorted(created)  # per-job lists: oldest first, like the documented example
    everything = caller.get_xml("/api/backupSessions", "format=Entity")
    stamps = [s.findtext(f"{NS}CreationTimeUTC") for s in everything]
    assert stamps == sorted(stamps, reverse=True)  # /backupSessions: newest first, like the documented example
    clock.advance(29 * 86400 + 3600)
    assert len(caller.get_xml(f"/api/jobs/{JOB_SQL}/backupSessions")) == 0
    assert api.state_view()["jobs"][0]["sessions"] == 2


def test_backup_servers(em_api) -> None:
    _api, _clock, caller = em_api
    refs = caller.get_xml("/api/backupServers")
    assert [r.get("Name") for r in refs] == ["vbr01.lab.local", "vbr02.lab.local"]
    srv = refs[1].get("UID").rsplit(":", 1)[1]
    ent = caller.get_xml(f"/api/backupServers/{srv}", "format=Entity")
    assert ent.tag == f"{NS}BackupServer" and ent.findtext(f"{NS}Port") == "9392"
    assert caller.get_xml(f"/api/backupServers/{srv}").tag == f"{NS}EntityRef"
    jobs = [r.get("Name") for r in caller.get_xml(f"/api/backupServers/{srv}/jobs")]
    assert "Nightly Backup" in jobs and "Daily SQL Backup" not in jobs
    assert caller.get_xml("/api/backupServers", "format=Entity").tag == f"{NS}BackupServers"


# --------------------------------------------------------------------------------------------- state keeping

def test_snapshot_restore_roundtrip(em_api) -> None:
    api, clock, caller = em_api
    _action(caller, f"/api/jobs/{JOB_LONG}", "action=start")
    api.apply_config({"jobs": {JOB_SQL: {"result": "Failed", "duration": 9}}})
    snap = json.loads(json.dumps(api.snapshot()))
    fresh = EnterpriseManagerApi(api.scenario, clock)
    fresh.restore(snap)
    again = EmCaller(fresh)
    again.token = caller.token
    assert again.get_xml("/api/tasks/task-1").findtext(f"{NS}Operation") == "StartJob"
    assert fresh.jobs[JOB_SQL].result == "Failed" and fresh.jobs[JOB_SQL].duration == 9
    assert fresh.counters_view() == api.counters_view()
    assert fresh.state_view() == api.state_view()


def test_reset_restores_the_scenario(em_api) -> None:
    api, _clock, caller = em_api
    _action(caller, f"/api/jobs/{JOB_WEEKLY}", "action=toggleScheduleEnabled")
    api.reset()
    assert api.jobs[JOB_WEEKLY].schedule_enabled is False
    assert caller.call("GET", "/api/jobs").status == 401
    assert api.counters_view()["logons"] == 0


def test_apply_config_validation(em_api) -> None:
    api, _clock, _caller = em_api
    with pytest.raises(ValueError):
        api.apply_config({"no_such_setting": 1})
    with pytest.raises(ValueError):
        api.apply_config({"jobs": {JOB_SQL: {"result": "Great"}}})
    with pytest.raises(ValueError):
        api.apply_config({"jobs": {JOB_SQL: {"name": "x"}}})
    api.apply_config({"request_latency_ms": 50, "logon_latency_ms": 300})
    assert api.latency(Request("GET", "/api/jobs")) == pytest.approx(0.05)
    assert api.latency(Request("POST", "/api/sessionMngr/", "v=latest")) == pytest.approx(0.35)


@pytest.mark.parametrize("method,path,query,key", [
    ("GET", f"/api/jobs/{JOB_SQL}", "format=Entity", "GET /api/jobs/{id}"),
    ("POST", f"/api/jobs/{JOB_SQL}", "action=START", "POST /api/jobs/{id}?action=start"),
    ("POST", f"/api/nas/jobs/{JOB_NAS}/togglescheduleenabled", "", "POST /api/nas/jobs/{id}/toggleScheduleEnabled"),
    ("POST", f"/api/agents/jobs/{JOB_AGENT_WIN}", "action=retry", "POST /api/agents/jobs/{id}?action=retry"),
    ("GET", "/api/tasks/task-12", "", "GET /api/tasks/{id}"),
    ("POST", "/api/sessionMngr", "v=latest", "POST /api/sessionMngr/"),
    ("DELETE", f"/api/logonSessions/{JOB_SQL}", "", "DELETE /api/logonSessions/{id}"),
    ("GET", "/api/query", "type=job&filter=x", "GET /api/query?type=Job"),
    ("GET", "/api/unknown/thing", "", "GET (unknown)"),
])
def test_route_keys(method: str, path: str, query: str, key: str) -> None:
    api, _clock = make_api()
    assert api.route_key(Request(method, path, query)) == key


def test_scenario_validation() -> None:
    with pytest.raises(ValueError, match="unknown job type"):
        make_api({"jobs": [{"id": str(uuid.uuid4()), "name": "x", "type": "Tape", "backup_server": "vbr01.lab.local"}]})
    with pytest.raises(ValueError, match="unknown backup_server"):
        make_api({"jobs": [{"id": str(uuid.uuid4()), "name": "x", "backup_server": "nope"}]})
    with pytest.raises(ValueError, match="unknown role"):
        make_api({"users": [{"username": "a", "password": "b", "role": "Boss"}]})


# --------------------------------------------------------------------------------------------- finish times

#: Slack between time.monotonic() (which drives the clock) and time.time() (which wall_time answers in).
EPS = 0.01


def _between(low: float, value: float | None, high: float) -> bool:
    """``value`` lies within the wall-clock readings taken just before and just after the event it dates: a fixed
    tolerance around one reading would fail whenever a loaded machine pauses the test between two statements."""
    return value is not None and low - EPS <= value <= high + EPS


def test_clock_wall_time_at_speed_and_after_jumps() -> None:
    clock = Clock(10.0, start=1000.0)
    time.sleep(0.05)
    before = time.time()
    now_sim = clock.now()
    after = time.time()
    assert clock.wall_time(now_sim + 5) is None
    # ten simulated seconds at speed 10 are one wall-clock second
    assert _between(before - 1.0, clock.wall_time(now_sim - 10), after - 1.0)
    made_before = time.time()
    frozen = Clock(0.0, start=1000.0)
    made_after = time.time()
    assert _between(made_before, frozen.wall_time(1000.0), made_after)
    assert frozen.wall_time(1001.0) is None
    time.sleep(0.05)
    before = time.time()
    frozen.advance(60)
    after = time.time()
    assert _between(before, frozen.wall_time(1030.0), after)  # skipped by the jump: reached at the jump
    assert _between(made_before, frozen.wall_time(1000.0), made_after)
    assert clock.wall_time(None) is None


def test_state_view_says_when_tasks_and_sessions_finished(em_api) -> None:
    api, clock, caller = em_api
    task_id = _action(caller, f"/api/jobs/{JOB_SQL}", "action=start")
    view = api.state_view()
    task = next(t for t in view["tasks"] if t["task_id"] == task_id)
    job = next(j for j in view["jobs"] if j["id"] == JOB_SQL)
    assert task["finished_at"] is None and job["running_session"]["ended_at"] is None
    before = time.time()
    clock.advance(1.5)
    after = time.time()
    task = next(t for t in api.state_view()["tasks"] if t["task_id"] == task_id)
    assert _between(before, task["finished_at"], after), (before, task["finished_at"], after)
    before = time.time()
    clock.advance(2.0)
    after = time.time()
    job = next(j for j in api.state_view()["jobs"] if j["id"] == JOB_SQL)
    assert job["last_session"]["state"] == "Stopped"
    assert _between(before, job["last_session"]["ended_at"], after), (before, job["last_session"]["ended_at"], after)
