"""Helpers for the VB365 emulator's own tests: build the API from a scenario and call it without a server."""

from __future__ import annotations

import copy
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .core import Clock, Request
from .m365 import Vb365Api

DEFAULT_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "default.yml"
USERNAME = "svc-ansible@contoso.example"
PASSWORD = "M365#Adm1n-Ans1ble-2026!z"
HOST = "127.0.0.1:4443"

# The default jobs, by role (ids are fixed in scenarios/default.yml).
JOB_EXCHANGE_CONTOSO = "3a6c1f10-5b1e-4e0a-9c11-000000000001"
JOB_SHAREPOINT_FAILED = "3a6c1f10-5b1e-4e0a-9c11-000000000002"
JOB_ONEDRIVE_WARNING = "3a6c1f10-5b1e-4e0a-9c11-000000000003"
JOB_TEAMS_DISABLED = "3a6c1f10-5b1e-4e0a-9c11-000000000004"
JOB_LONG = "3a6c1f10-5b1e-4e0a-9c11-000000000005"
JOB_EXCHANGE_FABRIKAM = "3a6c1f10-5b1e-4e0a-9c11-000000000006"
JOB_MUELLER = "3a6c1f10-5b1e-4e0a-9c11-000000000007"
JOB_FABRIKAM_WARNING = "3a6c1f10-5b1e-4e0a-9c11-000000000008"
JOB_NEVER_RUN = "3a6c1f10-5b1e-4e0a-9c11-000000000009"
ORG_CONTOSO = "1f0c6a52-7d3b-4c1e-9a4f-2b8e5d6c7a01"
ORG_FABRIKAM = "2e1d7b63-8e4c-4d2f-8b5a-3c9f6e7d8b02"


def default_scenario() -> dict[str, Any]:
    with open(DEFAULT_SCENARIO, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def make_api(m365_overrides: dict[str, Any] | None = None, speed: float = 0.0) -> tuple[Vb365Api, Clock]:
    """The API on the default scenario with a frozen clock (``speed=0``: time moves only by ``advance``)."""
    scenario = copy.deepcopy(default_scenario())
    scenario["m365"].update(m365_overrides or {})
    clock = Clock(speed)
    return Vb365Api(scenario, clock), clock


@dataclass
class Reply:
    status: int
    raw: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.raw.decode("utf-8")) if self.raw else None


class Caller:
    """Calls ``api.handle`` like the server would, keeping one bearer token."""

    def __init__(self, api: Vb365Api, host: str = HOST) -> None:
        self.api = api
        self.host = host
        self.token: str | None = None
        self.refresh: str | None = None
        self.log: list[tuple[str, str, Reply]] = []

    def call(self, method: str, path: str, body: Any = None, query: str | dict[str, Any] = "",
             headers: dict[str, str] | None = None, auth: bool = True, form: dict[str, str] | None = None) -> Reply:
        hdrs = {"Host": self.host, "User-Agent": "m365-testkit"}
        raw = b""
        if form is not None:
            raw = urllib.parse.urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif isinstance(body, bytes):
            raw = body
        elif body is not None:
            raw = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if auth and self.token:
            hdrs["Authorization"] = "Bearer " + self.token
        hdrs.update(headers or {})
        if isinstance(query, dict):
            query = urllib.parse.urlencode(query)
        resp = self.api.handle(Request(method, path, query, hdrs, raw))
        reply = Reply(resp.status, resp.body, dict(resp.headers))
        self.log.append((method, path, reply))
        return reply

    def login(self, version: int = 8, username: str = USERNAME, password: str = PASSWORD) -> Reply:
        reply = self.call("POST", "/v%d/token" % version, auth=False,
                          form={"grant_type": "password", "username": username, "password": password})
        if reply.status == 200:
            self.token = reply.json["access_token"]
            self.refresh = reply.json["refresh_token"]
        return reply

    # The control operations the conformance drive needs, done in-process.
    def advance(self, seconds: float) -> None:
        self.api.clock.advance(seconds)

    def configure(self, cfg: dict[str, Any]) -> None:
        self.api.apply_config(cfg)

    def expire_tokens(self) -> None:
        self.api.expire_auth()


# ----------------------------------------------------------------------------------------------- real server
class EmulatorProcess:
    """``python -m emulator`` on free ports with its own EMULATOR_DIR; ``stop()`` sends SIGTERM."""

    def __init__(self, directory: str, env: dict[str, str] | None = None, timeout: float = 30.0) -> None:
        tests_dir = str(Path(__file__).resolve().parent.parent)
        full_env = dict(os.environ, EMULATOR_DIR=directory, EMULATOR_EM_PORT="0", EMULATOR_M365_PORT="0",
                        EMULATOR_VBR_PORT="0", PYTHONPATH=tests_dir + os.pathsep + os.environ.get("PYTHONPATH", ""))
        full_env.update(env or {})
        self.directory = directory
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, "-m", "emulator"], env=full_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline() if self.proc.stdout else ""
            if "ready" in line or self.proc.poll() is not None:
                break
        if "ready" not in line:
            self.stop()
            raise RuntimeError("the emulator did not get ready: %r" % line)
        self.ready_line = line
        with open(os.path.join(directory, "endpoints.json"), encoding="utf-8") as handle:
            self.endpoints = json.load(handle)
        self.url = self.endpoints["m365_url"]
        self.context = ssl.create_default_context(cafile=self.endpoints["ca_path"]) if self.endpoints["tls"] else None

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode


class HttpCaller(Caller):
    """The same interface as :class:`Caller`, over HTTPS to a running emulator (control ops via /_emulator)."""

    def __init__(self, emu: EmulatorProcess) -> None:  # pylint: disable=super-init-not-called
        self.emu = emu
        self.api = None  # type: ignore[assignment]
        self.host = urllib.parse.urlsplit(emu.url).netloc
        self.token = None
        self.refresh = None
        self.log = []

    def call(self, method: str, path: str, body: Any = None, query: str | dict[str, Any] = "",
             headers: dict[str, str] | None = None, auth: bool = True, form: dict[str, str] | None = None) -> Reply:
        hdrs = {"User-Agent": "m365-testkit"}
        raw = None
        if form is not None:
            raw = urllib.parse.urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif isinstance(body, bytes):
            raw = body
        elif body is not None:
            raw = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if auth and self.token:
            hdrs["Authorization"] = "Bearer " + self.token
        hdrs.update(headers or {})
        if isinstance(query, dict):
            query = urllib.parse.urlencode(query)
        url = self.emu.url + urllib.parse.quote(path, safe="/%") + ("?" + query if query else "")
        request = urllib.request.Request(url, data=raw if raw is not None else (b"" if method == "POST" else None),
                                         headers=hdrs, method=method)
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
        self.control("POST", "config", cfg)

    def expire_tokens(self) -> None:
        """A one-shot ``expire_tokens`` fault rule: it acts on the next VB365 request."""
        self.control("POST", "faults", {"api": "m365", "method": "*", "path": ".", "action": "expire_tokens", "times": 1})

    def freeze(self) -> None:
        """Reset the emulator and nearly stop its clock (speed must stay > 0): time moves by ``advance``."""
        self.control("POST", "reset")
        self.control("POST", "clock", {"speed": 1e-6})
        self.token = self.refresh = None
