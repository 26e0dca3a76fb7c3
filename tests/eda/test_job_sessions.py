"""The event source backupops.veeam.job_sessions against the emulator, for EM, VBR and VB365: the event's shape, one
event per ended session (at the first poll after its end), nothing from before the start unless ``since`` asks,
the checkpoint across a restart, the filters, one logon kept and renewed, back-off while the server fails, the end
on wrong credentials, the logoff, and no secret in anything logged.  The polls are driven one at a time
(``Watcher.step``), except in the test that runs the extension file the way ansible-rulebook does."""

from __future__ import annotations

import datetime
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import harness as H
from conftest import APIS, Driver, environment, source_args

from ansible_collections.backupops.veeam.plugins.plugin_utils import _job_sessions as J

ALL = pytest.mark.parametrize("api", sorted(APIS))
EVENT_KEYS = {"api", "server", "job", "session"}
JOB_KEYS = {"id", "name", "type"}
SESSION_KEYS = {"id", "state", "result", "message", "started", "ended"}


def watcher(emu: H.Emulator, api: str, **extra: Any) -> J.Watcher:
    return J.Watcher(source_args(emu, api, **extra), environ={})


def events_of(source: J.Watcher, polls: int = 3) -> list[dict[str, Any]]:
    found = []
    for _poll in range(polls):
        found.extend(source.step()[0])
    return found


@ALL
def test_a_failed_session_is_one_event_at_the_first_poll_after_its_end(emulator, driver, api):
    source = watcher(emulator, api)
    try:
        assert source.step()[0] == []  # from now: what had ended before is not reported
        run = driver(api)
        session_id = run.run(APIS[api]["failing"])
        events = source.step()[0]  # the first poll after the end
        assert [e["veeam"]["session"]["id"] for e in events] == [session_id]
        event = events[0]
        assert set(event) == {"veeam"} and set(event["veeam"]) == EVENT_KEYS
        veeam = event["veeam"]
        assert set(veeam["job"]) == JOB_KEYS and set(veeam["session"]) == SESSION_KEYS
        assert veeam["api"] == api
        assert veeam["server"] == emulator.endpoints[APIS[api]["url"]].replace("/api", "")
        job = run.job(APIS[api]["failing"])
        assert veeam["job"] == {"id": job["id"], "name": APIS[api]["failing"], "type": APIS[api]["type"]}
        session = veeam["session"]
        assert session["state"] == "Stopped" and session["result"] == "Failed"
        assert session["message"]
        assert J.W.parse_time(session["started"]) < J.W.parse_time(session["ended"])
        assert events_of(source) == []  # never twice
        json.dumps(event)  # plain data
    finally:
        source.close()


@ALL
def test_since_reports_what_ended_before_the_start_and_the_filters_apply(emulator, api):
    # The scenario's history: a failed run of the failing job a day ago on every API.
    since = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    source = watcher(emulator, api, since=since, result="Failed", job_name=APIS[api]["failing"].split()[0][:4] + "*")
    try:
        events = events_of(source, 2)
        assert events, "the failed run of the history was not reported"
        assert {e["veeam"]["job"]["name"] for e in events} == {APIS[api]["failing"]}
        assert {e["veeam"]["session"]["result"] for e in events} == {"Failed"}
        assert len({e["veeam"]["session"]["id"] for e in events}) == len(events)
    finally:
        source.close()


@ALL
def test_the_result_filter_leaves_other_results_out(emulator, driver, api):
    source = watcher(emulator, api, result=["warning"])
    try:
        source.step()
        run = driver(api)
        failed = run.run(APIS[api]["failing"])
        warned = run.run(APIS[api]["warning"])
        events = events_of(source, 2)
        assert [e["veeam"]["session"]["id"] for e in events] == [warned]
        assert failed not in json.dumps(events)
    finally:
        source.close()


@ALL
def test_a_restart_with_a_checkpoint_reports_what_ended_meanwhile_and_nothing_twice(emulator, driver, api, tmp_path):
    checkpoint = tmp_path / "veeam.checkpoint"
    run = driver(api)
    first = watcher(emulator, api, checkpoint=str(checkpoint))
    first.step()
    assert stat.S_IMODE(os.stat(checkpoint).st_mode) == 0o600
    before_stop = run.run(APIS[api]["failing"])
    assert [e["veeam"]["session"]["id"] for e in first.step()[0]] == [before_stop]
    first.close()
    assert stat.S_IMODE(os.stat(checkpoint).st_mode) == 0o600
    saved = json.loads(checkpoint.read_text(encoding="utf-8"))
    assert saved["api"] == api and before_stop in saved["seen"]
    while_stopped = run.run(APIS[api]["failing"])
    second = watcher(emulator, api, checkpoint=str(checkpoint))
    try:
        events = events_of(second, 3)
        assert [e["veeam"]["session"]["id"] for e in events] == [while_stopped]
    finally:
        second.close()
    assert not [p for p in tmp_path.iterdir() if p.name != checkpoint.name], "a temporary file was left behind"


def test_a_checkpoint_of_another_server_or_a_broken_one_is_refused(emulator, tmp_path):
    checkpoint = tmp_path / "em.checkpoint"
    watcher(emulator, "em", checkpoint=str(checkpoint)).close()
    with pytest.raises(J.E.UsageError, match="belongs to api em"):
        watcher(emulator, "vbr", checkpoint=str(checkpoint))
    checkpoint.write_text("{not json", encoding="utf-8")
    with pytest.raises(J.E.UsageError, match="cannot be read.*delete it"):
        watcher(emulator, "em", checkpoint=str(checkpoint))
    with pytest.raises(J.E.UsageError, match="does not exist"):
        watcher(emulator, "em", checkpoint=str(tmp_path / "missing" / "file"))


@ALL
def test_one_logon_is_kept_across_polls_renewed_when_it_expires_and_ended_at_the_close(emulator, driver, api):
    source = watcher(emulator, api)
    for _poll in range(4):
        source.step()
    counters = emulator.counters()[api]
    assert counters.get("logons", counters.get("tokens_issued")) == 1
    emulator.faults({"api": api, "action": "expire_sessions" if api == "em" else "expire_tokens", "times": 1})
    source.step()
    session_id = driver(api).run(APIS[api]["failing"])
    events, _pause = source.step()
    assert [e["veeam"]["session"]["id"] for e in events] == [session_id]  # the poll after the expiry went through
    source.close()
    counters = emulator.counters()[api]
    if api == "em":
        assert counters["logons"] == 3 and counters["open_sessions"] == 1  # ours: 2 (renewed once); the driver's: 1
    else:
        assert counters["open_tokens"] == 1  # the driver's


@ALL
def test_a_failing_server_backs_off_and_the_source_goes_on(emulator, driver, api):
    source = watcher(emulator, api, interval=1, max_backoff=5)
    source.step()
    # An error status twice (no retry: 500 is not transient), then garbage for every answer.
    ids = emulator.faults([{"api": api, "action": "status", "status": 500, "times": 2},
                           {"api": api, "action": "malformed", "body": "garbage"}])
    pauses = [source.step() for _poll in range(4)]
    assert [p for _events, p in pauses] == [2, 4, 5, 5]
    assert all(events == [] for events, _p in pauses)
    for fault in ids:
        emulator.control("DELETE", "faults/" + fault)
    assert source.step()[1] <= 1  # the server answers again: back to the interval
    emulator.faults({"api": api, "action": "malformed", "body": "html", "times": 1})
    assert source.step() == ([], 2)  # an IIS error page instead of the list: a failure again, the first in a row
    session_id = driver(api).run(APIS[api]["failing"])
    events, pause = source.step()
    assert [e["veeam"]["session"]["id"] for e in events] == [session_id] and pause <= 1
    source.close()


def test_a_server_that_is_down_at_the_start_and_comes_back(fresh_source_emulator):
    emu = fresh_source_emulator
    args = source_args(emu, "vbr", interval=1, max_backoff=2)
    emu.stop()
    source = J.Watcher(args, environ={})
    assert source.step() == ([], 2)
    assert source.step() == ([], 2)
    emu.start()
    assert source.step()[0] == []
    run = Driver(emu, "vbr")
    session_id = run.run(APIS["vbr"]["failing"])
    run.close()
    assert [e["veeam"]["session"]["id"] for e in source.step()[0]] == [session_id]
    source.close()


@ALL
def test_a_wrong_password_ends_the_source_with_a_clear_message(emulator, api):
    source = watcher(emulator, api, password="not-the-password-of-this-account")
    with pytest.raises(J.SourceError, match="rejected the username or password") as info:
        source.step()
    assert APIS[api]["password"] not in str(info.value)


def test_bad_arguments_are_refused_before_anything_is_sent(emulator):
    with pytest.raises(J.E.UsageError, match="api must be one of em, m365, vbr"):
        J.Watcher({"api": "vb365"}, environ={})
    with pytest.raises(J.E.UsageError, match="unknown argument results"):
        watcher(emulator, "em", results="Failed")
    with pytest.raises(J.E.UsageError, match="result 'Broken' is not one of"):
        watcher(emulator, "em", result="Broken")
    with pytest.raises(J.E.UsageError, match="interval must be a positive number of seconds"):
        watcher(emulator, "em", interval="0.1")
    with pytest.raises(J.E.UsageError, match="since 'yesterday' is not an ISO 8601"):
        watcher(emulator, "em", since="yesterday")
    with pytest.raises(J.E.UsageError, match="No server given.*VEEAM_VBR_SERVER"):
        J.Watcher({"api": "vbr", "username": "u", "password": "p"}, environ={})
    assert emulator.log() == []


def test_the_connection_comes_from_the_modules_environment_variables(emulator, driver):
    source = J.Watcher({"api": "m365", "interval": "0.5", "result": "Failed"}, environ=environment(emulator, "m365"))
    try:
        source.step()
        session_id = driver("m365").run(APIS["m365"]["failing"])
        assert [e["veeam"]["session"]["id"] for e in source.step()[0]] == [session_id]
    finally:
        source.close()


def test_the_extension_file_runs_as_ansible_rulebook_loads_it(emulator, driver, tmp_path):
    """runpy.run_path of the installed file in a process whose sys.path lacks the collections directory (as in
    ansible-rulebook): ``main`` finds the collection beside itself, puts an event on the queue, and logs off when
    cancelled."""
    import ansible_collections.backupops.veeam as collection  # pylint: disable=import-outside-toplevel

    plugin = Path(collection.__path__[0]) / "extensions" / "eda" / "plugins" / "event_source" / "job_sessions.py"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent("""
        import asyncio, json, runpy, sys
        args = json.loads(sys.argv[2])
        async def go():
            queue = asyncio.Queue()
            task = asyncio.ensure_future(runpy.run_path(sys.argv[1])["main"](queue, args))
            print("ready", flush=True)
            event = await asyncio.wait_for(queue.get(), 60)
            print(json.dumps(event), flush=True)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        asyncio.run(go())
    """), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen([sys.executable, "-I", str(script), str(plugin),  # pylint: disable=consider-using-with
                             json.dumps(source_args(emulator, "em", result="Failed"))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=30)
    while not [e for e in emulator.log() if "job_sessions" in str(e["headers"].get("User-Agent"))
               and e["path"] == "/api/query"]:
        assert datetime.datetime.now() < deadline and proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.2)
    session_id = driver("em").run(APIS["em"]["failing"])
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out)["veeam"]["session"]["id"] == session_id
    assert "Traceback" not in err
    counters = emulator.counters()["em"]
    assert counters["logoffs"] == 1 and counters["open_sessions"] == 1  # the source logged off; the driver is on
    assert not H.scan({"the extension's output": out + err})


@pytest.fixture()
def fresh_source_emulator(tmp_path: Path, source_log):  # pylint: disable=unused-argument
    emu = H.Emulator(tmp_path / "emu").start()
    emu.config({"jobs": {APIS["vbr"]["failing"]: {"duration": 1}}})
    yield emu
    emu.stop()
    findings = H.scan({"emulator access log": emu.stderr_text(),
                       "the source's log": "\n".join(r.getMessage() for r in source_log.records)})
    assert not findings, "\n".join(findings)
