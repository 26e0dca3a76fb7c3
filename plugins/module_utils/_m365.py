# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Veeam Backup for Microsoft 365 REST API: the client and the job lifecycle's adapter.  Private to
backupops.veeam: not a public API.

What to ask VB365, version by version: jobs (a plain list up to v7, pages in v8), job actions, job sessions and
restore sessions (:class:`Vb365`), and how a job run looks in VB365 terms (:class:`Vb365Jobs`).  The token (password
grant, refresh before expiry during long waits, back-off on 429, logout on v7+) is ``_auth.Vb365Token``.  Every route string and request body of
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
import urllib.parse

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _wire as W
from ansible_collections.backupops.veeam.plugins.module_utils._auth import Vb365Token, decode_handoff
from ansible_collections.backupops.veeam.plugins.module_utils._client import (
    Client, Connection, collect_pages, credentials, document, shown_path)
from ansible_collections.backupops.veeam.plugins.module_utils._jobs import JobAdapter, Outcome

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
_EPOCH = datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc)

#: ``Run.before`` when the newest session before a start was not read.
NOT_READ = object()


class Routes:
    """The routes, bodies and status codes of one REST API version (the only place that knows them)."""

    def __init__(self, version):
        if version not in VERSIONS:
            raise E.UsageError("api_version %r is not one of %s" % (version, ", ".join(API_VERSIONS)))
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
    raise E.ParseError("VB365 sent a list in an unexpected shape (%s)" % type(data).__name__)


def _page(data, asked):
    """``(items, more)`` of a VB365 page: more may follow while the page is as long as its ``limit`` (the one the
    server applied, which may be lower than the one asked for) or, without one, as the one asked for."""
    items = _items(data)
    limit = data.get("limit") if isinstance(data, dict) else None
    size = limit if isinstance(limit, int) and not isinstance(limit, bool) and 0 < limit <= asked else asked
    return items, len(items) >= size


def newest_first(sessions):
    """Sessions sorted by ``creationTime``, newest first (parsed, so fraction lengths do not matter)."""
    return sorted(sessions, key=lambda s: W.parse_time(s.get("creationTime")) or _EPOCH, reverse=True)


def _pascal(value):
    """``entireOrganization`` (v2-v5) -> ``EntireOrganization`` (v6+); other values unchanged."""
    return value[:1].upper() + value[1:] if isinstance(value, str) else value


def restore_type_name(value):
    """``Vex`` (v6+) or ``vex`` (v2-v5) -> ``vex``, the spelling of the modules' ``type`` option."""
    lowered = str(value or "").lower()
    return lowered if lowered in RESTORE_TYPES else value


#: VB365 statuses (any case) -> (state, result) in the collection's vocabulary (docs/vocabulary.md).
_STATUS_WORDS = {"queued": ("Queued", "None"), "running": ("Working", "None"), "success": ("Stopped", "Success"),
                 "warning": ("Stopped", "Warning"), "failed": ("Stopped", "Failed"),
                 "notconfigured": ("Stopped", "Failed"), "disconnected": ("Stopped", "Failed"),
                 "stopped": ("Stopped", "Failed")}


def status_words(status):
    """A VB365 status as ``(state, result)``: Queued and Running go on (result None); Success, Warning and Failed end
    the run with that result; NotConfigured, Disconnected and Stopped end it without a backup (Failed; Stopped
    also means canceled).  A status this module does not know: ``(status, None)``."""
    return _STATUS_WORDS.get(str(status or "").lower(), (status, None))


def job_view(raw, organizations=None, organization_id=None):
    """A job with the same keys in every version; ``organization_id`` for versions whose jobs lack it."""
    org_id = raw.get("organizationId") or organization_id
    org_name = (organizations or {}).get(org_id) if isinstance(org_id, str) else None
    last = status_words(raw.get("lastStatus"))[1] if raw.get("lastStatus") else None
    return {
        "id": raw.get("id"),
        "name": raw.get("name"),
        "type": "backup",
        "veeam_type": None,
        "description": raw.get("description"),
        "enabled": raw.get("isEnabled"),
        "running": is_running(raw.get("lastStatus")),
        "last_result": None if last == "None" else last,
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
    state, result = status_words(raw.get("status"))
    return {
        "id": raw.get("id"),
        "name": None,
        "job_id": raw.get("jobId"),
        "job_name": None,
        "state": state,
        "result": result,
        "message": raw.get("details"),
        "canceled": str(raw.get("status") or "").lower() == "stopped",
        "progress_percent": None,
        "processed_objects": raw.get("progress"),
        "status": raw.get("status"),
        "creation_time": raw.get("creationTime"),
        "end_time": raw.get("endTime"),
        "details": raw.get("details"),
        "retry_count": raw.get("retryCount"),
        "job_will_be_retried": raw.get("jobWillBeRetried"),
        "veeam_job_type": raw.get("jobType"),
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
        "state": W.word(raw.get("state")),
        "result": W.word(raw.get("result")),
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


class Vb365(Client):
    """What to ask VB365, through one token (``auth``, an ``_auth.Vb365Token``).  ``routes`` is None until the API
    version is known (``api_version: auto`` asks the server when the client is entered)."""

    product = "VB365"
    conflict_codes = ("OperationConflict",)

    def __init__(self, transport, routes, journal, username=None, password=None, handed=None, end_handed=False,
                 keep_open=False):
        super().__init__(transport, None, journal)
        self.routes = routes
        self.username = username
        self._password = password
        self._handed = handed
        self._end_handed = end_handed
        self._keep_open = keep_open
        self._organizations = None
        self._org_records = None
        self._job_orgs = {}
        self._mapped_orgs = set()  # organizations whose job list was read (several jobs of one task share them)

    @property
    def version(self):
        return self.routes.version if self.routes else None

    def __enter__(self):
        if self.routes is None:
            self.routes = Routes(self.detect_version())
        self.auth = Vb365Token(self.t, self.username, self._password, self.routes, journal=self.journal,
                               handed=self._handed, end_handed=self._end_handed, keep_open=self._keep_open)
        return super().__enter__()

    def hint(self, resp):
        """What to do about a 401, which VB365 answers with an empty body (a token it no longer takes)."""
        if resp.status != 401:
            return None
        if self.auth.handed and not (self.auth.logins or self.auth.refreshes):
            return ("VB365 no longer takes the session token (it expired or was logged out, and it could not be "
                    "renewed): log in again with backupops.veeam.veeam_m365_session, or give username and password "
                    "as well so the module can log in by itself")
        return ("VB365 refused a token it had just issued: check that the VB365 server's "
                "clock is right and that the account may use the REST API, then run the task again")

    def handoff(self):
        """A ``session_token`` for later tasks: the token, its refresh token, when it runs out, the API version."""
        return self.auth.handoff(HANDOFF_KIND, {"version": self.version})

    def __exit__(self, exc_type, exc, tb):
        if self.auth is None:
            self.t.close()
            return False
        return super().__exit__(exc_type, exc, tb)

    def detect_version(self):
        """The newest API version the server offers: ``GET /vN/ServiceInstance`` without a token answers 401
        when version N is served and 404 when it is not."""
        for version in reversed(VERSIONS):
            resp = self.t.request("GET", Routes(version).service_instance())
            if resp.status in (200, 401, 403):
                return version
            if resp.status not in (404, 400):
                raise self.error(resp, "Could not detect the VB365 REST API version")
        raise E.NotFoundError("The server offers none of the VB365 REST API versions v2-v8 (every probe of "
                              "/vN/ServiceInstance answered 404); is this the VB365 REST API port (4443 by default), "
                              "and is the REST API enabled in VB365?")

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
            raise E.NotFoundError("No VB365 organization named %r" % organization,
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
        return collect_pages(lambda offset, _n: _page(self.get(self.routes.jobs(offset, page_size), what="jobs",
                                                               noun="job list"), page_size), "jobs")

    def get_job(self, job_id):
        resp = self.call("GET", self.routes.job(job_id), expect=(200, 404), what="job %s" % job_id)
        if resp.status == 404:
            raise E.NotFoundError("No VB365 job with id %s" % job_id,
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
                raise E.UsageError("job_id %r is not a VB365 job id (a GUID)" % job_id)
            return self.get_job(job_id.strip().lower())
        if job_name is None or not str(job_name).strip():
            raise E.UsageError("job_name is empty: give the exact name of the job, or job_id")
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
            raise E.ParseError("VB365 listed the job %r without an id, so it cannot be started, stopped or read; is the "
                               "server's REST API healthy?" % job_name, method="GET",
                               path=shown_path(self.routes.jobs()),
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
            raise E.NotFoundError("No VB365 job named %r%s" % (job_name, " in organization %r" % organization
                                                               if organization else ""), hint=hint)
        if len(matches) > 1:
            orgs = self.organizations()
            if not self.routes.jobs_have_organization:
                self._map_job_organizations()
            listed = "; ".join("%s (organization %s)" % (
                j.get("id"), orgs.get(self.organization_of(j)) or self.organization_of(j) or "unknown")
                for j in matches)
            raise E.AmbiguousError("%d VB365 jobs are named %r: %s" % (len(matches), job_name, listed), hint="Choose one with organization or job_id")
        return matches[0]

    def job_views(self, organization=None):
        """Every job (all pages), as the modules return them, with its organization (read with one request per
        organization before v8, whose jobs do not name theirs); only the jobs of ``organization`` when given.  Jobs
        VB365 lists without an id are left out (nothing can be done with them)."""
        jobs = [job for job in self.list_jobs() if _has_id(job)]
        wanted = self.match_organizations(organization) if organization else None
        self.organizations()
        if not self.routes.jobs_have_organization:
            self._map_job_organizations(wanted)
        return [self.job_view(job) for job in jobs if wanted is None or self.organization_of(job) in wanted]

    def job_view(self, raw):
        orgs = self._organizations if self._organizations is not None else {}
        return job_view(raw, orgs, self.organization_of(raw))

    # ------------------------------------------------------------------ job actions
    def act(self, job, action, full=False):
        """POST a job action (start, stop, enable, disable), once: a lost answer raises LostAnswerError.  Returns
        the job session the v8 start answers with, else None."""
        path, body, codes = self.routes.action(job["id"], action, full)
        resp = self.call("POST", path, json_body=body, expect=codes, what="to %s job %r" % (action, job["name"]),
                         safe=False)
        data = W.parse(resp.body, resp.content_type, "answer to the %s" % action) if resp.body.strip() else None
        return data if isinstance(data, dict) and _has_id(data) else None

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
        except E.NotFoundError:
            if not self.routes.legacy_actions:
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
            raise E.UsageError("Exploring backups needs VB365 REST API v3 or later (this is %s)" % self.version)
        self.check_restore_type(restore_type)
        when = point_in_time or datetime.datetime.now(datetime.timezone.utc)
        path, body, codes = self.routes.explore(job["id"], when, restore_type, show_deleted, show_all_versions)
        before = self.restore_sessions_before()
        try:
            resp = self.call("POST", path, json_body=body, expect=codes, what="to explore the backup of job %r"
                             % job["name"], safe=False)
        except E.LostAnswerError as exc:
            data = self._settle_lost_explore(job, restore_type, before, exc)
            self.journal.changed("Explored the backup of job %r (restore session %s)" % (job["name"], data["id"]))
            return data
        entry = self.journal.changed("Explored the backup of job %r" % job["name"])
        data = W.parse(resp.body, resp.content_type, "restore session")
        if not isinstance(data, dict) or not _has_id(data):
            raise E.ParseError("VB365 explored the backup of job %r but sent no restore session back" % job["name"],
                               status=resp.status, method="POST", path=shown_path(path))
        self.journal.retract(entry)
        self.journal.changed("Explored the backup of job %r (restore session %s)" % (job["name"], data["id"]))
        return data

    def list_restore_sessions(self, newest=None):
        """Restore sessions as raw dicts: all of them, or with ``newest`` in v8 the newest ``newest`` ones (v8 sorts
        them newest first when asked; earlier versions do not say in which order they list them)."""
        noun, what = "list of restore sessions", "restore sessions"
        if self.routes.number < 5:
            return _items(self.get(self.routes.restore_sessions(), what=what, noun=noun))
        if newest is not None and self.routes.number >= 8:
            return _items(self.get(self.routes.restore_sessions(0, newest), what=what, noun=noun))
        return collect_pages(lambda offset, _n: _page(self.get(self.routes.restore_sessions(offset, 1000), what=what,
                                                               noun=noun), 1000), "restore sessions")

    def restore_sessions_before(self):
        """What an explore's new restore session is told apart from: the ids of the restore sessions VB365 lists
        now (v8: of the newest one, with its creation time, as v8 lists them newest first; before v8 all of them).
        None when the server does not let this account list them (the explore then cannot be settled if its
        response is lost)."""
        try:
            items = self.list_restore_sessions(newest=1)
        except (E.NotFoundError, E.ForbiddenError):
            return None
        since = W.parse_time(items[0].get("creationTime")) if items and self.routes.number >= 8 else None
        return {"ids": {item.get("id") for item in items}, "since": since}

    def _new_restore_sessions(self, job, restore_type, before):
        """The Working restore sessions of ``restore_type`` that VB365 lists now and did not before."""
        items = self.list_restore_sessions(newest=100)
        return newest_first([item for item in items if _has_id(item) and item["id"] not in before["ids"]
                             and (before["since"] is None
                                  or (W.parse_time(item.get("creationTime")) or _EPOCH) >= before["since"])
                             and str(item.get("state") or "").lower() == "working"
                             and restore_type_name(item.get("type")) == str(restore_type).lower()])

    def _owner_mismatch(self, item, job):
        """Why a new restore session cannot be this task's (another operator of the same account may explore
        another job meanwhile), or None when its job (``scopeName``), organization and initiator are this task's.
        A field the version does not send cannot be checked, so it counts as a mismatch: a session is adopted only
        when all three are seen to match."""
        if not self.routes.jobs_have_organization and not self.organization_of(job):
            self._map_job_organizations()  # before v8 a job's organization is known from the organizations' lists
        org_id = self.organization_of(job)
        org = self.organizations().get(org_id) if org_id else None
        checks = (("job", item.get("scopeName"), job.get("name")),
                  ("organization", item.get("organization"), org),
                  ("initiator", item.get("initiatedBy"), self.username))
        for what, theirs, ours in checks:
            if not theirs or not ours:
                return "its %s is not known" % what
            if str(theirs).strip().lower() != str(ours).strip().lower():
                return "its %s is %r" % (what, theirs)
        return None

    def _settle_lost_explore(self, job, restore_type, before, lost):
        """The explore's response was lost: the restore session it opened, when VB365 lists exactly one new one of
        this job, organization and initiator (never another operator's: see :meth:`_owner_mismatch`).

        A timed-out explore is given as long again as ``timeout`` (30 s at most) to show its session."""
        if before is None:
            lost.message += ("; VB365 does not let this account list restore sessions, so the module cannot tell "
                             "whether one was opened")
            raise lost

        def look():
            found = self._new_restore_sessions(job, restore_type, before)
            return [item for item in found if self._owner_mismatch(item, job) is None], found
        (ours, found), looks = self.t.look_after_lost(lost, look, seen=lambda result: bool(result[0]))
        if len(ours) == 1:
            self.warn("The response to the explore of job %r was lost; VB365 lists the restore session it opened (%s, "
                      "%s), so it was not sent again" % (job["name"], ours[0]["id"], ours[0].get("state")))
            return ours[0]
        if ours:
            raise E.LostAnswerError("The explore request for job %r got no response, and VB365 lists %d new %s restore "
                                    "sessions of this job and account since (%s); it was not sent again, and the module "
                                    "cannot tell which one it opened" % (job["name"], len(ours), restore_type,
                                                                         ", ".join(f["id"] for f in ours)),
                                    method=lost.method, path=lost.path, details={"changed": True},
                                    hint="Stop the restore sessions you do not use with state: absent and their restore_session_id")
        if found:
            others = "; ".join("%s (%s)" % (item["id"], self._owner_mismatch(item, job)) for item in found)
            raise E.LostAnswerError("The explore request for job %r got no response; VB365 lists %d new %s restore "
                                    "session(s) since, none shown to be this task's: %s. It was not sent again, and no "
                                    "other operator's session was taken; if VB365 opened one for this task, it is "
                                    "among them" % (job["name"], len(found), restore_type, others),
                                    method=lost.method, path=lost.path, details={"changed": True},
                                    hint="Look at these restore sessions in VB365 before you stop any of them")
        if lost.timed_out:
            raise E.LostAnswerError("VB365 did not answer the explore of job %r within %s s (the timeout option), and %d s "
                                    "later still lists no new restore session for it; the explore was not sent again, but "
                                    "VB365 may still open one" % (job["name"], self.t.timeout, looks),
                                    method=lost.method, path=lost.path,
                                    hint="Look for a Working restore session of the job in VB365 and stop it with "
                                         "state: absent, and raise timeout if VB365 is slow")
        raise E.LostAnswerError("The explore request for job %r got no response, and VB365 lists no new restore session for "
                                "it, so none was opened; it was not sent again" % job["name"],
                                method=lost.method, path=lost.path,
                                hint="Run the task again once the connection to VB365 is stable")

    def check_restore_type(self, restore_type):
        if str(restore_type).lower() not in self.routes.restore_types:
            raise E.UsageError("type %r needs a newer VB365 REST API: %s explores %s (Teams, vet, came with v5)"
                               % (restore_type, self.version, ", ".join(self.routes.restore_types)))

    def get_restore_session(self, session_id):
        if not _GUID.match(str(session_id).strip()):
            raise E.UsageError("restore_session_id %r is not a restore session id (a GUID)" % session_id)
        resp = self.call("GET", self.routes.restore_session(session_id.strip()), expect=(200, 404),
                         what="restore session %s" % session_id)
        if resp.status == 404:
            raise E.NotFoundError("No VB365 restore session with id %s" % session_id,
                                  hint="VB365 keeps stopped restore sessions in its history, so an unknown id is a "
                                       "wrong id (or one of another VB365 server)")
        return _record(resp, "restore session", session_id.strip())

    def stop_restore_session(self, session_id):
        """Stop a restore session.  A lost response is settled by reading the session's state; so is a refusal
        (a session that another client stopped meanwhile is refused, 400): True when this call stopped it,
        False when it was stopped already."""
        path, body, codes = self.routes.stop_restore_session(session_id)
        try:
            self.call("POST", path, json_body=body, expect=codes, what="to stop restore session %s" % session_id,
                      safe=False)
        except E.LostAnswerError as exc:
            if not restore_session_stopped(self.get_restore_session(session_id)):
                raise E.LostAnswerError("The stop request for restore session %s got no response, and the session is "
                                        "still working; it was not sent again" % session_id, method=exc.method,
                                        path=exc.path) from None
            self.warn("The response to stopping restore session %s was lost; VB365 shows it stopped" % session_id)
        except (E.ConflictError, E.HttpError) as exc:
            if exc.status not in (400, 409) or not restore_session_stopped(self.get_restore_session(session_id)):
                raise
            return False
        self.journal.changed("Stopped restore session %s" % session_id)
        return True

    def wait_restore_session_stopped(self, session, poller):
        """Poll a restore session until its state is Stopped: a ``_poll.WaitResult`` whose value is the raw session
        (``done`` False when the wait ran out)."""
        return poller.wait(lambda: self.get_restore_session(session["id"]), restore_session_stopped,
                           lambda raw: str(raw.get("state") or "unknown"), value=session)


class Vb365Jobs(JobAdapter):
    """The job lifecycle in VB365 terms: a job says whether it runs (``lastStatus``) and is enabled
    (``isEnabled``); a start answers with the new job session in v8 and with nothing before, so the new session
    is then the job's newest one that is not the one seen before the start; up to v5, a server that does not list
    a job's sessions is followed through the job's ``lastStatus`` and ``lastRun``."""

    product = "VB365"
    fresh = False

    def __init__(self, client):
        super().__init__(client)
        self._surveyed = set()

    def find(self, wanted):
        jobs = self.client.find_jobs(wanted)
        for want, job in zip(wanted, jobs):
            if want.get("full") and not self.client.routes.supports_full:
                raise E.UsageError("full: true needs VB365 REST API v6 or later; %s has no active full backup in its "
                                   "start action" % self.client.version, details={"job": self.client.job_view(job)})
        return jobs

    # ------------------------------------------------------------------ state
    def survey(self, runs, action, acting):
        for run in runs:
            if run.index in self._surveyed:
                run.job = self.client.get_job(run.job["id"])
            self._surveyed.add(run.index)
            run.current, run.before = None, NOT_READ
            if action in ("start", "retry", "stop") and is_running(run.job.get("lastStatus")):
                run.current = self.client.running_session(run.job["id"])
            elif action == "start" and acting:
                run.before = self.client.session_before_start(run.job["id"])

    def running(self, run):
        return is_running(run.job.get("lastStatus"))

    def enabled(self, run):
        return run.job.get("isEnabled")

    def running_label(self, run):
        return "session %s, %s" % (run.current["id"], run.current.get("status")) if run.current else None

    def idle_label(self, run):
        return "last status %s" % (run.job.get("lastStatus") or "none: it never ran")

    def kind(self, run, action):
        return "an active full backup of " if action == "start" and run.want.get("full") else ""

    # ------------------------------------------------------------------ acting
    def send(self, run, action):
        return self.client.act(run.job, action, full=bool(run.want.get("full")))

    def look(self, run, action):
        """After a lost answer: whether VB365 shows the action took effect.  A start did when the job runs, its
        ``lastRun`` moved on, or it lists a session newer than the one before (which is then returned)."""
        fresh = self.client.get_job(run.job["id"])
        if action == "start":
            if run.before is not NOT_READ:
                latest = self.client.latest_session(run.job["id"])
                if latest is not None and latest.get("id") != run.before:
                    return latest, True
            moved = "lastRun" in run.job and fresh.get("lastRun") not in (None, run.job.get("lastRun"))
            return None, is_running(fresh.get("lastStatus")) or moved
        took = {"stop": not is_running(fresh.get("lastStatus")), "enable": fresh.get("isEnabled") is True,
                "disable": fresh.get("isEnabled") is False}[action]
        return None, took

    def note(self, run):
        session = run.session or run.receipt
        return "session %s" % session["id"] if session else None

    # ------------------------------------------------------------------ waiting
    def watch(self, run, action):
        if run.changed and action == "start":
            return new_run(run.job, session=run.receipt, before=run.before)
        return new_run(run.job, session=run.current, ending=True)

    def progress(self, watch):
        client = self.client
        if watch["session"] is not None:
            return dict(watch, session=client.get_session(watch["session"]["id"]))
        if watch["via"] == "sessions":
            try:
                latest = client.latest_session(watch["job"]["id"])
            except E.NotFoundError:
                if not client.routes.legacy_actions:
                    raise
                client.warn("VB365 %s does not list the sessions of job %r (404); following the job's lastStatus "
                            "instead" % (client.version, watch["job"]["name"]))
                watch = dict(watch, via="job")
            else:
                if latest is not None and _is_new_session(watch, latest):
                    return dict(watch, session=latest)
                return watch
        fresh = client.get_job(watch["job"]["id"])
        seen = watch["seen"] or is_running(fresh.get("lastStatus")) or fresh.get("lastRun") != watch["last_run"]
        return dict(watch, job_now=fresh, seen=seen)

    def ended(self, watch):
        return run_done(watch)

    def state(self, watch):
        return run_state(watch)

    def waiting_for(self, watch):
        session = watch.get("session")
        return "session %s still %s" % (session["id"], run_state(watch)) if session else run_state(watch)

    def outcome(self, run, watch):
        """How the run ended, from its session (or the job's ``lastStatus``); the job is read again, so the result
        shows the run that ended."""
        run.job = self.client.get_job(run.job["id"])
        run.session = watch["session"]
        status = str((run.session or {}).get("status") or run.job.get("lastStatus") or "")
        ending = "session %s ended %s" % (run.session["id"], status) if run.session else "the run ended %s" % status
        return Outcome(ending, result=status, reason=(run.session or {}).get("details"))

    def keep(self, run, watch):
        """The wait ran out: the failed result shows the session (and the job, when it was followed) as last read."""
        if watch.get("session") is not None:
            run.session = watch["session"]
        if watch.get("job_now") is not None:
            run.job = watch["job_now"]

    def resume_hint(self, action, runs):
        if action == "start":
            return ("The job keeps running; to go on waiting, run the task again with state: started (a running job "
                    "is not started twice)")
        return super().resume_hint(action, runs)

    # ------------------------------------------------------------------ reporting
    def conclude(self, run, action):
        """An action that was not awaited: the session a start made (the one v8 answered with, else the job's
        newest one when it is not the one before), the stopped session, and the job as it is now."""
        if action == "start":
            run.session = run.receipt
            if run.session is None and run.before is not NOT_READ:
                latest = self.client.latest_session(run.job["id"])
                run.session = latest if latest and latest["id"] != run.before else None
        elif action == "stop" and run.current:
            run.session = self.client.get_session(run.current["id"])
        run.job = self.client.get_job(run.job["id"])

    def view(self, run):
        out = {"job": self.client.job_view(run.job)}
        session = run.session or run.receipt or run.current
        if session:
            out["session"] = dict(session_view(session), job_id=session.get("jobId") or run.job.get("id"),
                                  job_name=run.job.get("name"))
        return out

    def extras(self):
        return {"api_version": self.client.version}


class Vb365Feed:
    """The job sessions that ended, for the event source.  VB365's session list filters on creation time only (its
    ``endTimeLowerBound`` is documented as "created after"), so a poll reads the job list once and the sessions of
    the jobs whose ``lastStatus`` or ``lastRun`` changed since the last poll, or that were running then: a run
    that ended shows in one of them.  The first poll reads the sessions of every job that has run (the event
    source tells what is new).  Each job's newest sessions are read (30 from v5, all of them before)."""

    def __init__(self, client):
        self.client = client
        self.known = None  # job id -> (lastStatus, lastRun) at the last poll

    def ended(self, since):  # pylint: disable=unused-argument
        known, pairs = {}, []
        for raw in self.client.list_jobs():
            if not _has_id(raw):
                continue
            mark = (raw.get("lastStatus"), raw.get("lastRun"))
            known[raw["id"]] = mark
            before = None if self.known is None else self.known.get(raw["id"], (None, None))
            if not (mark[0] or mark[1]) or (before == mark and has_ended(mark[0])):
                continue  # never ran, or nothing changed since a poll that saw it idle
            try:
                sessions = self.client.job_sessions(raw["id"])
            except E.NotFoundError:
                if not self.client.routes.legacy_actions:
                    raise
                self.client.warn("VB365 %s does not list the sessions of job %r (404): its runs are not reported"
                                 % (self.client.version, raw.get("name")))
                continue
            job = {"id": raw["id"], "name": raw.get("name"), "type": "backup"}
            for session in sessions:
                if has_ended(session.get("status")):
                    pairs.append((job, dict(session_view(session), job_id=raw["id"], job_name=raw.get("name"))))
        self.known = known
        return pairs


def connect(transport, params, journal, end_handed=False, keep_open=False):
    """The VB365 client of a module run (not logged in yet: use it as a context manager).  With ``session_token``
    (from veeam_m365_session) it uses that token and its API version instead of logging in; ``end_handed``: log
    it out at the end (the session module's ``state: absent``); ``keep_open``: do not log out the token this run
    logs in with (the session module's ``state: present`` hands it on)."""
    version = params["api_version"]
    if version not in API_VERSIONS:
        raise E.UsageError("api_version %r is not one of %s" % (version, ", ".join(API_VERSIONS)))
    handed = None
    if params.get("session_token"):
        handed = decode_handoff(HANDOFF_KIND, params["session_token"], "backupops.veeam.veeam_m365_session")
        if version == "auto" and handed.get("version") in VERSIONS:
            version = handed["version"]
        username, password = params.get("username"), params.get("password")
    else:
        username, password = credentials(params, "VEEAM_M365", "session_token from backupops.veeam.veeam_m365_session")
    return Vb365(transport, None if version == "auto" else Routes(version), journal, username, password,
                 handed=handed, end_handed=end_handed, keep_open=keep_open)


#: What a VB365 session token starts with (``_auth.encode_handoff``).
HANDOFF_KIND = "vb365"
CONNECTION = Connection("m365", "VEEAM_M365", "VB365", DEFAULT_PORT, API_VERSIONS, "auto", connect,
                        options={"session_token": {"type": "str", "no_log": True}}, feed=Vb365Feed)


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


def _record(resp, noun, asked_id):
    """One object read by its id (a job, a job session, a restore session): a JSON object, with ``id`` set to
    the id asked for when the answer left it out (it is the object of that id)."""
    data = document(resp, noun, "VB365")
    if not isinstance(data, dict):
        raise E.ParseError("VB365 sent a %s that is not a JSON object (%s)" % (noun, type(data).__name__),
                           status=resp.status, method=resp.method, path=shown_path(resp.path))
    if not _has_id(data):
        data = dict(data, id=asked_id)
    return data


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
        raise E.UsageError("point_in_time %r is not an ISO 8601 date and time such as 2026-11-20T22:00:00Z" % value) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc)
