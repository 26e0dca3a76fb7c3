"""The example rulebook (extensions/eda/rulebooks/retry_failed_job.yml) under ansible-rulebook, against the emulator:
for EM, VBR and VB365 at once (one ansible-rulebook each), a job made to fail - its retry fails too - is retried
exactly once, as the emulator's counters show; the failure of the retry is received and not retried; restarted
with its checkpoint, the rulebook receives no event again.

ansible-rulebook comes from its own virtualenv (``EDA_VENV``, made by ``make eda`` from tools/requirements-eda.txt)
and needs Java 17; without ``EDA_VENV`` the test is skipped, and ``make eda`` says plainly that it did not run (with
CI=true it fails instead).  The collection is the installed one (``ANSIBLE_COLLECTIONS_PATH``)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import harness as H
from conftest import APIS, environment

#: Seconds between the source's polls in this test.
INTERVAL = 1
#: How long the rulebook is given, after it received the failure of the retry, to (wrongly) retry again.
GRACE = 5.0
#: The API whose rulebook is restarted with its checkpoint.
RESTARTED = "vbr"


def _retries(counters: dict[str, Any], api: str, job_id: str) -> int:
    """How many times the job was retried by the rulebook: VBR counts retries; EM and VB365 count starts (the
    test's own start is one of them)."""
    part = counters[api]
    if api == "vbr":
        return int(part["actions"].get(job_id, {}).get("retry", 0))
    return int(part["starts"].get(job_id, 0)) - 1


def _polls(emu: H.Emulator, api: str) -> int:
    """How many requests the source of ``api`` has sent to list sessions or jobs (its User-Agent names it)."""
    return len([e for e in emu.log() if e["api"] == api and "job_sessions" in str(e["headers"].get("User-Agent"))
                and e["method"] == "GET"])


def _wait(what: str, condition, timeout: float, procs: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        dead = {api: proc.returncode for api, proc in procs.items() if proc.poll() is not None}
        assert not dead, "ansible-rulebook ended early (%s) while waiting for %s" % (dead, what)
        assert time.monotonic() < deadline, "timed out waiting for %s" % what
        time.sleep(0.25)


class Rulebooks:
    """One ansible-rulebook per API, each with its own directory, checkpoint and output file; at -vv, so that the
    source's DEBUG records are in the output too (it is searched for secrets)."""

    def __init__(self, venv: str, emu: H.Emulator, tmp_path: Path) -> None:
        self.venv = venv
        self.emu = emu
        self.tmp_path = tmp_path
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.outputs: list[Path] = []
        self.inventory = tmp_path / "inventory.yml"
        self.inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n", encoding="utf-8")

    def start(self, api: str, run: int) -> Path:
        """Start the example rulebook for ``api`` (its ``run``-th start); the file its output goes to."""
        work = self.tmp_path / api
        work.mkdir(exist_ok=True)
        (work / "vars.yml").write_text("veeam_api: %s\nveeam_interval: %d\nveeam_checkpoint: %s\n" % (
            api, INTERVAL, work / "checkpoint.json"), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VEEAM_", "PYTHON"))}
        env.update(environment(self.emu, api), HOME=str(work),
                   ANSIBLE_COLLECTIONS_PATH=os.environ["ANSIBLE_COLLECTIONS_PATH"],
                   PATH=os.path.join(self.venv, "bin") + os.pathsep + os.environ.get("PATH", ""),
                   ANSIBLE_LOCAL_TEMP=str(work / "tmp"), ANSIBLE_NOCOLOR="1", PYTHONUNBUFFERED="1")
        output = work / ("ansible-rulebook-%d.log" % run)
        self.outputs.append(output)
        with open(output, "wb") as out:
            self.procs[api] = subprocess.Popen(  # pylint: disable=consider-using-with
                [os.path.join(self.venv, "bin", "ansible-rulebook"), "--rulebook", "backupops.veeam.retry_failed_job",
                 "--inventory", str(self.inventory), "--vars", str(work / "vars.yml"), "--print-events", "-vv"],
                cwd=str(work), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        return output

    def stop(self) -> None:
        """SIGTERM to every ansible-rulebook (and the playbooks it runs), SIGKILL to one that does not end."""
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        self.procs = {}

    def wait(self, what: str, condition, timeout: float) -> None:
        _wait(what, condition, timeout, self.procs)

    def wait_log(self, outputs: dict[str, Path], text: str, timeout: float = 120) -> None:
        """Until every rulebook's output has ``text``."""
        for api, path in outputs.items():
            self.wait("%r in the output of the %s rulebook" % (text, api),
                      lambda path=path: text in path.read_text(encoding="utf-8", errors="replace"), timeout)


def test_the_example_rulebook_retries_a_failed_job_exactly_once(emulator, driver, tmp_path):
    """The failure of the retry is received and not retried; a restart with the checkpoint receives no event again
    and retries nothing."""
    venv = os.environ.get("EDA_VENV")
    if not venv:
        pytest.skip("EDA_VENV is not set: run make eda (ansible-rulebook needs Java 17)")
    begun = time.monotonic()
    emulator.config({"jobs": {APIS["vbr"]["failing"]: {"retry_result": "Failed"}}})
    runs = {api: driver(api) for api in APIS}
    jobs = {api: str(runs[api].job(APIS[api]["failing"])["id"]) for api in APIS}
    rulebooks = Rulebooks(venv, emulator, tmp_path)
    try:
        outputs = {api: rulebooks.start(api, 1) for api in APIS}
        rulebooks.wait_log(outputs, "had ended before the source started")  # its first poll is done
        failed = {api: runs[api].start(APIS[api]["failing"]) for api in APIS}
        for api in APIS:
            rulebooks.wait("the rulebook to retry the %s job" % api,
                           lambda api=api: _retries(emulator.counters(), api, jobs[api]) >= 1, 90)
        retries = {}
        for api in APIS:
            job = runs[api].job(APIS[api]["failing"])
            if api == "em":
                retry = str(runs[api].client.latest_session(job)["id"])
            elif api == "vbr":
                retry = str(job["sessionId"])
            else:
                retry = str(runs[api].client.latest_session(job["id"])["id"])
            assert retry != failed[api]
            retries[api] = retry
            rulebooks.wait("the %s retry to end" % api,
                           lambda api=api: runs[api].ended(APIS[api]["failing"], retries[api]), 60)
        for api in APIS:  # the rulebook received the failure of the retry (--print-events)...
            rulebooks.wait("the %s rulebook to receive the retry's failure" % api,
                           lambda api=api: retries[api] in outputs[api].read_text(encoding="utf-8", errors="replace"),
                           120)
        time.sleep(GRACE)  # ...and had time to act on it: it must not have
        counters = emulator.counters()
        for api in APIS:
            assert _retries(counters, api, jobs[api]) == 1, "%s: %s" % (api, counters[api])
            text = outputs[api].read_text(encoding="utf-8", errors="replace")
            assert failed[api] in text and text.count("Retrying %s job" % api) == 1, text
            assert text.count("[received event]") == 2, text  # the failure and the retry's failure
        # A restart with the checkpoint (one API: one more Java start; tests/eda/test_job_sessions.py restarts the
        # source of each): nothing ended meanwhile, so no event, and no retry.
        rulebooks.stop()
        api = RESTARTED
        mark = _polls(emulator, api)
        again = rulebooks.start(api, 2)
        rulebooks.wait_log({api: again}, "where the checkpoint")
        rulebooks.wait("the restarted %s source to poll" % api, lambda: _polls(emulator, api) > mark, 60)
        mark = _polls(emulator, api)
        time.sleep(3 * INTERVAL)  # two polls more at least
        rulebooks.wait("the restarted %s source to poll again" % api, lambda: _polls(emulator, api) > mark, 60)
        text = again.read_text(encoding="utf-8", errors="replace")
        assert "[received event]" not in text and "Retrying" not in text, text
        assert _retries(emulator.counters(), api, jobs[api]) == 1, emulator.counters()[api]
    finally:
        rulebooks.stop()
        findings = H.scan({"ansible-rulebook (%s)" % path: path.read_text(encoding="utf-8", errors="replace")
                           for path in rulebooks.outputs if path.exists()})
        print("ansible-rulebook check: %.1f s" % (time.monotonic() - begun))
    assert not findings, "\n".join(findings)
