"""VB365 emulator: job actions and the job-session / restore-session state machines on the simulated clock."""

from __future__ import annotations

import pytest

from emulator import m365_testkit as kit
from emulator.m365_state import parse_time


@pytest.fixture(name="env")
def fixture_env():
    api, clock = kit.make_api()
    caller = kit.Caller(api)
    caller.login(8)
    return api, clock, caller


def _start(caller, job_id, full=False):
    reply = caller.call("POST", "/v8/Jobs/%s/start" % job_id, body={"full": full})
    assert reply.status == 200, reply.raw
    return reply.json


def _session(caller, session_id):
    return caller.call("GET", "/v8/JobSessions/" + session_id).json


def test_default_jobs() -> None:
    api, _clock = kit.make_api()
    jobs = api.state.jobs_in_order()
    assert len(jobs) == 9
    names = [job.name for job in jobs]
    assert names.count("Exchange Daily") == 2
    assert {job.organization_id for job in jobs if job.name == "Exchange Daily"} == {kit.ORG_CONTOSO, kit.ORG_FABRIKAM}
    assert any('"' in n for n in names) and any(any(ord(c) > 127 for c in n) for n in names)
    assert {job.result for job in jobs} == {"Success", "Warning", "Failed"}
    assert [job.id for job in jobs if not job.enabled] == [kit.JOB_TEAMS_DISABLED]
    assert api.state.jobs[kit.JOB_LONG].duration == 600
    assert all(2 <= job.duration <= 4 for job in jobs if job.id != kit.JOB_LONG)


def test_session_life_cycle_queued_running_success(env) -> None:
    _api, clock, caller = env
    session = _start(caller, kit.JOB_EXCHANGE_CONTOSO, full=True)
    assert session["status"] == "Queued" and session["progress"] == 0 and session["endTime"] is None
    assert session["jobId"] == kit.JOB_EXCHANGE_CONTOSO and session["jobSessionConfigType"] == "Full"
    assert session["statistics"]["bottleneck"] == "NA" and session["eTag"] == 1
    job = caller.call("GET", "/v8/Jobs/" + kit.JOB_EXCHANGE_CONTOSO).json
    assert job["lastStatus"] == "Queued" and job["lastRun"] == session["creationTime"]
    clock.advance(0.5 + 1.5)  # queue_time 0.5 s, then half of the 3 s run
    running = _session(caller, session["id"])
    assert running["status"] == "Running" and running["progress"] == 12 and running["endTime"] is None  # 24 objects
    assert running["statistics"]["processedObjects"] == 12 * 57 and running["eTag"] == 2
    assert caller.call("GET", "/v8/Jobs/" + kit.JOB_EXCHANGE_CONTOSO).json["lastStatus"] == "Running"
    clock.advance(1.5)
    done = _session(caller, session["id"])
    assert done["status"] == "Success" and done["progress"] == 24 and done["eTag"] == 3
    assert parse_time(done["endTime"]) - parse_time(done["creationTime"]) == pytest.approx(3.5, abs=1e-3)
    assert done["details"].startswith("Transferred: ")
    job = caller.call("GET", "/v8/Jobs/" + kit.JOB_EXCHANGE_CONTOSO).json
    assert job["lastStatus"] == "Success" and job["lastBackup"] == done["endTime"]


@pytest.mark.parametrize("job_id,result,details", [
    (kit.JOB_ONEDRIVE_WARNING, "Warning", "Processing finished with warnings: 3 items were skipped."),
    (kit.JOB_SHAREPOINT_FAILED, "Failed", "Failed to process 2 of 6 sites: Access is denied."),
])
def test_warning_and_failed_results(env, job_id, result, details) -> None:
    _api, clock, caller = env
    session = _start(caller, job_id)
    clock.advance(60)
    done = _session(caller, session["id"])
    assert done["status"] == result and done["details"] == details
    job = caller.call("GET", "/v8/Jobs/" + job_id).json
    assert job["lastStatus"] == result
    if result == "Failed":  # a failed run leaves no new restore point
        assert parse_time(job["lastBackup"]) < parse_time(done["creationTime"])
        assert done["progress"] < 6


def test_stop_running_job(env) -> None:
    api, clock, caller = env
    session = _start(caller, kit.JOB_LONG)
    clock.advance(60.5)
    assert caller.call("POST", "/v8/Jobs/%s/stop" % kit.JOB_LONG).status == 204
    stopped = _session(caller, session["id"])
    assert stopped["status"] == "Stopped" and stopped["progress"] == 20  # 60 of 600 s, 200 objects
    assert stopped["details"] == "Job session was stopped by %s." % kit.USERNAME
    clock.advance(1000)
    assert _session(caller, session["id"])["status"] == "Stopped"
    assert caller.call("GET", "/v8/Jobs/" + kit.JOB_LONG).json["lastStatus"] == "Stopped"
    assert api.counters_view()["actions"][kit.JOB_LONG] == {"start": 1, "stop": 1}


def test_stop_delay(env) -> None:
    api, clock, caller = env
    api.apply_config({"jobs": {"Long Archive Job": {"stop_delay": 5}}})
    session = _start(caller, kit.JOB_LONG)
    clock.advance(10)
    assert caller.call("POST", "/v8/Jobs/%s/stop" % kit.JOB_LONG).status == 204
    assert _session(caller, session["id"])["status"] == "Running"
    assert caller.call("POST", "/v8/Jobs/%s/stop" % kit.JOB_LONG).status == 204  # still stopping: accepted again
    assert caller.call("POST", "/v8/Jobs/%s/start" % kit.JOB_LONG, body={}).status == 400
    clock.advance(5)
    assert _session(caller, session["id"])["status"] == "Stopped"


def test_conflicts(env) -> None:
    api, _clock, caller = env
    stop = caller.call("POST", "/v8/Jobs/%s/stop" % kit.JOB_MUELLER)
    assert stop.status == 400 and stop.json["errorCode"] == "OperationConflict"
    assert stop.json["message"] == "Job 'Müller's Mailboxes' is not running."
    _start(caller, kit.JOB_MUELLER)
    again = caller.call("POST", "/v8/Jobs/%s/start" % kit.JOB_MUELLER, body={})
    assert again.status == 400 and again.json["errorCode"] == "OperationConflict"
    v7 = caller.call("POST", "/v7/Jobs/%s/start" % kit.JOB_MUELLER, body={})
    assert v7.status == 400 and v7.json["errorCode"] is None  # v7's errorCode enum has ProxyOffline only
    assert api.counters_view()["starts"] == {kit.JOB_MUELLER: 1}


def test_start_body_rules(env) -> None:
    api, _clock, caller = env
    job = "/v8/Jobs/%s/start" % kit.JOB_MUELLER
    missing = caller.call("POST", job)
    assert missing.status == 400 and missing.json["errorCode"] == "ParameterValidationFailure"
    assert caller.call("POST", job, body=b"{", headers={"Content-Type": "application/json"}).status == 400
    assert caller.call("POST", job, body=b'{"full": false}', headers={"Content-Type": "text/plain"}).status == 415
    assert caller.call("POST", job, body={"full": "maybe"}).status == 400
    assert caller.call("POST", job, body=[1]).status == 400
    assert caller.call("POST", "/v6/Jobs/%s/start" % kit.JOB_MUELLER).status == 400  # v6/v7 specs: body required too
    api.apply_config({"m365": {"start_body_required": ["v8"]}})
    assert caller.call("POST", "/v6/Jobs/%s/start" % kit.JOB_MUELLER).status == 204
    assert api.counters_view()["starts"] == {kit.JOB_MUELLER: 1}


def test_unknown_and_malformed_job_ids(env) -> None:
    _api, _clock, caller = env
    reply = caller.call("POST", "/v8/Jobs/%s/start" % kit.ORG_CONTOSO, body={})
    assert reply.status == 404 and reply.json["errorCode"] == "ResourceNotFound"
    assert caller.call("GET", "/v6/Jobs/" + kit.ORG_CONTOSO).json == {"message": "Job with ID '%s' was not found." % kit.ORG_CONTOSO}
    assert caller.call("GET", "/v8/Jobs/Exchange%20Daily").status == 400
    assert caller.call("POST", "/v8/Jobs/%s/resume" % kit.JOB_LONG).status == 404


def test_enable_disable_and_start_disabled(env) -> None:
    api, clock, caller = env
    job = caller.call("GET", "/v8/Jobs/" + kit.JOB_TEAMS_DISABLED).json
    assert job["isEnabled"] is False and job["nextRun"] is None
    session = _start(caller, kit.JOB_TEAMS_DISABLED)  # disabled jobs can still be started manually
    clock.advance(10)
    assert _session(caller, session["id"])["status"] == "Success"
    assert caller.call("POST", "/v8/Jobs/%s/enable" % kit.JOB_TEAMS_DISABLED).status == 204
    job = caller.call("GET", "/v8/Jobs/" + kit.JOB_TEAMS_DISABLED).json
    assert job["isEnabled"] is True and job["eTag"] == 2 and job["nextRun"] is not None
    assert caller.call("POST", "/v8/Jobs/%s/enable" % kit.JOB_TEAMS_DISABLED).status == 204  # idempotent
    assert caller.call("GET", "/v8/Jobs/" + kit.JOB_TEAMS_DISABLED).json["eTag"] == 2
    assert caller.call("POST", "/v8/Jobs/%s/disable" % kit.JOB_TEAMS_DISABLED).status == 204
    assert api.counters_view()["actions"][kit.JOB_TEAMS_DISABLED] == {"start": 1, "enable": 2, "disable": 1}


def test_never_run_job(env) -> None:
    _api, _clock, caller = env
    job = caller.call("GET", "/v8/Jobs/" + kit.JOB_NEVER_RUN).json
    assert job["lastStatus"] is None and job["lastRun"] is None and job["lastBackup"] is None and job["nextRun"] is None
    assert caller.call("GET", "/v8/JobSessions", query={"jobId": kit.JOB_NEVER_RUN}).json["results"] == []


def test_v8_jobs_paging_and_filters(env) -> None:
    _api, _clock, caller = env
    seen = []
    path, query = "/v8/Jobs", {"limit": 5}
    while True:
        reply = caller.call("GET", path, query=query).json
        assert reply["limit"] == 5 and len(reply["results"]) <= 5
        seen += [job["id"] for job in reply["results"]]
        if "next" not in reply["_links"]:
            break
        path, _sep, raw = reply["_links"]["next"]["href"].partition("?")
        query = raw
    assert len(seen) == 9 == len(set(seen))
    fabrikam = caller.call("GET", "/v8/Jobs", query={"organizationId": kit.ORG_FABRIKAM}).json["results"]
    assert {job["organizationId"] for job in fabrikam} == {kit.ORG_FABRIKAM} and len(fabrikam) == 4
    repo = caller.call("GET", "/v8/Jobs", query={"repositoryId": "7c1e7a7e-0000-4000-8000-00000000c001"}).json["results"]
    assert len(repo) == 5
    assert caller.call("GET", "/v8/Jobs", query={"limit": 10000}).status == 200
    assert caller.call("GET", "/v8/Jobs", query={"limit": 10001}).status == 400
    assert caller.call("GET", "/v8/Jobs", query={"offset": -1}).status == 400
    assert caller.call("GET", "/v8/Jobs", query={"offset": 100}).json["results"] == []


def test_job_session_filters_v7_v8(env) -> None:
    _api, clock, caller = env
    first = _start(caller, kit.JOB_FABRIKAM_WARNING)
    clock.advance(30)
    second = _start(caller, kit.JOB_FABRIKAM_WARNING)
    by_job = caller.call("GET", "/v8/JobSessions", query={"jobId": kit.JOB_FABRIKAM_WARNING}).json["results"]
    assert [s["id"] for s in by_job][:2] == [second["id"], first["id"]]  # newest first
    assert len(by_job) == 3  # plus one preloaded session
    running = caller.call("GET", "/v8/JobSessions", query={"status": "Running", "jobId": kit.JOB_FABRIKAM_WARNING}).json
    assert running["results"] == []  # the second session is still Queued
    warning = caller.call("GET", "/v8/JobSessions", query={"status": "warning"}).json["results"]
    assert first["id"] in [s["id"] for s in warning]
    bound = caller.call("GET", "/v7/JobSessions", query={"jobId": kit.JOB_FABRIKAM_WARNING,
                                                         "endTimeLowerBound": first["creationTime"]}).json
    assert [s["id"] for s in bound["results"]] == [second["id"], first["id"]]
    assert "totalCount" not in bound
    # v6 has no jobId filter: the parameter is ignored like any unknown one.
    everything = caller.call("GET", "/v6/JobSessions", query={"jobId": kit.JOB_FABRIKAM_WARNING, "limit": 1000}).json
    assert len(everything["results"]) > 3


def test_explore_and_restore_sessions(env) -> None:
    api, clock, caller = env
    reply = caller.call("POST", "/v8/Jobs/%s/explore" % kit.JOB_EXCHANGE_CONTOSO,
                        body={"dateTime": "2019-04-12T10:54:40.2794046Z", "type": "vex", "showDeleted": True})
    assert reply.status == 201
    rs = reply.json
    assert rs["type"] == "Vex" and rs["state"] == "Working" and rs["result"] == "Success" and rs["endTime"] is None
    assert rs["organization"] == "contoso.onmicrosoft.com" and rs["initiatedBy"] == kit.USERNAME
    assert rs["scopeName"] == "Exchange Daily" and rs["eTag"] == 1
    assert api.counters_view()["restore_sessions_open"] == 1
    clock.advance(5)
    caller.call("POST", "/v8/Jobs/%s/explore" % kit.JOB_SHAREPOINT_FAILED, body={"type": "Vesp"})  # an older Success exists
    listing = caller.call("GET", "/v8/RestoreSessions").json["results"]
    assert [r["type"] for r in listing] == ["Vesp", "Vex"]  # newest first by default
    ascending = caller.call("GET", "/v8/RestoreSessions", query={"orderAsc": "true"}).json["results"]
    assert [r["type"] for r in ascending] == ["Vex", "Vesp"]
    assert caller.call("POST", "/v8/RestoreSessions/%s/Stop" % rs["id"]).status == 204
    stopped = caller.call("GET", "/v8/RestoreSessions/" + rs["id"]).json
    assert stopped["state"] == "Stopped" and stopped["endTime"] is not None and stopped["eTag"] == 2
    again = caller.call("POST", "/v8/RestoreSessions/%s/Stop" % rs["id"])
    assert again.status == 400 and again.json["errorCode"] == "OperationConflict"
    assert api.counters_view()["restore_sessions_open"] == 1
    assert caller.call("POST", "/v8/Jobs/%s/explore" % kit.JOB_MUELLER, body={"dateTime": "yesterday"}).status == 400
    assert caller.call("POST", "/v8/Jobs/%s/explore" % kit.JOB_MUELLER, body={"showDeleted": "perhaps"}).status == 400


def test_config_overrides_apply_to_new_sessions_and_both_same_named_jobs(env) -> None:
    api, clock, caller = env
    api.apply_config({"jobs": {"Exchange Daily": {"duration": 20, "result": "failed"}, "not-a-vb365-job": {"duration": 1}}})
    assert api.state.jobs[kit.JOB_EXCHANGE_CONTOSO].duration == 20
    assert api.state.jobs[kit.JOB_EXCHANGE_FABRIKAM].result == "Failed"
    session = _start(caller, kit.JOB_EXCHANGE_FABRIKAM)
    clock.advance(15)
    assert _session(caller, session["id"])["status"] == "Running"
    clock.advance(10)
    assert _session(caller, session["id"])["status"] == "Failed"
    api.apply_config({"m365": {"jobs": {kit.JOB_EXCHANGE_FABRIKAM: {"result": "Success", "queue_time": 0}}}})
    later = _start(caller, kit.JOB_EXCHANGE_FABRIKAM)
    assert later["status"] == "Running"
    with pytest.raises(ValueError):
        api.apply_config({"jobs": {kit.JOB_LONG: {"result": "Great"}}})
    with pytest.raises(ValueError):
        api.apply_config({"m365": {"no_such_setting": 1}})


def test_start_delay_hides_the_new_session_for_a_moment(env) -> None:
    """After a v6/v7 204 start the new session may not be listed yet: a client must not read the old status."""
    api, clock, caller = env
    api.apply_config({"jobs": {kit.JOB_MUELLER: {"start_delay": 2}}})
    before = caller.call("GET", "/v7/JobSessions", query={"jobId": kit.JOB_MUELLER}).json["results"]
    assert caller.call("POST", "/v7/Jobs/%s/start" % kit.JOB_MUELLER, body={}).status == 204
    job = caller.call("GET", "/v7/Jobs/" + kit.JOB_MUELLER).json
    assert job["lastStatus"] == "Success"  # still the previous run's
    assert caller.call("GET", "/v7/JobSessions", query={"jobId": kit.JOB_MUELLER}).json["results"] == before
    assert caller.call("POST", "/v7/Jobs/%s/start" % kit.JOB_MUELLER, body={}).status == 400  # but it is running
    clock.advance(2)
    after = caller.call("GET", "/v7/JobSessions", query={"jobId": kit.JOB_MUELLER}).json["results"]
    assert len(after) == len(before) + 1 and after[0]["status"] == "Running"
    assert caller.call("GET", "/v7/Jobs/" + kit.JOB_MUELLER).json["lastStatus"] == "Running"
