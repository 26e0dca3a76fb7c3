# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Veeam Backup Enterprise Manager REST API client.  Private to backupops.veeam: not a public API.

What to ask Enterprise Manager (EM), and what its answers mean: logon and logoff, the token hand-off, jobs
(found by id or by exact name through the query service), the start route of each job type, tasks and backup
sessions.  How to ask (TLS, retries) is ``_http``; what came back (XML/JSON) is ``_wire``; waiting is
``_poll``.  Every route string of the EM API is in this file, and only here.

Facts used (see docs/api-notes.md for the sources): logon is ``POST /api/sessionMngr/?v=<version>`` with Basic
auth, answered 201 with the token in the ``X-RestSvcSessionId`` header (the token is taken from that header,
never derived from the body); the same token also comes as a cookie, which EM prefers over the header, so no
cookie is ever kept; logoff is ``DELETE /api/logonSessions/{SessionId}`` (204); tasks belong to the logon
session that created them; an idle session expires after 15 minutes (401).
"""

from __future__ import annotations

import base64
import re
import urllib.parse

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _wire as W
from ansible_collections.backupops.veeam.plugins.module_utils._errors import VeeamError

DEFAULT_PORT = 9398
API_VERSIONS = ("latest", "v1_5", "v1_6", "v1_7")
TOKEN_HEADER = "X-RestSvcSessionId"

#: User-facing job types -> where the job lives and how it is started (the documented routes).
#: vm jobs: POST /api/jobs/{id}?action=start (backup copy: ?action=sync); file share (NAS) jobs:
#: POST /api/nas/jobs/{id}/start; agent jobs: POST /api/agents/jobs/{id}?action=start.
JOB_TYPES = ("backup", "replica", "backup_copy", "file_share", "agent")
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
#: Veeam's JobType values -> our job_type names.
_TYPE_OF_JOBTYPE = {"backup": "backup", "replica": "replica", "replication": "replica", "backupcopy": "backup_copy",
                    "immediatebackupcopy": "backup_copy", "nasbackup": "file_share", "agentbackup": "agent",
                    "agentmanagement": "agent"}

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_URN = re.compile(r"^urn:veeam:([A-Za-z]+):(.+)$")

#: Backup session states; anything but Stopped counts as running (the docs list Starting, Stopping, Working,
#: Pausing, Resuming, Stopped; VBR adds more, such as WaitingTape or Postprocessing).
SESSION_DONE = "stopped"
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
            raise VeeamError("job_id %r is a URN of type %r, not of a job (Job, NasJob or AgentBackupJob)"
                             % (value, match.group(1)), kind=E.USAGE)
        text = match.group(2)
    if not _GUID.match(text):
        raise VeeamError("job_id %r is not a job id: give a GUID such as 5658281f-625e-4627-89dd-d2a0c48be99e or "
                         "urn:veeam:Job:<guid>" % value, kind=E.USAGE)
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


def session_view(entity):
    progress = W.as_int(W.text(entity.get("progress")))
    return {
        "id": _id_of(entity.get("uid")) or _id_of(entity.get("href")),
        "uid": entity.get("uid"),
        "name": entity.get("name"),
        "job_uid": W.text(entity.get("job_uid")),
        "job_name": W.text(entity.get("job_name")),
        "job_type": W.text(entity.get("job_type")),
        "state": W.text(entity.get("state")),
        "result": W.text(entity.get("result")),
        "progress": progress,
        "creation_time": W.text(entity.get("creation_time_utc")),
        "end_time": W.text(entity.get("end_time_utc")),
        "failure_message": W.text(entity.get("failure_message")) or None,
        "is_retry": W.as_bool(W.text(entity.get("is_retry"))),
        "href": entity.get("href"),
    }


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


class EnterpriseManager:
    """One Enterprise Manager logon session, used as a context manager: logon on enter, logoff on exit.

    With ``session_token`` (from ``veeam_em_session``) the token is used as is and not logged off, unless
    ``logoff`` is true.  With credentials as well, an expired token (401) is replaced by a new logon, which
    this client then logs off itself.
    """

    def __init__(self, transport, username=None, password=None, api_version="latest", session_token=None,
                 session_id=None, logoff=None, warn=None):
        if api_version not in API_VERSIONS:
            raise VeeamError("api_version %r is not one of %s" % (api_version, ", ".join(API_VERSIONS)),
                             kind=E.USAGE)
        if not session_token and not (username and password):
            raise VeeamError("username and password are required (or session_token from "
                             "backupops.veeam.veeam_em_session)", kind=E.USAGE)
        self.t = transport
        self.username = username
        self._password = password
        self.api_version = api_version
        self._token = session_token or None
        self.session_id = session_id
        self.user_name = None
        self.owns_session = False
        self.logoff_on_exit = logoff
        self.relogons = 0
        self.warn = warn or (lambda message: None)
        self._start_tasks = set()  # ids of the start tasks this client already accounted for
        self.started = []  # (job name, task id or None) of every start this client made, for error messages

    # ------------------------------------------------------------------ session lifecycle
    def __enter__(self):
        if not self._token:
            self.logon()
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._token and (self.owns_session if self.logoff_on_exit is None else self.logoff_on_exit):
            try:
                self.logoff()
            except VeeamError as err:
                self.warn("Could not log off from Enterprise Manager (%s); EM ends idle logon sessions after "
                          "15 minutes" % err)
        self.t.close()
        return False

    @property
    def token(self):
        """The current session token (for ``veeam_em_session`` to hand to later tasks)."""
        return self._token

    @property
    def can_logon(self):
        return bool(self.username and self._password)

    def logon(self):
        """``POST /api/sessionMngr/?v=<api_version>`` with Basic auth; the token comes from the header."""
        if not self.can_logon:
            raise VeeamError("The Enterprise Manager session has expired or was logged off, and no username and "
                             "password were given to log on again (EM ends idle sessions after 15 minutes)",
                             kind=E.AUTH, hint="Log on again with backupops.veeam.veeam_em_session")
        basic = base64.b64encode(("%s:%s" % (self.username, self._password)).encode("utf-8")).decode("ascii")
        resp = self.t.request("POST", "/api/sessionMngr/?v=%s" % self.api_version, safe=True,
                              headers={"Authorization": "Basic " + basic, "Accept": "application/xml",
                                       "Content-Length": "0"},
                              display_path="/api/sessionMngr/")
        if resp.status == 401:
            raise VeeamError("Enterprise Manager rejected the username or password for '%s'" % self.username,
                             kind=E.AUTH, status=401, method="POST", path="/api/sessionMngr/",
                             veeam_message=self._veeam_message(resp)[0],
                             hint="Check username (DOMAIN\\user) and password; the account needs the Portal "
                                  "Administrator role to start jobs")
        if resp.status in (400, 404) and self.api_version != "latest":
            raise self._version_error(resp)
        if resp.status not in (200, 201):
            raise self._status_error(resp, "Logon to Enterprise Manager failed")
        token = resp.header(TOKEN_HEADER)
        if not token:
            raise VeeamError("Enterprise Manager accepted the logon but sent no %s header; is this the "
                             "Enterprise Manager REST API (port 9398, path /api)?" % TOKEN_HEADER,
                             kind=E.PARSE, status=resp.status, method="POST", path="/api/sessionMngr/")
        self._token = token
        self.owns_session = True
        try:
            data = W.parse(resp.body, resp.content_type, "logon response")
        except VeeamError:
            # The logon session exists (its token came in the header): end it before failing.
            try:
                self.logoff()
            except VeeamError:
                pass
            raise
        body = W.root(data)[1] if data is not None else {}
        self.session_id = W.text(body.get("session_id")) or _id_of(body.get("href")) or self.session_id
        self.user_name = W.text(body.get("user_name"))
        return self._token

    def logoff(self):
        """``DELETE /api/logonSessions/{SessionId}`` (204).  Finds the id first when only a token is known.

        Returns True when the session was already gone (expired or logged off: 401 or 404).
        """
        if not self._token:
            return True
        try:
            if not self.session_id:
                self.session_id = self.current_session_id()
            path = "/api/logonSessions/%s" % _urlquote(str(self.session_id))
            resp = self.t.request("DELETE", path, headers=self._headers(), display_path=shown_path(path))
            if resp.status not in (200, 204, 401, 404):
                raise self._status_error(resp, "Logoff from Enterprise Manager failed")
            return resp.status in (401, 404)
        finally:
            self._token = None
            self.owns_session = False

    def current_session_id(self):
        """The SessionId of our token's session: the one logon session ``GET /api/logonSessions`` shows us."""
        data = self.get("/api/logonSessions", what="logon sessions", relogon=False)
        body = W.root(data)[1]
        items = body if isinstance(body, list) else (body.get("refs") or body.get("logon_sessions")
                                                     or _entities(data) or [])
        ids = [W.text(i.get("session_id")) or _id_of(i.get("uid")) or _id_of(i.get("href"))
               for i in items if isinstance(i, dict)]
        ids = [i for i in ids if i]
        if len(ids) != 1:
            raise VeeamError("Cannot tell which logon session the session token belongs to (%d listed); pass "
                             "session_id as well" % len(ids), kind=E.USAGE)
        return ids[0]

    # ------------------------------------------------------------------ requests
    def _headers(self):
        return {TOKEN_HEADER: self._token, "Accept": "application/xml"}

    def call(self, method, path, expect=(200,), what="response", relogon=True, display_path=None, safe=None):
        """One request with the session token; re-logon once on 401 when we can; Veeam errors raised.

        A 401 means the server did nothing with the request (it was not authenticated), so repeating it after
        a new logon cannot double an action.
        """
        shown = display_path or shown_path(path)
        resp = self.t.request(method, path, headers=self._headers(), display_path=shown, safe=safe)
        if resp.status == 401 and relogon and self.can_logon:
            self.relogons += 1
            if not self.owns_session:
                self.warn("The Enterprise Manager session token was rejected (expired or logged off); logged on "
                          "again, and this task logs the new session off when it ends")
            self.logon()
            resp = self.t.request(method, path, headers=self._headers(), display_path=shown, safe=safe)
        if resp.status not in expect:
            raise self._status_error(resp, "Enterprise Manager could not return the %s" % what
                                     if method == "GET" else "Enterprise Manager refused %s" % what)
        return resp

    def get(self, path, what="response", relogon=True, display_path=None, expect=(200,)):
        resp = self.call("GET", path, expect=expect, what=what, relogon=relogon, display_path=display_path)
        return _document(resp, what)

    # ------------------------------------------------------------------ errors
    @staticmethod
    def _veeam_message(resp):
        try:
            return W.error_text(W.parse(resp.body, resp.content_type, "error response"))
        except VeeamError:
            return None, None

    def _status_error(self, resp, text):
        message, code = self._veeam_message(resp)
        kind = {401: E.AUTH, 403: E.FORBIDDEN, 404: E.NOT_FOUND, 409: E.CONFLICT}.get(resp.status, E.HTTP)
        hint = None
        if resp.status == 401 and not self.owns_session:
            hint = ("The session token is no longer valid (Enterprise Manager ends sessions idle for 15 minutes): log "
                    "on again with backupops.veeam.veeam_em_session, or give username and password as well so the "
                    "module can log on by itself")
        elif resp.status == 401:
            hint = "The logon session is no longer valid (Enterprise Manager ends idle sessions after 15 minutes)"
        elif resp.status == 403:
            hint = ("The account '%s' lacks the Enterprise Manager role for this; starting jobs needs Portal "
                    "Administrator" % (self.username or self.user_name or "in use"))
        if message:
            text += ": " + message.rstrip(".")
        return VeeamError(text, kind=kind, status=resp.status, method=resp.method, path=resp.path,
                          veeam_message=message, veeam_code=code, hint=hint)

    def _version_error(self, resp):
        supported = []
        try:
            entry = W.root(W.parse(self.t.request("GET", "/api/").body))[1]
            for version in (entry.get("supported_versions") if isinstance(entry, dict) else None) or []:
                if isinstance(version, dict) and version.get("name"):
                    supported.append(version["name"])
        except VeeamError:
            pass
        return VeeamError("Enterprise Manager does not offer REST API version %s%s" % (
            self.api_version, "; it offers " + ", ".join(supported) if supported else ""),
            kind=E.USAGE, status=resp.status, method="POST", path="/api/sessionMngr/",
            hint="Use api_version: latest")

    # ------------------------------------------------------------------ jobs
    def find_job(self, job_id=None, job_name=None, job_type="auto", backup_server=None):
        """The one job named by id or exact name; clear errors when none or several match."""
        if job_id:
            guid, urn_kind = parse_job_id(job_id)
            kinds = self._kinds(job_type, urn_kind)
            for kind in kinds:
                resp = self.call("GET", "%s/%s?format=Entity" % (_COLLECTION[kind], guid), expect=(200, 404),
                                 what="job")
                if resp.status == 200:
                    root_name, entity = W.root(_document(resp, "job"))
                    job = _job(entity, kind, root_name)
                    self._check_type(job, job_type, job_id)
                    return job
            raise VeeamError("No %sjob with id %s on Enterprise Manager" % (
                "" if job_type in (None, "auto") else job_type.replace("_", " ") + " ", guid), kind=E.NOT_FOUND,
                hint="Check the id with backupops.veeam.veeam_em_job_info")
        name = self._job_name(job_name)
        return self._pick(name, self.list_jobs(name=name, job_type=job_type), backup_server)

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
            jobs.append(self._pick(name, matches, w.get("backup_server")))
        return jobs

    @staticmethod
    def _job_name(job_name):
        name = job_name if job_name is None else str(job_name)
        if not name or not name.strip():
            raise VeeamError("job_name is empty: give the exact name of the job, or job_id", kind=E.USAGE)
        return name

    @staticmethod
    def _pick(name, matches, backup_server):
        """The one job named exactly ``name`` (on ``backup_server``) among what the query service matched."""
        exact = [job for job in matches if job["name"] == name]
        if backup_server:
            exact = [job for job in exact if (job["backup_server"] or "").lower() == backup_server.lower()
                     or (job["backup_server_id"] or "") == backup_server.lower()]
        if not exact:
            where = " on backup server %r" % backup_server if backup_server else ""
            similar = sorted({job["name"] for job in matches if isinstance(job["name"], str)})
            hint = ("Names are matched exactly; jobs with the same name in other case: %s" % ", ".join(similar)
                    if similar else "List the jobs with backupops.veeam.veeam_em_job_info")
            raise VeeamError("No job named %r%s on Enterprise Manager" % (name, where), kind=E.NOT_FOUND, hint=hint)
        if len(exact) > 1:
            listed = "; ".join("%s (%s job on backup server %s)" % (job["id"], job["type"], job["backup_server"])
                               for job in exact)
            raise VeeamError("%d jobs are named %r: %s" % (len(exact), name, listed), kind=E.AMBIGUOUS,
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
            raise VeeamError("Job %s (%r) is a %s job, not %s" % (shown, job["name"], job["type"], job_type),
                             kind=E.USAGE, hint="Use job_type: auto, or the job's own type")

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
            page = 1
            while True:
                params = "type=%s&format=Entities&pageSize=%d&page=%d" % (_QUERY_TYPE[kind], page_size, page)
                if conditions:
                    params += "&filter=" + _urlquote(";".join(conditions))
                data = self.get("/api/query?" + params, what="list of %s" % _KIND_WORDS[kind])
                for entity in _entities(data):
                    job = _job(entity, kind)
                    if job_type in (None, "auto") or job["type"] == job_type:
                        jobs.append(job)
                page_num, pages = _paging(data)
                if page_num >= pages:
                    break
                page += 1
        return jobs

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
        data = self.get(path, what="sessions of job %r" % job["name"])
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
            page = 1
            while True:
                data = self.get("/api/query?type=%s&format=Entities&pageSize=%d&page=%d&filter=%s" % (
                    query_type, page_size, page, _urlquote("State!=Stopped")), what="running sessions")
                for entity in _entities(data):
                    session = session_view(entity)
                    job_id = _id_of(session["job_uid"])
                    if job_id in wanted and session_running(session) and (
                            job_id not in found
                            or str(session["creation_time"] or "") > str(found[job_id]["creation_time"] or "")):
                        found[job_id] = session
                page_num, pages = _paging(data)
                if page_num >= pages:
                    break
                page += 1
        return found

    def get_session(self, session):
        """Fresh state of one session, through its own href."""
        href = (session.get("href") or "").split("?")[0]
        if not href:
            href = "/api/backupSessions/%s" % session["id"]
        data = self.get(href + "?format=Entity", what="backup session %s" % session.get("name"))
        return session_view(W.root(data)[1])

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

    def start(self, job, before=None):
        """Start the job; a Task (202).  Never sent twice: a lost response is settled by asking the server.

        ``before`` is the newest session seen before the start (to recognise the session this start created).
        """
        path = self.start_path(job)
        try:
            resp = self.call("POST", path, expect=(200, 201, 202), what="to start job %r" % job["name"], safe=False)
        except VeeamError as exc:
            if exc.kind != E.RESPONSE_LOST:
                raise
            return self._settle_lost_start(job, before, exc)
        self.started.append((job["name"], None))
        task = task_view(W.root(_document(resp, "task"))[1])
        self._start_tasks.add(str(task["id"]))
        self.started[-1] = (job["name"], task["id"])
        return task

    def _settle_lost_start(self, job, before, lost):
        """The start's response was lost: find out from EM whether it took effect before anything else.

        When the start timed out (rather than losing its connection), EM may still be working on it: it is given
        as long again as ``timeout`` to show the start before the module says it saw none.
        """
        (task, started), looks = self.t.look_after_lost(lost, lambda: self._start_seen(job, before),
                                                        seen=lambda seen: seen[1])
        slow = bool(lost.details.get("timed_out"))
        if started:
            self.started.append((job["name"], task["id"] if task else None))
            self.warn("The response to the start of job %r was lost; Enterprise Manager shows the job started, "
                      "so it was not started again" % job["name"])
            return task or {"id": None, "state": None, "operation": None, "success": None, "message": None,
                            "href": None, "_lost": True}
        if slow:
            raise VeeamError("Enterprise Manager did not answer the start of job %r within %s s (the timeout option), "
                             "and %d s later still shows no new task or running session for it; the start was not "
                             "sent again, but Enterprise Manager may still carry it out"
                             % (job["name"], self.t.timeout, looks), kind=E.RESPONSE_LOST, method=lost.method,
                             path=lost.path, hint="Check the job (backupops.veeam.veeam_em_job_info) before starting "
                                                  "it again, and raise timeout if Enterprise Manager is slow")
        raise VeeamError("The start request for job %r got no response, and Enterprise Manager shows no new task "
                         "or running session for it, so it was not started; it was not sent again"
                         % job["name"], kind=E.RESPONSE_LOST, method=lost.method, path=lost.path,
                         hint="Run the task again once the connection to Enterprise Manager is stable")

    def _start_seen(self, job, before):
        """``(task, started)``: a start task of ours for the job, and whether EM shows the job started."""
        task = self._unknown_start_task(job)
        latest = self.latest_session(job)
        started = task is not None or bool(latest and session_running(latest) and (
            before is None or latest["id"] != before.get("id")))
        return task, started

    def _unknown_start_task(self, job):
        """A start task of this logon session for ``job`` (tasks belong to the session that created them) that is
        not the task of a start this client already accounted for (several jobs are started in one session)."""
        data = self.get("/api/tasks", what="tasks")
        for entity in _entities(data):
            task = task_view(entity)
            message = task.get("message") or ""
            if str(task["id"]) not in self._start_tasks and str(task.get("operation") or "").lower().startswith(
                    "start") and (not message or job["name"] in str(message)):
                self._start_tasks.add(str(task["id"]))
                return task
        return None

    def get_task(self, task_id):
        resp = self.call("GET", "/api/tasks/%s" % _urlquote(str(task_id)), expect=(200, 404), what="task %s" % task_id)
        if resp.status == 404:
            raise VeeamError(
                "Task %s was not found in this Enterprise Manager logon session: EM tasks belong to the logon "
                "session that created them, so a new logon cannot see them" % task_id, kind=E.NOT_FOUND,
                status=404, method="GET", path="/api/tasks/{id}",
                hint="Pass session_token of the session that started the job (log on once with "
                     "backupops.veeam.veeam_em_session and hand its token to each task)")
        return task_view(W.root(_document(resp, "task"))[1])

    # ------------------------------------------------------------------ waiting
    def wait_tasks(self, tasks, poller, on_timeout=None, fresh=False):
        """Poll tasks (``{key: task}``) until each is Finished; ``{key: WaitResult}``.

        OperationFinished means the backup server is done but EM has not collected the outcome yet, so it is
        polled on until Finished.  A task that vanished because the logon session expired and was replaced
        (EM tasks belong to their logon session) comes back with ``state`` ``Lost`` and ``lost: true``.
        With ``fresh``, the tasks were just read (the start's answer, or ``get_task``), so the first poll comes
        after the first pause.  While several tasks are pending, one ``GET /api/tasks`` per round reads them all
        (the logon session's tasks, full ``Task`` entities: RestAPI.xsd ``TaskListType``); a task missing from
        that list is read on its own.
        """
        listed = {}

        def prefetch(keys):
            listed.clear()
            if len(keys) > 1:
                for entity in _entities(self.get("/api/tasks", what="tasks")):
                    view = task_view(entity)
                    listed[str(view["id"])] = view

        def probe(_key, task):
            if str(task["id"]) in listed:
                return listed[str(task["id"])]
            try:
                return self.get_task(task["id"])
            except VeeamError as exc:
                if exc.kind == E.NOT_FOUND and self.relogons:
                    return dict(task, state="Lost", lost=True)
                raise
        return poller.wait_all(tasks, probe, lambda t: t.get("lost") or task_done(t), _task_state, on_timeout,
                               fresh=fresh, prefetch=prefetch)

    def wait_runs(self, runs, poller, on_timeout=None, fresh=False):
        """Poll job runs until each has a stopped backup session; ``{key: WaitResult}``.

        A run is ``{"job": job, "before": session id or None, "session": session or None, "task": task or
        None}``.  First the session this start created is looked for (the newest one that is not ``before``);
        while it has not appeared, the start's task is read too, so a start that Enterprise Manager refused
        (its task finished without success) ends the wait with ``failed_start: true`` instead of a timeout.
        With ``fresh``, the runs were just started (or found running), so the first poll comes after the first
        pause.
        """
        def probe(_key, run):
            if run.get("session") is not None:
                return dict(run, session=self.get_session(run["session"]))
            latest = self.latest_session(run["job"])
            if latest and latest["id"] != run.get("before"):
                return dict(run, session=latest)
            task = run.get("task")
            if task and task.get("id") and not task.get("lost"):
                try:
                    task = self.get_task(task["id"])
                except VeeamError as exc:
                    if exc.kind != E.NOT_FOUND:
                        raise
                    task = dict(task, lost=True)
                return dict(run, task=task, failed_start=task_done(task) and task.get("success") is False)
            return run
        return poller.wait_all(runs, probe, run_done, run_state, on_timeout, fresh=fresh)

    def delete_task(self, task_id):
        self.call("DELETE", "/api/tasks/%s" % _urlquote(str(task_id)), expect=(200, 204, 404),
                  what="to delete task %s" % task_id)


def task_done(task):
    return str(task.get("state") or "").lower() == TASK_DONE


def _task_state(task):
    return task.get("state") or "unknown"


def run_state(run):
    """A job run's state in words: its session's state and result, or that the session has not appeared yet."""
    session = run.get("session")
    if run.get("failed_start"):
        return "start failed"
    if session is None:
        return "waiting for the backup session to appear"
    result = session.get("result")
    return "%s%s" % (session.get("state") or "unknown", "/%s" % result if result and result != "None" else "")


def run_done(run):
    return bool(run.get("failed_start")) or (run.get("session") is not None and not session_running(run["session"]))


def _document(resp, what):
    """The parsed body of a successful answer.  Enterprise Manager answers every read with a document, so an empty
    body is an error (read as "no jobs" it would claim that a job does not exist)."""
    data = W.parse(resp.body, resp.content_type, what)
    if data is None:
        raise VeeamError("Enterprise Manager sent an empty answer instead of the %s" % what, kind=E.PARSE,
                         status=resp.status, method=resp.method, path=resp.path)
    return data


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


def shown_path(path):
    """A path as error messages show it: no scheme/host, no query string, ids replaced by ``{id}``."""
    parts = urllib.parse.urlsplit(path)
    return re.sub(r"/(task-\d+|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27})(?=/|$)", "/{id}", parts.path or "/")
