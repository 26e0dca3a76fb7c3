"""Shared building blocks of the emulator: request, response, clock, counters and the API base class.

The HTTP server (``server.py``) parses a request into :class:`Request`, asks the fault rules what to do,
then calls :meth:`Api.handle` under one lock and writes the :class:`Response` back.  Each emulated product
(``em.py`` for Enterprise Manager, ``m365.py`` for Veeam Backup for Microsoft 365) is one :class:`Api`.

Nothing here is shared with ``plugins/``: the emulator reads Veeam's documentation on its own.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    """One HTTP request as the emulated API sees it."""

    method: str
    path: str
    raw_query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def __post_init__(self) -> None:
        # Header names are case-insensitive; keep them lower-cased.
        self.headers = {k.lower(): v for k, v in self.headers.items()}
        self.query: dict[str, list[str]] = urllib.parse.parse_qs(self.raw_query, keep_blank_values=True)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter; the name is matched case-insensitively (ASP.NET does)."""
        for key, values in self.query.items():
            if key.lower() == name.lower() and values:
                return values[0]
        return default

    def json(self) -> Any:
        """The body parsed as JSON (a UTF-8 BOM is tolerated); ``None`` for an empty body."""
        if not self.body.strip():
            return None
        return json.loads(self.body.decode("utf-8-sig"))

    def form(self) -> dict[str, str]:
        """The body parsed as ``application/x-www-form-urlencoded``."""
        pairs = urllib.parse.parse_qsl(self.body.decode("utf-8"), keep_blank_values=True)
        return dict(pairs)

    @property
    def target(self) -> str:
        return self.path + ("?" + self.raw_query if self.raw_query else "")


@dataclass
class Response:
    """What the emulated API answers."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: dict[str, str] | None = None, bom: bool = False) -> Response:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        if bom:
            body = b"\xef\xbb\xbf" + body
        hdrs = {"Content-Type": "application/json; charset=utf-8"}
        hdrs.update(headers or {})
        return cls(status, body, hdrs)

    @classmethod
    def xml(cls, status: int, text: str, headers: dict[str, str] | None = None) -> Response:
        hdrs = {"Content-Type": "application/xml; charset=utf-8"}
        hdrs.update(headers or {})
        return cls(status, text.encode("utf-8"), hdrs)

    @classmethod
    def empty(cls, status: int, headers: dict[str, str] | None = None) -> Response:
        return cls(status, b"", dict(headers or {}))


class Clock:
    """Simulated time: wall time scaled by ``speed``, plus manual jumps.

    ``now()`` returns simulated seconds since the epoch.  Jobs and tasks are scheduled on this clock, so a
    scenario can run a ten-minute job in ten seconds with ``speed: 60``.
    """

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._speed = float(speed)
        self._base_sim = time.time() if start is None else float(start)
        self._base_wall = time.monotonic()
        #: (simulated time, wall-clock epoch, speed) at the start and at every change of speed or jump, so that
        #: ``wall_time`` can say when the simulated clock passed a given moment (the benchmarks use it).
        self._segments: list[tuple[float, float, float]] = [(self._base_sim, time.time(), self._speed)]

    def now(self) -> float:
        with self._lock:
            return self._base_sim + (time.monotonic() - self._base_wall) * self._speed

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        with self._lock:
            current = self._base_sim + (time.monotonic() - self._base_wall) * self._speed
            self._base_sim, self._base_wall, self._speed = current, time.monotonic(), float(speed)
            self._segments.append((current, time.time(), self._speed))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._base_sim += float(seconds)
            current = self._base_sim + (time.monotonic() - self._base_wall) * self._speed
            self._segments.append((current, time.time(), self._speed))

    def wall_time(self, sim_ts: float | None) -> float | None:
        """The wall-clock time (``time.time()`` seconds) at which the simulated clock reached ``sim_ts``;
        ``None`` while that moment is still ahead.  A moment skipped by ``advance`` was reached at the jump."""
        if sim_ts is None:
            return None
        with self._lock:
            if sim_ts > self._base_sim + (time.monotonic() - self._base_wall) * self._speed:
                return None
            segments = list(self._segments)
        for index in range(len(segments) - 1, -1, -1):
            seg_sim, seg_wall, seg_speed = segments[index]
            if sim_ts >= seg_sim or index == 0:
                if seg_speed > 0:
                    wall = seg_wall + (sim_ts - seg_sim) / seg_speed
                else:  # a frozen clock reaches later moments only by a jump, at the next segment's start
                    wall = seg_wall if sim_ts <= seg_sim else float("inf")
                if index + 1 < len(segments):
                    wall = min(wall, segments[index + 1][1])
                return wall
        return None  # pragma: no cover - the loop always returns

    def snapshot(self) -> dict[str, float]:
        return {"now": self.now(), "speed": self._speed}

    def restore(self, data: dict[str, float]) -> None:
        with self._lock:
            self._base_sim = max(float(data.get("now", time.time())), time.time())
            self._base_wall = time.monotonic()
            self._speed = float(data.get("speed", self._speed))
            self._segments = [(self._base_sim, time.time(), self._speed)]


class Counters:
    """Request and domain counters an API keeps; read through ``GET /_emulator/counters``."""

    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self.values: dict[str, Any] = {}

    def count_request(self, route_key: str) -> None:
        self.requests[route_key] = self.requests.get(route_key, 0) + 1

    def incr(self, name: str, by: int = 1) -> None:
        self.values[name] = self.values.get(name, 0) + by

    def incr_in(self, name: str, key: str, by: int = 1) -> None:
        bucket = self.values.setdefault(name, {})
        bucket[key] = bucket.get(key, 0) + by

    def snapshot(self) -> dict[str, Any]:
        return {"requests": dict(self.requests), "values": json.loads(json.dumps(self.values))}

    def restore(self, data: dict[str, Any]) -> None:
        self.requests = dict(data.get("requests", {}))
        self.values = dict(data.get("values", {}))

    def clear(self) -> None:
        self.requests.clear()
        self.values.clear()


class Api:
    """One emulated product.  Subclasses implement the routes; the server does transport and faults.

    Every method is called with the server's state lock held, so implementations need no locking.
    """

    #: ``"em"`` or ``"m365"``: the key used in counters, fault rules and the request log.
    name = ""

    def __init__(self, scenario: dict[str, Any], clock: Clock) -> None:
        self.scenario = scenario
        self.clock = clock
        self.counters = Counters()

    def handle(self, req: Request) -> Response:
        """Answer one request to a product path (never called for ``/_emulator/``)."""
        raise NotImplementedError

    def route_key(self, req: Request) -> str:
        """A stable counter key for the request, with ids replaced by ``{id}``: ``GET /api/tasks/{id}``."""
        raise NotImplementedError

    def error_response(self, status: int, message: str, req: Request) -> Response:
        """The product's documented error body for ``status`` (used by fault rules too)."""
        raise NotImplementedError

    def expire_auth(self) -> None:
        """Expire every logon session (EM) or access token (VB365) now."""
        raise NotImplementedError

    def counters_view(self) -> dict[str, Any]:
        """The product's part of ``GET /_emulator/counters`` (besides request counts)."""
        return self.counters.snapshot()["values"]

    def apply_config(self, cfg: dict[str, Any]) -> None:
        """Change scenario settings at run time (``POST /_emulator/config``)."""
        raise NotImplementedError

    def state_view(self) -> dict[str, Any]:
        """A JSON view of jobs and sessions for ``GET /_emulator/state``."""
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to continue after a restart, as JSON-able data."""
        raise NotImplementedError

    def restore(self, data: dict[str, Any]) -> None:
        """The reverse of :meth:`snapshot`."""
        raise NotImplementedError

    def reset(self) -> None:
        """Back to the scenario's initial state, counters cleared."""
        raise NotImplementedError

    def latency(self, req: Request) -> float:
        """Seconds to sleep (outside the lock) before answering, from the scenario's latency settings."""
        return 0.0
