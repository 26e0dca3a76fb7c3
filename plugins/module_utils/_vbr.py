# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Veeam Backup & Replication REST API: the client and the job lifecycle's adapter.  Private to backupops.veeam:
not a public API.

What to ask the backup server's own REST API (port 9419, ``/api/v1``), revision by revision (``x-api-version``
``1.1-rev0`` for VBR 12.0 up to ``1.3-rev1`` for 13.0.1; the API is backward compatible, so a newer server takes
the newest revision this collection knows): job states (``/jobs/states``: status, last result, last session),
jobs (``isDisabled``), job actions and sessions (:class:`Vbr`), and how a job run looks in VBR terms
(:class:`VbrJobs`: a start answers 201 with its session, or 204 with none when the job has nothing to process).
The token is ``_auth.VbrToken``.

Facts used (``../shared/vbr-openapi/SOURCES.md`` and the OpenAPI documents): job ``status`` is ``running``,
``inactive``, ``disabled`` in lower case up to 1.3-rev0 and capitalised from 1.3-rev1, which also adds
``Starting``, ``Stopping``, ``Stopped``, ``Enabled``: every enum is compared without regard to case; session
``state`` values this module does not know (a later VBR adds some) count as "still running"; 1.1-rev0 names a
session's job ``activityId``, later revisions ``jobId``; ``retry`` exists from 1.3-rev0; enable and disable
answer 200 up to 1.3-rev0 and 204 from 1.3-rev1.
"""

from __future__ import annotations

import datetime
import re
import urllib.parse

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _wire as W
from ansible_collections.backupops.veeam.plugins.module_utils._auth import UnsupportedRevision, VbrToken
from ansible_collections.backupops.veeam.plugins.module_utils._client import (
    Client, Connection, collect_pages, credentials, document)
from ansible_collections.backupops.veeam.plugins.module_utils._jobs import JobAdapter, Outcome

DEFAULT_PORT = 9419
#: The revisions this collection knows, oldest first (Veeam's versioning page: 1.1-rev0 is VBR 12.0, 1.1-rev1
#: 12.1, 1.1-rev2 12.2, 1.2-rev0 12.3, 1.2-rev1 12.3.1, 1.3-rev0 13.0, 1.3-rev1 13.0.1).  ``auto`` tries the newest
#: first.
REVISIONS = ("1.1-rev0", "1.1-rev1", "1.1-rev2", "1.2-rev0", "1.2-rev1", "1.3-rev0", "1.3-rev1")
_REVISION = re.compile(r"^(\d+)\.(\d+)-rev(\d+)$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

#: Job ``status`` values (any case) of a job whose run goes on.
RUNNING = frozenset(("running", "starting", "stopping"))
#: Job ``status`` values of a job that does not run.
IDLE = frozenset(("inactive", "disabled", "enabled", "stopped"))
#: VBR's job types (``EJobType``) -> the collection's job type words (the EM modules' ``job_type`` values).
_TYPE_WORDS = {"backup": "backup", "vspherebackup": "backup", "hypervbackup": "backup",
               "clouddirectorbackup": "backup", "vspherereplica": "replica", "backupcopy": "backup_copy",
               "legacybackupcopy": "backup_copy", "filebackup": "file_share", "filebackupcopy": "file_share_copy",
               "objectstoragebackup": "object_storage", "windowsagentbackup": "agent", "linuxagentbackup": "agent"}
#: Page size of lists.
PAGE = 500


def revision_key(revision):
    """``"1.3-rev1"`` -> ``(1, 3, 1)``; a malformed revision is a usage error."""
    match = _REVISION.match(str(revision or ""))
    if not match:
        raise E.UsageError("api_version %r is not a VBR REST API revision such as 1.3-rev1 (or auto)" % (revision,))
    return tuple(int(part) for part in match.groups())


def lowered(value):
    return str(value or "").strip().lower()


def job_view(state, detail=None):
    """A job as the modules return it: its state (``/jobs/states``) and, when read, its ``isDisabled``."""
    disabled = (detail or {}).get("isDisabled")
    status = state.get("status")
    if isinstance(disabled, bool):
        enabled = not disabled
    else:  # a job that does not run is "disabled" or not; a running one does not say
        enabled = None if lowered(status) in RUNNING or lowered(status) not in IDLE else lowered(status) != "disabled"
    raw_type = state.get("type")
    return {
        "id": state.get("id"),
        "name": state.get("name"),
        "type": _TYPE_WORDS.get(lowered(raw_type), lowered(raw_type) or None),
        "veeam_type": raw_type,
        "description": state.get("description"),
        "status": status,
        "enabled": enabled,
        "running": lowered(status) in RUNNING,
        "last_result": None if lowered(state.get("lastResult")) in ("", "none") else W.word(state.get("lastResult")),
        "last_run": state.get("lastRun"),
        "next_run": state.get("nextRun"),
        "last_session_id": state.get("sessionId"),
        "workload": state.get("workload"),
        "repository_name": state.get("repositoryName"),
        "objects_count": state.get("objectsCount"),
    }


def session_view(raw):
    """A session as the modules return it, the same keys for every revision."""
    if not raw:
        return None
    result = raw.get("result") if isinstance(raw.get("result"), dict) else {}
    return {
        "id": raw.get("id"),
        "name": raw.get("name"),
        "job_id": raw.get("jobId") or raw.get("activityId"),
        "job_name": None,
        "state": W.word(raw.get("state")),
        "result": W.word(result.get("result")),
        "message": result.get("message") or None,
        "canceled": result.get("isCanceled"),
        "progress_percent": raw.get("progressPercent"),
        "processed_objects": None,
        "creation_time": raw.get("creationTime"),
        "end_time": raw.get("endTime"),
        "veeam_type": raw.get("sessionType"),
    }


def session_ended(raw):
    """Stopped ends a session; every other state, also one this module does not know, goes on."""
    return lowered((raw or {}).get("state")) == "stopped"


def session_result(raw):
    """A stopped session's result: ``Success``, ``Warning``, ``Failed``, or ``Stopped`` when it was canceled."""
    result = (raw or {}).get("result") if isinstance((raw or {}).get("result"), dict) else {}
    if result.get("isCanceled") is True:
        return "Stopped"
    return result.get("result")


def _items(data, what):
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        return [item for item in data["data"] if isinstance(item, dict)]
    raise E.ParseError("VBR sent a %s in an unexpected shape (no data list)" % what)


class Vbr(Client):
    """What to ask a VBR server, with one token (``_auth.VbrToken``) and one revision (``x-api-version``).
    ``revision`` None (``api_version: auto``) is settled when the client is entered: the newest revision this
    collection knows that the server accepts, asked newest first at the login (no extra request on a server
    that takes the newest; one refused login per newer revision on an older server)."""

    product = "VBR"

    def __init__(self, transport, revision, journal, username, password):
        super().__init__(transport, None, journal)
        self.revision = revision
        self.username = username
        self._password = password

    def extra_headers(self):
        return {"x-api-version": self.revision}

    def hint(self, resp):
        if resp.status == 403:
            return ("The account '%s' lacks the VBR role for this: starting, stopping and retrying jobs needs the "
                    "StartJobs/StopJobs claims (Backup Administrator or Backup Operator), enabling and disabling "
                    "the Backup Administrator role" % self.username)
        if resp.status == 401:
            return "The VBR token was refused; check that the server's clock is right and run the task again"
        return None

    def __enter__(self):
        candidates = [self.revision] if self.revision else list(reversed(REVISIONS))
        for revision in candidates:
            self.revision = revision
            self.auth = VbrToken(self.t, self.username, self._password, revision, journal=self.journal)
            try:
                return super().__enter__()
            except UnsupportedRevision:
                if revision == candidates[-1]:
                    self.t.close()
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def version(self):
        return self.revision

    def has(self, revision):
        return revision_key(self.revision) >= revision_key(revision)

    def read(self, path, what):
        return document(self.call("GET", path, what=what), what, self.product)

    # ------------------------------------------------------------------ jobs
    def job_states(self, name=None):
        """Every job's state (all pages; with ``name``, VBR's ``nameFilter`` narrows the list, and the caller
        matches the name exactly).  Paging stops when a page is short, adds nothing new, or MAX_PAGES were read."""
        query = {"orderColumn": "Name", "orderAsc": "true"}
        if name:
            query["nameFilter"] = name
        return self.read_list("/api/v1/jobs/states", query, "job states")

    def read_list(self, path, query, what):
        """Every item of a paged VBR list (``skip``/``limit``, its ``data`` and ``pagination.total``), through
        ``collect_pages`` (a page with nothing new, or MAX_PAGES, ends it with an error).  A page says there is more
        while ``total`` is not reached, or, without a total, while it is full."""
        def read_page(skip, _number):
            page_query = dict(query, skip=skip, limit=PAGE)
            data = self.read(path + "?" + urllib.parse.urlencode(page_query), "list of " + what)
            page = _items(data, "list of " + what)
            pagination = data.get("pagination") if isinstance(data.get("pagination"), dict) else {}
            total = pagination.get("total")
            return page, (skip + len(page) < total if isinstance(total, int) else len(page) >= PAGE)
        return collect_pages(read_page, what)

    def job_state(self, job_id):
        """One job's state: ``idFilter`` (every revision has it) makes it one small answer on any server; a server
        that does not apply the filter is read in full."""
        query = urllib.parse.urlencode({"idFilter": job_id, "limit": PAGE})
        for state in _items(self.read("/api/v1/jobs/states?" + query, "job state"), "list of job states"):
            if lowered(state.get("id")) == lowered(job_id):
                return state
        for state in self.job_states():
            if lowered(state.get("id")) == lowered(job_id):
                return state
        raise E.NotFoundError("No VBR job with id %s" % job_id,
                              hint="List the jobs with backupops.veeam.veeam_vbr_job_info")

    def sessions_since(self, created_after):
        """The sessions created after ``created_after`` (VBR's own time text; a second earlier, as the filter is
        "after"), newest first: what a wait for several sessions reads once a round."""
        when = W.parse_time(created_after)
        query = {"orderColumn": "CreationTime", "orderAsc": "false"}
        if when is not None:
            utc = (when - datetime.timedelta(seconds=1)).astimezone(datetime.timezone.utc)
            query["createdAfterFilter"] = utc.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return self.read_list("/api/v1/sessions", query, "sessions")

    def job(self, job_id):
        """The job itself (``GET /api/v1/jobs/{id}``): its settings, among them ``isDisabled``."""
        resp = self.call("GET", "/api/v1/jobs/%s" % _quote(job_id), expect=(200, 404), what="job %s" % job_id)
        if resp.status == 404:
            raise E.NotFoundError("No VBR job with id %s" % job_id, status=404, method="GET", path="/api/v1/jobs/{id}")
        data = document(resp, "job", self.product)
        if not isinstance(data, dict):
            raise E.ParseError("VBR sent a job that is not a JSON object", method="GET", path="/api/v1/jobs/{id}")
        return data

    def find_jobs(self, wanted):
        """The job state of each wanted job (``job_id`` or exact ``job_name``), in order; one listing of the job
        states serves every job given by name (one narrowed by ``nameFilter`` when only one name is given)."""
        names = {str(w.get("job_name")) for w in wanted if not w.get("job_id") and str(w.get("job_name") or "").strip()}
        listing = self.job_states(name=next(iter(names)) if len(names) == 1 else None) if names else None
        found = []
        for want in wanted:
            if want.get("job_id"):
                job_id = str(want["job_id"]).strip()
                if not _GUID.match(job_id):
                    raise E.UsageError("job_id %r is not a VBR job id (a GUID)" % want["job_id"])
                found.append(self.job_state(job_id))
                continue
            name = want.get("job_name")
            if name is None or not str(name).strip():
                raise E.UsageError("job_name is empty: give the exact name of the job, or job_id")
            found.append(self._pick(str(name), listing or []))
        return found

    @staticmethod
    def _pick(name, states):
        exact = [s for s in states if s.get("name") == name]
        if len(exact) == 1:
            return exact[0]
        if exact:
            raise E.AmbiguousError("%d VBR jobs are named %r: %s" % (len(exact), name, ", ".join(
                str(s.get("id")) for s in exact)), hint="Choose one with job_id")
        similar = sorted({s["name"] for s in states if isinstance(s.get("name"), str)
                          and s["name"].casefold() == name.casefold()})
        hint = ("Names are matched exactly; similar: %s" % ", ".join(repr(n) for n in similar) if similar
                else "List the jobs with backupops.veeam.veeam_vbr_job_info")
        raise E.NotFoundError("No VBR job named %r" % name, hint=hint)

    # ------------------------------------------------------------------ actions and sessions
    def act(self, job, action, full=False):
        """POST a job action once (a lost answer raises LostAnswerError): the session VBR answers with (start,
        retry, stop: 201), or None (enable, disable; a start of a job with nothing to process: 204)."""
        body = {"performActiveFull": bool(full), "startChainedJobs": False} if action == "start" else None
        resp = self.call("POST", "/api/v1/jobs/%s/%s" % (_quote(job["id"]), action), json_body=body,
                         expect=(200, 201, 202, 204), what="to %s job %r" % (action, job["name"]), safe=False)
        data = W.parse(resp.body, resp.content_type, "answer to the %s" % action) if resp.body.strip() else None
        return data if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"] else None

    def session(self, session_id):
        resp = self.call("GET", "/api/v1/sessions/%s" % _quote(session_id), expect=(200, 404),
                         what="session %s" % session_id)
        if resp.status == 404:
            raise E.NotFoundError("No VBR session with id %s" % session_id, status=404, method="GET",
                                  path="/api/v1/sessions/{id}",
                                  hint="VBR keeps sessions in its history for a while; check the id")
        data = document(resp, "session", self.product)
        if not isinstance(data, dict):
            raise E.ParseError("VBR sent a session that is not a JSON object", method="GET",
                               path="/api/v1/sessions/{id}")
        return data if data.get("id") else dict(data, id=session_id)

    def ended_sessions(self, since):
        """Every session that ended at ``since`` (ISO 8601 UTC) or later: ``GET /api/v1/sessions`` with
        ``endedAfterFilter``, sorted by ``EndTime`` so that the pages stay put while more sessions end; paging is
        bounded (``collect_pages``).  Sessions that have not stopped are dropped."""
        query = {"endedAfterFilter": since, "orderColumn": "EndTime", "orderAsc": "true"}
        return [raw for raw in self.read_list("/api/v1/sessions", query, "sessions")
                if session_ended(raw) and raw.get("id")]

    def wait_session(self, session, poller):
        """Poll one session until it stops: a ``_poll.WaitResult`` (``done`` False when the wait ran out)."""
        return poller.wait(lambda: self.session(session["id"]), session_ended,
                           lambda raw: str(raw.get("state") or "unknown"), value=session, fresh=True)


def _quote(value):
    return urllib.parse.quote(str(value), safe="")


class VbrJobs(JobAdapter):
    """The job lifecycle in VBR terms: ``/jobs/states`` says whether a job runs and how its last run ended, and names
    its last session; a start, retry or stop answers with the session, which is awaited until it stops."""

    product = "VBR"

    def __init__(self, client):
        super().__init__(client)
        self._surveyed = set()
        self._empty = set()  # the runs whose start or retry VBR answered with no session (204)
        self._many = False  # several jobs in this run: their states and sessions are read in one list each
        self._states = None  # the job states read once for every run judged after a wait (several jobs)
        self._listed = {}  # the sessions read with one list in this round of a wait (several jobs)

    def find(self, wanted):
        return self.client.find_jobs(wanted)

    # ------------------------------------------------------------------ state
    def survey(self, runs, action, acting):
        """The job's state (read again after the first time), its running session, and for enable/disable the job's
        own ``isDisabled``."""
        if action == "retry" and not self.client.has("1.3-rev0"):
            raise E.UsageError("state: retried needs VBR REST API revision 1.3-rev0 or later (VBR 13); this task uses "
                               "%s" % self.client.revision, hint="Use api_version: auto on a VBR 13 server")
        self._many = len(runs) > 1
        for run in runs:
            if run.index in self._surveyed:
                run.job = self.client.job_state(run.job["id"])
            self._surveyed.add(run.index)
            run.before = run.job.get("sessionId")
            run.current = None
            if self.running(run) and run.before:
                run.current = self.client.session(run.before)
            if action in ("enable", "disable"):
                run.detail = self.client.job(run.job["id"])

    def running(self, run):
        status = lowered(run.job.get("status"))
        if status in RUNNING:
            return True
        if status in IDLE or not run.job.get("sessionId"):
            return False
        # A status this module does not know (a later VBR): the last session says.
        return not session_ended(self.client.session(run.job["sessionId"]))

    def enabled(self, run):
        detail = run.detail or {}
        if isinstance(detail.get("isDisabled"), bool):
            return not detail["isDisabled"]
        return lowered(run.job.get("status")) != "disabled"

    def failed_last(self, run):
        return lowered(run.job.get("lastResult")) == "failed"

    def stopping(self, run):
        return lowered(run.job.get("status")) == "stopping" or lowered((run.current or {}).get("state")) == "stopping"

    def running_label(self, run):
        session = run.current
        if not session:
            return None
        done = ", %s%% done" % session["progressPercent"] if session.get("progressPercent") is not None else ""
        return "session %s, %s%s" % (session.get("name") or session["id"], session.get("state"), done)

    def idle_label(self, run):
        return "last result %s" % (run.job.get("lastResult") or "none") if run.job.get("lastRun") else "it never ran"

    def kind(self, run, action):
        return "an active full backup of " if action == "start" and run.want.get("full") else ""

    # ------------------------------------------------------------------ acting
    def send(self, run, action):
        self._states = None
        session = self.client.act(run.job, action, full=bool(run.want.get("full")))
        if session is None and action in ("start", "retry"):
            self._empty.add(run.index)
            self.client.warn("VBR accepted the %s of job %r but created no session (HTTP 204): the job had nothing to "
                             "process" % (action, run.name))
        return session

    def look(self, run, action):
        """After a lost answer: a start or retry took effect when the job names a newer last session or runs; a
        stop when it no longer runs; enable/disable when ``isDisabled`` says so."""
        state = self.client.job_state(run.job["id"])
        status = lowered(state.get("status"))
        if action in ("start", "retry"):
            session_id = state.get("sessionId")
            if session_id and session_id != run.before:
                return self.client.session(session_id), True
            return None, status in RUNNING
        if action == "stop":
            return None, status not in RUNNING
        disabled = self.client.job(run.job["id"]).get("isDisabled")
        return None, disabled is (action == "disable")

    def note(self, run):
        session = run.session or run.receipt
        if session:
            return "session %s" % (session.get("name") or session["id"])
        return "VBR created no session" if run.changed and run.index in self._empty else None

    # ------------------------------------------------------------------ waiting
    def watch(self, run, action):
        session = run.receipt if run.changed else run.current
        if action == "stop":
            session = run.current or run.receipt
        if session is None and run.changed and action in ("start", "retry") and run.lost_answer:
            # a lost start settled by the job's status alone: its session, once the job names it
            state = self.client.job_state(run.job["id"])
            if state.get("sessionId") and state["sessionId"] != run.before:
                session = self.client.session(state["sessionId"])
        return {"session": session} if session else None

    def prefetch(self, watches):
        """With several sessions pending, one ``GET /api/v1/sessions`` (those created since the oldest of them) a
        round reads them all; a session missing from it is read on its own.  The job states read after the last
        round are read again after this one."""
        self._states, self._listed = None, {}
        if len(watches) > 1:
            oldest = min((str(w["session"].get("creationTime") or "") for w in watches), default="")
            self._listed = {str(item.get("id")): item for item in self.client.sessions_since(oldest or None)}

    def progress(self, watch):
        listed = self._listed.get(str(watch["session"]["id"]))
        return {"session": listed if listed is not None else self.client.session(watch["session"]["id"])}

    def _job_state_now(self, run):
        """The job's state after its run ended: with several jobs, every job's state from one listing (read once
        for all the runs judged after a wait); with one, its own."""
        if not self._many:
            return self.client.job_state(run.job["id"])
        if self._states is None:
            self._states = {lowered(state.get("id")): state for state in self.client.job_states()}
        return self._states.get(lowered(run.job["id"])) or self.client.job_state(run.job["id"])

    def ended(self, watch):
        return session_ended(watch["session"])

    def state(self, watch):
        return str(watch["session"].get("state") or "unknown")

    def waiting_for(self, watch):
        session = watch["session"]
        return "session %s still %s" % (session.get("name") or session["id"], session.get("state") or "unknown")

    def outcome(self, run, watch):
        run.session = watch["session"]
        run.job = self._job_state_now(run)
        result = session_result(run.session)
        reason = (run.session.get("result") or {}).get("message") if isinstance(run.session.get("result"),
                                                                                dict) else None
        return Outcome("session %s ended %s" % (run.session.get("name") or run.session["id"], result or "None"),
                       result=result or "None", reason=reason or None)

    def keep(self, run, watch):
        run.session = watch["session"]
        run.job = self._job_state_now(run)

    # ------------------------------------------------------------------ reporting
    def conclude(self, run, action):
        run.session = run.receipt
        run.job = self._job_state_now(run)
        if action in ("enable", "disable"):
            run.detail = self.client.job(run.job["id"])

    def view(self, run):
        out = {"job": job_view(run.job, run.detail)}
        session = run.session or run.receipt or run.current
        if session:
            out["session"] = dict(session_view(session), job_name=run.job.get("name"))
        return out

    def extras(self):
        return {"api_version": self.client.revision}


class VbrFeed:
    """The job sessions that ended, for the event source: one session list a poll (``ended_sessions``), and the job
    states (a job's name and type) read again only when a session names a job not read yet.  Sessions of no job
    (restores, for one) are left out."""

    def __init__(self, client):
        self.client = client
        self.jobs = {}

    def ended(self, since):
        views = [session_view(raw) for raw in self.client.ended_sessions(W.format_time(since))]
        views = [view for view in views if _GUID.match(str(view["job_id"] or "")) and view["job_id"].strip("0-")]
        if any(lowered(view["job_id"]) not in self.jobs for view in views):
            self.jobs = {lowered(state.get("id")): job_view(state) for state in self.client.job_states()}
        pairs = []
        for view in views:
            job = self.jobs.get(lowered(view["job_id"])) or {}
            pairs.append(({"id": view["job_id"], "name": job.get("name") or view["name"], "type": job.get("type")},
                          dict(view, job_name=job.get("name") or view["name"])))
        return pairs


def connect(transport, params, journal):
    """The VBR client of a module run (not logged in yet: use it as a context manager)."""
    revision = params["api_version"]
    if revision != "auto":
        revision_key(revision)
    username, password = credentials(params, "VEEAM_VBR")
    return Vbr(transport, None if revision == "auto" else revision, journal, username, password)


CONNECTION = Connection("vbr", "VEEAM_VBR", "VBR", DEFAULT_PORT, None, "auto", connect, feed=VbrFeed)
