"""VBR emulator: x-api-version negotiation and what changes between revisions (the client's revision decides)."""

from __future__ import annotations

import pytest

from emulator import vbr_testkit as kit
from emulator.vbr_views import build_for, shape_of

UNSUPPORTED = {"errorCode": "NotImplemented", "message": "The specified API version is not supported.", "resourceId": None}


def _logged_in(revision: str = "1.3-rev1", **overrides: object) -> kit.Caller:
    api, _clock = kit.make_api(dict(overrides))
    caller = kit.Caller(api, revision)
    assert caller.login().status == 200
    return caller


def test_every_default_revision_is_accepted() -> None:
    caller = _logged_in()
    for revision in kit.REVISIONS:
        assert caller.call("GET", "/api/v1/jobs", revision=revision).status == 200


@pytest.mark.parametrize("value", [None, "", "1.0-rev2", "1.3-rev2", "2.0-rev0", "1.3", "v1.3-rev1", " 1.3-rev1x"])
def test_missing_or_unsupported_revision(value: str | None) -> None:
    caller = _logged_in()
    reply = caller.call("GET", "/api/v1/jobs", headers={"x-api-version": value})  # type: ignore[dict-item]
    assert reply.status == 400 and reply.json == UNSUPPORTED


def test_revision_is_checked_on_the_token_endpoint_too_and_before_authentication() -> None:
    api, _clock = kit.make_api()
    caller = kit.Caller(api, "9.9-rev9")
    assert caller.login().json == UNSUPPORTED
    assert caller.call("GET", "/api/v1/jobs").json == UNSUPPORTED  # no token either: the revision is checked first
    assert api.counters_view()["token_failures"] == 0
    assert kit.Caller(api, "1.3-REV1").login().status == 200  # the value is compared case-insensitively


def test_unknown_paths_answer_404_whatever_the_revision() -> None:
    caller = _logged_in()
    for path in ("/", "/api", "/api/v1/nothing", "/api/v2/jobs", "/swagger/index.html"):
        for headers in ({}, {"x-api-version": None}):
            reply = caller.call("GET", path, headers=headers)  # type: ignore[arg-type]
            assert reply.status == 404 and reply.json["errorCode"] == "InvalidURI", (path, headers)


def test_paths_are_case_insensitive_and_ignore_a_trailing_slash() -> None:
    caller = _logged_in()
    assert caller.call("GET", "/API/V1/JOBS/").status == 200
    assert caller.call("GET", "/api/v1/Jobs/States").status == 200
    wrong = caller.call("DELETE", "/api/v1/jobs/" + kit.JOB_DAILY)
    assert wrong.status == 405 and wrong.headers["Allow"] == "GET" and wrong.json["errorCode"] == "MethodNotAllowed"


def test_configured_revisions_restrict_and_set_the_newest() -> None:
    caller = _logged_in("1.2-rev1", revisions=["1.1-rev0", "1.2-rev1"])
    assert caller.call("GET", "/api/v1/jobs", revision="1.3-rev0").json == UNSUPPORTED
    assert caller.call("GET", "/api/v1/serverInfo").json["buildVersion"] == "12.3.1.1139"
    caller.configure({"revisions": ["1.3-rev1", "1.1-rev0"]})  # sorted: the newest is the highest
    assert caller.call("GET", "/api/v1/jobs").json == UNSUPPORTED
    assert caller.call("GET", "/api/v1/serverInfo", revision="1.1-rev0").json["buildVersion"] == "13.0.1.180"
    with pytest.raises(ValueError):
        caller.configure({"revisions": ["1.0-rev2"]})
    with pytest.raises(ValueError):
        caller.configure({"revisions": []})


@pytest.mark.parametrize("newest,build", [("1.1-rev0", "12.0.0.1420"), ("1.2-rev1", "12.3.1.1139"),
                                          ("1.3-rev0", "13.0.0.4967"), ("1.3-rev1", "13.0.1.180"),
                                          ("1.4-rev0", "13.2.0.9999"), ("1.2-rev0", "12.3.0.310")])
def test_server_info_build_follows_the_newest_revision(newest: str, build: str) -> None:
    assert build_for(newest) == build
    caller = _logged_in(newest, revisions=[newest])
    info = caller.call("GET", "/api/v1/serverInfo").json
    assert info["buildVersion"] == build and info["name"] == "vbr01.lab.local"


def test_undocumented_revisions_take_the_shape_below() -> None:
    assert shape_of((1, 2, 0)) == "1.1-rev0" and shape_of((1, 1, 2)) == "1.1-rev0"
    assert shape_of((1, 3, 0)) == "1.3-rev0" and shape_of((1, 4, 0)) == "1.3-rev1" and shape_of((2, 0, 0)) == "1.3-rev1"
    caller = _logged_in("1.2-rev0", revisions=["1.2-rev0", "1.3-rev1"])
    session = caller.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_DAILY).json
    assert session["sessionType"] == "Job" and "activityId" in session


def test_session_fields_per_revision() -> None:
    caller = _logged_in()
    session_id = caller.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_REPLICA).json["id"]
    views = {rev: caller.call("GET", "/api/v1/sessions/" + session_id, revision=rev).json for rev in kit.REVISIONS}
    assert views["1.1-rev0"]["activityId"] == kit.JOB_REPLICA and "jobId" not in views["1.1-rev0"]
    assert views["1.1-rev0"]["sessionType"] == "Job" and "platformName" not in views["1.1-rev0"]
    for revision in kit.REVISIONS[1:]:
        assert views[revision]["jobId"] == kit.JOB_REPLICA and "activityId" not in views[revision]
        assert views[revision]["sessionType"] == "ReplicaJob" and views[revision]["platformName"] == "VMware"
    assert "initiatedBy" not in views["1.2-rev1"] and views["1.3-rev0"]["initiatedBy"] == kit.ADMIN[0]


def test_session_types_of_other_jobs() -> None:
    caller = _logged_in()
    expected = {kit.JOB_COPY: ("BackupJob", "BackupCopyJob"), kit.JOB_AGENT: ("AgentBackup", "AgentBackup"),
                kit.JOB_HYPERV: ("BackupJob", "BackupJob"), kit.JOB_DAILY: ("BackupJob", "BackupJob")}
    for job_id, (rev0, rev1) in expected.items():
        session_id = caller.call("POST", "/api/v1/jobs/%s/start" % job_id).json["id"]
        assert caller.call("GET", "/api/v1/sessions/" + session_id, revision="1.3-rev0").json["sessionType"] == rev0
        assert caller.call("GET", "/api/v1/sessions/" + session_id, revision="1.3-rev1").json["sessionType"] == rev1
        assert caller.call("GET", "/api/v1/sessions/" + session_id, revision="1.2-rev1").json["sessionType"] == "BackupJob"


def test_job_types_per_revision() -> None:
    caller = _logged_in()
    for revision, count in kit.VISIBLE_JOBS.items():
        data = caller.call("GET", "/api/v1/jobs", revision=revision).json["data"]
        assert len(data) == count
        types = {job["id"]: job["type"] for job in data}
        assert types[kit.JOB_DAILY] == ("Backup" if revision in ("1.1-rev0", "1.2-rev1") else "VSphereBackup")
    assert caller.call("GET", "/api/v1/jobs/" + kit.JOB_REPLICA, revision="1.1-rev0").status == 404
    assert caller.call("GET", "/api/v1/jobs/" + kit.JOB_FILES, revision="1.3-rev0").status == 404
    assert caller.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_HYPERV, revision="1.2-rev1").status == 404
    # A session of a job the revision does not list is still a session.
    session_id = caller.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_FILES).json["id"]
    assert caller.call("GET", "/api/v1/sessions/" + session_id, revision="1.1-rev0").status == 200


def test_status_and_workload_case_per_revision() -> None:
    caller = _logged_in()
    caller.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_LONG)
    caller.advance(2)
    expected = {"1.1-rev0": ("running", "vm"), "1.2-rev1": ("running", "vm"), "1.3-rev0": ("running", "vm"),
                "1.3-rev1": ("Running", "Vm")}
    for revision, (status, workload) in expected.items():
        state = caller.call("GET", "/api/v1/jobs/states", revision=revision, query={"idFilter": kit.JOB_LONG}).json["data"][0]
        assert (state["status"], state["workload"]) == (status, workload)
        disabled = caller.call("GET", "/api/v1/jobs/states", revision=revision, query={"idFilter": kit.JOB_DISABLED}).json
        assert disabled["data"][0]["status"] == ("Disabled" if revision == "1.3-rev1" else "disabled")
        assert ("highPriority" in state) == (revision in ("1.3-rev0", "1.3-rev1"))
    agent = caller.call("GET", "/api/v1/jobs/states", query={"idFilter": kit.JOB_AGENT}).json["data"][0]
    assert agent["workload"] == "Server"
    caller.call("POST", "/api/v1/jobs/%s/stop" % kit.JOB_LONG)
    stopping = caller.call("GET", "/api/v1/jobs/states", revision="1.3-rev0", query={"idFilter": kit.JOB_LONG}).json
    assert stopping["data"][0]["status"] == "stopping"
    older = caller.call("GET", "/api/v1/jobs/states", revision="1.2-rev1", query={"idFilter": kit.JOB_LONG}).json
    assert older["data"][0]["status"] == "running"  # 1.2-rev1 has no stopping


def test_enable_disable_status_per_revision() -> None:
    caller = _logged_in()
    for revision, status in (("1.1-rev0", 200), ("1.2-rev1", 200), ("1.3-rev0", 200), ("1.3-rev1", 204)):
        reply = caller.call("POST", "/api/v1/jobs/%s/disable" % kit.JOB_SQL, revision=revision)
        assert reply.status == status and (reply.json == {} if status == 200 else reply.raw == b"")
        assert caller.call("POST", "/api/v1/jobs/%s/enable" % kit.JOB_SQL, revision=revision).status == status


def test_retry_exists_from_1_3_rev0() -> None:
    caller = _logged_in()
    for revision in ("1.1-rev0", "1.2-rev1"):
        reply = caller.call("POST", "/api/v1/jobs/%s/retry" % kit.JOB_FAILING, revision=revision)
        assert reply.status == 404 and reply.json["errorCode"] == "InvalidURI"
    assert caller.call("POST", "/api/v1/jobs/%s/retry" % kit.JOB_FAILING, revision="1.3-rev0").status == 201


def test_stop_spec_spelling_per_revision() -> None:
    caller = _logged_in("1.1-rev0")
    caller.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_LONG)
    caller.advance(10)
    caller.call("POST", "/api/v1/jobs/%s/stop" % kit.JOB_LONG, body={"gracefullStop": False})  # 1.1-rev0's spelling
    caller.advance(0.5)
    session = caller.call("GET", "/api/v1/sessions", query={"jobIdFilter": kit.JOB_LONG, "limit": 1}).json["data"][0]
    assert session["state"] == "Stopped"  # immediate: 0.5 s; a graceful stop takes 2 s
