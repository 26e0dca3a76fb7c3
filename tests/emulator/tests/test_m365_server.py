"""VB365 emulator through the real server process: TLS, hrefs with the real port, faults, counters, keep-state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator import m365_testkit as kit

pytest.importorskip("emulator.server", reason="the emulator server (tests/emulator/server.py) is not there")


@pytest.fixture(name="state_dir", scope="module")
def fixture_state_dir(tmp_path_factory: Any) -> str:
    return str(tmp_path_factory.mktemp("emulator-keep"))


@pytest.fixture(name="live", scope="module")
def fixture_live(state_dir: str) -> Any:
    caller = kit.HttpCaller(kit.EmulatorProcess(state_dir, {"EMULATOR_KEEP_STATE": "1"}))
    try:
        yield caller
    finally:
        caller.emu.stop()  # the restart test replaces caller.emu


def test_probe_login_and_legacy_hrefs_carry_the_real_port(live: Any) -> None:
    live.freeze()
    assert live.call("GET", "/v8/ServiceInstance").status == 401
    assert live.call("GET", "/v1/ServiceInstance").status == 404
    assert live.login(3).status == 200
    job = live.call("GET", "/v3/Jobs/" + kit.JOB_LONG).json
    assert job["_links"]["self"]["href"] == "%s/v3/jobs/%s" % (live.emu.url, kit.JOB_LONG)
    assert live.emu.url.startswith("https://127.0.0.1:")


def test_fault_status_uses_the_version_error_body(live: Any) -> None:
    live.freeze()
    live.login(8)
    live.control("POST", "faults", {"api": "m365", "method": "GET", "path": "^/v8/Jobs$", "action": "status",
                                    "status": 503, "retry_after": 2, "times": 1})
    reply = live.call("GET", "/v8/Jobs")
    assert reply.status == 503 and reply.headers["Retry-After"] == "2"
    assert set(reply.json) == {"message", "errorCode", "stackTrace"}
    assert live.call("GET", "/v8/Jobs").status == 200  # times: 1
    live.control("POST", "faults", {"api": "m365", "method": "POST", "path": "token", "action": "status", "status": 429,
                                    "times": 1})
    throttled = live.call("POST", "/v6/token", form={"grant_type": "password", "username": kit.USERNAME,
                                                     "password": kit.PASSWORD}, auth=False)
    assert throttled.status == 429 and throttled.json == {"message": "Too Many Requests (injected by the emulator)"}


def test_the_default_quota_through_the_server_and_reset(live: Any) -> None:
    """The default scenario throttles the token endpoint (1 a second); POST /_emulator/reset forgets the requests
    counted, so the next test's login is not refused for this one's."""
    live.freeze()
    assert live.login(8).status == 200
    refused = live.login(8)
    assert refused.status == 429 and refused.headers["Retry-After"] == "1"
    assert refused.json == "API calls quota exceeded! maximum admitted 1 per Second."
    assert live.control("GET", "counters")["m365"]["throttled"] == 1
    live.control("POST", "reset")
    assert live.login(8).status == 200


def test_expire_tokens_fault_then_refresh(live: Any) -> None:
    live.freeze()
    live.configure({"m365": {"throttle_token": None}})  # a refresh right after the login: not about the quota
    live.login(8)
    live.control("POST", "faults", {"api": "m365", "method": "GET", "path": "JobSessions", "action": "expire_tokens",
                                    "skip": 1, "times": 1})
    assert live.call("GET", "/v8/JobSessions").status == 200
    assert live.call("GET", "/v8/JobSessions").status == 401  # expired by the rule at the second poll
    reply = live.call("POST", "/v8/token", form={"grant_type": "refresh_token", "refresh_token": live.refresh}, auth=False)
    assert reply.status == 200
    live.token = reply.json["access_token"]
    assert live.call("GET", "/v8/JobSessions").status == 200


def test_counters_route_keys_and_open_tokens(live: Any) -> None:
    live.freeze()
    live.login(7)
    token = live.token
    assert live.call("POST", "/v7/Jobs/%s/start" % kit.JOB_MUELLER, body={}).status == 204
    assert live.call("POST", "/v7/token/logout").status == 200
    counters = live.control("GET", "counters")
    assert counters["requests"]["m365"]["POST /v7/Jobs/{id}/start"] == 1
    assert counters["requests"]["m365"]["POST /v7/token"] == 1
    m365 = counters["m365"]
    assert m365["starts"] == {kit.JOB_MUELLER: 1} and m365["logouts"] == 1 and m365["open_tokens"] == 0
    log = json.dumps(live.control("GET", "log"))
    assert token not in log and kit.PASSWORD not in log and "POST" in log


def test_keep_state_across_a_restart(live: Any, state_dir: str) -> None:
    live.freeze()
    live.login(8)
    session = live.call("POST", "/v8/Jobs/%s/start" % kit.JOB_LONG, body={}).json
    live.advance(60)
    rs = live.call("POST", "/v8/Jobs/%s/explore" % kit.JOB_MUELLER, body={"type": "Vex"}).json
    token = live.token
    live.emu.stop()
    live.emu = kit.EmulatorProcess(state_dir, {"EMULATOR_KEEP_STATE": "1"})
    live.token = token
    again = live.call("GET", "/v8/JobSessions/" + session["id"])
    assert again.status == 200 and again.json["status"] == "Running"  # the token and the running job survived
    assert live.call("GET", "/v8/RestoreSessions/" + rs["id"]).json["state"] == "Working"
    assert live.call("POST", "/v8/Jobs/%s/start" % kit.JOB_LONG, body={}).status == 400
    assert live.control("GET", "counters")["m365"]["starts"][kit.JOB_LONG] == 1


def test_plain_http_legacy_hrefs(tmp_path: Any) -> None:
    emu = kit.EmulatorProcess(str(tmp_path), {"EMULATOR_TLS": "0"})
    try:
        caller = kit.HttpCaller(emu)
        caller.login(5)
        job = caller.call("GET", "/v5/Jobs/" + kit.JOB_LONG).json
        assert emu.url.startswith("http://") and job["_links"]["self"]["href"] == "%s/v5/jobs/%s" % (emu.url, kit.JOB_LONG)
    finally:
        assert emu.stop() == 0
