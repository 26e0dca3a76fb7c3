"""The example rulebook (extensions/eda/rulebooks/retry_failed_job.yml) under ansible-rulebook, against the emulator:
for EM, VBR and VB365 at once (one ansible-rulebook each), a job made to fail - its retry fails too - is retried
exactly once, as the emulator's counters show.

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


def _retries(counters: dict[str, Any], api: str, job_id: str) -> int:
    """How many times the job was retried by the rulebook: VBR counts retries; EM and VB365 count starts (the
    test's own start is one of them)."""
    part = counters[api]
    if api == "vbr":
        return int(part["actions"].get(job_id, {}).get("retry", 0))
    return int(part["starts"].get(job_id, 0)) - 1


def _polling(emu: H.Emulator, api: str) -> bool:
    """Whether the source of ``api`` has polled twice (logged on, and past its first poll)."""
    polls = [e for e in emu.log() if e["api"] == api and "job_sessions" in str(e["headers"].get("User-Agent"))
             and e["method"] == "GET"]
    return len(polls) >= 2


def _wait(what: str, condition, timeout: float, procs: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        dead = {api: proc.returncode for api, proc in procs.items() if proc.poll() is not None}
        assert not dead, "ansible-rulebook ended early (%s) while waiting for %s" % (dead, what)
        assert time.monotonic() < deadline, "timed out waiting for %s" % what
        time.sleep(0.25)


def test_the_example_rulebook_retries_a_failed_job_exactly_once(emulator, driver, tmp_path):
    venv = os.environ.get("EDA_VENV")
    if not venv:
        pytest.skip("EDA_VENV is not set: run make eda (ansible-rulebook needs Java 17)")
    collections = os.environ["ANSIBLE_COLLECTIONS_PATH"]
    begun = time.monotonic()
    emulator.config({"jobs": {APIS["vbr"]["failing"]: {"retry_result": "Failed"}}})
    runs = {api: driver(api) for api in APIS}
    jobs = {api: str(runs[api].job(APIS[api]["failing"])["id"]) for api in APIS}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n", encoding="utf-8")
    procs: dict[str, subprocess.Popen[bytes]] = {}
    outputs: dict[str, Path] = {}
    try:
        for api in APIS:
            work = tmp_path / api
            work.mkdir()
            (work / "vars.yml").write_text("veeam_api: %s\nveeam_interval: %d\nveeam_checkpoint: %s\n" % (
                api, INTERVAL, work / "checkpoint.json"), encoding="utf-8")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("VEEAM_", "PYTHON"))}
            env.update(environment(emulator, api), HOME=str(work), ANSIBLE_COLLECTIONS_PATH=collections,
                       PATH=os.path.join(venv, "bin") + os.pathsep + os.environ.get("PATH", ""),
                       ANSIBLE_LOCAL_TEMP=str(work / "tmp"), ANSIBLE_NOCOLOR="1")
            outputs[api] = work / "ansible-rulebook.log"
            with open(outputs[api], "wb") as out:
                procs[api] = subprocess.Popen(  # pylint: disable=consider-using-with
                    [os.path.join(venv, "bin", "ansible-rulebook"), "--rulebook", "backupops.veeam.retry_failed_job",
                     "--inventory", str(inventory), "--vars", str(work / "vars.yml"), "--print-events", "-v"],
                    cwd=str(work), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        for api in APIS:
            _wait("the %s source to poll" % api, lambda api=api: _polling(emulator, api), 120, procs)
        failed = {api: runs[api].start(APIS[api]["failing"]) for api in APIS}
        for api in APIS:
            _wait("the rulebook to retry the %s job" % api,
                  lambda api=api: _retries(emulator.counters(), api, jobs[api]) >= 1, 90, procs)
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
            _wait("the %s retry to end" % api, lambda api=api: runs[api].ended(APIS[api]["failing"], retries[api]),
                  60, procs)
        for api in APIS:  # the rulebook received the failure of the retry (--print-events)...
            _wait("the %s rulebook to receive the retry's failure" % api,
                  lambda api=api: retries[api] in outputs[api].read_text(encoding="utf-8", errors="replace"), 120,
                  procs)
        time.sleep(GRACE)  # ...and had time to act on it: it must not have
        counters = emulator.counters()
        for api in APIS:
            assert _retries(counters, api, jobs[api]) == 1, "%s: %s" % (api, counters[api])
            text = outputs[api].read_text(encoding="utf-8", errors="replace")
            assert failed[api] in text and "Retrying %s job" % api in text
            assert text.count("Retrying %s job" % api) == 1
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        findings = H.scan({"ansible-rulebook (%s)" % api: path.read_text(encoding="utf-8", errors="replace")
                           for api, path in outputs.items() if path.exists()})
        print("ansible-rulebook check: %.1f s" % (time.monotonic() - begun))
    assert not findings, "\n".join(findings)
