"""Fixtures for the emulator's own tests: in-process EM API objects and real emulator processes."""

from __future__ import annotations

import base64
import copy
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import yaml

from emulator.core import Clock, Request, Response
from emulator.em import EnterpriseManagerApi

REPO = Path(__file__).resolve().parents[3]
SAMPLES = Path(__file__).resolve().parent / "samples"
DEFAULT_SCENARIO = REPO / "tests" / "emulator" / "scenarios" / "default.yml"
NS = "{http://www.veeam.com/ent/v1.0}"

ADMIN = ("VEEAM\\ansible-admin", "Em#Adm1n-Ans1ble-2026!x")
PORTAL_USER = ("VEEAM\\portal-user", "Em#P0rtal-Us3r-2026!y")

# Default-scenario EM jobs (tests/emulator/scenarios/default.yml)
JOB_SQL = "f3bfa3f2-e279-4e04-b404-3245105a1e96"          # Backup, Success, 3 s
JOB_EXCHANGE = "5149dacc-18e9-4cc6-88f5-a719d5ad0c31"     # Backup HyperV, Warning
JOB_FILESERVER = "ed2964c9-b955-4477-b3b5-5eb266dbf8bd"   # Backup, Failed (retry -> Success)
JOB_REPLICA = "da094c3e-fdcf-4ce6-ac42-eecb7306bd53"      # Replica
JOB_COPY = "ba21ced3-8e0a-4035-8304-fd62751afdfb"         # BackupCopy
JOB_IMMEDIATE = "66f137d8-a485-4085-860c-4be1eb73f3c6"    # ImmediateBackupCopy
JOB_NAS = "f56f22d7-51fa-4916-a0d5-2faf2aa62ce2"          # file share
JOB_AGENT_WIN = "bbf92032-de99-4286-917c-2add64fc3477"    # agent, Success
JOB_AGENT_LINUX = "050ea243-24ed-437c-99a5-bed47225b3ee"  # agent, Failed
JOB_LONG = "8c81673e-e332-431a-a6df-bc0f54e9dac2"         # 600 s
JOB_NIGHTLY_1 = "09420358-8a6c-4cf1-9113-fb3faa1bf06a"    # "Nightly Backup" on vbr01
JOB_NIGHTLY_2 = "b1069f94-e73e-45d5-96a1-38d59c29ed73"    # "Nightly Backup" on vbr02
JOB_FRENCH = "35cbe660-5b45-43d8-acd8-7371107d8322"       # Sauvegarde quotidienne élémentaire
JOB_GOLD = "e1745c49-1168-4cbb-a77f-eb8735727a60"         # Backup "Gold"; tier,1
JOB_REPORTS = "b91c7584-ff34-46bf-b2e8-e6a41860e01f"      # Reports==Daily
JOB_RUNNING = "c6c5a51a-7f69-4e41-8401-70bd354fdfbb"      # running at start
JOB_WEEKLY = "cd751c07-580e-4bf5-b253-4ed69a307b39"       # schedule disabled
JOB_ADHOC = "158e417a-3d74-47c9-8487-4fa05e647941"        # no schedule
SERVER_1 = "6b705844-2b2a-4b69-8bc0-1172e65ce82c"
SERVER_2 = "406f0765-0bbf-45ff-b247-3b4e799aad65"


def default_scenario() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_SCENARIO.read_text(encoding="utf-8"))


def xml(body: bytes | str) -> ET.Element:
    return ET.fromstring(body if isinstance(body, bytes) else body.encode("utf-8"))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --------------------------------------------------------------------------------------------- in process

class EmCaller:
    """Calls ``EnterpriseManagerApi.handle`` like the server would, holding one session token."""

    def __init__(self, api: EnterpriseManagerApi, host: str = "em.test:9398") -> None:
        self.api = api
        self.host = host
        self.token: str | None = None

    def call(self, method: str, path: str, query: str | dict[str, str] = "", headers: dict[str, str] | None = None,
             auth: bool = True, body: bytes = b"") -> Response:
        hdrs = {"Host": self.host}
        if auth and self.token:
            hdrs["X-RestSvcSessionId"] = self.token
        hdrs.update(headers or {})
        if isinstance(query, dict):
            query = urllib.parse.urlencode(query)
        return self.api.handle(Request(method, path, query, hdrs, body))

    def logon(self, user: tuple[str, str] = ADMIN, version: str = "latest") -> Response:
        resp = self.call("POST", "/api/sessionMngr/", f"v={version}", {"Authorization": basic(*user)}, auth=False)
        if resp.status == 201:
            self.token = resp.headers["X-RestSvcSessionId"]
        return resp

    def get_xml(self, path: str, query: str | dict[str, str] = "") -> ET.Element:
        resp = self.call("GET", path, query)
        assert resp.status == 200, resp.body
        return xml(resp.body)

    def get_json(self, path: str, query: str | dict[str, str] = "") -> Any:
        resp = self.call("GET", path, query, {"Accept": "application/json"})
        assert resp.status == 200, resp.body
        return json.loads(resp.body.decode("utf-8-sig"))


def make_api(em_overrides: dict[str, Any] | None = None, scenario: dict[str, Any] | None = None,
             speed: float = 0.0) -> tuple[EnterpriseManagerApi, Clock]:
    """The EM API on the default scenario (or ``scenario``) with a frozen clock: time moves only by ``advance``."""
    data = copy.deepcopy(scenario if scenario is not None else default_scenario())
    data.setdefault("em", {}).update(em_overrides or {})
    clock = Clock(speed, start=1_780_000_000.0)
    api = EnterpriseManagerApi(data, clock)
    return api, clock


@pytest.fixture()
def em_api() -> tuple[EnterpriseManagerApi, Clock, EmCaller]:
    api, clock = make_api()
    caller = EmCaller(api)
    assert caller.logon().status == 201
    return api, clock, caller


# --------------------------------------------------------------------------------------------- processes

@dataclass
class EmulatorProcess:
    """A running ``python -m emulator`` subprocess."""

    proc: subprocess.Popen[str]
    directory: Path
    endpoints: dict[str, Any]
    stdout_lines: list[str] = field(default_factory=list)

    @property
    def em_url(self) -> str:
        return str(self.endpoints["em_url"])

    @property
    def scheme(self) -> str:
        return "https" if self.endpoints["tls"] else "http"

    @property
    def control_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.endpoints['em_port']}/_emulator"

    @property
    def verify(self) -> str | bool:
        return str(self.endpoints["ca_path"]) if self.endpoints["tls"] else False

    def session(self) -> requests.Session:
        """A requests session that really verifies against the emulator CA (no env overrides)."""
        sess = requests.Session()
        sess.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace session.verify
        sess.verify = self.verify
        return sess

    def control(self, method: str, name: str, payload: Any = None) -> Any:
        resp = requests.request(method, f"{self.control_url}/{name}", json=payload, verify=self.verify, timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


def start_emulator(directory: Path, extra_env: dict[str, str] | None = None, timeout: float = 20) -> EmulatorProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    env.update({"PYTHONPATH": str(REPO / "tests"), "EMULATOR_DIR": str(directory), "EMULATOR_EM_PORT": "0",
                "EMULATOR_M365_PORT": "0", "EMULATOR_VBR_PORT": "0", "PYTHONUNBUFFERED": "1"})
    env.update(extra_env or {})
    stderr = open(directory.parent / f"{directory.name}.stderr.log", "a", encoding="utf-8")  # pylint: disable=consider-using-with
    proc = subprocess.Popen([sys.executable, "-m", "emulator"], cwd=str(REPO), env=env, stdout=subprocess.PIPE,
                            stderr=stderr, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "ready" in line:
                ready.set()

    threading.Thread(target=reader, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.is_set():
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited with {proc.returncode}; see {stderr.name}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"emulator not ready after {timeout}s; see {stderr.name}")
        ready.wait(0.05)
    endpoints = json.loads((directory / "endpoints.json").read_text(encoding="utf-8"))
    return EmulatorProcess(proc, directory, endpoints, lines)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """One emulator for the server tests (TLS on, ephemeral ports); reset before each test by ``live``."""
    directory = tmp_path_factory.mktemp("emulator-shared")
    emu = start_emulator(directory)
    yield emu
    emu.stop()


@pytest.fixture()
def live(emulator: EmulatorProcess) -> EmulatorProcess:
    emulator.control("POST", "reset")
    return emulator


class EmHttp:
    """A small EM client for the server tests (the documented flow, by hand)."""

    def __init__(self, emu: EmulatorProcess, json_mode: bool = False) -> None:
        self.emu = emu
        self.http = emu.session()
        self.token: str | None = None
        self.json_mode = json_mode

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        hdrs: dict[str, str] = {}
        if self.token:
            hdrs["X-RestSvcSessionId"] = self.token
        if self.json_mode:
            hdrs["Accept"] = "application/json"
        hdrs.update(extra or {})
        return hdrs

    def logon(self, user: tuple[str, str] = ADMIN, version: str = "latest") -> requests.Response:
        resp = self.http.post(f"{self.emu.em_url}/sessionMngr/", params={"v": version}, auth=user, timeout=10)
        if resp.status_code == 201:
            self.token = resp.headers["X-RestSvcSessionId"]
        self.http.cookies.clear()  # send the header only (a stale cookie would win over it)
        return resp

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if not url.startswith("http"):
            url = f"{self.emu.em_url}{url}"
        kwargs.setdefault("timeout", 10)
        return self.http.request(method, url, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", url, **kwargs)
