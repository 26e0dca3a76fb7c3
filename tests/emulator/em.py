"""Veeam Backup Enterprise Manager REST API (the ``/api`` of EM, REST versions v1_5 to v1_7).

Implements what the collection uses, with Veeam's documented wire format (see ``docs/emulator.md`` for
the full list of routes, the behaviour the documentation leaves open and what was chosen there):

* entry point, logon (``POST /api/sessionMngr/?v=``), logon sessions, logoff, idle expiry;
* backup servers; jobs (``/api/jobs``, ``/api/nas/jobs``, ``/api/agents/jobs``) as references or entities;
* the query service (``/api/query``) with the documented filter grammar, sorting and paging;
* job actions (202 + ``Task``), tasks scoped to the logon session, backup and replica sessions.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
import math
import os
import re
import time
import urllib.parse
import uuid
from typing import Any, Callable

from . import em_templates as tpl
from .core import Api, Clock, Request, Response
from .em_model import (RESULT_ORDER, RESULTS, TASK_STATES, BackupServer, Job, LogonSession, Session, Task,
                       fmt_restore_point_name, fmt_time)
from .em_query import Field, FilterError, compile_filter, parse_filter, sort_key
from .em_wire import E, L, Node, V, error_json_data, error_xml, link, links, to_json, to_xml

SUPPORTED_VERSIONS = ("v1_5", "v1_6", "v1_7")
LATEST_VERSION = "v1_7"
ADMIN_ROLE = "Portal Administrator"
KNOWN_ROLES = ("Portal Administrator", "Portal User", "Restore Operator")
ACCESS_DENIED = "Access denied"

DEFAULT_SETTINGS: dict[str, Any] = {
    "session_idle_timeout": 900,
    "request_latency_ms": 0,
    "logon_latency_ms": 0,
    "json_bom": False,
    "json_case": "pascal",
    "portal_user_can_list_jobs": False,
    "task_duration": 1.0,
    "task_collect_delay": 0.5,
    "session_retention_days": 30,
    "default_page_size": 100,
}

# The Down links of a logon session, in the order of the documented sample (em_logon_session.xml).
_LOGON_LINKS = [
    ("Down", "BackupServerReferenceList", "backupServers"), ("Down", "ManagedServerReferenceList", "managedServers"),
    ("Down", "JobReferenceList", "jobs"), ("Down", "FailoverPlanReferenceList", "failoverPlans"),
    ("Down", "HierarchyRootReferenceList", "hierarchyRoots"), ("Down", "RepositoryReferenceList", "repositories"),
    ("Down", "BackupReferenceList", "backups"), ("Down", "RestorePointReferenceList", "restorePoints"),
    ("Down", "VmRestorePointReferenceList", "vmRestorePoints"),
    ("Down", "VAppRestorePointReferenceList", "vAppRestorePoints"), ("Down", "ReplicaReferenceList", "replicas"),
    ("Down", "VmReplicaPointReferenceList", "vmReplicaPoints"), ("Down", "CatalogVmReferenceList", "catalog/vms"),
    ("Down", "BackupJobSessionReferenceList", "backupSessions"),
    ("Down", "RestoreSessionReferenceList", "restoreSessions"),
    ("Down", "ReplicaJobSessionReferenceList", "replicaSessions"),
    ("Down", "BackupTaskSessionReferenceList", "backupTaskSessions"),
    ("Down", "ReplicaTaskSessionReferenceList", "replicaTaskSessions"),
    ("Down", "EnterpriseSecuritySettings", "security"), ("Down", "WanAcceleratorReferenceList", "wanAccelerators"),
    ("Down", "BackupFileReferenceList", "backupFiles"),
    ("Down", "ExternalRepositoryReferenceList", "externalRepositories"), ("Down", "TaskList", "tasks"),
    ("Down", "QueryService", "querySvc"), ("Down", "LookupService", "lookupSvc"),
    ("Down", "Report", "reports/summary", "Summary"), ("Down", "BackupServerList", "backupServers?format=Entity"),
    ("Down", "ManagedServerList", "managedServers?format=Entity"), ("Create", None, "backupServers?action=create"),
    ("Down", "JobList", "jobs?format=Entity"), ("Down", "FailoverPlanList", "failoverPlans?format=Entity"),
    ("Down", "HierarchyRootList", "hierarchyRoots?format=Entity"), ("Down", "RepositoryList", "repositories?format=Entity"),
    ("Down", "BackupList", "backups?format=Entity"), ("Down", "RestorePointList", "restorePoints?format=Entity"),
    ("Down", "VmRestorePointList", "vmRestorePoints?format=Entity"),
    ("Down", "VAppRestorePointList", "vAppRestorePoints?format=Entity"), ("Down", "ReplicaList", "replicas?format=Entity"),
    ("Down", "VmReplicaPointList", "vmReplicaPoints?format=Entity"), ("Down", "CatalogVmList", "catalog/vms?format=Entity"),
    ("Down", "BackupJobSessionList", "backupSessions?format=Entity"),
    ("Down", "RestoreSessionList", "restoreSessions?format=Entity"),
    ("Down", "ReplicaJobSessionList", "replicaSessions?format=Entity"),
    ("Down", "BackupTaskSessionList", "backupTaskSessions?format=Entity"),
    ("Down", "ReplicaTaskSessionList", "replicaTaskSessions?format=Entity"),
    ("Down", "WanAcceleratorList", "wanAccelerators?format=Entity"), ("Down", "VCloudService", "vCloud"),
    ("Down", "BackupFileList", "backupFiles?format=Entity"), ("Down", "AgentsService", "agents"),
    ("Down", "VSphereSelfService", "selfService/vSphere"),
    ("Down", "ExternalRepositoryList", "externalRepositories?format=Entity"), ("Down", "NasService", "nas"),
]

# action name (lower case) -> canonical spelling
_ACTIONS = {"start": "start", "stop": "stop", "retry": "retry", "sync": "sync",
            "togglescheduleenabled": "toggleScheduleEnabled", "clone": "clone"}
# (job kind, action) -> task Operation (veeam-api.md A.7)
_OPERATIONS = {
    ("vm", "start"): "StartJob", ("vm", "stop"): "StopJob", ("vm", "retry"): "RetryJob",
    ("vm", "sync"): "StartJobSync", ("vm", "toggleScheduleEnabled"): "UpdateJob",
    ("nas", "start"): "StartNasJob", ("nas", "stop"): "StopNasJob", ("nas", "retry"): "RetryNasJob",
    ("nas", "toggleScheduleEnabled"): "UpdateJob",
    ("agent", "start"): "StartJob", ("agent", "stop"): "StopAgentJob", ("agent", "retry"): "RetryAgentJob",
    ("agent", "toggleScheduleEnabled"): "UpdateJob",
}
_TYPE_ALIASES = {
    "backup": ("vm", "Backup"), "replica": ("vm", "Replica"), "replication": ("vm", "Replica"),
    "backupcopy": ("vm", "BackupCopy"), "immediatebackupcopy": ("vm", "ImmediateBackupCopy"),
    "nas": ("nas", "NasBackup"), "nasbackup": ("nas", "NasBackup"), "fileshare": ("nas", "NasBackup"),
    "filesharebackup": ("nas", "NasBackup"), "agent": ("agent", "AgentBackup"), "agentbackup": ("agent", "AgentBackup"),
}
_DEFAULT_PLATFORM = {"vm": "VMware", "nas": "", "agent": "AgentForWindows"}


def _xml_body_asking_json(req: Request) -> bool:
    """A request with an XML body that lists ``application/json`` in its ``Accept`` header."""
    body = (req.body or b"").lstrip()
    xml = body.startswith(b"<") or "xml" in (req.header("content-type") or "").lower()
    return bool(body) and xml and "application/json" in (req.header("accept") or "").lower()


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _guid(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError as exc:
        raise ApiError(400, f"Invalid ID format: '{raw}' is not a valid GUID.") from exc


def dotnet_urlencode(value: str) -> str:
    """``HttpUtility.UrlEncode``: lower-case hex, ``+`` for space (``Name%3d%3d%22SQL+Replication%22``)."""
    out = []
    for byte in value.encode("utf-8"):
        ch = chr(byte)
        if ch.isascii() and (ch.isalnum() or ch in "-_.!*()"):
            out.append(ch)
        elif ch == " ":
            out.append("+")
        else:
            out.append(f"%{byte:02x}")
    return "".join(out)


def _bool_setting(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


# Route table: (regex on the lower-cased path without trailing slash, counter template, {method: handler}).
_ID = r"(?P<id>[^/]+)"
_ROUTES: list[tuple[re.Pattern[str], str, dict[str, str]]] = [
    (re.compile(p), t, m) for p, t, m in [
        (r"/api", "/api/", {"GET": "h_entry"}),
        (r"/api/sessionmngr", "/api/sessionMngr/", {"POST": "h_logon"}),
        (r"/api/logonsessions", "/api/logonSessions", {"GET": "h_logon_list"}),
        (rf"/api/logonsessions/{_ID}", "/api/logonSessions/{id}", {"GET": "h_logon_get", "DELETE": "h_logoff"}),
        (r"/api/backupservers", "/api/backupServers", {"GET": "h_servers"}),
        (rf"/api/backupservers/{_ID}", "/api/backupServers/{id}", {"GET": "h_server_get"}),
        (rf"/api/backupservers/{_ID}/jobs", "/api/backupServers/{id}/jobs", {"GET": "h_server_jobs"}),
        (r"/api/jobs", "/api/jobs", {"GET": "h_jobs"}),
        (rf"/api/jobs/{_ID}", "/api/jobs/{id}", {"GET": "h_job_get", "POST": "h_job_action"}),
        (rf"/api/jobs/{_ID}/backupsessions", "/api/jobs/{id}/backupSessions", {"GET": "h_job_sessions"}),
        (rf"/api/jobs/{_ID}/replicasessions", "/api/jobs/{id}/replicaSessions", {"GET": "h_job_replica_sessions"}),
        (r"/api/nas/jobs", "/api/nas/jobs", {"GET": "h_nas_jobs"}),
        (rf"/api/nas/jobs/{_ID}", "/api/nas/jobs/{id}", {"GET": "h_nas_get"}),
        (rf"/api/nas/jobs/{_ID}/backupsessions", "/api/nas/jobs/{id}/backupSessions", {"GET": "h_nas_sessions"}),
        (rf"/api/nas/jobs/{_ID}/(?P<action>start|stop|retry|togglescheduleenabled)", "/api/nas/jobs/{id}/{action}",
         {"POST": "h_nas_action"}),
        (r"/api/nas/backupsessions", "/api/nas/backupSessions", {"GET": "h_nas_all_sessions"}),
        (r"/api/agents/jobs", "/api/agents/jobs", {"GET": "h_agent_jobs"}),
        (rf"/api/agents/jobs/{_ID}", "/api/agents/jobs/{id}", {"GET": "h_agent_get", "POST": "h_agent_action"}),
        (rf"/api/agents/jobs/{_ID}/backupsessions", "/api/agents/jobs/{id}/backupSessions", {"GET": "h_agent_sessions"}),
        (r"/api/agents/backupsessions", "/api/agents/backupSessions", {"GET": "h_agent_all_sessions"}),
        (r"/api/backupsessions", "/api/backupSessions", {"GET": "h_sessions"}),
        (rf"/api/backupsessions/{_ID}", "/api/backupSessions/{id}", {"GET": "h_session_get", "POST": "h_session_action"}),
        (r"/api/replicasessions", "/api/replicaSessions", {"GET": "h_replica_sessions"}),
        (rf"/api/replicasessions/{_ID}", "/api/replicaSessions/{id}", {"GET": "h_replica_session_get"}),
        (r"/api/tasks", "/api/tasks", {"GET": "h_tasks"}),
        (rf"/api/tasks/{_ID}", "/api/tasks/{id}", {"GET": "h_task_get", "DELETE": "h_task_delete"}),
        (r"/api/query", "/api/query", {"GET": "h_query"}),
    ]
]
_NO_AUTH = {"h_entry", "h_logon"}


class EnterpriseManagerApi(Api):
    """The emulated Enterprise Manager."""

    name = "em"

    def __init__(self, scenario: dict[str, Any], clock: Clock) -> None:
        super().__init__(scenario, clock)
        #: set by the server: scheme and host:port used in Hrefs when the request has no Host header
        self.scheme = "https"
        self.default_host = "127.0.0.1:9398"
        self.settings: dict[str, Any] = {}
        self.users: dict[str, dict[str, str]] = {}
        self.servers: dict[str, BackupServer] = {}
        self.jobs: dict[str, Job] = {}
        self.sessions: dict[str, Session] = {}
        self.tasks: dict[int, Task] = {}
        self.task_seq = 0
        self.logons: dict[str, LogonSession] = {}
        self.tokens: dict[str, str] = {}
        self.reset()

    # ------------------------------------------------------------------------------ scenario / lifecycle

    def _em_scenario(self) -> dict[str, Any]:
        return dict(self.scenario.get("em") or {})

    def reset(self) -> None:
        em = self._em_scenario()
        self.counters.clear()
        self.settings = dict(DEFAULT_SETTINGS)
        for key in DEFAULT_SETTINGS:
            if key in em:
                self.settings[key] = em[key]
        self.users = {}
        for user in em.get("users") or []:
            role = str(user.get("role", ADMIN_ROLE))
            if role not in KNOWN_ROLES:
                raise ValueError(f"em.users: unknown role {role!r}; known: {', '.join(KNOWN_ROLES)}")
            name = str(user["username"])
            self.users[name.lower()] = {"username": name, "password": str(user["password"]), "role": role}
        self.servers = {}
        for srv in em.get("backup_servers") or []:
            sid = str(uuid.UUID(str(srv["id"])))
            self.servers[sid] = BackupServer(id=sid, name=str(srv["name"]), description=str(srv.get("description", "")),
                                             port=int(srv.get("port", 9392)), version=str(srv.get("version", "12.3.1.1139")))
        self.jobs = {}
        for raw in em.get("jobs") or []:
            job = self._job_from_scenario(raw)
            if job.id in self.jobs:
                raise ValueError(f"em.jobs: duplicate job id {job.id}")
            self.jobs[job.id] = job
        self.sessions = {}
        self.tasks = {}
        self.task_seq = 0
        self.logons = {}
        self.tokens = {}
        now = self.clock.now()
        for raw in em.get("jobs") or []:
            job = self.jobs[str(uuid.UUID(str(raw["id"])))]
            for idx, hist in enumerate(raw.get("history") or []):
                sess = self._new_session(job, created=now - float(hist.get("ago", 86400.0)), is_retry=bool(hist.get("is_retry")),
                                         sid=tpl.sub_id(job.id, f"history-{idx}"))
                sess.duration = float(hist.get("duration", job.duration))
                sess.result = self._result(hist.get("result", "Success"))
                sess.failure_message = str(hist.get("failure_message", ""))
            started = raw.get("running_at_start")
            if started not in (None, False):
                ago = 0.0 if started is True else float(started)
                self._new_session(job, created=now - ago, is_retry=False, sid=tpl.sub_id(job.id, "running-at-start"))

    def _result(self, value: Any) -> str:
        for res in RESULTS:
            if str(value).lower() == res.lower():
                return res
        raise ValueError(f"em: result must be one of {', '.join(RESULTS)}, not {value!r}")

    def _job_from_scenario(self, raw: dict[str, Any]) -> Job:
        type_key = str(raw.get("type", "Backup")).replace(" ", "").replace("_", "").lower()
        if type_key not in _TYPE_ALIASES:
            raise ValueError(f"em.jobs: unknown job type {raw.get('type')!r}")
        kind, job_type = _TYPE_ALIASES[type_key]
        server_ref = str(raw.get("backup_server", ""))
        server_id = self._server_ref(server_ref)
        if server_id is None:
            raise ValueError(f"em.jobs[{raw.get('name')!r}]: unknown backup_server {server_ref!r}")
        default_platform = "CustomPlatform" if job_type in ("BackupCopy", "ImmediateBackupCopy") else _DEFAULT_PLATFORM[kind]
        collect = raw.get("task_collect_delay", self.settings["task_collect_delay"])
        job = Job(
            id=str(uuid.UUID(str(raw["id"]))), name=str(raw["name"]), kind=kind, job_type=job_type,
            platform=str(raw.get("platform", default_platform)), server_id=server_id,
            description=str(raw.get("description", f"Created by {self._admin_name()}")),
            schedule_configured=bool(raw.get("schedule_configured", True)),
            schedule_enabled=bool(raw.get("schedule_enabled", True)),
            schedule_time=str(raw.get("schedule_time", "22:00")),
            duration=float(raw.get("duration", 3.0)), result=self._result(raw.get("result", "Success")),
            failure_message=str(raw.get("failure_message", "")),
            retry_result=self._result(raw.get("retry_result", "Success")),
            retry_failure_message=str(raw.get("retry_failure_message", "")),
            task_duration=float(raw.get("task_duration", self.settings["task_duration"])),
            task_collect_delay=None if collect is None else float(collect),
            objects=[str(o) for o in (raw.get("objects") or [])],
            linked_jobs=[str(uuid.UUID(str(j))) for j in (raw.get("linked_jobs") or [])],
            linked_repository=str(raw.get("linked_repository", "")),
        )
        if not job.objects:
            job.objects = {"nas": ["\\\\fileserver01\\share"], "agent": ["Windows Servers"]}.get(kind, [f"{job.name} VM"])
        return job

    def _admin_name(self) -> str:
        for user in self.users.values():
            if user["role"] == ADMIN_ROLE:
                return user["username"]
        return "VEEAM\\Administrator"

    def _server_ref(self, ref: str) -> str | None:
        for srv in self.servers.values():
            if ref.lower() in (srv.id, srv.name.lower()):
                return srv.id
        return None

    def apply_config(self, cfg: dict[str, Any]) -> None:
        """``cfg`` is this API's part of ``POST /_emulator/config`` (settings, plus ``jobs`` overrides)."""
        for key, value in cfg.items():
            if key == "jobs":
                self._apply_job_overrides(value or {})
            elif key in DEFAULT_SETTINGS:
                self.settings[key] = value
            else:
                raise ValueError(f"em: unknown setting {key!r}; known: jobs, {', '.join(DEFAULT_SETTINGS)}")

    def _apply_job_overrides(self, overrides: dict[str, Any]) -> None:
        for ref, changes in overrides.items():
            targets = [j for j in self.jobs.values() if str(ref).lower() == j.id or str(ref) == j.name]
            for job in targets:
                for key, value in (changes or {}).items():
                    if key in ("duration", "task_duration"):
                        setattr(job, key, float(value))
                    elif key == "task_collect_delay":
                        job.task_collect_delay = None if value is None else float(value)
                    elif key in ("result", "retry_result"):
                        setattr(job, key, self._result(value))
                    elif key in ("failure_message", "retry_failure_message", "description", "schedule_time"):
                        setattr(job, key, str(value))
                    elif key in ("schedule_enabled", "schedule_configured"):
                        setattr(job, key, _bool_setting(value))
                    else:
                        raise ValueError(f"em: job setting {key!r} cannot be changed at run time")

    def latency(self, req: Request) -> float:
        delay = float(self.settings.get("request_latency_ms") or 0) / 1000.0
        if req.method == "POST" and req.path.rstrip("/").lower() == "/api/sessionmngr":
            delay += float(self.settings.get("logon_latency_ms") or 0) / 1000.0
        return delay

    def expire_auth(self) -> None:
        for ls in self.logons.values():
            if not ls.closed:
                ls.expired = True

    def counters_view(self) -> dict[str, Any]:
        values = self.counters.snapshot()["values"]
        view: dict[str, Any] = {"logons": 0, "logon_failures": 0, "logoffs": 0, "open_sessions": 0, "starts": {},
                                "actions": {}, "tasks_created": 0, "sessions_expired": 0}
        view.update(values)
        view["open_sessions"] = sum(1 for ls in self.logons.values() if self._is_open(ls))
        return view

    def _is_open(self, ls: LogonSession) -> bool:
        return ls.is_open(time.time(), float(self.settings["session_idle_timeout"]))

    def state_view(self) -> dict[str, Any]:
        now = self.clock.now()
        jobs = []
        for job in self.jobs.values():
            sessions = sorted((s for s in self.sessions.values() if s.job_id == job.id), key=lambda s: s.created)
            running = [s for s in sessions if s.running(now)]
            last = sessions[-1] if sessions else None
            jobs.append({
                "id": job.id, "uid": job.uid, "name": job.name, "kind": job.kind, "type": job.job_type,
                "backup_server": self.servers[job.server_id].name, "schedule_enabled": job.schedule_enabled,
                "duration": job.duration, "result": job.result, "running": bool(running),
                "running_session": self._session_summary(running[-1], now) if running else None,
                "last_session": self._session_summary(last, now) if last else None,
                "sessions": len(sessions),
            })
        return {
            "now": now, "jobs": jobs,
            "tasks": [{"task_id": t.task_id, "operation": t.operation, "state": t.state(now), "success": t.success,
                       "message": t.message, "job_id": t.job_id, "finished_at": self._task_finished_at(t)}
                      for t in self.tasks.values()],
            "logon_sessions": [{"id": ls.id, "username": ls.username, "role": ls.role, "version": ls.version,
                                "open": self._is_open(ls)} for ls in self.logons.values()],
        }

    def _session_summary(self, sess: Session, now: float) -> dict[str, Any]:
        end = sess.end_time(now)
        return {"id": sess.id, "name": sess.name, "state": sess.state(now), "result": sess.final_result(now),
                "progress": sess.progress(now), "is_retry": sess.is_retry, "created": fmt_time(sess.created),
                "end": fmt_time(end), "ended_at": self.clock.wall_time(end)}

    def _task_finished_at(self, task: Task) -> float | None:
        """Wall-clock time at which the task became ``Finished`` (``None`` before, or if it never will)."""
        if task.collect_for is None:
            return None
        return self.clock.wall_time(task.created + max(task.run_for, 0.0) + max(task.collect_for, 0.0))

    def snapshot(self) -> dict[str, Any]:
        return {
            "settings": dict(self.settings),
            "jobs": [j.to_dict() for j in self.jobs.values()],
            "sessions": [s.to_dict() for s in self.sessions.values()],
            "tasks": [t.to_dict() for t in self.tasks.values()],
            "task_seq": self.task_seq,
            "logons": [ls.to_dict() for ls in self.logons.values()],
            "counters": self.counters.snapshot(),
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.settings.update(data.get("settings") or {})
        if data.get("jobs"):
            self.jobs = {j["id"]: Job(**j) for j in data["jobs"]}
        self.sessions = {s["id"]: Session(**s) for s in data.get("sessions") or []}
        self.tasks = {t["num"]: Task(**t) for t in data.get("tasks") or []}
        self.task_seq = int(data.get("task_seq", len(self.tasks)))
        self.logons = {ls["id"]: LogonSession(**ls) for ls in data.get("logons") or []}
        self.tokens = {ls.token: ls.id for ls in self.logons.values()}
        self.counters.restore(data.get("counters") or {})

    # ------------------------------------------------------------------------------ transport helpers

    def _base(self, req: Request) -> str:
        host = req.header("host") or self.default_host
        return f"{self.scheme}://{host}/api"

    @staticmethod
    def wants_json(req: Request) -> bool:
        """JSON only when Accept asks for application/json ahead of any XML type (default XML)."""
        accept = (req.header("accept") or "").lower()
        if "application/json" not in accept:
            return False
        for part in accept.split(","):
            media = part.split(";")[0].strip()
            if media == "application/json":
                return True
            if "xml" in media:
                return False
        return True

    def _render(self, req: Request, status: int, node: Node, headers: dict[str, str] | None = None) -> Response:
        if self.wants_json(req):
            body = to_json(node, camel=str(self.settings.get("json_case", "pascal")).lower() == "camel").encode("utf-8")
            if _bool_setting(self.settings.get("json_bom")):
                body = b"\xef\xbb\xbf" + body
            hdrs = {"Content-Type": "application/json; charset=utf-8"}
        else:
            body = to_xml(node).encode("utf-8")
            hdrs = {"Content-Type": "application/xml; charset=utf-8"}
        hdrs.update(headers or {})
        return Response(status, body, hdrs)

    def error_response(self, status: int, message: str, req: Request) -> Response:
        headers: dict[str, str] = {}
        if status == 401:
            headers["WWW-Authenticate"] = "Basic Realm=RestSvc"
        if self.wants_json(req):
            body = json.dumps(error_json_data(status, message), ensure_ascii=False).encode("utf-8")
            if _bool_setting(self.settings.get("json_bom")):
                body = b"\xef\xbb\xbf" + body
            headers["Content-Type"] = "application/json; charset=utf-8"
            return Response(status, body, headers)
        headers["Content-Type"] = "application/xml; charset=utf-8"
        return Response(status, error_xml(status, message).encode("utf-8"), headers)

    def _match(self, req: Request) -> tuple[re.Pattern[str], str, dict[str, str], dict[str, str]] | None:
        path = urllib.parse.unquote(req.path)
        norm = path.lower().rstrip("/") or "/"
        for pattern, template, methods in _ROUTES:
            m = pattern.fullmatch(norm)
            if m:
                return pattern, template, methods, m.groupdict()
        return None

    def route_key(self, req: Request) -> str:
        match = self._match(req)
        if match is None:
            return f"{req.method} (unknown)"
        _pattern, template, _methods, groups = match
        key = template
        if "{action}" in key:
            key = key.replace("{action}", _ACTIONS.get(groups.get("action", ""), groups.get("action", "")))
        action = req.arg("action")
        if action is not None and req.method == "POST":
            key += f"?action={_ACTIONS.get(action.lower(), action)}"
        if template == "/api/query":
            qtype = (req.arg("type") or "").lower()
            key += f"?type={_QUERY_TYPE_NAMES.get(qtype, qtype)}"
        return f"{req.method} {key}"

    # ------------------------------------------------------------------------------ dispatch

    def handle(self, req: Request) -> Response:
        try:
            return self._dispatch(req)
        except ApiError as err:
            resp = self.error_response(err.status, err.message, req)
            resp.headers.update(err.headers)
            return resp
        except FilterError as err:
            return self.error_response(400, f"Invalid filter: {err}", req)

    def _dispatch(self, req: Request) -> Response:
        if req.method.upper() in ("POST", "PUT") and _xml_body_asking_json(req):
            # Enterprise Manager 9.5 Update 4 and later: an XML body with application/json anywhere in Accept makes
            # every POST/PUT fail (Veeam R&D forums; docs/emulator.md, assumptions).
            raise ApiError(400, "Node [root] does not exist.")
        match = self._match(req)
        if match is None:
            raise ApiError(404, f"The requested resource '{req.path}' was not found.")
        _pattern, _template, methods, groups = match
        handler_name = methods.get(req.method.upper())
        if handler_name is None:
            raise ApiError(405, f"The requested resource does not support http method '{req.method}'.",
                           {"Allow": ", ".join(sorted(methods))})
        handler: Callable[..., Response] = getattr(self, handler_name)
        if handler_name in _NO_AUTH:
            return handler(req, **groups)
        ls = self._authenticate(req)
        return handler(req, ls, **groups)

    def _token(self, req: Request) -> str | None:
        """The session token: the cookie wins over the header when both are sent (EMDOC http_authentication)."""
        cookie = req.header("cookie")
        if cookie:
            for part in cookie.split(";"):
                name, sep, value = part.strip().partition("=")
                if sep and name.strip() == "X-RestSvcSessionId":
                    return value.strip().strip('"')
        return req.header("x-restsvcsessionid")

    def _authenticate(self, req: Request) -> LogonSession:
        token = self._token(req)
        if not token:
            raise ApiError(401, "Authorization header expected but not found.")
        sid = self.tokens.get(token)
        ls = self.logons.get(sid) if sid else None
        if ls is None or ls.closed:
            raise ApiError(401, "The logon session was not found or has been closed.")
        wall = time.time()
        if ls.expired or wall - ls.last_used > float(self.settings["session_idle_timeout"]):
            if not ls.expired:
                ls.expired = True
                self.counters.incr("sessions_expired")
            raise ApiError(401, "The logon session has expired. Log on again.")
        ls.last_used = wall
        return ls

    def _format_entity(self, req: Request) -> bool:
        fmt = req.arg("format")
        if fmt is None:
            return False
        if fmt.lower() == "entity":
            return True
        raise ApiError(400, f"Invalid format parameter value '{fmt}'. Supported value: Entity.")

    # ------------------------------------------------------------------------------ entry, logon

    def h_entry(self, req: Request) -> Response:
        base = self._base(req)
        versions = [E("SupportedVersion", [("Name", v)], children=[
            links([link("Create", f"{base}/sessionMngr/?v={v}", "LogonSession")])]) for v in SUPPORTED_VERSIONS]
        node = E("EnterpriseManager", children=[
            links([link("Down", f"{base}/logonSessions", "LogonSessionList"),
                   link("Create", f"{base}/sessionMngr/?v=latest", "LogonSession")]),
            L("SupportedVersions", versions, key="SupportedVersions"),
        ])
        return self._render(req, 200, node)

    def _credentials(self, req: Request) -> tuple[str, str] | None:
        auth = req.header("authorization") or ""
        scheme, _sep, value = auth.partition(" ")
        if scheme.lower() != "basic" or not value.strip():
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        return (user, password) if sep else None

    def h_logon(self, req: Request) -> Response:
        requested = req.arg("v")
        if requested is None or requested.lower() == "latest":
            version = LATEST_VERSION
        elif requested.lower() in SUPPORTED_VERSIONS:
            version = requested.lower()
        else:
            raise ApiError(400, f"The requested REST API version '{requested}' is not supported. "
                                f"Supported versions: {', '.join(SUPPORTED_VERSIONS)}, latest.")
        creds = self._credentials(req)
        user = self.users.get(creds[0].lower()) if creds else None
        if creds is None or user is None or creds[1] != user["password"]:
            self.counters.incr("logon_failures")
            raise ApiError(401, "Authentication failed: the user name or password is incorrect." if creds else
                           "Authentication required: send the Authorization header with Basic credentials.")
        sid = str(uuid.uuid4())
        token = base64.b64encode(os.urandom(16)).decode("ascii")
        wall = time.time()
        ls = LogonSession(id=sid, token=token, username=user["username"], role=user["role"], version=version,
                          created=wall, last_used=wall)
        self.logons[sid] = ls
        self.tokens[token] = sid
        self.counters.incr("logons")
        headers = {"X-RestSvcSessionId": token, "Set-Cookie": f"X-RestSvcSessionId={token}; Path=/api",
                   "Location": f"{self._base(req)}/logonSessions/{sid}"}
        return self._render(req, 201, self._logon_node(req, ls), headers)

    def _logon_node(self, req: Request, ls: LogonSession) -> Node:
        base = self._base(req)
        items = [link("Up", f"{base}/", "EnterpriseManager")]
        for entry in _LOGON_LINKS:
            rel, type_, path = entry[0], entry[1], entry[2]
            items.append(link(rel, f"{base}/{path}", type_, entry[3] if len(entry) > 3 else None))
        items.append(link("Delete", f"{base}/logonSessions/{ls.id}"))
        return E("LogonSession", [("Type", "LogonSession"), ("Href", f"{base}/logonSessions/{ls.id}")],
                 children=[links(items), V("UserName", ls.username), V("SessionId", ls.id)], base="resource")

    def h_logon_list(self, req: Request, ls: LogonSession) -> Response:
        mine = [s for s in self.logons.values() if s.username == ls.username and self._is_open(s)]
        return self._render(req, 200, L("LogonSessions", [self._logon_node(req, s) for s in mine], key="LogonSessions"))

    def _own_logon(self, ls: LogonSession, raw_id: str) -> LogonSession:
        target = self.logons.get(_guid(raw_id))
        if target is None or target.closed or target.username != ls.username:
            raise ApiError(404, f"Logon session '{raw_id}' was not found.")
        return target

    def h_logon_get(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin
        return self._render(req, 200, self._logon_node(req, self._own_logon(ls, id)))

    def h_logoff(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin,unused-argument
        target = self._own_logon(ls, id)
        target.closed = True
        self.tokens.pop(target.token, None)
        self.counters.incr("logoffs")
        return Response.empty(204)

    # ------------------------------------------------------------------------------ backup servers

    def _server_ref_node(self, req: Request, srv: BackupServer, root: bool = False) -> Node:
        base = self._base(req)
        href = f"{base}/backupServers/{srv.id}"
        items = [link("Down", f"{href}/jobs", "JobReferenceList"),
                 link("Down", f"{href}/repositories", "RepositoryReferenceList"),
                 link("Down", f"{href}/externalRepositories", "ExternalRepositoryReferenceList"),
                 link("Down", f"{href}/credentials", "CredentialsList"),
                 link("Down", f"{href}/passwords", "PasswordKeyList"),
                 link("Alternate", f"{href}?format=Entity", "BackupServer", srv.name),
                 link("Down", f"{href}/managedServers", "ManagedServerReferenceList")]
        return E("EntityRef" if root else "Ref", [("Type", "BackupServerReference"), ("Href", href), ("Name", srv.name),
                                                  ("UID", f"urn:veeam:BackupServer:{srv.id}")],
                 children=[links(items)], base="ref")

    def _server_entity(self, req: Request, srv: BackupServer) -> Node:
        base = self._base(req)
        href = f"{base}/backupServers/{srv.id}"
        items = [link("Alternate", href, "BackupServerReference", srv.name), link("Edit", href, "BackupServerReference"),
                 link("Delete", href, "BackupServerReference"), link("Down", f"{href}/jobs", "JobReferenceList"),
                 link("Down", f"{href}/managedServers", "ManagedServerReferenceList"),
                 link("Down", f"{href}/repositories", "RepositoryReferenceList"),
                 link("Down", f"{href}/credentials", "CredentialsList"),
                 link("Create", f"{href}/credentials?action=create"),
                 link("Down", f"{href}/passwords", "PasswordKeyList"), link("Create", f"{href}/passwords?action=create"),
                 link("VeeamZip", f"{href}?action=veeamzip"), link("QuickBackup", f"{href}?action=quickbackup"),
                 link("Start", f"{href}?action=collect")]
        return E("BackupServer", [("Type", "BackupServer"), ("Href", f"{href}?format=Entity"), ("Name", srv.name),
                                  ("UID", f"urn:veeam:BackupServer:{srv.id}")],
                 children=[links(items), V("Description", srv.description, empty=True), V("Port", srv.port),
                           V("Version", srv.version)], base="entity")

    def _server(self, raw_id: str) -> BackupServer:
        srv = self.servers.get(_guid(raw_id))
        if srv is None:
            raise ApiError(404, f"Backup server with ID '{raw_id}' was not found.")
        return srv

    def h_servers(self, req: Request, ls: LogonSession) -> Response:  # pylint: disable=unused-argument
        if self._format_entity(req):
            return self._render(req, 200, L("BackupServers", [self._server_entity(req, s) for s in self.servers.values()],
                                            key="BackupServers"))
        return self._render(req, 200, L("EntityReferences", [self._server_ref_node(req, s) for s in self.servers.values()],
                                        key="Refs"))

    def h_server_get(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin,unused-argument
        srv = self._server(id)
        if self._format_entity(req):
            return self._render(req, 200, self._server_entity(req, srv))
        return self._render(req, 200, self._server_ref_node(req, srv, root=True))

    def h_server_jobs(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin
        srv = self._server(id)
        self._check_job_listing(ls)
        jobs = [j for j in self.jobs.values() if j.kind == "vm" and j.server_id == srv.id]
        return self._render(req, 200, L("EntityReferences", [self._job_ref(req, j) for j in jobs], key="Refs"))

    # ------------------------------------------------------------------------------ jobs

    def _job_paths(self, job: Job) -> tuple[str, str, str]:
        """(collection path, reference Type, entity root element) for the job's kind."""
        if job.kind == "nas":
            return "nas/jobs", "NasJobReference", "NASJob"
        if job.kind == "agent":
            return "agents/jobs", "AgentBackupJobReference", "AgentBackupJob"
        return "jobs", "JobReference", "Job"

    def _up_server(self, req: Request, job: Job) -> Node:
        srv = self.servers[job.server_id]
        return link("Up", f"{self._base(req)}/backupServers/{srv.id}", "BackupServerReference", srv.name)

    def _job_ref(self, req: Request, job: Job, root: bool = False) -> Node:
        base = self._base(req)
        coll, ref_type, _root = self._job_paths(job)
        href = f"{base}/{coll}/{job.id}"
        if job.session_kind == "replica":
            down = link("Down", f"{href}/replicaSessions", "ReplicaJobSessionReferenceList")
        else:
            down = link("Down", f"{href}/backupSessions", "BackupJobSessionReferenceList")
        items = [self._up_server(req, job), link("Alternate", f"{href}?format=Entity", "Job", job.name), down]
        return E("EntityRef" if root else "Ref", [("Type", ref_type), ("Href", href), ("Name", job.name), ("UID", job.uid)],
                 children=[links(items)], base="ref")

    def _next_run(self, job: Job) -> str | None:
        """``NextRun`` only for scheduled and enabled jobs; backup copy jobs run continuously and have none
        (the v13 backup copy samples show no ``NextRun``)."""
        if not (job.schedule_configured and job.schedule_enabled) or job.is_copy:
            return None
        now = self.clock.now()
        hh, mm = (job.schedule_time.split(":") + ["0"])[:2]
        day = math.floor(now / 86400) * 86400
        candidate = day + int(hh) * 3600 + int(mm) * 60
        if candidate <= now:
            candidate += 86400
        return fmt_time(candidate)

    def _today(self) -> _dt.date:
        return _dt.datetime.fromtimestamp(self.clock.now(), _dt.timezone.utc).date()

    def _job_entity(self, req: Request, job: Job) -> Node:
        base = self._base(req)
        coll, _ref_type, root = self._job_paths(job)
        href = f"{base}/{coll}/{job.id}"
        up, alt = self._up_server(req, job), link("Alternate", href, "JobReference", job.name)
        attrs = [("Type", "NasJob" if job.kind == "nas" else root), ("Href", f"{href}?format=Entity"), ("Name", job.name),
                 ("UID", job.uid)]
        common_tail = [V("ScheduleConfigured", job.schedule_configured), V("ScheduleEnabled", job.schedule_enabled),
                       V("NextRun", self._next_run(job))]
        if job.kind == "nas":
            items = [up, alt, link("Down", f"{href}/includes", "NasObjectList"),
                     link("ToggleScheduleEnabled", f"{href}/toggleScheduleEnabled"),
                     link("Down", f"{href}/backupSessions", "BackupJobSessionReferenceList"),
                     link("Start", f"{href}/start"), link("Stop", f"{href}/stop"), link("Retry", f"{href}/retry")]
            children = [links(items), V("Description", job.description), *tpl.nas_parts(job, base), *common_tail,
                        tpl.standard_schedule(job, self._today())]
        elif job.kind == "agent":
            items = [up, alt, link("Down", f"{href}/includes", "ObjectInJobList"),
                     link("ToggleScheduleEnabled", f"{href}?action=toggleScheduleEnabled"),
                     link("Down", f"{href}/backupSessions", "BackupJobSessionReferenceList"),
                     link("Start", f"{href}?action=start"), link("Stop", f"{href}?action=stop"),
                     link("Retry", f"{href}?action=retry")]
            children = [links(items), V("JobType", "AgentBackup"), V("Platform", job.platform),
                        V("Description", job.description), *common_tail, tpl.standard_schedule(job, self._today()),
                        tpl.agent_job_info(job, base)]
        else:
            children = [links(self._vm_job_links(req, job, up, alt)), V("JobType", job.job_type), V("Platform", job.platform),
                        V("Description", job.description), *common_tail]
            if job.is_copy:
                linked = [(tpl.sub_id(job.id, "linked:" + jid), self.jobs[jid].uid if jid in self.jobs
                           else f"urn:veeam:Job:{jid}") for jid in job.linked_jobs]
                children += [tpl.copy_schedule(job), tpl.copy_job_info(job, linked)]
            else:
                children += [tpl.standard_schedule(job, self._today()), tpl.vm_job_info(job, base)]
        return E(root, attrs, children=children, base="entity")

    def _vm_job_links(self, req: Request, job: Job, up: Node, alt: Node) -> list[Node]:
        href = f"{self._base(req)}/jobs/{job.id}"
        if job.is_copy:
            return [up, alt, link("Clone", f"{href}?action=clone"),
                    link("ToggleScheduleEnabled", f"{href}?action=toggleScheduleEnabled"),
                    link("Down", f"{href}/backupSessions", "BackupJobSessionReferenceList"), link("Sync", f"{href}?action=sync"),
                    link("Down", f"{href}/linkedJobs", "LinkedJobObjectList"),
                    link("Down", f"{href}/linkedBackupRepositories", "LinkedBackupRepositoryObjectList"),
                    link("Create", f"{href}/linkedJobs", "LinkedJobObject"),
                    link("Create", f"{href}/linkedBackupRepositories", "LinkedBackupRepositoryObject")]
        if job.job_type == "Replica":
            return [up, alt, link("Down", f"{href}/replicaSessions", "ReplicaJobSessionReferenceList"),
                    link("Down", f"{href}/includes", "ObjectInJobList"), link("Edit", href, "JobReference", job.name),
                    link("Create", f"{href}/includes", "ObjectInJob"), link("Start", f"{href}?action=start"),
                    link("Stop", f"{href}?action=stop"), link("Retry", f"{href}?action=retry"),
                    link("Clone", f"{href}?action=clone"),
                    link("ToggleScheduleEnabled", f"{href}?action=toggleScheduleEnabled")]
        return [up, alt, link("Edit", href, "JobReference", job.name), link("Clone", f"{href}?action=clone"),
                link("ToggleScheduleEnabled", f"{href}?action=toggleScheduleEnabled"),
                link("Down", f"{href}/includes", "ObjectInJobList"),
                link("Down", f"{href}/backupSessions", "BackupJobSessionReferenceList"),
                link("Create", f"{href}/includes", "ObjectInJob"), link("Start", f"{href}?action=start"),
                link("Stop", f"{href}?action=stop"), link("Retry", f"{href}?action=retry")]

    def _job(self, raw_id: str, kind: str) -> Job:
        job = self.jobs.get(_guid(raw_id))
        if job is None or job.kind != kind:
            label = {"vm": "Job", "nas": "File share backup job", "agent": "Agent backup job"}[kind]
            raise ApiError(404, f"{label} with ID '{raw_id}' was not found.")
        return job

    def _check_job_listing(self, ls: LogonSession) -> None:
        if ls.role != ADMIN_ROLE and not _bool_setting(self.settings.get("portal_user_can_list_jobs")):
            raise ApiError(403, ACCESS_DENIED)

    def _list_jobs(self, req: Request, kind: str) -> Response:
        jobs = [j for j in self.jobs.values() if j.kind == kind]
        if self._format_entity(req):
            list_tag = {"vm": "Jobs", "nas": "NASJobs", "agent": "AgentBackupJobs"}[kind]
            return self._render(req, 200, L(list_tag, [self._job_entity(req, j) for j in jobs], key=list_tag))
        return self._render(req, 200, L("EntityReferences", [self._job_ref(req, j) for j in jobs], key="Refs"))

    def _get_job(self, req: Request, raw_id: str, kind: str) -> Response:
        job = self._job(raw_id, kind)
        if self._format_entity(req):
            return self._render(req, 200, self._job_entity(req, job))
        return self._render(req, 200, self._job_ref(req, job, root=True))

    def h_jobs(self, req: Request, ls: LogonSession) -> Response:
        self._check_job_listing(ls)
        return self._list_jobs(req, "vm")

    def h_nas_jobs(self, req: Request, ls: LogonSession) -> Response:  # pylint: disable=unused-argument
        return self._list_jobs(req, "nas")

    def h_agent_jobs(self, req: Request, ls: LogonSession) -> Response:  # pylint: disable=unused-argument
        return self._list_jobs(req, "agent")

    def h_job_get(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin,unused-argument
        return self._get_job(req, id, "vm")

    def h_nas_get(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin,unused-argument
        return self._get_job(req, id, "nas")

    def h_agent_get(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin,unused-argument
        return self._get_job(req, id, "agent")

    # ------------------------------------------------------------------------------ actions and tasks

    def _action_arg(self, req: Request) -> str:
        raw = req.arg("action")
        if raw is None or not raw.strip():
            raise ApiError(400, "The action parameter is required: POST <resource>?action=<action>.")
        action = _ACTIONS.get(raw.strip().lower())
        if action is None:
            raise ApiError(400, f"Unknown action '{raw}'.")
        return action

    def _require_admin(self, ls: LogonSession) -> None:
        if ls.role != ADMIN_ROLE:
            raise ApiError(403, ACCESS_DENIED)

    def h_job_action(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin
        job = self._job(id, "vm")
        self._require_admin(ls)
        action = self._action_arg(req)
        allowed = ("sync", "toggleScheduleEnabled") if job.is_copy else ("start", "stop", "retry", "toggleScheduleEnabled")
        if action == "clone":
            raise ApiError(501, "The clone action is not implemented by the emulator.")
        if action not in allowed:
            hint = " To start a backup copy job, use ?action=sync." if job.is_copy and action == "start" else ""
            raise ApiError(400, f"The action '{action}' is not available for the {job.job_type} job '{job.name}'.{hint}")
        return self._job_action(req, ls, job, action)

    def h_nas_action(self, req: Request, ls: LogonSession, id: str, action: str) -> Response:  # pylint: disable=redefined-builtin
        job = self._job(id, "nas")
        self._require_admin(ls)
        return self._job_action(req, ls, job, _ACTIONS[action])

    def h_agent_action(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin
        job = self._job(id, "agent")
        self._require_admin(ls)
        action = self._action_arg(req)
        if action not in ("start", "stop", "retry", "toggleScheduleEnabled"):
            raise ApiError(400, f"The action '{action}' is not available for the agent backup job '{job.name}'.")
        return self._job_action(req, ls, job, action)

    def _job_sessions(self, job: Job) -> list[Session]:
        return sorted((s for s in self.sessions.values() if s.job_id == job.id), key=lambda s: s.created)

    def _job_action(self, req: Request, ls: LogonSession, job: Job, action: str) -> Response:
        now = self.clock.now()
        sessions = self._job_sessions(job)
        running = [s for s in sessions if s.running(now)]
        verb = {"sync": "start"}.get(action, action)
        success, message = True, f'Job "{job.name}" triggered to {verb}.'
        if action in ("start", "sync"):
            if running:
                success, message = False, f'Cannot start job "{job.name}". The job is already running.'
            else:
                self._new_session(job, created=now, is_retry=False)
                self.counters.incr_in("starts", job.id)
                if action == "sync":
                    message = "Ok"
        elif action == "retry":
            last = sessions[-1] if sessions else None
            if running:
                success, message = False, f'Cannot retry job "{job.name}". The job is already running.'
            elif last is None or last.final_result(now) != "Failed":
                success, message = False, f'Cannot retry job "{job.name}". The last job session did not fail.'
            else:
                self._new_session(job, created=now, is_retry=True)
        elif action == "stop":
            if not running:
                success, message = False, f'Cannot stop job "{job.name}". The job is not running.'
            else:
                for sess in running:
                    if sess.stop_requested is None:
                        sess.stop_requested = now
        elif action == "toggleScheduleEnabled":
            job.schedule_enabled = not job.schedule_enabled
            message = "Ok"
        self._count_action(job.id, action)
        task = self._new_task(ls, _OPERATIONS[(job.kind, action)], job, success, message)
        return self._render(req, 202, self._task_node(req, task))

    def _count_action(self, job_id: str, action: str) -> None:
        bucket = self.counters.values.setdefault("actions", {}).setdefault(job_id, {})
        bucket[action] = bucket.get(action, 0) + 1

    def _new_session(self, job: Job, created: float, is_retry: bool, sid: str | None = None) -> Session:
        session_type = {"NasBackup": "NasBackup", "AgentBackup": "AgentBackup"}.get(job.job_type, job.job_type)
        sess = Session(id=sid or str(uuid.uuid4()), job_id=job.id, job_name=job.name, kind=job.session_kind,
                       job_type=session_type, created=created, duration=job.duration,
                       result=job.retry_result if is_retry else job.result,
                       failure_message=job.retry_failure_message if is_retry else job.failure_message, is_retry=is_retry)
        self.sessions[sess.id] = sess
        return sess

    def _new_task(self, ls: LogonSession, operation: str, job: Job, success: bool, message: str) -> Task:
        self.task_seq += 1
        task = Task(num=self.task_seq, owner=ls.id, operation=operation, created=self.clock.now(),
                    run_for=job.task_duration, collect_for=job.task_collect_delay, success=success, message=message,
                    job_id=job.id)
        self.tasks[task.num] = task
        self.counters.incr("tasks_created")
        return task

    def _task_node(self, req: Request, task: Task) -> Node:
        href = f"{self._base(req)}/tasks/{task.task_id}"
        state = task.state(self.clock.now())
        children = [links([link("Delete", href, "Task")]), V("TaskId", task.task_id), V("State", state),
                    V("Operation", task.operation)]
        if state != "Running":
            if state == "OperationFinished" and task.success:
                message = "OperationFinished"
            else:
                message = task.message
            children.append(E("Result", [("Success", task.success)], children=[V("Message", message)]))
        return E("Task", [("Type", "Task"), ("Href", href)], children=children, base="resource")

    def _own_task(self, ls: LogonSession, raw_id: str) -> Task:
        """A task of this logon session.  Real EM answers a task id it does not find in the caller's logon session
        (another session's task, a deleted or unknown one) with HTTP 500 and "There is no backup task with id
        [task-297] in current rest session" (quoted by a client written against real servers; docs/emulator.md,
        assumptions).  An id that is not of the ``task-<n>`` form is not a task route's id at all: 404."""
        m = re.fullmatch(r"task-(\d+)", raw_id.lower())
        if m is None:
            raise ApiError(404, f"Task '{raw_id}' was not found.")
        task = self.tasks.get(int(m.group(1)))
        if task is None or task.owner != ls.id:
            raise ApiError(500, f"There is no backup task with id [{raw_id}] in current rest session")
        return task

    def h_tasks(self, req: Request, ls: LogonSession) -> Response:
        mine = [t for t in self.tasks.values() if t.owner == ls.id]
        return self._render(req, 200, L("Tasks", [self._task_node(req, t) for t in mine], key="Tasks"))

    def h_task_get(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin
        return self._render(req, 200, self._task_node(req, self._own_task(ls, id)))

    def h_task_delete(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin,unused-argument
        task = self._own_task(ls, id)
        del self.tasks[task.num]
        return Response.empty(204)

    # ------------------------------------------------------------------------------ backup sessions

    def _session_job_link(self, req: Request, sess: Session) -> Node:
        job = self.jobs.get(sess.job_id)
        base = self._base(req)
        # NAS sessions point at /jobs/{id} in the documented samples (get_nas_jobs_id_backupsessions).
        coll = "agents/jobs" if job is not None and job.kind == "agent" else "jobs"
        return link("Up", f"{base}/{coll}/{sess.job_id}", "JobReference", sess.job_name)

    def _session_server(self, sess: Session) -> BackupServer | None:
        job = self.jobs.get(sess.job_id)
        return self.servers.get(job.server_id) if job else None

    def _session_names(self, sess: Session) -> tuple[str, str, str, str]:
        """(collection, entity element/Type, UID type, task-session link) by session kind."""
        if sess.kind == "replica":
            return "replicaSessions", "ReplicaJobSession", "ReplicaJobSession", "replicaTaskSessions"
        return "backupSessions", "BackupJobSession", "BackupJobSession", "taskSessions"

    def _session_ref(self, req: Request, sess: Session, root: bool = False) -> Node:
        base = self._base(req)
        coll, etype, utype, tasks_path = self._session_names(sess)
        href = f"{base}/{coll}/{sess.id}"
        items = []
        srv = self._session_server(sess)
        if srv is not None:
            items.append(link("Up", f"{base}/backupServers/{srv.id}", "BackupServerReference", srv.name))
        items += [self._session_job_link(req, sess), link("Alternate", f"{href}?format=Entity", etype, sess.name),
                  link("Down", f"{href}/{tasks_path}",
                       "ReplicaTaskSessionReferenceList" if sess.kind == "replica" else "BackupTaskSessionReferenceList")]
        return E("EntityRef" if root else "Ref", [("Type", f"{etype}Reference"), ("Href", href), ("Name", sess.name),
                                                  ("UID", f"urn:veeam:{utype}:{sess.id}")], children=[links(items)], base="ref")

    def _session_entity(self, req: Request, sess: Session) -> Node:
        base = self._base(req)
        now = self.clock.now()
        coll, etype, utype, tasks_path = self._session_names(sess)
        href = f"{base}/{coll}/{sess.id}"
        job = self.jobs.get(sess.job_id)
        items = []
        srv = self._session_server(sess)
        if srv is not None:
            items.append(link("Up", f"{base}/backupServers/{srv.id}", "BackupServerReference", srv.name))
        items += [self._session_job_link(req, sess), link("Alternate", href, f"{etype}Reference", sess.name),
                  link("Down", f"{href}/{tasks_path}",
                       "ReplicaTaskSessionReferenceList" if sess.kind == "replica" else "BackupTaskSessionReferenceList")]
        result = sess.final_result(now)
        if sess.kind == "backup":
            items.append(link("Stop", f"{href}?action=stop"))
            if result in ("Success", "Warning"):
                end = sess.end_time(now) or now
                items.append(link("Related", f"{base}/restorePoints/{tpl.sub_id(sess.id, 'restore-point')}",
                                  "RestorePointReference", fmt_restore_point_name(end)))
        message = sess.final_message(now)
        children = [links(items), V("JobUid", job.uid if job else f"urn:veeam:Job:{sess.job_id}"),
                    V("JobName", sess.job_name), V("JobType", sess.job_type), V("CreationTimeUTC", fmt_time(sess.created)),
                    V("EndTimeUTC", fmt_time(sess.end_time(now))), V("State", sess.state(now)), V("Result", result),
                    V("Progress", sess.progress(now)), V("FailureMessage", message, empty=(message == "")),
                    V("IsRetry", sess.is_retry)]
        return E(etype, [("Type", etype), ("Href", f"{href}?format=Entity"), ("Name", sess.name),
                         ("UID", f"urn:veeam:{utype}:{sess.id}")], children=children, base="entity", jfirst=("IsRetry",))

    def _recent(self, sessions: list[Session]) -> list[Session]:
        cutoff = self.clock.now() - float(self.settings["session_retention_days"]) * 86400
        return [s for s in sessions if s.created >= cutoff]

    def _session_list(self, req: Request, sessions: list[Session], newest_first: bool, kind: str = "backup") -> Response:
        sessions = sorted(self._recent(sessions), key=lambda s: s.created, reverse=newest_first)
        if self._format_entity(req):
            tag = "ReplicaJobSessions" if kind == "replica" else "BackupJobSessions"
            return self._render(req, 200, L(tag, [self._session_entity(req, s) for s in sessions], key=tag))
        return self._render(req, 200, L("EntityReferences", [self._session_ref(req, s) for s in sessions], key="Refs"))

    def _sessions_of_kind(self, kind: str | None = None, job_kind: str | None = None) -> list[Session]:
        out = []
        for sess in self.sessions.values():
            job = self.jobs.get(sess.job_id)
            if kind is not None and sess.kind != kind:
                continue
            if job_kind is not None and (job is None or job.kind != job_kind):
                continue
            out.append(sess)
        return out

    def h_sessions(self, req: Request, ls: LogonSession) -> Response:  # pylint: disable=unused-argument
        return self._session_list(req, self._sessions_of_kind("backup"), newest_first=True)

    def h_nas_all_sessions(self, req: Request, ls: LogonSession) -> Response:  # pylint: disable=unused-argument
        return self._session_list(req, self._sessions_of_kind("backup", "nas"), newest_first=True)

    def h_agent_all_sessions(self, req: Request, ls: LogonSession) -> Response:  # pylint: disable=unused-argument
        return self._session_list(req, self._sessions_of_kind("backup", "agent"), newest_first=True)

    def h_replica_sessions(self, req: Request, ls: LogonSession) -> Response:  # pylint: disable=unused-argument
        return self._session_list(req, self._sessions_of_kind("replica"), newest_first=True, kind="replica")

    def h_job_sessions(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin,unused-argument
        job = self._job(id, "vm")
        return self._session_list(req, [s for s in self._job_sessions(job) if s.kind == "backup"], newest_first=False)

    def h_job_replica_sessions(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin,unused-argument
        job = self._job(id, "vm")
        return self._session_list(req, [s for s in self._job_sessions(job) if s.kind == "replica"], newest_first=False,
                                  kind="replica")

    def h_nas_sessions(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin,unused-argument
        return self._session_list(req, self._job_sessions(self._job(id, "nas")), newest_first=False)

    def h_agent_sessions(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin,unused-argument
        return self._session_list(req, self._job_sessions(self._job(id, "agent")), newest_first=False)

    def _session(self, raw_id: str, kind: str) -> Session:
        sess = self.sessions.get(_guid(raw_id))
        if sess is None or sess.kind != kind:
            raise ApiError(404, f"{'Replica' if kind == 'replica' else 'Backup'} job session with ID '{raw_id}' was not found.")
        return sess

    def h_session_get(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin,unused-argument
        sess = self._session(id, "backup")
        if self._format_entity(req):
            return self._render(req, 200, self._session_entity(req, sess))
        return self._render(req, 200, self._session_ref(req, sess, root=True))

    def h_replica_session_get(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin,unused-argument
        sess = self._session(id, "replica")
        if self._format_entity(req):
            return self._render(req, 200, self._session_entity(req, sess))
        return self._render(req, 200, self._session_ref(req, sess, root=True))

    def h_session_action(self, req: Request, ls: LogonSession, id: str) -> Response:  # pylint: disable=redefined-builtin
        sess = self._session(id, "backup")
        self._require_admin(ls)
        action = self._action_arg(req)
        if action != "stop":
            raise ApiError(400, f"The action '{action}' is not available for a backup job session.")
        now = self.clock.now()
        job = self.jobs[sess.job_id]
        if sess.running(now):
            if sess.stop_requested is None:
                sess.stop_requested = now
            success, message = True, f'Job Session "{sess.name}" triggered to stop.'
        else:
            success, message = False, f'Cannot stop job session "{sess.name}". The job session is not running.'
        self._count_action(job.id, "stopSession")
        task = self._new_task(ls, "StopJobSession", job, success, message)
        return self._render(req, 202, self._task_node(req, task))

    # ------------------------------------------------------------------------------ query service

    def _job_row(self, job: Job) -> dict[str, Any]:
        srv = self.servers[job.server_id]
        next_run = self._next_run(job)
        return {"_obj": job, "uid": job.uid, "name": job.name, "description": job.description, "nextrun": next_run,
                "jobtype": job.job_type, "platform": job.platform, "scheduleconfigured": job.schedule_configured,
                "scheduleenabled": job.schedule_enabled, "backupserveruid": f"urn:veeam:BackupServer:{srv.id}",
                "backupservername": srv.name}

    def _session_row(self, sess: Session, now: float) -> dict[str, Any]:
        job = self.jobs.get(sess.job_id)
        srv = self._session_server(sess)
        _coll, _etype, utype, _tasks = self._session_names(sess)
        return {"_obj": sess, "uid": f"urn:veeam:{utype}:{sess.id}", "name": sess.name, "jobtype": sess.job_type,
                "jobuid": job.uid if job else f"urn:veeam:Job:{sess.job_id}", "jobname": sess.job_name,
                "creationtime": sess.created, "endtime": sess.end_time(now), "state": sess.state(now),
                "result": sess.final_result(now), "isretry": sess.is_retry,
                "backupserveruid": f"urn:veeam:BackupServer:{srv.id}" if srv else None,
                "backupservername": srv.name if srv else None}

    def _query_source(self, qtype: str, ls: LogonSession) -> tuple[list[dict[str, Any]], dict[str, Field]]:
        now = self.clock.now()

        def f(name: str, kind: str, order: tuple[str, ...] = ()) -> tuple[str, Field]:
            key = name.lower()
            return key, Field(name, kind, lambda row, k=key: row.get(k), order)

        job_fields = dict([f("UID", "uid"), f("Name", "string"), f("Description", "string"), f("NextRun", "datetime"),
                           f("JobType", "string"), f("Platform", "string"), f("ScheduleConfigured", "bool"),
                           f("ScheduleEnabled", "bool"), f("BackupServerUid", "uid"), f("BackupServerName", "string")])
        if qtype == "Job":
            return [self._job_row(j) for j in self.jobs.values() if j.kind == "vm"], job_fields
        if qtype == "NasJob":
            nas_fields = {k: v for k, v in job_fields.items() if k not in ("jobtype", "platform")}
            return [self._job_row(j) for j in self.jobs.values() if j.kind == "nas"], nas_fields
        if qtype == "AgentBackupJob":
            return [self._job_row(j) for j in self.jobs.values() if j.kind == "agent"], job_fields
        if qtype in ("BackupJobSession", "ReplicaJobSession"):
            kind = "replica" if qtype == "ReplicaJobSession" else "backup"
            fields = dict([f("UID", "uid"), f("Name", "string"), f("JobType", "string"), f("JobUid", "uid"),
                           f("JobName", "string"), f("CreationTime", "datetime"), f("EndTime", "datetime"),
                           f("State", "enum", ("Starting", "Stopping", "Working", "Pausing", "Resuming", "Stopped")),
                           f("Result", "enum", RESULT_ORDER), f("IsRetry", "bool"), f("BackupServerUid", "uid"),
                           f("BackupServerName", "string")])
            return [self._session_row(s, now) for s in self.sessions.values() if s.kind == kind], fields
        if qtype == "Task":
            fields = dict([f("TaskId", "string"), f("State", "enum", TASK_STATES), f("Operation", "string")])
            rows = [{"_obj": t, "taskid": t.task_id, "state": t.state(now), "operation": t.operation}
                    for t in self.tasks.values() if t.owner == ls.id]
            return rows, fields
        fields = dict([f("UID", "uid"), f("Name", "string"), f("Description", "string"), f("Port", "int"),
                       f("Version", "string")])
        rows = [{"_obj": s, "uid": f"urn:veeam:BackupServer:{s.id}", "name": s.name, "description": s.description,
                 "port": s.port, "version": s.version} for s in self.servers.values()]
        return rows, fields

    def h_query(self, req: Request, ls: LogonSession) -> Response:
        raw_type = req.arg("type")
        if not raw_type:
            raise ApiError(400, "The type parameter is required: /query?type=<type>.")
        qtype = _QUERY_TYPE_NAMES.get(raw_type.strip().lower())
        if qtype is None:
            raise ApiError(400, f"Unknown query type '{raw_type}'. Supported by the emulator: "
                                f"{', '.join(sorted(set(_QUERY_TYPE_NAMES.values())))}.")
        fmt = req.arg("format")
        if fmt is not None and fmt.lower() not in ("entities", "references"):
            raise ApiError(400, f"Invalid format parameter value '{fmt}'. Supported values: Entities, References.")
        entities = fmt is not None and fmt.lower() == "entities"
        rows, fields = self._query_source(qtype, ls)
        filter_text = req.arg("filter")
        predicate = compile_filter(parse_filter(filter_text), fields)
        rows = [r for r in rows if predicate(r)]
        sort_asc, sort_desc = req.arg("sortAsc"), req.arg("sortDesc")
        if sort_asc is not None and sort_desc is not None:
            raise ApiError(400, "Use either sortAsc or sortDesc, not both.")
        sort_name = sort_asc if sort_asc is not None else sort_desc
        if sort_name is not None:
            field = fields.get(sort_name.strip().lower())
            if field is None:
                raise ApiError(400, f"Unknown sort parameter '{sort_name}'.")
            rows.sort(key=sort_key(field), reverse=sort_desc is not None)
        page_size = self._int_arg(req, "pageSize", int(self.settings["default_page_size"]))
        page = self._int_arg(req, "page", 1)
        pages = max(1, math.ceil(len(rows) / page_size))
        chunk = rows[(page - 1) * page_size: page * page_size]
        objs = [r["_obj"] for r in chunk]
        result = self._query_items(req, qtype, objs, entities)
        paging = self._paging(req, raw_type, fmt, filter_text, sort_asc, sort_desc, page_size, page, pages)
        children = [result if result.tag == tag else V(tag, None) for tag in ("Refs", "Entities", "Resources")]
        return self._render(req, 200, E("QueryResult", children=[*children, V("Links", None), paging]))

    @staticmethod
    def _int_arg(req: Request, name: str, default: int) -> int:
        raw = req.arg(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError as exc:
            raise ApiError(400, f"Invalid {name} value '{raw}'.") from exc
        if value < 1:
            raise ApiError(400, f"Invalid {name} value '{raw}': it must be greater than 0.")
        return value

    def _query_items(self, req: Request, qtype: str, objs: list[Any], entities: bool) -> Node:
        if qtype == "Task":
            return E("Resources", children=[L("Tasks", [self._task_node(req, t) for t in objs], key="Tasks")])
        if not entities:
            if qtype == "BackupServer":
                refs = [self._server_ref_node(req, s) for s in objs]
            elif qtype in ("BackupJobSession", "ReplicaJobSession"):
                refs = [self._session_ref(req, s) for s in objs]
            else:
                refs = [self._job_ref(req, j) for j in objs]
            return L("Refs", refs, key="Refs")
        if qtype == "BackupServer":
            inner = L("BackupServers", [self._server_entity(req, s) for s in objs], key="BackupServers")
        elif qtype in ("BackupJobSession", "ReplicaJobSession"):
            tag = f"{qtype}s"
            inner = L(tag, [self._session_entity(req, s) for s in objs], key=tag)
        else:
            tag = {"Job": "Jobs", "NasJob": "NASJobs", "AgentBackupJob": "AgentBackupJobs"}[qtype]
            inner = L(tag, [self._job_entity(req, j) for j in objs], key=tag)
        return E("Entities", children=[inner])

    def _paging(self, req: Request, raw_type: str, fmt: str | None, filter_text: str | None, sort_asc: str | None,
                sort_desc: str | None, page_size: int, page: int, pages: int) -> Node:
        params: list[tuple[str, str]] = [("type", raw_type)]
        if fmt is not None:
            params.append(("format", fmt))
        if filter_text:
            params.append(("filter", filter_text))
        if sort_asc is not None:
            params.append(("sortAsc", sort_asc))
        if sort_desc is not None:
            params.append(("sortDesc", sort_desc))

        def href(n: int) -> str:
            query = "&".join(f"{k}={dotnet_urlencode(v)}" for k, v in params + [("pageSize", str(page_size)), ("page", str(n))])
            return f"{self._base(req)}/query?{query}"

        items = [link("First", href(1))]
        if page > 1:
            items.append(link("Previous", href(min(page - 1, pages))))
        if page < pages:
            items.append(link("Next", href(page + 1)))
        items.append(link("Last", href(pages)))
        return E("PagingInfo", [("PageNum", page), ("PageSize", page_size), ("PagesCount", pages)], children=[links(items)])


_QUERY_TYPES = ("Job", "NasJob", "AgentBackupJob", "BackupJobSession", "ReplicaJobSession", "Task", "BackupServer")
_QUERY_TYPE_NAMES = {n.lower(): n for n in _QUERY_TYPES}

__all__ = ["EnterpriseManagerApi", "dotnet_urlencode"]
