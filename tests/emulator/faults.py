"""Fault rules: make chosen requests fail, slow down, lose their connection or get a broken body.

A rule (``POST /_emulator/faults``)::

    {"api": "em" | "m365" | "vbr" | "*", "method": "GET" | "POST" | ... | "*",
     "path": "<python regex searched in the path including the query string>",
     "action": "status" | "latency" | "drop_before" | "drop_after" | "malformed" | "expire_sessions" | "expire_tokens",
     "times": N | null, "skip": N, ...action parameters}

``skip`` lets the first N matching requests through, then the rule applies ``times`` times (``null``:
for ever).  Every rule that matches a request is counted; ``latency`` rules add up; ``expire_*`` rules act
and let the request go on; of the other actions the first matching rule wins.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("status", "latency", "drop_before", "drop_after", "malformed", "expire_sessions", "expire_tokens")
MALFORMED = ("truncated", "html", "empty", "wrong_content_type", "bom", "huge", "garbage")
TERMINAL = ("status", "drop_before", "drop_after", "malformed")

IIS_ERROR_PAGE = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>
<title>{status} - {reason}</title>
<style type="text/css">
<!--
body{{margin:0;font-size:.7em;font-family:Verdana, Arial, Helvetica, sans-serif;background:#EEEEEE;}}
#header{{width:96%;margin:0 0 0 0;padding:6px 2% 6px 2%;font-family:"trebuchet MS", Verdana, sans-serif;color:#FFF;
background-color:#555555;}}
-->
</style>
</head>
<body>
<div id="header"><h1>Server Error</h1></div>
<div id="content">
 <div class="content-container"><fieldset>
  <h2>{status} - {reason}</h2>
  <h3>The request could not be processed by the gateway in front of the application.</h3>
 </fieldset></div>
</div>
</body>
</html>
"""


class FaultError(ValueError):
    """An invalid rule (the control endpoint answers 400)."""


@dataclass
class FaultRule:
    id: str
    api: str
    method: str
    path: str
    action: str
    times: int | None
    skip: int
    params: dict[str, Any] = field(default_factory=dict)
    seen: int = 0
    applied: int = 0

    def __post_init__(self) -> None:
        try:
            self._regex = re.compile(self.path)
        except re.error as exc:
            raise FaultError(f"invalid path regex {self.path!r}: {exc}") from exc

    def matches(self, api: str, method: str, target: str) -> bool:
        if self.api not in ("*", api):
            return False
        if self.method != "*" and self.method != method.upper():
            return False
        return self._regex.search(target) is not None

    def to_dict(self) -> dict[str, Any]:
        data = {"id": self.id, "api": self.api, "method": self.method, "path": self.path, "action": self.action,
                "times": self.times, "skip": self.skip, "seen": self.seen, "applied": self.applied}
        data.update(self.params)
        return data


@dataclass
class Decision:
    """What the fault rules want done with one request."""

    delay: float = 0.0
    expire: bool = False
    terminal: FaultRule | None = None
    matched: list[str] = field(default_factory=list)


def _int_or_none(value: Any, name: str) -> int | None:
    if value is None:
        return None
    try:
        out = int(value)
    except (TypeError, ValueError) as exc:
        raise FaultError(f"{name} must be an integer or null") from exc
    if out < 0:
        raise FaultError(f"{name} must not be negative")
    return out


class FaultEngine:
    """The rule list, with its own lock (rules are read by every request thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._seq = 0

    def build(self, raw: dict[str, Any]) -> FaultRule:
        if not isinstance(raw, dict):
            raise FaultError("a fault rule must be a JSON object")
        action = raw.get("action")
        if action not in ACTIONS:
            raise FaultError(f"action must be one of {', '.join(ACTIONS)}")
        api = str(raw.get("api", "*")).lower()
        if api not in ("em", "m365", "vbr", "*"):
            raise FaultError("api must be em, m365, vbr or *")
        method = str(raw.get("method", "*")).upper()
        reserved = ("id", "api", "method", "path", "action", "times", "skip", "seen", "applied")
        params = {k: v for k, v in raw.items() if k not in reserved}
        if action == "status":
            try:
                params["status"] = int(params.get("status", 503))
            except (TypeError, ValueError) as exc:
                raise FaultError("status must be an HTTP status code") from exc
            if not 100 <= params["status"] <= 599:
                raise FaultError("status must be an HTTP status code")
        if action == "latency":
            try:
                params["delay"] = float(params.get("delay", 1.0))
            except (TypeError, ValueError) as exc:
                raise FaultError("delay must be a number of seconds") from exc
        if action == "malformed" and params.get("body") not in MALFORMED:
            raise FaultError(f"body must be one of {', '.join(MALFORMED)}")
        with self._lock:
            self._seq += 1
            rid = str(raw.get("id") or f"f{self._seq}")
        return FaultRule(id=rid, api=api, method=method, path=str(raw.get("path", "")), action=action,
                         times=_int_or_none(raw.get("times"), "times"), skip=_int_or_none(raw.get("skip", 0), "skip") or 0,
                         params=params, seen=int(raw.get("seen", 0)), applied=int(raw.get("applied", 0)))

    def add(self, raw: dict[str, Any] | list[dict[str, Any]]) -> list[str]:
        items = raw if isinstance(raw, list) else [raw]
        rules = [self.build(item) for item in items]
        with self._lock:
            self._rules.extend(rules)
        return [r.id for r in rules]

    def delete(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.to_dict() for r in self._rules]

    def evaluate(self, api: str, method: str, target: str) -> Decision:
        decision = Decision()
        with self._lock:
            for rule in self._rules:
                if not rule.matches(api, method, target):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                if rule.times is not None and rule.applied >= rule.times:
                    continue
                if rule.action in TERMINAL and decision.terminal is not None:
                    continue  # one terminal action per request: the first rule wins, later ones keep their turn
                rule.applied += 1
                decision.matched.append(rule.id)
                if rule.action == "latency":
                    decision.delay += float(rule.params.get("delay", 0))
                elif rule.action in ("expire_sessions", "expire_tokens"):
                    decision.expire = True
                else:
                    decision.terminal = rule
        return decision

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"seq": self._seq, "rules": [r.to_dict() for r in self._rules]}

    def restore(self, data: dict[str, Any]) -> None:
        rules = [self.build(r) for r in data.get("rules") or []]
        with self._lock:
            self._rules = rules
            self._seq = max(self._seq, int(data.get("seq", 0)))


def malform(mode: str, status: int, headers: dict[str, str], body: bytes, params: dict[str, Any],
            reason: str) -> tuple[int, dict[str, str], bytes]:
    """The broken version of a real response (status, headers, body) for a ``malformed`` rule."""
    headers = dict(headers)
    if mode == "truncated":
        return status, headers, body[: len(body) // 2]
    if mode == "html":
        code = int(params.get("status", 200))
        headers["Content-Type"] = "text/html"
        return code, headers, IIS_ERROR_PAGE.format(status=code, reason=reason).encode("latin-1", "replace")
    if mode == "empty":
        return 200, headers, b""
    if mode == "wrong_content_type":
        headers["Content-Type"] = "text/plain"
        return status, headers, body
    if mode == "bom":
        return status, headers, body if body.startswith(b"\xef\xbb\xbf") else b"\xef\xbb\xbf" + body
    if mode == "huge":
        size = int(float(params.get("size_mb", 20)) * 1024 * 1024)
        if body.lstrip().startswith(b"<?xml"):
            end = body.index(b"?>") + 2
            pad = b"<!--" + b"x" * max(0, size - len(body)) + b"-->"
            return status, headers, body[:end] + b"\n" + pad + body[end:]
        # JSON (or anything else): insignificant whitespace keeps the document valid and its shape unchanged
        return status, headers, body + b" " * max(0, size - len(body))
    if mode == "garbage":
        return status, headers, os.urandom(max(len(body), 1024))
    raise FaultError(f"unknown malformed body {mode!r}")
