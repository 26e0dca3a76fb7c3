"""Enterprise Manager state: jobs, backup sessions, tasks and logon sessions, and their timelines.

Nothing runs in the background: every state is derived from the simulated clock when a request reads it.
A backup session is ``Starting`` for its first tenth (at most 1 s), ``Working`` until its duration has
passed, then ``Stopped`` with the job's configured result.  A stop request turns it ``Stopping`` for up to
1 s, then ``Stopped`` with ``Result=Failed`` (Veeam: an immediately stopped job "is finished with the
Failed error").  A task is ``Running`` for ``task_duration``, ``OperationFinished`` for
``task_collect_delay`` (``None``: it stays there), then ``Finished``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from typing import Any

RESULTS = ("Success", "Warning", "Failed")
SESSION_STATES = ("Starting", "Stopping", "Working", "Pausing", "Resuming", "Stopped")  # documented order
RESULT_ORDER = ("None", "Success", "Warning", "Failed")  # Success < Warning < Failed (query_comparison)
TASK_STATES = ("Running", "OperationFinished", "Finished")
STOPPED_BY_USER = "Job has been stopped by user."


def fmt_time(ts: float | None) -> str | None:
    """``2014-10-19T05:22:52Z`` or ``2020-02-04T08:12:19.453Z`` (both forms are documented/observed)."""
    if ts is None:
        return None
    dt = _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    ms = dt.microsecond // 1000
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{ms:03d}Z" if ms else f"{base}Z"


def fmt_name_time(ts: float) -> str:
    """The time part of a session name: ``Fileserver Backup@2014-10-19 05:22:52``."""
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def fmt_restore_point_name(ts: float) -> str:
    """``Oct 19 2014  5:23AM`` (the restore point link name in the documented session sample)."""
    dt = _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    hour12 = dt.hour % 12 or 12
    return f"{dt.strftime('%b')} {dt.day:2d} {dt.year} {hour12:2d}:{dt.minute:02d}{'AM' if dt.hour < 12 else 'PM'}"


@dataclass
class BackupServer:
    id: str
    name: str
    description: str = ""
    port: int = 9392
    version: str = "12.3.1.1139"


@dataclass
class Job:
    """One job as the scenario describes it (plus the runtime-changeable parts)."""

    id: str
    name: str
    kind: str  # vm | nas | agent
    job_type: str  # Backup | Replica | BackupCopy | ImmediateBackupCopy | NasBackup | AgentBackup
    platform: str
    server_id: str
    description: str = ""
    schedule_configured: bool = True
    schedule_enabled: bool = True
    schedule_time: str = "22:00"
    duration: float = 3.0
    result: str = "Success"
    failure_message: str = ""
    retry_result: str = "Success"
    retry_failure_message: str = ""
    task_duration: float = 1.0
    task_collect_delay: float | None = 0.5
    objects: list[str] = field(default_factory=list)
    linked_jobs: list[str] = field(default_factory=list)
    linked_repository: str = ""

    @property
    def uid(self) -> str:
        prefix = {"vm": "Job", "nas": "NasJob", "agent": "AgentBackupJob"}[self.kind]
        return f"urn:veeam:{prefix}:{self.id}"

    @property
    def session_kind(self) -> str:
        return "replica" if self.job_type == "Replica" else "backup"

    @property
    def is_copy(self) -> bool:
        return self.job_type in ("BackupCopy", "ImmediateBackupCopy")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Session:
    """A backup (or replication) job session."""

    id: str
    job_id: str
    job_name: str
    kind: str  # backup | replica
    job_type: str
    created: float
    duration: float
    result: str
    failure_message: str = ""
    is_retry: bool = False
    stop_requested: float | None = None

    @property
    def natural_end(self) -> float:
        return self.created + max(self.duration, 0.0)

    def _stop_end(self) -> float | None:
        if self.stop_requested is None or self.stop_requested >= self.natural_end:
            return None
        return self.stop_requested + min(1.0, self.natural_end - self.stop_requested)

    def end_time(self, now: float) -> float | None:
        stop_end = self._stop_end()
        if stop_end is not None:
            return stop_end if now >= stop_end else None
        return self.natural_end if now >= self.natural_end else None

    def state(self, now: float) -> str:
        if self.end_time(now) is not None:
            return "Stopped"
        if self._stop_end() is not None and now >= float(self.stop_requested or 0):
            return "Stopping"
        if now < self.created + min(1.0, 0.1 * self.duration):
            return "Starting"
        return "Working"

    def running(self, now: float) -> bool:
        return self.state(now) != "Stopped"

    def final_result(self, now: float) -> str:
        if self.end_time(now) is None:
            return "None"
        return "Failed" if self._stop_end() is not None else self.result

    def final_message(self, now: float) -> str | None:
        """``""`` while running (``<FailureMessage />``), the message once stopped, ``None`` for none."""
        if self.end_time(now) is None:
            return ""
        if self._stop_end() is not None:
            return STOPPED_BY_USER
        if self.result in ("Warning", "Failed") and self.failure_message:
            return self.failure_message
        return None

    def progress(self, now: float) -> int:
        if self.end_time(now) is not None:
            return 100
        if self.duration <= 0:
            return 0
        return max(0, min(99, int(100 * (now - self.created) / self.duration)))

    @property
    def name(self) -> str:
        return f"{self.job_name}@{fmt_name_time(self.created)}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Task:
    """An EM task (``task-N``), owned by the logon session that created it."""

    num: int
    owner: str
    operation: str
    created: float
    run_for: float
    collect_for: float | None
    success: bool
    message: str
    job_id: str = ""

    @property
    def task_id(self) -> str:
        return f"task-{self.num}"

    def state(self, now: float) -> str:
        done = self.created + max(self.run_for, 0.0)
        if now < done:
            return "Running"
        if self.collect_for is None or now < done + max(self.collect_for, 0.0):
            return "OperationFinished"
        return "Finished"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LogonSession:
    """An EM logon session.  ``last_used`` is wall-clock time: the idle timeout is real seconds."""

    id: str
    token: str
    username: str
    role: str
    version: str
    created: float
    last_used: float
    expired: bool = False
    closed: bool = False

    def is_open(self, wall_now: float, idle_timeout: float) -> bool:
        return not self.closed and not self.expired and wall_now - self.last_used <= idle_timeout

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
