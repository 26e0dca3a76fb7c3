"""VBR emulator: job actions, the session life cycle on the simulated clock, lists (paging, filters, order),
run-time configuration, counters, the state view and state keeping."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator import vbr_testkit as kit
from emulator.core import Clock
from emulator.vbr import VbrApi

JOBS = "/api/v1/jobs"
SESSIONS = "/api/v1/sessions"


@pytest.fixture(name="caller")
def fixture_caller() -> kit.Caller:
    api, _clock = kit.make_api()
    caller = kit.Caller(api)
    assert caller.login().status == 200
    return caller


def _start(caller: kit.Caller, job_id: str, **kwargs: Any) -> dict[str, Any]:
    reply = caller.call("POST", "%s/%s/start" % (JOBS, job_id), **kwargs)
    assert reply.status == 201, reply.raw
    return reply.json


def _session(caller: kit.Caller, session_id: str) -> dict[str, Any]:
    return caller.call("GET", "%s/%s" % (SESSIONS, session_id)).json


# ----------------------------------------------------------------------------------------------- life cycle
def test_session_life_cycle(caller: kit.Caller) -> None:
    started = _start(caller, kit.JOB_SQL, body={"performActiveFull": True})  # 4 s: Starting for 0.4 s
    assert (started["state"], started["progressPercent"], started["result"]) == (
        "Starting", 0, {"result": "None", "message": "", "isCanceled": False})
    assert "endTime" not in started and started["name"] == "VBR SQL Backup"
    seen = []
    for _step in range(5):
        caller.advance(0.9)
        view = _session(caller, started["id"])
        seen.append((view["state"], view["progressPercent"], view["usn"]))
    states = [s for s, _p, _u in seen]
    assert states == ["Working", "Working", "Working", "Working", "Stopped"]
    progress = [p for _s, p, _u in seen]
    assert progress == sorted(progress) and progress[0] > 0 and progress[-1] == 100
    usns = [u for _s, _p, u in seen]
    assert usns == sorted(usns) and len(set(usns)) == len(usns)
    done = _session(caller, started["id"])
    assert done["result"] == {"result": "Success", "message": "", "isCanceled": False} and "endTime" in done
    assert caller.api.state.sessions[started["id"]].full is True  # type: ignore[union-attr]


def test_warning_and_failure_messages(caller: kit.Caller) -> None:
    warning = _start(caller, kit.JOB_WARNING)
    failing = _start(caller, kit.JOB_FAILING)
    caller.advance(10)
    assert _session(caller, warning["id"])["result"]["result"] == "Warning"
    failed = _session(caller, failing["id"])["result"]
    assert failed["result"] == "Failed" and "insufficient free space" in failed["message"]


def test_start_while_running_and_stop_while_idle(caller: kit.Caller) -> None:
    _start(caller, kit.JOB_DAILY)
    again = caller.call("POST", "%s/%s/start" % (JOBS, kit.JOB_DAILY))
    assert again.status == 400 and again.json["errorCode"] == "UnknownError" and again.json["resourceId"] == kit.JOB_DAILY
    caller.advance(5)
    idle = caller.call("POST", "%s/%s/stop" % (JOBS, kit.JOB_DAILY))
    assert idle.status == 400 and "not running" in idle.json["message"]
    view = caller.api.counters_view()  # type: ignore[union-attr]
    assert view["starts"] == {kit.JOB_DAILY: 1}
    assert view["actions"][kit.JOB_DAILY] == {"start": 1, "stop": 0, "retry": 0, "enable": 0, "disable": 0}


@pytest.mark.parametrize("body,delay", [(None, 2.0), ({"gracefulStop": True}, 2.0), ({"gracefulStop": False}, 0.5)])
def test_stop_graceful_and_immediate(caller: kit.Caller, body: Any, delay: float) -> None:
    session = _start(caller, kit.JOB_LONG)
    caller.advance(60)
    stopping = caller.call("POST", "%s/%s/stop" % (JOBS, kit.JOB_LONG), body=body)
    assert stopping.status == 201 and stopping.json["id"] == session["id"] and stopping.json["state"] == "Stopping"
    progress = stopping.json["progressPercent"]
    assert progress == 10
    caller.advance(delay - 0.1)
    assert _session(caller, session["id"])["state"] == "Stopping"
    again = caller.call("POST", "%s/%s/stop" % (JOBS, kit.JOB_LONG))  # still running: accepted again, no change
    assert again.status == 201 and again.json["state"] == "Stopping"
    caller.advance(0.1)
    stopped = _session(caller, session["id"])
    assert stopped["state"] == "Stopped" and stopped["progressPercent"] == progress
    assert stopped["result"] == {"result": "Failed", "message": "Job has been stopped by user.", "isCanceled": True}


def test_stop_near_the_end_lets_the_job_finish(caller: kit.Caller) -> None:
    session = _start(caller, kit.JOB_DAILY)  # 3 s
    caller.advance(2.5)
    caller.call("POST", "%s/%s/stop" % (JOBS, kit.JOB_DAILY))
    caller.advance(1)
    assert _session(caller, session["id"])["result"] == {"result": "Success", "message": "", "isCanceled": False}


def test_session_stop_endpoint(caller: kit.Caller) -> None:
    session = _start(caller, kit.JOB_LONG)
    caller.advance(5)
    assert caller.call("POST", "%s/%s/stop" % (SESSIONS, session["id"])).json == {}
    caller.advance(0.5)
    assert _session(caller, session["id"])["result"]["isCanceled"] is True
    assert caller.call("POST", "%s/%s/stop" % (SESSIONS, session["id"])).status == 200  # idempotent
    assert caller.api.counters_view()["actions"][kit.JOB_LONG]["stop"] == 1  # type: ignore[union-attr]


def test_retry_only_after_a_failure(caller: kit.Caller) -> None:
    retry = "%s/%s/retry" % (JOBS, kit.JOB_FAILING)
    history = caller.call("GET", SESSIONS, query={"jobIdFilter": kit.JOB_FAILING}).json["data"]
    assert [s["result"]["result"] for s in history] == ["Failed"]
    retried = caller.call("POST", retry, body={"startChainedJobs": False})
    assert retried.status == 201 and retried.json["relatedSessionId"] == history[0]["id"]
    assert caller.call("POST", retry).status == 400  # running
    caller.advance(5)
    assert _session(caller, retried.json["id"])["result"]["result"] == "Success"  # retry_result
    refused = caller.call("POST", retry)
    assert refused.status == 400 and "did not fail" in refused.json["message"]
    assert caller.call("POST", "%s/%s/retry" % (JOBS, kit.JOB_WARNING)).status == 400
    assert caller.call("POST", "%s/%s/retry" % (JOBS, kit.JOB_DISABLED)).status == 400  # never ran
    view = caller.api.counters_view()  # type: ignore[union-attr]
    assert view["actions"][kit.JOB_FAILING]["retry"] == 1 and kit.JOB_FAILING not in view["starts"]


def test_retry_after_a_stopped_session(caller: kit.Caller) -> None:
    _start(caller, kit.JOB_LONG)
    caller.advance(5)
    caller.call("POST", "%s/%s/stop" % (JOBS, kit.JOB_LONG), body={"gracefulStop": False})
    caller.advance(1)
    assert caller.call("POST", "%s/%s/retry" % (JOBS, kit.JOB_LONG)).status == 201  # a canceled session failed


def test_enable_disable(caller: kit.Caller) -> None:
    assert caller.call("POST", "%s/%s/enable" % (JOBS, kit.JOB_DISABLED)).status == 204
    assert caller.call("GET", "%s/%s" % (JOBS, kit.JOB_DISABLED)).json["isDisabled"] is False
    state = caller.call("GET", JOBS + "/states", query={"idFilter": kit.JOB_DISABLED}).json["data"][0]
    assert state["status"] == "Inactive" and "nextRun" in state and state["lastResult"] == "None"
    assert "lastRun" not in state and "sessionId" not in state
    caller.call("POST", "%s/%s/disable" % (JOBS, kit.JOB_DAILY))
    state = caller.call("GET", JOBS + "/states", query={"idFilter": kit.JOB_DAILY}).json["data"][0]
    assert state["status"] == "Disabled" and "nextRun" not in state
    assert _start(caller, kit.JOB_DAILY)["state"] == "Starting"  # a disabled job still starts by hand
    actions = caller.api.counters_view()["actions"]  # type: ignore[union-attr]
    assert actions[kit.JOB_DISABLED]["enable"] == 1 and actions[kit.JOB_DAILY]["disable"] == 1


def test_start_and_stop_bodies(caller: kit.Caller) -> None:
    start = "%s/%s/start" % (JOBS, kit.JOB_GOLD)
    for body, headers in ((b"[1]", {"Content-Type": "application/json"}), (b"{", {"Content-Type": "application/json"}),
                          (b"performActiveFull=true", {"Content-Type": "application/x-www-form-urlencoded"}),
                          (b'{"performActiveFull": 3}', {"Content-Type": "application/json"})):
        reply = caller.call("POST", start, body=body, headers=headers)
        assert reply.status == 400 and reply.json["errorCode"] == "UnexpectedContent", body
    assert caller.call("POST", start, body={"performActiveFull": "true", "startChainedJobs": None}).status == 201


# ----------------------------------------------------------------------------------------------- lists
def test_job_list_paging_and_order(caller: kit.Caller) -> None:
    everything = caller.call("GET", JOBS).json
    assert everything["pagination"] == {"total": 12, "count": 12, "skip": 0, "limit": 200}
    names = [job["name"] for job in everything["data"]]
    assert names[0] == "VBR Daily Backup"  # scenario order by default
    pages = []
    for skip in range(0, 12, 5):
        page = caller.call("GET", JOBS, query={"skip": skip, "limit": 5, "orderColumn": "Name"}).json
        assert page["pagination"]["total"] == 12 and page["pagination"]["count"] == len(page["data"])
        pages.extend(job["name"] for job in page["data"])
    assert pages == sorted(names, key=str.lower)
    descending = caller.call("GET", JOBS, query={"orderColumn": "name", "orderAsc": "false"}).json["data"]
    assert [job["name"] for job in descending] == sorted(names, key=str.lower, reverse=True)
    assert caller.call("GET", JOBS, query={"skip": 50}).json["data"] == []
    assert caller.call("GET", JOBS, query={"limit": 0}).json["pagination"]["count"] == 0
    for bad in ({"skip": "x"}, {"limit": "-2"}, {"orderColumn": "LastRun"}, {"orderAsc": "maybe"}):
        assert caller.call("GET", JOBS, query=bad).status == 400, bad


def test_name_filter_matches_any_string_parameter(caller: kit.Caller) -> None:
    def names(pattern: str) -> list[str]:
        return [job["name"] for job in caller.call("GET", JOBS, query={"nameFilter": pattern}).json["data"]]

    # The exact value matches the job of that name and the Gold job, whose description is that text.
    assert names("VBR Daily Backup") == ["VBR Daily Backup"]
    assert names("*VBR Daily Backup") == ["VBR Daily Backup", 'VBR "Gold" Backup, Tier 1']
    assert names('VBR "Gold" Backup, Tier 1') == ['VBR "Gold" Backup, Tier 1']
    assert names("vbr sql*") == ["VBR SQL Backup"]
    assert len(names("*Hyper-V*")) == 1 and names("*nothing*") == []
    assert names("HyperVBackup") == ["VBR Hyper-V Backup"]  # the type is a parameter too


def test_job_list_type_filter(caller: kit.Caller) -> None:
    def count(revision: str, value: str) -> int:
        reply = caller.call("GET", JOBS, query={"typeFilter": value}, revision=revision)
        assert reply.status == 200, reply.raw
        return reply.json["pagination"]["total"]

    assert count("1.3-rev1", "VSphereBackup") == 7 and count("1.3-rev1", "hypervbackup") == 1
    assert count("1.1-rev0", "Backup") == 7 and count("1.3-rev1", "CloudDirectorBackup") == 0
    assert caller.call("GET", JOBS, query={"typeFilter": "Backup"}).status == 400  # not in 1.3-rev1's enum
    assert caller.call("GET", JOBS, query={"TypeFilter": "Nope"}).status == 200  # names are case-sensitive


def test_job_states_filters(caller: kit.Caller) -> None:
    _start(caller, kit.JOB_LONG)
    caller.advance(5)

    def ids(**query: Any) -> list[str]:
        reply = caller.call("GET", JOBS + "/states", query=query)
        assert reply.status == 200, reply.raw
        return [state["id"] for state in reply.json["data"]]

    assert ids(statusFilter="running") == [kit.JOB_LONG]
    assert ids(lastResultFilter="Failed") == [kit.JOB_FAILING]
    assert ids(lastResultFilter="Warning") == [kit.JOB_WARNING]
    assert set(ids(lastResultFilter="None")) == {kit.JOB_DISABLED}
    assert ids(isHighPriorityJobFilter="true") == [kit.JOB_SQL]
    assert ids(objectsCountFilter=3) == [kit.JOB_DAILY, kit.JOB_WARNING]
    assert ids(workloadFilter="File") == [kit.JOB_FILES]
    assert ids(repositoryIdFilter="2f0b8c1d-6a4e-4f3b-9c2d-7e5a1b0c9d01") == [kit.JOB_COPY]
    assert ids(typeFilter="BackupCopy") == [kit.JOB_COPY]
    recent = ids(lastRunAfterFilter="2026-05-28T20:00:00Z")  # the clock starts at 2026-05-28T20:26:40Z
    assert recent == [kit.JOB_LONG]
    assert kit.JOB_LONG not in ids(lastRunBeforeFilter="2026-05-28T20:00:00Z")
    by_last_run = ids(orderColumn="LastRun", orderAsc="false")
    assert by_last_run[0] == kit.JOB_LONG and by_last_run[-1] == kit.JOB_DISABLED
    for bad in ({"statusFilter": "sleeping"}, {"lastRunAfterFilter": "yesterday"}, {"objectsCountFilter": "x"}):
        assert caller.call("GET", JOBS + "/states", query=bad).status == 400, bad
    state = caller.call("GET", JOBS + "/states", query={"idFilter": kit.JOB_COPY}).json["data"][0]
    assert state["backupCopyMode"] == "Immediate" and state["repositoryName"] == "Offsite Repository"


def test_session_list_filters_and_order(caller: kit.Caller) -> None:
    replica = _start(caller, kit.JOB_REPLICA)
    caller.advance(1)
    long_run = _start(caller, kit.JOB_LONG)
    caller.advance(3)

    def ids(revision: str = "1.3-rev1", **query: Any) -> list[str]:
        reply = caller.call("GET", SESSIONS, query=query, revision=revision)
        assert reply.status == 200, reply.raw
        return [s["id"] for s in reply.json["data"]]

    everything = ids()
    assert everything[:2] == [long_run["id"], replica["id"]]  # newest first by default
    assert ids(jobIdFilter=kit.JOB_REPLICA)[0] == replica["id"]
    assert ids(stateFilter="Working") == [long_run["id"]]
    assert ids(typeFilter="ReplicaJob") == ids(jobIdFilter=kit.JOB_REPLICA)
    both = ids(typeFilter=["ReplicaJob", "BackupCopyJob"])  # an array from 1.3-rev0: repeated ...
    assert both == ids(typeFilter="ReplicaJob,BackupCopyJob")  # ... or comma-separated
    assert len(both) == 3
    assert set(ids(resultFilter=["Warning", "Failed"])) == {s["id"] for s in caller.call(
        "GET", SESSIONS, query={"limit": 100}).json["data"] if s["result"]["result"] in ("Warning", "Failed")}
    assert ids(createdAfterFilter="2026-05-28T20:26:40Z") == [long_run["id"], replica["id"]]  # inclusive
    assert ids(createdAfterFilter="2026-05-28T22:26:40+02:00") == [long_run["id"], replica["id"]]  # offsets honoured
    assert replica["id"] in ids(endedAfterFilter="2026-05-28T00:00:00Z")
    assert long_run["id"] not in ids(endedAfterFilter="2026-05-28T00:00:00Z")  # still running
    assert ids(endedBeforeFilter="2000-01-01T00:00:00Z") == []
    ascending = caller.call("GET", SESSIONS, query={"orderColumn": "CreationTime", "orderAsc": "true"}).json["data"]
    created = [s["creationTime"] for s in ascending]
    assert created == sorted(created) and {s["id"] for s in ascending} == set(everything)
    assert ids(orderColumn="EndTime", orderAsc="true")[0] == long_run["id"]  # no end time sorts first
    assert ids(nameFilter="*Working*") == [long_run["id"]]  # any parameter, as the Overview's example
    assert ids("1.2-rev1", typeFilter="ReplicaJob") == ids(jobIdFilter=kit.JOB_REPLICA)
    assert ids("1.1-rev0", typeFilter="Job") == everything
    for bad in ({"typeFilter": "Nope"}, {"jobIdFilter": "x"}, {"resultFilter": "Great"}, {"createdAfterFilter": "x"}):
        assert caller.call("GET", SESSIONS, query=bad).status == 400, bad
    assert caller.call("GET", SESSIONS, query={"typeFilter": "BackupCopyJob"}, revision="1.3-rev0").status == 400


def test_session_paging(caller: kit.Caller) -> None:
    total = caller.call("GET", SESSIONS).json["pagination"]["total"]
    assert total == 12  # the default scenario's history
    page = caller.call("GET", SESSIONS, query={"skip": 10, "limit": 4}).json
    assert page["pagination"] == {"total": 12, "count": 2, "skip": 10, "limit": 4}
    caller.configure({"page_limit_default": 3})
    assert caller.call("GET", SESSIONS).json["pagination"]["count"] == 3


# ----------------------------------------------------------------------------------------------- config, state
def test_job_overrides_by_name_and_id(caller: kit.Caller) -> None:
    caller.configure({"jobs": {"VBR Daily Backup": {"duration": 20, "result": "Failed", "message": "Disk full"},
                               kit.JOB_SQL: {"result": "warning"}, "Not a VBR job": {"task_duration": 1}}})
    session = _start(caller, kit.JOB_DAILY)
    caller.advance(19)
    assert _session(caller, session["id"])["state"] == "Working"
    caller.advance(1)
    assert _session(caller, session["id"])["result"] == {"result": "Failed", "message": "Disk full", "isCanceled": False}
    with pytest.raises(ValueError):
        caller.configure({"jobs": {kit.JOB_DAILY: {"result": "Great"}}})
    with pytest.raises(ValueError):
        caller.configure({"jobs": {kit.JOB_DAILY: {"task_duration": 1}}})
    with pytest.raises(ValueError):
        caller.configure({"nope": 1})
    caller.configure({"vbr": {"token_lifetime": 30}, "jobs": {kit.JOB_SQL: {"isDisabled": True}}})  # the whole body
    assert caller.api.cfg["token_lifetime"] == 30 and not caller.api.state.jobs[kit.JOB_SQL].enabled  # type: ignore[union-attr]


def test_latency_settings() -> None:
    api, _clock = kit.make_api({"request_latency_ms": 20, "token_latency_ms": 300})
    from emulator.core import Request  # pylint: disable=import-outside-toplevel
    assert api.latency(Request("GET", "/api/v1/jobs")) == pytest.approx(0.02)
    assert api.latency(Request("POST", "/api/oauth2/token")) == pytest.approx(0.32)


def test_state_view_snapshot_restore_and_reset() -> None:
    api, clock = kit.make_api()
    caller = kit.Caller(api)
    caller.login()
    session = _start(caller, kit.JOB_LONG)
    caller.call("POST", "%s/%s/disable" % (JOBS, kit.JOB_SQL))
    view = api.state_view()
    assert view["revisions"] == list(kit.REVISIONS) and view["newest"] == "1.3-rev1" and view["open_tokens"] == 1
    long_job = next(job for job in view["jobs"] if job["id"] == kit.JOB_LONG)
    assert long_job["running"] and long_job["running_session"]["id"] == session["id"] and long_job["sessions"] == 2
    assert view["sessions"][0]["id"] == session["id"] and view["sessions"][0]["ended_at"] is None
    assert len(view["sessions"]) == 13 and all(s["ended_at"] for s in view["sessions"][1:])
    json.dumps(view)
    snapshot = json.loads(json.dumps(api.snapshot()))
    twin = VbrApi(kit.default_scenario(), clock)
    twin.restore(snapshot)
    again = kit.Caller(twin)
    again.token = caller.token
    assert again.call("GET", "%s/%s" % (SESSIONS, session["id"])).json["state"] in ("Starting", "Working")
    assert again.call("GET", "%s/%s" % (JOBS, kit.JOB_SQL)).json["isDisabled"] is True
    assert twin.counters_view()["starts"] == {kit.JOB_LONG: 1}
    api.reset()
    assert api.counters_view() == {"tokens_issued": 0, "token_refreshes": 0, "token_failures": 0, "logouts": 0,
                                   "starts": {}, "actions": {}, "open_tokens": 0}
    assert len(api.state.sessions) == 12 and api.state.jobs[kit.JOB_SQL].enabled


def test_a_scenario_without_vbr_section() -> None:
    api = VbrApi({"em": {}}, Clock(0))
    caller = kit.Caller(api)
    assert caller.login().status == 401
    assert api.state_view()["jobs"] == []


def test_scenario_errors() -> None:
    for jobs in ([{"id": "x", "name": "a"}], [{"id": kit.JOB_DAILY, "name": "a", "type": "Tape"}],
                 [{"id": kit.JOB_DAILY, "name": "a", "result": "Great"}],
                 [{"id": kit.JOB_DAILY, "name": "a", "type": "BackupCopy", "source_job": "missing"}],
                 [{"id": kit.JOB_DAILY, "name": "a", "repository": "missing"}]):
        with pytest.raises(ValueError):
            kit.make_api({"jobs": jobs})
