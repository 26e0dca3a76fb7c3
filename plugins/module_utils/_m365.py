# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Veeam Backup for Microsoft 365 REST API client.  Private to backupops.veeam: not a public API.

What to ask VB365, version by version: the token lifecycle (password grant, refresh before expiry during long
waits, back-off on 429, logout on v7+), jobs (a plain list up to v7, pages in v8), job actions, job sessions,
restore sessions, and waiting for a job run or a restore session to end.  Every route string and request body of
the VB365 API is in :class:`Routes`, and only there: ``/vN/Jobs/{id}/Action`` with ``{"start": null}``-style
bodies up to v5, one endpoint per action from v6, the ``{"full": bool}`` start body (required by the v6-v8
specs; v8 answers with the job session), job sessions as a plain array up to v4 and pages from v5,
``/Jobs/{id}/JobSessions`` up to v6 and ``/JobSessions?jobId=`` from v7, lowercase enum values before v6.

The views (:func:`job_view`, :func:`session_view`, :func:`restore_session_view`) give the same snake_case keys
in every version, with the enums that changed spelling between versions in one spelling (restore session
types as the modules' ``type`` option writes them, ``vex``; backup types as v6+ writes them,
``EntireOrganization``).
"""

from __future__ import annotations

import datetime
import re
import time
import urllib.parse

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _wire as W
from ansible_collections.backupops.veeam.plugins.module_utils._errors import VeeamError
from ansible_collections.backupops.veeam.plugins.module_utils._http import RetryPolicy

DEFAULT_PORT = 4443
VERSIONS = ("v2", "v3", "v4", "v5", "v6", "v7", "v8")
API_VERSIONS = VERSIONS + ("auto",)
RESTORE_TYPES = ("vex", "veod", "vesp", "vet")

#: lastStatus / status values that mean "this job is running".
RUNNING = frozenset(("running", "queued"))
#: Status values that end a run: the values of the specs' status enum (Stopped, Running, Success, Failed, Warning,
#: NotConfigured, Disconnected, Queued) other than Queued and Running.  A wait ends on these only: a missing or
#: unknown status (a value a newer VB365 may add) counts as still running, so the wait ends on a status it knows
#: or times out naming the last one seen.  NotConfigured (the job cannot run as configured) and Disconnected (the
#: backup proxy was unreachable) end a run without a backup, so they fail like Failed.
ENDED = frozenset(("success", "warning", "failed", "stopped", "notconfigured", "disconnected"))
FAILED = frozenset(("failed", "notconfigured", "disconnected"))
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ISO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$",
                       re.IGNORECASE)
_EPOCH = datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc)

#: ``before`` of :meth:`Vb365.act` when the newest session before the action was not read.
NOT_READ = object()


class Routes:
    """The routes, bodies and status codes of one REST API version (the only place that knows them)."""

    def __init__(self, version):
        if version not in VERSIONS:
            raise VeeamError("api_version %r is not one of %s" % (version, ", ".join(API_VERSIONS)), kind=E.USAGE)
        self.version = version
        self.number = int(version[1:])

    def path(self, template, **values):
        quoted = {k: urllib.parse.quote(str(v), safe="") for k, v in values.items()}
        return "/%s/%s" % (self.version, template.format(**quoted))

    @property
    def legacy_actions(self):
        """Up to v5 every job action is ``POST /vN/Jobs/{id}/Action`` with a one-property body."""
        return self.number <= 5

    @property
    def has_logout(self):
        return self.number >= 7

    @property
    def jobs_paged(self):
        return self.number >= 8

    @property
    def jobs_have_organization(self):
        """Jobs carry ``organizationId`` from v8; before, a job's organization is known from
        ``/Organizations/{id}/Jobs`` only."""
        return self.number >= 8

    @property
    def supports_full(self):
        """``{"full": true}`` (an active full backup) exists from v6 (``RESTStartJobOptions``)."""
        return self.number >= 6

    @property
    def supports_explore(self):
        return self.number >= 3

    @property
    def start_returns_session(self):
        """v8 answers a start with the new job session; v2-v7 answer with no body."""
        return self.number >= 8

    @property
    def restore_types(self):
        """Restore session types the explore action takes: Teams (``vet``) came with v5."""
        return RESTORE_TYPES if self.number >= 5 else RESTORE_TYPES[:3]

    def token(self):
        return self.path("token")

    def logout(self):
        return self.path("token/logout")

    def service_instance(self):
        return self.path("ServiceInstance")

    def jobs(self, offset=None, limit=None):
        if self.jobs_paged and limit is not None:
            return self.path("Jobs") + "?offset=%d&limit=%d" % (offset or 0, limit)
        return self.path("Jobs")

    def job(self, job_id):
        return self.path("Jobs/{id}", id=job_id)

    def organizations(self):
        """All organizations: a plain list before v8, a page (one large one) in v8."""
        return self.path("Organizations") + ("?limit=10000" if self.jobs_paged else "")

    def organization_jobs(self, org_id):
        """A plain list of one organization's jobs (v2-v7; removed in v8, where jobs carry organizationId)."""
        return self.path("Organizations/{id}/Jobs", id=org_id)

    def action(self, job_id, action, full=False):
        """``(path, json body, accepted status codes)`` of a job action: start, stop, enable, disable."""
        if self.legacy_actions:
            return self.path("Jobs/{id}/Action", id=job_id), {action: None}, (200, 204)
        body = {"full": bool(full)} if action == "start" else None
        codes = {"start": (200,) if self.start_returns_session else (204, 200)}.get(action, (204, 200))
        return self.path("Jobs/{id}/%s" % action, id=job_id), body, codes

    def explore(self, job_id, point_in_time, restore_type, show_deleted, show_all_versions):
        """``(path, json body, accepted codes)`` of exploring a job's backup (creates a restore session).

        Up to v5: ``/Action`` with ``{"explore": {"datetime": "yyyy-MM-dd HH:mm:ss.fff", "type": "vex", ...}}``
        (the legacy format has no time zone; the time is sent in UTC).  From v6: ``/explore`` with
        ``RESTExploreOptions`` (``dateTime`` ISO 8601 in UTC, ``type`` ``Vex``); 200 in v6/v7, 201 in v8.
        """
        millis = "%03d" % (point_in_time.microsecond // 1000)
        if self.legacy_actions:
            body = {"explore": {"datetime": point_in_time.strftime("%Y-%m-%d %H:%M:%S.") + millis,
                                "type": restore_type.lower(), "showDeleted": bool(show_deleted),
                                "showAllVersions": bool(show_all_versions)}}
            return self.path("Jobs/{id}/Action", id=job_id), body, (200, 201)
        body = {"dateTime": point_in_time.strftime("%Y-%m-%dT%H:%M:%S.") + millis + "Z",
                "type": restore_type.capitalize(), "showDeleted": bool(show_deleted),
                "showAllVersions": bool(show_all_versions)}
        return self.path("Jobs/{id}/explore", id=job_id), body, ((201, 200) if self.number >= 8 else (200, 201))

    def job_sessions(self, job_id, limit=30):
        """``(path, paged)``: a job's sessions (newest first, as VB365 lists them; the client sorts anyway).

        v2-v4 ``/Jobs/{id}/JobSessions`` (a plain array of all of them), v5/v6 the same as a page, v7+
        ``/JobSessions?jobId=`` (v6 ignores a ``jobId`` filter and would list every job's sessions).
        """
        if self.number >= 7:
            return self.path("JobSessions") + "?jobId=%s&limit=%d" % (urllib.parse.quote(job_id), limit), True
        if self.number >= 5:
            return self.path("Jobs/{id}/JobSessions", id=job_id) + "?limit=%d" % limit, True
        return self.path("Jobs/{id}/JobSessions", id=job_id), False

    def job_session(self, session_id):
        return self.path("JobSessions/{id}", id=session_id)

    def restore_session(self, session_id):
        return self.path("RestoreSessions/{id}", id=session_id)

    def restore_sessions(self, offset=0, limit=30):
        """Restore sessions: a plain array of all of them up to v4, a page from v5; v8 sorts them newest first
        when asked (``orderBy``, ``orderAsc``), earlier versions do not say in which order they list them."""
        if self.number < 5:
            return self.path("RestoreSessions")
        query = "?offset=%d&limit=%d" % (offset, limit)
        if self.number >= 8:
            query += "&orderBy=CreationTime&orderAsc=false"
        return self.path("RestoreSessions") + query

    def stop_restore_session(self, session_id):
        """``(path, body, codes)``: ``/Stop`` from v6 (v6/v7 200, v8 204), ``/Action {"stop": null}`` before."""
        if self.legacy_actions:
            return self.path("RestoreSessions/{id}/Action", id=session_id), {"stop": None}, (200, 204)
        return self.path("RestoreSessions/{id}/Stop", id=session_id), None, (204, 200)


def _items(data):
    """A list from a plain array (v2-v7) or a page ``{"results": [...]}`` (v5+ sessions, v8 jobs)."""
    if isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        return [item for item in data["results"] if isinstance(item, dict)]
    raise VeeamError("VB365 sent a list in an unexpected shape (%s)" % type(data).__name__, kind=E.PARSE)


def parse_time(value):
    """A VB365 date-time (``2026-11-21T19:21:35.0254800Z``: seven fraction digits, ``Z`` or an offset, or none)
    as an aware datetime, or None when it is missing or not ISO 8601."""
    match = _ISO_TIME.match(str(value or "").strip())
    if not match:
        return None
    date, clock, fraction, zone = match.groups()
    if len(clock) == 5:
        clock += ":00"
    fraction = (fraction or "0")[:6].ljust(6, "0")
    if not zone or zone.upper() == "Z":
        zone = "+00:00"
    elif ":" not in zone:
        zone = zone[:3] + ":" + zone[3:]
    try:
        return datetime.datetime.fromisoformat("%sT%s.%s%s" % (date, clock, fraction, zone))
    except ValueError:
        return None


def newest_first(sessions):
    """Sessions sorted by ``creationTime``, newest first (parsed, so fraction lengths do not matter)."""
    return sorted(sessions, key=lambda s: parse_time(s.get("creationTime")) or _EPOCH, reverse=True)


def _pascal(value):
    """``entireOrganization`` (v2-v5) -> ``EntireOrganization`` (v6+); other values unchanged."""
    return value[:1].upper() + value[1:] if isinstance(value, str) else value


def restore_type_name(value):
    """``Vex`` (v6+) or ``vex`` (v2-v5) -> ``vex``, the spelling of the modules' ``type`` option."""
    lowered = str(value or "").lower()
    return lowered if lowered in RESTORE_TYPES else value


def job_view(raw, organizations=None, organization_id=None):
    """A job with the same keys in every version; ``organization_id`` for versions whose jobs lack it."""
    org_id = raw.get("organizationId") or organization_id
    org_name = (organizations or {}).get(org_id) if isinstance(org_id, str) else None
    return {
        "id": raw.get("id"),
        "name": raw.get("name"),
        "description": raw.get("description"),
        "is_enabled": raw.get("isEnabled"),
        "last_status": raw.get("lastStatus"),
        "last_run": raw.get("lastRun"),
        "next_run": raw.get("nextRun"),
        "last_backup": raw.get("lastBackup"),
        "organization_id": org_id,
        "organization": org_name,
        "backup_type": _pascal(raw.get("backupType")),
        "repository_id": raw.get("repositoryId"),
    }


def session_view(raw):
    """A job session with the same keys in every version (missing fields of older versions are None)."""
    if not raw:
        return None
    statistics = raw.get("statistics")
    return {
        "id": raw.get("id"),
        "job_id": raw.get("jobId"),
        "status": raw.get("status"),
        "progress": raw.get("progress"),
        "creation_time": raw.get("creationTime"),
        "end_time": raw.get("endTime"),
        "details": raw.get("details"),
        "retry_count": raw.get("retryCount"),
        "job_will_be_retried": raw.get("jobWillBeRetried"),
        "job_type": raw.get("jobType"),
        "job_session_config_type": raw.get("jobSessionConfigType"),
        "statistics": W.plain(statistics) if isinstance(statistics, dict) else None,
    }


def restore_session_view(raw):
    """A restore session with the same keys in every version; ``type`` spelled ``vex`` in every version."""
    return {
        "id": raw.get("id"),
        "name": raw.get("name"),
        "organization": raw.get("organization"),
        "type": restore_type_name(raw.get("type")),
        "state": raw.get("state"),
        "result": raw.get("result"),
        "creation_time": raw.get("creationTime"),
        "end_time": raw.get("endTime"),
        "initiated_by": raw.get("initiatedBy"),
        "details": raw.get("details"),
        "scope_name": raw.get("scopeName"),
        "client_host": raw.get("clientHost"),
        "reason": raw.get("reason"),
    }


def is_running(status):
    """A status VB365 uses for a run that goes on (Queued, Running).  Used to decide whether to start or stop a
    job: an unknown ``lastStatus`` is not taken as running (VB365 refuses a start of a running job anyway)."""
    return str(status or "").lower() in RUNNING


def has_ended(status):
    """A status that ends a run (see ``ENDED``): a missing or unknown one does not."""
    return str(status or "").lower() in ENDED


def ended_badly(status):
    """Failed, NotConfigured or Disconnected: the run ended without a backup."""
    return str(status or "").lower() in FAILED


def restore_session_stopped(raw):
    return str((raw or {}).get("state") or "").lower() == "stopped"


class Vb365:
    """One VB365 token for one module run, used as a context manager: log in on enter, log out on exit (v7+).

    The access token is refreshed (refresh_token grant, falling back to the password grant) when it is about to
    expire, so a long wait never meets a 401; a 401 anyway (token revoked) gets one refresh and one retry.
    """

    def __init__(self, transport, username, password, api_version="v8", warn=None, clock=time.monotonic,
                 token_retry=None):
        if api_version not in API_VERSIONS:
            raise VeeamError("api_version %r is not one of %s" % (api_version, ", ".join(API_VERSIONS)),
                             kind=E.USAGE)
        if not (username and password):
            raise VeeamError("username and password are required", kind=E.USAGE)
        self.t = transport
        self.username = username
        self._password = password
        self.requested_version = api_version
        self.routes = None if api_version == "auto" else Routes(api_version)
        self.warn = warn or (lambda message: None)
        self.clock = clock
        # The token endpoint throttles (429 "Quota Exceeded"): wait longer and more often there.
        self.token_retry = token_retry or RetryPolicy(attempts=6, base=1.0, cap=20.0)
        self._access = None
        self._refresh_token = None
        self._expires_at = None
        self._lifetime = None
        self.logins = 0
        self.refreshes = 0
        self._organizations = None
        self._org_records = None
        self._job_orgs = {}
        self._mapped_orgs = set()  # organizations whose job list was read (several jobs of one task share them)
        self.started = []  # (job name, None) of every start this client made (VeeamModule.fail reads it)
        self.changes = []  # what this client changed, in words, for errors that come after a change

    @property
    def version(self):
        return self.routes.version if self.routes else None

    # ------------------------------------------------------------------ token lifecycle
    def __enter__(self):
        if self.routes is None:
            self.routes = Routes(self.detect_version())
        self.login()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if self._access and self.routes.has_logout:
                try:
                    self.logout()
                except VeeamError as err:
                    self.warn("Could not log out from VB365 (%s); the token expires on its own" % err)
        finally:
            self._access = self._refresh_token = None
            self.t.close()
        return False

    def detect_version(self):
        """The newest API version the server offers: ``GET /vN/ServiceInstance`` without a token answers 401
        when version N is served and 404 when it is not."""
        for version in reversed(VERSIONS):
            resp = self.t.request("GET", Routes(version).service_instance())
            if resp.status in (200, 401, 403):
                return version
            if resp.status not in (404, 400):
                raise self._status_error(resp, "Could not detect the VB365 REST API version")
        raise VeeamError("The server offers none of the VB365 REST API versions v2-v8 (every probe of "
                         "/vN/ServiceInstance answered 404); is this the VB365 REST API port (4443 by default), "
                         "and is the REST API enabled in VB365?", kind=E.NOT_FOUND)

    def _token_request(self, form, what):
        resp = self.t.request("POST", self.routes.token(), data=form, safe=True, retry=self.token_retry,
                              headers={"Content-Type": "application/x-www-form-urlencoded",
                                       "Accept": "application/json"})
        if resp.status == 429:
            raise VeeamError("VB365 throttled %s (429 Quota Exceeded) and kept doing so after %d tries"
                             % (what, self.token_retry.attempts), kind=E.HTTP, status=429, method="POST",
                             path=self.routes.token(),
                             hint="Fewer logins per minute help: VB365 limits the token endpoint for clients that "
                                  "are not on the server itself")
        if resp.status != 200:
            return resp, None
        data = W.parse(resp.body, resp.content_type, "token response")
        if not isinstance(data, dict) or not data.get("access_token"):
            raise VeeamError("VB365 answered the token request without an access token", kind=E.PARSE,
                             status=resp.status, method="POST", path=self.routes.token())
        self._access = data["access_token"]
        self._refresh_token = data.get("refresh_token")
        lifetime = W.as_int(data.get("expires_in"), 3600) or 3600
        self._lifetime = lifetime
        self._expires_at = self.clock() + lifetime
        return resp, data

    def login(self):
        """Password grant: ``POST /vN/token`` (form-encoded)."""
        resp, data = self._token_request({"grant_type": "password", "username": self.username,
                                          "password": self._password}, "the login")
        if data is None:
            if resp.status in (400, 401, 403):
                message = self._veeam_message(resp)[0]
                raise VeeamError("VB365 rejected the username or password for '%s'" % self.username, kind=E.AUTH,
                                 status=resp.status, method="POST", path=self.routes.token(),
                                 veeam_message=message,
                                 hint="Check username and password; the account needs VB365 REST API access")
            if resp.status == 404:
                raise VeeamError("VB365 does not serve REST API version %s" % self.version, kind=E.NOT_FOUND,
                                 status=404, method="POST", path=self.routes.token(),
                                 hint="Use api_version: auto to detect the versions the server offers")
            raise self._status_error(resp, "VB365 login failed")
        self.logins += 1

    def refresh(self):
        """Refresh grant; a refused refresh token falls back to a new password login."""
        if self._refresh_token:
            resp, data = self._token_request({"grant_type": "refresh_token", "refresh_token": self._refresh_token},
                                             "the token refresh")
            if data is not None:
                self.refreshes += 1
                return
            if resp.status not in (400, 401, 403):
                raise self._status_error(resp, "VB365 token refresh failed")
        self.login()

    def logout(self):
        """``POST /vN/token/logout`` (v7: 200, v8: 204); there is no logout before v7."""
        resp = self.t.request("POST", self.routes.logout(), headers=self._headers(), safe=True)
        if resp.status not in (200, 204, 401):
            raise self._status_error(resp, "VB365 logout failed")
        self._access = None

    def _ensure_fresh(self):
        """Refresh the token when less than a minute (or a tenth of its life) is left."""
        if self._access and self._expires_at is not None:
            margin = min(60.0, (self._lifetime or 600) / 10.0)
            if self.clock() > self._expires_at - margin:
                self.refresh()

    # ------------------------------------------------------------------ requests
    def _headers(self):
        return {"Authorization": "Bearer %s" % self._access, "Accept": "application/json"}

    def call(self, method, path, json_body=None, expect=(200,), what="response", safe=None):
        """One request with the bearer token (refreshed first when due); one refresh and retry on 401 (a 401
        means nothing was done); Veeam errors raised."""
        self._ensure_fresh()
        shown = _shown(path)
        resp = self.t.request(method, path, json_body=json_body, headers=self._headers(), safe=safe,
                              display_path=shown)
        if resp.status == 401:
            self.refresh()
            resp = self.t.request(method, path, json_body=json_body, headers=self._headers(), safe=safe,
                                  display_path=shown)
        if resp.status not in expect:
            raise self._status_error(resp, ("VB365 could not return the %s" % what) if method == "GET"
                                     else ("VB365 refused %s" % what))
        return resp

    def get(self, path, what="response", noun=None):
        """GET a document.  ``what`` names it in "VB365 could not return the <what>", ``noun`` (default ``what``)
        in the parse errors: "The server sent a <noun> that is not valid JSON"."""
        resp = self.call("GET", path, what=what)
        return _document(resp, noun or what)

    @staticmethod
    def _veeam_message(resp):
        try:
            return W.error_text(W.parse(resp.body, resp.content_type, "error response"))
        except VeeamError:
            return None, None

    def _status_error(self, resp, text):
        message, code = self._veeam_message(resp)
        kind = {401: E.AUTH, 403: E.FORBIDDEN, 404: E.NOT_FOUND, 409: E.CONFLICT}.get(resp.status, E.HTTP)
        if code in ("OperationConflict",):
            kind = E.CONFLICT
        if message:
            text += ": " + message.rstrip(".")
        return VeeamError(text, kind=kind, status=resp.status, method=resp.method, path=_shown(resp.path),
                          veeam_message=message, veeam_code=code)

    # ------------------------------------------------------------------ organizations and jobs
    def _load_organizations(self):
        if self._org_records is None:
            records = _items(self.get(self.routes.organizations(), what="organizations", noun="list of organizations"))
            self._org_records = records
            self._organizations = {o.get("id"): o.get("name") for o in records}
        return self._org_records

    def organizations(self):
        """``{id: name}`` of the organizations (a list before v8, a page in v8)."""
        self._load_organizations()
        return self._organizations

    def match_organizations(self, organization):
        """Ids of the organizations named ``organization``: its id, its name (``contoso.onmicrosoft.com``) or
        its Microsoft 365 name (``officeName``, ``Contoso``), case-insensitively."""
        wanted = str(organization).strip().lower()
        records = self._load_organizations()
        ids = [o.get("id") for o in records
               if wanted in (str(o.get("id") or "").lower(), str(o.get("name") or "").lower(),
                             str(o.get("officeName") or "").lower())]
        if not ids:
            known = ", ".join(sorted(str(o.get("name")) for o in records if o.get("name"))) or "none"
            raise VeeamError("No VB365 organization named %r" % organization, kind=E.NOT_FOUND,
                             hint="Known organizations: %s" % known)
        return ids

    def _map_job_organizations(self, org_ids=None):
        """Learn which organization each job belongs to, for versions whose jobs lack ``organizationId``
        (``/Organizations/{id}/Jobs``, one request per organization)."""
        for oid in org_ids if org_ids is not None else list(self.organizations()):
            if oid in self._mapped_orgs:
                continue
            for job in _items(self.get(self.routes.organization_jobs(oid), what="jobs of organization %s" % oid,
                                       noun="list of an organization's jobs")):
                if isinstance(job.get("id"), str):
                    self._job_orgs[job["id"]] = oid
            self._mapped_orgs.add(oid)

    def organization_of(self, raw_job):
        """The organization id of a job, when VB365 said it (v8) or it was looked up."""
        job_id = raw_job.get("id")
        org_id = raw_job.get("organizationId") or (self._job_orgs.get(job_id) if isinstance(job_id, str) else None)
        return org_id if isinstance(org_id, str) else None

    def list_jobs(self, page_size=500):
        """Every job (all pages in v8), as raw dicts."""
        if not self.routes.jobs_paged:
            return _items(self.get(self.routes.jobs(), what="jobs", noun="job list"))
        jobs, offset = [], 0
        while True:
            page = _items(self.get(self.routes.jobs(offset, page_size), what="jobs", noun="job list"))
            jobs.extend(page)
            if len(page) < page_size:
                return jobs
            offset += len(page)

    def get_job(self, job_id):
        resp = self.call("GET", self.routes.job(job_id), expect=(200, 404), what="job %s" % job_id)
        if resp.status == 404:
            raise VeeamError("No VB365 job with id %s" % job_id, kind=E.NOT_FOUND,
                             hint="List the jobs with their ids in VB365, or select the job by job_name")
        return _record(resp, "job", job_id)

    def find_jobs(self, wanted):
        """Several jobs, each given as ``find_job``'s keyword arguments (``job_id``, ``job_name``,
        ``organization``), in the same order, with the errors of ``find_job`` (the first job in error raises).
        The job list is read once for all the jobs given by name."""
        listing = None
        found = []
        for item in wanted:
            if not item.get("job_id") and listing is None and str(item.get("job_name") or "").strip():
                listing = self.list_jobs()
            found.append(self.find_job(item.get("job_id"), item.get("job_name"), item.get("organization"),
                                       jobs=listing))
        return found

    def find_job(self, job_id=None, job_name=None, organization=None, jobs=None):
        """The one job named by id, or by exact name across every page (optionally within one organization);
        clear errors for none or several.  ``jobs``: the job list, when it was read already.

        Jobs that VB365 lists without an id are passed over, unless one of them is the job asked for: then the
        answer is a parse error (such a job cannot be started, read or awaited)."""
        if job_id:
            if not _GUID.match(job_id.strip()):
                raise VeeamError("job_id %r is not a VB365 job id (a GUID)" % job_id, kind=E.USAGE)
            return self.get_job(job_id.strip().lower())
        if job_name is None or not str(job_name).strip():
            raise VeeamError("job_name is empty: give the exact name of the job, or job_id", kind=E.USAGE)
        if jobs is None:
            jobs = self.list_jobs()
        matches = [j for j in jobs if j.get("name") == job_name]
        broken = [j for j in matches if not _has_id(j)]
        matches = [j for j in matches if _has_id(j)]
        if organization:
            wanted = self.match_organizations(organization)
            if not self.routes.jobs_have_organization and matches:
                self._map_job_organizations(wanted)
            matches = [j for j in matches if self.organization_of(j) in wanted]
            if self.routes.jobs_have_organization:  # before v8 the organization of a job without id is unknown
                broken = [j for j in broken if self.organization_of(j) in wanted]
        if broken:
            raise VeeamError("VB365 listed the job %r without an id, so it cannot be started, stopped or read; is the "
                             "server's REST API healthy?" % job_name, kind=E.PARSE, method="GET",
                             path=_shown(self.routes.jobs()),
                             hint="Select the job by job_id if you know it")
        if not matches:
            similar = sorted({j["name"] for j in jobs
                              if isinstance(j.get("name"), str) and j["name"].lower() == job_name.lower()})
            if similar:
                hint = "Names are matched exactly; similar: %s" % ", ".join(repr(n) for n in similar)
            elif organization and any(j.get("name") == job_name for j in jobs):
                hint = "A job of that name exists in another organization"
            else:
                hint = "Check the name in VB365 (%d jobs listed)" % len(jobs)
            raise VeeamError("No VB365 job named %r%s" % (job_name, " in organization %r" % organization
                                                          if organization else ""), kind=E.NOT_FOUND, hint=hint)
        if len(matches) > 1:
            orgs = self.organizations()
            if not self.routes.jobs_have_organization:
                self._map_job_organizations()
            listed = "; ".join("%s (organization %s)" % (
                j.get("id"), orgs.get(self.organization_of(j)) or self.organization_of(j) or "unknown")
                for j in matches)
            raise VeeamError("%d VB365 jobs are named %r: %s" % (len(matches), job_name, listed),
                             kind=E.AMBIGUOUS, hint="Choose one with organization or job_id")
        return matches[0]

    def job_view(self, raw):
        orgs = self._organizations if self._organizations is not None else {}
        return job_view(raw, orgs, self.organization_of(raw))

    # ------------------------------------------------------------------ job actions
    def act(self, job, action, full=False, before=NOT_READ):
        """POST a job action (start, stop, enable, disable).  Never repeated blindly: a lost response is settled
        by reading the job (and its newest session) again.  Returns the job session the v8 start answers with
        (or, after a lost start, the new session VB365 lists), else None.  ``before`` is the id of the newest
        session before a start (None: the job had none), when it was read."""
        if full and action == "start" and not self.routes.supports_full:
            raise VeeamError("full: true needs VB365 REST API v6 or later (this is %s, whose start action has no "
                             "option for an active full backup)" % self.version, kind=E.USAGE)
        path, body, codes = self.routes.action(job["id"], action, full)
        try:
            resp = self.call("POST", path, json_body=body, expect=codes, what="to %s job %r" % (action, job["name"]),
                             safe=False)
        except VeeamError as exc:
            if exc.kind != E.RESPONSE_LOST:
                raise
            session = self._settle_lost(job, action, exc, before)
            self._changed(job, action)
            return session
        self._changed(job, action)
        data = W.parse(resp.body, resp.content_type, "answer to the %s" % action) if resp.body.strip() else None
        return data if isinstance(data, dict) and _has_id(data) else None

    def _changed(self, job, action):
        if action == "start":
            self.started.append((job["name"], None))
        done = {"start": "Started", "stop": "Stopped", "enable": "Enabled", "disable": "Disabled"}[action]
        self.changes.append("%s job %r" % (done, job["name"]))

    def annotate(self, err):
        """An error that came after this client changed something says so first, with changed: true (unless it
        tells what changed itself, as a failed run or a timed-out wait does)."""
        if self.changes and "changed" not in err.details:
            err.message = "%s, then: %s" % ("; ".join(self.changes), err.message)
            err.details["changed"] = True
        return err

    def _settle_lost(self, job, action, lost, before):
        """The response to an action was lost: find out from VB365 whether it took effect before anything else
        (the action is never sent again).  Returns the new job session of a start when VB365 lists it.

        When the request timed out (rather than losing its connection), VB365 may still be working on it: a start
        is given as long again as ``timeout`` (30 s at most) to show, and if it does not, the error says that
        VB365 may still carry it out (never that the job was not started while it may be)."""
        if action == "start":
            (session, took), looks = self.t.look_after_lost(lost, lambda: self._start_seen(job, before),
                                                            seen=lambda seen: seen[1])
            slow = bool(lost.details.get("timed_out"))
            if not took and slow:
                raise VeeamError("VB365 did not answer the start of job %r within %s s (the timeout option), and %d s "
                                 "later still shows no new run of it; the start was not sent again, but VB365 may "
                                 "still carry it out" % (job["name"], self.t.timeout, looks), kind=E.RESPONSE_LOST,
                                 method=lost.method, path=lost.path,
                                 hint="Check the job's last status and sessions in VB365 before starting it again "
                                      "(a second start of a running job is refused), and raise timeout if VB365 is "
                                      "slow")
        else:
            session = None
            fresh = self.get_job(job["id"])
            took = {"stop": not is_running(fresh.get("lastStatus")),
                    "enable": fresh.get("isEnabled") is True,
                    "disable": fresh.get("isEnabled") is False}[action]
        if took:
            self.warn("The response to the %s of job %r was lost; VB365 shows it took effect, so it was not sent "
                      "again" % (action, job["name"]))
            return session
        raise VeeamError("The %s request for job %r got no response, and VB365 shows it did not take effect; it "
                         "was not sent again" % (action, job["name"]), kind=E.RESPONSE_LOST, method=lost.method,
                         path=lost.path, hint="Run the task again once the connection to VB365 is stable")

    def _start_seen(self, job, before):
        """``(new session or None, started)``: whether VB365 shows a run of the job that began after the start was
        sent: the job runs, its ``lastRun`` moved on, or it lists a session newer than ``before``."""
        fresh = self.get_job(job["id"])
        if before is not NOT_READ:
            latest = self.latest_session(job["id"])
            if latest is not None and latest.get("id") != before:
                return latest, True
        moved = "lastRun" in job and fresh.get("lastRun") not in (None, job.get("lastRun"))
        return None, is_running(fresh.get("lastStatus")) or moved

    # ------------------------------------------------------------------ job sessions
    def job_sessions(self, job_id):
        """The job's sessions (the newest 30 from v5, all of them up to v4), newest first; sessions listed without
        an id (which cannot be followed) are left out."""
        path = self.routes.job_sessions(job_id)[0]
        return newest_first([s for s in _items(self.get(path, what="sessions of job %s" % job_id,
                                                        noun="list of job sessions")) if _has_id(s)])

    def latest_session(self, job_id):
        items = self.job_sessions(job_id)
        return items[0] if items else None

    def get_session(self, session_id):
        """One job session; an empty answer or one that is not a JSON object is a parse error."""
        resp = self.call("GET", self.routes.job_session(session_id), what="job session %s" % session_id)
        return _record(resp, "job session", session_id)

    def _latest_if_listed(self, job_id):
        """The job's newest session, or ``NOT_READ`` when a server up to v5 does not list a job's sessions (404)."""
        try:
            return self.latest_session(job_id)
        except VeeamError as exc:
            if exc.kind != E.NOT_FOUND or not self.routes.legacy_actions:
                raise
            return NOT_READ

    def running_session(self, job_id):
        """The job's newest session when it has not ended (Queued, Running, or a status this client does not know),
        else None."""
        latest = self._latest_if_listed(job_id)
        return latest if latest and latest is not NOT_READ and not has_ended(latest.get("status")) else None

    def session_before_start(self, job_id):
        """What a start's new session is told apart from: the id of the job's newest session (None: it has none).

        ``NOT_READ`` in v8, whose start answers with its session, and up to v5 when the server does not list a
        job's sessions (the run is then followed through the job's ``lastStatus``, see :meth:`wait_runs`).
        """
        if self.routes.start_returns_session:
            return NOT_READ
        latest = self._latest_if_listed(job_id)
        if latest is NOT_READ:
            return NOT_READ
        return latest["id"] if latest else None

    # ------------------------------------------------------------------ restore sessions
    def explore(self, job, point_in_time=None, restore_type="vex", show_deleted=False, show_all_versions=False):
        """Explore a job's backup at ``point_in_time`` (an aware datetime; None: now, which gives the latest
        restore point): creates a restore session and returns it (raw).

        Never sent twice: the restore sessions VB365 lists are read first (see :meth:`restore_sessions_before`),
        and when the explore's response is lost, the new Working restore session of that type is looked for
        (:meth:`_settle_lost_explore`) instead of opening another one.
        """
        if not self.routes.supports_explore:
            raise VeeamError("Exploring backups needs VB365 REST API v3 or later (this is %s)" % self.version,
                             kind=E.USAGE)
        self.check_restore_type(restore_type)
        when = point_in_time or datetime.datetime.now(datetime.timezone.utc)
        path, body, codes = self.routes.explore(job["id"], when, restore_type, show_deleted, show_all_versions)
        before = self.restore_sessions_before()
        try:
            resp = self.call("POST", path, json_body=body, expect=codes, what="to explore the backup of job %r"
                             % job["name"], safe=False)
        except VeeamError as exc:
            if exc.kind != E.RESPONSE_LOST:
                raise
            data = self._settle_lost_explore(job, restore_type, before, exc)
            self.changes.append("Explored the backup of job %r (restore session %s)" % (job["name"], data["id"]))
            return data
        self.changes.append("Explored the backup of job %r" % job["name"])
        data = W.parse(resp.body, resp.content_type, "restore session")
        if not isinstance(data, dict) or not _has_id(data):
            raise VeeamError("VB365 explored the backup of job %r but sent no restore session back" % job["name"],
                             kind=E.PARSE, status=resp.status, method="POST", path=_shown(path))
        self.changes[-1] += " (restore session %s)" % data["id"]
        return data

    def list_restore_sessions(self, newest=None):
        """Restore sessions as raw dicts: all of them, or with ``newest`` in v8 the newest ``newest`` ones (v8 sorts
        them newest first when asked; earlier versions do not say in which order they list them)."""
        noun, what = "list of restore sessions", "restore sessions"
        if self.routes.number < 5:
            return _items(self.get(self.routes.restore_sessions(), what=what, noun=noun))
        if newest is not None and self.routes.number >= 8:
            return _items(self.get(self.routes.restore_sessions(0, newest), what=what, noun=noun))
        found, offset, size = [], 0, 1000
        while True:
            page = _items(self.get(self.routes.restore_sessions(offset, size), what=what, noun=noun))
            found.extend(page)
            if len(page) < size:
                return found
            offset += len(page)

    def restore_sessions_before(self):
        """What an explore's new restore session is told apart from: the ids of the restore sessions VB365 lists
        now (v8: of the newest one, with its creation time, as v8 lists them newest first; before v8 all of them).
        None when the server does not let this account list them (the explore then cannot be settled if its
        response is lost)."""
        try:
            items = self.list_restore_sessions(newest=1)
        except VeeamError as exc:
            if exc.kind not in (E.NOT_FOUND, E.FORBIDDEN):
                raise
            return None
        since = parse_time(items[0].get("creationTime")) if items and self.routes.number >= 8 else None
        return {"ids": {item.get("id") for item in items}, "since": since}

    def _new_restore_sessions(self, job, restore_type, before):
        """The Working restore sessions of ``restore_type`` that VB365 lists now and did not before; when several,
        those whose ``scopeName`` (v6+) is the job's name, if that leaves any."""
        items = self.list_restore_sessions(newest=100)
        new = [item for item in items if _has_id(item) and item["id"] not in before["ids"]
               and (before["since"] is None or (parse_time(item.get("creationTime")) or _EPOCH) >= before["since"])
               and str(item.get("state") or "").lower() == "working"
               and restore_type_name(item.get("type")) == str(restore_type).lower()]
        for narrower in (lambda item: item.get("scopeName") == job["name"],
                         lambda item: str(item.get("initiatedBy") or "").lower() == self.username.lower()):
            if len(new) > 1:
                new = [item for item in new if narrower(item)] or new
        return newest_first(new)

    def _settle_lost_explore(self, job, restore_type, before, lost):
        """The explore's response was lost: the restore session it opened, if VB365 lists exactly one new one.

        A timed-out explore is given as long again as ``timeout`` (30 s at most) to show its session."""
        if before is None:
            lost.message += ("; VB365 does not let this account list restore sessions, so the module cannot tell "
                             "whether one was opened")
            raise lost
        found, looks = self.t.look_after_lost(lost, lambda: self._new_restore_sessions(job, restore_type, before))
        slow = bool(lost.details.get("timed_out"))
        if len(found) == 1:
            self.warn("The response to the explore of job %r was lost; VB365 lists the restore session it opened (%s, "
                      "%s), so it was not sent again" % (job["name"], found[0]["id"], found[0].get("state")))
            return found[0]
        if found:
            raise VeeamError("The explore request for job %r got no response, and VB365 lists %d new %s restore "
                             "sessions since (%s); it was not sent again, and the module cannot tell which one it "
                             "opened" % (job["name"], len(found), restore_type, ", ".join(f["id"] for f in found)),
                             kind=E.RESPONSE_LOST, method=lost.method, path=lost.path, details={"changed": True},
                             hint="Stop the restore sessions you do not use with state: absent and their session_id")
        if slow:
            raise VeeamError("VB365 did not answer the explore of job %r within %s s (the timeout option), and %d s "
                             "later still lists no new restore session for it; the explore was not sent again, but "
                             "VB365 may still open one" % (job["name"], self.t.timeout, looks), kind=E.RESPONSE_LOST,
                             method=lost.method, path=lost.path,
                             hint="Look for a Working restore session of the job in VB365 and stop it with state: "
                                  "absent, and raise timeout if VB365 is slow")
        raise VeeamError("The explore request for job %r got no response, and VB365 lists no new restore session for "
                         "it, so none was opened; it was not sent again" % job["name"], kind=E.RESPONSE_LOST,
                         method=lost.method, path=lost.path,
                         hint="Run the task again once the connection to VB365 is stable")

    def check_restore_type(self, restore_type):
        if str(restore_type).lower() not in self.routes.restore_types:
            raise VeeamError("type %r needs a newer VB365 REST API: %s explores %s (Teams, vet, came with v5)"
                             % (restore_type, self.version, ", ".join(self.routes.restore_types)), kind=E.USAGE)

    def get_restore_session(self, session_id):
        if not _GUID.match(str(session_id).strip()):
            raise VeeamError("session_id %r is not a restore session id (a GUID)" % session_id, kind=E.USAGE)
        resp = self.call("GET", self.routes.restore_session(session_id.strip()), expect=(200, 404),
                         what="restore session %s" % session_id)
        if resp.status == 404:
            raise VeeamError("No VB365 restore session with id %s" % session_id, kind=E.NOT_FOUND,
                             hint="VB365 keeps stopped restore sessions in its history, so an unknown id is a wrong "
                                  "id (or one of another VB365 server)")
        return _record(resp, "restore session", session_id.strip())

    def stop_restore_session(self, session_id):
        """Stop a restore session.  A lost response is settled by reading the session's state; so is a refusal
        (a session that another client stopped meanwhile is refused, 400): True when this call stopped it,
        False when it was stopped already."""
        path, body, codes = self.routes.stop_restore_session(session_id)
        try:
            self.call("POST", path, json_body=body, expect=codes, what="to stop restore session %s" % session_id,
                      safe=False)
            self.changes.append("Stopped restore session %s" % session_id)
            return True
        except VeeamError as exc:
            if exc.kind not in (E.RESPONSE_LOST, E.CONFLICT, E.HTTP) or (exc.kind == E.HTTP and exc.status != 400):
                raise
            stopped = restore_session_stopped(self.get_restore_session(session_id))
            if exc.kind != E.RESPONSE_LOST:
                if stopped:
                    return False
                raise
            if not stopped:
                raise VeeamError("The stop request for restore session %s got no response, and the session is still "
                                 "working; it was not sent again" % session_id, kind=E.RESPONSE_LOST,
                                 method=exc.method, path=exc.path) from None
            self.warn("The response to stopping restore session %s was lost; VB365 shows it stopped" % session_id)
            self.changes.append("Stopped restore session %s" % session_id)
            return True

    def wait_restore_session_stopped(self, session, poller, on_timeout=None):
        """Poll a restore session until its state is Stopped; a ``WaitResult`` whose value is the raw session."""
        return poller.wait(lambda: self.get_restore_session(session["id"]), restore_session_stopped,
                           lambda raw: str(raw.get("state") or "unknown"),
                           None if on_timeout is None else lambda value, elapsed, _h: on_timeout(value, elapsed))

    # ------------------------------------------------------------------ waiting for job runs
    def wait_runs(self, runs, poller, on_timeout=None):
        """Poll job runs until each has ended; ``{key: WaitResult}`` whose value is the run (see :func:`new_run`).

        A run whose session is known (v8: the session the start answered with; a run that was already going, or
        is being stopped: its running session) polls ``GET /JobSessions/{id}`` until the status is no longer
        Queued or Running.  Otherwise (v2-v7 after a start, which answers with no body) it first looks for the
        session the start created: the job's newest session that is not the one seen before the start.  Up to
        v5, a server that does not list a job's sessions (404) is followed through the job's ``lastStatus`` and
        ``lastRun`` instead.
        """
        def probe(_key, run):
            if run["session"] is not None:
                return dict(run, session=self.get_session(run["session"]["id"]))
            if run["via"] == "sessions":
                try:
                    latest = self.latest_session(run["job"]["id"])
                except VeeamError as exc:
                    if exc.kind != E.NOT_FOUND or not self.routes.legacy_actions:
                        raise
                    self.warn("VB365 %s does not list the sessions of job %r (404); following the job's lastStatus "
                              "instead" % (self.version, run["job"]["name"]))
                    run = dict(run, via="job")
                else:
                    if latest is not None and _is_new_session(run, latest):
                        return dict(run, session=latest)
                    return run
            fresh = self.get_job(run["job"]["id"])
            seen = run["seen"] or is_running(fresh.get("lastStatus")) or fresh.get("lastRun") != run["last_run"]
            return dict(run, job_now=fresh, seen=seen)
        return poller.wait_all(runs, probe, run_done, run_state, on_timeout)


def new_run(job, session=None, before=NOT_READ, ending=False):
    """A job run to wait for.

    ``session``: its session when known.  ``before``: the id of the newest session before the start (the new
    session is the newest one that is not this one), or ``NOT_READ`` (then the newest running session is it).
    ``ending``: the run is already going (or being stopped), so the job's ``lastStatus`` leaving Running is its
    end, with no new run to see first (without a session, such a run is followed through the job itself).
    """
    return {"job": job, "session": session, "before": before, "via": "job" if ending and session is None else "sessions",
            "job_now": None, "last_run": job.get("lastRun"), "seen": bool(ending)}


def _is_new_session(run, session):
    """Whether ``session`` (the job's newest) is the one this run is waiting for."""
    if run["before"] is NOT_READ:
        return not has_ended(session.get("status"))
    return session.get("id") != run["before"]


def run_done(run):
    """A run has ended when its session (or, followed through the job, the job's ``lastStatus``) shows a status
    that ends a run (``ENDED``); a missing or unknown status does not end the wait."""
    if run.get("session") is not None:
        return has_ended(run["session"].get("status"))
    if run.get("via") == "job" and run.get("job_now") is not None:
        return run["seen"] and has_ended(run["job_now"].get("lastStatus"))
    return False


def run_state(run):
    """A job run's state in words, for the wait's history and timeout messages."""
    session = run.get("session")
    if session is not None:
        return str(session.get("status") or "without a status")
    if run.get("via") == "job" and run.get("job_now") is not None:
        status = run["job_now"].get("lastStatus") or "none"
        return "job lastStatus %s" % status if run["seen"] else "job lastStatus %s (new run not seen yet)" % status
    return "waiting for the new job session to appear"


def _has_id(item):
    return isinstance(item, dict) and isinstance(item.get("id"), str) and bool(item["id"].strip())


def _document(resp, noun):
    """The parsed body of a successful answer.  VB365 answers every read with a document, so an empty body is an
    error (read as "nothing", it would claim that a job or session does not exist, or keep a wait going)."""
    data = W.parse(resp.body, resp.content_type, noun)
    if data is None:
        raise VeeamError("VB365 sent an empty answer instead of the %s" % noun, kind=E.PARSE, status=resp.status,
                         method=resp.method, path=_shown(resp.path))
    return data


def _record(resp, noun, asked_id):
    """One object read by its id (a job, a job session, a restore session): a JSON object, with ``id`` set to
    the id asked for when the answer left it out (it is the object of that id)."""
    data = _document(resp, noun)
    if not isinstance(data, dict):
        raise VeeamError("VB365 sent a %s that is not a JSON object (%s)" % (noun, type(data).__name__), kind=E.PARSE,
                         status=resp.status, method=resp.method, path=_shown(resp.path))
    if not _has_id(data):
        data = dict(data, id=asked_id)
    return data


def _shown(path):
    parts = urllib.parse.urlsplit(path or "")
    return re.sub(r"/[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}(?=/|$)", "/{id}", parts.path)


def parse_point_in_time(value):
    """``point_in_time`` (ISO 8601, ``Z`` or an offset; naive means UTC) -> aware UTC datetime."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip().replace(" ", "T", 1)
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise VeeamError("point_in_time %r is not an ISO 8601 date and time such as 2026-11-20T22:00:00Z" % value,
                         kind=E.USAGE) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc)
