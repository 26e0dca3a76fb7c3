"""Fixtures of the event source's tests (``make eda``): an emulator, the source's logs, clients to drive the jobs.

The emulator and the secret scan are the reliability suite's (``tests/reliability/harness.py``): one
``python -m emulator`` per test module on free ports, reset before each test; after each test the emulator's access
log and request log, and everything the source logged, are searched for the passwords and for every token the
emulator issued.  The collection is the installed one (``PYTHONPATH`` has ``make install``'s collections
directory), imported as ``ansible_collections.backupops.veeam``, as ansible-rulebook's worker imports it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reliability"))

import harness as H  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.backupops.veeam.plugins.module_utils import _em, _errors, _http, _m365, _vbr  # noqa: E402

#: Per API: the connection, its credentials, a job that fails (its run lasts a second here) and one that warns.
APIS: dict[str, dict[str, Any]] = {
    "em": {"module": _em, "url": "em_url", "username": H.EM_USER, "password": H.EM_PASSWORD,
           "failing": "File Server Backup", "warning": "Exchange Backup", "type": "backup"},
    "vbr": {"module": _vbr, "url": "vbr_url", "username": H.VBR_USER, "password": H.VBR_PASSWORD,
            "failing": "VBR Failing Job", "warning": "VBR Warning Job", "type": "backup"},
    "m365": {"module": _m365, "url": "m365_url", "username": H.M365_USER, "password": H.M365_PASSWORD,
             "failing": 'SharePoint "Intranet" Sites', "warning": "OneDrive Équipe Café", "type": "backup"},
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``EDA_SHARD=i/n`` (``make eda`` runs the source's tests in shards side by side; they mostly wait on the
    emulator's job runs): keep every n-th test from the i-th (1-based), deselect the others."""
    shard = os.environ.get("EDA_SHARD")
    if not shard:
        return
    index, count = (int(part) for part in shard.split("/"))
    kept = [item for number, item in enumerate(items) if number % count == index - 1]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


def vocabulary_event() -> dict[str, set[str]]:
    """The event's keys as docs/vocabulary.md lists them (its section "event"): ``{"veeam": {...}, "job": {...},
    "session": {...}}``."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "vocabulary.md").read_text(encoding="utf-8")
    section = page.split("\n## event", 1)[1].split("\n## ", 1)[0]
    keys = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
    out: dict[str, set[str]] = {"veeam": set(), "job": set(), "session": set()}
    for key in keys:
        part, _dot, name = key.rpartition(".")
        out["veeam"].add(part or name)
        if part:
            out[part].add(name)
    return out


def source_args(emu: H.Emulator, api: str, **extra: Any) -> dict[str, Any]:
    """The source's arguments for ``api`` on ``emu`` (interval 0.5 s)."""
    spec = APIS[api]
    args = {"api": api, "server": emu.endpoints[spec["url"]], "username": spec["username"],
            "password": spec["password"], "ca_path": emu.ca_path, "interval": 0.5}
    args.update(extra)
    return args


def environment(emu: H.Emulator, api: str) -> dict[str, str]:
    """The same, as the ``VEEAM_<API>_*`` environment variables the modules read."""
    spec, prefix = APIS[api], APIS[api]["module"].CONNECTION.env
    return {prefix + "_SERVER": emu.endpoints[spec["url"]], prefix + "_USERNAME": spec["username"],
            prefix + "_PASSWORD": spec["password"], prefix + "_CA_PATH": emu.ca_path}


class Driver:
    """The test's own client of one API (the collection's, with another User-Agent): starts jobs and waits for their
    sessions to end, as an operator or a schedule would."""

    def __init__(self, emu: H.Emulator, api: str) -> None:
        self.api = api
        spec = APIS[api]
        conn = spec["module"].CONNECTION
        transport = _http.Transport(_http.base_url(emu.endpoints[spec["url"]], conn.port, path=conn.base_path),
                                    ca_path=emu.ca_path, user_agent="eda-test-driver")
        params = {"username": spec["username"], "password": spec["password"], "api_version": conn.default_version}
        self.client = conn.connect(transport, params, _errors.Journal())
        self.client.__enter__()

    def close(self) -> None:
        self.client.__exit__(None, None, None)

    def job(self, name: str) -> dict[str, Any]:
        if self.api == "em":
            return dict(self.client.find_job(job_name=name))
        if self.api == "vbr":
            return dict(self.client.find_jobs([{"job_name": name}])[0])
        return dict(self.client.find_job(job_name=name))

    def start(self, name: str) -> str:
        """Start the job; the id of its new session."""
        job = self.job(name)
        if self.api == "em":
            self.client.start(job)
            return str(self.client.latest_session(job)["id"])
        session = self.client.act(job, "start")
        assert session and session.get("id"), session
        return str(session["id"])

    def ended(self, name: str, session_id: str) -> bool:
        if self.api == "em":
            session = [s for s in self.client.sessions(self.job(name)) if s["id"] == session_id][0]
            return not _em.session_running(session)
        if self.api == "vbr":
            return _vbr.session_ended(self.client.session(session_id))
        return _m365.has_ended(self.client.get_session(session_id).get("status"))

    def run(self, name: str, timeout: float = 30.0) -> str:
        """Start the job and wait until its session ended; the session's id."""
        session_id = self.start(name)
        deadline = time.monotonic() + timeout
        while not self.ended(name, session_id):
            assert time.monotonic() < deadline, "session %s of %r did not end" % (session_id, name)
            time.sleep(0.2)
        return session_id


@pytest.fixture(scope="module")
def _module_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[H.Emulator]:
    emu = H.Emulator(tmp_path_factory.mktemp("emu") / "state").start()
    yield emu
    emu.stop()


@pytest.fixture()
def source_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything logged (the source's own logger, the clients', urllib3's) at DEBUG."""
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture()
def emulator(_module_emulator: H.Emulator, source_log: pytest.LogCaptureFixture) -> Iterator[H.Emulator]:
    """The module's emulator, reset, with the jobs' runs shortened to a second; afterwards its logs and the
    source's are searched for secrets."""
    emu = _module_emulator
    if not emu.running:
        emu.start()
    emu.reset()
    emu.config({"jobs": {name: {"duration": 1} for spec in APIS.values() for name in (spec["failing"],
                                                                                      spec["warning"])}})
    mark = len(emu.stderr_text())
    yield emu
    emu.collect_tokens()
    texts = {"emulator access log": emu.stderr_text()[mark:],
             "the source's log": "\n".join(record.getMessage() for record in source_log.records)}
    if emu.running:
        texts["emulator request log"] = json.dumps(emu.log())
    findings = H.scan(texts)
    assert not findings, "\n".join(findings)


@pytest.fixture()
def driver(emulator: H.Emulator) -> Iterator[Callable[[str], Driver]]:
    made: list[Driver] = []

    def make(api: str) -> Driver:
        made.append(Driver(emulator, api))
        return made[-1]

    yield make
    for item in made:
        item.close()
