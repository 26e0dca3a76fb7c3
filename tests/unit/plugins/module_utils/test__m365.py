# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_m365: the route table of every API version, the token lifecycle, finding jobs across pages, lost actions.

Also: the fixes of the reliability suite's VB365 bugs (a start answered later than ``timeout``, an empty job session,
a session without status, a job without id), the token endpoint's retries, lost explores, several jobs at once.
"""

from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.module_utils._http import RetryPolicy
from ansible_collections.backupops.veeam.plugins.module_utils._m365 import Routes, Vb365
from ansible_collections.backupops.veeam.plugins.module_utils._poll import Poller
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    M365_ACCESS, M365_ACCESS2, M365_REFRESH, M365_REFRESH2, PASSWORD, USERNAME, Reply, assert_no_secrets, dropped,
    expect_error, fixture_bytes, jsonr, path_re, read_timeout, refused, wrong_tls_version)

JOB = "93089cfa-81d6-4551-8a7b-a7290868d6f9"       # m365_job_v8_reconstructed.json, "Backup Job ABC"
ORG = "b2d9414d-c417-4a94-b3a5-85d5c3dd8ec3"
ORG2 = "5d0c3b8e-2f1a-4b6c-9d7e-8f9a0b1c2d3e"
SESSION = "9f4eba99-ce30-419b-a942-354744045f51"
BASE = "https://vb365.example:4443"
ANY_VERSION = ("v2", "v3", "v4", "v5", "v6", "v7", "v8")
WHEN = datetime.datetime(2026, 11, 20, 22, 0, 0, 123456, tzinfo=datetime.timezone.utc)


# ------------------------------------------------------------------------------------------------ bodies
def token_body(access=M365_ACCESS, refresh=M365_REFRESH, expires_in=3600):
    data = json.loads(fixture_bytes("m365_token_reconstructed.json"))
    data.update(access_token=access, refresh_token=refresh, expires_in=expires_in)
    return jsonr(200, data)


def job(**changes):
    data = json.loads(fixture_bytes("m365_job_v8_reconstructed.json"))
    data.update(changes)
    return data


def page(items, offset=0, limit=500):
    return jsonr(200, {"offset": offset, "limit": limit, "results": items, "_links": {"self": {"href": "/v8/Jobs"}}})


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture
def warnings():
    return []


@pytest.fixture
def make_vb(make_transport, clock, warnings):
    def make(version="v8", **kwargs):
        kwargs.setdefault("warn", warnings.append)
        kwargs.setdefault("clock", clock.monotonic)
        kwargs.setdefault("token_retry", RetryPolicy(attempts=6, base=1.0, cap=20.0, sleep=clock.sleep,
                                                     rand=lambda: 0.5))
        return Vb365(make_transport(base=BASE), USERNAME, PASSWORD, api_version=version, **kwargs)
    return make


@pytest.fixture
def vb_server(server):
    for version in ANY_VERSION:
        server.on("POST", "/%s/token" % version, token_body())
        server.on("POST", "/%s/token/logout" % version, Reply(204))
    return server


def token_calls(server, version="v8"):
    return [c for c in server.calls if c.path == "/%s/token" % version]


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


# ------------------------------------------------------------------------------------------------ token
def test_login_is_a_form_encoded_password_grant(vb_server, make_vb):
    with make_vb() as vb:
        assert vb.logins == 1
    login = token_calls(vb_server)[0]
    assert login.form == {"grant_type": "password", "username": USERNAME, "password": PASSWORD}
    assert login.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert login.headers["Accept"] == "application/json"


def test_calls_carry_the_bearer_token(vb_server, make_vb):
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job()))
    with make_vb() as vb:
        assert vb.find_job(job_id=JOB)["name"] == "Backup Job ABC"
    call = [c for c in vb_server.calls if c.method == "GET"][0]
    assert call.headers["Authorization"] == "Bearer " + M365_ACCESS and call.headers["Accept"] == "application/json"


def test_the_token_is_refreshed_before_it_expires(vb_server, make_vb, clock):
    vb_server.on("POST", "/v8/token", token_body(), token_body(M365_ACCESS2, M365_REFRESH2))
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job()))
    with make_vb() as vb:
        clock.advance(3000)  # an hour's token, 10 minutes left: no refresh yet
        vb.get_job(JOB)
        clock.advance(545)  # 55 s left, within the last minute: refreshed first
        vb.get_job(JOB)
        assert vb.refreshes == 1 and vb.logins == 1
    grants = [c.form["grant_type"] for c in token_calls(vb_server)]
    assert grants == ["password", "refresh_token"]
    assert token_calls(vb_server)[1].form == {"grant_type": "refresh_token", "refresh_token": M365_REFRESH}
    gets = [c.headers["Authorization"] for c in vb_server.calls if c.method == "GET"]
    assert gets == ["Bearer " + M365_ACCESS, "Bearer " + M365_ACCESS2]


def test_a_short_lived_token_is_refreshed_at_a_tenth_of_its_life(vb_server, make_vb, clock):
    vb_server.on("POST", "/v8/token", token_body(expires_in=300))
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job()))
    with make_vb() as vb:
        clock.advance(265)
        vb.get_job(JOB)
        assert vb.refreshes == 0
        clock.advance(10)  # 25 s left < 30 s (a tenth of 300 s)
        vb.get_job(JOB)
        assert vb.refreshes == 1


def test_429_at_login_is_backed_off_with_retry_after(vb_server, make_vb, clock):
    vb_server.on("POST", "/v8/token", Reply(429, b"Quota Exceeded", {"Retry-After": "3"}),
                 Reply(429, b"Quota Exceeded", {"Retry-After": "7"}), token_body())
    with make_vb() as vb:
        assert vb.logins == 1
    assert len(token_calls(vb_server)) == 3 and clock.sleeps == [3.0, 7.0]


def test_429_at_login_without_retry_after_backs_off_exponentially(vb_server, make_vb, clock):
    vb_server.on("POST", "/v8/token", Reply(429), Reply(429), Reply(429), token_body())
    with make_vb():
        pass
    assert clock.sleeps == [0.75, 1.5, 3.0]


def test_429_that_never_ends(vb_server, make_vb, clock, warnings):
    vb_server.on("POST", "/v8/token", Reply(429, b"Quota Exceeded"))
    with expect_error("http", warnings=warnings) as caught:
        with make_vb():
            pass
    assert str(caught.error) == (
        "VB365 throttled the login (429 Quota Exceeded) and kept doing so after 6 tries (HTTP 429 on POST /v8/token). "
        "Fewer logins per minute help: VB365 limits the token endpoint for clients that are not on the server itself")
    assert len(token_calls(vb_server)) == 6 and len(clock.sleeps) == 5


def test_a_refused_refresh_falls_back_to_the_password(vb_server, make_vb, clock):
    vb_server.on("POST", "/v8/token", token_body(), jsonr(400, "m365_oauth_error_constructed.json"),
                 token_body(M365_ACCESS2, M365_REFRESH2))
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job()))
    with make_vb() as vb:
        clock.advance(3590)
        vb.get_job(JOB)
        assert vb.logins == 2 and vb.refreshes == 0
    assert [c.form["grant_type"] for c in token_calls(vb_server)] == ["password", "refresh_token", "password"]


def test_a_refresh_that_fails_otherwise(vb_server, make_vb, clock, warnings):
    vb_server.on("POST", "/v8/token", token_body(), jsonr(500, {"message": "Token store unavailable."}))
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job()))
    with expect_error("http", warnings=warnings) as caught:
        with make_vb() as vb:
            clock.advance(3590)
            vb.get_job(JOB)
    assert str(caught.error) == "VB365 token refresh failed: Token store unavailable (HTTP 500 on POST /v8/token)"


def test_one_refresh_and_retry_on_401(vb_server, make_vb):
    vb_server.on("POST", "/v8/token", token_body(), token_body(M365_ACCESS2, M365_REFRESH2))
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, Reply(401), jsonr(200, job()))
    with make_vb() as vb:
        assert vb.get_job(JOB)["id"] == JOB
    assert [c.headers["Authorization"] for c in vb_server.calls if c.method == "GET"] == [
        "Bearer " + M365_ACCESS, "Bearer " + M365_ACCESS2]


def test_a_second_401_is_an_error(vb_server, make_vb, warnings):
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(401, {"message": "Authorization has been denied for this request."}))
    with expect_error("auth", warnings=warnings) as caught:
        with make_vb() as vb:
            vb.get_job(JOB)
    assert str(caught.error) == ("VB365 could not return the job %s: Authorization has been denied for this request "
                                 "(HTTP 401 on GET /v8/Jobs/{id})" % JOB)
    assert vb_server.count("GET") == 2


@pytest.mark.parametrize("status", [400, 401, 403])
def test_wrong_credentials(vb_server, make_vb, warnings, status):
    vb_server.on("POST", "/v8/token", jsonr(status, "m365_oauth_error_constructed.json"))
    with expect_error("auth", "VB365 rejected the username or password for", warnings=warnings) as caught:
        with make_vb():
            pass
    assert str(caught.error).endswith("(HTTP %d on POST /v8/token). Check username and password; the account needs "
                                      "VB365 REST API access" % status)
    assert caught.error.veeam_message == "The user name or password is incorrect."
    assert vb_server.count("POST", "/v8/token/logout") == 0


def test_wrong_credentials_show_the_username_as_typed(vb_server, make_vb):
    """Was a bug (reported from here, fixed in 794e830): %r doubled the backslash of DOMAIN\\user."""
    vb_server.on("POST", "/v8/token", jsonr(400, "m365_oauth_error_constructed.json"))
    with expect_error("auth") as caught:
        with make_vb():
            pass
    assert str(caught.error).startswith("VB365 rejected the username or password for 'LAB\\svc-ansible' ")


def test_a_version_the_server_does_not_serve(vb_server, make_vb):
    vb_server.on("POST", "/v8/token", Reply(404))
    with expect_error("not_found") as caught:
        with make_vb():
            pass
    assert str(caught.error) == ("VB365 does not serve REST API version v8 (HTTP 404 on POST /v8/token). Use api_version: "
                                 "auto to detect the versions the server offers")


def test_a_token_answer_without_a_token(vb_server, make_vb):
    vb_server.on("POST", "/v8/token", jsonr(200, {"token_type": "bearer"}))
    with expect_error("parse") as caught:
        with make_vb():
            pass
    assert str(caught.error) == "VB365 answered the token request without an access token (HTTP 200 on POST /v8/token)"


def test_a_token_answer_that_is_not_json(vb_server, make_vb):
    vb_server.on("POST", "/v8/token", Reply(200, fixture_bytes("html_error_page_constructed.html"),
                                            content_type="text/html"))
    with expect_error("parse", "The server sent an HTML page instead of XML or JSON ('Service Unavailable')"):
        with make_vb():
            pass


@pytest.mark.parametrize("version,logout", [("v5", False), ("v6", False), ("v7", True), ("v8", True)])
def test_logout_on_v7_and_later_only(vb_server, make_vb, version, logout):
    with make_vb(version):
        pass
    posts = [c.path for c in vb_server.calls if c.method == "POST"]
    assert posts == ["/%s/token" % version] + (["/%s/token/logout" % version] if logout else [])
    if logout:
        assert vb_server.calls[-1].headers["Authorization"] == "Bearer " + M365_ACCESS


def test_logout_also_when_the_body_raised(vb_server, make_vb):
    with pytest.raises(ZeroDivisionError):
        with make_vb("v8"):
            raise ZeroDivisionError()
    assert vb_server.count("POST", "/v8/token/logout") == 1


def test_a_failed_logout_is_a_warning(vb_server, make_vb, warnings):
    vb_server.on("POST", "/v8/token/logout", jsonr(500, {"message": "Internal error."}))
    with make_vb("v8"):
        pass
    assert warnings == ["Could not log out from VB365 (VB365 logout failed: Internal error (HTTP 500 on POST "
                        "/v8/token/logout)); the token expires on its own"]
    assert_no_secrets(warnings)


def test_version_detection(server, make_vb):
    server.on("GET", "/v8/ServiceInstance", Reply(404))
    server.on("GET", "/v7/ServiceInstance", Reply(401))
    server.on("POST", "/v7/token", token_body())
    server.on("POST", "/v7/token/logout", Reply(200))
    with make_vb("auto") as vb:
        assert vb.version == "v7"
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


def test_bad_client_arguments(make_transport):
    with expect_error("usage", "api_version 'v9' is not one of v2, v3, v4, v5, v6, v7, v8, auto"):
        Vb365(make_transport(base=BASE), USERNAME, PASSWORD, api_version="v9")
    with expect_error("usage", "username and password are required"):
        Vb365(make_transport(base=BASE), USERNAME, "", api_version="v8")


# ------------------------------------------------------------------------------------------------ find_job
def test_find_a_job_across_v8_pages(vb_server, make_vb):
    first = [job(id="%08x-0000-4000-8000-000000000000" % i, name="Job %d" % i) for i in range(500)]
    vb_server.on("GET", "/v8/Jobs", lambda call: page(first) if call.params["offset"] == ["0"] else page([job()], 500))
    with make_vb() as vb:
        found = vb.find_job(job_name="Backup Job ABC")
    assert found["id"] == JOB
    assert [(c.params["offset"], c.params["limit"]) for c in vb_server.calls if c.path == "/v8/Jobs"] == [
        (["0"], ["500"]), (["500"], ["500"])]


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


# ------------------------------------------------------------------------------------------------ actions
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


def test_full_needs_v6(make_vb):
    with expect_error("usage") as caught:
        make_vb("v5").act(job(), "start", full=True)
    assert str(caught.error) == ("full: true needs VB365 REST API v6 or later (this is v5, whose start action has no option "
                                 "for an active full backup)")


@pytest.mark.parametrize("fault", [dropped, read_timeout])
def test_a_lost_start_is_settled_by_reading_the_job(vb_server, make_vb, warnings, fault):
    vb_server.on("POST", "/v7/Jobs/%s/start" % JOB, fault(), Reply(204))
    vb_server.on("GET", "/v7/Jobs/%s" % JOB, jsonr(200, job(lastStatus="Running")))
    with make_vb("v7") as vb:
        assert vb.act(job(), "start") is None
    assert vb_server.count("POST", "/v7/Jobs/%s/start" % JOB) == 1
    assert warnings == ["The response to the start of job 'Backup Job ABC' was lost; VB365 shows it took effect, so it "
                        "was not sent again"]


def test_a_lost_start_settled_by_a_new_session(vb_server, make_vb, warnings):
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, dropped())
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job(lastStatus="Success")))
    vb_server.on("GET", "/v8/JobSessions", jsonr(200, "m365_job_sessions_page_v8_reconstructed.json"))
    with make_vb() as vb:
        session = vb.act(job(), "start", before="00000000-0000-4000-8000-000000000000")
    assert session["id"] == SESSION  # the new session VB365 lists, so the wait follows it at once
    assert vb_server.count("POST", "/v8/Jobs/%s/start" % JOB) == 1 and len(warnings) == 1


def test_a_lost_start_that_did_not_happen(vb_server, make_vb, warnings):
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, dropped())
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job(lastStatus="Success")))
    vb_server.on("GET", "/v8/JobSessions", jsonr(200, "m365_job_sessions_page_v8_reconstructed.json"))
    with expect_error("response_lost", warnings=warnings) as caught:
        with make_vb() as vb:
            vb.act(job(), "start", before=SESSION)
    assert str(caught.error) == ("The start request for job 'Backup Job ABC' got no response, and VB365 shows it did not "
                                 "take effect; it was not sent again (POST /v8/Jobs/{id}/start). Run the task again once "
                                 "the connection to VB365 is stable")
    assert vb_server.count("POST", "/v8/Jobs/%s/start" % JOB) == 1 and warnings == []


@pytest.mark.parametrize("action,field,value", [("enable", "isEnabled", True), ("disable", "isEnabled", False),
                                                ("stop", "lastStatus", "Stopped")])
def test_other_lost_actions_are_settled_too(vb_server, make_vb, warnings, action, field, value):
    vb_server.on("POST", "/v8/Jobs/%s/%s" % (JOB, action), dropped())
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job(**{field: value})))
    with make_vb() as vb:
        assert vb.act(job(), action) is None
    assert vb_server.count("POST", "/v8/Jobs/%s/%s" % (JOB, action)) == 1 and len(warnings) == 1


def test_a_refused_action_is_retried_because_nothing_was_sent(vb_server, make_vb):
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, refused(), jsonr(200, "m365_job_session_running_v8_reconstructed.json"))
    with make_vb() as vb:
        assert vb.act(job(), "start")["id"] == SESSION
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


# ------------------------------------------------------------------------------------------------ views
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


# ------------------------------------------------------------------------------------------------ reliability fixes
def session_body(status="Running", **changes):
    data = json.loads(fixture_bytes("m365_job_session_running_v8_reconstructed.json"))
    data.update(status=status, **changes)
    if status is None:
        del data["status"]
    return data


def poller(clock, timeout=20):
    return Poller(timeout, 5, clock=clock.monotonic, sleep=clock.sleep)


def slow_vb(make_transport, clock, warnings, version="v6", timeout=2):
    return Vb365(make_transport(base=BASE, timeout=timeout), USERNAME, PASSWORD, api_version=version,
                 warn=warnings.append, clock=clock.monotonic)


def test_a_start_answered_later_than_timeout_is_looked_for_as_long_again(vb_server, make_transport, clock, warnings):
    """Bug (reliability suite, v6): a start VB365 carried out after the answer timed out was reported as not taken
    effect.  It is looked for once a second for as long again as timeout, and never sent twice."""
    vb_server.on("POST", "/v6/Jobs/%s/start" % JOB, read_timeout())
    vb_server.on("GET", "/v6/Jobs/%s" % JOB, jsonr(200, job(lastStatus="Success")), jsonr(200, job(lastStatus="Success")),
                 jsonr(200, job(lastStatus="Running")))
    vb_server.on("GET", "/v6/Jobs/%s/JobSessions" % JOB, jsonr(200, {"results": [session_body("Success")]}),
                 jsonr(200, {"results": [session_body("Success")]}),
                 jsonr(200, {"results": [session_body("Queued", id="0a0a0a0a-0000-4000-8000-000000000001")]}))
    with slow_vb(make_transport, clock, warnings) as vb:
        session = vb.act(job(), "start", before=SESSION)
    assert session["id"] == "0a0a0a0a-0000-4000-8000-000000000001"
    assert vb_server.count("POST", "/v6/Jobs/%s/start" % JOB) == 1 and clock.sleeps == [1.0, 1.0]
    assert warnings == ["The response to the start of job 'Backup Job ABC' was lost; VB365 shows it took effect, so it "
                        "was not sent again"]


def test_a_timed_out_start_that_does_not_show_may_still_be_carried_out(vb_server, make_transport, clock, warnings):
    vb_server.on("POST", "/v6/Jobs/%s/start" % JOB, read_timeout())
    vb_server.on("GET", "/v6/Jobs/%s" % JOB, jsonr(200, job(lastStatus="Success")))
    vb_server.on("GET", "/v6/Jobs/%s/JobSessions" % JOB, jsonr(200, {"results": [session_body("Success")]}))
    with expect_error("response_lost", warnings=warnings) as caught:
        with slow_vb(make_transport, clock, warnings, timeout=2.5) as vb:
            vb.act(job(), "start", before=SESSION)
    assert str(caught.error) == (
        "VB365 did not answer the start of job 'Backup Job ABC' within 2.5 s (the timeout option), and 3 s later still "
        "shows no new run of it; the start was not sent again, but VB365 may still carry it out (POST "
        "/v6/Jobs/{id}/start). Check the job's last status and sessions in VB365 before starting it again (a second "
        "start of a running job is refused), and raise timeout if VB365 is slow")
    assert "did not take effect" not in str(caught.error)
    assert vb_server.count("POST", "/v6/Jobs/%s/start" % JOB) == 1 and clock.sleeps == [1.0, 1.0, 1.0]
    assert vb.changes == [] and vb.started == []


def test_a_dropped_start_is_not_looked_for_again(vb_server, make_vb, clock):
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, dropped())
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job(lastStatus="Success")))
    with expect_error("response_lost", "VB365 shows it did not take effect"):
        with make_vb() as vb:
            vb.act(job(), "start")
    assert clock.sleeps == [] and vb_server.count("GET", "/v8/Jobs/%s" % JOB) == 1


def test_a_lost_v8_start_is_seen_by_the_job_last_run(vb_server, make_vb, warnings):
    """v8 reads no session before a start (the start answers with it): a job whose run already ended is told
    started by its lastRun."""
    vb_server.on("POST", "/v8/Jobs/%s/start" % JOB, dropped())
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job(lastStatus="Success", lastRun="2026-11-23T10:00:00Z")))
    with make_vb() as vb:
        assert vb.act(job(lastRun="2026-11-22T10:00:00Z"), "start") is None
    assert len(warnings) == 1


def test_an_empty_job_session_is_a_parse_error(vb_server, make_vb):
    """Bug (reliability suite): an empty 200 for GET /JobSessions/{id} was read as "no session yet"."""
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, Reply(200, b"", content_type="application/json"))
    with expect_error("parse") as caught:
        with make_vb() as vb:
            vb.get_session(SESSION)
    assert str(caught.error) == ("VB365 sent an empty answer instead of the job session (HTTP 200 on GET "
                                 "/v8/JobSessions/{id})")


def test_an_empty_session_ends_a_wait_at_once(vb_server, make_vb, clock):
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, Reply(200, b""))
    with expect_error("parse", "VB365 sent an empty answer instead of the job session"):
        with make_vb() as vb:
            vb.wait_runs({0: _m365.new_run(job(), session=session_body())}, poller(clock))
    assert vb_server.count("GET", "/v8/JobSessions/%s" % SESSION) == 1


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


def test_a_session_without_status_is_awaited_until_the_timeout(vb_server, make_vb, clock):
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body(None)))
    with expect_error("wait_timeout", "Gave up waiting after 20 s; last state: without a status"):
        with make_vb() as vb:
            vb.wait_runs({0: _m365.new_run(job(), session=session_body())}, poller(clock))


def test_a_session_with_an_unknown_status_is_awaited_until_it_shows_a_known_one(vb_server, make_vb, clock):
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body("Throttling")),
                 jsonr(200, session_body("Success")))
    with make_vb() as vb:
        waited = vb.wait_runs({0: _m365.new_run(job(), session=session_body())}, poller(clock))[0]
    assert [h["state"] for h in waited.history] == ["Throttling", "Success"]


def test_a_job_followed_through_its_last_status_ends_on_a_known_one(vb_server, make_vb, clock):
    vb_server.on("GET", "/v5/Jobs/%s/JobSessions" % JOB, jsonr(404, {"message": "Not found."}))
    vb_server.on("GET", "/v5/Jobs/%s" % JOB, jsonr(200, job(lastStatus="Running")), jsonr(200, job(lastStatus="Mystery")),
                 jsonr(200, job(lastStatus="Warning")))
    with make_vb("v5") as vb:
        waited = vb.wait_runs({0: _m365.new_run(job())}, poller(clock))[0]
    assert [h["state"] for h in waited.history] == ["job lastStatus Running", "job lastStatus Mystery",
                                                    "job lastStatus Warning"]


def test_a_new_session_without_status_is_the_one_started(vb_server, make_vb, clock):
    """v8 start answered without a session: the newest session that has not ended is the new one."""
    vb_server.on("GET", "/v8/JobSessions", jsonr(200, {"results": [session_body(None)]}),
                 jsonr(200, {"results": [session_body("Success")]}))
    vb_server.on("GET", "/v8/JobSessions/%s" % SESSION, jsonr(200, session_body("Success")))
    with make_vb() as vb:
        waited = vb.wait_runs({0: _m365.new_run(job())}, poller(clock))[0]
    assert waited.value["session"]["status"] == "Success"


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


def test_error_paths_show_ids_as_placeholders(vb_server, make_vb):
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, wrong_tls_version())
    with expect_error("tls") as caught:
        with make_vb() as vb:
            vb.get_job(JOB)
    assert caught.error.path == "/v8/Jobs/{id}" and JOB not in str(caught.error)


def test_token_retries_on_throttling_only_not_on_connection_errors(vb_server, make_vb, clock):
    """The token endpoint's own policy (6 tries, up to 20 s) is for 429; a port nobody listens on fails after the
    transport's 4 tries (about 3 s), as on any other request."""
    vb_server.on("POST", "/v8/token", refused())
    with expect_error("connection", "Connection refused"):
        with make_vb():
            pass
    assert len(vb_server.attempts) == 4 and clock.sleeps == [0.375, 0.75, 1.5]


# ------------------------------------------------------------------------------------------------ lost explores
NEW = "0b0b0b0b-0000-4000-8000-000000000001"


def restore(session_id, state="Working", created="2026-11-22T19:23:04.3761470Z", rtype="Vex", **changes):
    data = json.loads(fixture_bytes("m365_restore_session_explore_reconstructed.json"))
    data.update(id=session_id, state=state, creationTime=created, type=rtype, **changes)
    return data


@pytest.mark.parametrize("version", ["v8", "v6", "v5", "v3"])
def test_a_lost_explore_is_settled_by_the_new_restore_session(vb_server, make_vb, warnings, version):
    old = restore(SESSION, created="2026-11-22T10:00:00Z")
    new = restore(NEW, created="2026-11-22T19:23:04Z", rtype="Vex" if version >= "v6" else "vex")
    listing = (lambda items: jsonr(200, items)) if version == "v3" else (lambda items: jsonr(200, {"results": items}))
    vb_server.on("GET", "/%s/RestoreSessions" % version, listing([old]), listing([new, old]))
    path = "/%s/Jobs/%s/%s" % (version, JOB, "explore" if version >= "v6" else "Action")
    vb_server.on("POST", path, dropped())
    with make_vb(version) as vb:
        assert vb.explore(job(), restore_type="vex")["id"] == NEW
        assert vb.changes == ["Explored the backup of job 'Backup Job ABC' (restore session %s)" % NEW]
    assert vb_server.count("POST", path) == 1
    assert warnings == ["The response to the explore of job 'Backup Job ABC' was lost; VB365 lists the restore session "
                        "it opened (%s, Working), so it was not sent again" % NEW]
    reads = [c for c in vb_server.calls if c.path.endswith("/RestoreSessions")]
    if version == "v8":
        assert reads[0].params == {"offset": ["0"], "limit": ["1"], "orderBy": ["CreationTime"], "orderAsc": ["false"]}


def test_a_lost_explore_that_opened_nothing(vb_server, make_vb, warnings):
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": [restore(SESSION)]}))
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, dropped())
    with expect_error("response_lost", warnings=warnings) as caught:
        with make_vb() as vb:
            vb.explore(job())
    assert str(caught.error) == ("The explore request for job 'Backup Job ABC' got no response, and VB365 lists no new "
                                 "restore session for it, so none was opened; it was not sent again (POST "
                                 "/v8/Jobs/{id}/explore). Run the task again once the connection to VB365 is stable")
    assert warnings == [] and vb.changes == []


def test_a_lost_explore_ignores_sessions_of_other_types_and_stopped_ones(vb_server, make_vb):
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": []}), jsonr(200, {"results": [
        restore(NEW, rtype="Vesp"), restore(SESSION, state="Stopped")]}))
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, dropped())
    with expect_error("response_lost", "lists no new restore session"):
        with make_vb() as vb:
            vb.explore(job())


def test_a_lost_explore_with_several_new_sessions(vb_server, make_vb):
    third = "0c0c0c0c-0000-4000-8000-000000000001"
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": []}), jsonr(200, {"results": [
        restore(NEW, scopeName="Other Job"), restore(third, scopeName="Other Job", created="2026-11-22T19:23:05Z")]}))
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, dropped())
    with expect_error("response_lost") as caught:
        with make_vb() as vb:
            vb.explore(job())
    assert str(caught.error).startswith(
        "The explore request for job 'Backup Job ABC' got no response, and VB365 lists 2 new vex restore sessions since "
        "(%s, %s); it was not sent again, and the module cannot tell which one it opened" % (third, NEW))
    assert caught.error.details["changed"] is True


def test_a_lost_explore_picks_the_session_of_the_job_among_several(vb_server, make_vb):
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": []}), jsonr(200, {"results": [
        restore(NEW, scopeName="Backup Job ABC"), restore(SESSION, scopeName="Other Job")]}))
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, dropped())
    with make_vb() as vb:
        assert vb.explore(job())["id"] == NEW


def test_a_timed_out_explore_is_looked_for_as_long_again(vb_server, make_transport, clock, warnings):
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": []}), jsonr(200, {"results": []}),
                 jsonr(200, {"results": [restore(NEW)]}))
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, read_timeout())
    with slow_vb(make_transport, clock, warnings, version="v8", timeout=5) as vb:
        assert vb.explore(job())["id"] == NEW
    assert clock.sleeps == [1.0] and vb_server.count("POST", "/v8/Jobs/%s/explore" % JOB) == 1


def test_a_timed_out_explore_that_does_not_show(vb_server, make_transport, clock, warnings):
    vb_server.on("GET", "/v8/RestoreSessions", jsonr(200, {"results": []}))
    vb_server.on("POST", "/v8/Jobs/%s/explore" % JOB, read_timeout())
    with expect_error("response_lost", warnings=warnings) as caught:
        with slow_vb(make_transport, clock, warnings, version="v8", timeout=1.5) as vb:
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
