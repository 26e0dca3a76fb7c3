"""VBR emulator: how each REST API revision renders the state (field sets, enum values and casing, pages, errors).

The client's ``x-api-version`` decides the shape (backward compatibility: a 1.1-rev0 request to a 1.3-rev1 server
gets 1.1-rev0 bodies).  Four revisions are documented (Veeam's OpenAPI documents 1.1-rev0, 1.2-rev1, 1.3-rev0,
1.3-rev1); any other revision the server is configured to accept is rendered as the newest documented revision
at or below it (``1.2-rev0`` as 1.1-rev0, ``1.4-rev0`` as 1.3-rev1 plus the extras of revisions after 1.3-rev1).

Differences that matter to starting, stopping, awaiting and listing jobs (each checked in the documents):

- ``SessionModel`` names the job ``activityId`` and its type ``Job`` in 1.1-rev0; ``jobId`` and ``BackupJob`` /
  ``ReplicaJob`` from 1.2-rev1 (``platformName`` added), ``initiatedBy`` from 1.3-rev0, ``relatedSessionId`` from
  1.3-rev1 (and the ``BackupCopyJob`` session type);
- ``EJobType``: only ``Backup`` (vSphere) in 1.1-rev0; 1.2-rev1 adds ``VSphereReplica``; 1.3-rev0 renames ``Backup``
  to ``VSphereBackup`` and adds Hyper-V, backup copy and agent jobs; 1.3-rev1 adds file share backup.  A job whose
  type the client's revision does not know is not shown to it;
- ``EJobStatus`` and ``EJobWorkload`` are lower case up to 1.3-rev0 (``running``, ``vm``) and capitalised from
  1.3-rev1 (``Running``, ``Vm``); 1.3-rev0 adds ``starting``/``stopping``/...;
- ``JobStateModel`` gains ``highPriority`` and ``progressPercent`` (required) in 1.3-rev0;
- ``ServerInfoModel`` gains database fields in 1.2-rev1, ``veeamRegistration`` and ``platform`` in 1.3-rev0;
- inventory objects: ``VmwareObjectSizeModel`` in 1.1-rev0, ``InventoryObjectModel`` with ``platform: VMware`` in
  1.2-rev1 and ``platform: VSphere`` from 1.3-rev0; the backup proxies flag is ``autoSelection`` in 1.1-rev0 and
  ``autoSelectEnabled`` later; the Hyper-V proxy type is ``onHost`` in 1.3-rev0 and ``OnHost`` in 1.3-rev1.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any

from .vbr_state import Job, Session, VbrState, iso, iso_seconds

DOCUMENTED = ("1.1-rev0", "1.2-rev1", "1.3-rev0", "1.3-rev1")
NEWEST_DOCUMENTED = (1, 3, 1)
#: VBR builds that introduced each documented revision (the spec's versioning table); ``serverInfo`` reports the
#: build of the newest revision the server accepts.
BUILDS = {"1.1-rev0": "12.0.0.1420", "1.1-rev1": "12.1.0.2131", "1.1-rev2": "12.2.0.334", "1.2-rev0": "12.3.0.310",
          "1.2-rev1": "12.3.1.1139", "1.3-rev0": "13.0.0.4967", "1.3-rev1": "13.0.1.180"}
OBJECT_NS = uuid.UUID("9b2e4d70-1c3a-4f5e-8d90-6a7b0000f000")
_REVISION_RE = re.compile(r"^(\d+)\.(\d+)-rev(\d+)$", re.IGNORECASE)


# ----------------------------------------------------------------------------------------------- revisions
def parse_revision(text: Any) -> tuple[int, int, int] | None:
    match = _REVISION_RE.match(str(text or "").strip())
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def revision_name(key: tuple[int, int, int]) -> str:
    return "%d.%d-rev%d" % key


def shape_of(key: tuple[int, int, int]) -> str:
    """The documented revision whose bodies a request of revision ``key`` gets."""
    shape = DOCUMENTED[0]
    for name in DOCUMENTED:
        if parse_revision(name) <= key:  # type: ignore[operator]
            shape = name
    return shape


def build_for(revision: str) -> str:
    """The VBR build for the server's newest revision; a fake, higher one for revisions after 1.3-rev1."""
    if revision in BUILDS:
        return BUILDS[revision]
    key = parse_revision(revision) or NEWEST_DOCUMENTED
    if key > NEWEST_DOCUMENTED:
        return "13.%d.%d.9999" % (max(1, key[1] - 2), key[2])
    return BUILDS[shape_of(key)]


@dataclass
class Ctx:
    """What a rendering needs: the client's revision and the simulated now."""

    revision: tuple[int, int, int]
    now: float

    @property
    def shape(self) -> str:
        return shape_of(self.revision)

    @property
    def rank(self) -> int:
        return DOCUMENTED.index(self.shape)

    @property
    def newer(self) -> bool:
        """A revision after 1.3-rev1 (start may answer 204; sessions may show states 1.3-rev1 lacks)."""
        return self.revision > NEWEST_DOCUMENTED

    def at_least(self, name: str) -> bool:
        return self.rank >= DOCUMENTED.index(name)


# ----------------------------------------------------------------------------------------------- enums
#: The job type each emulated kind has in each documented revision (absent: the revision does not know it).
JOB_TYPE_BY_SHAPE: dict[str, dict[str, str]] = {
    "VSphereBackup": {"1.1-rev0": "Backup", "1.2-rev1": "Backup", "1.3-rev0": "VSphereBackup", "1.3-rev1": "VSphereBackup"},
    "VSphereReplica": {"1.2-rev1": "VSphereReplica", "1.3-rev0": "VSphereReplica", "1.3-rev1": "VSphereReplica"},
    "HyperVBackup": {"1.3-rev0": "HyperVBackup", "1.3-rev1": "HyperVBackup"},
    "BackupCopy": {"1.3-rev0": "BackupCopy", "1.3-rev1": "BackupCopy"},
    "WindowsAgentBackup": {"1.3-rev0": "WindowsAgentBackup", "1.3-rev1": "WindowsAgentBackup"},
    "LinuxAgentBackup": {"1.3-rev0": "LinuxAgentBackup", "1.3-rev1": "LinuxAgentBackup"},
    "FileBackup": {"1.3-rev1": "FileBackup"},
}
WORKLOAD = {"VSphereBackup": "vm", "HyperVBackup": "vm", "VSphereReplica": "vm", "BackupCopy": "vm",
            "WindowsAgentBackup": "server", "LinuxAgentBackup": "server", "FileBackup": "file"}
PLATFORM = {"VSphereBackup": "VMware", "HyperVBackup": "HyperV", "VSphereReplica": "VMware",
            "BackupCopy": "CustomPlatform", "WindowsAgentBackup": "WindowsPhysical", "LinuxAgentBackup": "LinuxPhysical",
            "FileBackup": "UnstructuredData"}


def job_type(ctx: Ctx, job: Job) -> str | None:
    return JOB_TYPE_BY_SHAPE.get(job.type, {}).get(ctx.shape)


def visible(ctx: Ctx, job: Job) -> bool:
    return job_type(ctx, job) is not None


def capitalised(ctx: Ctx, value: str) -> str:
    """``EJobStatus``/``EJobWorkload`` values: lower case up to 1.3-rev0, capitalised from 1.3-rev1."""
    return value[:1].upper() + value[1:] if ctx.at_least("1.3-rev1") else value


def session_type(ctx: Ctx, session: Session) -> str:
    if ctx.shape == "1.1-rev0":
        return "Job"
    if session.job_type == "VSphereReplica":
        return "ReplicaJob"
    if session.job_type == "BackupCopy" and ctx.at_least("1.3-rev1"):
        return "BackupCopyJob"
    if session.job_type in ("WindowsAgentBackup", "LinuxAgentBackup") and ctx.at_least("1.3-rev0"):
        return "AgentBackup"
    return "BackupJob"


def session_state(ctx: Ctx, session: Session) -> str:
    phase = session.phase(ctx.now)
    if phase == "Working" and ctx.newer and session.unknown_state:
        return session.unknown_state
    return phase


def job_status(ctx: Ctx, job: Job, active: Session | None) -> str:
    if active is not None:
        phase = active.phase(ctx.now)
        if ctx.at_least("1.3-rev0") and phase in ("Starting", "Stopping"):
            return capitalised(ctx, phase.lower())
        return capitalised(ctx, "running")
    return capitalised(ctx, "inactive" if job.enabled else "disabled")


# ----------------------------------------------------------------------------------------------- errors, pages
def error_body(code: str, message: str, resource_id: str | None = None) -> dict[str, Any]:
    """The spec's ``Error``.  ``resourceId`` is ``null`` when no object is involved (a real VBR 12 answer)."""
    return {"errorCode": code, "message": message, "resourceId": resource_id}


def code_for_status(status: int) -> str:
    return {400: "UnexpectedContent", 401: "AccessDenied", 403: "AccessDenied", 404: "NotFound",
            405: "MethodNotAllowed", 501: "NotImplemented", 503: "ServiceUnavailable"}.get(status, "UnknownError")


def page(items: list[Any], skip: int, limit: int, total: int) -> dict[str, Any]:
    return {"data": items, "pagination": {"total": total, "count": len(items), "skip": skip, "limit": limit}}


# ----------------------------------------------------------------------------------------------- objects
def _object_id(job: Job, name: str, prefix: str) -> str:
    digest = int(hashlib.sha1(("%s/%s" % (job.id, name)).encode("utf-8")).hexdigest()[:6], 16)
    return "%s-%d" % (prefix, 1000 + digest % 9000)


def _size(job: Job, name: str) -> str:
    digest = int(hashlib.sha1(("size/%s/%s" % (job.id, name)).encode("utf-8")).hexdigest()[:4], 16)
    return "%.1f GB" % (20 + digest % 400 + (digest % 10) / 10.0)


def vmware_object(ctx: Ctx, job: Job, name: str, kind: str = "VirtualMachine", host: str | None = None) -> dict[str, Any]:
    prefix = {"VirtualMachine": "vm", "Host": "host", "ResourcePool": "resgroup", "Folder": "group-v",
              "Datastore": "datastore"}.get(kind, "obj")
    core = {"hostName": host or job.host, "name": name, "type": kind, "objectId": _object_id(job, name, prefix)}
    if ctx.shape == "1.1-rev0":
        return core
    return {"platform": "VMware" if ctx.shape == "1.2-rev1" else "VSphere", **core}


def vm_include(ctx: Ctx, job: Job, name: str) -> dict[str, Any]:
    if ctx.shape == "1.1-rev0":
        return {"inventoryObject": vmware_object(ctx, job, name), "size": _size(job, name)}
    if job.type == "HyperVBackup":
        return {"platform": "HyperV", "size": _size(job, name), "hostName": job.host, "name": name,
                "type": "VirtualMachine", "objectId": str(uuid.uuid5(OBJECT_NS, "%s/%s" % (job.id, name))).upper()}
    obj = vmware_object(ctx, job, name)
    return {"platform": obj.pop("platform"), "size": _size(job, name), **obj}


def agent_object(job: Job, name: str, linux: bool) -> dict[str, Any]:
    return {"platform": "Agent", "id": str(uuid.uuid5(OBJECT_NS, "%s/%s" % (job.id, name))), "name": name,
            "type": "LinuxComputer" if linux else "WindowsComputer",
            "protectionGroupId": str(uuid.uuid5(OBJECT_NS, "%s/protection-group" % job.id))}


# ----------------------------------------------------------------------------------------------- jobs
def _schedule(job: Job) -> dict[str, Any]:
    return {"runAutomatically": job.schedule_enabled,
            "daily": {"isEnabled": job.schedule_enabled, "localTime": job.schedule_time, "dailyKind": "Everyday"}}


def _backup_storage(ctx: Ctx, job: Job) -> dict[str, Any]:
    if job.type == "HyperVBackup":
        proxies: dict[str, Any] = {"proxyType": "OnHost" if ctx.at_least("1.3-rev1") else "onHost"}
    elif ctx.shape == "1.1-rev0":
        proxies = {"autoSelection": True}
    else:
        proxies = {"autoSelectEnabled": True}
    return {"backupRepositoryId": job.repository_id, "backupProxies": proxies,
            "retentionPolicy": {"type": "RestorePoints", "quantity": 7}}


def job_view(ctx: Ctx, state: VbrState, job: Job) -> dict[str, Any]:
    """``JobModel`` (the variant of the job's type) as the client's revision writes it."""
    kind = job_type(ctx, job)
    view: dict[str, Any] = {"id": job.id, "name": job.name, "type": kind, "isDisabled": not job.enabled}
    if job.type in ("VSphereBackup", "HyperVBackup"):
        view.update({
            "description": job.description, "isHighPriority": job.high_priority,
            "virtualMachines": {"includes": [vm_include(ctx, job, name) for name in job.objects]},
            "storage": _backup_storage(ctx, job),
            "guestProcessing": {"appAwareProcessing": {"isEnabled": False}, "guestFSIndexing": {"isEnabled": False}},
            "schedule": _schedule(job),
        })
    elif job.type == "VSphereReplica":
        destination: dict[str, Any] = {"host": vmware_object(ctx, job, "esx-dr01.lab.local", "Host")}
        if ctx.shape == "1.2-rev1":
            destination.update({"resourcePool": vmware_object(ctx, job, "Replicas", "ResourcePool"),
                                "folder": vmware_object(ctx, job, "Replicas", "Folder"),
                                "datastore": vmware_object(ctx, job, "ds-dr-01", "Datastore")})
        view.update({"description": job.description, "isHighPriority": job.high_priority,
                     "virtualMachines": {"includes": [vm_include(ctx, job, name) for name in job.objects]},
                     "destination": destination, "schedule": _schedule(job)})
    elif job.type == "BackupCopy":
        source = state.jobs.get(job.source_job)
        jobs = []
        if source is not None:
            ref: dict[str, Any] = {"id": source.id, "name": source.name}
            if job_type(ctx, source):
                ref["type"] = job_type(ctx, source)
            jobs.append(ref)
        view.update({"description": job.description, "mode": job.mode, "sourceObjects": {"includes": {"jobs": jobs}}})
    elif job.type in ("WindowsAgentBackup", "LinuxAgentBackup"):
        linux = job.type == "LinuxAgentBackup"
        view.update({"description": job.description, "isHighPriority": job.high_priority, "agentType": "Server",
                     "computers": [agent_object(job, name, linux) for name in job.objects],
                     "backupMode": "EntireComputer", "schedule": _schedule(job)})
    elif job.type == "FileBackup":
        view.update({"description": job.description, "isHighPriority": job.high_priority,
                     "objects": [{"fileServerId": str(uuid.uuid5(OBJECT_NS, "%s/server/%s" % (job.id, name))),
                                  "path": name} for name in job.objects],
                     "backupRepository": {"backupRepositoryId": job.repository_id}, "schedule": _schedule(job)})
    return view


def next_run(job: Job, now: float) -> float | None:
    """The next daily run at ``schedule_time`` (UTC) of an enabled, scheduled job; no job ever starts by itself."""
    if not (job.enabled and job.schedule_enabled):
        return None
    try:
        hour, minute = (int(part) for part in job.schedule_time.split(":")[:2])
    except ValueError:
        return None
    today = _dt.datetime.fromtimestamp(now, tz=_dt.timezone.utc).replace(hour=hour, minute=minute, second=0,
                                                                         microsecond=0)
    candidate = today if today.timestamp() > now else today + _dt.timedelta(days=1)
    return candidate.timestamp()


def job_state_view(ctx: Ctx, state: VbrState, job: Job) -> dict[str, Any]:
    """``JobStateModel``."""
    now = ctx.now
    latest = state.latest_session(job.id)
    active = state.active_session(job.id, now)
    finished = state.last_finished(job.id, now)
    view: dict[str, Any] = {"id": job.id, "name": job.name, "type": job_type(ctx, job), "description": job.description,
                            "status": job_status(ctx, job, active)}
    if latest is not None:
        view["lastRun"] = iso(latest.created)
    view["lastResult"] = finished.result_at(now) if finished is not None else "None"
    upcoming = next_run(job, now)
    if upcoming is not None:
        view["nextRun"] = iso(upcoming)
    view["workload"] = capitalised(ctx, WORKLOAD[job.type])
    if job.type not in ("VSphereReplica",):
        view.update({"repositoryId": job.repository_id, "repositoryName": job.repository_name})
    view["objectsCount"] = len(job.objects)
    if latest is not None:
        view["sessionId"] = latest.id
    if ctx.at_least("1.3-rev0"):
        view["highPriority"] = job.high_priority
        view["progressPercent"] = active.progress(now) if active is not None else 0
        if job.type == "BackupCopy":
            view["backupCopyMode"] = job.mode
    return view


# ----------------------------------------------------------------------------------------------- sessions
def session_view(ctx: Ctx, session: Session) -> dict[str, Any]:
    """``SessionModel``."""
    now = ctx.now
    view: dict[str, Any] = {"id": session.id, "name": session.job_name}
    view["activityId" if ctx.shape == "1.1-rev0" else "jobId"] = session.job_id
    view["sessionType"] = session_type(ctx, session)
    view["creationTime"] = iso(session.created)
    end = session.end_time(now)
    if end is not None:
        view["endTime"] = iso(end)
    view["state"] = session_state(ctx, session)
    view["progressPercent"] = session.progress(now)
    view["result"] = {"result": session.result_at(now), "message": session.message_at(now),
                      "isCanceled": session.canceled(now)}
    view["usn"] = session.usn(now)
    if ctx.at_least("1.2-rev1"):
        view["platformName"] = PLATFORM[session.job_type]
    if ctx.at_least("1.3-rev0"):
        view["initiatedBy"] = session.initiated_by
    if ctx.at_least("1.3-rev1") and session.related_session_id:
        view["relatedSessionId"] = session.related_session_id
    return view


# ----------------------------------------------------------------------------------------------- service
def server_info_view(ctx: Ctx, cfg: dict[str, Any], newest: str) -> dict[str, Any]:
    """``ServerInfoModel``: ``buildVersion`` is the build of the newest revision the server accepts."""
    view: dict[str, Any] = {"vbrId": cfg["installation_id"], "name": cfg["server_name"],
                            "buildVersion": cfg.get("build_version") or build_for(newest), "patches": []}
    if ctx.at_least("1.2-rev1"):
        view.update({"databaseVendor": "PostgreSql", "sqlServerEdition": "", "sqlServerVersion": "15.8",
                     "databaseSchemaVersion": "1442", "databaseContentVersion": "1442"})
    if ctx.at_least("1.3-rev0"):
        view.update({"veeamRegistration": {"isRegistered": False}, "platform": "Windows"})
    return view


def token_view(ctx: Ctx, access: str, refresh: str, lifetime: float, issued: float, username: str | None) -> dict[str, Any]:
    """``TokenModel``; the password grant also names the user from 1.2-rev1 (the spec's Overview example)."""
    view: dict[str, Any] = {"access_token": access, "token_type": "bearer", "refresh_token": refresh,
                            "expires_in": int(lifetime), ".issued": iso_seconds(issued),
                            ".expires": iso_seconds(issued + lifetime)}
    if username is not None and ctx.at_least("1.2-rev1"):
        view["username"] = username
    return view
