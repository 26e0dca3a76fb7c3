# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_m365: the route table of every API version, version detection, finding jobs across pages, job actions, and the
job adapter, Vb365Jobs, driven through the job lifecycle against the fake server (starts and stops awaited, lost
actions settled and never sent twice, refusals, a job followed through its lastStatus); restore sessions (lost
explores, stops).  The token is tested in test__auth.

Also: the fixes of the reliability suite's VB365 bugs (a start answered later than ``timeout``, an empty job session,
a session without status, a job without id), lost explores, several jobs at once.
"""

from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.module_utils._m365 import Routes
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    USERNAME, Reply, assert_no_secrets, dropped, expect_error, fixture_bytes, jsonr, path_re, read_timeout, refused,
    wrong_tls_version)
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils import veeam_vocabulary as V
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_wire import (
    ANY_VERSION, JOB, NEW_SESSION, ORG, ORG2, job, page, session_body, sessions_page, token_body)
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_wire import M365_SESSION as SESSION

WHEN = datetime.datetime(2026, 11, 20, 22, 0, 0, 123456, tzinfo=datetime.timezone.utc)
OTHER = "0f0f0f0f-1111-4222-8333-444455556666"


# ------------------------------------------------------------------------------------------------ the lifecycle
@pytest.fixture
def vb_run(make_vb, lifecycle):
    """``vb_run(state, wanted=None, version="v8", timeout=30, many=None, **lifecycle options)``: bring the jobs
    into ``state`` as veeam_m365_job_state does; the lifecycle's result."""
    def run(state, wanted=None, version="v8", timeout=30, many=None, **options):
        with make_vb(version, timeout=timeout) as vb:
            return lifecycle(_m365.Vb365Jobs(vb), state, **options).run(wanted or by_id(JOB), many=many)
    return run


def by_id(*ids, full=False):
    return [{"job_id": job_id, "job_name": None, "organization": None, "full": full} for job_id in ids]


def the_job(server, version="v8", *replies):
    """``GET /vN/Jobs/{JOB}`` answers ``replies`` in turn (default: the job as recorded, idle)."""
    server.on("GET", "/%s/Jobs/%s" % (version, JOB), *(replies or (jsonr(200, job()),)))


def sessions_of(server, version, *replies):
    """The job's sessions: ``/vN/JobSessions?jobId=`` from v7, ``/vN/Jobs/{id}/JobSessions`` before."""
    path = "/%s/JobSessions" % version if int(version[1:]) >= 7 else "/%s/Jobs/%s/JobSessions" % (version, JOB)
    server.on("GET", path, *replies)


# ------------------------------------------------------------------------------------------------ Routes
@pytest.mark.parametrize("version", ANY_VERSION)
def test_routes_of_every_version(version):
    r = Routes(version)
    n = int(version[1:])
    assert (r.token(), r.logout()) == ("/%s/token" % version, "/%s/token/logout" % version)
    assert r.job(JOB) == "/%s/Jobs/%s" % (version, JOB)
    assert r.job_session(SESSION) == "/%s/JobSessions/%s" % (version, SESSION)
    assert r.restore_session(SESSION) == "/%s/RestoreSessions/%s" % (version, SESSION)
    assert r.organization_jobs(ORG) == "/%s/Organizations/%s/Jobs" % (version, ORG)
    assert (r.legacy_actions, r.has_logout, r.jobs_paged, r.supports_full, r.supports_explore) == (
        n <= 5, n >= 7, n >= 8, n >= 6, n >= 3)
    assert r.start_returns_session == (n >= 8) and r.jobs_have_organization == (n >= 8)
    assert r.restore_types == (("vex", "veod", "vesp", "vet") if n >= 5 else ("vex", "veod", "vesp"))


@pytest.mark.parametrize("version,expected", [
    ("v2", ("/v2/Jobs/%s/Action" % JOB, {"start": None}, (200, 204))),
    ("v5", ("/v5/Jobs/%s/Action" % JOB, {"start": None}, (200, 204))),
    ("v6", ("/v6/Jobs/%s/start" % JOB, {"full": False}, (204, 200))),
    ("v7", ("/v7/Jobs/%s/start" % JOB, {"full": False}, (204, 200))),
    ("v8", ("/v8/Jobs/%s/start" % JOB, {"full": False}, (200,))),
])
def test_start_route_body_and_codes(version, expected):
    assert Routes(version).action(JOB, "start") == expected


def test_start_with_an_active_full():
    assert Routes("v8").action(JOB, "start", full=True)[1] == {"full": True}
    assert Routes("v6").action(JOB, "start", full=True)[1] == {"full": True}


@pytest.mark.parametrize("version", ANY_VERSION)
@pytest.mark.parametrize("action", ["stop", "enable", "disable"])
def test_other_actions(version, action):
    path, body, codes = Routes(version).action(JOB, action)
    if int(version[1:]) <= 5:
        assert (path, body, codes) == ("/%s/Jobs/%s/Action" % (version, JOB), {action: None}, (200, 204))
    else:
        assert (path, body, codes) == ("/%s/Jobs/%s/%s" % (version, JOB, action), None, (204, 200))


def test_the_legacy_action_bodies_match_the_documented_samples():
    for action in ("start", "stop", "enable", "disable"):
        documented = json.loads(fixture_bytes("m365_legacy_action_%s_request.json" % action))
        assert Routes("v4").action(JOB, action)[1] == documented


@pytest.mark.parametrize("version,path,body,codes", [
    ("v3", "/v3/Jobs/%s/Action" % JOB,
     {"explore": {"datetime": "2026-11-20 22:00:00.123", "type": "vesp", "showDeleted": True, "showAllVersions": False}},
     (200, 201)),
    ("v5", "/v5/Jobs/%s/Action" % JOB,
     {"explore": {"datetime": "2026-11-20 22:00:00.123", "type": "vesp", "showDeleted": True, "showAllVersions": False}},
     (200, 201)),
    ("v6", "/v6/Jobs/%s/explore" % JOB,
     {"dateTime": "2026-11-20T22:00:00.123Z", "type": "Vesp", "showDeleted": True, "showAllVersions": False}, (200, 201)),
    ("v7", "/v7/Jobs/%s/explore" % JOB,
     {"dateTime": "2026-11-20T22:00:00.123Z", "type": "Vesp", "showDeleted": True, "showAllVersions": False}, (200, 201)),
    ("v8", "/v8/Jobs/%s/explore" % JOB,
     {"dateTime": "2026-11-20T22:00:00.123Z", "type": "Vesp", "showDeleted": True, "showAllVersions": False}, (201, 200)),
])
def test_explore_route_body_enum_case_and_codes(version, path, body, codes):
    assert Routes(version).explore(JOB, WHEN, "vesp", True, False) == (path, body, codes)


def test_the_v8_explore_body_has_the_fields_of_the_reconstructed_sample():
    sample = json.loads(fixture_bytes("m365_explore_request_v8_reconstructed.json"))
    assert set(Routes("v8").explore(JOB, WHEN, "vex", False, False)[1]) == set(sample)


@pytest.mark.parametrize("version,expected", [
    ("v2", ("/v2/Jobs/%s/JobSessions" % JOB, False)),
    ("v4", ("/v4/Jobs/%s/JobSessions" % JOB, False)),
    ("v5", ("/v5/Jobs/%s/JobSessions?limit=30" % JOB, True)),
    ("v6", ("/v6/Jobs/%s/JobSessions?limit=30" % JOB, True)),
    ("v7", ("/v7/JobSessions?jobId=%s&limit=30" % JOB, True)),
    ("v8", ("/v8/JobSessions?jobId=%s&limit=30" % JOB, True)),
])
def test_job_sessions_route_and_paging(version, expected):
    assert Routes(version).job_sessions(JOB) == expected


@pytest.mark.parametrize("version,expected", [
    ("v5", ("/v5/RestoreSessions/%s/Action" % SESSION, {"stop": None}, (200, 204))),
    ("v6", ("/v6/RestoreSessions/%s/Stop" % SESSION, None, (204, 200))),
    ("v8", ("/v8/RestoreSessions/%s/Stop" % SESSION, None, (204, 200))),
])
def test_stop_restore_session_route(version, expected):
    assert Routes(version).stop_restore_session(SESSION) == expected


def test_jobs_and_organizations_paging():
    assert Routes("v8").jobs(0, 500) == "/v8/Jobs?offset=0&limit=500"
    assert Routes("v8").jobs(1000, 500) == "/v8/Jobs?offset=1000&limit=500"
    assert Routes("v8").jobs() == "/v8/Jobs"
    assert Routes("v7").jobs(0, 500) == "/v7/Jobs"
    assert Routes("v8").organizations() == "/v8/Organizations?limit=10000"
    assert Routes("v7").organizations() == "/v7/Organizations"


def test_ids_are_quoted_in_paths():
    assert Routes("v8").job("a/b c") == "/v8/Jobs/a%2Fb%20c"


@pytest.mark.parametrize("version", ["v1", "v9", "V8", "8", "auto", ""])
def test_unknown_route_versions(version):
    with expect_error("usage") as caught:
        Routes(version)
    assert str(caught.error) == "api_version %r is not one of v2, v3, v4, v5, v6, v7, v8, auto" % version


# ------------------------------------------------------------------------------------------------ the client
def test_version_detection(server, make_vb):
    server.on("GET", "/v8/ServiceInstance", Reply(404))
    server.on("GET", "/v7/ServiceInstance", Reply(401))
    server.on("POST", "/v7/token", token_body())
    server.on("POST", "/v7/token/logout", Reply(200))
    with make_vb("auto") as vb:
        assert vb.version == "v7" and vb.routes.version == "v7"
    assert [c.path for c in server.calls] == ["/v8/ServiceInstance", "/v7/ServiceInstance", "/v7/token",
                                              "/v7/token/logout"]


def test_version_detection_finds_nothing(server, make_vb):
    server.on("GET", path_re(r"^/v\d/ServiceInstance$"), Reply(404))
    with expect_error("not_found") as caught:
        with make_vb("auto"):
            pass
    assert str(caught.error) == ("The server offers none of the VB365 REST API versions v2-v8 (every probe of "
                                 "/vN/ServiceInstance answered 404); is this the VB365 REST API port (4443 by default), "
                                 "and is the REST API enabled in VB365?")
    assert server.count("GET") == 7


def test_version_detection_stops_at_another_error(server, make_vb):
    server.on("GET", "/v8/ServiceInstance", jsonr(500, {"message": "Service is starting."}))
    with expect_error("http") as caught:
        with make_vb("auto"):
            pass
    assert str(caught.error) == ("Could not detect the VB365 REST API version: Service is starting (HTTP 500 on GET "
                                 "/v8/ServiceInstance)")


def test_an_unknown_version_is_not_detected(make_vb):
    vb = make_vb("auto")
    assert vb.version is None and vb.routes is None and vb.auth is None


def test_bad_client_arguments(make_vb):
    with expect_error("usage", "api_version 'v9' is not one of v2, v3, v4, v5, v6, v7, v8, auto"):
        make_vb("v9")
    with expect_error("usage", "username and password are required"):
        make_vb("v8", password="")
    with expect_error("usage", "username and password are required"):
        make_vb("v8", username=None)


def test_the_connection_of_vb365():
    conn = _m365.CONNECTION
    assert (conn.name, conn.env, conn.port, conn.default_version, conn.base_path, conn.options) == (
        "m365", "VEEAM_M365", 4443, "auto", "", {"session_token": {"type": "str", "no_log": True}})
    assert conn.versions == _m365.API_VERSIONS and conn.connect is _m365.connect


# ------------------------------------------------------------------------------------------------ find_job
def test_find_a_job_across_v8_pages(vb_server, make_vb):
    first = [job(id="%08x-0000-4000-8000-000000000000" % i, name="Job %d" % i) for i in range(500)]
    vb_server.on("GET", "/v8/Jobs", lambda call: page(first) if call.params["offset"] == ["0"] else page([job()], 500))
    with make_vb() as vb:
        found = vb.find_job(job_name="Backup Job ABC")
    assert found["id"] == JOB
    assert [(c.params["offset"], c.params["limit"]) for c in vb_server.calls if c.path == "/v8/Jobs"] == [
        (["0"], ["500"]), (["500"], ["500"])]


def test_a_server_that_caps_the_page_size_is_read_to_the_end(vb_server, make_vb):
    """A page as long as the server's own limit (100, below the 500 asked for) may have more after it."""
    jobs = [job(id="%08x-0000-4000-8000-000000000000" % i, name="Job %d" % i) for i in range(250)] + [job()]

    def capped(call):
        offset = int(call.params["offset"][0])
        return page(jobs[offset:offset + 100], offset, limit=100)
    vb_server.on("GET", "/v8/Jobs", capped)
    with make_vb() as vb:
        assert len(vb.list_jobs()) == 251
        assert vb.find_job(job_name="Backup Job ABC")["id"] == JOB
    offsets = [c.params["offset"][0] for c in vb_server.calls if c.path == "/v8/Jobs"]
    assert offsets == ["0", "100", "200"] * 2


def test_a_short_page_ends_the_list(vb_server, make_vb):
    vb_server.on("GET", "/v8/Jobs", page([job()], 0, limit=500))
    with make_vb() as vb:
        assert len(vb.list_jobs()) == 1
    assert vb_server.count("GET", "/v8/Jobs") == 1


def test_a_page_limit_above_the_one_asked_for_is_not_trusted(vb_server, make_vb):
    """A page of 500 with a limit of 1000 said: still as long as asked, so the next page is read."""
    first = [job(id="%08x-0000-4000-8000-000000000000" % i, name="Job %d" % i) for i in range(500)]
    vb_server.on("GET", "/v8/Jobs", lambda call: page(first, 0, limit=1000) if call.params["offset"] == ["0"]
                 else page([job()], 500, limit=1000))
    with make_vb() as vb:
        assert len(vb.list_jobs()) == 501


def test_a_server_that_ignores_the_offset_is_not_read_for_ever(vb_server, make_vb):
    first = [job(id="%08x-0000-4000-8000-000000000000" % i, name="Job %d" % i) for i in range(500)]
    vb_server.on("GET", "/v8/Jobs", page(first))
    with expect_error("parse") as caught:
        with make_vb() as vb:
            vb.list_jobs()
    assert vb_server.count("GET", "/v8/Jobs") == 2
    assert str(caught.error).startswith("The server sent page 2 of jobs with nothing new")


def some(count):
    return [{"id": "%08x-0000-4000-8000-000000000000" % i} for i in range(count)]


@pytest.mark.parametrize("data,asked,expected", [
    ({"results": some(30), "limit": 30}, 1000, True),
    ({"results": some(29), "limit": 30}, 1000, False),
    ({"results": some(1000)}, 1000, True),
    ({"results": some(999)}, 1000, False),
    ({"results": some(30), "limit": "30"}, 1000, False),
    ({"results": some(30), "limit": True}, 1000, False),
    ({"results": some(30), "limit": 0}, 1000, False),
    (some(1000), 1000, True),
])
def test_page(data, asked, expected):
    items, more = _m365._page(data, asked)  # pylint: disable=protected-access
    assert more is expected and items == (data["results"] if isinstance(data, dict) else data)


def test_restore_sessions_are_read_through_capped_pages(vb_server, make_vb):
    sessions = [restore("%08x-0000-4000-8000-000000000000" % i) for i in range(150)]

    def capped(call):
        offset = int(call.params["offset"][0])
        return jsonr(200, {"offset": offset, "limit": 100, "results": sessions[offset:offset + 100]})
    vb_server.on("GET", "/v7/RestoreSessions", capped)
    with make_vb("v7") as vb:
        assert len(vb.list_restore_sessions()) == 150
    assert [c.params["limit"][0] for c in vb_server.calls if c.path == "/v7/RestoreSessions"] == ["1000", "1000"]


def test_a_v7_job_list_is_one_array(vb_server, make_vb):
    vb_server.on("GET", "/v7/Jobs", jsonr(200, "m365_jobs_list_v7_reconstructed.json"))
    with make_vb("v7") as vb:
        assert vb.find_job(job_name="Backup Job ABC")["id"] == JOB
    assert [c.query for c in vb_server.calls if c.path == "/v7/Jobs"] == [""]


def test_several_jobs_of_that_name(vb_server, make_vb):
    twin = job(id="0f0f0f0f-1111-4222-8333-444455556666", organizationId=ORG2)
    vb_server.on("GET", "/v8/Jobs", page([job(), twin]))
    vb_server.on("GET", "/v8/Organizations", jsonr(200, {"offset": 0, "limit": 10000, "results": [
        {"id": ORG, "name": "tech.onmicrosoft.com"}, {"id": ORG2, "name": "fabrikam.onmicrosoft.com"}]}))
    with expect_error("ambiguous") as caught:
        with make_vb() as vb:
            vb.find_job(job_name="Backup Job ABC")
    assert str(caught.error) == (
        "2 VB365 jobs are named 'Backup Job ABC': %s (organization tech.onmicrosoft.com); "
        "0f0f0f0f-1111-4222-8333-444455556666 (organization fabrikam.onmicrosoft.com). Choose one with organization or "
        "job_id" % JOB)


def test_organization_chooses_among_same_named_jobs(vb_server, make_vb):
    twin = job(id="0f0f0f0f-1111-4222-8333-444455556666", organizationId=ORG2)
    vb_server.on("GET", "/v8/Jobs", page([job(), twin]))
    vb_server.on("GET", "/v8/Organizations", jsonr(200, {"offset": 0, "limit": 10000, "results": [
        {"id": ORG, "name": "tech.onmicrosoft.com"}, {"id": ORG2, "name": "fabrikam.onmicrosoft.com"}]}))
    with make_vb() as vb:
        assert vb.find_job(job_name="Backup Job ABC", organization="FABRIKAM.onmicrosoft.com")["organizationId"] == ORG2


def test_no_job_of_that_name(vb_server, make_vb):
    vb_server.on("GET", "/v8/Jobs", page([job(name="backup job abc"), job(id=SESSION, name="Other")]))
    with expect_error("not_found") as caught:
        with make_vb() as vb:
            vb.find_job(job_name="Backup Job ABC")
    assert str(caught.error) == "No VB365 job named 'Backup Job ABC'. Names are matched exactly; similar: 'backup job abc'"
    vb_server.on("GET", "/v8/Jobs", page([job(name="Other")]))
    with expect_error("not_found") as caught:
        with make_vb() as vb:
            vb.find_job(job_name="Backup Job ABC")
    assert str(caught.error) == "No VB365 job named 'Backup Job ABC'. Check the name in VB365 (1 jobs listed)"


@pytest.mark.parametrize("name", ["", "  ", None])
def test_an_empty_job_name(make_vb, name):
    with expect_error("usage") as caught:
        make_vb().find_job(job_name=name)
    assert str(caught.error) == "job_name is empty: give the exact name of the job, or job_id"


def test_a_malformed_job_id(make_vb):
    with expect_error("usage") as caught:
        make_vb().find_job(job_id="93089cfa")
    assert str(caught.error) == "job_id '93089cfa' is not a VB365 job id (a GUID)"


def test_an_unknown_job_id(vb_server, make_vb):
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(404, {"message": "Job not found."}))
    with expect_error("not_found") as caught:
        with make_vb() as vb:
            vb.find_job(job_id=JOB.upper())
    assert str(caught.error) == ("No VB365 job with id %s. List the jobs with their ids in VB365, or select the job by "
                                 "job_name" % JOB)


def test_a_list_in_an_unexpected_shape(vb_server, make_vb):
    vb_server.on("GET", "/v8/Jobs", jsonr(200, {"jobs": []}))
    with expect_error("parse", "VB365 sent a list in an unexpected shape (dict)"):
        with make_vb() as vb:
            vb.list_jobs()


# ------------------------------------------------------------------------------------------------ actions (client)
def test_a_v8_start_answers_with_the_session(vb_server, make_vb):
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, jsonr(200, "m365_job_session_running_v8_reconstructed.json"))
    with make_vb() as vb:
        session = vb.act(job(), "start")
    assert session["id"] == SESSION and session["status"] == "Running"
    post = [c for c in vb_server.calls if c.path.endswith("/start")][0]
    assert post.json == {"full": False} and post.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("version,path,body", [("v7", "/v7/Jobs/%s/start" % JOB, {"full": False}),
                                               ("v5", "/v5/Jobs/%s/Action" % JOB, {"start": None})])
def test_an_older_start_answers_with_nothing(vb_server, make_vb, version, path, body):
    vb_server.on("POST", path, Reply(204 if version == "v7" else 200))
    with make_vb(version) as vb:
        assert vb.act(job(), "start") is None
    assert [c.json for c in vb_server.calls if c.path == path] == [body]


def test_a_start_answered_with_something_else_than_a_session(vb_server, make_vb):
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, jsonr(200, {"status": "Running"}), jsonr(200, ["x"]))
    with make_vb() as vb:
        assert vb.act(job(), "start") is None
        assert vb.act(job(), "start") is None


def test_a_refused_action_is_retried_because_nothing_was_sent(vb_server, make_vb):
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, refused(), jsonr(200, "m365_job_session_running_v8_reconstructed.json"))
    with make_vb() as vb:
        assert vb.act(job(), "start")["id"] == SESSION
    assert vb_server.count("POST", "/v8/Jobs/%s/start" % JOB) == 1


@pytest.mark.parametrize("fault", [dropped, read_timeout])
def test_a_lost_action_is_a_lost_answer_for_the_lifecycle_to_settle(vb_server, make_vb, fault):
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, fault())
    with expect_error("response_lost") as caught:
        with make_vb() as vb:
            vb.act(job(), "start")
    assert caught.error.timed_out is (fault is read_timeout)
    assert vb_server.count("POST", "/v8/Jobs/%s/start" % JOB) == 1


@pytest.mark.parametrize("status,code,kind", [
    (409, None, "conflict"), (400, "OperationConflict", "conflict"), (400, None, "http"), (500, None, "http"),
    (403, None, "forbidden")])
def test_a_refused_start(vb_server, make_vb, status, code, kind):
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, jsonr(status, {"message": "Job is already running.",
                                                                   "errorCode": code}))
    with expect_error(kind) as caught:
        with make_vb() as vb:
            vb.act(job(), "start")
    assert str(caught.error) == ("VB365 refused to start job 'Backup Job ABC': Job is already running (HTTP %d on POST "
                                 "/v8/Jobs/{id}/start)" % status)
    assert caught.error.veeam_code == code and vb_server.count("POST", "/v8/Jobs/%s/start" % JOB) == 1


# ------------------------------------------------------------------------------------------------ the lifecycle
def test_a_v8_start_is_awaited_through_the_session_it_answered_with(vb_server, vb_run, clock, journal):
    the_job(vb_server)
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, jsonr(200, session_body("Running")))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body("Running")),
                 jsonr(200, session_body("Success")))
    result = vb_run("started")
    assert result["changed"] is True and result["api_version"] == "v8"
    assert result["msg"] == "Started job 'Backup Job ABC': session %s ended Success after 1.0 s" % SESSION
    assert result["session"]["status"] == "Success" and result["job"]["name"] == "Backup Job ABC"
    assert result["history"] == [{"state": "Running", "elapsed": 0.0}, {"state": "Success", "elapsed": 1.0}]
    # the vocabulary (docs/vocabulary.md): state and result from the status, the session names its job
    session = result["session"]
    assert (session["state"], session["result"], session["canceled"]) == ("Stopped", "Success", False)
    assert (session["job_id"], session["job_name"]) == (JOB, "Backup Job ABC")
    assert (session["job_id"], session["job_name"]) == (result["job"]["id"], result["job"]["name"])
    assert session["processed_objects"] == session_body()["progress"] and session["progress_percent"] is None
    assert set(session) == V.session_keys("VB365") and set(result["job"]) == V.job_keys("VB365")
    assert clock.sleeps == [1.0]  # Vb365Jobs is not fresh: the first poll comes at once
    assert journal.changes == ["Started job 'Backup Job ABC' (session %s)" % SESSION]
    assert vb_server.count("GET", "/v8/JobSessions") == 0  # no session read before a v8 start


def test_a_v7_start_is_awaited_through_the_new_session(vb_server, vb_run):
    the_job(vb_server, "v7", jsonr(200, job()))
    old = session_body("Success", id=OTHER, creationTime="2019-06-15T22:00:00Z")
    sessions_of(vb_server, "v7", sessions_page(old), sessions_page(old),
                sessions_page(session_body("Running"), old))
    vb_server.on("POST", "/v7/Jobs/%s/start" % JOB, Reply(204))
    vb_server.on("GET", "/v7/JobSessions/%s" % SESSION, jsonr(200, session_body("Success")))
    result = vb_run("started", version="v7")
    assert result["msg"] == "Started job 'Backup Job ABC': session %s ended Success after 2.0 s" % SESSION
    assert [h["state"] for h in result["history"]] == ["waiting for the new job session to appear", "Running",
                                                       "Success"]
    # a v7 session names its job too (jobId, or the job it was read for)
    assert (result["session"]["job_id"], result["session"]["job_name"]) == (JOB, "Backup Job ABC")
    post = [c for c in vb_server.calls if c.method == "POST" and c.path.endswith("/start")][0]
    assert post.json == {"full": False}


def test_a_v5_job_whose_sessions_are_not_listed_is_followed_through_its_last_status(vb_server, vb_run, warnings):
    sessions_of(vb_server, "v5", jsonr(404, {"message": "Not found."}))
    the_job(vb_server, "v5", jsonr(200, job()), jsonr(200, job(lastStatus="Running")),
            jsonr(200, job(lastStatus="Mystery")), jsonr(200, job(lastStatus="Warning")))
    vb_server.on("POST", "/v5/Jobs/%s/Action" % JOB, Reply(200))
    result = vb_run("started", version="v5")
    assert [h["state"] for h in result["history"]] == ["job lastStatus Running", "job lastStatus Mystery",
                                                       "job lastStatus Warning"]
    assert result["msg"] == "Started job 'Backup Job ABC': the run ended Warning after 2.0 s"
    assert warnings == ["VB365 v5 does not list the sessions of job 'Backup Job ABC' (404); following the job's "
                        "lastStatus instead", "Job 'Backup Job ABC' ended with a warning"]
    assert "session" not in result


def test_a_v6_server_that_does_not_list_sessions_is_an_error(vb_server, vb_run):
    sessions_of(vb_server, "v6", jsonr(404, {"message": "Not found."}))
    the_job(vb_server, "v6")
    with expect_error("not_found", "VB365 could not return the sessions of job %s" % JOB):
        vb_run("started", version="v6")


def test_a_running_job_is_awaited_and_not_started_again(vb_server, vb_run):
    the_job(vb_server, "v8", jsonr(200, job(lastStatus="Running")), jsonr(200, job(lastStatus="Success")))
    sessions_of(vb_server, "v8", sessions_page(session_body("Running")))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body("Success")))
    result = vb_run("started")
    assert result["changed"] is False and vb_server.count("POST", path_re(r"/start$")) == 0
    assert result["msg"] == ("Job 'Backup Job ABC' is already running (session %s, Running); not started again: "
                             "session %s ended Success after 0.0 s" % (SESSION, SESSION))


def test_a_queued_job_without_a_running_session_is_not_started_again(vb_server, vb_run):
    the_job(vb_server, "v8", jsonr(200, job(lastStatus="Queued")))
    sessions_of(vb_server, "v8", sessions_page(session_body("Success")))
    result = vb_run("started", wait=False)
    assert result["changed"] is False and result["msg"] == "Job 'Backup Job ABC' is already running; not started again"


def test_a_stop_is_awaited_until_the_session_stops(vb_server, vb_run, warnings):
    the_job(vb_server, "v8", jsonr(200, job(lastStatus="Running")), jsonr(200, job(lastStatus="Stopped")))
    sessions_of(vb_server, "v8", sessions_page(session_body("Running")))
    vb_server.on("POST", "/v8/Jobs/%s/stop" % JOB, Reply(204))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body("Running")),
                 jsonr(200, session_body("Stopped")))
    result = vb_run("stopped")
    assert result["changed"] is True and warnings == []
    assert result["msg"] == "Stopped job 'Backup Job ABC': session %s ended Stopped after 1.0 s" % SESSION
    assert [c.json for c in vb_server.calls if c.path.endswith("/stop")] == [None]


def test_a_run_that_ended_before_the_stop(vb_server, vb_run, warnings):
    the_job(vb_server, "v8", jsonr(200, job(lastStatus="Running")))
    sessions_of(vb_server, "v8", sessions_page(session_body("Running")))
    vb_server.on("POST", "/v8/Jobs/%s/stop" % JOB, Reply(204))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body("Success")))
    assert vb_run("stopped")["changed"] is True
    assert warnings == ["Job 'Backup Job ABC' ended Success before the stop took effect"]


def test_a_stop_without_waiting_reads_the_session_once(vb_server, vb_run):
    the_job(vb_server, "v8", jsonr(200, job(lastStatus="Running")))
    sessions_of(vb_server, "v8", sessions_page(session_body("Running")))
    vb_server.on("POST", "/v8/Jobs/%s/stop" % JOB, Reply(204))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body("Stopped")))
    result = vb_run("stopped", wait=False)
    assert result["msg"] == "Asked VB365 to stop job 'Backup Job ABC' (session %s)" % SESSION
    assert result["session"]["status"] == "Stopped"


def test_a_job_that_is_not_running_is_not_stopped(vb_server, vb_run):
    the_job(vb_server)
    result = vb_run("stopped")
    assert result["changed"] is False and result["msg"] == "Job 'Backup Job ABC' is not running (last status Success)"
    the_job(vb_server, "v8", jsonr(200, job(lastStatus=None)))
    assert vb_run("stopped")["msg"] == "Job 'Backup Job ABC' is not running (last status none: it never ran)"


@pytest.mark.parametrize("version,path,body", [("v8", "/v8/Jobs/%s/disable" % JOB, None),
                                               ("v5", "/v5/Jobs/%s/Action" % JOB, {"disable": None})])
def test_disable_and_enable(vb_server, vb_run, journal, version, path, body):
    the_job(vb_server, version, jsonr(200, job()), jsonr(200, job(isEnabled=False)))
    vb_server.on("POST", path, Reply(204 if version == "v8" else 200))
    result = vb_run("disabled", version=version)
    assert result["changed"] is True and result["msg"] == "Disabled job 'Backup Job ABC'"
    assert result["job"]["is_enabled"] is False  # read again after the action
    assert [c.json for c in vb_server.calls if c.path == path] == [body]
    the_job(vb_server, version, jsonr(200, job(isEnabled=False)))
    assert vb_run("disabled", version=version)["msg"] == "Job 'Backup Job ABC' is already disabled"
    assert journal.changes == ["Disabled job 'Backup Job ABC'"]


def test_an_active_full_backup(vb_server, vb_run):
    the_job(vb_server)
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, jsonr(200, session_body("Running", jobSessionConfigType="Full")))
    result = vb_run("started", by_id(JOB, full=True), wait=False)
    assert result["msg"] == "Started an active full backup of job 'Backup Job ABC' (session %s)" % SESSION
    assert result["session"]["job_session_config_type"] == "Full"
    assert [c.json for c in vb_server.calls if c.path.endswith("/start")] == [{"full": True}]
    assert vb_run("started", by_id(JOB, full=True), check_mode=True)["msg"] == (
        "Would start an active full backup of job 'Backup Job ABC'")


def test_full_needs_v6(vb_server, vb_run):
    the_job(vb_server, "v5")
    with expect_error("usage") as caught:
        vb_run("started", by_id(JOB, full=True), version="v5")
    assert str(caught.error) == ("full: true needs VB365 REST API v6 or later; v5 has no active full backup in its start "
                                 "action")
    assert caught.error.details["job"]["id"] == JOB and vb_server.count("POST", path_re(r"/Action$")) == 0


def test_check_mode_reads_no_session_and_sends_nothing(vb_server, vb_run):
    the_job(vb_server, "v7")
    result = vb_run("started", version="v7", check_mode=True)
    assert result["msg"] == "Would start job 'Backup Job ABC'" and result["api_version"] == "v7"
    assert [c.method for c in vb_server.calls] == ["POST", "GET", "POST"]  # token, job, logout


# ------------------------------------------------------------------------------------------------ lost and refused
@pytest.mark.parametrize("fault", [dropped, read_timeout])
def test_a_lost_start_is_settled_by_reading_the_job(vb_server, vb_run, warnings, fault):
    the_job(vb_server, "v7", jsonr(200, job()), jsonr(200, job(lastStatus="Running")))
    sessions_of(vb_server, "v7", sessions_page(session_body("Success")))
    vb_server.on("POST", "/v7/Jobs/%s/start" % JOB, fault(), Reply(204))
    result = vb_run("started", version="v7", wait=False)
    assert result["changed"] is True and result["msg"] == "Started job 'Backup Job ABC'"
    assert vb_server.count("POST", "/v7/Jobs/%s/start" % JOB) == 1
    assert warnings == ["The response to the start of job 'Backup Job ABC' was lost; VB365 shows it took effect, so it "
                        "was not sent again"]


def test_a_lost_start_settled_by_a_new_session(vb_server, vb_run, warnings):
    the_job(vb_server, "v7")
    old = session_body("Success", id=OTHER)
    sessions_of(vb_server, "v7", sessions_page(old), sessions_page(session_body("Running"), old))
    vb_server.on("POST", "/v7/Jobs/%s/start" % JOB, dropped())
    vb_server.on("GET", "/v7/JobSessions/%s" % SESSION, jsonr(200, session_body("Success")))
    result = vb_run("started", version="v7")
    assert result["session"]["id"] == SESSION  # the new session VB365 lists, so the wait follows it at once
    assert result["msg"] == "Started job 'Backup Job ABC': session %s ended Success after 0.0 s" % SESSION
    assert vb_server.count("POST", "/v7/Jobs/%s/start" % JOB) == 1 and len(warnings) == 1


def test_a_lost_start_that_did_not_happen(vb_server, vb_run, warnings, journal):
    the_job(vb_server, "v7")
    sessions_of(vb_server, "v7", sessions_page(session_body("Success")))
    vb_server.on("POST", "/v7/Jobs/%s/start" % JOB, dropped())
    with expect_error("response_lost", warnings=warnings) as caught:
        vb_run("started", version="v7")
    assert str(caught.error) == ("The start request for job 'Backup Job ABC' got no response, and VB365 shows it did not "
                                 "take effect; it was not sent again (POST /v7/Jobs/{id}/start). Run the task again once "
                                 "the connection to VB365 is stable")
    assert vb_server.count("POST", "/v7/Jobs/%s/start" % JOB) == 1 and warnings == []
    assert journal.annotate(caught.error)[1] is False


@pytest.mark.parametrize("state,before,after", [
    ("enabled", {"isEnabled": False}, {"isEnabled": True}), ("disabled", {}, {"isEnabled": False}),
    ("stopped", {"lastStatus": "Running"}, {"lastStatus": "Stopped"})])
def test_other_lost_actions_are_settled_too(vb_server, vb_run, warnings, state, before, after):
    action = {"enabled": "enable", "disabled": "disable", "stopped": "stop"}[state]
    the_job(vb_server, "v8", jsonr(200, job(**before)), jsonr(200, job(**after)))
    sessions_of(vb_server, "v8", sessions_page(session_body("Running")))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body("Stopped")))
    vb_server.on("POST", "/v8/Jobs/%s/%s" % (JOB, action), dropped())
    result = vb_run(state, wait=False)
    assert result["changed"] is True and len(warnings) == 1
    assert vb_server.count("POST", "/v8/Jobs/%s/%s" % (JOB, action)) == 1


def test_a_start_answered_later_than_timeout_is_looked_for_as_long_again(vb_server, vb_run, clock, warnings):
    """Bug (reliability suite, v6): a start VB365 carried out after the answer timed out was reported as not taken
    effect.  It is looked for once a second for as long again as timeout, and never sent twice."""
    vb_server.on("POST", "/v6/Jobs/%s/start" % JOB, read_timeout())
    the_job(vb_server, "v6", jsonr(200, job(lastStatus="Success")), jsonr(200, job(lastStatus="Success")),
            jsonr(200, job(lastStatus="Success")), jsonr(200, job(lastStatus="Running")))
    sessions_of(vb_server, "v6", sessions_page(session_body("Success")), sessions_page(session_body("Success")),
                sessions_page(session_body("Success")), sessions_page(session_body("Queued", id=NEW_SESSION)))
    result = vb_run("started", version="v6", timeout=2, wait=False)
    assert result["session"]["id"] == NEW_SESSION and result["msg"] == "Started job 'Backup Job ABC' (session %s)" % (
        NEW_SESSION)
    assert vb_server.count("POST", "/v6/Jobs/%s/start" % JOB) == 1 and clock.sleeps == [1.0, 1.0]
    assert warnings == ["The response to the start of job 'Backup Job ABC' was lost; VB365 shows it took effect, so it "
                        "was not sent again"]


def test_a_timed_out_start_that_does_not_show_may_still_be_carried_out(vb_server, vb_run, clock, warnings, journal):
    vb_server.on("POST", "/v6/Jobs/%s/start" % JOB, read_timeout())
    the_job(vb_server, "v6", jsonr(200, job(lastStatus="Success")))
    sessions_of(vb_server, "v6", sessions_page(session_body("Success")))
    with expect_error("response_lost", warnings=warnings) as caught:
        vb_run("started", version="v6", timeout=2.5)
    assert str(caught.error) == (
        "VB365 did not answer the start of job 'Backup Job ABC' within 2.5 s (the timeout option), and 3 s later still "
        "shows no sign of it; the start was not sent again, but VB365 may still carry it out (POST "
        "/v6/Jobs/{id}/start). Check the job's state and sessions before you start it again, and raise timeout if VB365 "
        "is slow")
    assert "did not take effect" not in str(caught.error)
    assert vb_server.count("POST", "/v6/Jobs/%s/start" % JOB) == 1 and clock.sleeps == [1.0, 1.0, 1.0]
    assert journal.changes == []


def test_a_dropped_start_is_not_looked_for_again(vb_server, vb_run, clock):
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, dropped())
    the_job(vb_server, "v8", jsonr(200, job(lastStatus="Success")))
    with expect_error("response_lost", "VB365 shows it did not take effect"):
        vb_run("started")
    assert clock.sleeps == [] and vb_server.count("GET", "/v8/Jobs/%s" % JOB) == 2  # found, then looked at once


def test_a_lost_v8_start_is_seen_by_the_job_last_run(vb_server, vb_run, warnings):
    """v8 reads no session before a start (the start answers with it): a job whose run already ended is told
    started by its lastRun."""
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, dropped())
    the_job(vb_server, "v8", jsonr(200, job(lastRun="2026-11-22T10:00:00Z")),
            jsonr(200, job(lastStatus="Success", lastRun="2026-11-23T10:00:00Z")))
    result = vb_run("started", wait=False)
    assert result["changed"] is True and len(warnings) == 1 and "session" not in result


def test_a_start_refused_because_it_runs_meanwhile(vb_server, vb_run, warnings):
    the_job(vb_server, "v8", jsonr(200, job()), jsonr(200, job(lastStatus="Running")))
    sessions_of(vb_server, "v8", sessions_page(session_body("Running")))
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, jsonr(400, {"message": "Job is already running.",
                                                                "errorCode": "OperationConflict"}))
    result = vb_run("started", wait=False)
    assert result["changed"] is False
    assert result["msg"] == "Job 'Backup Job ABC' is already running (session %s, Running); not started again" % SESSION
    assert warnings == ["VB365 refused to start job 'Backup Job ABC': Job is already running. It started since the "
                        "module read it, so it was left running"]


def test_in_a_list_a_refused_start_fails_that_job_only(vb_server, vb_run):
    the_job(vb_server)
    vb_server.on("GET", "/v8/Jobs/%s" % OTHER, jsonr(200, job(id=OTHER, name="Other")))
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, jsonr(200, session_body("Running")))
    vb_server.on("POST", "/v8/Jobs/%s/start" % OTHER, jsonr(403, {"message": "Access denied."}))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body("Success")))
    with expect_error("job_failed") as caught:
        vb_run("started", by_id(JOB, OTHER))
    assert str(caught.error) == ("2 jobs: 1 started, 0 already running, 1 failed: VB365 refused to start job 'Other': "
                                 "Access denied (HTTP 403 on POST /v8/Jobs/{id}/start)")
    results = caught.error.details["jobs"]
    assert [(r["changed"], r["failed"]) for r in results] == [(True, False), (False, True)]
    assert caught.error.details["api_version"] == "v8"


# ------------------------------------------------------------------------------------------------ waiting
def test_empty_sessions_end_a_wait_after_the_tolerated_polls(vb_server, vb_run, journal):
    """Bug (reliability suite): an empty 200 for GET /JobSessions/{id} was read as "no session yet".  It is an answer
    that cannot be read: tolerated while polling like connection trouble, up to three in a row."""
    the_job(vb_server)
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, jsonr(200, session_body("Running")))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, Reply(200, b"", content_type="application/json"))
    with expect_error("parse") as caught:
        vb_run("started")
    assert str(caught.error) == ("VB365 sent an empty answer instead of the job session (4 failed polls in a row) (HTTP "
                                 "200 on GET /v8/JobSessions/{id})")
    assert vb_server.count("GET", "/v8/JobSessions/%s" % SESSION) == 4
    assert journal.annotate(caught.error)[0].startswith("Started job 'Backup Job ABC' (session %s), then: " % SESSION)


def test_one_truncated_session_does_not_end_a_wait(vb_server, vb_run):
    the_job(vb_server)
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, jsonr(200, session_body("Running")))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, Reply(200, b'{"id": "', content_type="application/json"),
                 Reply(200, b"", content_type="application/json"), jsonr(200, session_body("Success")))
    result = vb_run("started")
    assert result["changed"] is True and result["session"]["status"] == "Success"
    assert vb_server.count("GET", "/v8/JobSessions/%s" % SESSION) == 3


def test_a_session_without_status_is_awaited_until_the_timeout(vb_server, vb_run):
    the_job(vb_server)
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, jsonr(200, session_body("Running")))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body(None)))
    with expect_error("wait_timeout") as caught:
        vb_run("started", wait_timeout=20)
    assert str(caught.error) == (
        "Gave up waiting after 20 s (wait_timeout 20 s): job 'Backup Job ABC': session %s still without a status. The "
        "job keeps running; to go on waiting, run the task again with state: started (a running job is not started "
        "twice)" % SESSION)
    details = caught.error.details
    assert details["last_state"] == "without a status" and details["api_version"] == "v8"
    assert details["job"]["id"] == JOB and details["changed"] is True and len(details["history"]) == 1


def test_a_timeout_returns_the_session_as_last_read(vb_server, vb_run):
    the_job(vb_server)
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, jsonr(200, session_body("Queued")))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body("Running", progress=50)))
    with expect_error("wait_timeout") as caught:
        vb_run("started", wait_timeout=20)
    assert caught.error.details["session"]["status"] == "Running"
    assert caught.error.details["last_state"] == "Running"


def test_a_timeout_of_several_jobs_returns_each_session_as_last_read(vb_server, vb_run):
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job()))
    vb_server.on("GET", "/v8/Jobs/%s" % OTHER, jsonr(200, job(id=OTHER, name="Other")))
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, jsonr(200, session_body("Queued")))
    vb_server.on("POST", "/v8/Jobs/%s/start" % OTHER, jsonr(200, session_body("Queued", id=NEW_SESSION)))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body("Running")))
    vb_server.on("GET", "/v8/JobSessions/%s" % NEW_SESSION, jsonr(200, session_body("Success", id=NEW_SESSION)))
    with expect_error("wait_timeout") as caught:
        vb_run("started", by_id(JOB, OTHER), wait_timeout=20)
    results = caught.error.details["jobs"]
    assert [r["session"]["status"] for r in results] == ["Running", "Success"]


def test_a_session_with_an_unknown_status_is_awaited_until_it_shows_a_known_one(vb_server, vb_run):
    the_job(vb_server)
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, jsonr(200, session_body("Running")))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body("Throttling")),
                 jsonr(200, session_body("Success")))
    result = vb_run("started")
    assert [h["state"] for h in result["history"]] == ["Throttling", "Success"]


def test_a_new_session_without_status_is_the_one_started(vb_server, vb_run):
    """A v8 start answered without a session: the newest session that has not ended is the new one."""
    the_job(vb_server)
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, Reply(200, b""))
    sessions_of(vb_server, "v8", sessions_page(session_body(None)))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body("Success")))
    result = vb_run("started")
    assert result["session"]["status"] == "Success"


@pytest.mark.parametrize("status", ["Failed", "NotConfigured", "Disconnected"])
def test_a_run_without_a_backup_fails(vb_server, vb_run, status):
    the_job(vb_server)
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, jsonr(200, session_body("Running")))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body(status, details="Proxy offline")))
    with expect_error("job_failed") as caught:
        vb_run("started")
    assert str(caught.error) == ("Started job 'Backup Job ABC': session %s ended %s after 0.0 s: Proxy offline"
                                 % (SESSION, status))


def test_a_stop_timeout_has_the_stop_hint(vb_server, vb_run):
    the_job(vb_server, "v8", jsonr(200, job(lastStatus="Running")))
    sessions_of(vb_server, "v8", sessions_page(session_body("Running")))
    vb_server.on("POST", "/v8/Jobs/%s/stop" % JOB, Reply(204))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body("Running")))
    with expect_error("wait_timeout") as caught:
        vb_run("stopped", wait_timeout=5)
    assert str(caught.error).endswith("VB365 may take a while to stop a job; run the task again to go on waiting (the "
                                      "stop is not sent twice)")


def test_several_jobs_are_started_first_and_awaited_together(vb_server, vb_run, clock):
    other_session = session_body("Running", id=NEW_SESSION, jobId=OTHER)
    the_job(vb_server)
    vb_server.on("GET", "/v8/Jobs/%s" % OTHER, jsonr(200, job(id=OTHER, name="Other")))
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, jsonr(200, session_body("Running")))
    vb_server.on("POST", "/v8/Jobs/%s/start" % OTHER, jsonr(200, other_session))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body("Running")),
                 jsonr(200, session_body("Success")))
    vb_server.on("GET", "/v8/JobSessions/%s" % NEW_SESSION, jsonr(200, dict(other_session, status="Success")))
    result = vb_run("started", by_id(JOB, OTHER))
    posts = [c.path for c in vb_server.calls if c.method == "POST" and c.path.endswith("/start")]
    first_poll = min(i for i, c in enumerate(vb_server.calls) if c.path.startswith("/v8/JobSessions/"))
    assert len(posts) == 2 and all(c.method != "POST" or not c.path.endswith("/start")
                                   for c in vb_server.calls[first_poll:])
    assert result["msg"] == "2 jobs: 2 started, 0 already running, 0 failed"
    assert [r["elapsed"] for r in result["jobs"]] == [1.0, 0.0] and clock.sleeps == [1.0]


# ------------------------------------------------------------------------------------------------ views and reads
@pytest.mark.parametrize("path,call,noun", [
    ("/v8/Jobs", lambda vb: vb.list_jobs(), "job list"),
    ("/v8/Jobs/%s" % JOB, lambda vb: vb.get_job(JOB), "job"),
    ("/v8/JobSessions", lambda vb: vb.job_sessions(JOB), "list of job sessions"),
    ("/v8/Organizations", lambda vb: vb.organizations(), "list of organizations"),
    ("/v8/RestoreSessions/%s" % SESSION, lambda vb: vb.get_restore_session(SESSION), "restore session"),
])
def test_every_read_names_what_it_expected(vb_server, make_vb, path, call, noun):
    vb_server.on("GET", path, Reply(200, b""))
    with expect_error("parse", "VB365 sent an empty answer instead of the %s" % noun):
        with make_vb() as vb:
            call(vb)
    vb_server.on("GET", path, Reply(200, b'{"results": [', content_type="application/json"))
    with expect_error("parse", "The server sent a %s that is not valid JSON" % noun):
        with make_vb() as vb:
            call(vb)


def test_an_empty_job_session_is_a_parse_error(vb_server, make_vb):
    """Bug (reliability suite): an empty 200 for GET /JobSessions/{id} was read as "no session yet"."""
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, Reply(200, b"", content_type="application/json"))
    with expect_error("parse") as caught:
        with make_vb() as vb:
            vb.get_session(SESSION)
    assert str(caught.error) == ("VB365 sent an empty answer instead of the job session (HTTP 200 on GET "
                                 "/v8/JobSessions/{id})")


def test_a_session_read_by_id_without_its_id_keeps_the_id_asked_for(vb_server, make_vb):
    body = session_body("Success")
    del body["id"]
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, body))
    with make_vb() as vb:
        assert vb.get_session(SESSION)["id"] == SESSION
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, ["not", "an", "object"]))
    with expect_error("parse", "VB365 sent a job session that is not a JSON object (list)"):
        with make_vb() as vb:
            vb.get_session(SESSION)


@pytest.mark.parametrize("status,done", [
    ("Running", False), ("Queued", False), (None, False), ("", False), ("Throttling", False), ("running", False),
    ("Success", True), ("Warning", True), ("Failed", True), ("Stopped", True), ("NotConfigured", True),
    ("Disconnected", True), ("success", True)])
def test_a_run_ends_on_a_known_terminal_status_only(status, done):
    """Bug (reliability suite): a session without status counted as ended (is_running(None) is false)."""
    run = dict(_m365.new_run(job()), session=session_body(status) if status is not None else session_body(None))
    assert _m365.run_done(run) is done
    assert _m365.has_ended(status) is done
    assert _m365.ended_badly(status) is (str(status) in ("Failed", "NotConfigured", "Disconnected"))


def test_a_job_listed_without_an_id(vb_server, make_vb):
    """Bug (reliability suite): a job without id in the job list crashed the module with KeyError."""
    broken = job()
    del broken["id"]
    vb_server.on("GET", "/v8/Jobs", page([broken, job(id=SESSION, name="Other")]))
    with expect_error("parse") as caught:
        with make_vb() as vb:
            vb.find_job(job_name="Backup Job ABC")
    assert str(caught.error) == ("VB365 listed the job 'Backup Job ABC' without an id, so it cannot be started, stopped "
                                 "or read; is the server's REST API healthy? (GET /v8/Jobs). Select the job by job_id "
                                 "if you know it")
    with make_vb() as vb:  # other jobs without id are passed over
        assert vb.find_job(job_name="Other")["id"] == SESSION
    vb_server.on("GET", "/v8/Jobs", page([dict(broken, id=None, name="Else"), {"name": 7}, {"id": 7}, "junk", job()]))
    with make_vb() as vb:
        assert vb.find_job(job_name="Backup Job ABC")["id"] == JOB
    with expect_error("not_found", "similar: 'Backup Job ABC'"):
        with make_vb() as vb:
            vb.find_job(job_name="backup job ABC")


def test_a_job_without_id_in_another_organization_is_passed_over(vb_server, make_vb):
    broken = job(organizationId=ORG2)
    del broken["id"]
    vb_server.on("GET", "/v8/Jobs", page([broken, job()]))
    vb_server.on("GET", "/v8/Organizations", jsonr(200, {"results": [
        {"id": ORG, "name": "tech.onmicrosoft.com"}, {"id": ORG2, "name": "fabrikam.onmicrosoft.com"}]}))
    with make_vb() as vb:
        assert vb.find_job(job_name="Backup Job ABC", organization="tech.onmicrosoft.com")["id"] == JOB
    with expect_error("parse", "VB365 listed the job 'Backup Job ABC' without an id"):
        with make_vb() as vb:
            vb.find_job(job_name="Backup Job ABC", organization="fabrikam.onmicrosoft.com")


def test_a_job_read_by_id_without_its_id(vb_server, make_vb):
    body = job()
    del body["id"]
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, body))
    with make_vb() as vb:
        assert vb.find_job(job_id=JOB)["id"] == JOB


def test_find_jobs_reads_the_job_list_once(vb_server, make_vb):
    other = job(id="0f0f0f0f-1111-4222-8333-444455556666", name="Other")
    vb_server.on("GET", "/v8/Jobs", page([job(), other]))
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job()))
    with make_vb() as vb:
        found = vb.find_jobs([{"job_name": "Other"}, {"job_id": JOB}, {"job_name": "Backup Job ABC"}])
    assert [j["id"] for j in found] == [other["id"], JOB, JOB]
    assert vb_server.count("GET", "/v8/Jobs") == 1


def test_find_jobs_reads_each_organization_once_before_v8(vb_server, make_vb):
    vb_server.on("GET", "/v7/Jobs", jsonr(200, [job(name="A"), job(id=SESSION, name="B")]))
    vb_server.on("GET", "/v7/Organizations", jsonr(200, [{"id": ORG, "name": "tech.onmicrosoft.com"}]))
    vb_server.on("GET", "/v7/Organizations/%s/Jobs" % ORG, jsonr(200, [job(name="A"), job(id=SESSION, name="B")]))
    with make_vb("v7") as vb:
        found = vb.find_jobs([{"job_name": "A", "organization": "tech.onmicrosoft.com"},
                              {"job_name": "B", "organization": "tech.onmicrosoft.com"}])
    assert [j["id"] for j in found] == [JOB, SESSION]
    assert vb_server.count("GET", "/v7/Organizations/%s/Jobs" % ORG) == 1
    assert vb_server.count("GET", "/v7/Jobs") == 1 and vb_server.count("GET", "/v7/Organizations") == 1


def test_error_paths_show_ids_as_placeholders(vb_server, make_vb):
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, wrong_tls_version())
    with expect_error("tls") as caught:
        with make_vb() as vb:
            vb.get_job(JOB)
    assert caught.error.path == "/v8/Jobs/{id}" and JOB not in str(caught.error)


def test_views_of_the_samples():
    view = _m365.job_view(job(), {ORG: "tech.onmicrosoft.com"})
    assert view["organization"] == "tech.onmicrosoft.com" and view["last_status"] == "Success"
    session = _m365.session_view(json.loads(fixture_bytes("m365_job_session_running_v8_reconstructed.json")))
    assert session["status"] == "Running" and session["statistics"]["processed_objects"] == 523
    restore = _m365.restore_session_view(json.loads(fixture_bytes("m365_restore_session_explore_reconstructed.json")))
    assert restore["type"] == "vex" and restore["state"] == "Working"
    assert _m365.job_view({"backupType": "entireOrganization"})["backup_type"] == "EntireOrganization"


def test_job_view_of_a_job_with_an_odd_organization_id():
    """Was a bug (reported from here, fixed in 794e830): an unhashable organizationId raised TypeError."""
    assert _m365.job_view({"organizationId": ["b2d9414d"], "name": "x"}, {ORG: "tech"})["name"] == "x"
    assert _m365.job_view({"organizationId": {"id": ORG}}, {ORG: "tech"})["organization"] is None


@pytest.mark.parametrize("value,expected", [
    ("2026-11-20T22:00:00Z", WHEN.replace(microsecond=0)),
    ("2026-11-20 22:00:00.123456", WHEN),
    ("2026-11-20T23:00:00.123456+01:00", WHEN),
])
def test_parse_point_in_time(value, expected):
    assert _m365.parse_point_in_time(value) == expected


def test_parse_point_in_time_rejects_other_text():
    with expect_error("usage") as caught:
        _m365.parse_point_in_time("yesterday")
    assert str(caught.error) == "point_in_time 'yesterday' is not an ISO 8601 date and time such as 2026-11-20T22:00:00Z"


# ------------------------------------------------------------------------------------------------ lost explores
NEW = "0b0b0b0b-0000-4000-8000-000000000001"
THIRD = "0c0c0c0c-0000-4000-8000-000000000001"
ORG_NAME = "tech.onmicrosoft.com"


def restore(session_id, state="Working", created="2026-11-22T19:23:04.3761470Z", rtype="Vex", **changes):
    """A restore session; by default one this task's explore would open (its job, organization and initiator)."""
    data = json.loads(fixture_bytes("m365_restore_session_explore_reconstructed.json"))
    data.update(id=session_id, state=state, creationTime=created, type=rtype, scopeName="Backup Job ABC",
                organization=ORG_NAME, initiatedBy=USERNAME)
    data.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del data[key]  # a field the version does not send
    return data


def organizations_of(server, version, jobs_of_org=None):
    """The organizations (``ORG`` is tech.onmicrosoft.com); before v8, ``jobs_of_org`` the jobs of ``ORG``."""
    records = [{"id": ORG, "name": ORG_NAME}, {"id": ORG2, "name": "other.onmicrosoft.com"}]
    server.on("GET", "/%s/Organizations" % version, jsonr(200, {"offset": 0, "limit": 10000, "results": records})
              if version == "v8" else jsonr(200, records))
    if jobs_of_org is not None:
        server.on("GET", "/%s/Organizations/%s/Jobs" % (version, ORG), jsonr(200, jobs_of_org))
        server.on("GET", "/%s/Organizations/%s/Jobs" % (version, ORG2), jsonr(200, []))


def listing_of(version):
    return (lambda items: jsonr(200, items)) if version < "v5" else (lambda items: jsonr(200, {"results": items}))


def explore_path(version):
    return "/%s/Jobs/%s/%s" % (version, JOB, "explore" if version >= "v6" else "Action")


@pytest.mark.parametrize("version", ["v8", "v7", "v6"])
def test_a_lost_explore_is_settled_by_the_new_restore_session(vb_server, make_vb, warnings, journal, version):
    old = restore(SESSION, created="2026-11-22T10:00:00Z")
    new = restore(NEW, created="2026-11-22T19:23:04Z")
    listing = listing_of(version)
    vb_server.on("GET", "/%s/RestoreSessions" % version, listing([old]), listing([new, old]))
    organizations_of(vb_server, version, jobs_of_org=[job(organizationId=None)])
    vb_server.on("POST", explore_path(version), dropped())
    # before v8 a job does not name its organization: it is learnt from the organizations' job lists
    the_job_record = job() if version == "v8" else job(organizationId=None)
    with make_vb(version) as vb:
        assert vb.explore(the_job_record, restore_type="vex")["id"] == NEW
        assert journal.changes == ["Explored the backup of job 'Backup Job ABC' (restore session %s)" % NEW]
    assert vb_server.count("POST", explore_path(version)) == 1
    assert warnings == ["The response to the explore of job 'Backup Job ABC' was lost; VB365 lists the restore session "
                        "it opened (%s, Working), so it was not sent again" % NEW]
    reads = [c for c in vb_server.calls if c.path.endswith("/RestoreSessions")]
    if version == "v8":
        assert reads[0].params == {"offset": ["0"], "limit": ["1"], "orderBy": ["CreationTime"], "orderAsc": ["false"]}
        assert vb_server.count("GET", "/v8/Organizations/%s/Jobs" % ORG) == 0
    else:
        assert vb_server.count("GET", "/%s/Organizations/%s/Jobs" % (version, ORG)) == 1


@pytest.mark.parametrize("version", ["v5", "v3"])
def test_a_lost_explore_before_v6_adopts_no_session(vb_server, make_vb, warnings, journal, version):
    """Before v6 a restore session has no scopeName: it cannot be shown to be this job's, so none is adopted."""
    new = restore(NEW, created="2026-11-22T19:23:04Z", rtype="vex", scopeName=None)
    listing = listing_of(version)
    vb_server.on("GET", "/%s/RestoreSessions" % version, listing([]), listing([new]))
    organizations_of(vb_server, version, jobs_of_org=[job(organizationId=None)])
    vb_server.on("POST", explore_path(version), dropped())
    with expect_error("response_lost", warnings=warnings) as caught:
        with make_vb(version) as vb:
            vb.explore(job(organizationId=None), restore_type="vex")
    assert str(caught.error) == (
        "The explore request for job 'Backup Job ABC' got no response; VB365 lists 1 new vex restore session(s) since, "
        "none shown to be this task's: %s (its job is not known). It was not sent again, and no other operator's "
        "session was taken; if VB365 opened one for this task, it is among them (POST /%s/Jobs/{id}/Action). Look at "
        "these restore sessions in VB365 before you stop any of them" % (NEW, version))
    assert caught.error.details["changed"] is True and journal.annotate(caught.error)[1] is True
    assert vb_server.count("POST", explore_path(version)) == 1 and warnings == [] and journal.changes == []


def test_a_lost_explore_that_opened_nothing(vb_server, make_vb, warnings, journal):
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": [restore(SESSION)]}))
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, dropped())
    with expect_error("response_lost", warnings=warnings) as caught:
        with make_vb() as vb:
            vb.explore(job())
    assert str(caught.error) == ("The explore request for job 'Backup Job ABC' got no response, and VB365 lists no new "
                                 "restore session for it, so none was opened; it was not sent again (POST "
                                 "/v8/Jobs/{id}/explore). Run the task again once the connection to VB365 is stable")
    assert warnings == [] and journal.changes == []


def test_a_lost_explore_ignores_sessions_of_other_types_and_stopped_ones(vb_server, make_vb):
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": []}), jsonr(200, {"results": [
        restore(NEW, rtype="Vesp"), restore(SESSION, state="Stopped")]}))
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, dropped())
    with expect_error("response_lost", "lists no new restore session"):
        with make_vb() as vb:
            vb.explore(job())


def test_a_lost_explore_with_several_new_sessions_of_the_task(vb_server, make_vb):
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": []}), jsonr(200, {"results": [
        restore(NEW), restore(THIRD, created="2026-11-22T19:23:05Z")]}))
    organizations_of(vb_server, "v8")
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, dropped())
    with expect_error("response_lost") as caught:
        with make_vb() as vb:
            vb.explore(job())
    assert str(caught.error).startswith(
        "The explore request for job 'Backup Job ABC' got no response, and VB365 lists 2 new vex restore sessions of "
        "this job and account since (%s, %s); it was not sent again, and the module cannot tell which one it opened"
        % (THIRD, NEW))
    assert caught.error.details["changed"] is True


def test_a_lost_explore_picks_the_session_of_the_job_among_several(vb_server, make_vb):
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": []}), jsonr(200, {"results": [
        restore(NEW), restore(SESSION, scopeName="Other Job")]}))
    organizations_of(vb_server, "v8")
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, dropped())
    with make_vb() as vb:
        assert vb.explore(job())["id"] == NEW


def test_the_owner_is_compared_without_regard_to_case(vb_server, make_vb):
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": []}), jsonr(200, {"results": [
        restore(NEW, scopeName="BACKUP JOB abc", organization="TECH.onmicrosoft.COM", initiatedBy=USERNAME.upper())]}))
    organizations_of(vb_server, "v8")
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, dropped())
    with make_vb() as vb:
        assert vb.explore(job())["id"] == NEW


def test_a_lost_explore_never_takes_another_operators_session(vb_server, make_vb, warnings, journal):
    """Another job, another organization, another initiator, a field missing: each is named, none is adopted."""
    fourth = "0d0d0d0d-0000-4000-8000-000000000001"
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": []}), jsonr(200, {"results": [
        restore(NEW, scopeName="Other Job", created="2026-11-22T19:23:07Z"),
        restore(SESSION, organization="other.onmicrosoft.com", created="2026-11-22T19:23:06Z"),
        restore(THIRD, initiatedBy="LAB\\alice", created="2026-11-22T19:23:05Z"),
        restore(fourth, initiatedBy=None, created="2026-11-22T19:23:04Z")]}))
    organizations_of(vb_server, "v8")
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, dropped())
    with expect_error("response_lost", warnings=warnings) as caught:
        with make_vb() as vb:
            vb.explore(job())
    assert str(caught.error) == (
        "The explore request for job 'Backup Job ABC' got no response; VB365 lists 4 new vex restore session(s) since, "
        "none shown to be this task's: %s (its job is 'Other Job'); %s (its organization is 'other.onmicrosoft.com'); "
        "%s (its initiator is 'LAB\\\\alice'); %s (its initiator is not known). It was not sent again, and no other "
        "operator's session was taken; if VB365 opened one for this task, it is among them (POST /v8/Jobs/{id}/explore). "
        "Look at these restore sessions in VB365 before you stop any of them" % (NEW, SESSION, THIRD, fourth))
    assert caught.error.details["changed"] is True and warnings == [] and journal.changes == []
    assert vb_server.count("POST", "/v8/Jobs/%s/explore" % JOB) == 1


def test_a_job_whose_organization_is_not_known_adopts_nothing(vb_server, make_vb):
    vb_server.on("GET", "/v7/RestoreSessions", jsonr(200, {"results": []}), jsonr(200, {"results": [restore(NEW)]}))
    organizations_of(vb_server, "v7", jobs_of_org=[])  # no organization lists the job
    vb_server.on("POST", "/v7/Jobs/%s/explore" % JOB, dropped())
    with expect_error("response_lost", "none shown to be this task's: %s (its organization is not known)" % NEW):
        with make_vb("v7") as vb:
            vb.explore(job(organizationId=None))


def test_a_timed_out_explore_is_looked_for_as_long_again(vb_server, make_vb, clock):
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": []}), jsonr(200, {"results": []}),
                 jsonr(200, {"results": [restore(NEW)]}))
    organizations_of(vb_server, "v8")
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, read_timeout())
    with make_vb("v8", timeout=5) as vb:
        assert vb.explore(job())["id"] == NEW
    assert clock.sleeps == [1.0] and vb_server.count("POST", "/v8/Jobs/%s/explore" % JOB) == 1


def test_a_timed_out_explore_waits_past_another_operators_session(vb_server, make_vb, clock):
    """Another operator's session showing does not end the looking: this task's may still come."""
    theirs = restore(SESSION, scopeName="Other Job", created="2026-11-22T19:23:03Z")
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": []}), jsonr(200, {"results": [theirs]}),
                 jsonr(200, {"results": [theirs]}), jsonr(200, {"results": [restore(NEW), theirs]}))
    organizations_of(vb_server, "v8")
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, read_timeout())
    with make_vb("v8", timeout=10) as vb:
        assert vb.explore(job())["id"] == NEW
    assert clock.sleeps == [1.0, 1.0]


def test_a_timed_out_explore_that_does_not_show(vb_server, make_vb, clock, warnings):
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": []}))
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, read_timeout())
    with expect_error("response_lost", warnings=warnings) as caught:
        with make_vb("v8", timeout=1.5) as vb:
            vb.explore(job())
    assert str(caught.error).startswith(
        "VB365 did not answer the explore of job 'Backup Job ABC' within 1.5 s (the timeout option), and 2 s later still "
        "lists no new restore session for it; the explore was not sent again, but VB365 may still open one")


def test_an_explore_without_the_right_to_list_restore_sessions(vb_server, make_vb):
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(403, {"message": "Access denied."}))
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, jsonr(201, restore(NEW)), dropped())
    with make_vb() as vb:
        assert vb.explore(job())["id"] == NEW
    with expect_error("response_lost", "does not let this account list restore sessions"):
        with make_vb() as vb:
            vb.explore(job())


def test_an_explore_records_what_it_opened(vb_server, make_vb, journal):
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": []}))
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, jsonr(201, restore(NEW)))
    with make_vb() as vb:
        assert vb.explore(job(), point_in_time=WHEN, restore_type="vex")["id"] == NEW
    assert journal.changes == ["Explored the backup of job 'Backup Job ABC' (restore session %s)" % NEW]
    post = [c for c in vb_server.calls if c.method == "POST" and c.path.endswith("/explore")][0]
    assert post.json["dateTime"] == "2026-11-20T22:00:00.123Z" and post.json["type"] == "Vex"


def test_an_explore_answered_without_a_session(vb_server, make_vb, journal):
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": []}))
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, jsonr(201, {"state": "Working"}))
    with expect_error("parse") as caught:
        with make_vb() as vb:
            vb.explore(job())
    assert str(caught.error) == ("VB365 explored the backup of job 'Backup Job ABC' but sent no restore session back "
                                 "(HTTP 201 on POST /v8/Jobs/{id}/explore)")
    assert journal.annotate(caught.error) == (
        "Explored the backup of job 'Backup Job ABC', then: " + str(caught.error), True)


@pytest.mark.parametrize("version,restore_type,message", [
    ("v2", "vex", "Exploring backups needs VB365 REST API v3 or later (this is v2)"),
    ("v4", "vet", "type 'vet' needs a newer VB365 REST API: v4 explores vex, veod, vesp (Teams, vet, came with v5)"),
])
def test_explores_a_version_cannot_do(make_vb, version, restore_type, message):
    with expect_error("usage") as caught:
        make_vb(version).explore(job(), restore_type=restore_type)
    assert str(caught.error) == message


# ------------------------------------------------------------------------------------------------ restore sessions
def test_get_restore_session(vb_server, make_vb):
    vb_server.on("GET", "/v8/RestoreSessions/%s" % NEW, jsonr(200, restore(NEW)), jsonr(404, {"message": "Not found"}))
    with make_vb() as vb:
        assert vb.get_restore_session(" %s " % NEW)["state"] == "Working"
        with expect_error("not_found", "No VB365 restore session with id %s" % NEW):
            vb.get_restore_session(NEW)
    with expect_error("usage", "restore_session_id 'abc' is not a restore session id (a GUID)"):
        make_vb().get_restore_session("abc")


@pytest.mark.parametrize("version,path,body", [("v8", "/v8/RestoreSessions/%s/Stop" % NEW, None),
                                               ("v5", "/v5/RestoreSessions/%s/Action" % NEW, {"stop": None})])
def test_stop_a_restore_session(vb_server, make_vb, journal, version, path, body):
    vb_server.on("POST", path, Reply(204 if version == "v8" else 200))
    with make_vb(version) as vb:
        assert vb.stop_restore_session(NEW) is True
    assert [c.json for c in vb_server.calls if c.path == path] == [body]
    assert journal.changes == ["Stopped restore session %s" % NEW]


@pytest.mark.parametrize("status", [400, 409])
def test_a_restore_session_stopped_meanwhile(vb_server, make_vb, journal, status):
    vb_server.on("POST", "/v8/RestoreSessions/%s/Stop" % NEW, jsonr(status, {"message": "Session is stopped."}))
    vb_server.on("GET", "/v8/RestoreSessions/%s" % NEW, jsonr(200, restore(NEW, state="Stopped")))
    with make_vb() as vb:
        assert vb.stop_restore_session(NEW) is False
    assert journal.changes == []


def test_a_refused_stop_of_a_working_restore_session(vb_server, make_vb):
    vb_server.on("POST", "/v8/RestoreSessions/%s/Stop" % NEW, jsonr(400, {"message": "Cannot stop."}))
    vb_server.on("GET", "/v8/RestoreSessions/%s" % NEW, jsonr(200, restore(NEW)))
    with expect_error("http", "VB365 refused to stop restore session %s: Cannot stop" % NEW):
        with make_vb() as vb:
            vb.stop_restore_session(NEW)
    vb_server.on("POST", "/v8/RestoreSessions/%s/Stop" % NEW, jsonr(500, {"message": "Internal error."}))
    with expect_error("http", "Internal error"):
        with make_vb() as vb:
            vb.stop_restore_session(NEW)
    assert vb_server.count("GET", "/v8/RestoreSessions/%s" % NEW) == 1  # a 500 is not a refusal to settle


def test_a_lost_stop_of_a_restore_session(vb_server, make_vb, warnings, journal):
    vb_server.on("POST", "/v8/RestoreSessions/%s/Stop" % NEW, dropped())
    vb_server.on("GET", "/v8/RestoreSessions/%s" % NEW, jsonr(200, restore(NEW, state="Stopped")))
    with make_vb() as vb:
        assert vb.stop_restore_session(NEW) is True
    assert warnings == ["The response to stopping restore session %s was lost; VB365 shows it stopped" % NEW]
    assert journal.changes == ["Stopped restore session %s" % NEW]
    assert vb_server.count("POST", "/v8/RestoreSessions/%s/Stop" % NEW) == 1


def test_a_lost_stop_of_a_restore_session_that_still_works(vb_server, make_vb):
    vb_server.on("POST", "/v8/RestoreSessions/%s/Stop" % NEW, dropped())
    vb_server.on("GET", "/v8/RestoreSessions/%s" % NEW, jsonr(200, restore(NEW)))
    with expect_error("response_lost") as caught:
        with make_vb() as vb:
            vb.stop_restore_session(NEW)
    assert str(caught.error) == ("The stop request for restore session %s got no response, and the session is still "
                                 "working; it was not sent again (POST /v8/RestoreSessions/{id}/Stop)" % NEW)


def test_wait_restore_session_stopped(vb_server, make_vb, poller):
    vb_server.on("GET", "/v8/RestoreSessions/%s" % NEW, jsonr(200, restore(NEW, state="Stopping")),
                 jsonr(200, restore(NEW, state="Stopped")))
    with make_vb() as vb:
        waited = vb.wait_restore_session_stopped(restore(NEW), poller(60))
    assert waited.done and [h["state"] for h in waited.history] == ["Stopping", "Stopped"]


def test_no_secret_in_requests_but_the_token_request(vb_server, make_vb):
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job()))
    with make_vb() as vb:
        vb.get_job(JOB)
    for call in vb_server.calls:
        if call.path != "/v8/token":
            assert_no_secrets(call.url + call.body.decode("utf-8", "replace") + repr(
                {k: v for k, v in call.headers.items() if k != "Authorization"}))
