"""The documented EM flow against a real emulator process over TLS (``requests`` verifying with ``ca.pem``):
logon -> find the job by name with the query service -> start -> poll the task -> read the backup session ->
logoff; plus the control endpoint, the request log and latency."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import requests

from .conftest import (JOB_GOLD, JOB_NIGHTLY_2, JOB_SQL, NS, PORTAL_USER, EmHttp, EmulatorProcess)


def _poll_task(client: EmHttp, href: str, timeout: float = 10) -> ET.Element:
    deadline = time.monotonic() + timeout
    states = []
    while time.monotonic() < deadline:
        resp = client.get(href)
        assert resp.status_code == 200
        task = ET.fromstring(resp.content)
        states.append(task.findtext(f"{NS}State"))
        if states[-1] == "Finished":
            return task
        time.sleep(0.05)
    raise AssertionError(f"task not finished: {states}")


def test_documented_flow_xml(live: EmulatorProcess) -> None:
    live.control("POST", "clock", {"speed": 10})
    client = EmHttp(live)
    entry = client.get(live.em_url + "/")
    assert entry.status_code == 200 and ET.fromstring(entry.content).tag == f"{NS}EnterpriseManager"
    logon = client.logon()
    assert logon.status_code == 201
    assert logon.headers["Set-Cookie"].startswith("X-RestSvcSessionId=")
    session_id = ET.fromstring(logon.content).findtext(f"{NS}SessionId")
    # find the job by name: the name has a double quote, a semicolon and a comma
    name = 'Backup "Gold"; tier,1'
    query = client.get("/query", params={"type": "Job", "filter": 'Name=="{}"'.format(name.replace('"', '""')),
                                         "format": "Entities"})
    assert query.status_code == 200
    jobs = ET.fromstring(query.content).findall(f"{NS}Entities/{NS}Jobs/{NS}Job")
    assert [j.get("UID") for j in jobs] == [f"urn:veeam:Job:{JOB_GOLD}"]
    start_href = [ln.get("Href") for ln in jobs[0].iter(f"{NS}Link") if ln.get("Rel") == "Start"][0]
    started = client.post(start_href)
    assert started.status_code == 202
    task = ET.fromstring(started.content)
    assert task.findtext(f"{NS}State") == "Running"
    done = _poll_task(client, task.get("Href"))
    assert done.find(f"{NS}Result").get("Success") == "true"
    assert done.findtext(f"{NS}Result/{NS}Message") == f'Job "{name}" triggered to start.'
    assert client.delete(task.get("Href")).status_code == 204
    sessions = client.get("/query", params={"type": "BackupJobSession", "format": "Entities", "sortDesc": "CreationTime",
                                            "filter": f'JobUid=="urn:veeam:Job:{JOB_GOLD}"', "pageSize": "1"})
    sess = ET.fromstring(sessions.content).find(f"{NS}Entities/{NS}BackupJobSessions/{NS}BackupJobSession")
    assert sess is not None and sess.findtext(f"{NS}JobName") == name
    deadline = time.monotonic() + 10
    while sess.findtext(f"{NS}State") != "Stopped" and time.monotonic() < deadline:
        time.sleep(0.05)
        sess = ET.fromstring(client.get(sess.get("Href")).content)
    assert (sess.findtext(f"{NS}State"), sess.findtext(f"{NS}Result")) == ("Stopped", "Success")
    assert client.delete(f"/logonSessions/{session_id}").status_code == 204
    assert client.get("/jobs").status_code == 401
    counters = live.control("GET", "counters")
    assert counters["em"]["starts"] == {JOB_GOLD: 1}
    assert counters["em"]["logons"] == 1 and counters["em"]["logoffs"] == 1 and counters["em"]["open_sessions"] == 0
    assert counters["requests"]["em"]["POST /api/jobs/{id}?action=start"] == 1
    assert counters["requests"]["em"]["GET /api/tasks/{id}"] >= 1


def test_json_flow_and_same_name_jobs(live: EmulatorProcess) -> None:
    live.control("POST", "clock", {"speed": 20})
    client = EmHttp(live, json_mode=True)
    assert client.logon().status_code == 201
    found = client.get("/query", params={"type": "Job", "filter": 'Name=="Nightly Backup"'}).json()
    refs = found["Refs"]["Refs"]
    assert len(refs) == 2
    servers = {[ln["Name"] for ln in r["Links"] if ln["Rel"] == "Up"][0]: r for r in refs}
    target = servers["vbr02.lab.local"]
    assert target["UID"] == f"urn:veeam:Job:{JOB_NIGHTLY_2}"
    entity = client.get([ln["Href"] for ln in target["Links"] if ln["Rel"] == "Alternate"][0]).json()
    start = [ln["Href"] for ln in entity["Links"] if ln["Rel"] == "Start"][0]
    task = client.post(start).json()
    deadline = time.monotonic() + 10
    while task["State"] != "Finished" and time.monotonic() < deadline:
        time.sleep(0.05)
        task = client.get(task["Href"]).json()
    assert task["Result"]["Success"] is True
    down = [ln["Href"] for ln in entity["Links"] if ln["Rel"] == "Down" and ln["Type"] == "BackupJobSessionReferenceList"][0]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        last = client.get(down, params={"format": "Entity"}).json()["BackupJobSessions"][-1]
        if last["State"] == "Stopped":
            break
        time.sleep(0.05)
    assert last["Result"] == "Warning" and last["FailureMessage"] == "Job finished with warnings: 1 VM was skipped."


def test_portal_user_forbidden_over_http(live: EmulatorProcess) -> None:
    client = EmHttp(live)
    assert client.logon(PORTAL_USER).status_code == 201
    resp = client.post(f"/jobs/{JOB_SQL}", params={"action": "start"})
    assert resp.status_code == 403
    assert ET.fromstring(resp.content).get("Message") == "Access denied"
    assert live.control("GET", "counters")["em"]["starts"] == {}


def test_cookie_from_logon_is_used_and_wins(live: EmulatorProcess) -> None:
    http = live.session()
    first = http.post(f"{live.em_url}/sessionMngr/?v=v1_7", auth=("VEEAM\\ansible-admin", "Em#Adm1n-Ans1ble-2026!x"))
    assert first.status_code == 201
    assert http.get(f"{live.em_url}/jobs").status_code == 200  # the cookie jar alone authenticates
    http.delete(f"{live.em_url}/logonSessions/{ET.fromstring(first.content).findtext(f'{NS}SessionId')}")
    second = requests.post(f"{live.em_url}/sessionMngr/?v=v1_7", auth=("VEEAM\\ansible-admin", "Em#Adm1n-Ans1ble-2026!x"),
                           verify=live.verify, timeout=10)
    fresh = second.headers["X-RestSvcSessionId"]
    # the session still holds the logged-off cookie: it wins over the fresh header (EMDOC http_authentication)
    assert http.get(f"{live.em_url}/jobs", headers={"X-RestSvcSessionId": fresh}).status_code == 401
    http.cookies.clear()
    assert http.get(f"{live.em_url}/jobs", headers={"X-RestSvcSessionId": fresh}).status_code == 200


def test_control_endpoint_and_log(live: EmulatorProcess) -> None:
    http = live.session()
    assert http.get(f"{live.control_url}/health").json()["ok"] is True
    m365_port = live.endpoints.get("m365_port")
    if m365_port:
        assert http.get(f"{live.scheme}://127.0.0.1:{m365_port}/_emulator/health").json()["ok"] is True
    client = EmHttp(live)
    client.logon()
    client.get("/jobs", headers={"User-Agent": "flow-test/1.0"})
    log = live.control("GET", "log")
    assert [e["path"] for e in log] == ["/api/sessionMngr/", "/api/jobs"]
    logon_entry, jobs_entry = log
    assert logon_entry["status"] == 201 and logon_entry["query"] == "v=latest" and logon_entry["api"] == "em"
    assert "Authorization" in logon_entry["headers"] and logon_entry["headers"]["Authorization"] is None
    assert jobs_entry["headers"]["User-Agent"] == "flow-test/1.0"
    assert jobs_entry["headers"]["X-RestSvcSessionId"] is None
    assert client.token not in str(log)
    state = live.control("GET", "state")
    assert {j["name"] for j in state["em"]["jobs"]} >= {"Reports==Daily", "Nightly Backup"}
    assert [j for j in state["em"]["jobs"] if j["name"] == "Continuous Log Shipping"][0]["running"] is True
    assert http.get(f"{live.control_url}/nothing").status_code == 404
    assert http.post(f"{live.control_url}/health").status_code == 405
    assert http.post(f"{live.control_url}/config", json={"em": {"bogus": 1}}).status_code == 400
    assert http.post(f"{live.control_url}/clock", json={"advance": -5}).status_code == 400


def test_clock_and_job_overrides(live: EmulatorProcess) -> None:
    before = live.control("GET", "clock")
    after = live.control("POST", "clock", {"advance": 3600})
    assert after["now"] >= before["now"] + 3600
    live.control("POST", "config", {"jobs": {"Daily SQL Backup": {"duration": 1, "result": "Failed",
                                                                  "failure_message": "Disk full"}}})
    live.control("POST", "clock", {"speed": 50})
    client = EmHttp(live)
    client.logon()
    client.post(f"/jobs/{JOB_SQL}", params={"action": "start"})
    time.sleep(0.2)
    sessions = ET.fromstring(client.get(f"/jobs/{JOB_SQL}/backupSessions", params={"format": "Entity"}).content)
    last = list(sessions)[-1]
    assert (last.findtext(f"{NS}Result"), last.findtext(f"{NS}FailureMessage")) == ("Failed", "Disk full")


def test_latency_settings(live: EmulatorProcess) -> None:
    live.control("POST", "config", {"em": {"request_latency_ms": 50, "logon_latency_ms": 300}})
    client = EmHttp(live)
    started = time.monotonic()
    client.logon()
    logon_s = time.monotonic() - started
    started = time.monotonic()
    client.get("/tasks")
    get_s = time.monotonic() - started
    # Lower bounds only: the latency is added to every answer, and a loaded machine adds its own on top (the exact
    # values per route are checked without a clock in test_em_state.py and test_m365_control.py).
    assert logon_s >= 0.35 and get_s >= 0.05
    live.control("POST", "config", {"latency": {"request_ms": 100}})
    started = time.monotonic()
    client.get("/tasks")
    assert time.monotonic() - started >= 0.15
