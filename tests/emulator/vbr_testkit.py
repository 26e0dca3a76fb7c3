"""Helpers for the VBR emulator's own tests: build the API from a scenario and call it in-process or over HTTPS."""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from .core import Clock, Request
from .m365_testkit import EmulatorProcess as _Process
from .m365_testkit import Reply
from .vbr import VbrApi

DEFAULT_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "default.yml"
REVISIONS = ("1.1-rev0", "1.2-rev1", "1.3-rev0", "1.3-rev1")

ADMIN = ("VEEAM\\ansible-vbr", "Vbr#Adm1n-Ans1ble-2026!y")
OPERATOR = ("VEEAM\\vbr-operator", "Vbr#0perat0r-Ans1ble-2026!o")
VIEWER = ("VEEAM\\vbr-viewer", "Vbr#V1ewer-Ans1ble-2026!v")

# The default jobs (ids are fixed in scenarios/default.yml).
JOB_DAILY = "9b2e4d70-1c3a-4f5e-8d90-000000000001"       # VSphereBackup, Success, 3 s
JOB_SQL = "9b2e4d70-1c3a-4f5e-8d90-000000000002"         # VSphereBackup, high priority, 4 s
JOB_COPY = "9b2e4d70-1c3a-4f5e-8d90-000000000003"        # BackupCopy (1.3-rev0+)
JOB_REPLICA = "9b2e4d70-1c3a-4f5e-8d90-000000000004"     # VSphereReplica (1.2-rev1+)
JOB_AGENT = "9b2e4d70-1c3a-4f5e-8d90-000000000005"       # LinuxAgentBackup (1.3-rev0+)
JOB_LONG = "9b2e4d70-1c3a-4f5e-8d90-000000000006"        # 600 s
JOB_FAILING = "9b2e4d70-1c3a-4f5e-8d90-000000000007"     # Failed, retry -> Success
JOB_WARNING = "9b2e4d70-1c3a-4f5e-8d90-000000000008"     # Warning
JOB_DISABLED = "9b2e4d70-1c3a-4f5e-8d90-000000000009"    # isDisabled, never run
JOB_HYPERV = "9b2e4d70-1c3a-4f5e-8d90-00000000000a"      # HyperVBackup (1.3-rev0+)
JOB_GOLD = "9b2e4d70-1c3a-4f5e-8d90-00000000000b"        # 'VBR "Gold" Backup, Tier 1'
JOB_FILES = "9b2e4d70-1c3a-4f5e-8d90-00000000000c"       # FileBackup (1.3-rev1+)
UNKNOWN_ID = "00000000-0000-4000-8000-0000000000ff"

#: How many default jobs each revision lists.
VISIBLE_JOBS = {"1.1-rev0": 7, "1.2-rev1": 8, "1.3-rev0": 11, "1.3-rev1": 12}


_SCENARIO: dict[str, Any] = {}


def default_scenario() -> dict[str, Any]:
    """The default scenario (parsed once; each call returns a fresh copy)."""
    if not _SCENARIO:
        with open(DEFAULT_SCENARIO, encoding="utf-8") as handle:
            _SCENARIO.update(yaml.safe_load(handle))
    return copy.deepcopy(_SCENARIO)


def make_api(vbr_overrides: dict[str, Any] | None = None, speed: float = 0.0,
             start: float = 1_780_000_000.0) -> tuple[VbrApi, Clock]:
    """The API on the default scenario with a frozen clock (``speed=0``: time moves only by ``advance``)."""
    scenario = default_scenario()
    scenario["vbr"].update(vbr_overrides or {})
    clock = Clock(speed, start=start)
    return VbrApi(scenario, clock), clock


def form(user: tuple[str, str] = ADMIN, grant: str = "password") -> dict[str, str]:
    return {"grant_type": grant, "username": user[0], "password": user[1]}


class Caller:
    """Calls ``api.handle`` like the server would, with one revision and one bearer token."""

    def __init__(self, api: VbrApi | None, revision: str = "1.3-rev1") -> None:
        self.api = api
        self.revision = revision
        self.token: str | None = None
        self.refresh: str | None = None
        self.log: list[tuple[str, str, Reply]] = []

    def _prepare(self, body: Any, query: str | dict[str, Any], headers: dict[str, str] | None, auth: bool,
                 form_data: dict[str, str] | None, revision: str | None) -> tuple[dict[str, str], bytes, str]:
        hdrs = {"User-Agent": "vbr-testkit", "Accept": "application/json"}
        if revision is not None or self.revision:
            hdrs["x-api-version"] = revision if revision is not None else self.revision
        raw = b""
        if form_data is not None:
            raw = urllib.parse.urlencode(form_data).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif isinstance(body, bytes):
            raw = body
        elif body is not None:
            raw = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if auth and self.token:
            hdrs["Authorization"] = "Bearer " + self.token
        hdrs.update(headers or {})
        hdrs = {k: v for k, v in hdrs.items() if v is not None}
        if isinstance(query, dict):
            query = urllib.parse.urlencode(query, doseq=True)
        return hdrs, raw, query

    def call(self, method: str, path: str, body: Any = None, query: str | dict[str, Any] = "",
             headers: dict[str, str] | None = None, auth: bool = True, form: dict[str, str] | None = None,
             revision: str | None = None) -> Reply:
        hdrs, raw, query = self._prepare(body, query, headers, auth, form, revision)
        assert self.api is not None
        resp = self.api.handle(Request(method, path, query, hdrs, raw))
        reply = Reply(resp.status, resp.body, dict(resp.headers))
        self.log.append((method, path, reply))
        return reply

    def login(self, user: tuple[str, str] = ADMIN, revision: str | None = None) -> Reply:
        reply = self.call("POST", "/api/oauth2/token", auth=False, form=form(user), revision=revision)
        if reply.status == 200:
            self.token = reply.json["access_token"]
            self.refresh = reply.json["refresh_token"]
        return reply

    # The control operations the conformance drive needs, done in-process.
    def advance(self, seconds: float) -> None:
        assert self.api is not None
        self.api.clock.advance(seconds)

    def configure(self, cfg: dict[str, Any]) -> None:
        assert self.api is not None
        self.api.apply_config(cfg)

    def expire_tokens(self) -> None:
        assert self.api is not None
        self.api.expire_auth()


# ----------------------------------------------------------------------------------------------- real server
class EmulatorProcess(_Process):
    """``python -m emulator`` on free ports (``EMULATOR_VBR_PORT=0`` too); ``url`` is the VBR listener's."""

    def __init__(self, directory: str, env: dict[str, str] | None = None, timeout: float = 30.0) -> None:
        super().__init__(directory, env, timeout)
        self.url = self.endpoints["vbr_url"]


class HttpCaller(Caller):
    """The same interface as :class:`Caller`, over HTTPS to a running emulator (control ops via /_emulator)."""

    def __init__(self, emu: EmulatorProcess, revision: str = "1.3-rev1") -> None:
        super().__init__(None, revision)
        self.emu = emu

    def call(self, method: str, path: str, body: Any = None, query: str | dict[str, Any] = "",
             headers: dict[str, str] | None = None, auth: bool = True, form: dict[str, str] | None = None,
             revision: str | None = None) -> Reply:
        hdrs, raw, query = self._prepare(body, query, headers, auth, form, revision)
        url = self.emu.url + urllib.parse.quote(path, safe="/%") + ("?" + query if query else "")
        request = urllib.request.Request(url, data=raw if raw or method == "POST" else None, headers=hdrs,
                                         method=method)
        try:
            with urllib.request.urlopen(request, context=self.emu.context, timeout=30) as resp:
                reply = Reply(resp.status, resp.read(), dict(resp.headers.items()))
        except urllib.error.HTTPError as err:
            reply = Reply(err.code, err.read(), dict(err.headers.items()))
        self.log.append((method, path, reply))
        return reply

    def control(self, method: str, name: str, data: Any = None) -> Any:
        raw = json.dumps(data).encode() if data is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(self.emu.url + "/_emulator/" + name, data=raw, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self.emu.context, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def advance(self, seconds: float) -> None:
        self.control("POST", "clock", {"advance": seconds})

    def configure(self, cfg: dict[str, Any]) -> None:
        self.control("POST", "config", {"vbr": {k: v for k, v in cfg.items() if k != "jobs"}, "jobs": cfg.get("jobs") or {}})

    def expire_tokens(self) -> None:
        """A one-shot ``expire_tokens`` fault rule: it acts on the next VBR request."""
        self.control("POST", "faults", {"api": "vbr", "method": "*", "path": ".", "action": "expire_tokens", "times": 1})

    def freeze(self) -> None:
        """Reset the emulator and nearly stop its clock (speed must stay > 0): time moves by ``advance``."""
        self.control("POST", "reset")
        self.control("POST", "clock", {"speed": 1e-6})
        self.token = self.refresh = None
