"""VBR emulator through the real server process: endpoints and ready line, TLS, keep-alive, the control endpoint on
the VBR listener, faults (``api: vbr`` and ``*``), counters, the request log, config, latency, keep-state, ports."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest

from emulator import vbr_testkit as kit
from emulator.__main__ import parse_args
from emulator.server import Settings


@pytest.fixture(name="state_dir", scope="module")
def fixture_state_dir(tmp_path_factory: Any) -> str:
    return str(tmp_path_factory.mktemp("emulator-vbr-keep"))


@pytest.fixture(name="live", scope="module")
def fixture_live(state_dir: str) -> Any:
    caller = kit.HttpCaller(kit.EmulatorProcess(state_dir, {"EMULATOR_KEEP_STATE": "1"}))
    try:
        yield caller
    finally:
        caller.emu.stop()  # the restart test replaces caller.emu


def test_endpoints_ready_line_and_tls(live: Any) -> None:
    info = live.emu.endpoints
    assert info["vbr_url"] == "https://127.0.0.1:%d" % info["vbr_port"] and info["vbr_port"] not in (0, 9419)
    assert len({info["em_port"], info["m365_port"], info["vbr_port"]}) == 3
    ctx = ssl.create_default_context(cafile=info["ca_path"])
    with socket.create_connection(("127.0.0.1", info["vbr_port"]), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    # keep-alive: several requests over one connection
    conn = http.client.HTTPSConnection("127.0.0.1", info["vbr_port"], context=ctx, timeout=10)
    for _attempt in range(3):
        conn.request("GET", "/api/v1/jobs", headers={"x-api-version": "1.3-rev1"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        assert resp.status == 401 and body["errorCode"] == "AccessDenied"
        assert resp.getheader("X-Content-Type-Options") == "nosniff"
    conn.close()


def test_ready_line_names_all_three_urls(live: Any) -> None:
    info = live.emu.endpoints
    assert "ready" in live.emu.ready_line
    for key in ("em_url", "m365_url", "vbr_url"):
        assert "%s=%s" % (key, info[key]) in live.emu.ready_line


def test_the_flow_over_https_and_the_control_endpoint_on_the_vbr_listener(live: Any) -> None:
    live.freeze()
    assert live.control("GET", "health")["apis"] == ["em", "m365", "vbr"]
    assert live.login().status == 200
    session = live.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_DAILY, body={"performActiveFull": False}).json
    live.advance(10)
    done = live.call("GET", "/api/v1/sessions/" + session["id"]).json
    assert done["state"] == "Stopped" and done["result"]["result"] == "Success"
    assert live.call("POST", "/api/oauth2/logout").status == 200
    counters = live.control("GET", "counters")
    assert counters["vbr"]["starts"] == {kit.JOB_DAILY: 1} and counters["vbr"]["open_tokens"] == 0
    assert counters["vbr"]["tokens_issued"] == 1 and counters["vbr"]["logouts"] == 1
    assert counters["vbr"]["actions"][kit.JOB_DAILY]["start"] == 1
    assert counters["requests"]["vbr"] == {"POST /api/oauth2/token": 1, "POST /api/v1/jobs/{id}/start": 1,
                                           "GET /api/v1/sessions/{id}": 1, "POST /api/oauth2/logout": 1}
    assert counters["requests"]["em"] == {} and counters["em"]["logons"] == 0
    state = live.control("GET", "state")["vbr"]
    daily = next(job for job in state["jobs"] if job["id"] == kit.JOB_DAILY)
    assert daily["last_session"]["id"] == session["id"] and not daily["running"]


def test_fault_rules_for_vbr_and_star(live: Any) -> None:
    live.freeze()
    live.login()
    live.control("POST", "faults", {"api": "vbr", "method": "GET", "path": "^/api/v1/jobs$", "action": "status",
                                    "status": 503, "retry_after": 3, "times": 1})
    reply = live.call("GET", "/api/v1/jobs")
    assert reply.status == 503 and reply.headers["Retry-After"] == "3"
    assert reply.json == {"errorCode": "ServiceUnavailable", "message": "Service Unavailable (injected by the emulator)",
                          "resourceId": None}
    assert live.call("GET", "/api/v1/jobs").status == 200
    live.control("POST", "faults", {"api": "*", "path": "serverInfo", "action": "status", "status": 500, "times": 1})
    assert live.call("GET", "/api/v1/serverInfo").json["errorCode"] == "UnknownError"
    live.control("POST", "faults", {"api": "m365", "path": ".", "action": "status", "status": 500})
    assert live.call("GET", "/api/v1/serverInfo").status == 200  # an m365 rule leaves VBR alone
    live.control("DELETE", "faults")
    # drop_after: the start takes effect although the answer is lost.
    live.control("POST", "faults", {"api": "vbr", "method": "POST", "path": "/start$", "action": "drop_after", "times": 1})
    with pytest.raises(Exception):  # noqa: B017 - the connection closes without an answer
        live.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_LONG)
    assert live.control("GET", "counters")["vbr"]["starts"] == {kit.JOB_LONG: 1}
    assert live.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_LONG).status == 400  # already running
    # expire_tokens: every access token expires at the matching request; the refresh token still works.
    live.control("POST", "faults", {"api": "vbr", "path": "sessions", "action": "expire_tokens", "times": 1})
    expired = live.call("GET", "/api/v1/sessions")
    assert expired.status == 401 and expired.json["errorCode"] == "ExpiredToken"
    renewed = live.call("POST", "/api/oauth2/token", auth=False,
                        form={"grant_type": "refresh_token", "refresh_token": live.refresh})
    assert renewed.status == 200
    # malformed: the real body cut in half.
    live.token = renewed.json["access_token"]
    live.control("POST", "faults", {"api": "vbr", "path": "states", "action": "malformed", "body": "truncated", "times": 1})
    cut = live.call("GET", "/api/v1/jobs/states")
    with pytest.raises(ValueError):
        json.loads(cut.raw)
    faults = live.control("GET", "faults")
    assert all(rule["applied"] == 1 for rule in faults)


def test_request_log_holds_no_secrets(live: Any) -> None:
    live.freeze()
    live.login()
    live.call("GET", "/api/v1/jobs", query={"nameFilter": "VBR*"})
    entries = live.control("GET", "log?api=vbr")
    assert [e["path"] for e in entries] == ["/api/oauth2/token", "/api/v1/jobs"]
    assert entries[1]["query"] == "nameFilter=VBR%2A" and entries[1]["status"] == 200
    text = json.dumps(entries)
    assert kit.ADMIN[1] not in text and str(live.token) not in text and str(live.refresh) not in text
    headers = {name.lower(): value for name, value in entries[1]["headers"].items()}
    assert headers["authorization"] is None and headers["user-agent"] == "vbr-testkit"
    assert headers["x-api-version"] is None


def test_config_and_latency_through_the_control_endpoint(live: Any) -> None:
    live.freeze()
    current = live.control("POST", "config", {"vbr": {"revisions": ["1.2-rev1", "1.3-rev1", "1.4-rev0"],
                                                      "request_latency_ms": 150},
                                              "jobs": {"VBR SQL Backup": {"no_objects": True}}})
    assert current["vbr"]["revisions"] == ["1.2-rev1", "1.3-rev1", "1.4-rev0"]
    live.revision = "1.4-rev0"
    live.login()
    began = time.monotonic()
    assert live.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_SQL).status == 204
    assert time.monotonic() - began >= 0.15
    assert live.call("GET", "/api/v1/jobs", revision="1.1-rev0").json["errorCode"] == "NotImplemented"
    with pytest.raises(Exception):  # noqa: B017 - 400 from the control endpoint
        live.control("POST", "config", {"vbr": {"nope": 1}})
    live.control("POST", "reset")
    live.revision = "1.3-rev1"
    assert live.control("GET", "config")["vbr"]["revisions"] == list(kit.REVISIONS)


def test_keep_state_across_a_restart(live: Any, state_dir: str) -> None:
    live.freeze()
    live.login()
    session = live.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_LONG).json
    live.call("POST", "/api/v1/jobs/%s/disable" % kit.JOB_SQL)
    live.emu.stop()
    live.emu = kit.EmulatorProcess(state_dir, {"EMULATOR_KEEP_STATE": "1"})
    again = live.call("GET", "/api/v1/sessions/" + session["id"])  # the old token still works
    assert again.status == 200 and again.json["state"] in ("Starting", "Working")
    assert live.call("GET", "/api/v1/jobs/" + kit.JOB_SQL).json["isDisabled"] is True
    assert live.control("GET", "counters")["vbr"]["starts"] == {kit.JOB_LONG: 1}


def test_port_settings() -> None:
    assert Settings.from_env({}).vbr_port == 9419 and not Settings.from_env({}).vbr_port_explicit
    explicit = Settings.from_env({"EMULATOR_VBR_PORT": "0"})
    assert explicit.vbr_port == 0 and explicit.vbr_port_explicit
    flagged = parse_args(["--vbr-port", "19419"])
    assert flagged.vbr_port == 19419 and flagged.vbr_port_explicit


def test_default_vbr_port_taken_falls_back_to_a_free_port(tmp_path: Path) -> None:
    """Launchers that set only the EM and VB365 ports keep working when 9419 is taken (or is free)."""
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        try:
            blocker.bind(("127.0.0.1", 9419))
            blocker.listen(1)
        except OSError:
            pass  # already taken by someone else: the same situation
        emu = kit.EmulatorProcess(str(tmp_path), {"EMULATOR_VBR_PORT": ""})  # empty: as if unset
        try:
            assert emu.endpoints["vbr_port"] != 9419
            assert kit.HttpCaller(emu).login().status == 200
        finally:
            emu.stop()
    finally:
        blocker.close()
