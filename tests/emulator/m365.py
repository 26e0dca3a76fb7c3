"""The emulated Veeam Backup for Microsoft 365 REST API (versions v2-v8) on the VB365 listener.

Routing, authentication (OAuth2 password/refresh grants, bearer tokens, logout, token throttling), job
actions, job sessions and restore sessions.  The state lives in ``m365_state.py``; the per-version
rendering in ``m365_views.py``.  Every behaviour and every assumption is written down in the ``## VB365``
section of ``docs/emulator.md``.

Time: job sessions run on the shared simulated :class:`~emulator.core.Clock`; access and refresh tokens
expire on wall-clock seconds (``time.time()``), so speeding the simulated clock up does not log clients out.
"""

from __future__ import annotations

import collections
import copy
import math
import os
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from .core import Api, Clock, Request, Response
from .m365_state import RESTORE_TYPES, Job, M365State, parse_time, rfc1123
from .m365_views import (Ctx, code_for_status, error_body, job_view, organization_view, page, restore_view,
                         service_instance_view, session_view)

ALL_VERSIONS = (2, 3, 4, 5, 6, 7, 8)
LEGACY = (2, 3, 4, 5)
MODERN = (6, 7, 8)
JOB_ACTIONS = ("start", "stop", "enable", "disable", "explore")
TOKEN_PREFIX = "AQAAANCMnd8BFdERjHoAwE_Cl-sBAAAA"
EPS = 1e-6  # times on the wire have microsecond resolution; time filters compare with this tolerance

DEFAULTS: dict[str, Any] = {
    "versions": ["v2", "v3", "v4", "v5", "v6", "v7", "v8"],
    "token_lifetime": 3600,
    "refresh_token_lifetime": 14 * 24 * 3600,
    "token_error_style": "auto",
    "unauthorized_body": "empty",
    "throttle_token": None,
    "request_latency_ms": 0,
    "token_latency_ms": 0,
    "product_version": "8.0.2.159",
    "installation_id": "3c7b8a36-2d9e-4a36-9f0b-6f1e2d3c4b5a",
    "page_limit_default": 30,
    "page_limit_max": 10000,
    "start_body_required": ["v6", "v7", "v8"],
}
CONFIG_KEYS = set(DEFAULTS) | {"jobs"}
WHOLE_BODY_KEYS = {"m365", "em", "jobs", "clock", "latency", "faults"}


class ApiError(Exception):
    """An error answer: status, message, v8 ``errorCode`` and extra headers."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None,
                 body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code if code is not None else code_for_status(status)
        self.headers = headers or {}
        self.body = body


@dataclass
class Route:
    method: str
    pattern: Any  # a compiled re.Pattern
    versions: tuple[int, ...]
    handler: str
    template: str
    anonymous: bool = False


def _route(method: str, template: str, versions: tuple[int, ...], handler: str, anonymous: bool = False) -> Route:
    regex = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
    return Route(method, re.compile(regex, re.IGNORECASE), versions, handler, template, anonymous)


# The route table: (method, path after /vN, versions, handler).  ASP.NET matches paths case-insensitively.
ROUTES = [
    _route("POST", "/token", ALL_VERSIONS, "token", anonymous=True),
    _route("POST", "/token/logout", (7, 8), "logout"),
    _route("GET", "/ServiceInstance", ALL_VERSIONS, "service_instance"),
    _route("GET", "/Health", (8,), "health", anonymous=True),
    _route("GET", "/Organizations", ALL_VERSIONS, "organizations"),
    _route("GET", "/Organizations/{id}", ALL_VERSIONS, "organization"),
    _route("GET", "/Organizations/{id}/Jobs", (2, 3, 4, 5, 6, 7), "organization_jobs"),
    _route("GET", "/Jobs", ALL_VERSIONS, "jobs"),
    _route("GET", "/Jobs/{id}", ALL_VERSIONS, "job"),
    _route("POST", "/Jobs/{id}/Action", LEGACY, "job_action_legacy"),
    _route("POST", "/Jobs/{id}/start", MODERN, "job_start"),
    _route("POST", "/Jobs/{id}/stop", MODERN, "job_stop"),
    _route("POST", "/Jobs/{id}/enable", MODERN, "job_enable"),
    _route("POST", "/Jobs/{id}/disable", MODERN, "job_disable"),
    _route("POST", "/Jobs/{id}/explore", MODERN, "job_explore"),
    _route("GET", "/Jobs/{id}/JobSessions", (2, 3, 4, 5, 6), "job_sessions_of_job"),
    _route("GET", "/JobSessions", ALL_VERSIONS, "job_sessions"),
    _route("GET", "/JobSessions/{id}", ALL_VERSIONS, "job_session"),
    _route("GET", "/RestoreSessions", ALL_VERSIONS, "restore_sessions"),
    _route("GET", "/RestoreSessions/{id}", ALL_VERSIONS, "restore_session"),
    _route("POST", "/RestoreSessions/{id}/Stop", MODERN, "restore_session_stop"),
    _route("POST", "/RestoreSessions/{id}/Action", LEGACY, "restore_session_action_legacy"),
]

_VERSION_RE = re.compile(r"^/v(\d+)(/.*)?$", re.IGNORECASE)
_ID_RE = re.compile(r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|\d+)$")


def _version_list(value: Any) -> list[int]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError("m365.versions must be a non-empty list such as [v6, v7, v8]")
    out = []
    for item in value:
        match = re.match(r"^v?(\d+)$", str(item).strip(), re.IGNORECASE)
        if not match or int(match.group(1)) not in ALL_VERSIONS:
            raise ValueError("m365.versions: %r is not one of v2..v8" % (item,))
        out.append(int(match.group(1)))
    return sorted(set(out))


def _throttle_limits(value: Any) -> list[tuple[int, float]]:
    """``{"burst": 3, "window": 1}`` or ``{"per_second": 1, "per_minute": 5, "per_hour": 1500}`` -> limits."""
    if not value:
        return []
    if not isinstance(value, dict):
        raise ValueError("m365.throttle_token must be a mapping")
    limits = []
    if "burst" in value or "limit" in value:
        limits.append((int(value.get("burst", value.get("limit"))), float(value.get("window", 1))))
    for key, window in (("per_second", 1.0), ("per_minute", 60.0), ("per_hour", 3600.0)):
        if value.get(key) is not None:
            limits.append((int(value[key]), window))
    unknown = set(value) - {"burst", "limit", "window", "per_second", "per_minute", "per_hour", "body"}
    if unknown or not limits or any(count < 0 or window <= 0 for count, window in limits):
        raise ValueError("m365.throttle_token: use burst+window or per_second/per_minute/per_hour (got %r)" % (value,))
    return limits


def _period_name(window: float) -> str:
    return {1.0: "Second", 60.0: "Minute", 3600.0: "Hour"}.get(window, "%g Seconds" % window)


def _is_json(req: Request) -> bool:
    ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
    return ctype == "application/json" or ctype.endswith("+json") or ctype == "text/json"


def _as_bool(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError(400, "The value of '%s' is not a valid boolean." % name)


class Vb365Api(Api):
    """Veeam Backup for Microsoft 365 REST API, versions v2-v8 (``m365:`` section of the scenario)."""

    name = "m365"

    def __init__(self, scenario: dict[str, Any], clock: Clock) -> None:
        super().__init__(scenario, clock)
        #: ``https`` unless the emulator serves plain HTTP (only used for the absolute hrefs of v2-v5).
        self.scheme = "http" if os.environ.get("EMULATOR_TLS", "1") == "0" else "https"
        self._wall: Callable[[], float] = time.time
        self._setup()

    # ------------------------------------------------------------------------------------------ setup
    @property
    def section(self) -> dict[str, Any]:
        return self.scenario.get("m365") or {}

    def _setup(self) -> None:
        section = self.section
        self.cfg: dict[str, Any] = copy.deepcopy(DEFAULTS)
        self._apply_settings({k: v for k, v in section.items() if k in DEFAULTS})
        self.users = {str(u["username"]).lower(): (str(u["username"]), str(u["password"]))
                      for u in section.get("users") or []}
        self.state = M365State(section, self.clock.now())
        self.tokens: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.throttle_log: collections.deque[float] = collections.deque()

    def _apply_settings(self, settings: dict[str, Any]) -> None:
        new = copy.deepcopy(self.cfg)
        for key, value in settings.items():
            if key == "versions":
                new[key] = ["v%d" % n for n in _version_list(value)]
            elif key in ("token_lifetime", "refresh_token_lifetime"):
                if float(value) <= 0:
                    raise ValueError("m365.%s must be positive" % key)
                new[key] = float(value)
            elif key == "throttle_token":
                _throttle_limits(value)
                new[key] = copy.deepcopy(value) if value else None
            elif key == "token_error_style":
                if value not in ("auto", "oauth", "legacy", "rest"):
                    raise ValueError("m365.token_error_style must be auto, oauth, legacy or rest")
                new[key] = value
            elif key == "unauthorized_body":
                if value not in ("empty", "rest"):
                    raise ValueError("m365.unauthorized_body must be empty or rest")
                new[key] = value
            elif key in ("request_latency_ms", "token_latency_ms"):
                if float(value) < 0:
                    raise ValueError("m365.%s must not be negative" % key)
                new[key] = float(value)
            elif key in ("page_limit_default", "page_limit_max"):
                new[key] = int(value)
            elif key == "start_body_required":
                new[key] = ["v%d" % n for n in _version_list(value)] if value else []
            else:
                new[key] = str(value)
        if hasattr(self, "throttle_log") and (_throttle_limits(new.get("throttle_token"))
                                              != _throttle_limits(self.cfg.get("throttle_token"))):
            self.throttle_log.clear()  # new limits count from now (as a server restarted with new limits would)
        self.cfg = new

    @property
    def versions(self) -> list[int]:
        return _version_list(self.cfg["versions"])

    # ------------------------------------------------------------------------------------------ Api
    def handle(self, req: Request) -> Response:
        version = self._version_of(req)
        try:
            if version is None or version not in self.versions:
                raise ApiError(404, "No HTTP resource was found that matches the request URI '%s'." % req.path)
            route, params = self._match(req, version)
            user = None
            if not route.anonymous:
                user = self._authenticate(req)
            handler = getattr(self, "_h_" + route.handler)
            return handler(req, version, params, user)
        except ApiError as err:
            return self._error(err, version or 8)

    def route_key(self, req: Request) -> str:
        version = self._version_of(req)
        if version is not None:
            rest = self._rest_of(req.path)
            for route in ROUTES:
                if route.method == req.method.upper() and route.pattern.match(rest):
                    return "%s /v%d%s" % (route.method, version, route.template)
        parts = ["{id}" if _ID_RE.match(part) else part for part in req.path.split("/")]
        return "%s %s" % (req.method.upper(), "/".join(parts))

    def error_response(self, status: int, message: str, req: Request) -> Response:
        version = self._version_of(req) or 8
        return self._error(ApiError(status, message), version)

    def expire_auth(self) -> None:
        now = self._wall()
        for token in self.tokens.values():
            token["expires"] = min(token["expires"], now - 0.001)

    def counters_view(self) -> dict[str, Any]:
        values = self.counters.snapshot()["values"]
        view: dict[str, Any] = {"tokens_issued": 0, "token_refreshes": 0, "token_failures": 0, "throttled": 0,
                                "logouts": 0, "starts": {}, "actions": {}}
        view.update(values)
        view["open_tokens"] = self._open_tokens()
        view["restore_sessions_open"] = self.state.open_restore_sessions()
        return view

    def apply_config(self, cfg: dict[str, Any]) -> None:
        """Accepts the whole ``POST /_emulator/config`` body (``{"m365": {...}, "jobs": {...}}``, other
        top-level keys ignored) or only this API's part (``{"token_lifetime": 60, "jobs": {...}}``)."""
        if set(cfg) <= WHOLE_BODY_KEYS:
            m365 = dict(cfg.get("m365") or {})
        else:
            m365, cfg = dict(cfg), {}
        unknown = set(m365) - CONFIG_KEYS
        if unknown:
            raise ValueError("unknown m365 settings: %s" % ", ".join(sorted(unknown)))
        job_settings: dict[str, Any] = {}
        job_settings.update(m365.pop("jobs", None) or {})
        job_settings.update(cfg.get("jobs") or {})
        self._apply_settings(m365)
        for key, settings in job_settings.items():
            for job in self.state.find_jobs(str(key)):
                M365State.apply_job_settings(job, settings or {})

    def state_view(self) -> dict[str, Any]:
        now = self.clock.now()
        ctx = Ctx(8, "", now)
        jobs = []
        for job in self.state.jobs_in_order():
            latest = self.state.latest_session(job.id)
            jobs.append({
                "id": job.id, "name": job.name, "organization": self.state.organizations[job.organization_id].name,
                "isEnabled": job.enabled, "lastStatus": self.state.last_status(job, now),
                "settings": {"duration": job.duration, "result": job.result, "queue_time": job.queue_time},
                "running": bool(latest and latest.is_active(now)),
                "last_session": session_view(ctx, latest) if latest else None,
            })
        return {
            "now": now, "versions": self.cfg["versions"], "jobs": jobs,
            "restore_sessions": [restore_view(ctx, self.state, r) for r in self.state.restore_sessions.values()],
            "open_tokens": self._open_tokens(),
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "cfg": copy.deepcopy(self.cfg),
            "state": self.state.dynamic_snapshot(),
            "tokens": copy.deepcopy(self.tokens),
            "refresh_tokens": copy.deepcopy(self.refresh_tokens),
            "counters": self.counters.snapshot(),
        }

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
        version = self._version_of(req)
        if version is not None and re.match(r"^/token/?$", self._rest_of(req.path), re.IGNORECASE):
            ms += float(self.cfg.get("token_latency_ms") or 0)
        return ms / 1000.0

    # ------------------------------------------------------------------------------------------ plumbing
    @staticmethod
    def _version_of(req: Request) -> int | None:
        match = _VERSION_RE.match(req.path)
        return int(match.group(1)) if match else None

    @staticmethod
    def _rest_of(path: str) -> str:
        match = _VERSION_RE.match(path)
        rest = (match.group(2) if match else path) or "/"
        return rest.rstrip("/") or "/"

    def _match(self, req: Request, version: int) -> tuple[Route, dict[str, str]]:
        rest = self._rest_of(req.path)
        allowed = []
        for route in ROUTES:
            if version not in route.versions:
                continue
            match = route.pattern.match(rest)
            if not match:
                continue
            if route.method == req.method.upper():
                return route, match.groupdict()
            allowed.append(route.method)
        if allowed:
            raise ApiError(405, "The requested resource does not support http method '%s'." % req.method.upper(),
                           headers={"Allow": ", ".join(sorted(set(allowed)))})
        raise ApiError(404, "No HTTP resource was found that matches the request URI '%s'." % req.path)

    def _error(self, err: ApiError, version: int) -> Response:
        headers = dict(err.headers)
        if err.status == 204:
            return Response.empty(204, headers)
        body = err.body if err.body is not None else error_body(version, err.message, err.code)
        if body == "":
            return Response.empty(err.status, headers)
        return Response.json(err.status, body, headers)

    def _ctx(self, req: Request, version: int) -> Ctx:
        host = req.header("host") or "127.0.0.1:4443"
        return Ctx(version, "%s://%s" % (self.scheme, host), self.clock.now())

    def _job(self, raw_id: str) -> Job:
        try:
            jid = str(uuid.UUID(raw_id))
        except ValueError:
            raise ApiError(400, "The value '%s' is not valid for jobId." % raw_id) from None
        job = self.state.jobs.get(jid)
        if job is None:
            raise ApiError(404, "Job with ID '%s' was not found." % jid)
        return job

    def _json_body(self, req: Request, required: bool) -> Any:
        if not req.body.strip():
            if required:
                raise ApiError(400, "The request body is required.")
            return None
        if not _is_json(req):
            raise ApiError(415, "The request entity's media type '%s' is not supported for this resource."
                           % ((req.header("content-type") or "").split(";")[0] or "(none)"))
        try:
            return req.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "The request body is not valid JSON.") from None

    def _int_arg(self, req: Request, name: str, default: int, low: int, high: int | None = None) -> int:
        raw = req.arg(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, "The value '%s' is not valid for %s." % (raw, name)) from None
        if value < low or (high is not None and value > high):
            raise ApiError(400, "The value of %s must be between %d and %s." % (name, low, high if high is not None else "any"))
        return value

    def _paging(self, req: Request) -> tuple[int, int]:
        limit = self._int_arg(req, "limit", int(self.cfg["page_limit_default"]), 1, int(self.cfg["page_limit_max"]))
        offset = self._int_arg(req, "offset", 0, 0)
        return offset, limit

    def _time_arg(self, req: Request, name: str) -> float | None:
        raw = req.arg(name)
        if raw is None or raw == "":
            return None
        try:
            return parse_time(raw)
        except ValueError:
            raise ApiError(400, "The value '%s' is not valid for %s." % (raw, name)) from None

    @staticmethod
    def _page_params(req: Request, names: tuple[str, ...]) -> list[tuple[str, str]]:
        return [(name, req.arg(name) or "") for name in names if req.arg(name) not in (None, "")]

    def _paged(self, req: Request, ctx: Ctx, items: list[Any], path: str, filters: tuple[str, ...]) -> Response:
        offset, limit = self._paging(req)
        body = page(ctx, items[offset:offset + limit], offset, limit, len(items), path,
                    self._page_params(req, filters))
        return Response.json(200, body)

    # ------------------------------------------------------------------------------------------ auth
    def _open_tokens(self) -> int:
        now = self._wall()
        return sum(1 for t in self.tokens.values() if not t["revoked"] and t["expires"] > now)

    def _authenticate(self, req: Request) -> str:
        header = req.header("authorization") or ""
        scheme, _sep, value = header.partition(" ")
        token = self.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if token is None or token["revoked"] or token["expires"] <= self._wall():
            # Real VB365 answers a rejected or expired token with 401 and an empty body (users' captures);
            # ``unauthorized_body: rest`` sends the version's RESTExceptionInfo instead.
            raise ApiError(401, "Authorization has been denied for this request.",
                           headers={"WWW-Authenticate": "Bearer"},
                           body="" if self.cfg.get("unauthorized_body", "empty") == "empty" else None)
        return token["user"]

    def _throttle(self) -> None:
        limits = _throttle_limits(self.cfg.get("throttle_token"))
        if not limits:
            return
        now = self._wall()
        longest = max(window for _count, window in limits)
        while self.throttle_log and self.throttle_log[0] <= now - longest:
            self.throttle_log.popleft()
        for count, window in limits:
            recent = [t for t in self.throttle_log if t > now - window]
            if len(recent) >= count:
                retry = max(1, math.ceil((recent[0] + window - now) if recent else window))
                self.counters.incr("throttled")
                message = "API calls quota exceeded! maximum admitted %d per %s." % (count, _period_name(window))
                style = (self.cfg.get("throttle_token") or {}).get("body", "rest")
                body: Any = {"empty": "", "string": message}.get(style)
                raise ApiError(429, message, headers={"Retry-After": str(retry)}, body=body)
        self.throttle_log.append(now)

    def _oauth_error(self, error: str, description: str, version: int = 8, credentials: bool = False) -> ApiError:
        """A refused token request.  ``token_error_style``: ``oauth`` (OAuth 2.0's ``error``/``error_description``),
        ``legacy`` (what users report of older releases for a wrong password: ``{"error": "Authorization Error",
        "error_description": "Invalid credential"}``), ``rest`` (the version's RESTExceptionInfo), or ``auto``
        (the default): legacy up to v5, RESTExceptionInfo from v6, as users report of older and newer releases."""
        self.counters.incr("token_failures")
        style = self.cfg["token_error_style"]
        if style == "auto":
            style = "legacy" if version <= 5 else "rest"
        if style == "rest":
            return ApiError(400, description)
        if style == "legacy" and credentials:
            return ApiError(400, "Invalid credential", body={"error": "Authorization Error",
                                                             "error_description": "Invalid credential"})
        return ApiError(400, description, body={"error": error, "error_description": description})

    def _issue(self, user: str) -> dict[str, Any]:
        now = self._wall()
        lifetime = float(self.cfg["token_lifetime"])
        access = TOKEN_PREFIX + secrets.token_urlsafe(72)
        refresh = secrets.token_urlsafe(48)
        self.tokens[access] = {"user": user, "issued": now, "expires": now + lifetime, "revoked": False,
                               "refresh": refresh}
        self.refresh_tokens[refresh] = {"user": user, "issued": now, "revoked": False, "access": access,
                                        "expires": now + float(self.cfg["refresh_token_lifetime"])}
        self._prune_tokens(now)
        return {"access_token": access, "token_type": "bearer", "expires_in": int(lifetime), "refresh_token": refresh,
                "userName": user, ".issued": rfc1123(now), ".expires": rfc1123(now + lifetime)}

    def _prune_tokens(self, now: float) -> None:
        """Forget tokens dead for over an hour (a forgotten token gets the same 401 as an expired one)."""
        dead = [k for k, t in self.tokens.items() if (t["revoked"] or t["expires"] <= now) and t["expires"] < now - 3600]
        for key in dead:
            del self.tokens[key]
        dead = [k for k, t in self.refresh_tokens.items() if (t["revoked"] or t["expires"] <= now) and t["expires"] < now - 3600]
        for key in dead:
            del self.refresh_tokens[key]

    def _revoke(self, access: str | None) -> None:
        token = self.tokens.get(access or "")
        if token is None:
            return
        token["revoked"] = True
        refresh = self.refresh_tokens.get(token.get("refresh") or "")
        if refresh is not None:
            refresh["revoked"] = True

    # ------------------------------------------------------------------------------------------ handlers
    def _h_token(self, req: Request, version: int, _params: dict[str, str], _user: Any) -> Response:
        self._throttle()
        params: dict[str, Any] = {}
        if version >= 6 and _is_json(req):
            try:
                data = req.json()
            except (ValueError, UnicodeDecodeError):
                data = None
            if not isinstance(data, dict):
                raise self._oauth_error("invalid_request", "The request body is not a valid JSON object.", version)
            params = data
        else:
            try:
                params = req.form()
            except UnicodeDecodeError:
                params = {}
        grant = params.get("grant_type")
        if grant == "password":
            username, password = params.get("username"), params.get("password")
            known = self.users.get(str(username or "").lower())
            if not username or password is None or known is None or known[1] != password:
                raise self._oauth_error("invalid_grant", "The user name or password is incorrect.", version,
                                        credentials=True)
            self.counters.incr("tokens_issued")
            return Response.json(200, self._issue(known[0]), {"Cache-Control": "no-cache", "Pragma": "no-cache"})
        if grant == "refresh_token":
            refresh = self.refresh_tokens.get(str(params.get("refresh_token") or ""))
            if refresh is None or refresh["revoked"] or refresh["expires"] <= self._wall():
                raise self._oauth_error("invalid_grant", "The refresh token is invalid or expired.", version)
            refresh["revoked"] = True
            old = self.tokens.get(refresh["access"])
            if old is not None:
                old["revoked"] = True
            self.counters.incr("token_refreshes")
            return Response.json(200, self._issue(refresh["user"]), {"Cache-Control": "no-cache", "Pragma": "no-cache"})
        if grant in ("urn:ietf:params:oauth:grant-type:jwt-bearer", "operator", "integration"):
            raise self._oauth_error("unsupported_grant_type",
                                    "The grant type '%s' is not supported by the emulator." % grant)
        raise self._oauth_error("unsupported_grant_type", "The grant type is missing or not supported.", version)

    def _h_logout(self, req: Request, version: int, _params: dict[str, str], _user: Any) -> Response:
        value = (req.header("authorization") or "").partition(" ")[2].strip()
        self._revoke(value)
        self.counters.incr("logouts")
        return Response.empty(200 if version == 7 else 204)

    def _h_service_instance(self, _req: Request, _version: int, _params: dict[str, str], _user: Any) -> Response:
        return Response.json(200, service_instance_view(self.cfg["installation_id"], self.cfg["product_version"]))

    def _h_health(self, _req: Request, _version: int, _params: dict[str, str], _user: Any) -> Response:
        return Response.json(200, {"status": "Healthy",
                                   "entries": {"NATS": {"status": "Healthy"}, "PostgreSQL": {"status": "Healthy"}}})

    def _h_organizations(self, req: Request, version: int, _params: dict[str, str], _user: Any) -> Response:
        ctx = self._ctx(req, version)
        orgs = [organization_view(ctx, self.state, org) for org in self.state.organizations.values()]
        if version >= 8:
            return self._paged(req, ctx, orgs, "Organizations", ("extendedView",))
        return Response.json(200, orgs)

    def _organization(self, raw_id: str) -> Any:
        try:
            oid = str(uuid.UUID(raw_id))
        except ValueError:
            raise ApiError(400, "The value '%s' is not valid for organizationId." % raw_id) from None
        org = self.state.organizations.get(oid)
        if org is None:
            raise ApiError(404, "Organization with ID '%s' was not found." % oid)
        return org

    def _h_organization(self, req: Request, version: int, params: dict[str, str], _user: Any) -> Response:
        org = self._organization(params["id"])
        return Response.json(200, organization_view(self._ctx(req, version), self.state, org))

    def _h_organization_jobs(self, req: Request, version: int, params: dict[str, str], _user: Any) -> Response:
        org = self._organization(params["id"])
        ctx = self._ctx(req, version)
        return Response.json(200, [job_view(ctx, self.state, job) for job in self.state.jobs_in_order()
                                   if job.organization_id == org.id])

    def _h_jobs(self, req: Request, version: int, _params: dict[str, str], _user: Any) -> Response:
        ctx = self._ctx(req, version)
        jobs = self.state.jobs_in_order()
        if version < 8:
            return Response.json(200, [job_view(ctx, self.state, job) for job in jobs])
        for name, attr in (("organizationId", "organization_id"), ("repositoryId", "repository_id")):
            raw = req.arg(name)
            if raw not in (None, ""):
                try:
                    wanted = str(uuid.UUID(str(raw)))
                except ValueError:
                    raise ApiError(400, "The value '%s' is not valid for %s." % (raw, name)) from None
                jobs = [job for job in jobs if getattr(job, attr) == wanted]
        views = [job_view(ctx, self.state, job) for job in jobs]
        return self._paged(req, ctx, views, "Jobs", ("organizationId", "repositoryId"))

    def _h_job(self, req: Request, version: int, params: dict[str, str], _user: Any) -> Response:
        return Response.json(200, job_view(self._ctx(req, version), self.state, self._job(params["id"])))

    # -- job actions (shared by v2-v5 /Action and v6+ separate endpoints)
    def _count_action(self, job: Job, action: str) -> None:
        per_job = self.counters.values.setdefault("actions", {}).setdefault(job.id, {})
        per_job[action] = per_job.get(action, 0) + 1

    def _do_start(self, job: Job, full: bool, user: str) -> Any:
        now = self.clock.now()
        if self.state.active_session(job.id, now) is not None:
            raise ApiError(400, "Job '%s' is already running." % job.name, code="OperationConflict")
        session = self.state.start(job, now, full, user)
        self._count_action(job, "start")
        self.counters.incr_in("starts", job.id)
        return session

    def _do_stop(self, job: Job, user: str) -> None:
        now = self.clock.now()
        session = self.state.active_session(job.id, now)
        if session is None:
            raise ApiError(400, "Job '%s' is not running." % job.name, code="OperationConflict")
        if session.stop_requested is None:
            self.state.stop(session, now, user)
        self._count_action(job, "stop")

    def _do_enable(self, job: Job, enabled: bool) -> None:
        if job.enabled != enabled:
            job.enabled = enabled
            job.etag += 1
        self._count_action(job, "enable" if enabled else "disable")

    def _do_explore(self, job: Job, options: dict[str, Any], user: str, version: int) -> Any:
        if not isinstance(options, dict):
            raise ApiError(400, "The explore options must be a JSON object.")
        lowered = {str(k).lower(): v for k, v in options.items()}
        raw_type = lowered.get("type")
        if raw_type is None:
            rtype = "Vex"
        else:
            matches = [t for t in RESTORE_TYPES if t.lower() == str(raw_type).lower()]
            allowed = RESTORE_TYPES if version >= 5 else RESTORE_TYPES[:3]
            if not matches or matches[0] not in allowed:
                raise ApiError(400, "The value '%s' is not valid for type." % raw_type)
            rtype = matches[0]
        raw_time = lowered.get("datetime")
        point = None
        if raw_time not in (None, ""):
            try:
                point = parse_time(str(raw_time))
            except ValueError:
                raise ApiError(400, "The value '%s' is not valid for dateTime." % raw_time) from None
        show_deleted = _as_bool(lowered.get("showdeleted"), "showDeleted")
        show_all = _as_bool(lowered.get("showallversions"), "showAllVersions")
        now = self.clock.now()
        if self.state.last_backup(job, now) is None:
            raise ApiError(400, "Job '%s' has no restore points." % job.name)
        rsession = self.state.explore(job, now, rtype, point, user, bool(show_deleted), bool(show_all))
        self._count_action(job, "explore")
        return rsession

    def _h_job_action_legacy(self, req: Request, version: int, params: dict[str, str], user: str) -> Response:
        job = self._job(params["id"])
        body = self._json_body(req, required=True)
        if not isinstance(body, dict) or len(body) != 1:
            raise ApiError(400, "The request body must contain exactly one action.")
        key, value = next(iter(body.items()))
        action = str(key).lower()
        actions = JOB_ACTIONS if version >= 3 else JOB_ACTIONS[:4]
        if action not in actions:
            raise ApiError(400, "The action '%s' is not supported." % key)
        if action == "explore":
            rsession = self._do_explore(job, value if value is not None else {}, user, version)
            return Response.json(200, restore_view(self._ctx(req, version), self.state, rsession))
        if action == "start":
            self._do_start(job, False, user)
        elif action == "stop":
            self._do_stop(job, user)
        else:
            self._do_enable(job, action == "enable")
        return Response.empty(200)

    def _h_job_start(self, req: Request, version: int, params: dict[str, str], user: str) -> Response:
        job = self._job(params["id"])
        required = "v%d" % version in self.cfg["start_body_required"]
        body = self._json_body(req, required=required)
        if body is not None and not isinstance(body, dict):
            raise ApiError(400, "The request body must be a RESTStartJobOptions object.")
        full = _as_bool((body or {}).get("full"), "full") if body else False
        session = self._do_start(job, bool(full), user)
        if version >= 8:
            return Response.json(200, session_view(self._ctx(req, version), session))
        return Response.empty(204)

    def _h_job_stop(self, _req: Request, _version: int, params: dict[str, str], user: str) -> Response:
        self._do_stop(self._job(params["id"]), user)
        return Response.empty(204)

    def _h_job_enable(self, _req: Request, _version: int, params: dict[str, str], _user: str) -> Response:
        self._do_enable(self._job(params["id"]), True)
        return Response.empty(204)

    def _h_job_disable(self, _req: Request, _version: int, params: dict[str, str], _user: str) -> Response:
        self._do_enable(self._job(params["id"]), False)
        return Response.empty(204)

    def _h_job_explore(self, req: Request, version: int, params: dict[str, str], user: str) -> Response:
        job = self._job(params["id"])
        body = self._json_body(req, required=True)
        rsession = self._do_explore(job, body, user, version)
        return Response.json(201 if version >= 8 else 200, restore_view(self._ctx(req, version), self.state, rsession))

    # -- job sessions
    def _session_list(self, req: Request, version: int, ctx: Ctx, sessions: list[Any], path: str,
                      filters: tuple[str, ...]) -> Response:
        views = [session_view(ctx, s) for s in sessions]
        if version <= 4:
            return Response.json(200, views)
        return self._paged(req, ctx, views, path, filters)

    def _h_job_sessions_of_job(self, req: Request, version: int, params: dict[str, str], _user: Any) -> Response:
        job = self._job(params["id"])
        ctx = self._ctx(req, version)
        return self._session_list(req, version, ctx, self.state.sessions_of(job.id, ctx.now),
                                  "Jobs/%s/JobSessions" % job.id, ())

    def _h_job_sessions(self, req: Request, version: int, _params: dict[str, str], _user: Any) -> Response:
        ctx = self._ctx(req, version)
        sessions = self.state.sessions_of(None, ctx.now)
        filters: tuple[str, ...] = ()
        if version >= 6:  # v2-v5 take no filters; v6 has no jobId filter (an unknown parameter is ignored)
            filters = ("jobType", "endTimeLowerBound")
            job_type = req.arg("jobType")
            if job_type not in (None, ""):
                if job_type.lower() not in ("backup", "copy"):
                    raise ApiError(400, "The value '%s' is not valid for jobType." % job_type)
                if job_type.lower() == "copy":
                    sessions = []
            lower = self._time_arg(req, "endTimeLowerBound")
            if lower is not None:
                sessions = [s for s in sessions if s.created >= lower - EPS]
        if version >= 7:
            filters = ("jobId", "jobType", "endTimeLowerBound", "endTimeUpperBound")
            upper = self._time_arg(req, "endTimeUpperBound")
            if upper is not None:
                sessions = [s for s in sessions if s.created <= upper + EPS]
            raw_job = req.arg("jobId")
            if raw_job not in (None, ""):
                try:
                    wanted = str(uuid.UUID(str(raw_job)))
                except ValueError:
                    raise ApiError(400, "The value '%s' is not valid for jobId." % raw_job) from None
                sessions = [s for s in sessions if s.job_id == wanted]
        if version >= 8:
            filters = filters + ("status",)
            raw_status = req.arg("status")
            if raw_status not in (None, ""):
                mapping = {"stopped": "Stopped", "running": "Running", "succeeded": "Success", "failed": "Failed",
                           "warning": "Warning"}
                wanted_status = mapping.get(raw_status.lower())
                if wanted_status is None:
                    raise ApiError(400, "The value '%s' is not valid for status." % raw_status)
                sessions = [s for s in sessions if s.status(ctx.now) == wanted_status]
        return self._session_list(req, version, ctx, sessions, "JobSessions", filters)

    def _h_job_session(self, req: Request, version: int, params: dict[str, str], _user: Any) -> Response:
        session = self.state.sessions.get(self._uuid_param(params["id"], "jobSessionsId"))
        if session is None:
            raise ApiError(404, "Job session with ID '%s' was not found." % params["id"])
        return Response.json(200, session_view(self._ctx(req, version), session))

    @staticmethod
    def _uuid_param(raw: str, name: str) -> str:
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            raise ApiError(400, "The value '%s' is not valid for %s." % (raw, name)) from None

    # -- restore sessions
    def _restore(self, raw_id: str) -> Any:
        rsession = self.state.restore_sessions.get(self._uuid_param(raw_id, "restoreSessionId"))
        if rsession is None:
            raise ApiError(404, "Restore session with ID '%s' was not found." % raw_id)
        return rsession

    def _h_restore_sessions(self, req: Request, version: int, _params: dict[str, str], _user: Any) -> Response:
        ctx = self._ctx(req, version)
        found = list(self.state.restore_sessions.values())
        if version <= 4:
            found.sort(key=lambda r: (r.created, r.seq), reverse=True)
            return Response.json(200, [restore_view(ctx, self.state, r) for r in found])
        filters = ("startTimeFrom", "startTimeTo")
        for name, keep in (("startTimeFrom", lambda r, t: r.created >= t - EPS), ("startTimeTo", lambda r, t: r.created <= t + EPS)):
            bound = self._time_arg(req, name)
            if bound is not None:
                found = [r for r in found if keep(r, bound)]
        order_by, ascending = "CreationTime", False
        if version >= 8:
            filters = filters + ("endTimeFrom", "endTimeTo", "orderAsc", "orderBy")
            for name, keep in (("endTimeFrom", lambda r, t: r.ended is not None and r.ended >= t - EPS),
                               ("endTimeTo", lambda r, t: r.ended is not None and r.ended <= t + EPS)):
                bound = self._time_arg(req, name)
                if bound is not None:
                    found = [r for r in found if keep(r, bound)]
            ascending = _as_bool(req.arg("orderAsc"), "orderAsc") or False
            raw_order = req.arg("orderBy")
            if raw_order not in (None, ""):
                if raw_order.lower() not in ("creationtime", "endtime"):
                    raise ApiError(400, "The value '%s' is not valid for orderBy." % raw_order)
                order_by = "EndTime" if raw_order.lower() == "endtime" else "CreationTime"
        if order_by == "EndTime":
            found.sort(key=lambda r: (r.ended if r.ended is not None else float("inf"), r.seq), reverse=not ascending)
        else:
            found.sort(key=lambda r: (r.created, r.seq), reverse=not ascending)
        views = [restore_view(ctx, self.state, r) for r in found]
        return self._paged(req, ctx, views, "RestoreSessions", filters)

    def _h_restore_session(self, req: Request, version: int, params: dict[str, str], _user: Any) -> Response:
        return Response.json(200, restore_view(self._ctx(req, version), self.state, self._restore(params["id"])))

    def _stop_restore(self, raw_id: str) -> None:
        rsession = self._restore(raw_id)
        if rsession.ended is not None:
            raise ApiError(400, "Restore session '%s' is already stopped." % rsession.id, code="OperationConflict")
        rsession.ended = self.clock.now()
        rsession.etag += 1

    def _h_restore_session_stop(self, _req: Request, version: int, params: dict[str, str], _user: Any) -> Response:
        self._stop_restore(params["id"])
        return Response.empty(204 if version >= 8 else 200)

    def _h_restore_session_action_legacy(self, req: Request, _version: int, params: dict[str, str], _user: Any) -> Response:
        self._restore(params["id"])
        body = self._json_body(req, required=True)
        if not isinstance(body, dict) or [str(k).lower() for k in body] != ["stop"]:
            raise ApiError(400, "The request body must contain the stop action.")
        self._stop_restore(params["id"])
        return Response.empty(200)


def dump_routes() -> str:
    """The route table as text (for the docs and for debugging)."""
    lines = []
    for route in ROUTES:
        versions = ",".join("v%d" % v for v in route.versions)
        lines.append("%-5s /vN%-32s %s%s" % (route.method, route.template, versions, " (no auth)" if route.anonymous else ""))
    return "\n".join(lines)


__all__ = ["Vb365Api", "ROUTES", "dump_routes"]
