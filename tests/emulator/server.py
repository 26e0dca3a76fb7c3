"""The emulator process: three threaded HTTP(S) listeners (EM, VB365 and VBR), fault rules, the control endpoint
``/_emulator/...``, the request log, state keeping and the ready signal.  The contract is in
``tests/emulator/CONTRACT.md``; the user documentation in ``docs/emulator.md``.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .core import Api, Clock, Request
from .em import EnterpriseManagerApi
from .faults import FaultEngine, FaultError, malform
from .tls import server_context

DEFAULT_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "default.yml"
SCENARIO_KEYS = ("clock", "em", "m365", "vbr", "latency", "faults")
MUTATING = ("POST", "PUT", "PATCH", "DELETE")
SERVER_HEADER = "Microsoft-HTTPAPI/2.0"


@dataclass
class Settings:
    """Process settings (env vars, mirrored by command line flags in ``__main__``)."""

    host: str = "127.0.0.1"
    em_port: int = 9398
    m365_port: int = 4443
    vbr_port: int = 9419
    #: ``False`` when the VBR port is the default (``EMULATOR_VBR_PORT`` unset): if 9419 is taken, a free port is used,
    #: so launchers written before the VBR listener existed (which set only the EM and VB365 ports) keep working.
    vbr_port_explicit: bool = True
    scenario: str | None = None
    directory: str = ".emulator"
    tls: bool = True
    keep_state: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        vbr_raw = env.get("EMULATOR_VBR_PORT") or ""
        return cls(host=env.get("EMULATOR_HOST", "127.0.0.1"), em_port=int(env.get("EMULATOR_EM_PORT", "9398")),
                   m365_port=int(env.get("EMULATOR_M365_PORT", "4443")), vbr_port=int(vbr_raw or "9419"),
                   vbr_port_explicit=bool(vbr_raw), scenario=env.get("EMULATOR_SCENARIO") or None,
                   directory=env.get("EMULATOR_DIR", ".emulator"), tls=env.get("EMULATOR_TLS", "1") != "0",
                   keep_state=env.get("EMULATOR_KEEP_STATE", "0") == "1")


def load_scenario(path: str | os.PathLike[str] | None) -> dict[str, Any]:
    """A scenario file (YAML or JSON) as a dict; the built-in default scenario when ``path`` is empty."""
    file = Path(path) if path else DEFAULT_SCENARIO
    text = file.read_text(encoding="utf-8")
    if file.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        import yaml  # pylint: disable=import-outside-toplevel
        data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{file}: a scenario must be a mapping with the keys {', '.join(SCENARIO_KEYS)}")
    unknown = sorted(set(data) - set(SCENARIO_KEYS))
    if unknown:
        raise ValueError(f"{file}: unknown top-level key(s) {', '.join(unknown)}; known: {', '.join(SCENARIO_KEYS)}")
    return data


def _load_m365() -> type[Api] | None:
    """The VB365 API class, or ``None`` while ``m365.py`` does not exist yet."""
    try:
        from .m365 import Vb365Api  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        print(f"emulator: VB365 API not available ({exc}); serving EM only", file=sys.stderr, flush=True)
        return None
    return Vb365Api


def _load_vbr() -> type[Api] | None:
    """The VBR API class, or ``None`` when ``vbr.py`` cannot be imported (EM and VB365 are served anyway)."""
    try:
        from .vbr import VbrApi  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        print(f"emulator: VBR API not available ({exc}); serving without it", file=sys.stderr, flush=True)
        return None
    return VbrApi


class Emulator:
    """Shared state of the listeners: the APIs, one lock, faults, the request log, state keeping."""

    def __init__(self, settings: Settings, scenario: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.directory = Path(settings.directory).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.scenario = scenario if scenario is not None else load_scenario(settings.scenario)
        clock_cfg = self.scenario.get("clock") or {}
        self.clock = Clock(speed=float(clock_cfg.get("speed", 1.0)))
        self.lock = threading.RLock()
        self.apis: dict[str, Api] = {"em": EnterpriseManagerApi(self.scenario, self.clock)}
        m365_cls = _load_m365()
        if m365_cls is not None:
            try:
                self.apis["m365"] = m365_cls(self.scenario, self.clock)
            except Exception as exc:  # pylint: disable=broad-exception-caught
                print(f"emulator: VB365 API failed to start ({exc!r}); serving EM only", file=sys.stderr, flush=True)
                traceback.print_exc()
        vbr_cls = _load_vbr()
        if vbr_cls is not None:
            try:
                self.apis["vbr"] = vbr_cls(self.scenario, self.clock)
            except Exception as exc:  # pylint: disable=broad-exception-caught
                print(f"emulator: VBR API failed to start ({exc!r}); serving without it", file=sys.stderr, flush=True)
                traceback.print_exc()
        self.faults = FaultEngine()
        self.faults.add(list(self.scenario.get("faults") or []))
        self.latency_cfg: dict[str, Any] = dict(self.scenario.get("latency") or {})
        self.log: collections.deque[dict[str, Any]] = collections.deque(maxlen=1000)
        self.state_path = self.directory / "state.json"
        if settings.keep_state:
            self.load_state()

    # ------------------------------------------------------------------------------ state keeping

    def load_state(self) -> None:
        if not self.state_path.is_file():
            return
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"emulator: ignoring unreadable {self.state_path}: {exc}", file=sys.stderr, flush=True)
            return
        with self.lock:
            self.clock.restore(data.get("clock") or {})
            for name, api in self.apis.items():
                if name in data:
                    api.restore(data[name])
            self.faults.restore(data.get("faults") or {})
            self.latency_cfg = dict(data.get("latency", self.latency_cfg) or {})
        print(f"emulator: state restored from {self.state_path}", file=sys.stderr, flush=True)

    def save_state(self) -> None:
        if not self.settings.keep_state:
            return
        with self.lock:
            data: dict[str, Any] = {"version": 1, "saved_at": time.time(), "clock": self.clock.snapshot(),
                                    "faults": self.faults.snapshot(), "latency": self.latency_cfg}
            for name, api in self.apis.items():
                data[name] = api.snapshot()
            tmp = self.state_path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self.state_path)

    # ------------------------------------------------------------------------------ helpers

    def base_latency(self, api_name: str) -> float:
        cfg = self.latency_cfg
        total = float(cfg.get("request_ms", 0) or 0)
        per_api = cfg.get(api_name) or {}
        if isinstance(per_api, dict):
            total += float(per_api.get("request_ms", 0) or 0)
        return total / 1000.0

    def route_key(self, api: Api, req: Request) -> str:
        try:
            return api.route_key(req)
        except NotImplementedError:
            return f"{req.method} {req.path}"

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.log.append(entry)

    # ------------------------------------------------------------------------------ control endpoint

    def control(self, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p][1:]  # drop "_emulator"
        name = parts[0] if parts else ""
        try:
            data = json.loads(body.decode("utf-8-sig")) if body.strip() else None
        except ValueError:
            return 400, {"error": "the body must be JSON"}
        try:
            return self._control(method, name, parts[1:], urllib.parse.parse_qs(query), data)
        except (FaultError, ValueError, TypeError, KeyError) as exc:
            return 400, {"error": str(exc)}

    def _control(self, method: str, name: str, rest: list[str], query: dict[str, list[str]], data: Any) -> tuple[int, Any]:
        allowed = {"health": ("GET",), "counters": ("GET",), "log": ("GET",), "reset": ("POST",),
                   "faults": ("GET", "POST", "DELETE"), "clock": ("GET", "POST"), "config": ("GET", "POST"),
                   "state": ("GET",)}
        if name not in allowed or (rest and name != "faults") or len(rest) > 1:
            return 404, {"error": f"unknown control path; known: {', '.join('/_emulator/' + k for k in allowed)}"}
        if method not in allowed[name] or (rest and method != "DELETE"):
            return 405, {"error": f"method {method} not allowed here"}
        if name == "health":
            return 200, {"ok": True, "apis": sorted(self.apis)}
        if name == "counters":
            with self.lock:
                out: dict[str, Any] = {"requests": {"em": {}, "m365": {}, "vbr": {}}}
                for api_name, api in self.apis.items():
                    out["requests"][api_name] = dict(api.counters.requests)
                    out[api_name] = api.counters_view()
                out.setdefault("m365", {})
                out.setdefault("vbr", {})
            return 200, out
        if name == "log":
            with self.lock:
                entries = list(self.log)
            if "api" in query:
                entries = [e for e in entries if e["api"] == query["api"][0]]
            if "limit" in query:
                entries = entries[-int(query["limit"][0]):]
            return 200, entries
        if name == "reset":
            with self.lock:
                for api in self.apis.values():
                    api.reset()
                self.faults.clear()
                self.faults.add(list(self.scenario.get("faults") or []))
                self.log.clear()
                self.latency_cfg = dict(self.scenario.get("latency") or {})
                self.clock.set_speed(float((self.scenario.get("clock") or {}).get("speed", 1.0)))
            self.save_state()
            return 200, {"ok": True}
        if name == "faults":
            return self._control_faults(method, rest, data)
        if name == "clock":
            if method == "POST":
                if not isinstance(data, dict) or not set(data) <= {"speed", "advance"} or not data:
                    raise ValueError('send {"speed": <simulated seconds per second>} and/or {"advance": <seconds>}')
                with self.lock:
                    if "speed" in data:
                        if float(data["speed"]) <= 0:
                            raise ValueError("speed must be greater than 0")
                        self.clock.set_speed(float(data["speed"]))
                    if "advance" in data:
                        if float(data["advance"]) < 0:
                            raise ValueError("the clock only moves forward")
                        self.clock.advance(float(data["advance"]))
                self.save_state()
            return 200, self.clock.snapshot()
        if name == "config":
            if method == "POST":
                self._apply_config(data)
                self.save_state()
            with self.lock:
                current = {"latency": self.latency_cfg}
                for api_name, api in self.apis.items():
                    current[api_name] = dict(getattr(api, "settings", {}) or {})
            return 200, current
        with self.lock:
            state = {"clock": self.clock.snapshot()}
            for api_name, api in self.apis.items():
                try:
                    state[api_name] = api.state_view()
                except NotImplementedError:
                    state[api_name] = None
        return 200, state

    def _control_faults(self, method: str, rest: list[str], data: Any) -> tuple[int, Any]:
        if method == "GET":
            return 200, self.faults.list()
        if method == "POST":
            if not isinstance(data, (dict, list)):
                raise FaultError("send one rule (an object) or a list of rules")
            ids = self.faults.add(data)
            self.save_state()
            return 200, {"ids": ids}
        if rest:
            if not self.faults.delete(rest[0]):
                return 404, {"error": f"no fault rule {rest[0]!r}"}
        else:
            self.faults.clear()
        self.save_state()
        return 200, {"ok": True}

    def _apply_config(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise ValueError("send a JSON object")
        unknown = set(data) - {"em", "m365", "vbr", "jobs", "latency"}
        if unknown:
            raise ValueError(f"unknown config key(s): {', '.join(sorted(unknown))}; known: em, m365, vbr, jobs, latency")
        with self.lock:
            if "latency" in data:
                self.latency_cfg.update(data["latency"] or {})
            for api_name, api in self.apis.items():
                sub = dict(data.get(api_name) or {})
                if data.get("jobs"):
                    sub["jobs"] = {**data["jobs"], **(sub.get("jobs") or {})}
                if sub:
                    api.apply_config(sub)
            missing = [n for n in ("em", "m365", "vbr") if n in data and n not in self.apis]
            if missing:
                raise ValueError(f"API not available: {', '.join(missing)}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 ssl_context: ssl.SSLContext | None) -> None:
        self.ssl_context = ssl_context
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        if self.ssl_context is not None:
            # the handshake happens in the worker thread (Handler.setup), never in the accept loop
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout, TimeoutError)):
            return
        super().handle_error(request, client_address)


def make_handler(emulator: Emulator, api_name: str) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one API of ``emulator``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 120
        tls_failed = False

        def version_string(self) -> str:
            return SERVER_HEADER

        def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
            """The default access log is replaced by :meth:`_access_log` (no header values, no bodies)."""

        def setup(self) -> None:
            super().setup()
            # No Nagle delay: small writes (the answer, TLS session tickets) go out at once, as from a real server;
            # otherwise a keep-alive client waits for its own delayed ACK, about 40 ms per request.
            try:
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            if isinstance(self.request, ssl.SSLSocket):
                try:
                    self.request.do_handshake()
                except (ssl.SSLError, OSError):
                    self.tls_failed = True

        def handle(self) -> None:
            if not self.tls_failed:
                super().handle()

        def _read_body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""

        def _headers_dict(self) -> dict[str, str]:
            out: dict[str, str] = {}
            for key, value in self.headers.items():
                if key in out:
                    out[key] = out[key] + ("; " if key.lower() == "cookie" else ", ") + value
                else:
                    out[key] = value
            return out

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            try:
                reason = HTTPStatus(status).phrase
            except ValueError:
                reason = ""
            self.send_response(status, reason)
            for key, value in headers.items():
                if key.lower() not in ("content-length", "server", "date"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            # Status line, headers and body in one write, as a real server sends a small answer (with the TCP_NODELAY
            # of setup, one segment instead of two for each answer).
            self._headers_buffer.append(b"\r\n")
            payload = b"".join(self._headers_buffer) + (body if self.command != "HEAD" else b"")
            self._headers_buffer = []
            self.wfile.write(payload)
            self.wfile.flush()

        def _drop(self) -> None:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def _access_log(self, target: str, status: int | None, ms: float, note: str = "") -> None:
            shown = status if status is not None else "-"
            sys.stderr.write(f"{api_name} {self.command} {target} {shown} {ms:.1f}ms{(' ' + note) if note else ''}\n")
            sys.stderr.flush()

        def _handle(self) -> None:  # pylint: disable=too-many-branches,too-many-statements
            started = time.monotonic()
            split = urllib.parse.urlsplit(self.path)
            path, query = split.path or "/", split.query
            body = self._read_body()
            target = path + ("?" + query if query else "")
            if path.startswith("/_emulator/") or path == "/_emulator":
                status, data = emulator.control(self.command, path, query, body)
                payload = json.dumps(data).encode("utf-8")
                self._send(status, {"Content-Type": "application/json"}, payload)
                self._access_log(target, status, (time.monotonic() - started) * 1000)
                return
            api = emulator.apis[api_name]
            req = Request(method=self.command, path=path, raw_query=query, headers=self._headers_dict(), body=body)
            with emulator.lock:
                api.counters.count_request(emulator.route_key(api, req))
            decision = emulator.faults.evaluate(api_name, self.command, target)
            delay = decision.delay + emulator.base_latency(api_name) + api.latency(req)
            if delay > 0:
                time.sleep(delay)
            rule = decision.terminal
            note = f"fault={','.join(decision.matched)}" if decision.matched else ""
            status: int | None
            if rule is not None and rule.action == "drop_before":
                self._drop()
                status = None
            elif rule is not None and rule.action == "status":
                code = int(rule.params["status"])
                try:
                    reason = HTTPStatus(code).phrase
                except ValueError:
                    reason = "Error"
                with emulator.lock:
                    resp = api.error_response(code, str(rule.params.get("message") or f"{reason} (injected by the emulator)"), req)
                if rule.params.get("retry_after") is not None:
                    resp.headers["Retry-After"] = str(rule.params["retry_after"])
                self._send(code, resp.headers, resp.body)
                status = code
            else:
                with emulator.lock:
                    if decision.expire:
                        api.expire_auth()
                    try:
                        resp = api.handle(req)
                    except Exception as exc:  # pylint: disable=broad-exception-caught
                        traceback.print_exc()
                        resp = api.error_response(500, f"Internal emulator error: {exc!r}", req)
                if self.command in MUTATING:
                    emulator.save_state()
                if rule is not None and rule.action == "drop_after":
                    self._drop()
                    status = None
                else:
                    code, headers, payload = resp.status, resp.headers, resp.body
                    if rule is not None and rule.action == "malformed":
                        try:
                            reason = HTTPStatus(int(rule.params.get("status", code))).phrase
                        except ValueError:
                            reason = "Error"
                        code, headers, payload = malform(str(rule.params["body"]), code, headers, payload, rule.params, reason)
                    self._send(code, headers, payload)
                    status = code
            ms = (time.monotonic() - started) * 1000
            header_names: dict[str, str | None] = {k: (v if k.lower() == "user-agent" else None) for k, v in self.headers.items()}
            entry = {"api": api_name, "method": self.command, "path": path, "query": query, "status": status,
                     "ms": round(ms, 1), "headers": header_names, "time": time.time()}
            if decision.matched:
                entry["faults"] = list(decision.matched)
            emulator.record(entry)
            self._access_log(target, status, ms, note)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle  # noqa: N815

    return Handler


class PortTaken(Exception):
    """A fixed port of the emulator is in use (its message is the one line to print)."""


class Runner:
    """Starts the listeners, writes ``endpoints.json``, prints the ready line, stops on SIGTERM/SIGINT."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.emulator = Emulator(settings)
        self.servers: dict[str, _Server] = {}
        self.stop_event = threading.Event()
        self.ca_path: Path | None = None

    def check_ports(self) -> None:
        """Fail with one line, before any file is touched, when a fixed port is taken (an emulator started twice)."""
        directory = self.emulator.directory
        running = None
        try:
            running = json.loads((directory / "endpoints.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        fixed = {"em": self.settings.em_port, "m365": self.settings.m365_port}
        if self.settings.vbr_port_explicit:
            fixed["vbr"] = self.settings.vbr_port
        for name, port in fixed.items():
            if not port or name not in self.emulator.apis:
                continue
            probe = socket.socket(socket.AF_INET6 if ":" in self.settings.host else socket.AF_INET, socket.SOCK_STREAM)
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the listeners do
            try:
                probe.bind((self.settings.host, port))
            except OSError as exc:
                where = ""
                if isinstance(running, dict) and running.get(f"{name}_port") == port:
                    where = f": an emulator is already running there (pid {running.get('pid')}, {running.get('em_url')}, " \
                            f"{running.get('m365_url')}, {running.get('vbr_url')})"
                raise PortTaken(f"emulator: port {port} ({name}) on {self.settings.host} is taken ({exc.strerror})"
                                f"{where}; stop it (make emulator-stop, or Ctrl-C where it runs), or choose other ports "
                                f"with EMULATOR_EM_PORT, EMULATOR_M365_PORT, EMULATOR_VBR_PORT (0 = any free)") from None
            finally:
                probe.close()

    def start(self) -> dict[str, Any]:
        self.check_ports()
        directory = self.emulator.directory
        endpoints_path = directory / "endpoints.json"
        if endpoints_path.exists():
            endpoints_path.unlink()
        ctx = None
        if self.settings.tls:
            ctx, self.ca_path, reused = server_context(directory, self.settings.host)
            print(f"emulator: {'reusing' if reused else 'created'} CA {self.ca_path}", file=sys.stderr, flush=True)
        scheme = "https" if ctx is not None else "http"
        ports = {"em": self.settings.em_port, "m365": self.settings.m365_port, "vbr": self.settings.vbr_port}
        for name in self.emulator.apis:
            try:
                srv = _Server((self.settings.host, ports[name]), make_handler(self.emulator, name), ctx)
            except OSError as exc:
                if name != "vbr" or self.settings.vbr_port_explicit or ports[name] == 0:
                    raise
                print(f"emulator: VBR port {ports[name]} is not free ({exc.strerror}); EMULATOR_VBR_PORT is not set, "
                      "so the VBR listener takes a free port (see endpoints.json)", file=sys.stderr, flush=True)
                srv = _Server((self.settings.host, 0), make_handler(self.emulator, name), ctx)
            self.servers[name] = srv
        host_in_url = f"[{self.settings.host}]" if ":" in self.settings.host else self.settings.host
        for name, srv in self.servers.items():
            api = self.emulator.apis[name]
            setattr(api, "scheme", scheme)
            setattr(api, "default_host", f"{host_in_url}:{srv.server_address[1]}")
            threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, name=f"serve-{name}",
                             daemon=True).start()
        em_port = self.servers["em"].server_address[1]
        m365_port = self.servers["m365"].server_address[1] if "m365" in self.servers else None
        vbr_port = self.servers["vbr"].server_address[1] if "vbr" in self.servers else None
        info = {"pid": os.getpid(), "em_url": f"{scheme}://{host_in_url}:{em_port}/api",
                "m365_url": f"{scheme}://{host_in_url}:{m365_port}" if m365_port else None,
                "vbr_url": f"{scheme}://{host_in_url}:{vbr_port}" if vbr_port else None,
                "em_port": em_port, "m365_port": m365_port, "vbr_port": vbr_port,
                "ca_path": str(self.ca_path) if self.ca_path else None, "tls": ctx is not None,
                "dir": str(directory), "keep_state": self.settings.keep_state}
        tmp = endpoints_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, endpoints_path)
        self.emulator.save_state()
        print(f"emulator ready em_url={info['em_url']} m365_url={info['m365_url']} vbr_url={info['vbr_url']} "
              f"endpoints={endpoints_path}", flush=True)
        return info

    def stop(self) -> None:
        for srv in self.servers.values():
            srv.shutdown()
            srv.server_close()
        self.emulator.save_state()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop_event.set())
        self.start()
        while not self.stop_event.wait(0.5):
            pass
        print("emulator: stopping", file=sys.stderr, flush=True)
        self.stop()
        return 0


def main(settings: Settings | None = None) -> int:
    try:
        return Runner(settings or Settings.from_env()).run()
    except PortTaken as exc:
        print(str(exc), file=sys.stderr, flush=True)
        return 1
