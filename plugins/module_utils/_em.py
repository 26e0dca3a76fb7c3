# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Veeam Backup Enterprise Manager REST API: the client and the job lifecycle's adapter.  Private to
backupops.veeam: not a public API.

What to ask Enterprise Manager (EM), and what its answers mean: jobs (found by id or by exact name through the
query service), the start route of each job type, tasks and backup sessions (:class:`EnterpriseManager`); and
how a job run looks in EM terms (:class:`EmJobs`: a start answers with a task, which belongs to the logon session
that created it; the run is its backup session).  The logon session is ``_auth.EmLogon``; how to ask (TLS,
retries) is ``_http``; what came back (XML/JSON) is ``_wire``.  Every route string of the EM API, but the logon
ones, is in this file, and only here.

Facts used (see docs/emulator.md and ../shared/veeam-api.md for the sources): the token also comes as a cookie,
which EM prefers over the header, so no cookie is ever kept (``_http``); tasks belong to the logon session that
created them; an idle session expires after 15 minutes (401).  Stop, retry and ``toggleScheduleEnabled`` answer 202
with a Task like a start (operations StopJob/StopNasJob/StopAgentJob, RetryJob/..., UpdateJob with the message
"Ok"); backup copy jobs have no Start, Stop or Retry link (they are started with Sync, and a running one is stopped
through its session's Stop link, ``POST /api/backupSessions/{id}?action=stop``); a retry is accepted only when the
job's last session Failed; ``toggleScheduleEnabled`` toggles, so the schedule state (``ScheduleEnabled``) is read
first and again right before the toggle, and a lost toggle is settled by reading it, never by toggling again.
"""

from __future__ import annotations

import re
import urllib.parse

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _wire as W
from ansible_collections.backupops.veeam.plugins.module_utils._auth import EmLogon
from ansible_collections.backupops.veeam.plugins.module_utils._client import (
    Client, Connection, collect_pages, credentials, document, veeam_message)
from ansible_collections.backupops.veeam.plugins.module_utils._jobs import JobAdapter, Outcome

DEFAULT_PORT = 9398
API_VERSIONS = ("latest", "v1_5", "v1_6", "v1_7")

#: User-facing job types -> where the job lives and how it is started (the documented routes).
#: vm jobs: POST /api/jobs/{id}?action=start (backup copy: ?action=sync); file share (NAS) jobs:
#: POST /api/nas/jobs/{id}/start; agent jobs: POST /api/agents/jobs/{id}?action=start.
JOB_TYPES = ("backup", "replica", "backup_copy", "file_share", "agent")
#: The job options of the job-state modules (veeam_em_job_start, veeam_em_job_state), but ``jobs``, whose entries
#: take ``JOB_ENTRY_OPTIONS``; documented in the doc fragment ``backupops.veeam.em.jobs``.
_TYPE_CHOICES = ["auto"] + list(JOB_TYPES)
JOB_ENTRY_OPTIONS = {"job_type": {"type": "str", "choices": _TYPE_CHOICES}, "backup_server": {"type": "str"}}
JOB_OPTIONS = {
    "job_id": {"type": "str"},
    "job_name": {"type": "str"},
    "job_type": {"type": "str", "default": "auto", "choices": _TYPE_CHOICES},
    "backup_server": {"type": "str"},
    "if_running": {"type": "str", "default": "skip", "choices": ["skip", "fail"]},
    "fail_on_warning": {"type": "bool", "default": False},
}
_KIND_OF_TYPE = {"backup": "vm", "replica": "vm", "backup_copy": "vm", "file_share": "nas", "agent": "agent"}
_COLLECTION = {"vm": "/api/jobs", "nas": "/api/nas/jobs", "agent": "/api/agents/jobs"}
_QUERY_TYPE = {"vm": "Job", "nas": "NasJob", "agent": "AgentBackupJob"}
_KIND_WORDS = {"vm": "backup, replica and backup copy jobs", "nas": "file share jobs", "agent": "agent jobs"}
_URN_KIND = {"job": "vm", "nasjob": "nas", "agentbackupjob": "agent"}
#: Names looked up with one query (``Name=="a",Name=="b",...``), and the longest such filter (URL-encoded): a
#: query string of a few kilobytes at most, well inside what HTTP servers accept.
NAMES_PER_QUERY = 25
_MAX_FILTER = 2000
_START_ACTION = {"backup": "start", "replica": "start", "backup_copy": "sync", "file_share": "start",
                 "agent": "start"}
#: Lifecycle actions other than start -> the job's link (Rel) and the action word of the documented route.
_ACTION_LINK = {"stop": ("Stop", "stop"), "retry": ("Retry", "retry"),
                "enable": ("ToggleScheduleEnabled", "toggleScheduleEnabled"),
                "disable": ("ToggleScheduleEnabled", "toggleScheduleEnabled")}
#: Lifecycle actions -> how the operation of their task begins (StartJob/StartJobSync/StartNasJob, StopJob/
#: StopJobSession/..., RetryJob/..., UpdateJob for a toggle).
_TASK_OPERATION = {"start": "start", "stop": "stop", "retry": "retry", "enable": "updatejob", "disable": "updatejob"}
#: Lifecycle actions -> words for "to <...> job 'X'" in messages.
_ACTION_WORDS = {"start": "start", "stop": "stop", "retry": "retry", "enable": "enable the schedule of",
                 "disable": "disable the schedule of"}
#: Veeam's JobType values -> our job_type names.
_TYPE_OF_JOBTYPE = {"backup": "backup", "replica": "replica", "replication": "replica", "backupcopy": "backup_copy",
                    "immediatebackupcopy": "backup_copy", "nasbackup": "file_share", "agentbackup": "agent",
                    "agentmanagement": "agent"}

#: How real Enterprise Manager servers say a task is not in the caller's logon session (HTTP 500).
_NO_TASK = re.compile(r"no (backup )?task with id|in (the )?current rest session", re.IGNORECASE)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_URN = re.compile(r"^urn:veeam:([A-Za-z]+):(.+)$")

#: Backup session states; anything but Stopped counts as running (the docs list Starting, Stopping, Working,
#: Pausing, Resuming, Stopped; VBR adds more, such as WaitingTape or Postprocessing).
SESSION_DONE = "stopped"
#: Task messages that do not name the job: task states (a started task says "OperationFinished") and the "Ok" of
#: toggles and backup copy syncs.
_TASK_STATE_WORDS = frozenset(("running", "operationfinished", "finished", "ok"))
#: Task states: Running -> OperationFinished (done on the backup server) -> Finished (EM collected the data).
TASK_DONE = "finished"


def parse_job_id(value):
    """A bare GUID or a ``urn:veeam:<Type>:<guid>`` -> ``(guid, kind or None)``; bad input -> usage error."""
    text = (value or "").strip()
    kind = None
    match = _URN.match(text)
    if match:
        kind = _URN_KIND.get(match.group(1).lower())
        if kind is None:
            raise E.UsageError("job_id %r is a URN of type %r, not of a job (Job, NasJob or AgentBackupJob)"
                               % (value, match.group(1)))
        text = match.group(2)
    if not _GUID.match(text):
        raise E.UsageError("job_id %r is not a job id: give a GUID such as 5658281f-625e-4627-89dd-d2a0c48be99e or "
                           "urn:veeam:Job:<guid>" % value)
    return text.lower(), kind


def quote_filter_value(value):
    """A value for the query service's filter: in double quotes, with ``"`` doubled (the documented escaping).

    Quoting makes ``;``, ``,``, ``==`` and parentheses inside a name plain characters, so a name cannot add
    conditions to the filter.
    """
    return '"%s"' % value.replace('"', '""')


def _links(entity):
    """An entity's links as ``{rel: [link, ...]}`` (a job has several Down links); malformed links are skipped."""
    out = {}
    links = entity.get("links")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and isinstance(link.get("rel"), str) and link["rel"]:
            out.setdefault(link["rel"], []).append(link)
    return out


def _link(entity, rel, link_type=None):
    for link in _links(entity).get(rel, []):
        if link_type is None or str(link.get("type") or "").lower() == link_type.lower():
            return link
    return None


def _id_of(uid_or_href):
    """The GUID at the end of a UID (``urn:veeam:Job:<guid>``) or an href (``.../jobs/<guid>?format=Entity``)."""
    if not uid_or_href:
        return None
    text = str(uid_or_href).split("?", maxsplit=1)[0].rstrip("/")
    return text.rsplit(":", 1)[-1].rsplit("/", 1)[-1].lower()


def _job(entity, kind, root_name=None):
    """A job entity (plain dict) as the collection returns it, plus private ``_kind`` and ``_links``."""
    raw_type = W.text(entity.get("job_type"))
    if kind == "nas" and not raw_type:
        raw_type = "NasBackup"
    job_type = _TYPE_OF_JOBTYPE.get(str(raw_type or "").lower())
    if job_type is None:
        job_type = {"nas": "file_share", "agent": "agent"}.get(kind, str(raw_type or "unknown").lower())
    server = _link(entity, "Up", "BackupServerReference") or _link(entity, "Up")
    uid = entity.get("uid")
    return {
        "id": _id_of(uid) or _id_of(entity.get("href")),
        "uid": uid,
        "name": entity.get("name"),
        "type": job_type,
        "veeam_type": raw_type,
        "platform": W.text(entity.get("platform")),
        "backup_server": server.get("name") if server else None,
        "backup_server_id": _id_of(server.get("href")) if server else None,
        "description": W.text(entity.get("description")),
        "enabled": W.as_bool(W.text(entity.get("schedule_enabled"))),
        "running": None,
        "last_result": None,
        "last_run": None,
        "schedule_configured": W.as_bool(W.text(entity.get("schedule_configured"))),
        "schedule_enabled": W.as_bool(W.text(entity.get("schedule_enabled"))),
        "next_run": W.text(entity.get("next_run")),
        "_kind": kind,
        "_root": root_name,
        "_links": entity.get("links") or [],
    }


def public(item):
    """A dict without the private ``_`` keys (what modules return)."""
    return {k: v for k, v in item.items() if not k.startswith("_")} if item else item


def task_view(entity):
    result = entity.get("result") if isinstance(entity.get("result"), dict) else {}
    success = result.get("success")
    return {
        "id": W.text(entity.get("task_id")) or _id_of(entity.get("href")),
        "state": W.text(entity.get("state")),
        "operation": W.text(entity.get("operation")),
        "success": None if success is None else W.as_bool(success),
        "message": W.text(result.get("message")),
        "href": entity.get("href"),
    }


def public_task(task):
    """A task as modules return it (docs/vocabulary.md), without the client's ``href``."""
    return {k: task.get(k) for k in ("id", "state", "operation", "success", "message")} if task else task


def session_view(entity):
    """A backup (or replica) session in the collection's vocabulary (docs/vocabulary.md), with EM's own names where
    they differ (``failure_message``, ``veeam_job_type``); ``href`` and ``job_uid`` are for the client only."""
    failure = W.text(entity.get("failure_message")) or None
    job_uid = W.text(entity.get("job_uid"))
    return {
        "id": _id_of(entity.get("uid")) or _id_of(entity.get("href")),
        "uid": entity.get("uid"),
        "name": entity.get("name"),
        "job_id": _id_of(job_uid),
        "job_name": W.text(entity.get("job_name")),
        "veeam_job_type": W.text(entity.get("job_type")),
        "state": W.text(entity.get("state")),
        "result": W.text(entity.get("result")),
        "message": failure,
        "canceled": None,
        "progress_percent": W.as_int(W.text(entity.get("progress"))),
        "processed_objects": None,
        "creation_time": W.text(entity.get("creation_time_utc")),
        "end_time": W.text(entity.get("end_time_utc")),
        "failure_message": failure,
        "is_retry": W.as_bool(W.text(entity.get("is_retry"))),
        "job_uid": job_uid,
        "href": entity.get("href"),
    }


#: What the client keeps of an EM session for itself, not in what modules return.
SESSION_PRIVATE = ("href", "job_uid")


def public_session(session):
    return {k: v for k, v in session.items() if k not in SESSION_PRIVATE} if session else session


def session_running(session):
    return bool(session) and str(session.get("state") or "").lower() != SESSION_DONE


def _entities(data):
    """The items of a list document, as plain dicts, whatever its wrapping.

    Handles ``<Jobs><Job/>..</Jobs>``, ``<QueryResult><Entities><Jobs>..`` and ``<EntityReferences><Ref/>..``,
    and their JSON twins (``{"Jobs": [...]}``, ``{"Entities": {"Jobs": [...]}}``, ``{"Refs": [...]}``).
    """
    body = W.root(data)[1]
    if isinstance(body, list):
        return [item for item in body if isinstance(item, dict)]
    if not isinstance(body, dict):
        return []
    if "entities" in body or "refs" in body:
        holder = body.get("entities") or body.get("refs")
        if isinstance(holder, list):
            return [item for item in holder if isinstance(item, dict)]
        body = holder if isinstance(holder, dict) else {}
    for key, value in body.items():
        if key in ("links", "paging_info"):
            continue
        if isinstance(value, list):
            return [item for item in value if isinstance(item, dict)]
        if isinstance(value, dict) and ("href" in value or "uid" in value):
            return [value]
        if isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value.values())), list):
            # JSON wraps entity lists twice: {"Entities": {"BackupJobSessions": {"BackupJobSessions": [...]}}}
            return [item for item in next(iter(value.values())) if isinstance(item, dict)]
    return []


def _paging(data):
    body = W.root(data)[1]
    info = body.get("paging_info") if isinstance(body, dict) else None
    if not isinstance(info, dict):
        return 1, 1
    return W.as_int(info.get("page_num"), 1), W.as_int(info.get("pages_count"), 1)


def task_done(task):
    return str((task or {}).get("state") or "").lower() == TASK_DONE


def run_state(session):
    """A backup session's state in words: its state and result, or that it has not appeared yet."""
    if session is None:
        return "waiting for the backup session to appear"
    result = session.get("result")
    return "%s%s" % (session.get("state") or "unknown", "/%s" % result if result and result != "None" else "")


def _urlquote(text):
    return urllib.parse.quote(text, safe="")


def _name_chunks(names):
    """``names`` in groups for one query each: at most NAMES_PER_QUERY names and _MAX_FILTER encoded characters."""
    chunk, size = [], 0
    for name in names:
        cost = len(_urlquote("Name==" + quote_filter_value(name))) + 3
        if chunk and (len(chunk) >= NAMES_PER_QUERY or size + cost > _MAX_FILTER):
            yield chunk
            chunk, size = [], 0
        chunk.append(name)
        size += cost
    if chunk:
        yield chunk


class EnterpriseManager(Client):
    """What to ask Enterprise Manager, through one logon session (``auth``, an ``_auth.EmLogon``)."""

    product = "Enterprise Manager"
    accept = "application/xml"

    def __init__(self, transport, auth, journal):
        super().__init__(transport, auth, journal)
        self.started_tasks = set()  # ids of the action tasks this client made or already accounted for

    def hint(self, resp):
        if resp.status == 401 and not self.auth.owns_session:
            return ("The session token is no longer valid (Enterprise Manager ends sessions idle for 15 minutes): log "
                    "on again with backupops.veeam.veeam_em_session, or give username and password as well so the "
                    "module can log on by itself")
        if resp.status == 401:
            return "The logon session is no longer valid (Enterprise Manager ends idle sessions after 15 minutes)"
        if resp.status == 403:
            return ("The account '%s' lacks the Enterprise Manager role for this; acting on jobs (start, stop, "
                    "retry, schedule) needs Portal Administrator" % (self.auth.username or self.auth.user_name or "in use"))
        return None

    def read(self, path, what):
        return document(self.call("GET", path, what=what), what, self.product)

    # ------------------------------------------------------------------ jobs
    def find_job(self, job_id=None, job_name=None, job_type="auto", backup_server=None):
        """The one job named by id or exact name; clear errors when none or several match."""
        if job_id:
            guid, urn_kind = parse_job_id(job_id)
            for kind in self._kinds(job_type, urn_kind):
                resp = self.call("GET", "%s/%s?format=Entity" % (_COLLECTION[kind], guid), expect=(200, 404),
                                 what="job")
                if resp.status == 200:
                    root_name, entity = W.root(document(resp, "job", self.product))
                    job = _job(entity, kind, root_name)
                    self._check_type(job, job_type, job_id)
                    return job
            raise E.NotFoundError("No %sjob with id %s on Enterprise Manager" % (
                "" if job_type in (None, "auto") else job_type.replace("_", " ") + " ", guid),
                hint="Check the id with backupops.veeam.veeam_em_job_info")
        name = self._job_name(job_name)
        return self._pick_typed(name, self.list_jobs(name=name, job_type=job_type), backup_server, job_type)

    def _pick_typed(self, name, matches, backup_server, job_type):
        """``_pick``, and when no job of ``job_type`` has the name but jobs of other types do, an error that names
        their types (one more query, on that error only)."""
        try:
            return self._pick(name, matches, backup_server)
        except E.NotFoundError:
            if job_type in (None, "auto"):
                raise
            others = sorted({job["type"] for job in self.list_jobs(name=name) if job["name"] == name
                             and job["type"] != job_type and self._on_server(job, backup_server)})
            if not others:
                raise
            kinds = " and a ".join(o.replace("_", " ") for o in others)
            raise E.UsageError("Job %r is a %s job, not %s" % (name, kinds, job_type.replace("_", " ")),
                               hint="Use job_type: %s, or auto" % others[0]) from None

    def find_jobs(self, wanted):
        """Several jobs, each given as ``find_job``'s keyword arguments; the jobs in the same order, with the
        errors of ``find_job`` (the first job in error raises).

        Jobs given by name are looked up together: one query per job type for up to ``NAMES_PER_QUERY`` names
        (``Name=="a",Name=="b"``, OR in the query language) instead of one query per name and type.
        """
        named = [w for w in wanted if not w.get("job_id")]
        if len(named) < 2:
            return [self.find_job(**w) for w in wanted]
        names_of_kind = {}
        for w in named:
            name = str(w.get("job_name") or "")
            if not name.strip():
                continue  # refused below, in its turn
            for kind in self._kinds(w.get("job_type")):
                names_of_kind.setdefault(kind, [])
                if name not in names_of_kind[kind]:
                    names_of_kind[kind].append(name)
        found = {}
        for kind in ("vm", "nas", "agent"):
            for chunk in _name_chunks(names_of_kind.get(kind, [])):
                for job in self.list_jobs(names=chunk, kinds=[kind]):
                    found.setdefault((kind, str(job["name"] or "").casefold()), []).append(job)
        jobs = []
        for w in wanted:
            if w.get("job_id"):
                jobs.append(self.find_job(**w))
                continue
            name, job_type = self._job_name(w.get("job_name")), w.get("job_type")
            matches = [job for kind in self._kinds(job_type) for job in found.get((kind, name.casefold()), [])
                       if job_type in (None, "auto") or job["type"] == job_type]
            jobs.append(self._pick_typed(name, matches, w.get("backup_server"), job_type))
        return jobs

    @staticmethod
    def _job_name(job_name):
        name = job_name if job_name is None else str(job_name)
        if not name or not name.strip():
            raise E.UsageError("job_name is empty: give the exact name of the job, or job_id")
        return name

    @staticmethod
    def _on_server(job, backup_server):
        """Whether ``job`` is on ``backup_server`` (its name or id; any server when None)."""
        return not backup_server or ((job["backup_server"] or "").lower() == backup_server.lower()
                                     or (job["backup_server_id"] or "") == backup_server.lower())

    @staticmethod
    def _pick(name, matches, backup_server):
        """The one job named exactly ``name`` (on ``backup_server``) among what the query service matched."""
        exact = [job for job in matches if job["name"] == name and EnterpriseManager._on_server(job, backup_server)]
        if not exact:
            where = " on backup server %r" % backup_server if backup_server else ""
            servers = sorted({str(job["backup_server"]) for job in matches if job["name"] == name})
            similar = sorted({job["name"] for job in matches if isinstance(job["name"], str) and job["name"] != name})
            if servers:  # the name is there, on other backup servers only
                hint = "Jobs of that name are on backup server %s" % ", ".join(servers)
            elif similar:
                hint = "Names are matched exactly; jobs with the same name in other case: %s" % ", ".join(similar)
            else:
                hint = "List the jobs with backupops.veeam.veeam_em_job_info"
            raise E.NotFoundError("No job named %r%s on Enterprise Manager" % (name, where), hint=hint)
        if len(exact) > 1:
            listed = "; ".join("%s (%s job on backup server %s)" % (job["id"], job["type"], job["backup_server"])
                               for job in exact)
            raise E.AmbiguousError("%d jobs are named %r: %s" % (len(exact), name, listed),
                                   hint="Choose one with backup_server or job_id",
                                   details={"matches": [public(job) for job in exact]})
        return exact[0]

    @staticmethod
    def _kinds(job_type, urn_kind=None):
        if job_type and job_type != "auto":
            return [_KIND_OF_TYPE[job_type]]
        if urn_kind:
            return [urn_kind]
        return ["vm", "nas", "agent"]

    @staticmethod
    def _check_type(job, job_type, shown):
        if job_type not in (None, "auto") and job["type"] != job_type:
            raise E.UsageError("Job %s (%r) is a %s job, not %s" % (shown, job["name"], job["type"], job_type),
                               hint="Use job_type: auto, or the job's own type")

    def list_jobs(self, name=None, job_type="auto", backup_server=None, page_size=200, names=None, kinds=None):
        """Jobs from the query service, optionally with one exact name (matched case-insensitively by EM), or any
        of several ``names``; of the kinds of ``job_type``, or of ``kinds`` ("vm", "nas", "agent")."""
        conditions = []
        if name is not None:
            conditions.append("Name==" + quote_filter_value(name))
        if names:
            either = ",".join("Name==" + quote_filter_value(n) for n in names)
            conditions.append("(%s)" % either if backup_server or name is not None else either)
        if backup_server:
            conditions.append("BackupServerName==" + quote_filter_value(backup_server))
        jobs = []
        for kind in kinds or self._kinds(job_type):
            query = "type=%s&format=Entities&pageSize=%d" % (_QUERY_TYPE[kind], page_size)
            if conditions:
                query += "&filter=" + _urlquote(";".join(conditions))
            for entity in self.query(query, "list of %s" % _KIND_WORDS[kind]):
                job = _job(entity, kind)
                if job_type in (None, "auto") or job["type"] == job_type:
                    jobs.append(job)
        return jobs

    def query(self, query, what):
        """Every entity the query service answers ``query`` with, page after page (``PagingInfo``)."""
        def read_page(_offset, number):
            data = self.read("/api/query?%s&page=%d" % (query, number), what)
            page_num, pages = _paging(data)
            return [dict(e, id=e.get("uid") or e.get("href")) for e in _entities(data)], page_num < pages
        return collect_pages(read_page, what)

    # ------------------------------------------------------------------ sessions
    def sessions(self, job):
        """The job's backup (or replica) sessions, newest first, from the job's Down link."""
        link = None
        for candidate in _links({"links": job["_links"]}).get("Down", []):
            if str(candidate.get("type") or "").endswith("JobSessionReferenceList") and isinstance(
                    candidate.get("href"), str):
                link = candidate
                break
        path = link["href"] if link else "%s/%s/backupSessions" % (_COLLECTION[job["_kind"]], job["id"])
        path = path.split("?")[0] + "?format=Entity"
        data = self.read(path, "sessions of job %r" % job["name"])
        items = [session_view(entity) for entity in _entities(data)]
        items.sort(key=lambda s: str(s.get("creation_time") or ""), reverse=True)
        return items

    def latest_session(self, job):
        items = self.sessions(job)
        return items[0] if items else None

    def running_sessions(self, jobs, page_size=500):
        """The running session of each of ``jobs`` that has one, ``{job id: session}``, with one query (per page)
        instead of one session list per job: ``type=BackupJobSession`` (file share and agent sessions are backup
        job sessions too) or, for replica jobs, ``type=ReplicaJobSession``, ``filter=State!=Stopped``."""
        wanted = {job["id"] for job in jobs}
        found = {}
        for query_type in sorted({"ReplicaJobSession" if job["type"] == "replica" else "BackupJobSession"
                                  for job in jobs}):
            for entity in self.query("type=%s&format=Entities&pageSize=%d&filter=%s" % (
                    query_type, page_size, _urlquote("State!=Stopped")), "running sessions"):
                session = session_view(entity)
                job_id = _id_of(session["job_uid"])
                if job_id in wanted and session_running(session) and (
                        job_id not in found
                        or str(session["creation_time"] or "") > str(found[job_id]["creation_time"] or "")):
                    found[job_id] = session
        return found

    def ended_sessions(self, since, page_size=500):
        """Every backup and replication session that ended at ``since`` (ISO 8601 UTC) or later, with the query
        service: ``type=BackupJobSession`` (file share and agent sessions are backup job sessions too) and
        ``ReplicaJobSession``, ``filter=EndTime>="<since>"``, sorted by ``EndTime`` so that the pages stay put while
        more sessions end; paging is bounded (``collect_pages``).  A session without an end is still running (the
        filter leaves those out; one that came anyway is dropped)."""
        found = []
        kinds = (("BackupJobSession", "backup sessions"), ("ReplicaJobSession", "replication sessions"))
        for query_type, words in kinds:
            query = "type=%s&format=Entities&pageSize=%d&sortAsc=EndTime&filter=%s" % (
                query_type, page_size, _urlquote('EndTime>="%s"' % since))
            found.extend(session_view(entity) for entity in self.query(query, "ended %s" % words))
        return [session for session in found if not session_running(session) and session["id"]]

    def get_session(self, session):
        """Fresh state of one session, through its own href."""
        href = (session.get("href") or "").split("?")[0]
        if not href:
            href = "/api/backupSessions/%s" % session["id"]
        return session_view(W.root(self.read(href + "?format=Entity", "backup session %s" % session.get("name")))[1])

    # ------------------------------------------------------------------ actions and tasks
    def start_path(self, job):
        """The start route of a job: its Start (or, for backup copy jobs, Sync) link, else the documented one."""
        action = _START_ACTION.get(job["type"], "start")
        link = _link({"links": job["_links"]}, action.capitalize())
        if link and isinstance(link.get("href"), str) and link["href"]:
            return link["href"]
        if job["_kind"] == "nas":
            return "/api/nas/jobs/%s/%s" % (job["id"], action)
        return "%s/%s?action=%s" % (_COLLECTION[job["_kind"]], job["id"], action)

    def action_path(self, job, action, session=None):
        """The route of a lifecycle action: the job's link (Start/Sync, Stop, Retry, ToggleScheduleEnabled), else the
        documented route; a backup copy job, which has no Stop link, is stopped through its running ``session``."""
        if action == "start":
            return self.start_path(job)
        rel, word = _ACTION_LINK[action]
        link = _link({"links": job["_links"]}, rel)
        if link and isinstance(link.get("href"), str) and link["href"]:
            return link["href"]
        if job["type"] == "backup_copy" and action in ("stop", "retry"):
            if action == "stop" and session and session.get("href"):
                return str(session["href"]).split("?", maxsplit=1)[0] + "?action=stop"
            if action == "stop" and session:
                return "/api/backupSessions/%s?action=stop" % session["id"]
            raise E.UsageError("Enterprise Manager cannot %s backup copy job %r: such jobs have no %s action"
                               % (action, job["name"], rel))
        if job["_kind"] == "nas":
            return "/api/nas/jobs/%s/%s" % (job["id"], word)
        return "%s/%s?action=%s" % (_COLLECTION[job["_kind"]], job["id"], word)

    def act(self, job, action, session=None):
        """Send a lifecycle action (start, stop, retry, or a toggle of the schedule for enable/disable): its Task
        (202).  Sent once: a lost answer raises LostAnswerError."""
        resp = self.call("POST", self.action_path(job, action, session), expect=(200, 201, 202),
                         what="to %s job %r" % (_ACTION_WORDS[action], job["name"]), safe=False)
        task = task_view(W.root(document(resp, "task", self.product))[1])
        self.started_tasks.add(str(task["id"]))
        return task

    def start(self, job):
        """Start the job: its Task (202).  Sent once: a lost answer raises LostAnswerError."""
        return self.act(job, "start")

    def read_job(self, job):
        """The job's entity read again (its ``ScheduleEnabled`` now), from its own collection."""
        resp = self.call("GET", "%s/%s?format=Entity" % (_COLLECTION[job["_kind"]], job["id"]), what="job %r"
                         % job["name"])
        root_name, entity = W.root(document(resp, "job", self.product))
        return _job(entity, job["_kind"], root_name)

    def tasks(self):
        """The tasks of this logon session (tasks belong to the session that created them)."""
        return [task_view(entity) for entity in _entities(self.read("/api/tasks", "tasks"))]

    def unknown_start_task(self, job):
        """A start task of this logon session for ``job`` that no start of this client accounted for yet (several
        jobs are started in one session)."""
        return self.unknown_task(job, "start")

    def unknown_task(self, job, action):
        """A task of this logon session of ``action`` (start, stop, retry, enable/disable: the toggle's UpdateJob)
        for ``job`` that no action of this client accounted for yet; a task whose message does not name a job
        (a task state, "Ok") may be the job's."""
        prefix = _TASK_OPERATION[action]
        for task in self.tasks():
            message = str(task.get("message") or "")
            if message.lower() in _TASK_STATE_WORDS:  # "OperationFinished": the task's state, not a job's name
                message = ""
            if str(task["id"]) not in self.started_tasks and str(task.get("operation") or "").lower().startswith(
                    prefix) and (not message or job["name"] in message):
                self.started_tasks.add(str(task["id"]))
                return task
        return None

    def get_task(self, task_id):
        """One task of this logon session.  EM answers a task it does not find in the caller's logon session with
        404 or, as real servers do, 500 "There is no backup task with id [task-N] in current rest session": both
        are a NotFoundError that explains where tasks live."""
        resp = self.call("GET", "/api/tasks/%s" % _urlquote(str(task_id)), expect=(200, 404, 500),
                         what="task %s" % task_id)
        if resp.status == 500 and not _NO_TASK.search(str(veeam_message(resp)[0] or "")):
            raise self.error(resp, "Enterprise Manager could not return the task %s" % task_id)
        if resp.status in (404, 500):
            if self.auth.owns_session:
                raise E.NotFoundError(
                    "Task %s was not found in this Enterprise Manager logon session: EM tasks belong to the logon "
                    "session that created them, so a new logon cannot see them" % task_id,
                    status=resp.status, method="GET", path="/api/tasks/{id}", veeam_message=veeam_message(resp)[0],
                    hint="Pass session_token of the session that started the job (log on once with "
                         "backupops.veeam.veeam_em_session and hand its token to each task)")
            raise E.NotFoundError(
                "Task %s was not found in the logon session of session_token: the id is unknown, the task was "
                "deleted, or it belongs to another logon session" % task_id,
                status=resp.status, method="GET", path="/api/tasks/{id}", veeam_message=veeam_message(resp)[0],
                hint="Check the task id, and that session_token is the one of the session that started the job")
        return task_view(W.root(document(resp, "task", self.product))[1])

    def delete_task(self, task_id):
        resp = self.call("DELETE", "/api/tasks/%s" % _urlquote(str(task_id)), expect=(200, 204, 404, 500),
                         what="to delete task %s" % task_id)
        if resp.status == 500 and not _NO_TASK.search(str(veeam_message(resp)[0] or "")):
            raise self.error(resp, "Enterprise Manager refused to delete task %s" % task_id)

    def wait_task(self, task, poller):
        """Poll one task until it is Finished: a ``_poll.WaitResult`` (``done`` False when the wait ran out)."""
        return poller.wait(lambda: self.get_task(task["id"]), task_done, lambda t: t.get("state") or "unknown",
                           value=task, fresh=True)


class EmJobs(JobAdapter):
    """The job lifecycle in Enterprise Manager terms: every action (start, stop, retry, and the schedule toggle of
    enable/disable) answers with a task of this logon session, and a run is the job's backup session.
    ``wait_for``: ``task`` awaits the action's task (until the backup server took it), ``session`` the backup
    session (a start's or retry's new one until it stopped; for a stop, the running one until it stopped).  A
    toggle's task is always awaited (``awaited``), so that the schedule state read next is the toggled one.
    ``handed_token``: the logon session came from ``veeam_em_session``, so its tasks can be read by later tasks."""

    product = "Enterprise Manager"
    awaited = ("start", "stop", "retry", "enable", "disable")

    def __init__(self, client, wait_for="task", wait=True, handed_token=False):
        super().__init__(client)
        self.wait_for = wait_for
        self.need_before = wait and wait_for == "session"
        self.handed_token = handed_token
        self._listed = {}
        self._surveyed = set()

    def find(self, wanted):
        return self.client.find_jobs([{k: w.get(k) for k in ("job_id", "job_name", "job_type", "backup_server")}
                                      for w in wanted])

    # ------------------------------------------------------------------ state
    def survey(self, runs, action, acting):
        """For a toggle, the job's schedule state (the job read again after the first time); otherwise the newest
        session of each job (a start's or retry's new session is told apart from it; a retry needs its result),
        or, for several jobs whose new sessions need not be told apart, their running sessions with one query."""
        if action == "retry":
            copies = [run.name for run in runs if run.job["type"] == "backup_copy"]
            if copies:
                raise E.UsageError("Enterprise Manager cannot retry backup copy jobs (they have no Retry action): %s"
                                   % ", ".join(repr(name) for name in copies),
                                   hint="Start them again with state: started (a sync)")
        if action in ("enable", "disable"):
            for run in runs:
                if run.index in self._surveyed:
                    run.job = self.client.read_job(run.job)
                self._surveyed.add(run.index)
                run.before = run.current = None
            return
        if len(runs) > 1 and not self.need_before and action != "retry":
            running = self.client.running_sessions([run.job for run in runs])
            for run in runs:
                run.before = run.current = running.get(run.job["id"])
            return
        for run in runs:
            run.before = self.client.latest_session(run.job)
            run.current = run.before if session_running(run.before) else None

    def running(self, run):
        return run.current is not None

    def enabled(self, run):
        return run.job.get("schedule_enabled")

    def failed_last(self, run):
        """Enterprise Manager retries a job only when its last session ended Failed."""
        last = run.before
        return bool(last) and not session_running(last) and str(last.get("result") or "").lower() == "failed"

    def stopping(self, run):
        return str((run.current or {}).get("state") or "").lower() == "stopping"

    def running_label(self, run):
        session = run.current
        if not session:
            return None
        done = ", %s%% done" % session["progress_percent"] if session.get("progress_percent") is not None else ""
        return "session %s, %s%s" % (session["name"], session["state"], done)

    def idle_label(self, run):
        last = run.before
        if not last:
            return None
        return "last session %s ended %s" % (last.get("name"), last.get("result") or "without a result")

    def kind(self, run, action):
        return "the schedule of " if action in ("enable", "disable") else ""

    def recheck(self, run, action):
        """A toggle is sent only to a job whose schedule is not in the asked state: the job is read again right
        before it (a toggle into the wrong state would do the opposite of what was asked)."""
        if action not in ("enable", "disable"):
            return False
        run.job = self.client.read_job(run.job)
        return True

    # ------------------------------------------------------------------ acting
    def send(self, run, action):
        return self.client.act(run.job, action, session=run.current)

    def look(self, run, action):
        """After a lost answer, what EM shows: a task of ours for the job with the action's operation, and whether
        the action took effect - a start or retry: that task, or a running session that is not the one seen
        before; a stop: that task, or the job's session stopping or stopped; a toggle: that task, or the schedule
        state read again (never a second toggle)."""
        task = self.client.unknown_task(run.job, action)
        if action in ("enable", "disable"):
            run.job = self.client.read_job(run.job)
            return task, task is not None or run.job.get("schedule_enabled") is (action == "enable")
        if action == "stop":
            session = self.client.get_session(run.current) if run.current else None
            return task, task is not None or not session_running(session) or str(
                session.get("state") or "").lower() == "stopping"
        latest = self.client.latest_session(run.job)
        before = (run.before or {}).get("id")
        return task, task is not None or bool(latest and session_running(latest) and latest["id"] != before)

    def note(self, run):
        return "task %s" % run.receipt["id"] if run.receipt else None

    # ------------------------------------------------------------------ waiting
    def watch(self, run, action):
        if action in ("enable", "disable") or self.wait_for == "task":
            return {"task": run.receipt, "action": action} if run.changed and run.receipt else None
        if action == "stop":
            return {"job": run.job, "before": None, "task": None if run.skipped else run.receipt,
                    "session": run.current, "refused": False, "action": action}
        return {"job": run.job, "before": (run.before or {}).get("id"), "task": None if run.skipped else run.receipt,
                "session": run.current if run.skipped else None, "refused": False, "action": action}

    def prefetch(self, watches):
        """With several tasks pending, one ``GET /api/tasks`` a round reads them all (a logon session's tasks are
        full Task entities: RestAPI.xsd ``TaskListType``); a task missing from it is read on its own."""
        self._listed = {}
        if len([w for w in watches if "job" not in w]) > 1:
            self._listed = {str(task["id"]): task for task in self.client.tasks()}

    def _read_task(self, task):
        if str(task["id"]) in self._listed:
            return self._listed[str(task["id"])]
        try:
            return self.client.get_task(task["id"])
        except E.NotFoundError:
            if self.client.auth.renewals:  # the logon session expired and was replaced: its tasks are gone
                return dict(task, state="Lost", lost=True)
            raise

    def progress(self, watch):
        if "job" not in watch:
            return dict(watch, task=self._read_task(watch["task"]))
        task = watch["task"]
        if task and task.get("id") and not task.get("lost") and not task_done(task):
            # Until our task has finished, a new session may be another operator's (EM refuses our start then),
            # and a stop may be refused: the task is read on, and decides.
            try:
                task = self.client.get_task(task["id"])
            except E.NotFoundError:
                task = dict(task, lost=True)
            if task_done(task) and task.get("success") is False:
                return dict(watch, task=task, refused=True)
        session = watch["session"]
        if session is not None:
            session = self.client.get_session(session)
        else:
            latest = self.client.latest_session(watch["job"])
            session = latest if latest and latest["id"] != watch["before"] else None
        return dict(watch, task=task, session=session)

    def ended(self, watch):
        if "job" not in watch:
            return bool(watch["task"].get("lost")) or task_done(watch["task"])
        task = watch["task"]
        settled = not task or not task.get("id") or task.get("lost") or task_done(task)
        return watch["refused"] or bool(settled and watch["session"] is not None
                                        and not session_running(watch["session"]))

    def state(self, watch):
        if "job" not in watch:
            return watch["task"].get("state") or "unknown"
        return "%s refused" % watch.get("action", "start") if watch["refused"] else run_state(watch["session"])

    def waiting_for(self, watch):
        if "job" not in watch:
            return "task %s still %s" % (watch["task"].get("id"), watch["task"].get("state"))
        if watch["session"] is None:
            return run_state(None)
        if not session_running(watch["session"]):  # it ended: the task, not yet finished, decides if it is ours
            return "task %s still %s (session %s is %s)" % (watch["task"].get("id"), watch["task"].get("state"),
                                                            watch["session"]["name"], run_state(watch["session"]))
        return "session %s still %s" % (watch["session"]["name"], run_state(watch["session"]))

    def outcome(self, run, watch):
        task = watch["task"]
        if task is not None:
            run.receipt = task
        action = watch.get("action", "start")
        if "job" not in watch:
            if action in ("enable", "disable"):
                return self._toggled(run, task, action)
            if task.get("lost"):
                self.client.warn("The Enterprise Manager logon session expired while waiting for task %s of job %r; "
                                 "the task belonged to it, so the job's backup session was read instead"
                                 % (task["id"], run.name))
                run.session = self.client.latest_session(run.job)
                return Outcome("its backup session is %s" % run_state(run.session), timed=False)
            if task.get("success") is False:
                return Outcome("task %s finished with %r" % (task["id"], task.get("message") or "no message"),
                               refused=True)
            return Outcome("task %s %s" % (task["id"], task["state"]))
        if watch["refused"]:
            return Outcome("task %s finished with %r" % (task["id"], task.get("message") or "no message"),
                           refused=True)
        run.session = watch["session"]
        result = run.session.get("result") or ""
        if action == "stop" and result.lower() == "failed":
            # EM has no "canceled" flag: a run stopped by someone ends Failed ("Job has been stopped by user.")
            return Outcome("session %s ended Failed (stopped)" % run.session["name"], result="Stopped")
        return Outcome("session %s ended %s" % (run.session["name"], result or "without a result"), result=result,
                       reason=run.session.get("failure_message"))

    def _toggled(self, run, task, action):
        """A toggle's task ended: the job is read again, and shows whether its schedule is in the asked state."""
        run.job = self.client.read_job(run.job)
        wanted = action == "enable"
        if task.get("success") is False:
            return Outcome("task %s finished with %r" % (task["id"], task.get("message") or "no message"),
                           refused=True)
        if run.job.get("schedule_enabled") is not wanted:
            return Outcome("task %s %s, but the schedule is still %s" % (
                task["id"], task.get("state"), "enabled" if run.job.get("schedule_enabled") else "disabled"),
                refused=True)
        if task.get("lost"):
            return Outcome("the schedule is %s" % ("enabled" if wanted else "disabled"), timed=False)
        return Outcome("task %s %s" % (task["id"], task["state"]))

    def keep(self, run, watch):
        """The wait ran out: the failed result shows the task and the backup session as last read (the session's
        id is what a user needs to go on), not the task as the action answered it."""
        if watch.get("task") is not None:
            run.receipt = watch["task"]
        if "job" in watch and watch["session"] is not None:
            run.session = watch["session"]

    def resume_hint(self, action, runs):
        if self.wait_for != "task" or action in ("enable", "disable"):
            return super().resume_hint(action, runs)
        task_ids = ", ".join(str(run.receipt["id"]) for run in runs if run.receipt and not task_done(run.receipt))
        if self.handed_token:
            return ("To go on waiting, run backupops.veeam.veeam_task_info with task_id=%s, wait: true and the same "
                    "session_token" % task_ids)
        return ("The task (%s) belonged to this module's own logon session, which ended with it: to await a task "
                "later, log on with backupops.veeam.veeam_em_session and pass its session_token to veeam_em_job_start "
                "(or veeam_em_job_state) and backupops.veeam.veeam_task_info; or await the backup session with wait_for: session" % task_ids)

    # ------------------------------------------------------------------ reporting
    def conclude(self, run, action):
        """After an action that was not awaited: a toggle's job as it is now (its task may still run)."""
        if action in ("enable", "disable"):
            run.job = self.client.read_job(run.job)

    def view(self, run):
        out = {"job": public(run.job)}
        if run.receipt:
            out["task"] = public_task(run.receipt)
        session = run.session or run.current
        if session:
            out["session"] = public_session(session)
        return out


def jobs_adapter(client, params, state):
    """The EmJobs of a job-state task (veeam_em_job_start, veeam_em_job_state): ``wait_for`` defaults to ``task`` for
    a start and to ``session`` for a stop or retry (until the stop took effect, the retry's session ended)."""
    wait_for = params.get("wait_for") or ("task" if state == "started" else "session")
    return EmJobs(client, wait_for=wait_for, wait=params.get("wait", True), handed_token=bool(params.get("session_token")))


class EmFeed:
    """The job sessions that ended, for the event source: one query per session type a poll (``ended_sessions``);
    the job's id, name and type come with each session (``JobUid``, ``JobName``, ``JobType``)."""

    def __init__(self, client):
        self.client = client

    def ended(self, since):
        pairs = []
        for session in self.client.ended_sessions(W.format_time(since)):
            raw_type = str(session.get("veeam_job_type") or "")
            job = {"id": session["job_id"], "name": session["job_name"],
                   "type": _TYPE_OF_JOBTYPE.get(raw_type.lower(), raw_type.lower() or None)}
            pairs.append((job, public_session(session)))
        return pairs


def connect(transport, params, journal, logoff=None):
    """The Enterprise Manager client of a module run (not logged on yet: use it as a context manager)."""
    if not params.get("session_token"):
        credentials(params, "VEEAM_EM", "session_token from backupops.veeam.veeam_em_session")
    auth = EmLogon(transport, params.get("username"), params.get("password"), params["api_version"],
                   token=params.get("session_token"), session_id=params.get("logon_session_id"), logoff=logoff,
                   journal=journal)
    return EnterpriseManager(transport, auth, journal)


CONNECTION = Connection("em", "VEEAM_EM", "Enterprise Manager", DEFAULT_PORT, API_VERSIONS, "latest", connect,
                        base_path="/api", options={"session_token": {"type": "str", "no_log": True}}, feed=EmFeed)
