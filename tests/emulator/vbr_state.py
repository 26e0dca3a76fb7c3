"""VBR emulator: the domain state (jobs, job sessions) and time helpers.

Nothing here knows HTTP or REST revisions: ``vbr_views.py`` renders this state per revision and ``vbr.py`` routes
requests to it.  Sessions are scheduled on the simulated :class:`~emulator.core.Clock`; their state, progress and
result are derived from the clock each time they are read (no background threads), as in the other two APIs.

A session's life: ``Starting`` (min(1 s, 10 % of the duration)), ``Working`` (progress grows linearly) until its
duration has passed, then ``Stopped`` with the job's result.  A stop request turns it ``Stopping`` for
``stop_delay`` seconds (2 s for a graceful stop, 0.5 s for an immediate one, never past the natural end), then
``Stopped`` with result ``Failed`` and ``isCanceled`` true.
"""

from __future__ import annotations

import datetime as _dt
import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

#: Namespace for the deterministic ids of preloaded (history) sessions.
HISTORY_NS = uuid.UUID("9b2e4d70-1c3a-4f5e-8d90-6a7b0000e000")

RESULTS = ("Success", "Warning", "Failed")
#: The job types of the scenario: the 1.3-rev1 ``EJobType`` names of the kinds the emulator serves.
JOB_TYPES = ("VSphereBackup", "HyperVBackup", "VSphereReplica", "BackupCopy", "WindowsAgentBackup",
             "LinuxAgentBackup", "FileBackup")
TYPE_ALIASES = {"backup": "VSphereBackup", "vspherebackup": "VSphereBackup", "vmwarebackup": "VSphereBackup",
                "hypervbackup": "HyperVBackup", "vspherereplica": "VSphereReplica", "replica": "VSphereReplica",
                "backupcopy": "BackupCopy", "windowsagentbackup": "WindowsAgentBackup",
                "linuxagentbackup": "LinuxAgentBackup", "filebackup": "FileBackup"}
DEFAULT_REPOSITORY = {"id": "88788f9e-d8f5-4eb4-bc4f-9b3f5403bcec", "name": "Default Backup Repository"}
GRACEFUL_STOP_DELAY = 2.0
IMMEDIATE_STOP_DELAY = 0.5
STOPPED_MESSAGE = "Job has been stopped by user."


# ----------------------------------------------------------------------------------------------- time
def iso(ts: float | None) -> str | None:
    """Epoch seconds -> ``2025-04-24T14:24:18.1234567+00:00`` (.NET ``DateTimeOffset`` round trip, UTC)."""
    if ts is None:
        return None
    dt = _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"


def iso_seconds(ts: float) -> str:
    """Epoch seconds -> ``2025-04-24T14:24:18+00:00`` (the token's ``.issued``/``.expires``, as in the spec example)."""
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def parse_time(text: str) -> float:
    """An ISO 8601 date-time (any fraction length, ``Z`` or an offset; no zone = UTC) -> epoch seconds."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty date-time")
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)$", value)
    if match:
        value = match.group(1) + "." + (match.group(2) + "000000")[:6] + match.group(3)
    parsed = _dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.timestamp()


# ----------------------------------------------------------------------------------------------- model
@dataclass
class Job:
    """A job; ``duration``/``result``/... are the settings the next started session uses."""

    id: str
    name: str
    type: str
    description: str = ""
    enabled: bool = True
    objects: list[str] = field(default_factory=list)
    host: str = "vcenter01.lab.local"
    repository_id: str = DEFAULT_REPOSITORY["id"]
    repository_name: str = DEFAULT_REPOSITORY["name"]
    high_priority: bool = False
    schedule_enabled: bool = True
    schedule_time: str = "22:00"
    source_job: str = ""          # backup copy: the job whose backups it copies
    mode: str = "Immediate"       # backup copy mode
    duration: float = 3.0
    result: str = "Success"
    message: str = ""
    retry_result: str = "Success"
    retry_message: str = ""
    no_objects: bool = False      # revisions after 1.3-rev1: start answers 204 and creates no session
    unknown_state: str = ""       # revisions after 1.3-rev1: the state a working session shows


@dataclass
class Session:
    """One job session.  Moments are simulated epoch seconds."""

    id: str
    job_id: str
    job_name: str
    job_type: str
    created: float
    duration: float
    result: str
    message: str = ""
    starting: float = 0.0
    full: bool = False
    is_retry: bool = False
    related_session_id: str | None = None
    initiated_by: str = ""
    stop_requested: float | None = None
    stop_delay: float = 0.0
    stopped_by: str = ""
    unknown_state: str = ""
    seq: int = 0

    @property
    def natural_end(self) -> float:
        return self.created + self.duration

    @property
    def stop_time(self) -> float | None:
        if self.stop_requested is None:
            return None
        return min(self.stop_requested + self.stop_delay, self.natural_end)

    def canceled(self, now: float) -> bool:
        stop = self.stop_time
        return stop is not None and stop < self.natural_end and now >= stop

    def phase(self, now: float) -> str:
        """``Starting``, ``Working``, ``Stopping`` or ``Stopped``."""
        stop = self.stop_time
        if stop is not None and self.stop_requested is not None and now >= self.stop_requested:
            return "Stopped" if now >= stop else "Stopping"
        if now >= self.natural_end:
            return "Stopped"
        if now < self.created + self.starting:
            return "Starting"
        return "Working"

    def is_active(self, now: float) -> bool:
        return self.phase(now) != "Stopped"

    def end_time(self, now: float) -> float | None:
        if self.phase(now) != "Stopped":
            return None
        stop = self.stop_time
        return stop if stop is not None else self.natural_end

    def result_at(self, now: float) -> str:
        """``ESessionResult``: ``None`` until the session has stopped."""
        if self.phase(now) != "Stopped":
            return "None"
        return "Failed" if self.canceled(now) else self.result

    def message_at(self, now: float) -> str:
        if self.phase(now) != "Stopped":
            return ""
        if self.canceled(now):
            return STOPPED_MESSAGE
        return self.message if self.result in ("Warning", "Failed") else ""

    def progress(self, now: float) -> int:
        phase = self.phase(now)
        if phase == "Starting":
            return 0
        if phase == "Stopped" and not self.canceled(now):
            return 100
        # A stop freezes the progress where it was asked for.
        upto = self.stop_requested if self.stop_requested is not None and phase in ("Stopping", "Stopped") else now
        if self.duration <= 0:
            return 0
        return max(0, min(99, int(100 * (upto - self.created) / self.duration)))

    def usn(self, now: float) -> int:
        """The update sequence number: grows with every change a client can see."""
        stage = {"Starting": 1, "Working": 2, "Stopping": 3, "Stopped": 4}[self.phase(now)]
        return self.seq * 1000 + stage * 100 + (self.progress(now) if stage == 2 else 0)


# ----------------------------------------------------------------------------------------------- helpers
def _uuid(value: Any, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError("%s: %r is not a UUID" % (what, value)) from None


def result_name(value: Any, what: str) -> str:
    for known in RESULTS:
        if str(value).lower() == known.lower():
            return known
    raise ValueError("%s: result must be one of %s, not %r" % (what, ", ".join(RESULTS), value))


def job_type_name(value: Any, what: str) -> str:
    key = re.sub(r"[^a-z]", "", str(value).lower())
    if key in TYPE_ALIASES:
        return TYPE_ALIASES[key]
    raise ValueError("%s: type must be one of %s, not %r" % (what, ", ".join(JOB_TYPES), value))


def _bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
        return value.lower() in ("true", "yes", "1")
    if isinstance(value, int):
        return bool(value)
    raise ValueError("%s must be true or false, not %r" % (what, value))


# ----------------------------------------------------------------------------------------------- state
class VbrState:
    """Jobs and sessions built from the ``vbr:`` part of a scenario."""

    JOB_SETTINGS = ("duration", "result", "message", "retry_result", "retry_message", "no_objects", "unknown_state",
                    "isDisabled", "enabled", "description", "high_priority", "schedule_enabled")

    def __init__(self, section: dict[str, Any], now: float) -> None:
        self.jobs: dict[str, Job] = {}
        self.job_order: list[str] = []
        self.sessions: dict[str, Session] = {}
        self.seq = 0
        repositories = {str(r.get("name")): r for r in section.get("repositories") or []}
        for spec in section.get("jobs") or []:
            job = self._job_from(spec, repositories)
            self.jobs[job.id] = job
            self.job_order.append(job.id)
        for job in self.jobs_in_order():
            if job.source_job and job.source_job not in self.jobs:
                found = self.find_jobs(job.source_job)
                if not found:
                    raise ValueError("job %s: source_job %r is not one of the scenario's jobs" % (job.name, job.source_job))
                job.source_job = found[0].id
        for spec in section.get("jobs") or []:
            job = self.jobs[_uuid(spec["id"], "job id")]
            for index, past in enumerate(spec.get("history") or []):
                self._add_history(job, index, past, now)

    # -- construction
    def _job_from(self, spec: dict[str, Any], repositories: dict[str, Any]) -> Job:
        jid = _uuid(spec["id"], "job id")
        if jid in self.jobs:
            raise ValueError("duplicate job id %s" % jid)
        what = "job %s" % spec.get("name")
        job = Job(id=jid, name=str(spec["name"]), type=job_type_name(spec.get("type", "VSphereBackup"), what),
                  description=str(spec.get("description", "")), objects=[str(o) for o in spec.get("objects") or []],
                  host=str(spec.get("host", "vcenter01.lab.local")), source_job=str(spec.get("source_job", "")),
                  mode=str(spec.get("mode", "Immediate")), schedule_time=str(spec.get("schedule_time", "22:00")))
        if job.mode not in ("Immediate", "Periodic"):
            raise ValueError("%s: mode must be Immediate or Periodic" % what)
        repo = spec.get("repository")
        if repo:
            known = repositories.get(str(repo)) or next((r for r in repositories.values() if str(r.get("id")) == str(repo)), None)
            if known is None:
                raise ValueError("%s: repository %r is not one of the scenario's repositories" % (what, repo))
            job.repository_id, job.repository_name = _uuid(known["id"], "repository id"), str(known["name"])
        if not job.objects:
            job.objects = [job.name.lower().replace(" ", "-")]
        self.apply_job_settings(job, spec)
        return job

    @staticmethod
    def apply_job_settings(job: Job, spec: dict[str, Any]) -> None:
        """Scenario or ``POST /_emulator/config`` ``jobs`` settings; they apply to sessions started afterwards."""
        what = "job %s" % job.name
        if "duration" in spec:
            job.duration = max(0.0, float(spec["duration"]))
        for key in ("result", "retry_result"):
            if key in spec:
                setattr(job, key, result_name(spec[key], what))
        for key in ("message", "retry_message", "description"):
            if key in spec:
                setattr(job, key, str(spec[key]))
        if "failure_message" in spec and "message" not in spec:
            job.message = str(spec["failure_message"])
        if "no_objects" in spec:
            job.no_objects = _bool(spec["no_objects"], what + ": no_objects")
        if "unknown_state" in spec:
            job.unknown_state = str(spec["unknown_state"] or "")
        if "isDisabled" in spec:
            job.enabled = not _bool(spec["isDisabled"], what + ": isDisabled")
        if "enabled" in spec:
            job.enabled = _bool(spec["enabled"], what + ": enabled")
        if "high_priority" in spec:
            job.high_priority = _bool(spec["high_priority"], what + ": high_priority")
        if "schedule_enabled" in spec:
            job.schedule_enabled = _bool(spec["schedule_enabled"], what + ": schedule_enabled")

    def _add_history(self, job: Job, index: int, past: dict[str, Any], now: float) -> None:
        duration = float(past.get("duration", 300))
        ago = float(past.get("hours_ago", 24 * (index + 1))) * 3600.0
        result = result_name(past.get("result", "Success"), "history of job %s" % job.name)
        self.seq += 1
        session = Session(
            id=str(uuid.uuid5(HISTORY_NS, "%s/%d" % (job.id, index))), job_id=job.id, job_name=job.name,
            job_type=job.type, created=now - ago, duration=duration, result=result,
            message=str(past.get("message", job.message if result != "Success" else "")),
            starting=min(1.0, duration * 0.1), is_retry=bool(past.get("is_retry", False)), initiated_by="System",
            seq=self.seq)
        self.sessions[session.id] = session

    # -- queries
    def jobs_in_order(self) -> list[Job]:
        return [self.jobs[jid] for jid in self.job_order]

    def find_jobs(self, key: str) -> list[Job]:
        """Jobs whose id equals ``key`` or whose name is exactly ``key``."""
        try:
            jid = str(uuid.UUID(key))
            if jid in self.jobs:
                return [self.jobs[jid]]
        except ValueError:
            pass
        return [job for job in self.jobs_in_order() if job.name == key]

    def sessions_of(self, job_id: str | None = None) -> list[Session]:
        """Sessions, newest first."""
        found = [s for s in self.sessions.values() if job_id is None or s.job_id == job_id]
        return sorted(found, key=lambda s: (s.created, s.seq), reverse=True)

    def latest_session(self, job_id: str) -> Session | None:
        found = self.sessions_of(job_id)
        return found[0] if found else None

    def active_session(self, job_id: str, now: float) -> Session | None:
        for session in self.sessions_of(job_id):
            if session.is_active(now):
                return session
        return None

    def last_finished(self, job_id: str, now: float) -> Session | None:
        for session in self.sessions_of(job_id):
            if not session.is_active(now):
                return session
        return None

    # -- changes
    def start(self, job: Job, now: float, user: str, full: bool = False, retry_of: Session | None = None) -> Session:
        self.seq += 1
        result, message = (job.retry_result, job.retry_message) if retry_of is not None else (job.result, job.message)
        session = Session(
            id=str(uuid.uuid4()), job_id=job.id, job_name=job.name, job_type=job.type, created=now,
            duration=job.duration, result=result, message=message, starting=min(1.0, job.duration * 0.1), full=full,
            is_retry=retry_of is not None, related_session_id=retry_of.id if retry_of is not None else None,
            initiated_by=user, unknown_state=job.unknown_state, seq=self.seq)
        self.sessions[session.id] = session
        return session

    @staticmethod
    def stop(session: Session, now: float, user: str, graceful: bool = True) -> None:
        if session.stop_requested is not None:
            return
        session.stop_requested = now
        session.stop_delay = GRACEFUL_STOP_DELAY if graceful else IMMEDIATE_STOP_DELAY
        session.stopped_by = user

    # -- persistence
    def dynamic_snapshot(self) -> dict[str, Any]:
        return {"jobs": {jid: asdict(job) for jid, job in self.jobs.items()},
                "sessions": [asdict(s) for s in self.sessions.values()], "seq": self.seq}

    def dynamic_restore(self, data: dict[str, Any]) -> None:
        for jid, fields in (data.get("jobs") or {}).items():
            if jid in self.jobs:
                self.jobs[jid] = Job(**fields)
        self.sessions = {s["id"]: Session(**s) for s in data.get("sessions") or []}
        self.seq = max([int(data.get("seq", 0))] + [s.seq for s in self.sessions.values()])
