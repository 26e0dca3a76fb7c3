"""VB365 emulator: the per-version routes and bodies, especially the legacy v2-v5 API."""

from __future__ import annotations

import re

import pytest

from emulator import m365_testkit as kit

ABS = re.compile(r"^https://127\.0\.0\.1:4443/v(\d)/[a-z]+/")


@pytest.fixture(name="env")
def fixture_env():
    api, clock = kit.make_api()
    caller = kit.Caller(api)
    caller.login(3)
    return api, clock, caller


def _action(caller, version, job_id, body):
    return caller.call("POST", "/v%d/Jobs/%s/Action" % (version, job_id), body=body)


def test_v3_job_sessions_plain_array_with_absolute_hrefs(env) -> None:
    _api, clock, caller = env
    reply = _action(caller, 3, kit.JOB_EXCHANGE_CONTOSO, {"start": None})
    assert reply.status == 200 and reply.raw == b""
    sessions = caller.call("GET", "/v3/Jobs/%s/JobSessions" % kit.JOB_EXCHANGE_CONTOSO).json
    assert isinstance(sessions, list) and len(sessions) == 3
    newest = sessions[0]
    assert set(newest) == {"id", "creationTime", "progress", "status", "statistics", "_links"}  # no endTime while running
    assert newest["status"] == "Running"  # v2-v4 know no Queued
    assert set(newest["statistics"]) == {"processingRateBytesPS", "processingRateItemsPS", "readRateBytesPS",
                                         "writeRateBytesPS", "transferredDataBytes", "processedObjects", "bottleneck"}
    links = newest["_links"]
    assert links["self"]["href"] == "https://127.0.0.1:4443/v3/jobsessions/" + newest["id"]
    assert links["log"]["href"] == "https://127.0.0.1:4443/v3/jobsessions/%s/log" % newest["id"]
    assert links["job"]["href"] == "https://127.0.0.1:4443/v3/jobs/" + kit.JOB_EXCHANGE_CONTOSO
    clock.advance(10)
    done = caller.call("GET", "/v3/JobSessions/" + newest["id"]).json
    assert done["status"] == "Success" and done["endTime"].endswith("Z")
    all_sessions = caller.call("GET", "/v3/JobSessions").json
    assert isinstance(all_sessions, list) and len(all_sessions) == 11  # 10 preloaded + 1


def test_v5_job_sessions_page_with_absolute_hrefs(env) -> None:
    _api, _clock, caller = env
    page = caller.call("GET", "/v5/JobSessions", query={"limit": 4}).json
    assert set(page) == {"offset", "limit", "results", "_links"} and page["limit"] == 4 and len(page["results"]) == 4
    assert page["_links"]["self"]["href"] == "https://127.0.0.1:4443/v5/jobsessions?offset=0&limit=4"
    assert page["_links"]["next"]["href"] == "https://127.0.0.1:4443/v5/jobsessions?offset=4&limit=4"
    item = page["results"][0]
    assert item["_links"]["log"]["href"].endswith("/logitems")
    assert all(ABS.match(link["href"]) for link in item["_links"].values())
    by_job = caller.call("GET", "/v5/Jobs/%s/JobSessions" % kit.JOB_EXCHANGE_CONTOSO).json
    assert by_job["offset"] == 0 and by_job["limit"] == 30 and len(by_job["results"]) == 2
    assert "next" not in by_job["_links"]


def test_v2_statistics_are_display_strings(env) -> None:
    _api, _clock, caller = env
    sessions = caller.call("GET", "/v2/JobSessions").json
    stats = sessions[0]["statistics"]
    assert set(stats) == {"processingRate", "readRate", "writeRate", "transferredData", "processedObjects", "bottleneck"}
    assert re.match(r"^\d+(\.\d)? [KMGT]?B/s \(\d+ items/s\)$", stats["processingRate"])


def test_legacy_job_fields_and_lowercase_enums(env) -> None:
    _api, _clock, caller = env
    for version in (2, 3, 4, 5):
        job = caller.call("GET", "/v%d/Jobs/%s" % (version, kit.JOB_SHAREPOINT_FAILED)).json
        assert set(job) == {"id", "name", "description", "lastRun", "nextRun", "isEnabled", "backupType", "lastStatus",
                            "schedulePolicy", "_links"}
        assert job["backupType"] == "selectedItems" and job["lastStatus"] == "Failed"
        assert job["name"] == 'SharePoint "Intranet" Sites'
        assert job["_links"]["self"]["href"] == "https://127.0.0.1:4443/v%d/jobs/%s" % (version, kit.JOB_SHAREPOINT_FAILED)
        assert set(job["_links"]) == {"self", "organization", "backupRepository", "jobsessions"}
    jobs = caller.call("GET", "/v4/Jobs").json
    assert isinstance(jobs, list) and len(jobs) == 9
    assert caller.call("GET", "/v6/Jobs/" + kit.JOB_SHAREPOINT_FAILED).json["backupType"] == "SelectedItems"


def test_modern_hrefs_are_relative(env) -> None:
    _api, _clock, caller = env
    for version in (6, 7, 8):
        job = caller.call("GET", "/v%d/Jobs/%s" % (version, kit.JOB_LONG)).json
        assert job["_links"]["self"]["href"] == "/v%d/Jobs/%s" % (version, kit.JOB_LONG)
    assert caller.call("GET", "/v6/Jobs/" + kit.JOB_LONG).json["_links"]["jobSessions"]["href"] == \
        "/v6/Jobs/%s/JobSessions" % kit.JOB_LONG
    assert caller.call("GET", "/v7/Jobs/" + kit.JOB_LONG).json["_links"]["jobSessions"]["href"] == \
        "/v7/JobSessions?jobId=" + kit.JOB_LONG


def test_absolute_hrefs_follow_host_header_and_scheme(env) -> None:
    api, _clock, caller = env
    caller.host = "vb365.example:10443"
    job = caller.call("GET", "/v4/Jobs/" + kit.JOB_LONG).json
    assert job["_links"]["self"]["href"] == "https://vb365.example:10443/v4/jobs/" + kit.JOB_LONG
    api.scheme = "http"
    assert caller.call("GET", "/v4/Jobs/" + kit.JOB_LONG).json["_links"]["self"]["href"].startswith("http://vb365")


@pytest.mark.parametrize("version", [2, 3, 4, 5])
def test_legacy_action_endpoint(env, version) -> None:
    api, clock, caller = env
    job = kit.JOB_MUELLER
    for body in ({"disable": None}, {"enable": None}, {"start": None}):
        reply = _action(caller, version, job, body)
        assert reply.status == 200 and reply.raw == b"", (body, reply.raw)
    assert _action(caller, version, job, {"start": None}).status == 400  # already running
    assert _action(caller, version, job, {"stop": None}).status == 200
    assert _action(caller, version, job, {"stop": None}).status == 400  # not running
    assert caller.call("GET", "/v%d/Jobs/%s" % (version, job)).json["lastStatus"] == "Stopped"
    for bad in ({"start": None, "stop": None}, {"resume": None}, [], "start"):
        reply = _action(caller, version, job, bad)
        assert reply.status == 400 and set(reply.json) == {"message"}
    assert caller.call("POST", "/v%d/Jobs/%s/Action" % (version, job)).status == 400  # no body
    assert _action(caller, version, kit.ORG_CONTOSO, {"start": None}).status == 404
    assert caller.call("POST", "/v%d/Jobs/%s/start" % (version, job), body={}).status == 404  # v6+ style absent
    clock.advance(1)
    assert api.counters_view()["actions"][job] == {"disable": 1, "enable": 1, "start": 1, "stop": 1}


def test_legacy_explore_and_restore_session_action(env) -> None:
    _api, _clock, caller = env
    assert _action(caller, 2, kit.JOB_MUELLER, {"explore": {"type": "vex"}}).status == 400  # explore came with v3
    reply = _action(caller, 3, kit.JOB_ONEDRIVE_WARNING, {"explore": {"datetime": "2018.09.17 12:00", "type": "vesp"}})
    assert reply.status == 200
    rs = reply.json
    assert rs["type"] == "vesp" and rs["state"] == "Working"
    assert rs["_links"]["self"]["href"] == "https://127.0.0.1:4443/v3/restoresessions/" + rs["id"]
    assert _action(caller, 4, kit.JOB_MUELLER, {"explore": {"type": "vet"}}).status == 400  # Teams from v5
    assert _action(caller, 5, kit.JOB_MUELLER, {"Explore": {"DateTime": "2019-04-12 10:54:40.279", "Type": "VET",
                                                            "showDeleted": "true"}}).status == 200
    listing = caller.call("GET", "/v3/RestoreSessions").json
    assert isinstance(listing, list) and len(listing) == 2
    paged = caller.call("GET", "/v5/RestoreSessions").json
    assert len(paged["results"]) == 2 and paged["results"][0]["type"] == "vet"
    stop = caller.call("POST", "/v3/RestoreSessions/%s/Action" % rs["id"], body={"stop": None})
    assert stop.status == 200 and stop.raw == b""
    assert caller.call("GET", "/v3/RestoreSessions/" + rs["id"]).json["state"] == "Stopped"
    assert caller.call("POST", "/v3/RestoreSessions/%s/Action" % rs["id"], body={"stop": None}).status == 400
    assert caller.call("POST", "/v3/RestoreSessions/%s/Action" % rs["id"], body={"start": None}).status == 400
    assert caller.call("POST", "/v3/RestoreSessions/%s/Stop" % rs["id"]).status == 404
    assert caller.call("POST", "/v6/RestoreSessions/%s/Action" % rs["id"], body={"stop": None}).status == 404


def test_v6_running_session_has_no_end_time_and_v7_null(env) -> None:
    _api, _clock, caller = env
    assert caller.call("POST", "/v8/Jobs/%s/start" % kit.JOB_LONG, body={}).status == 200
    v6 = caller.call("GET", "/v6/Jobs/%s/JobSessions" % kit.JOB_LONG).json["results"][0]
    assert "endTime" not in v6 and set(v6) == {"id", "details", "creationTime", "retryCount", "progress", "status",
                                               "statistics", "_links"}
    v7 = caller.call("GET", "/v7/JobSessions", query={"jobId": kit.JOB_LONG}).json["results"][0]
    assert v7["endTime"] is None and "jobId" not in v7 and v7["jobType"] == "Backup"


def test_field_sets_per_modern_version(env) -> None:
    _api, _clock, caller = env
    v6 = caller.call("GET", "/v6/Jobs/" + kit.JOB_MUELLER).json
    v7 = caller.call("GET", "/v7/Jobs/" + kit.JOB_MUELLER).json
    v8 = caller.call("GET", "/v8/Jobs/" + kit.JOB_MUELLER).json
    assert {"runNow", "selectedItems", "excludedItems"} <= set(v6) and "lastBackup" not in v6
    assert {"runNow", "selectedItems", "lastBackup"} <= set(v7) and "organizationId" not in v7
    assert {"organizationId", "eTag", "lastBackup"} <= set(v8) and "runNow" not in v8
    assert v8["organizationId"] == kit.ORG_FABRIKAM
    assert v6["selectedItems"][0]["type"] == "PersonalSites"


def test_errors_per_version(env) -> None:
    _api, _clock, caller = env
    path = "/Jobs/" + kit.ORG_CONTOSO
    assert set(caller.call("GET", "/v3" + path).json) == {"message"}
    assert set(caller.call("GET", "/v6" + path).json) == {"message"}
    assert set(caller.call("GET", "/v7" + path).json) == {"message", "errorCode"}
    body = caller.call("GET", "/v8" + path).json
    assert body == {"message": "Job with ID '%s' was not found." % kit.ORG_CONTOSO, "errorCode": "ResourceNotFound",
                    "stackTrace": None}


def test_organizations_per_version(env) -> None:
    _api, _clock, caller = env
    assert isinstance(caller.call("GET", "/v3/Organizations").json, list)
    assert isinstance(caller.call("GET", "/v7/Organizations").json, list)
    page = caller.call("GET", "/v8/Organizations").json
    assert len(page["results"]) == 2
    org = caller.call("GET", "/v7/Organizations/" + kit.ORG_CONTOSO).json
    assert org["name"] == "contoso.onmicrosoft.com" and org["isBackedup"] is True
    assert org["firstBackuptime"] <= org["lastBackuptime"]
    jobs = caller.call("GET", "/v5/Organizations/%s/Jobs" % kit.ORG_FABRIKAM).json
    assert len(jobs) == 4
    assert caller.call("GET", "/v8/Organizations/%s/Jobs" % kit.ORG_FABRIKAM).status == 404  # removed in v8


def test_service_instance(env) -> None:
    _api, _clock, caller = env
    for version in range(2, 9):
        body = caller.call("GET", "/v%d/ServiceInstance" % version).json
        assert body == {"installationId": "3c7b8a36-2d9e-4a36-9f0b-6f1e2d3c4b5a", "version": "8.0.2.159"}


def test_paths_are_case_insensitive_and_trailing_slash(env) -> None:
    _api, _clock, caller = env
    assert caller.call("GET", "/v8/jobs/").status == 200
    assert caller.call("GET", "/V8/JOBSESSIONS").status == 200
    assert caller.call("GET", "/v8/Jobs/%s" % kit.JOB_LONG.upper()).json["id"] == kit.JOB_LONG
