"""VB365 emulator: how each REST API version renders the state (field sets, enum casing, hrefs, pages, errors).

Version differences written here (sources: the v6/v7/v8 OpenAPI documents, the archived v2-v5 docs, and
``veeam-api.md`` section B; the choices where the sources are silent are listed in ``docs/emulator.md``):

- hrefs are absolute (``https://host:port/v3/jobs/<id>``, lower-case resource names as in the v3 samples)
  up to v5 and relative (``/v6/Jobs/<id>``) from v6;
- v2-v5 write ``backupType`` and the restore-session ``type`` in lower camel case (``entireOrganization``,
  ``vex``), v6+ in Pascal case;
- v2-v4 have no ``Queued`` status (reported as ``Running``);
- v2 job-session statistics are display strings, v3+ numbers;
- a job session's ``endTime`` is left out while it runs in v2-v6 (the v6 schema does not allow null),
  and is ``null`` in v7/v8;
- RESTExceptionInfo is ``{message}`` up to v6, ``{message, errorCode}`` in v7 and
  ``{message, errorCode, stackTrace}`` in v8.
"""

from __future__ import annotations

import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any

from .m365_state import Job, JobSession, M365State, Organization, RestoreSession, human_bytes, iso

SETID_NS = uuid.UUID("0c1d2e3f-4a5b-4c6d-8e7f-b365b365b365")
V8_ERROR_CODES = ("ProxyOffline", "OutdatedChangeToken", "ResourceAccessDenied", "ResourceNotFound",
                  "ParameterValidationFailure", "OrganizationTransfer", "RepositoryOwnerChangeTooManyLinks",
                  "Timeout", "OperationConflict", "HttpError")


@dataclass
class Ctx:
    """What a rendering needs: the API version, the absolute base URL (v2-v5 hrefs) and the simulated now."""

    version: int
    base: str
    now: float
    proxy_id: str = "5a905bb5-9071-433c-9d2f-f805d4da2cf4"


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def href(ctx: Ctx, path: str) -> str:
    """``Jobs/<id>`` -> ``/v8/Jobs/<id>`` (v6+) or ``https://host:port/v3/jobs/<id>`` (v2-v5)."""
    if ctx.version >= 6:
        return "/v%d/%s" % (ctx.version, path)
    resource, _sep, query = path.partition("?")
    return "%s/v%d/%s%s" % (ctx.base, ctx.version, resource.lower(), ("?" + query) if query else "")


def links(ctx: Ctx, **paths: str) -> dict[str, dict[str, str]]:
    return {name: {"href": href(ctx, path)} for name, path in paths.items()}


# ---------------------------------------------------------------------------------------------- errors
def error_body(version: int, message: str, code: str | None = None) -> dict[str, Any]:
    """RESTExceptionInfo of the version.  ``code`` is used in v8 only (v7's enum has only ProxyOffline)."""
    body: dict[str, Any] = {"message": message}
    if version == 7:
        body["errorCode"] = code if code == "ProxyOffline" else None
    elif version >= 8:
        body["errorCode"] = code if code in V8_ERROR_CODES else None
        body["stackTrace"] = None
    return body


def code_for_status(status: int) -> str | None:
    return {400: "ParameterValidationFailure", 403: "ResourceAccessDenied", 404: "ResourceNotFound",
            408: "Timeout", 409: "OperationConflict", 504: "Timeout"}.get(status)


# ---------------------------------------------------------------------------------------------- pages
def page(ctx: Ctx, results: list[Any], offset: int, limit: int, total: int, path: str,
         params: list[tuple[str, str]]) -> dict[str, Any]:
    """The page shape ``{offset, limit, [setId], results, _links}`` (v5+).

    ``_links`` has ``self`` and, when more items follow, ``next`` (as in the v6 docs' example); v8 adds a
    ``setId`` that is stable for the same query.  ``totalCount`` (optional in the v6/v7 schema, absent from
    the docs' examples) is not sent, so a client must page until a short page or no ``next`` link.
    """

    def target(at: int) -> str:
        query = urllib.parse.urlencode(params + [("offset", str(at)), ("limit", str(limit))])
        return "%s?%s" % (path, query)

    body: dict[str, Any] = {"offset": offset, "limit": limit}
    if ctx.version >= 8:
        body["setId"] = str(uuid.uuid5(SETID_NS, "%s?%s" % (path, urllib.parse.urlencode(params))))
    body["results"] = results
    page_links = {"self": {"href": href(ctx, target(offset))}}
    if offset + limit < total:
        page_links["next"] = {"href": href(ctx, target(offset + limit))}
    body["_links"] = page_links
    return body


# ---------------------------------------------------------------------------------------------- jobs
def schedule_view(ctx: Ctx, job: Job) -> dict[str, Any]:
    sched = job.schedule
    kind = sched.get("type", "Daily")
    view: dict[str, Any] = {"scheduleEnabled": bool(sched.get("scheduleEnabled", True)),
                            "backupWindowEnabled": bool(sched.get("backupWindowEnabled", False))}
    if ctx.version >= 7:
        view["periodicallyWindowEnabled"] = False
    view["type"] = kind
    if kind == "Periodically":
        view["periodicallyEvery"] = sched.get("periodicallyEvery", "Hours1")
    view["dailyType"] = sched.get("dailyType", "Everyday")
    view["dailyTime"] = str(sched.get("dailyTime", "22:00:00"))
    view["retryEnabled"] = bool(sched.get("retryEnabled", True))
    if ctx.version >= 6:
        view["retryNumber"] = int(sched.get("retryNumber", 3))
        view["retryWaitInterval"] = int(sched.get("retryWaitInterval", 10))
    return view


def selected_items(job: Job) -> list[dict[str, Any]]:
    if job.backup_type != "SelectedItems":
        return []
    return [{"type": "PersonalSites", "id": str(uuid.uuid5(SETID_NS, job.id + "/personal-sites"))}]


def job_view(ctx: Ctx, state: M365State, job: Job) -> dict[str, Any]:
    v, now = ctx.version, ctx.now
    status = state.last_status(job, now)
    if v <= 4 and status == "Queued":
        status = "Running"
    if v <= 5:
        return {
            "id": job.id, "name": job.name, "description": job.description,
            "lastRun": iso(state.last_run(job, now)), "nextRun": iso(state.next_run(job, now)),
            "isEnabled": job.enabled, "backupType": lower_first(job.backup_type), "lastStatus": status,
            "schedulePolicy": schedule_view(ctx, job),
            "_links": links(ctx, self="Jobs/%s" % job.id, organization="Organizations/%s" % job.organization_id,
                            backupRepository="BackupRepositories/%s" % job.repository_id,
                            jobsessions="Jobs/%s/JobSessions" % job.id),
        }
    view: dict[str, Any] = {"description": job.description, "backupType": job.backup_type}
    if v <= 7:
        view.update({"runNow": False, "selectedItems": selected_items(job), "excludedItems": []})
    view["schedulePolicy"] = schedule_view(ctx, job)
    view["id"] = job.id
    if v >= 8:
        view["organizationId"] = job.organization_id
    view.update({"repositoryId": job.repository_id, "name": job.name, "lastRun": iso(state.last_run(job, now)),
                 "nextRun": iso(state.next_run(job, now))})
    if v >= 7:
        view["lastBackup"] = iso(state.last_backup(job, now))
    view.update({"isEnabled": job.enabled, "lastStatus": status})
    if v >= 8:
        view["eTag"] = job.etag
    sessions = "Jobs/%s/JobSessions" % job.id if v == 6 else "JobSessions?jobId=%s" % job.id
    view["_links"] = links(ctx, self="Jobs/%s" % job.id, organization="Organizations/%s" % job.organization_id,
                           backupRepository="BackupRepositories/%s" % job.repository_id, jobSessions=sessions)
    return view


# ---------------------------------------------------------------------------------------------- sessions
def legacy_statistics(stats: dict[str, Any]) -> dict[str, Any]:
    """v2 wrote rates as display strings (``"832.4 KB/s (52 items/s)"``)."""
    return {
        "processingRate": "%s/s (%d items/s)" % (human_bytes(stats["processingRateBytesPS"]), stats["processingRateItemsPS"]),
        "readRate": "%s/s" % human_bytes(stats["readRateBytesPS"]),
        "writeRate": "%s/s" % human_bytes(stats["writeRateBytesPS"]),
        "transferredData": human_bytes(stats["transferredDataBytes"]),
        "processedObjects": stats["processedObjects"],
        "bottleneck": stats["bottleneck"],
    }


def session_view(ctx: Ctx, session: JobSession) -> dict[str, Any]:
    v, now = ctx.version, ctx.now
    status = session.status(now)
    end = session.end_time(now)
    stats = session.statistics(now)
    if v <= 5:
        view: dict[str, Any] = {"id": session.id, "creationTime": iso(session.created)}
        if end is not None:
            view["endTime"] = iso(end)
        view.update({"progress": session.progress(now), "status": "Running" if (v <= 4 and status == "Queued") else status,
                     "statistics": legacy_statistics(stats) if v == 2 else stats})
        log = "JobSessions/%s/%s" % (session.id, "LogItems" if v == 5 else "log")
        view["_links"] = links(ctx, self="JobSessions/%s" % session.id, log=log, job="Jobs/%s" % session.job_id)
        return view
    view = {"id": session.id}
    if v >= 8:
        view["jobId"] = session.job_id
    if v >= 7:
        view["repositoryId"] = session.repository_id
    view["details"] = session.details(now)
    view["creationTime"] = iso(session.created)
    if v >= 7 or end is not None:
        view["endTime"] = iso(end)
    view["retryCount"] = 0
    if v >= 7:
        view["jobWillBeRetried"] = False
    view["progress"] = session.progress(now)
    if v >= 7:
        view["jobType"] = "Backup"
    if v >= 8:
        view["jobSessionConfigType"] = "Full" if session.full else "Incremental"
    view["status"] = status
    view["statistics"] = stats
    if v >= 8:
        view["eTag"] = session.etag(now)
    view["_links"] = links(ctx, self="JobSessions/%s" % session.id, job="Jobs/%s" % session.job_id)
    if v >= 8:
        view["proxyId"] = ctx.proxy_id if status != "Queued" else None
        view["proxyPoolId"] = None
    return view


def restore_view(ctx: Ctx, state: M365State, rsession: RestoreSession) -> dict[str, Any]:
    v = ctx.version
    org = state.organizations.get(rsession.organization_id)
    view: dict[str, Any] = {
        "id": rsession.id, "name": rsession.name, "organization": org.name if org else "",
        "type": rsession.type.lower() if v <= 5 else rsession.type,
        "creationTime": iso(rsession.created), "endTime": iso(rsession.ended),
        "state": rsession.state, "result": "Success", "initiatedBy": rsession.initiated_by, "details": "",
    }
    if v >= 6:
        view.update({"scopeName": rsession.scope_name, "clientHost": "", "reason": ""})
    if v >= 8:
        view["eTag"] = rsession.etag
    view["_links"] = links(ctx, self="RestoreSessions/%s" % rsession.id,
                           organization="RestoreSessions/%s/Organization" % rsession.id)
    return view


# ---------------------------------------------------------------------------------------------- other
def organization_view(ctx: Ctx, state: M365State, org: Organization) -> dict[str, Any]:
    now = ctx.now
    jobs = [job for job in state.jobs_in_order() if job.organization_id == org.id]
    firsts = [t for t in (state.first_backup(job, now) for job in jobs) if t is not None]
    lasts = [t for t in (state.last_backup(job, now) for job in jobs) if t is not None]
    view: dict[str, Any] = {
        "isTeamsOnline": True, "isTeamsChatsOnline": False, "isExchangeOnline": True, "isSharePointOnline": True,
        "type": org.type, "region": org.region, "id": org.id, "name": org.name, "officeName": org.office_name,
    }
    if ctx.version >= 7:
        view["description"] = org.description
    view.update({"isBackedup": bool(lasts), "firstBackuptime": iso(min(firsts)) if firsts else None,
                 "lastBackuptime": iso(max(lasts)) if lasts else None})
    paths = {"self": "Organizations/%s" % org.id}
    if ctx.version <= 7:
        paths["jobs"] = "Organizations/%s/Jobs" % org.id
    view["_links"] = links(ctx, **paths)
    return view


def service_instance_view(installation_id: str, product_version: str) -> dict[str, Any]:
    return {"installationId": installation_id, "version": product_version}
