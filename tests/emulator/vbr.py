"""The emulated Veeam Backup & Replication REST API (revisions 1.1-rev0 to 1.3-rev1 and later) on the VBR listener.

Routing, the ``x-api-version`` negotiation, OAuth2 (password and refresh grants, bearer tokens, logout), the
``x-veeam-authorize`` claims of each operation, job actions and sessions.  The state lives in ``vbr_state.py``;
the per-revision rendering in ``vbr_views.py``.  Every behaviour and every assumption is written down in the
``## VBR`` section of ``docs/emulator.md``.

Time: sessions and tokens both run on the shared simulated :class:`~emulator.core.Clock` (an access token lives
``token_lifetime`` simulated seconds), so ``POST /_emulator/clock {"advance": 900}`` expires a token.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from .core import Api, Clock, Request, Response
from .vbr_enums import ENUMS
from .vbr_state import Job, Session, VbrState, parse_time
from .vbr_views import (DOCUMENTED, Ctx, code_for_status, error_body, job_state_view, job_view, page,
                        parse_revision, revision_name, server_info_view, session_view, token_view, visible)

ALL_CLAIMS = frozenset({"ViewServices", "ViewJobs", "StartJobs", "StopJobs", "EnableJobs", "DisableJobs",
                        "ViewSessions", "StopSessions"})
#: Which claims of the emulated operations each built-in role has, from the "Available to" lists of the operations
#: in the 1.3-rev1 document (1.2-rev1 and 1.3-rev0 agree, except that they do not name the Tape Operator for
#: starting and stopping jobs).  1.1-rev0 lists no roles.
ROLE_CLAIMS: dict[str, frozenset[str]] = {
    "Backup Administrator": ALL_CLAIMS,
    "Backup Operator": frozenset({"ViewJobs", "StartJobs", "StopJobs", "ViewSessions", "StopSessions"}),
    "Restore Operator": frozenset({"ViewJobs", "ViewSessions", "StopSessions"}),
    "Backup Viewer": frozenset({"ViewJobs", "ViewSessions"}),
    "Tape Operator": frozenset({"ViewJobs", "StartJobs", "StopJobs", "ViewSessions"}),
}
DEFAULTS: dict[str, Any] = {
    "revisions": list(DOCUMENTED),
    "token_lifetime": 900,
    "refresh_token_lifetime": 14 * 24 * 3600,
    "request_latency_ms": 0,
    "token_latency_ms": 0,
    "server_name": "vbr01.lab.local",
    "installation_id": "6745a759-2205-4cd2-b172-8ec8f7e60ef8",
    "build_version": None,
    "page_limit_default": 200,
}
WHOLE_BODY_KEYS = {"vbr", "em", "m365", "jobs", "clock", "latency", "faults"}
SECURITY_HEADERS = {"Cache-Control": "private", "X-Frame-Options": "SAMEORIGIN", "X-XSS-Protection": "1; mode=block",
                    "Strict-Transport-Security": "max-age=31536000", "X-Content-Type-Options": "nosniff"}
UNSUPPORTED_REVISION = "The specified API version is not supported."
EPS = 1e-6


class ApiError(Exception):
    """An error answer: status, ``errorCode``, message, ``resourceId`` and extra headers."""

    def __init__(self, status: int, message: str, code: str | None = None, resource_id: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or code_for_status(status)
        self.resource_id = resource_id
        self.headers = headers or {}


@dataclass
class Route:
    method: str
    template: str
    handler: str
    claim: str | None
    since: tuple[int, int, int] | None = None
    anonymous: bool = False

    def __post_init__(self) -> None:
        regex = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template)) + "$"
        self.pattern = re.compile(regex, re.IGNORECASE)

    def available(self, revision: tuple[int, int, int]) -> bool:
        return self.since is None or revision >= self.since


# The route table, in matching order (``/jobs/states`` before ``/jobs/{id}``).  ``claim``: the operation's
# ``x-veeam-authorize`` claim in Veeam's documents (the conformance test checks them against every revision).
ROUTES = [
    Route("POST", "/api/oauth2/token", "token", None, anonymous=True),
    Route("POST", "/api/oauth2/logout", "logout", None),
    Route("GET", "/api/v1/serverInfo", "server_info", "ViewServices"),
    Route("GET", "/api/v1/jobs", "jobs", "ViewJobs"),
    Route("GET", "/api/v1/jobs/states", "job_states", "ViewJobs"),
    Route("GET", "/api/v1/jobs/{id}", "job", "ViewJobs"),
    Route("POST", "/api/v1/jobs/{id}/start", "job_start", "StartJobs"),
    Route("POST", "/api/v1/jobs/{id}/stop", "job_stop", "StopJobs"),
    Route("POST", "/api/v1/jobs/{id}/retry", "job_retry", "StartJobs", since=(1, 3, 0)),
    Route("POST", "/api/v1/jobs/{id}/enable", "job_enable", "EnableJobs"),
    Route("POST", "/api/v1/jobs/{id}/disable", "job_disable", "DisableJobs"),
    Route("GET", "/api/v1/sessions", "sessions", "ViewSessions"),
    Route("GET", "/api/v1/sessions/{id}", "session", "ViewSessions"),
    Route("POST", "/api/v1/sessions/{id}/stop", "session_stop", "StopSessions"),
]
_ID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def role_name(value: Any) -> str:
    text = re.sub(r"^veeam\s+", "", str(value).strip(), flags=re.IGNORECASE)
    for known in ROLE_CLAIMS:
        if text.lower() == known.lower():
            return known
    raise ValueError("vbr user role must be one of %s, not %r" % (", ".join(ROLE_CLAIMS), value))


def revision_list(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError("vbr.revisions must be a non-empty list such as [1.2-rev1, 1.3-rev1]")
    keys = []
    for item in value:
        key = parse_revision(item)
        if key is None or key < (1, 1, 0):
            raise ValueError("vbr.revisions: %r is not a revision 1.1-rev0 or later (<version>-rev<N>)" % (item,))
        keys.append(key)
    return [revision_name(k) for k in sorted(set(keys))]


def _token(kind: str, user: str, issued: float, lifetime: float) -> str:
    """A JWT-shaped opaque token (header.payload.signature), like the spec's example tokens."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
    payload = {"unique_name": user, "nbf": int(issued), "exp": int(issued + lifetime), "iat": int(issued), "aud": kind}
    if kind == "refresh":
        payload["token_id"] = str(uuid.uuid4())
    signature = base64.urlsafe_b64encode(secrets.token_bytes(96)).decode().rstrip("=")
    return "%s.%s.%s" % (part({"alg": "RS512", "typ": "JWT"}), part(payload), signature)


def _bool_arg(value: str | None, name: str) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError(400, "The value '%s' is not valid for %s." % (value, name))


class VbrApi(Api):
    """Veeam Backup & Replication REST API (``vbr:`` section of the scenario)."""

    name = "vbr"

    def __init__(self, scenario: dict[str, Any], clock: Clock) -> None:
        super().__init__(scenario, clock)
        self._setup()

    # ------------------------------------------------------------------------------------------ setup
    @property
    def section(self) -> dict[str, Any]:
        return self.scenario.get("vbr") or {}

    def _setup(self) -> None:
        section = self.section
        self.cfg: dict[str, Any] = copy.deepcopy(DEFAULTS)
        self._apply_settings({k: v for k, v in section.items() if k in DEFAULTS})
        self.users: dict[str, tuple[str, str, str]] = {}
        for user in section.get("users") or []:
            self.users[str(user["username"]).lower()] = (str(user["username"]), str(user["password"]),
                                                         role_name(user.get("role", "Backup Administrator")))
        self.state = VbrState(section, self.clock.now())
        self.tokens: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}

    def _apply_settings(self, settings: dict[str, Any]) -> None:
        new = copy.deepcopy(self.cfg)
        for key, value in settings.items():
            if key == "revisions":
                new[key] = revision_list(value)
            elif key in ("token_lifetime", "refresh_token_lifetime"):
                if float(value) <= 0:
                    raise ValueError("vbr.%s must be positive" % key)
                new[key] = float(value)
            elif key in ("request_latency_ms", "token_latency_ms"):
                if float(value) < 0:
                    raise ValueError("vbr.%s must not be negative" % key)
                new[key] = float(value)
            elif key == "page_limit_default":
                if int(value) < 1:
                    raise ValueError("vbr.page_limit_default must be at least 1")
                new[key] = int(value)
            elif key == "build_version":
                new[key] = str(value) if value else None
            else:
                new[key] = str(value)
        self.cfg = new

    @property
    def settings(self) -> dict[str, Any]:
        """The current settings (``GET /_emulator/config``)."""
        return copy.deepcopy(self.cfg)

    @property
    def revisions(self) -> list[str]:
        return list(self.cfg["revisions"])

    @property
    def newest(self) -> str:
        return self.cfg["revisions"][-1]

    # ------------------------------------------------------------------------------------------ Api
    def handle(self, req: Request) -> Response:
        try:
            route, params, revision = self._dispatch(req)
            user = None if route.anonymous else self._authenticate(req)
            if route.claim is not None and user is not None and route.claim not in ROLE_CLAIMS[user["role"]]:
                raise ApiError(403, "Access is denied. The operation requires the %s permission." % route.claim,
                               code="AccessDenied")
            handler = getattr(self, "_h_" + route.handler)
            return handler(req, Ctx(revision, self.clock.now()), params, user)
        except ApiError as err:
            return self._error(err)

    def route_key(self, req: Request) -> str:
        path = req.path.rstrip("/") or "/"
        for route in ROUTES:
            if route.method == req.method.upper() and route.pattern.match(path):
                return "%s %s" % (route.method, route.template)
        parts = ["{id}" if _ID_RE.match(part) else part for part in path.split("/")]
        return "%s %s" % (req.method.upper(), "/".join(parts))

    def error_response(self, status: int, message: str, req: Request) -> Response:
        return self._error(ApiError(status, message))

    def expire_auth(self) -> None:
        now = self.clock.now()
        for token in self.tokens.values():
            token["expires"] = min(token["expires"], now - 0.001)

    def counters_view(self) -> dict[str, Any]:
        values = self.counters.snapshot()["values"]
        view: dict[str, Any] = {"tokens_issued": 0, "token_refreshes": 0, "token_failures": 0, "logouts": 0,
                                "starts": {}, "actions": {}}
        view.update(values)
        view["open_tokens"] = self._open_tokens()
        return view

    def apply_config(self, cfg: dict[str, Any]) -> None:
        """This API's part of ``POST /_emulator/config`` (``{"revisions": [...], "jobs": {...}}``), or the whole body
        (``{"vbr": {...}, "jobs": {...}}``)."""
        if "vbr" in cfg and set(cfg) <= WHOLE_BODY_KEYS:
            vbr, jobs = dict(cfg.get("vbr") or {}), dict(cfg.get("jobs") or {})
        else:
            vbr, jobs = dict(cfg), {}
        jobs.update(vbr.pop("jobs", None) or {})
        unknown = set(vbr) - set(DEFAULTS)
        if unknown:
            raise ValueError("unknown vbr setting(s): %s; known: jobs, %s" % (", ".join(sorted(unknown)), ", ".join(DEFAULTS)))
        for key, settings in jobs.items():
            unknown_job = set(settings or {}) - set(VbrState.JOB_SETTINGS) - {"failure_message"}
            if unknown_job and self.state.find_jobs(str(key)):
                raise ValueError("vbr: job setting(s) %s cannot be changed at run time; known: %s"
                                 % (", ".join(sorted(unknown_job)), ", ".join(VbrState.JOB_SETTINGS)))
        self._apply_settings(vbr)
        for key, settings in jobs.items():
            for job in self.state.find_jobs(str(key)):
                VbrState.apply_job_settings(job, settings or {})

    def state_view(self) -> dict[str, Any]:
        now = self.clock.now()
        ctx = Ctx((1, 3, 1), now)
        jobs = []
        for job in self.state.jobs_in_order():
            latest = self.state.latest_session(job.id)
            active = self.state.active_session(job.id, now)
            jobs.append({
                "id": job.id, "name": job.name, "type": job.type, "isDisabled": not job.enabled,
                "settings": {"duration": job.duration, "result": job.result, "message": job.message,
                             "retry_result": job.retry_result, "no_objects": job.no_objects,
                             "unknown_state": job.unknown_state},
                "running": active is not None,
                "running_session": session_view(ctx, active) if active else None,
                "last_session": session_view(ctx, latest) if latest else None,
                "sessions": len(self.state.sessions_of(job.id)),
            })
        sessions = [dict(session_view(ctx, s), ended_at=self.clock.wall_time(s.end_time(now)))
                    for s in self.state.sessions_of(None)[:200]]
        return {"now": now, "revisions": self.revisions, "newest": self.newest, "jobs": jobs, "sessions": sessions,
                "open_tokens": self._open_tokens()}

    def snapshot(self) -> dict[str, Any]:
        return {"cfg": copy.deepcopy(self.cfg), "state": self.state.dynamic_snapshot(),
                "tokens": copy.deepcopy(self.tokens), "refresh_tokens": copy.deepcopy(self.refresh_tokens),
                "counters": self.counters.snapshot()}

    def restore(self, data: dict[str, Any]) -> None:
        if data.get("cfg"):
            self.cfg = copy.deepcopy(data["cfg"])
        self.state.dynamic_restore(data.get("state") or {})
        self.tokens = copy.deepcopy(data.get("tokens") or {})
        self.refresh_tokens = copy.deepcopy(data.get("refresh_tokens") or {})
        if data.get("counters"):
            self.counters.restore(data["counters"])

    def reset(self) -> None:
        self._setup()
        self.counters.clear()

    def latency(self, req: Request) -> float:
        ms = float(self.cfg.get("request_latency_ms") or 0)
        if req.path.rstrip("/").lower() == "/api/oauth2/token":
            ms += float(self.cfg.get("token_latency_ms") or 0)
        return ms / 1000.0

    # ------------------------------------------------------------------------------------------ plumbing
    def _dispatch(self, req: Request) -> tuple[Route, dict[str, str], tuple[int, int, int]]:
        """Route, path parameters and revision, or the error: unknown path 404, missing/unsupported revision 400,
        a route the revision lacks 404, another method 405."""
        path = req.path.rstrip("/") or "/"
        matches = [(route, m) for route in ROUTES for m in [route.pattern.match(path)] if m]
        if not matches:
            raise ApiError(404, "The requested URI '%s' is invalid." % req.path, code="InvalidURI")
        revision = self._revision(req)
        matches = [(route, m) for route, m in matches if route.available(revision)]
        if not matches:
            raise ApiError(404, "The requested URI '%s' is invalid." % req.path, code="InvalidURI")
        for route, match in matches:
            if route.method == req.method.upper():
                return route, match.groupdict(), revision
        allowed = sorted({route.method for route, _m in matches})
        raise ApiError(405, "The HTTP method '%s' is not allowed for the requested URI." % req.method.upper(),
                       code="MethodNotAllowed", headers={"Allow": ", ".join(allowed)})

    def _revision(self, req: Request) -> tuple[int, int, int]:
        raw = (req.header("x-api-version") or "").strip()
        key = parse_revision(raw)
        if key is None or revision_name(key) not in self.cfg["revisions"] or raw.lower() != revision_name(key):
            raise ApiError(400, UNSUPPORTED_REVISION, code="NotImplemented")
        return key

    def _error(self, err: ApiError) -> Response:
        headers = dict(SECURITY_HEADERS)
        headers.update(err.headers)
        return Response.json(err.status, error_body(err.code, err.message, err.resource_id), headers)

    @staticmethod
    def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
        hdrs = dict(SECURITY_HEADERS)
        hdrs.update(headers or {})
        return Response.json(status, data, hdrs)

    @staticmethod
    def _empty(status: int) -> Response:
        return Response.empty(status, dict(SECURITY_HEADERS))

    def _arg(self, req: Request, name: str) -> str | None:
        """A query parameter by its exact name: VBR's query parameters are case-sensitive (Overview)."""
        values = req.query.get(name)
        return values[0] if values else None

    def _args(self, req: Request, name: str) -> list[str]:
        """An array parameter: repeated (``a=X&a=Y``, OpenAPI's default form/explode) or comma-separated."""
        out: list[str] = []
        for value in req.query.get(name) or []:
            out.extend(part.strip() for part in value.split(",") if part.strip())
        return out

    def _int_arg(self, req: Request, name: str, default: int | None) -> int | None:
        raw = self._arg(req, name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, "The value '%s' is not valid for %s." % (raw, name)) from None
        if value < 0:
            raise ApiError(400, "The value of %s must not be negative." % name)
        return value

    def _enum_arg(self, req: Request, ctx: Ctx, name: str, enum: str, raw: str | None = None) -> str | None:
        value = self._arg(req, name) if raw is None else raw
        if value is None or value == "":
            return None
        for known in ENUMS[enum][ctx.shape]:
            if known.lower() == value.lower():
                return known
        raise ApiError(400, "The value '%s' is not valid for %s." % (value, name))

    def _time_arg(self, req: Request, name: str) -> float | None:
        raw = self._arg(req, name)
        if raw is None or raw == "":
            return None
        try:
            return parse_time(raw)
        except ValueError:
            raise ApiError(400, "The value '%s' is not valid for %s." % (raw, name)) from None

    def _uuid_arg(self, req: Request, name: str) -> str | None:
        raw = self._arg(req, name)
        if raw is None or raw == "":
            return None
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            raise ApiError(400, "The value '%s' is not valid for %s." % (raw, name)) from None

    def _paged(self, req: Request, items: list[Any]) -> Response:
        skip = self._int_arg(req, "skip", 0) or 0
        limit = self._int_arg(req, "limit", int(self.cfg["page_limit_default"]))
        assert limit is not None
        return self._json(200, page(items[skip:skip + limit], skip, limit, len(items)))

    @staticmethod
    def _name_filter(pattern: str | None, views: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``nameFilter``: a full value or a ``*`` pattern that any string parameter of the item must match
        (Overview, "nameFilter"); compared case-insensitively."""
        if pattern is None or pattern == "":
            return views
        regex = re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$",
                           re.IGNORECASE | re.DOTALL)

        def strings(view: dict[str, Any]) -> list[str]:
            out = [v for v in view.values() if isinstance(v, str)]
            result = view.get("result")
            if isinstance(result, dict):
                out.extend(v for v in result.values() if isinstance(v, str))
            return out

        return [view for view in views if any(regex.match(text) for text in strings(view))]

    @staticmethod
    def _order(views: list[dict[str, Any]], column: str | None, ascending: bool | None,
               keys: dict[str, Any]) -> list[dict[str, Any]]:
        if column is None:
            return views
        key = keys[column]

        def sort_key(view: dict[str, Any]) -> tuple[int, Any]:
            value = key(view)
            if value is None:
                return (0, "")
            return (1, value.lower() if isinstance(value, str) else value)

        return sorted(views, key=sort_key, reverse=ascending is False)

    def _job(self, ctx: Ctx, raw_id: str) -> Job:
        """The job of a path id, 404 when unknown, malformed or of a type the client's revision does not know."""
        try:
            jid = str(uuid.UUID(raw_id))
        except ValueError:
            raise ApiError(404, "Job '%s' was not found." % raw_id, code="NotFound") from None
        job = self.state.jobs.get(jid)
        if job is None or not visible(ctx, job):
            raise ApiError(404, "Job '%s' was not found." % jid, code="NotFound", resource_id=jid)
        return job

    def _session(self, raw_id: str) -> Session:
        try:
            sid = str(uuid.UUID(raw_id))
        except ValueError:
            raise ApiError(404, "Session '%s' was not found." % raw_id, code="NotFound") from None
        session = self.state.sessions.get(sid)
        if session is None:
            raise ApiError(404, "Session '%s' was not found." % sid, code="NotFound", resource_id=sid)
        return session

    def _count_action(self, job: Job, action: str) -> None:
        per_job = self.counters.values.setdefault("actions", {}).setdefault(job.id, {})
        for name in ("start", "stop", "retry", "enable", "disable"):
            per_job.setdefault(name, 0)
        per_job[action] += 1

    def _json_body(self, req: Request, what: str) -> dict[str, Any]:
        """An optional JSON object body (``JobStartSpec``, ``JobStopSpec``, ``JobRetrySpec``)."""
        if not req.body.strip():
            return {}
        ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
        if ctype and ctype != "application/json" and not ctype.endswith("+json"):
            raise ApiError(400, "The request body must be %s as application/json." % what)
        try:
            data = req.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "The request body is not valid JSON.") from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ApiError(400, "The request body must be a %s object." % what)
        for key, value in data.items():
            if value is not None and not isinstance(value, (bool, str)):
                raise ApiError(400, "The value of '%s' is not valid." % key)
        return data

    @staticmethod
    def _flag(body: dict[str, Any], *names: str, default: bool) -> bool:
        for name in names:
            for key, value in body.items():
                if key.lower() == name.lower() and value is not None:
                    if isinstance(value, bool):
                        return value
                    if str(value).lower() in ("true", "false"):
                        return str(value).lower() == "true"
                    raise ApiError(400, "The value of '%s' is not valid." % key)
        return default

    # ------------------------------------------------------------------------------------------ auth
    def _open_tokens(self) -> int:
        now = self.clock.now()
        return sum(1 for t in self.tokens.values() if not t["revoked"] and t["expires"] > now)

    def _authenticate(self, req: Request) -> dict[str, Any]:
        header = req.header("authorization") or ""
        scheme, _sep, value = header.partition(" ")
        challenge = {"WWW-Authenticate": "Bearer"}
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "The Authorization header with a bearer access token is required.",
                           code="AccessDenied", headers=challenge)
        token = self.tokens.get(value.strip())
        if token is None or token["revoked"]:
            raise ApiError(401, "The access token is invalid.", code="InvalidToken", headers=challenge)
        if token["expires"] <= self.clock.now():
            raise ApiError(401, "The access token has expired.", code="ExpiredToken", headers=challenge)
        user = self.users.get(token["user"].lower())
        role = user[2] if user else token.get("role", "Backup Viewer")
        return {"name": token["user"], "role": role, "token": value.strip()}

    def _issue(self, ctx: Ctx, user: str, role: str, short_refresh: bool, with_username: bool) -> dict[str, Any]:
        now = self.clock.now()
        lifetime = float(self.cfg["token_lifetime"])
        refresh_life = lifetime + 900 if short_refresh else float(self.cfg["refresh_token_lifetime"])
        access = _token("access", user, now, lifetime)
        refresh = _token("refresh", user, now, refresh_life)
        self.tokens[access] = {"user": user, "role": role, "issued": now, "expires": now + lifetime,
                               "revoked": False, "refresh": refresh}
        self.refresh_tokens[refresh] = {"user": user, "role": role, "issued": now, "expires": now + refresh_life,
                                        "used": False, "revoked": False, "access": access, "short": short_refresh}
        self._prune_tokens(now)
        return token_view(ctx, access, refresh, lifetime, now, user if with_username else None)

    def _prune_tokens(self, now: float) -> None:
        """Forget tokens dead for over a day (a forgotten token gets the 401 of an unknown one)."""
        for store in (self.tokens, self.refresh_tokens):
            dead = [k for k, t in store.items() if t["expires"] < now - 86400]
            for key in dead:
                del store[key]

    def _token_failure(self, status: int, message: str, code: str) -> ApiError:
        self.counters.incr("token_failures")
        return ApiError(status, message, code=code)

    # ------------------------------------------------------------------------------------------ handlers: login
    def _h_token(self, req: Request, ctx: Ctx, _params: dict[str, str], _user: Any) -> Response:
        ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
        if ctype and ctype != "application/x-www-form-urlencoded":
            raise self._token_failure(400, "The request body must be application/x-www-form-urlencoded.",
                                      "UnexpectedContent")
        try:
            form = req.form()
        except UnicodeDecodeError:
            form = {}
        grant = str(form.get("grant_type") or "").lower()
        short = str(form.get("use_short_term_refresh") or "").lower() == "true"
        if grant == "password":
            username, password = form.get("username"), form.get("password")
            if not username or password is None:
                raise self._token_failure(400, "The user name and the password are required for the password grant.",
                                          "UnexpectedContent")
            known = self.users.get(username.lower())
            if known is None or known[1] != password:
                raise self._token_failure(401, "Authentication failed", "AccessDenied")
            self.counters.incr("tokens_issued")
            return self._json(200, self._issue(ctx, known[0], known[2], short, with_username=True))
        if grant == "refresh_token":
            value = str(form.get("refresh_token") or "")
            refresh = self.refresh_tokens.get(value)
            if not value or refresh is None or refresh["used"] or refresh["revoked"] \
                    or refresh["expires"] <= self.clock.now():
                raise self._token_failure(401, "The refresh token is invalid or expired.", "InvalidToken")
            refresh["used"] = True
            self.counters.incr("token_refreshes")
            return self._json(200, self._issue(ctx, refresh["user"], refresh["role"], bool(refresh.get("short")),
                                               with_username=False))
        if grant in ("authorization_code", "vbr_token"):
            raise self._token_failure(400, "The grant type '%s' is not supported by the emulator." % grant,
                                      "UnexpectedContent")
        raise self._token_failure(400, "The grant type is missing or not supported.", "UnexpectedContent")

    def _h_logout(self, _req: Request, _ctx: Ctx, _params: dict[str, str], user: dict[str, Any]) -> Response:
        token = self.tokens.get(user["token"])
        if token is not None:
            token["revoked"] = True
            refresh = self.refresh_tokens.get(token.get("refresh") or "")
            if refresh is not None:
                refresh["revoked"] = True
        self.counters.incr("logouts")
        return self._json(200, {})

    def _h_server_info(self, _req: Request, ctx: Ctx, _params: dict[str, str], _user: Any) -> Response:
        return self._json(200, server_info_view(ctx, self.cfg, self.newest))

    # ------------------------------------------------------------------------------------------ handlers: jobs
    def _visible_jobs(self, ctx: Ctx) -> list[Job]:
        return [job for job in self.state.jobs_in_order() if visible(ctx, job)]

    def _h_jobs(self, req: Request, ctx: Ctx, _params: dict[str, str], _user: Any) -> Response:
        views = [job_view(ctx, self.state, job) for job in self._visible_jobs(ctx)]
        wanted = self._enum_arg(req, ctx, "typeFilter", "EJobType")
        if wanted is not None:
            views = [v for v in views if v["type"] == wanted]
        views = self._name_filter(self._arg(req, "nameFilter"), views)
        column = self._enum_arg(req, ctx, "orderColumn", "EJobFiltersOrderColumn")
        views = self._order(views, column, _bool_arg(self._arg(req, "orderAsc"), "orderAsc"),
                            {"Name": lambda v: v["name"], "Type": lambda v: v["type"],
                             "Description": lambda v: v.get("description")})
        return self._paged(req, views)

    def _h_job_states(self, req: Request, ctx: Ctx, _params: dict[str, str], _user: Any) -> Response:
        views = [job_state_view(ctx, self.state, job) for job in self._visible_jobs(ctx)]
        exact = {"idFilter": ("id", self._uuid_arg(req, "idFilter")),
                 "typeFilter": ("type", self._enum_arg(req, ctx, "typeFilter", "EJobType")),
                 "lastResultFilter": ("lastResult", self._enum_arg(req, ctx, "lastResultFilter", "ESessionResult")),
                 "statusFilter": ("status", self._enum_arg(req, ctx, "statusFilter", "EJobStatus")),
                 "workloadFilter": ("workload", self._enum_arg(req, ctx, "workloadFilter", "EJobWorkload")),
                 "repositoryIdFilter": ("repositoryId", self._uuid_arg(req, "repositoryIdFilter")),
                 "objectsCountFilter": ("objectsCount", self._int_arg(req, "objectsCountFilter", None)),
                 "isHighPriorityJobFilter": ("highPriority",
                                             _bool_arg(self._arg(req, "isHighPriorityJobFilter"), "isHighPriorityJobFilter"))}
        for field, wanted in exact.values():
            if wanted is None:
                continue
            if field == "highPriority":
                views = [v for v in views if self.state.jobs[v["id"]].high_priority == wanted]
            else:
                views = [v for v in views if v.get(field) == wanted]
        after = self._time_arg(req, "lastRunAfterFilter")
        if after is not None:
            views = [v for v in views if "lastRun" in v and parse_time(v["lastRun"]) >= after - EPS]
        before = self._time_arg(req, "lastRunBeforeFilter")
        if before is not None:
            views = [v for v in views if "lastRun" not in v or parse_time(v["lastRun"]) <= before + EPS]
        views = self._name_filter(self._arg(req, "nameFilter"), views)
        column = self._enum_arg(req, ctx, "orderColumn", "EJobStatesFiltersOrderColumn")

        def when(name: str) -> Any:
            return lambda v: parse_time(v[name]) if name in v else None

        views = self._order(views, column, _bool_arg(self._arg(req, "orderAsc"), "orderAsc"), {
            "Name": lambda v: v["name"], "Type": lambda v: v["type"], "Status": lambda v: v["status"],
            "LastRun": when("lastRun"), "LastResult": lambda v: v["lastResult"], "NextRun": when("nextRun"),
            "Description": lambda v: v["description"], "RepositoryId": lambda v: v.get("repositoryId"),
            "ObjectsCount": lambda v: v["objectsCount"], "RepositoryName": lambda v: v.get("repositoryName"),
            "AfterJobName": lambda v: None})
        return self._paged(req, views)

    def _h_job(self, _req: Request, ctx: Ctx, params: dict[str, str], _user: Any) -> Response:
        return self._json(200, job_view(ctx, self.state, self._job(ctx, params["id"])))

    def _h_job_start(self, req: Request, ctx: Ctx, params: dict[str, str], user: dict[str, Any]) -> Response:
        job = self._job(ctx, params["id"])
        body = self._json_body(req, "JobStartSpec")
        full = self._flag(body, "performActiveFull", default=False)
        self._flag(body, "startChainedJobs", default=False)
        if self.state.active_session(job.id, ctx.now) is not None:
            raise ApiError(400, "Job '%s' is already running." % job.name, code="UnknownError", resource_id=job.id)
        self._count_action(job, "start")
        self.counters.incr_in("starts", job.id)
        if ctx.newer and job.no_objects:
            return self._empty(204)
        session = self.state.start(job, ctx.now, user["name"], full=full)
        return self._json(201, session_view(ctx, session))

    def _h_job_stop(self, req: Request, ctx: Ctx, params: dict[str, str], user: dict[str, Any]) -> Response:
        job = self._job(ctx, params["id"])
        body = self._json_body(req, "JobStopSpec")
        graceful = self._flag(body, "gracefulStop", "gracefullStop", default=True)
        self._flag(body, "cancelChainedJobs", default=False)
        session = self.state.active_session(job.id, ctx.now)
        if session is None:
            raise ApiError(400, "Job '%s' is not running." % job.name, code="UnknownError", resource_id=job.id)
        VbrState.stop(session, ctx.now, user["name"], graceful)
        self._count_action(job, "stop")
        return self._json(201, session_view(ctx, session))

    def _h_job_retry(self, req: Request, ctx: Ctx, params: dict[str, str], user: dict[str, Any]) -> Response:
        job = self._job(ctx, params["id"])
        self._flag(self._json_body(req, "JobRetrySpec"), "startChainedJobs", default=False)
        if self.state.active_session(job.id, ctx.now) is not None:
            raise ApiError(400, "Job '%s' is already running." % job.name, code="UnknownError", resource_id=job.id)
        last = self.state.last_finished(job.id, ctx.now)
        if last is None or last.result_at(ctx.now) != "Failed":
            raise ApiError(400, "Job '%s' cannot be retried: its last session did not fail." % job.name,
                           code="UnknownError", resource_id=job.id)
        session = self.state.start(job, ctx.now, user["name"], retry_of=last)
        self._count_action(job, "retry")
        return self._json(201, session_view(ctx, session))

    def _enable(self, ctx: Ctx, raw_id: str, enabled: bool) -> Response:
        job = self._job(ctx, raw_id)
        job.enabled = enabled
        self._count_action(job, "enable" if enabled else "disable")
        if ctx.at_least("1.3-rev1"):
            return self._empty(204)
        return self._json(200, {})

    def _h_job_enable(self, _req: Request, ctx: Ctx, params: dict[str, str], _user: Any) -> Response:
        return self._enable(ctx, params["id"], True)

    def _h_job_disable(self, _req: Request, ctx: Ctx, params: dict[str, str], _user: Any) -> Response:
        return self._enable(ctx, params["id"], False)

    # ------------------------------------------------------------------------------------------ handlers: sessions
    def _h_sessions(self, req: Request, ctx: Ctx, _params: dict[str, str], _user: Any) -> Response:
        sessions = self.state.sessions_of(None)
        job_id = self._uuid_arg(req, "jobIdFilter")
        if job_id is not None:
            sessions = [s for s in sessions if s.job_id == job_id]
        for name, keep in (("createdAfterFilter", lambda s, t: s.created >= t - EPS),
                           ("createdBeforeFilter", lambda s, t: s.created <= t + EPS),
                           ("endedAfterFilter", lambda s, t: (s.end_time(ctx.now) or -1) >= t - EPS),
                           ("endedBeforeFilter", lambda s, t: s.end_time(ctx.now) is not None
                            and s.end_time(ctx.now) <= t + EPS)):
            bound = self._time_arg(req, name)
            if bound is not None:
                sessions = [s for s in sessions if keep(s, bound)]
        views = [session_view(ctx, s) for s in sessions]
        many = ctx.at_least("1.3-rev0")  # typeFilter and resultFilter are arrays from 1.3-rev0

        def wanted(name: str, enum: str) -> set[str]:
            raws = self._args(req, name) if many else ([self._arg(req, name)] if self._arg(req, name) else [])
            return {self._enum_arg(req, ctx, name, enum, raw=raw) for raw in raws}  # type: ignore[misc]

        types = wanted("typeFilter", "ESessionType")
        if types:
            views = [v for v in views if v["sessionType"] in types]
        results = wanted("resultFilter", "ESessionResult")
        if results:
            views = [v for v in views if v["result"]["result"] in results]
        state = self._enum_arg(req, ctx, "stateFilter", "ESessionState")
        if state is not None:
            views = [v for v in views if v["state"] == state]
        views = self._name_filter(self._arg(req, "nameFilter"), views)
        column = self._enum_arg(req, ctx, "orderColumn", "ESessionsFiltersOrderColumn")

        def when(name: str) -> Any:
            return lambda v: parse_time(v[name]) if name in v else None

        views = self._order(views, column, _bool_arg(self._arg(req, "orderAsc"), "orderAsc"), {
            "Name": lambda v: v["name"], "SessionType": lambda v: v["sessionType"],
            "CreationTime": when("creationTime"), "EndTime": when("endTime"), "State": lambda v: v["state"],
            "Result": lambda v: v["result"]["result"], "InitiatedBy": lambda v: v.get("initiatedBy")})
        return self._paged(req, views)

    def _h_session(self, _req: Request, ctx: Ctx, params: dict[str, str], _user: Any) -> Response:
        return self._json(200, session_view(ctx, self._session(params["id"])))

    def _h_session_stop(self, _req: Request, ctx: Ctx, params: dict[str, str], user: dict[str, Any]) -> Response:
        session = self._session(params["id"])
        if session.is_active(ctx.now) and session.stop_requested is None:
            VbrState.stop(session, ctx.now, user["name"], graceful=False)
            job = self.state.jobs.get(session.job_id)
            if job is not None:
                self._count_action(job, "stop")
        return self._json(200, {})


def dump_routes() -> str:
    """The route table as text (for the docs and for debugging)."""
    lines = []
    for route in ROUTES:
        since = ("from %s" % revision_name(route.since)) if route.since else "all revisions"
        auth = " (no auth)" if route.anonymous else ""
        lines.append("%-5s %-34s %-14s %s%s" % (route.method, route.template, route.claim or "-", since, auth))
    return "\n".join(lines)


__all__ = ["VbrApi", "ROUTES", "ROLE_CLAIMS", "dump_routes"]
