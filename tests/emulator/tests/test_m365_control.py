"""VB365 emulator: the hooks the server uses (route keys, fault errors, counters, config, state keeping, reset)."""

from __future__ import annotations

import json

import pytest

from emulator import m365_testkit as kit
from emulator.core import Clock, Request
from emulator.m365 import Vb365Api


def _req(method: str, path: str, query: str = "") -> Request:
    return Request(method, path, query, {"Host": kit.HOST}, b"")


@pytest.mark.parametrize("method,path,key", [
    ("POST", "/v8/Jobs/%s/start" % kit.JOB_LONG, "POST /v8/Jobs/{id}/start"),
    ("POST", "/v8/jobs/%s/START" % kit.JOB_LONG, "POST /v8/Jobs/{id}/start"),
    ("POST", "/v3/Jobs/%s/Action" % kit.JOB_LONG, "POST /v3/Jobs/{id}/Action"),
    ("GET", "/v7/JobSessions/%s" % kit.JOB_LONG, "GET /v7/JobSessions/{id}"),
    ("GET", "/v8/JobSessions", "GET /v8/JobSessions"),
    ("POST", "/v3/Token", "POST /v3/token"),
    ("POST", "/v8/token/logout", "POST /v8/token/logout"),
    ("GET", "/v6/Jobs/%s/JobSessions" % kit.JOB_LONG, "GET /v6/Jobs/{id}/JobSessions"),
    ("GET", "/v9/Jobs/%s" % kit.JOB_LONG, "GET /v9/Jobs/{id}"),
    ("GET", "/v8/Unknown/%s/x" % kit.JOB_LONG, "GET /v8/Unknown/{id}/x"),
])
def test_route_keys(method: str, path: str, key: str) -> None:
    api, _clock = kit.make_api()
    assert api.route_key(_req(method, path)) == key


def test_error_response_per_version() -> None:
    api, _clock = kit.make_api()
    reply = api.error_response(503, "Service Unavailable", _req("GET", "/v8/Jobs"))
    expected = {"message": "Service Unavailable", "errorCode": None, "stackTrace": None}
    assert reply.status == 503 and json.loads(reply.body) == expected
    assert json.loads(api.error_response(404, "x", _req("GET", "/v8/Jobs")).body)["errorCode"] == "ResourceNotFound"
    assert json.loads(api.error_response(429, "Too many", _req("POST", "/v6/token")).body) == {"message": "Too many"}
    assert json.loads(api.error_response(500, "boom", _req("GET", "/v7/Jobs")).body) == {"message": "boom", "errorCode": None}
    assert reply.headers["Content-Type"].startswith("application/json")


def test_counters_view_shape() -> None:
    api, _clock = kit.make_api()
    assert api.counters_view() == {"tokens_issued": 0, "token_refreshes": 0, "token_failures": 0, "throttled": 0,
                                   "logouts": 0, "open_tokens": 0, "starts": {}, "actions": {},
                                   "restore_sessions_open": 0}


def test_latency_settings() -> None:
    api, _clock = kit.make_api({"request_latency_ms": 50, "token_latency_ms": 250})
    assert api.latency(_req("GET", "/v8/Jobs")) == pytest.approx(0.05)
    assert api.latency(_req("POST", "/v8/Token")) == pytest.approx(0.3)
    api.apply_config({"m365": {"request_latency_ms": 0, "token_latency_ms": 0}})
    assert api.latency(_req("POST", "/v8/token")) == 0
    with pytest.raises(ValueError):
        api.apply_config({"m365": {"request_latency_ms": -1}})
    with pytest.raises(ValueError):
        api.apply_config({"m365": {"versions": ["v1"]}})


def test_snapshot_restore_continues_where_it_stopped() -> None:
    api, clock = kit.make_api()
    caller = kit.Caller(api)
    caller.login(8)
    session = caller.call("POST", "/v8/Jobs/%s/start" % kit.JOB_LONG, body={}).json
    explored = caller.call("POST", "/v8/Jobs/%s/explore" % kit.JOB_MUELLER, body={"type": "Vex"}).json
    caller.call("POST", "/v8/Jobs/%s/disable" % kit.JOB_MUELLER)
    api.apply_config({"m365": {"token_lifetime": 120}, "jobs": {"Long Archive Job": {"result": "Warning"}}})
    clock.advance(100)
    data = json.loads(json.dumps(api.snapshot()))  # must survive JSON

    # A new process: same scenario, a clock restored from the saved one.
    clock2 = Clock(0.0)
    clock2.restore(clock.snapshot())
    api2 = Vb365Api(kit.default_scenario(), clock2)
    api2.restore(data)
    caller.api = api2
    assert caller.call("GET", "/v8/JobSessions/" + session["id"]).json["status"] == "Running"  # token still valid
    assert caller.call("GET", "/v8/Jobs/" + kit.JOB_MUELLER).json["isEnabled"] is False
    assert caller.call("GET", "/v8/RestoreSessions/" + explored["id"]).json["state"] == "Working"
    assert caller.call("POST", "/v8/Jobs/%s/start" % kit.JOB_LONG, body={}).status == 400  # still running
    assert api2.counters_view()["starts"] == {kit.JOB_LONG: 1}
    assert api2.counters_view()["open_tokens"] == 1
    assert api2.cfg["token_lifetime"] == 120
    assert api2.state.jobs[kit.JOB_LONG].result == "Warning"  # the override survives, for the next session
    clock2.advance(600)
    assert caller.call("GET", "/v8/JobSessions/" + session["id"]).json["status"] == "Success"


def test_reset_returns_to_the_scenario() -> None:
    api, _clock = kit.make_api()
    caller = kit.Caller(api)
    caller.login(8)
    caller.call("POST", "/v8/Jobs/%s/start" % kit.JOB_LONG, body={})
    api.apply_config({"m365": {"versions": ["v6"]}, "jobs": {kit.JOB_LONG: {"duration": 1}}})
    api.reset()
    assert api.counters_view()["starts"] == {}
    assert api.state.jobs[kit.JOB_LONG].duration == 600
    assert api.versions == [2, 3, 4, 5, 6, 7, 8]
    assert caller.call("GET", "/v8/Jobs").status == 401  # tokens are gone
    caller.login(8)
    assert caller.call("GET", "/v8/JobSessions", query={"jobId": kit.JOB_LONG}).json["results"][0]["status"] == "Success"


def test_state_view_is_json() -> None:
    api, _clock = kit.make_api()
    caller = kit.Caller(api)
    caller.login(8)
    caller.call("POST", "/v8/Jobs/%s/start" % kit.JOB_LONG, body={})
    view = json.loads(json.dumps(api.state_view()))
    long_job = [job for job in view["jobs"] if job["id"] == kit.JOB_LONG][0]
    assert long_job["running"] is True and long_job["last_session"]["status"] == "Queued"
    assert view["open_tokens"] == 1 and len(view["jobs"]) == 9


def test_scenario_without_m365_section() -> None:
    api = Vb365Api({}, Clock(0.0))
    caller = kit.Caller(api)
    assert caller.login(8).status == 400  # no users
    assert api.state.jobs == {}


def test_bad_scenarios_are_refused() -> None:
    scenario = kit.default_scenario()
    scenario["m365"]["jobs"][0]["organization"] = "nobody.onmicrosoft.com"
    with pytest.raises(ValueError):
        Vb365Api(scenario, Clock(0.0))
    scenario = kit.default_scenario()
    scenario["m365"]["jobs"][1]["id"] = scenario["m365"]["jobs"][0]["id"]
    with pytest.raises(ValueError):
        Vb365Api(scenario, Clock(0.0))


def test_apply_config_accepts_whole_body_or_own_part() -> None:
    api, _clock = kit.make_api()
    api.apply_config({"em": {"session_idle_timeout": 30}, "m365": {"token_lifetime": 60}, "jobs": {"Long Archive Job": {"duration": 7}}})
    assert api.cfg["token_lifetime"] == 60 and api.state.jobs[kit.JOB_LONG].duration == 7
    api.apply_config({"token_lifetime": 90, "request_latency_ms": 5, "jobs": {kit.JOB_LONG: {"duration": 8}}})
    assert api.cfg["token_lifetime"] == 90 and api.state.jobs[kit.JOB_LONG].duration == 8
    api.apply_config({"jobs": {"an EM job name": {"duration": 1}}})  # not ours: ignored
    with pytest.raises(ValueError):
        api.apply_config({"token_lifetime": 90, "session_idle_timeout": 3})
