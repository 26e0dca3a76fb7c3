"""The reliability suite's machinery: emulator processes, ansible subprocesses, case batches, the secret scan.

Everything here drives the *installed* collection (``ANSIBLE_COLLECTIONS_PATH``, set by ``make reliability``)
through real ``ansible`` / ``ansible-playbook`` processes, always at ``-vvvv`` with ``ANSIBLE_DEBUG=1``, and
checks every byte they print (plus the emulator's request log and access log) for the secrets in play.

- :class:`Emulator`: one ``python -m emulator`` process (ephemeral ports, its own ``EMULATOR_DIR``, state kept
  so that the tokens it issued can be read back from ``state.json``), with the control endpoint as methods.
- :class:`Ansible`: runs ``ansible`` (ad-hoc) and ``ansible-playbook`` with HOME and every cache under a tmp
  directory, the ``reliability_recorder`` callback (``callback_plugins/``) writing each task result as JSON.
- :class:`Case` and :class:`Batch`: many cases run as tasks of one playbook (one ansible start-up for all of
  them); the recorder callback resets the emulator and installs each case's faults before its task, and reads
  the counters and the request log after it, so every case is judged on its own.
- :data:`SECRETS` and :func:`scan`: the passwords and every token the emulators issued; ``scan`` finds them
  (and Python tracebacks) in captured text.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CALLBACK_DIR = HERE / "callback_plugins"
PYTHON = sys.executable
BIN = Path(sys.executable).parent

# The emulator's default scenario (docs/emulator.md).  Long on purpose: a leak of a short secret could hide
# behind a coincidence, and Ansible's own masking of no_log values must not be what makes the scan pass.
EM_USER = "VEEAM\\ansible-admin"
EM_PASSWORD = "Em#Adm1n-Ans1ble-2026!x"
EM_PORTAL_USER = "VEEAM\\portal-user"
EM_PORTAL_PASSWORD = "Em#P0rtal-Us3r-2026!y"
M365_USER = "svc-ansible@contoso.example"
M365_PASSWORD = "M365#Adm1n-Ans1ble-2026!z"
VBR_USER = "VEEAM\\ansible-vbr"
VBR_PASSWORD = "Vbr#Adm1n-Ans1ble-2026!y"

# EM jobs of the default scenario
JOB_DAILY = "f3bfa3f2-e279-4e04-b404-3245105a1e96"          # Daily SQL Backup, 3 s, Success
JOB_EXCHANGE = "5149dacc-18e9-4cc6-88f5-a719d5ad0c31"       # Exchange Backup, Warning
JOB_GOLD = "e1745c49-1168-4cbb-a77f-eb8735727a60"           # Backup "Gold"; tier,1
JOB_REPORTS = "b91c7584-ff34-46bf-b2e8-e6a41860e01f"        # Reports==Daily
JOB_LONG = "8c81673e-e332-431a-a6df-bc0f54e9dac2"           # Long Running Archive, 600 s
# VB365 jobs of the default scenario
M365_EXCHANGE = "3a6c1f10-5b1e-4e0a-9c11-000000000001"      # Exchange Daily (contoso), 3 s, Success
M365_LONG = "3a6c1f10-5b1e-4e0a-9c11-000000000005"          # Long Archive Job, 600 s
M365_MUELLER = "3a6c1f10-5b1e-4e0a-9c11-000000000007"       # Müller's Mailboxes (fabrikam), 3 s, Success
# VBR jobs of the default scenario
VBR_DAILY = "9b2e4d70-1c3a-4f5e-8d90-000000000001"          # VBR Daily Backup, 3 s, Success
VBR_SQL = "9b2e4d70-1c3a-4f5e-8d90-000000000002"            # VBR SQL Backup, 4 s, Success

FQCN = "backupops.veeam."

#: ansible-core's own debug line that echoes a task's module arguments before the module runs.  ansible-core
#: documents that debug output ignores no_log ("Debug output can also include secret information despite
#: no_log settings being enabled", config DEFAULT_DEBUG); the collection cannot influence this line, so the
#: scan leaves it out, and only it.  test_secrets.py shows that without ANSIBLE_DEBUG nothing is exempted.
CORE_ARGS_ECHO = re.compile(r"^\s*\d+ \d+\.\d+: done with _execute_module \(.*$", re.MULTILINE)
#: ansible-core's debug line with a module's raw output (before no_log is applied).  In it, and only there, the
#: value of ``session_token`` (what veeam_em_session returns, documented as a secret to register with no_log)
#: is left out; everything else in that line, every other token and every password are still searched for.
CORE_RAW_OUTPUT = re.compile(r"^\s*\d+ \d+\.\d+: _low_level_execute_command\(\) done: rc=-?\d+, stdout=.*?\n, stderr=",
                             re.MULTILINE | re.DOTALL)
RAW_SESSION_TOKEN = re.compile(r'"session_token": "[^"]*"')
#: A value Ansible masked because it equals a no_log option's value (eight stars alone, not a banner).
MASKED = re.compile(r"(?<!\*)\*{8}(?!\*)")
#: The padding of ansible-core's banners ("TASK [name] ****..." up to the terminal's width, at least three stars;
#: in the log file after its "... INFO| " prefix): a task name of the right length leaves exactly eight stars.  Only
#: the padding at the end of a banner line is left out of the search for MASKED; the name itself is still searched.
BANNER_PADDING = re.compile(r"^((?:[^\n|]*\| )?(?:TASK|PLAY|PLAY RECAP|RUNNING HANDLER|HANDLER|CLEANUP TASK)"
                            r"(?: \[[^\n]*\])? )\*{3,}$", re.MULTILINE)


def exempt(text: str) -> str:
    """``text`` without what ansible-core's debug output prints of task arguments (see CORE_ARGS_ECHO)."""
    text = CORE_ARGS_ECHO.sub("<ansible-core debug: module arguments>", text)
    return CORE_RAW_OUTPUT.sub(lambda m: RAW_SESSION_TOKEN.sub('"session_token": "<returned>"', m.group(0)), text)


# ------------------------------------------------------------------------------------------------- secrets

class Secrets:
    """Every secret in play: the scenario's passwords and every token an emulator of this run issued."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: dict[str, str] = {EM_PASSWORD: "EM password", EM_PORTAL_PASSWORD: "EM portal password",
                                       M365_PASSWORD: "VB365 password", VBR_PASSWORD: "VBR password"}

    def add(self, value: str, kind: str) -> None:
        if not isinstance(value, str) or len(value) < 16:
            raise AssertionError(f"a {kind} shorter than 16 characters cannot be searched for reliably: {len(value)}")
        with self._lock:
            self.values.setdefault(value, kind)

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return dict(self.values)

    def count(self, kind_prefix: str) -> int:
        with self._lock:
            return sum(1 for kind in self.values.values() if kind.startswith(kind_prefix))


SECRETS = Secrets()


def tokens_in_state(path: Path) -> list[tuple[str, str]]:
    """``(token, kind)`` of every EM session token and VB365 and VBR access/refresh token in an emulator's
    state.json."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    found = []
    for logon in (data.get("em") or {}).get("logons") or []:
        if logon.get("token"):
            found.append((logon["token"], "EM session token"))
    m365 = data.get("m365") or {}
    found.extend((token, "VB365 access token") for token in (m365.get("tokens") or {}))
    found.extend((token, "VB365 refresh token") for token in (m365.get("refresh_tokens") or {}))
    vbr = data.get("vbr") or {}
    found.extend((token, "VBR access token") for token in (vbr.get("tokens") or {}))
    found.extend((token, "VBR refresh token") for token in (vbr.get("refresh_tokens") or {}))
    return found


def _variants(secret: str) -> list[str]:
    """The secret as it could appear in captured text: raw, JSON-escaped, URL-encoded."""
    out = {secret, json.dumps(secret)[1:-1]}
    out.add(urllib.request.quote(secret, safe=""))
    return sorted(out)


def scan(texts: dict[str, str]) -> list[str]:
    """Findings (empty when clean): secrets and Python tracebacks in ``{where: text}``."""
    secrets = SECRETS.snapshot()
    findings = []
    for where, text in texts.items():
        if not text:
            continue
        clean = exempt(text)
        for secret, kind in secrets.items():
            for variant in _variants(secret):
                pos = clean.find(variant)
                if pos >= 0:
                    context = clean[max(0, pos - 120):pos].replace("\n", " ")
                    findings.append(f"{kind} found in {where}, after: ...{context[-120:]}")
                    break
        if "Traceback" in text:
            pos = text.find("Traceback")
            findings.append(f"a Python traceback in {where}: {text[pos:pos + 400]!r}")
        masked = MASKED.search(BANNER_PADDING.sub(r"\1<banner padding>", clean))
        if masked:
            pos = masked.start()
            findings.append(f"a value Ansible masked as ******** (a no_log value came back) in {where}: "
                            f"{clean[max(0, pos - 150):pos + 20]!r}")
    return findings


# ------------------------------------------------------------------------------------------------- emulator

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Emulator:
    """A ``python -m emulator`` subprocess with its own directory, ports and state."""

    def __init__(self, directory: Path, tls: bool = True, em_port: int = 0, m365_port: int = 0,
                 scenario: Path | None = None, vbr_port: int = 0) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.tls = tls
        self.em_port = em_port
        self.m365_port = m365_port
        self.vbr_port = vbr_port
        self.scenario = scenario
        self.proc: subprocess.Popen[str] | None = None
        self.endpoints: dict[str, Any] = {}
        self.stderr_path = self.directory.parent / (self.directory.name + ".stderr.log")
        self.stdout_lines: list[str] = []
        self.starts = 0

    # ---------------------------------------------------------------- process
    def start(self, timeout: float = 30.0) -> "Emulator":
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
        env.update({"PYTHONPATH": str(REPO / "tests"), "EMULATOR_DIR": str(self.directory),
                    "EMULATOR_EM_PORT": str(self.em_port), "EMULATOR_M365_PORT": str(self.m365_port),
                    "EMULATOR_VBR_PORT": str(self.vbr_port),
                    "EMULATOR_TLS": "1" if self.tls else "0", "EMULATOR_KEEP_STATE": "1", "PYTHONUNBUFFERED": "1"})
        if self.scenario:
            env["EMULATOR_SCENARIO"] = str(self.scenario)
        (self.directory / "endpoints.json").unlink(missing_ok=True)
        with open(self.stderr_path, "a", encoding="utf-8") as stderr:
            self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
                [PYTHON, "-m", "emulator"], cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=stderr,
                text=True, start_new_session=True)
        ready = threading.Event()

        def reader(proc: subprocess.Popen[str]) -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.stdout_lines.append(line.rstrip("\n"))
                if "ready" in line:
                    ready.set()

        threading.Thread(target=reader, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the emulator did not get ready: {self.stderr_text()[-2000:]}")
        self.endpoints = json.loads((self.directory / "endpoints.json").read_text(encoding="utf-8"))
        self.em_port = int(self.endpoints["em_port"])
        self.m365_port = int(self.endpoints["m365_port"])
        self.vbr_port = int(self.endpoints["vbr_port"])
        self.starts += 1
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        """Stop the process (SIGTERM: it writes its state and exits 0)."""
        if self.proc is None:
            return None
        self.collect_tokens()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=timeout)
        self.collect_tokens()
        return code

    def restart(self) -> "Emulator":
        """SIGTERM, then start again on the same ports and directory: the state is kept."""
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ---------------------------------------------------------------- addresses
    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def ca_path(self) -> str:
        return str(self.directory / "ca.pem")

    @property
    def state_path(self) -> Path:
        return self.directory / "state.json"

    @property
    def control_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.em_port}/_emulator"

    def describe(self) -> dict[str, Any]:
        """What the recorder callback needs to drive this emulator."""
        return {"control": self.control_url, "ca": self.ca_path if self.tls else None, "state": str(self.state_path)}

    # ---------------------------------------------------------------- control endpoint
    def control(self, method: str, name: str, payload: Any = None, timeout: float = 30.0) -> Any:
        return control_request(self.describe(), method, name, payload, timeout)

    def reset(self) -> None:
        self.collect_tokens()
        self.control("POST", "reset")

    def faults(self, rules: list[dict[str, Any]] | dict[str, Any]) -> list[str]:
        return list(self.control("POST", "faults", rules)["ids"])

    def config(self, cfg: dict[str, Any]) -> None:
        self.control("POST", "config", cfg)

    def clock(self, **values: float) -> None:
        self.control("POST", "clock", values)

    def counters(self) -> dict[str, Any]:
        return dict(self.control("GET", "counters"))

    def log(self) -> list[dict[str, Any]]:
        return list(self.control("GET", "log"))

    def state(self) -> dict[str, Any]:
        return dict(self.control("GET", "state"))

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def collect_tokens(self) -> int:
        """Add every token in state.json to :data:`SECRETS`; how many there are."""
        found = tokens_in_state(self.state_path)
        for token, kind in found:
            SECRETS.add(token, kind)
        return len(found)


def _ssl_context(ca: str | None) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=ca) if ca else None


def control_request(emu: dict[str, Any], method: str, name: str, payload: Any = None, timeout: float = 30.0) -> Any:
    """One request to an emulator's control endpoint (stdlib only: the recorder callback uses it too)."""
    data = None if payload is None else json.dumps(payload).encode("utf-8")
    req = urllib.request.Request(f"{emu['control']}/{name}", data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=_ssl_context(emu.get("ca"))))
    try:
        with opener.open(req, timeout=timeout) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"emulator control {method} {name} answered {exc.code}: {exc.read()[:500]!r}") from None
    return json.loads(body) if body else None


# ------------------------------------------------------------------------------------------------- proxy

class RewriteProxy:
    """A plain-HTTP proxy in front of one listener of an emulator that rewrites the bodies of chosen answers.

    The emulator cannot send values that Veeam does not document (unknown states, enum values, missing fields);
    this proxy makes them from its real answers.  Rules come through the same control endpoint as the fault
    rules: ``POST /_emulator/faults`` with ``{"action": "rewrite", "method": "GET", "path": "<regex>",
    "replace": [["<regex>", "<replacement>"], ...], "times": null}`` is kept here, anything else is passed on;
    ``POST /_emulator/reset`` drops the rewrite rules and resets the emulator.  The module under test talks to
    ``http://127.0.0.1:<proxy port>``; every other request and control call goes to the emulator unchanged.
    """

    def __init__(self, emulator: Emulator, api: str) -> None:
        self.emulator = emulator
        self.api = api
        self.rules: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
                return

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = proxy.handle(self.command, self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def describe(self) -> dict[str, Any]:
        return {"control": f"http://127.0.0.1:{self.port}/_emulator", "ca": None, "state": str(self.emulator.state_path)}

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, list, bytes]:
        if target.startswith("/_emulator/"):
            return self._control(method, target, body)
        port = {"em": self.emulator.em_port, "m365": self.emulator.m365_port, "vbr": self.emulator.vbr_port}[self.api]
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=_ssl_context(self.emulator.ca_path), timeout=120)
        try:
            out = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection", "proxy-connection")}
            conn.request(method, target, body=body or None, headers=out)
            resp = conn.getresponse()
            payload = resp.read()
            status = resp.status
            kept = [(k, v) for k, v in resp.getheaders()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection")]
        finally:
            conn.close()
        return status, kept, self._rewrite(method, target, payload)

    def _rewrite(self, method: str, target: str, payload: bytes) -> bytes:
        with self.lock:
            rules = [rule for rule in self.rules if rule.get("method", "*") in ("*", method)
                     and re.search(rule.get("path", ""), target)
                     and (rule.get("times") is None or rule["applied"] < rule["times"])]
            for rule in rules:
                rule["applied"] += 1
        text = payload.decode("utf-8", errors="surrogateescape")
        for rule in rules:
            for pattern, replacement in rule["replace"]:
                text = re.sub(pattern, replacement, text)
        return text.encode("utf-8", errors="surrogateescape")

    def _control(self, method: str, target: str, body: bytes) -> tuple[int, list, bytes]:
        name = target[len("/_emulator/"):]
        payload = json.loads(body) if body else None
        if method == "POST" and name == "reset":
            with self.lock:
                self.rules = []
        if method == "POST" and name == "faults":
            items = payload if isinstance(payload, list) else [payload]
            mine = [dict(item, applied=0) for item in items if item.get("action") == "rewrite"]
            with self.lock:
                self.rules.extend(mine)
            others = [item for item in items if item.get("action") != "rewrite"]
            answer = self.emulator.control("POST", "faults", others) if others else {"ids": []}
            return 200, [("Content-Type", "application/json")], json.dumps(answer).encode()
        answer = self.emulator.control(method, name.split("?")[0], payload)
        if method == "GET" and name == "faults":
            with self.lock:
                answer = list(answer) + [dict(rule) for rule in self.rules]
        return 200, [("Content-Type", "application/json")], json.dumps(answer).encode()


# ------------------------------------------------------------------------------------------------- scripted server

@dataclass
class Answer:
    """What :class:`ScriptedServer` sends: ``drip`` seconds between bytes, from byte ``drip_from`` on (0: the
    status line too, a slow server; past the headers: a slow body)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drip: float = 0.0
    drip_from: int = 0


class ScriptedServer:
    """A plain-HTTP server whose answers a test scripts (``answer(method, path, headers, body) -> Answer``): for
    servers the emulator cannot be, because they break HTTP itself (answers sent a byte at a time) or break a
    documented contract wholesale (a list that ignores ``offset``).  Every request is kept in ``requests``."""

    def __init__(self, answer: Callable[[str, str, dict[str, str], bytes], Answer]) -> None:
        self.answer = answer
        self.requests: list[tuple[str, str]] = []
        self.stopping = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()

    def __enter__(self) -> "ScriptedServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _address = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        reader = conn.makefile("rb")
        try:
            while not self.stopping.is_set():
                line = reader.readline(65536)
                if not line:
                    return
                method, target = line.decode("latin-1").split(" ")[:2]
                headers = {}
                while True:
                    header = reader.readline(65536).decode("latin-1")
                    if header in ("\r\n", "\n", ""):
                        break
                    name, _sep, value = header.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = reader.read(int(headers.get("content-length") or 0))
                self.requests.append((method, target))
                answer = self.answer(method, target, headers, body)
                head = f"HTTP/1.1 {answer.status} {http.client.responses.get(answer.status, 'Unknown')}\r\n"
                out_headers = {"Content-Length": str(len(answer.body)), **answer.headers}
                head += "".join(f"{k}: {v}\r\n" for k, v in out_headers.items()) + "\r\n"
                data = head.encode("latin-1") + answer.body
                if answer.drip:
                    conn.sendall(data[:answer.drip_from])
                    for i in range(answer.drip_from, len(data)):
                        if self.stopping.wait(answer.drip):
                            return
                        conn.sendall(data[i:i + 1])
                else:
                    conn.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            reader.close()
            conn.close()


# ------------------------------------------------------------------------------------------------- ansible

def collections_path() -> str:
    path = os.environ.get("ANSIBLE_COLLECTIONS_PATH")
    if not path:
        path = str(REPO / ".work" / os.environ.get("WORKSET", "default") / "collections")
    if not (Path(path.split(":")[0]) / "ansible_collections" / "backupops" / "veeam" / "MANIFEST.json").exists():
        raise RuntimeError(f"backupops.veeam is not installed under {path}: run `make reliability WORKSET=rel`")
    return path


@dataclass
class Run:
    """One ansible process: what it printed and what the recorder callback wrote."""

    argv: list[str]
    rc: int
    stdout: str
    stderr: str
    log_file: str
    records: list[dict[str, Any]]
    seconds: float
    findings: list[str] = field(default_factory=list)

    @property
    def result(self) -> dict[str, Any]:
        """The result of the one task of an ad-hoc run (or the last task of a playbook)."""
        assert self.records, f"no task result was recorded (rc {self.rc}):\n{self.stdout[-3000:]}\n{self.stderr[-2000:]}"
        return _with_status(self.records[-1])

    def task(self, name: str) -> dict[str, Any]:
        for record in self.records:
            if record.get("task") == name:
                return _with_status(record)
        raise AssertionError(f"no result of task {name!r}; tasks: {[r.get('task') for r in self.records]}")

    def texts(self) -> dict[str, str]:
        results = [{k: v for k, v in record.items() if k != "tokens"} for record in self.records]
        return {"stdout": self.stdout, "stderr": self.stderr, "ansible log": self.log_file,
                "returned results": json.dumps(results)}


def _with_status(record: dict[str, Any]) -> dict[str, Any]:
    """A recorded result with ``failed`` set from the task's status (callbacks get results without it)."""
    return dict(record["result"], failed=record.get("status") == "failed")


class Ansible:
    """Runs ansible and ansible-playbook like a user would, with every cache and temp file under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.home = self.root / "home"
        self.home.mkdir(exist_ok=True)
        self.counter = 0
        self.runs: list[Run] = []
        self._lock = threading.Lock()

    def env(self, extra: dict[str, str] | None, record: Path, log: Path, debug: bool = True) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ANSIBLE_", "VEEAM_", "EMULATOR_")) and k.lower() not in (
                   "http_proxy", "https_proxy", "all_proxy", "requests_ca_bundle", "curl_ca_bundle")}
        env.update({
            "HOME": str(self.home),
            "ANSIBLE_COLLECTIONS_PATH": collections_path(),
            "ANSIBLE_LOCAL_TEMP": str(self.home / ".ansible" / "tmp"),
            "ANSIBLE_REMOTE_TEMP": str(self.home / ".ansible" / "remote"),
            "ANSIBLE_LOG_PATH": str(log),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_DIR),
            "ANSIBLE_CALLBACKS_ENABLED": "reliability_recorder",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "RELIABILITY_RECORD": str(record),
            "NO_PROXY": "127.0.0.1,localhost,::1",
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        })
        if debug:
            env["ANSIBLE_DEBUG"] = "1"
        env.update(extra or {})
        return env

    def _next(self, stem: str) -> Path:
        with self._lock:
            self.counter += 1
            path = self.root / f"{self.counter:03d}-{stem}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _run(self, argv: list[str], workdir: Path, env: dict[str, str] | None, timeout: float,
             debug: bool = True, verbosity: str = "-vvvv") -> Run:
        record, log = workdir / "records.jsonl", workdir / "ansible.log"
        argv = [argv[0], verbosity] + argv[1:] if verbosity else argv
        started = time.monotonic()
        try:
            proc = subprocess.run(argv, cwd=str(workdir), env=self.env(env, record, log, debug), capture_output=True,
                                  text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(self._timed_out(workdir, record, exc)) from None
        seconds = time.monotonic() - started
        (workdir / "stdout.txt").write_text(proc.stdout, encoding="utf-8")
        (workdir / "stderr.txt").write_text(proc.stderr, encoding="utf-8")
        records = []
        if record.exists():
            records = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines() if line.strip()]
        for item in records:
            for token, kind in item.get("tokens") or []:
                SECRETS.add(token, kind)
        run = Run(argv, proc.returncode, proc.stdout, proc.stderr, log.read_text(encoding="utf-8") if log.exists()
                  else "", records, seconds)
        run.findings = scan(run.texts())
        self.runs.append(run)
        return run

    @staticmethod
    def _timed_out(workdir: Path, record: Path, exc: subprocess.TimeoutExpired) -> str:
        """Keep what a run that overran its time limit printed, and say which task it was in (the last one the
        recorder saw end, and the output's last lines), so that a hang can be told from a slow machine."""
        def text(value: Any) -> str:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")
        out, err = text(exc.stdout), text(exc.stderr)
        (workdir / "stdout.txt").write_text(out, encoding="utf-8")
        (workdir / "stderr.txt").write_text(err, encoding="utf-8")
        done = []
        if record.exists():
            done = [json.loads(line).get("task") for line in record.read_text(encoding="utf-8").splitlines()
                    if line.strip()]
        tasks = re.findall(r"^TASK \[(.*?)\]", out, flags=re.MULTILINE)
        return (f"{exc.cmd[0]} did not end within {exc.timeout} s; tasks done: {len(done)} (last: "
                f"{done[-1] if done else None}); last task started: {tasks[-1] if tasks else None}; its output is "
                f"kept in {workdir}; end of it:\n{out[-3000:]}\n{err[-1000:]}")

    def adhoc(self, module: str, args: dict[str, Any], env: dict[str, str] | None = None, check: bool = False,
              timeout: float = 240.0, debug: bool = True, verbosity: str = "-vvvv") -> Run:
        """``ansible localhost -m backupops.veeam.<module> -a '<json args>'``."""
        workdir = self._next(module)
        argv = [str(BIN / "ansible"), "localhost", "-c", "local", "-e", f"ansible_python_interpreter={PYTHON}",
                "-m", FQCN + module, "-a", json.dumps(args)]
        if check:
            argv.append("--check")
        return self._run(argv, workdir, env, timeout, debug, verbosity)

    def playbook(self, plays: list[dict[str, Any]], env: dict[str, str] | None = None, name: str = "play",
                 timeout: float = 600.0, debug: bool = True, verbosity: str = "-vvvv",
                 extra_vars: dict[str, Any] | None = None) -> Run:
        """``ansible-playbook`` of ``plays`` (written as JSON, which is YAML)."""
        workdir = self._next(name)
        book = workdir / "playbook.yml"
        book.write_text(json.dumps(plays, indent=1), encoding="utf-8")
        argv = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e",
                f"ansible_python_interpreter={PYTHON}", str(book)]
        if extra_vars:
            argv[1:1] = ["-e", json.dumps(extra_vars)]
        return self._run(argv, workdir, env, timeout, debug, verbosity)


def em_env() -> dict[str, str]:
    """The passwords reach the modules through their environment fallbacks, as an AWX/AAP credential does."""
    return {"VEEAM_EM_PASSWORD": EM_PASSWORD, "VEEAM_M365_PASSWORD": M365_PASSWORD, "VEEAM_VBR_PASSWORD": VBR_PASSWORD}


def _conn(emu: Emulator, port: int, username: str, extra: dict[str, Any]) -> dict[str, Any]:
    args = {"server": "127.0.0.1", "port": port, "username": username}
    if emu.tls:
        args["ca_path"] = emu.ca_path
    args.update(extra)
    return {k: v for k, v in args.items() if v is not DROP}


def em_conn(emu: Emulator, **extra: Any) -> dict[str, Any]:
    return _conn(emu, emu.em_port, EM_USER, extra)


def m365_conn(emu: Emulator, **extra: Any) -> dict[str, Any]:
    return _conn(emu, emu.m365_port, M365_USER, extra)


def vbr_conn(emu: Emulator, **extra: Any) -> dict[str, Any]:
    return _conn(emu, emu.vbr_port, VBR_USER, extra)


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


#: In a case's args: leave this connection option out.
DROP = _Drop()


# ------------------------------------------------------------------------------------------------- cases

@dataclass
class Case:
    """One module call with its emulator setup and what must come of it.

    ``args`` are the module's own options; ``api`` (``em``/``m365``/``vbr``) adds the connection options of that API
    (server, port, username, ca_path; the password comes from the environment), which ``args`` may override
    (``DROP`` removes one).  Strings in ``args`` may name ``{em_port}``, ``{m365_port}``, ``{vbr_port}``, ``{ca}``,
    ``{http_em_port}``, ``{http_m365_port}`` and ``{closed_port}``.
    """

    id: str
    module: str
    args: dict[str, Any]
    api: str | None = "em"
    emulator: str = "main"
    faults: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    clock: dict[str, Any] = field(default_factory=dict)
    check_mode: bool = False
    # what must come of it
    failed: bool = True
    msg: tuple[str, ...] = ()
    msg_not: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    starts: dict[str, int] = field(default_factory=dict)
    changed: bool | None = None
    open_sessions: int = 0
    open_tokens: int = 0
    open_vbr_tokens: int = 0
    xfail: str = ""
    check: Callable[[dict[str, Any]], None] | None = None
    area: str = ""
    title: str = ""

    def label(self) -> str:
        return self.title or self.id


@dataclass
class Outcome:
    """What one case produced."""

    case: Case
    record: dict[str, Any]
    output: str

    @property
    def result(self) -> dict[str, Any]:
        return dict(self.record.get("result") or {})

    @property
    def counters(self) -> dict[str, Any]:
        return dict(self.record.get("counters") or {})

    @property
    def log(self) -> list[dict[str, Any]]:
        return list(self.record.get("log") or [])


def _fill(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if re.fullmatch(r"\{(\w+)\}", value) and value[1:-1] in values:
            return values[value[1:-1]]
        return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), value)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


#: What the tests that run ansible themselves saw: (area, title, result), for docs/reliability.md.
NOTES: list[dict[str, Any]] = []


def note(area: str, title: str, result: dict[str, Any], xfail: str = "") -> dict[str, Any]:
    """Keep a run's outcome for the report (``RELIABILITY_REPORT``); returns ``result``."""
    NOTES.append({"area": area, "title": title, "failed": bool(result.get("failed")), "msg": result.get("msg", ""),
                  "warnings": list(result.get("warnings") or []), "xfail": xfail})
    return result


def report() -> list[dict[str, Any]]:
    """Every case and noted run with what the user saw (written by conftest when RELIABILITY_REPORT is set)."""
    rows = []
    for batch in BATCHES.values():
        for case in batch.cases:
            outcome = batch.outcomes.get(case.id)
            if outcome is None:
                continue
            result = outcome.result
            rows.append({"batch": batch.name, "id": case.id, "area": case.area, "title": case.label(),
                         "module": case.module, "failed": outcome.record.get("status") == "failed",
                         "xfail": case.xfail, "msg": result.get("msg", ""), "warnings": list(result.get("warnings") or []),
                         "seconds": round(outcome.record.get("end", 0) - outcome.record.get("start", 0), 1)})
    return rows + [dict(row, batch="", id="", module="") for row in NOTES]


#: Batches by name; the test modules register theirs at import, conftest runs the selected ones.
BATCHES: dict[str, "Batch"] = {}


def register(batch: "Batch") -> "Batch":
    assert batch.name not in BATCHES, f"batch {batch.name} registered twice"
    BATCHES[batch.name] = batch
    return batch


class Batch:
    """Cases run as the tasks of one playbook, against emulators started for the batch."""

    def __init__(self, name: str, cases: list[Case], http_emulator: bool = False, proxies: bool = False) -> None:
        ids = [case.id for case in cases]
        assert len(ids) == len(set(ids)), f"duplicate case ids in batch {name}"
        self.name = name
        self.cases = cases
        self.http_emulator = http_emulator
        self.proxies = proxies
        self.outcomes: dict[str, Outcome] = {}
        self.run: Run | None = None
        self.findings: list[str] = []
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._done = threading.Event()

    def values(self, emus: dict[str, Emulator], proxies: dict[str, RewriteProxy], closed_port: int) -> dict[str, Any]:
        main = emus["main"]
        values: dict[str, Any] = {"em_port": main.em_port, "m365_port": main.m365_port, "vbr_port": main.vbr_port,
                                  "ca": main.ca_path, "closed_port": closed_port}
        if "http" in emus:
            values.update({"http_em_port": emus["http"].em_port, "http_m365_port": emus["http"].m365_port})
        for name, proxy in proxies.items():
            values[f"{name}_port"] = proxy.port
        return values

    def task(self, case: Case, emus: dict[str, Emulator], values: dict[str, Any]) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if case.api == "em":
            args = em_conn(emus["main"])
        elif case.api == "m365":
            args = m365_conn(emus["main"])
        elif case.api == "vbr":
            args = vbr_conn(emus["main"])
        args.update(case.args)
        args = {k: v for k, v in _fill(args, values).items() if v is not DROP}
        task = {"name": f"case {case.id}", FQCN + case.module: args, "ignore_errors": True}
        if case.check_mode:
            task["check_mode"] = True
        return task

    def execute(self, root: Path) -> None:
        """Start the emulators, run the playbook, split what came back per case, stop the emulators."""
        started = time.monotonic()
        emus: dict[str, Emulator] = {}
        proxies: dict[str, RewriteProxy] = {}
        try:
            emus["main"] = Emulator(root / "emu-main").start()
            if self.http_emulator:
                emus["http"] = Emulator(root / "emu-http", tls=False).start()
            if self.proxies:
                proxies = {"em_proxy": RewriteProxy(emus["main"], "em"), "m365_proxy": RewriteProxy(emus["main"], "m365")}
            values = self.values(emus, proxies, free_port())
            described = {name: emu.describe() for name, emu in emus.items()}
            described.update({name: proxy.describe() for name, proxy in proxies.items()})
            plan = {"emulators": described,
                    "cases": {case.id: {"emulator": case.emulator, "faults": _fill(case.faults, values),
                                        "config": case.config, "clock": case.clock} for case in self.cases}}
            plan_path = root / "plan.json"
            plan_path.write_text(json.dumps(plan), encoding="utf-8")
            plays = [{"name": f"reliability batch {self.name}", "hosts": "localhost", "gather_facts": False,
                      "tasks": [self.task(case, emus, values) for case in self.cases]}]
            runner = Ansible(root / "ansible")
            env = dict(em_env(), RELIABILITY_PLAN=str(plan_path))
            self.run = runner.playbook(plays, env=env, name=self.name)
            for emu in emus.values():
                emu.collect_tokens()
            self._split(emus)
        except BaseException as exc:  # pylint: disable=broad-exception-caught
            self.error = exc
        finally:
            for proxy in proxies.values():
                proxy.close()
            for emu in emus.values():
                emu.stop()
            self.seconds = time.monotonic() - started
            self._done.set()

    def _split(self, emus: dict[str, Emulator]) -> None:
        assert self.run is not None
        records = {r["task"][len("case "):]: r for r in self.run.records if str(r.get("task", "")).startswith("case ")}
        pieces = re.split(r"^TASK \[case ", self.run.stdout, flags=re.MULTILINE)
        output = {}
        for piece in pieces[1:]:
            output[piece.split("]", 1)[0]] = piece
        for case in self.cases:
            if case.id in records:
                self.outcomes[case.id] = Outcome(case, records[case.id], output.get(case.id, ""))
        texts = self.run.texts()
        for name, emu in emus.items():
            texts[f"emulator {name} access log"] = emu.stderr_text()
        texts["emulator request logs"] = json.dumps([r.get("log") for r in self.run.records])
        self.findings = scan(texts)

    def wait(self, timeout: float = 900.0) -> "Batch":
        if not self._done.wait(timeout):
            raise AssertionError(f"batch {self.name} did not finish within {timeout} s")
        if self.error is not None:
            raise AssertionError(f"batch {self.name} could not run: {str(self.error)[:500]}")
        return self

    def outcome(self, case_id: str) -> Outcome:
        self.wait()
        if case_id not in self.outcomes:
            assert self.run is not None
            raise AssertionError(f"case {case_id} has no recorded result (rc {self.run.rc}); end of output:\n"
                                 f"{self.run.stdout[-4000:]}\n{self.run.stderr[-2000:]}")
        return self.outcomes[case_id]


def params(cases: list[Case]) -> list[Any]:
    """pytest parameters for the cases of a batch; a case with ``xfail`` is a known bug (strict xfail)."""
    return [pytest.param(case.id, id=case.id, marks=pytest.mark.xfail(strict=True, reason=case.xfail))
            if case.xfail else pytest.param(case.id, id=case.id) for case in cases]


def judge(outcome: Outcome) -> None:
    """Assert everything a case expects, plus what every case must hold."""
    case, result = outcome.case, outcome.result
    msg = str(result.get("msg", ""))
    status = outcome.record.get("status")
    assert not outcome.record.get("error"), f"{case.id}: {outcome.record['error']}"
    assert status in ("ok", "failed"), f"{case.id}: task status {status}: {result}"
    assert (status == "failed") == case.failed, f"{case.id}: expected failed={case.failed}, got {status}: {msg}"
    for part in case.msg:
        assert part in msg, f"{case.id}: {part!r} not in msg: {msg!r}"
    for part in case.msg_not:
        assert part not in msg, f"{case.id}: {part!r} in msg: {msg!r}"
    warnings = " | ".join(str(w) for w in result.get("warnings") or [])
    for part in case.warnings:
        assert part in warnings, f"{case.id}: warning {part!r} not among: {warnings!r}"
    if case.changed is not None:
        assert bool(result.get("changed")) == case.changed, f"{case.id}: changed={result.get('changed')}: {msg}"
    assert "Traceback" not in outcome.output and "Traceback" not in json.dumps(result), f"{case.id}: a traceback"
    assert "exception" not in result or "Traceback" not in str(result["exception"]), f"{case.id}: {result}"
    assert "Unexpected error" not in msg, f"{case.id}: a bug of the collection: {msg}"
    counters = outcome.counters
    assert counters, f"{case.id}: no counters recorded: {outcome.record.get('error')}"
    starts = {**dict(counters["em"]["starts"]), **dict(counters["m365"]["starts"]),
              **dict((counters.get("vbr") or {}).get("starts") or {})}
    assert starts == {k: v for k, v in case.starts.items() if v}, (
        f"{case.id}: starts {starts}, expected {case.starts}; msg: {msg}")
    assert counters["em"]["open_sessions"] == case.open_sessions, (
        f"{case.id}: {counters['em']['open_sessions']} EM logon sessions open; msg: {msg}")
    assert counters["m365"]["open_tokens"] == case.open_tokens, (
        f"{case.id}: {counters['m365']['open_tokens']} VB365 tokens open; msg: {msg}")
    assert (counters.get("vbr") or {}).get("open_tokens", 0) == case.open_vbr_tokens, (
        f"{case.id}: {counters['vbr']['open_tokens']} VBR tokens open; msg: {msg}")
    if case.check is not None:
        case.check(outcome.record)
