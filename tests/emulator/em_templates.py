"""The bulky parts of EM job entities: ``JobScheduleOptions`` and ``JobInfo``.

The element names, nesting and order copy Veeam's documented v13 samples (``em_job_entity.xml`` for
backup jobs, ``em_job_entity_replica_vmware.xml`` for replication, ``em_job_entity_*_backup_copy.xml`` for
backup copy, ``em_nas_job_entity.xml`` and ``em_agent_backup_job_entity.xml``); the values come from the
scenario where it says something (schedule time, enabled flag, protected objects) and are fixed otherwise.
The JSON shape of these blocks follows the real v10 NAS capture (``"Days": [...]``, ``{"Name", "Value"}``
for ``<Day Name=...>``, ``RetrySpecified1``, ``"Links": null`` on nested resources).
"""

from __future__ import annotations

import datetime as _dt
import uuid
from typing import Any

from .em_wire import E, L, Node, R, V

DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
_ALL_HOURS = ",".join(["1"] * 24)
_EMPTY_GUID = "00000000-0000-0000-0000-000000000000"


def sub_id(job_id: str, what: str) -> str:
    """A stable GUID derived from a job id, for objects the scenario does not name."""
    return str(uuid.uuid5(uuid.UUID(job_id), what))


def _day_grid(tag: str) -> Node:
    return E(tag, children=[R("Day", [E("Day", [("Name", d)], text=_ALL_HOURS) for d in DAYS], key="Days")])


def _time_values(schedule_time: str, today: _dt.date) -> tuple[str, str]:
    """XML writes the daily time as ``18:00:00.0000000+00:00``; JSON as a full date-time."""
    hh, mm = (schedule_time.split(":") + ["00"])[:2]
    xml = f"{int(hh):02d}:{int(mm):02d}:00.0000000+00:00"
    js = f"{today.isoformat()}T{int(hh):02d}:{int(mm):02d}:00+00:00"
    return xml, js


def standard_schedule(job: Any, today: _dt.date) -> Node:
    """``JobScheduleOptions/Standart`` as in the v13 backup, NAS and agent job samples."""
    t_xml, t_json = _time_values(job.schedule_time, today)
    daily_on = bool(job.schedule_configured)
    standart = E("Standart", children=[
        E("RetryOptions", children=[V("RetryTimes", 3), V("RetryTimeout", 10),
                                    V("RetrySpecified", True, jname="RetrySpecified1")]),
        V("WaitForBackupCompletion", True),
        V("BackupCompetitionWaitingPeriodMin", 180),
        E("OptionsDaily", [("Enabled", daily_on)], children=[
            V("Kind", "Everyday"), R("Days", DAYS, key="Days"), V("Time", t_xml, jvalue=t_json), V("TimeOffsetUtc", 0)]),
        E("OptionsMonthly", [("Enabled", False)], children=[
            V("Time", "22:00:00.0000000+00:00", jvalue=f"{today.isoformat()}T22:00:00+00:00"), V("TimeOffsetUtc", 0),
            V("DayNumberInMonth", "Fourth"), V("DayOfWeek", "Saturday"), R("Months", MONTHS, key="Months"),
            V("DayOfMonth", 1)]),
        E("OptionsPeriodically", [("Enabled", False)], children=[
            V("Kind", "Hours"), V("FullPeriod", 1), _day_grid("Schedule")]),
        E("OptionsContinuous", [("Enabled", False)], children=[_day_grid("Schedule")]),
        E("OptionsBackupWindow", [("Enabled", False)], children=[_day_grid("TimePeriods")]),
        E("OptionsDaisyChaining", [("Enabled", False)], children=[V("PreviousJobUid", None, empty=True)]),
    ])
    return E("JobScheduleOptions", children=[standart, V("ImmediateCopyMode", None)], base="resource")


def copy_schedule(job: Any) -> Node:
    """``JobScheduleOptions/ImmediateCopyMode`` as in the v13 backup copy samples."""
    mode = E("ImmediateCopyMode", children=[
        E("OptionsContinuous", [("Enabled", bool(job.schedule_configured))], children=[_day_grid("Schedule")])])
    return E("JobScheduleOptions", children=[V("Standart", None), mode], base="resource")


def _indexing(tag: str, mode: str, excluded: list[str]) -> Node:
    return E(tag, children=[
        V("FileSystemIndexingMode", mode),
        L("IncludedIndexingFolders", [], key="Paths"),
        L("ExcludedIndexingFolders", [V("Path", p) for p in excluded], key="Paths"),
    ])


_WIN_EXCLUDED = ["%windir%", "%ProgramFiles%", "%ProgramFiles(x86)%", "%ProgramW6432%", "%TEMP%"]
_LINUX_EXCLUDED = ["/cdrom", "/dev", "/media", "/mnt", "/proc", "/tmp", "/lost+found"]


def guest_processing(per_object: bool, persistent_agent: bool = True) -> Node:
    """Guest processing options of one object (``per_object``) or of the whole job.  The per-object block of a
    VM job has ``UsePersistentGuestAgent``; the agent job sample does not."""
    vss = [V("VssSnapshotMode", "RequireSuccess"), V("IsCopyOnly", False)]
    if per_object and persistent_agent:
        vss.append(V("UsePersistentGuestAgent", False))
    children = [
        E("VssSnapshotOptions", children=vss),
        _indexing("WindowsGuestFSIndexingOptions", "ExceptSpecifiedFolders" if per_object else "EveryFolders",
                  _WIN_EXCLUDED if per_object else []),
        _indexing("LinuxGuestFSIndexingOptions", "ExceptSpecifiedFolders", _LINUX_EXCLUDED if per_object else []),
        E("SqlBackupOptions", children=[V("TransactionLogsProcessing", "OnlyOnSuccessJob"),
                                        V("BackupLogsFrequencyMin", 15), V("UseDbBackupRetention", True),
                                        V("RetainDays", 15)]),
        V("WindowsCredentialsId", None, empty=True),
        V("LinuxCredentialsId", None, empty=True),
    ]
    return E("GuestProcessingOptions", children=children)


def _retention(gfs_enabled: bool) -> list[Node]:
    return [
        E("GfsRetentionPolicy", [("Enabled", gfs_enabled)], children=[
            E("Weekly", children=[V("Enabled", gfs_enabled), V("RetentionPeriod", 2), V("SelectedDay", "Sunday")]),
            E("Monthly", children=[V("Enabled", gfs_enabled), V("RetentionPeriod", 3), V("SelectedWeek", "First")]),
            E("Yearly", children=[V("Enabled", gfs_enabled), V("RetentionPeriod", 1), V("SelectedMonth", "January")]),
        ]),
        E("SimpleRetentionPolicy", children=[V("RetainCycles", 7), V("RetainDaysToKeep", 7),
                                             V("RetainLimitType", "Cycles")]),
    ]


def _hierarchy_ref(job: Any, name: str) -> str:
    platform = (job.platform or "VMware").lower()
    host = sub_id(job.id, "host")
    if platform == "hyperv":
        return f"urn:HyperV:Vm:{host}.{sub_id(job.id, 'vm:' + name)}"
    if platform == "vcloud":
        return f"urn:vCloud:Vm:{host}.urn:vcloud:vm:{sub_id(job.id, 'vm:' + name)}"
    return f"urn:VMware:Vm:{host}.vm-{int(sub_id(job.id, 'vmref:' + name)[:4], 16) % 9000 + 1000}"


def _object_in_job(job: Any, base: str, name: str) -> Node:
    oid = sub_id(job.id, "object:" + name)
    return E("ObjectInJob", [("Type", "ObjectInJob"), ("Href", f"{base}/jobs/{job.id}/includes/{oid}")], children=[
        V("ObjectInJobId", oid), V("HierarchyObjRef", _hierarchy_ref(job, name)), V("Name", name),
        V("DisplayName", name), guest_processing(per_object=True)], base="resource")


def vm_job_info(job: Any, base: str) -> Node:
    """``JobInfo`` of a backup (``BackupJobInfo``) or replication (``ReplicaJobInfo``) job."""
    includes = L("Includes", [_object_in_job(job, base, n) for n in job.objects], key="ObjectsInJob")
    if job.job_type == "Replica":
        info = E("ReplicaJobInfo", children=[includes, guest_processing(per_object=False)])
    else:
        info = E("BackupJobInfo", children=[includes, guest_processing(per_object=False),
                                            E("AdvancedStorageOptions", children=[V("PasswordKeyId", None, empty=True)]),
                                            *_retention(True)])
    return E("JobInfo", children=[info])


def copy_job_info(job: Any, linked: list[tuple[str, str]]) -> Node:
    """``JobInfo/ImmediateBackupCopyJobInfo``; ``linked`` holds (object id, linked job UID)."""
    linked_jobs = [E("LinkedJobObject", children=[V("ObjectInJobId", oid), V("LinkedJobUid", uid)]) for oid, uid in linked]
    repos = []
    if job.linked_repository:
        repos.append(E("LinkedBackupRepository", children=[
            V("ObjectInJobId", sub_id(job.id, "repo")),
            V("LinkedBackupRepositoryUid", f"urn:veeam:Repository:{job.linked_repository}")]))
    info = E("ImmediateBackupCopyJobInfo", children=[
        L("LinkedJobIncludes", linked_jobs, key="LinkedJobObjects"),
        L("LinkedBackupIncludes", [], key="LinkedBackupObjects"),
        L("LinkedBackupRepositoryIncludes", repos, key="LinkedBackupRepositories")])
    return E("JobInfo", children=[info])


def nas_parts(job: Any, base: str) -> list[Node]:
    """``Includes`` and ``StorageOptions`` of a NAS (file share) job entity."""
    objects = []
    for share in job.objects:
        oid = sub_id(job.id, "share:" + share)
        children = [
            V("HierarchyObjRef", f"urn:NasBackup:BackupServer:{sub_id(job.id, 'fileserver')}"),
            V("ObjectInJobId", oid),
            V("FileOrFolder", share),
            V("FileServerUid", f"urn:veeam:FileServer:{sub_id(job.id, 'fileserver-uid')}"),
            E("InclusionMask", children=[R("Extension", ["*.*"], key="Extensions")]),
            E("ExclusionMask", children=[R("Extension", [share.rstrip("\\") + "\\.snapshot"], key="Extensions")]),
        ]
        href = f"{base}/nas/jobs/{job.id}/includes/{oid}"
        objects.append(E("NASObject", [("Type", "NasObject"), ("Href", href)], children=children, base="resource"))
    storage = E("StorageOptions", children=[
        V("BackupRepositoryUid", f"urn:veeam:Repository:{sub_id(job.id, 'repository')}"),
        V("ShorttermRetentionType", "Day"), V("ShorttermRetentionPeriod", 7), V("LongtermRetentionEnabled", False),
        V("KeepFileVersionsHistoryOptions", None),
        E("AdvancedStorageOptions", children=[
            E("ACL", children=[V("FileAttributesChangeTrackingMode", "TrackOnlyFolderAttributesChanges")])])])
    return [L("Includes", objects, key="NASObjects"), storage]


def agent_job_info(job: Any, base: str) -> Node:
    items = []
    for name in job.objects:
        oid = sub_id(job.id, "agent-object:" + name)
        items.append(E("ObjectInAgentBackupJob",
                       [("Type", "ObjectInAgentBackupJob"), ("Href", f"{base}/agents/jobs/{job.id}/includes/{oid}")],
                       children=[V("ObjectInJobId", oid), V("Name", name), V("DisplayName", name),
                                 guest_processing(per_object=True, persistent_agent=False)], base="resource"))
    return E("JobInfo", children=[L("Includes", items, key="ObjectsInAgentBackupJob"),
                                  guest_processing(per_object=False), *_retention(False)])
