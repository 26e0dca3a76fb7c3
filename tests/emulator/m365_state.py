"""VB365 emulator: the domain state (organizations, jobs, job sessions, restore sessions) and time helpers.

Nothing here knows HTTP or API versions; ``m365_views.py`` renders this state per version and ``m365.py``
routes requests to it.  Job sessions are scheduled on the simulated :class:`~emulator.core.Clock`; their
status, progress and statistics are derived from the clock each time they are read (no background threads).
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import math
import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

#: Namespace for the deterministic ids of preloaded (history) sessions.
HISTORY_NS = uuid.UUID("6d1f5c1e-2b4a-4f0e-9a57-0b365e0a1a00")

RESULTS = ("Success", "Warning", "Failed")
ACTIVE = ("Queued", "Running")
RESTORE_TYPES = ("Vex", "Veod", "Vesp", "Vet")
RESTORE_KIND = {"Vex": "Exchange", "Veod": "OneDrive", "Vesp": "SharePoint", "Vet": "Teams"}
DEFAULT_SCHEDULE = {"type": "Daily", "dailyType": "Everyday", "dailyTime": "22:00:00"}
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# ----------------------------------------------------------------------------------------------- time
def iso(ts: float | None) -> str | None:
    """Epoch seconds -> .NET-style UTC ISO 8601 with 7 fractional digits (``2019-06-16T22:00:00.0246404Z``)."""
    if ts is None:
        return None
    dt = _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def rfc1123(ts: float) -> str:
    """Epoch seconds -> the OWIN ``.issued``/``.expires`` style: ``Tue, 04 Apr 2017 07:07:21 GMT``."""
    return email.utils.formatdate(ts, usegmt=True)


_LEGACY_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y.%m.%d %H:%M:%S.%f",
                   "%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M", "%Y-%m-%d", "%Y.%m.%d")


def parse_time(text: str) -> float:
    """Parse an ISO 8601 date-time (any fraction length, ``Z`` or offset) or a legacy VBO format.

    The legacy formats are the ones the v3-v5 docs give for ``explore`` (``yyyy-MM-dd HH:mm:ss.SSS``,
    ``yyyy.MM.dd hh:mm:ss``) and the one real portal traffic sent (``2018.09.17 12:00``).  Values without a
    zone are taken as UTC.  Raises ``ValueError``.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty date-time")
    value = text.strip()
    iso_value = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)$", iso_value)
    if match:  # Python wants at most 6 fractional digits before 3.11's relaxed parser; normalise anyway.
        iso_value = match.group(1) + "." + (match.group(2) + "000000")[:6] + match.group(3)
    try:
        parsed = _dt.datetime.fromisoformat(iso_value)
    except ValueError:
        parsed = None
        for fmt in _LEGACY_FORMATS:
            try:
                parsed = _dt.datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
        if parsed is None:
            raise ValueError("unrecognised date-time %r" % value) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.timestamp()


def human_bytes(num: float) -> str:
    """``55561549`` -> ``53 MB`` (the style of the session ``details`` text)."""
    units = ("B", "KB", "MB", "GB", "TB")
    value = float(num)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            return ("%d %s" % (value, unit)) if unit == "B" else ("%.1f %s" % (value, unit))
        value /= 1024
    return "%d B" % num  # pragma: no cover - loop always returns


# ---------------------------------------------------------------------------------------------- model
@dataclass
class Organization:
    id: str
    name: str
    office_name: str
    type: str = "Office365"
    region: str = "Worldwide"
    description: str = ""


@dataclass
class Job:
    """A backup job; ``duration``/``result``... are the settings the next started session uses."""

    id: str
    name: str
    organization_id: str
    repository_id: str
    description: str = ""
    backup_type: str = "EntireOrganization"
    enabled: bool = True
    schedule: dict[str, Any] = field(default_factory=dict)
    duration: float = 3.0
    result: str = "Success"
    queue_time: float = 0.5
    objects: int = 12
    items_per_object: int = 57
    bytes_per_item: int = 48_000
    message: str = ""
    stop_delay: float = 0.0
    start_delay: float = 0.0
    etag: int = 1


@dataclass
class JobSession:
    id: str
    job_id: str
    repository_id: str
    created: float
    queue_time: float
    duration: float
    result: str
    objects: int
    items_per_object: int
    bytes_per_item: int
    message: str = ""
    full: bool = False
    initiated_by: str = ""
    stop_requested: float | None = None
    stop_delay: float = 0.0
    stopped_by: str = ""
    seq: int = 0  # creation order, breaks ties between sessions created at the same simulated instant
    hidden_until: float = 0.0  # before this moment the session is missing from lists and from the job's lastStatus

    # Moments on the simulated clock.
    @property
    def run_start(self) -> float:
        return self.created + self.queue_time

    @property
    def natural_end(self) -> float:
        return self.run_start + self.duration

    @property
    def stop_time(self) -> float | None:
        if self.stop_requested is None:
            return None
        return self.stop_requested + self.stop_delay

    def status(self, now: float) -> str:
        stop = self.stop_time
        if stop is not None and now >= stop and stop < self.natural_end:
            return "Stopped"
        if now < self.run_start:
            return "Queued"
        if now < self.natural_end:
            return "Running"
        return self.result

    def is_active(self, now: float) -> bool:
        return self.status(now) in ACTIVE

    def end_time(self, now: float) -> float | None:
        status = self.status(now)
        if status in ACTIVE:
            return None
        if status == "Stopped":
            return self.stop_time
        return self.natural_end

    def progress(self, now: float) -> int:
        """Processed objects (VB365's ``progress`` is a count, not a percentage)."""
        status = self.status(now)
        if status == "Queued":
            return 0
        if status in ("Success", "Warning"):
            return self.objects
        if status == "Failed":
            return self.objects // 2
        upto = min(now, self.stop_time) if status == "Stopped" and self.stop_time is not None else now
        if self.duration <= 0:
            return 0
        fraction = max(0.0, min(1.0, (upto - self.run_start) / self.duration))
        return int(self.objects * fraction)

    def statistics(self, now: float) -> dict[str, Any]:
        status = self.status(now)
        processed = self.progress(now)
        items = processed * self.items_per_object
        transferred = items * self.bytes_per_item
        end = self.end_time(now)
        elapsed = max(0.0, (end if end is not None else now) - self.run_start)
        rate_bytes = int(transferred / elapsed) if elapsed > 0 else 0
        rate_items = int(items / elapsed) if elapsed > 0 else 0
        if status == "Queued":
            bottleneck = "NA"
        elif status == "Running" and now - self.run_start < 1.0:
            bottleneck = "Detecting"
        else:
            bottleneck = "Source"
        return {
            "processingRateBytesPS": rate_bytes,
            "processingRateItemsPS": rate_items,
            "readRateBytesPS": int(rate_bytes * 1.4),
            "writeRateBytesPS": int(rate_bytes * 0.9),
            "transferredDataBytes": int(transferred),
            "processedObjects": int(items),
            "bottleneck": bottleneck,
        }

    def details(self, now: float) -> str:
        status = self.status(now)
        if status in ACTIVE:
            return ""
        if status == "Stopped":
            who = self.stopped_by or "user"
            return "Job session was stopped by %s." % who
        if status in ("Warning", "Failed") and self.message:
            return self.message
        stats = self.statistics(now)
        return "Transferred: %s (%d items) at %s/s (%d items/s)" % (
            human_bytes(stats["transferredDataBytes"]), stats["processedObjects"],
            human_bytes(stats["processingRateBytesPS"]), stats["processingRateItemsPS"])

    def etag(self, now: float) -> int:
        """Grows with each observable state change: Queued 1, Running 2, finished 3."""
        status = self.status(now)
        return 1 if status == "Queued" else 2 if status == "Running" else 3


@dataclass
class RestoreSession:
    id: str
    job_id: str
    organization_id: str
    type: str
    created: float
    point_in_time: float | None
    initiated_by: str
    show_deleted: bool = False
    show_all_versions: bool = False
    name: str = ""
    scope_name: str = ""
    ended: float | None = None
    etag: int = 1
    seq: int = 0

    @property
    def state(self) -> str:
        return "Working" if self.ended is None else "Stopped"


# ---------------------------------------------------------------------------------------------- state
def _uuid(value: Any, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError("%s: %r is not a UUID" % (what, value)) from None


def _result(value: Any, what: str) -> str:
    for known in RESULTS:
        if str(value).lower() == known.lower():
            return known
    raise ValueError("%s: result must be one of %s, not %r" % (what, ", ".join(RESULTS), value))


class M365State:
    """Organizations, jobs and sessions built from the ``m365:`` part of a scenario."""

    def __init__(self, section: dict[str, Any], now: float) -> None:
        self.organizations: dict[str, Organization] = {}
        self.jobs: dict[str, Job] = {}
        self.job_order: list[str] = []
        self.sessions: dict[str, JobSession] = {}
        self.restore_sessions: dict[str, RestoreSession] = {}
        for org in section.get("organizations") or []:
            oid = _uuid(org["id"], "organization id")
            self.organizations[oid] = Organization(
                id=oid, name=str(org["name"]), office_name=str(org.get("officeName", org["name"])),
                type=str(org.get("type", "Office365")), region=str(org.get("region", "Worldwide")),
                description=str(org.get("description", "")))
        for spec in section.get("jobs") or []:
            job = self._job_from(spec)
            self.jobs[job.id] = job
            self.job_order.append(job.id)
            for index, past in enumerate(spec.get("history") or []):
                self._add_history(job, index, past, now)

    # -- construction
    def _org_id(self, ref: Any) -> str:
        text = str(ref)
        for org in self.organizations.values():
            if text.lower() in (org.id, org.name.lower(), org.office_name.lower()):
                return org.id
        raise ValueError("job organization %r is not one of the scenario's organizations" % ref)

    def _job_from(self, spec: dict[str, Any]) -> Job:
        jid = _uuid(spec["id"], "job id")
        if jid in self.jobs:
            raise ValueError("duplicate job id %s" % jid)
        job = Job(id=jid, name=str(spec["name"]), organization_id=self._org_id(spec["organization"]),
                  repository_id=_uuid(spec.get("repository", "7c1e7a7e-0000-4000-8000-000000000001"), "repository"),
                  description=str(spec.get("description", "")),
                  backup_type=str(spec.get("backupType", spec.get("backup_type", "EntireOrganization"))),
                  enabled=bool(spec.get("isEnabled", spec.get("enabled", True))),
                  schedule=dict(spec.get("schedule") or DEFAULT_SCHEDULE))
        self.apply_job_settings(job, spec)
        return job

    @staticmethod
    def apply_job_settings(job: Job, spec: dict[str, Any]) -> None:
        """Apply run settings (scenario or ``POST /_emulator/config`` ``jobs``) to a job's future sessions."""
        what = "job %s" % job.name
        if "duration" in spec:
            job.duration = max(0.0, float(spec["duration"]))
        if "result" in spec:
            job.result = _result(spec["result"], what)
        if "queue_time" in spec:
            job.queue_time = max(0.0, float(spec["queue_time"]))
        if "objects" in spec:
            job.objects = max(0, int(spec["objects"]))
        if "message" in spec:
            job.message = str(spec["message"])
        if "stop_delay" in spec:
            job.stop_delay = max(0.0, float(spec["stop_delay"]))
        if "start_delay" in spec:
            job.start_delay = max(0.0, float(spec["start_delay"]))
        for key in ("isEnabled", "enabled"):
            if key in spec:
                job.enabled = bool(spec[key])

    def _add_history(self, job: Job, index: int, past: dict[str, Any], now: float) -> None:
        duration = float(past.get("duration", 300))
        ago = float(past.get("hours_ago", 24 * (index + 1))) * 3600.0
        session = JobSession(
            id=str(uuid.uuid5(HISTORY_NS, "%s/%d" % (job.id, index))), job_id=job.id,
            repository_id=job.repository_id, created=now - ago, queue_time=0.0, duration=duration,
            result=_result(past.get("result", "Success"), "history of job %s" % job.name),
            objects=int(past.get("objects", job.objects)), items_per_object=job.items_per_object,
            bytes_per_item=job.bytes_per_item, message=str(past.get("message", job.message)),
            full=bool(past.get("full", False)), initiated_by="scheduler")
        self.sessions[session.id] = session

    # -- queries
    def jobs_in_order(self) -> list[Job]:
        return [self.jobs[jid] for jid in self.job_order]

    def find_jobs(self, key: str) -> list[Job]:
        """Jobs whose id equals ``key`` or whose name is exactly ``key`` (names may repeat across orgs)."""
        try:
            jid = str(uuid.UUID(key))
            if jid in self.jobs:
                return [self.jobs[jid]]
        except ValueError:
            pass
        return [job for job in self.jobs_in_order() if job.name == key]

    def sessions_of(self, job_id: str | None = None, now: float | None = None) -> list[JobSession]:
        """Job sessions, newest first; with ``now``, only those already visible (see ``Job.start_delay``)."""
        found = [s for s in self.sessions.values()
                 if (job_id is None or s.job_id == job_id) and (now is None or s.hidden_until <= now)]
        return sorted(found, key=lambda s: (s.created, s.seq), reverse=True)

    def latest_session(self, job_id: str, now: float | None = None) -> JobSession | None:
        found = self.sessions_of(job_id, now)
        return found[0] if found else None

    def active_session(self, job_id: str, now: float) -> JobSession | None:
        latest = self.latest_session(job_id)
        return latest if latest is not None and latest.is_active(now) else None

    def last_status(self, job: Job, now: float) -> str | None:
        latest = self.latest_session(job.id, now)
        return latest.status(now) if latest else None

    def last_run(self, job: Job, now: float) -> float | None:
        latest = self.latest_session(job.id, now)
        return latest.created if latest else None

    def last_backup(self, job: Job, now: float) -> float | None:
        """End of the newest session that produced a restore point (Success or Warning)."""
        for session in self.sessions_of(job.id, now):
            if session.status(now) in ("Success", "Warning"):
                return session.end_time(now)
        return None

    def first_backup(self, job: Job, now: float) -> float | None:
        good = [s.end_time(now) for s in self.sessions_of(job.id, now) if s.status(now) in ("Success", "Warning")]
        return min(good) if good else None

    def next_run(self, job: Job, now: float) -> float | None:
        """The next scheduled run (the emulator never starts jobs on schedule; this is only reported)."""
        sched = job.schedule
        if not job.enabled or not sched.get("scheduleEnabled", True):
            return None
        kind = sched.get("type", "Daily")
        if kind == "Periodically":
            minutes = {"Minutes5": 5, "Minutes10": 10, "Minutes15": 15, "Minutes30": 30, "Hours1": 60, "Hours2": 120,
                       "Hours4": 240, "Hours8": 480, "Hours12": 720}.get(sched.get("periodicallyEvery", "Hours1"), 60)
            step = minutes * 60.0
            return (math.floor(now / step) + 1) * step
        if kind != "Daily":
            return None
        hour, minute, second = (int(part) for part in (str(sched.get("dailyTime", "22:00:00")).split(":") + ["0", "0"])[:3])
        daily = sched.get("dailyType", "Everyday")
        base = _dt.datetime.fromtimestamp(now, tz=_dt.timezone.utc)
        for offset in range(0, 8):
            day = base + _dt.timedelta(days=offset)
            candidate = day.replace(hour=hour, minute=minute, second=second, microsecond=0)
            if candidate.timestamp() <= now:
                continue
            weekday = candidate.weekday()
            if (daily == "Everyday" or (daily == "Workdays" and weekday < 5) or (daily == "Weekends" and weekday >= 5)
                    or daily == DAY_NAMES[weekday]):
                return candidate.timestamp()
        return None

    def open_restore_sessions(self) -> int:
        return sum(1 for r in self.restore_sessions.values() if r.ended is None)

    # -- changes
    def _next_seq(self) -> int:
        return 1 + max([s.seq for s in self.sessions.values()] + [r.seq for r in self.restore_sessions.values()] + [0])

    def start(self, job: Job, now: float, full: bool, user: str) -> JobSession:
        session = JobSession(
            id=str(uuid.uuid4()), job_id=job.id, repository_id=job.repository_id, created=now,
            queue_time=job.queue_time, duration=job.duration, result=job.result, objects=job.objects,
            items_per_object=job.items_per_object, bytes_per_item=job.bytes_per_item, message=job.message,
            full=full, initiated_by=user, stop_delay=job.stop_delay, seq=self._next_seq(),
            hidden_until=now + job.start_delay)
        self.sessions[session.id] = session
        return session

    @staticmethod
    def stop(session: JobSession, now: float, user: str) -> None:
        session.stop_requested = now
        session.stopped_by = user

    def explore(self, job: Job, now: float, rtype: str, point_in_time: float | None, user: str,
                show_deleted: bool, show_all_versions: bool) -> RestoreSession:
        org = self.organizations[job.organization_id]
        session = RestoreSession(
            id=str(uuid.uuid4()), job_id=job.id, organization_id=org.id, type=rtype, created=now,
            point_in_time=point_in_time, initiated_by=user, show_deleted=show_deleted,
            show_all_versions=show_all_versions, name="Restore Session (%s)" % RESTORE_KIND[rtype],
            scope_name=job.name, seq=self._next_seq())
        self.restore_sessions[session.id] = session
        return session

    # -- persistence
    def dynamic_snapshot(self) -> dict[str, Any]:
        return {
            "jobs": {jid: asdict(job) for jid, job in self.jobs.items()},
            "sessions": [asdict(s) for s in self.sessions.values()],
            "restore_sessions": [asdict(r) for r in self.restore_sessions.values()],
        }

    def dynamic_restore(self, data: dict[str, Any]) -> None:
        for jid, fields in (data.get("jobs") or {}).items():
            if jid in self.jobs:
                self.jobs[jid] = Job(**fields)
        self.sessions = {s["id"]: JobSession(**s) for s in data.get("sessions") or []}
        self.restore_sessions = {r["id"]: RestoreSession(**r) for r in data.get("restore_sessions") or []}
