# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_client: one authenticated call (headers, one renewal on 401), error statuses to typed errors with Veeam's own
message, documents, the logon/logoff around a run, the paths errors show, and the Connection descriptor."""

from __future__ import annotations

import urllib.parse

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils._client import (
    MAX_PAGES, Client, Connection, collect_pages, credentials, document, retry_after, shown_path, status_error,
    veeam_message)
from ansible_collections.backupops.veeam.plugins.module_utils._http import Response
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    EM_SESSION_ID, EM_TOKEN, EM_TOKEN2, PASSWORD, USERNAME, Reply, em_error, expect_error, jsonr, refused)

JOB = "5658281f-625e-4627-89dd-d2a0c48be99e"


class FakeAuth:
    """An authenticator that records what the client asks of it; ``renew`` hands out a second token."""

    def __init__(self, can_renew=True, end_error=None):
        self.can_renew = can_renew
        self.token = EM_TOKEN
        self.events = []
        self.end_error = end_error

    def headers(self):
        return {"X-Token": self.token}

    def begin(self):
        self.events.append("begin")

    def refresh_if_due(self):
        self.events.append("refresh_if_due")

    def renew(self):
        self.events.append("renew")
        self.token = EM_TOKEN2

    def end(self):
        self.events.append("end")
        if self.end_error is not None:
            raise self.end_error

    @staticmethod
    def end_failed(err):
        return "Could not log off (%s)" % err


class Thing(Client):
    product = "Thing"
    conflict_codes = ("OperationConflict",)

    def extra_headers(self):
        return {"x-api-version": "1.0"}

    def hint(self, resp):
        return "Ask the admin" if resp.status == 403 else None


@pytest.fixture
def make_client(make_transport, journal):
    def make(auth=None, cls=Thing):
        return cls(make_transport(base="https://thing.example:1/api"), auth or FakeAuth(), journal)
    return make


# ------------------------------------------------------------------------------------------------ call
def test_a_call_carries_accept_extra_and_auth_headers(server, make_client):
    server.on("GET", "/api/things", jsonr(200, []))
    client = make_client()
    client.call("GET", "/api/things", headers={"X-Extra": "yes", "Accept": "text/plain"})
    headers = server.calls[0].headers
    assert headers["Accept"] == "text/plain" and headers["x-api-version"] == "1.0"
    assert headers["X-Extra"] == "yes" and headers["X-Token"] == EM_TOKEN
    assert client.auth.events == ["refresh_if_due"]


def test_the_auth_headers_win_over_the_callers(server, make_client):
    server.on("GET", "/api/things", jsonr(200, []))
    make_client().call("GET", "/api/things", headers={"X-Token": "forged"})
    assert server.calls[0].headers["X-Token"] == EM_TOKEN


def test_a_401_renews_once_and_sends_again(server, make_client):
    server.on("POST", "/api/things/x", Reply(401), jsonr(202, {"id": "task-1"}))
    client = make_client()
    resp = client.call("POST", "/api/things/x", expect=(202,), what="to do x", safe=False)
    assert resp.status == 202
    assert [c.headers["X-Token"] for c in server.calls] == [EM_TOKEN, EM_TOKEN2]
    assert client.auth.events == ["refresh_if_due", "renew"]


def test_a_second_401_is_an_auth_error(server, make_client):
    server.on("GET", "/api/things/%s" % JOB, em_error(401, "Unauthorized"))
    with expect_error("auth") as caught:
        make_client().call("GET", "/api/things/%s" % JOB, what="thing")
    assert str(caught.error) == "Thing could not return the thing: Unauthorized (HTTP 401 on GET /api/things/{id})"
    assert server.count("GET") == 2


def test_without_renewal_a_401_is_not_sent_again(server, make_client):
    server.on("GET", "/api/things", Reply(401))
    client = make_client(FakeAuth(can_renew=False))
    with expect_error("auth", "Thing could not return the response (HTTP 401 on GET /api/things)"):
        client.call("GET", "/api/things")
    assert server.count("GET") == 1 and "renew" not in client.auth.events


@pytest.mark.parametrize("method,text", [("GET", "Thing could not return the things"),
                                         ("POST", "Thing refused things"), ("DELETE", "Thing refused things")])
def test_the_words_of_an_error_status(server, make_client, method, text):
    server.on(method, "/api/things", Reply(500))
    with expect_error("http") as caught:
        make_client().call(method, "/api/things", what="things", safe=False)
    assert str(caught.error) == "%s (HTTP 500 on %s /api/things)" % (text, method)


@pytest.mark.parametrize("status,kind", [(400, "http"), (401, "auth"), (403, "forbidden"), (404, "not_found"),
                                         (409, "conflict"), (500, "http"), (503, "http")])
def test_statuses_map_to_typed_errors(server, make_client, status, kind):
    server.on("POST", "/api/things", Reply(status))
    with expect_error(kind) as caught:
        make_client(FakeAuth(can_renew=False)).call("POST", "/api/things", what="things")
    assert caught.error.status == status and caught.error.method == "POST" and caught.error.path == "/api/things"
    assert E.refusal(caught.error) is (kind in ("http", "forbidden", "not_found", "conflict"))


def test_the_clients_hint_and_conflict_codes(server, make_client):
    server.on("POST", "/api/things", jsonr(403, {"message": "Access denied."}))
    with expect_error("forbidden") as caught:
        make_client().call("POST", "/api/things", what="to change things")
    assert str(caught.error) == "Thing refused to change things: Access denied (HTTP 403 on POST /api/things). Ask the admin"
    server.on("POST", "/api/things", jsonr(400, {"message": "Busy.", "errorCode": "OperationConflict"}))
    with expect_error("conflict") as caught:
        make_client().call("POST", "/api/things", what="to change things")
    assert caught.error.veeam_code == "OperationConflict" and caught.error.status == 400


def test_an_expected_status_other_than_200(server, make_client):
    server.on("GET", "/api/things", Reply(404))
    assert make_client().call("GET", "/api/things", expect=(200, 404)).status == 404


def test_get_reads_a_document(server, make_client):
    server.on("GET", "/api/things", jsonr(200, [{"id": 1}]))
    assert make_client().get("/api/things", what="things") == [{"id": 1}]


def test_get_names_what_it_expected(server, make_client):
    server.on("GET", "/api/things", Reply(200, b""), Reply(200, b'{"a": ', content_type="application/json"))
    with expect_error("parse") as caught:
        make_client().get("/api/things", what="things", noun="list of things")
    assert str(caught.error) == "Thing sent an empty answer instead of the list of things (HTTP 200 on GET /api/things)"
    with expect_error("parse", "The server sent a list of things that is not valid JSON"):
        make_client().get("/api/things", what="things", noun="list of things")


def test_transport_failures_pass_through(server, make_client):
    server.on("GET", "/api/things", refused())
    with expect_error("connection", "Could not connect to https://thing.example:1/api"):
        make_client().call("GET", "/api/things")


# ------------------------------------------------------------------------------------------------ the run
def test_the_client_logs_on_and_off_around_the_run(make_client):
    client = make_client()
    with client as entered:
        assert entered is client and client.auth.events == ["begin"]
    assert client.auth.events == ["begin", "end"]


def test_a_failed_logoff_is_a_warning(make_client, warnings):
    client = make_client(FakeAuth(end_error=E.HttpError("Logoff failed", status=500)))
    with client:
        pass
    assert warnings == ["Could not log off (Logoff failed (HTTP 500))"]


def test_an_error_in_the_run_still_logs_off_and_is_not_swallowed(make_client):
    client = make_client()
    with pytest.raises(E.NotFoundError):
        with client:
            raise E.NotFoundError("No such thing")
    assert client.auth.events == ["begin", "end"]


def test_a_failed_logon_is_not_logged_off(make_client):
    class Refusing(FakeAuth):
        def begin(self):
            raise E.AuthError("rejected", status=401)
    client = make_client(Refusing())
    with pytest.raises(E.AuthError):
        with client:
            pass  # pragma: no cover
    assert client.auth.events == []


def test_the_transport_is_closed_even_when_the_logoff_breaks(make_client, monkeypatch):
    client = make_client(FakeAuth(end_error=RuntimeError("bug")))
    closed = []
    monkeypatch.setattr(client.t, "close", lambda: closed.append(True))
    with pytest.raises(RuntimeError):
        with client:
            pass
    assert closed == [True]


def test_warn_goes_to_the_journal(make_client, journal, warnings):
    make_client().warn("careful")
    assert journal.warnings == ["careful"] == warnings


def test_the_defaults_of_a_client(make_client):
    client = make_client(cls=Client)
    assert (client.product, client.accept, client.conflict_codes, client.extra_headers()) == (
        "Veeam", "application/json", (), {})
    assert client.hint(None) is None


# ------------------------------------------------------------------------------------------------ helpers
def response(status, reply):
    headers = dict(reply.headers)
    return Response(status, headers, reply.body, "POST", "https://em:9398/api/jobs/%s?action=start" % JOB)


@pytest.mark.parametrize("reply,expected", [
    (em_error(409, "Job DB Backup is already running."), ("Job DB Backup is already running.", None)),
    (jsonr(400, {"message": "Job is disabled.", "errorCode": "JobDisabled"}), ("Job is disabled.", "JobDisabled")),
    (jsonr(400, {"error": "invalid_grant", "error_description": "Bad password"}), ("Bad password", "invalid_grant")),
    (Reply(500, b"<html><title>Down</title></html>", content_type="text/html"), (None, None)),
    (Reply(500, b""), (None, None)),
    (Reply(500, b"<Error Message=", content_type="application/xml"), (None, None)),
])
def test_veeam_message(reply, expected):
    assert veeam_message(response(reply.status, reply)) == expected


def test_status_error_builds_the_message_from_veeams():
    err = status_error(response(409, em_error(409, "Job DB Backup is already running.")), "EM refused to start job")
    assert isinstance(err, E.ConflictError)
    assert str(err) == "EM refused to start job: Job DB Backup is already running (HTTP 409 on POST /api/jobs/{id})"
    assert err.veeam_message == "Job DB Backup is already running." and err.path == "/api/jobs/{id}"
    err = status_error(response(400, jsonr(400, {"message": "x", "errorCode": "Busy"})), "Refused", hint="Wait",
                       conflict_codes=("Busy",))
    assert isinstance(err, E.ConflictError) and str(err) == "Refused: x (HTTP 400 on POST /api/jobs/{id}). Wait"


def test_document_refuses_an_empty_answer():
    resp = Response(200, {}, b"  ", "GET", "/api/tasks/task-7")
    with expect_error("parse") as caught:
        document(resp, "task", "Enterprise Manager")
    assert str(caught.error) == "Enterprise Manager sent an empty answer instead of the task (HTTP 200 on GET /api/tasks/{id})"
    assert document(Response(200, {"Content-Type": "application/xml"}, b"<Task><State>Running</State></Task>", "GET",
                             "/api/tasks/task-7"), "task", "EM") == {"Task": {"State": "Running"}}


@pytest.mark.parametrize("path,shown", [
    ("/api/jobs/%s?action=start" % JOB, "/api/jobs/{id}"),
    ("https://em01:9398/api/nas/jobs/%s/start" % JOB, "/api/nas/jobs/{id}/start"),
    ("/api/tasks/task-10", "/api/tasks/{id}"),
    ("/api/logonSessions/%s" % EM_SESSION_ID, "/api/logonSessions/{id}"),
    ("/api/query?type=Job&filter=Name%3D%3D%22x%22", "/api/query"),
    ("/v8/Jobs/%s/start" % JOB.upper(), "/v8/Jobs/{id}/start"),
    ("/v8/JobSessions?jobId=%s&limit=30" % JOB, "/v8/JobSessions"),
    ("/api/tasks/task-10x", "/api/tasks/task-10x"),
    ("", "/"),
    (None, "/"),
])
def test_shown_path(path, shown):
    assert shown_path(path) == shown


def test_connection_describes_an_api():
    def connect(transport, params, journal, **extra):
        return (transport, params, journal, extra)
    conn = Connection("thing", "VEEAM_THING", "Thing", 1234, ["v1", "v2"], "v2", connect,
                      options={"token": {"type": "str", "no_log": True}})
    assert (conn.name, conn.env, conn.product, conn.port, conn.versions, conn.default_version) == (
        "thing", "VEEAM_THING", "Thing", 1234, ("v1", "v2"), "v2")
    assert conn.base_path == "" and conn.options == {"token": {"type": "str", "no_log": True}}
    assert conn.connect("t", {}, "j", logoff=True) == ("t", {}, "j", {"logoff": True})
    assert Connection("x", "X", "X", 1, (), None, connect).options == {}


def test_responses_give_their_content_type_and_headers():
    resp = Response(200, {"Content-Type": "application/json"}, b"{}", "GET", "/x")
    assert resp.content_type == "application/json" and resp.header("X-None", "d") == "d"
    assert Response(204, {}, b"", "DELETE", "/x").content_type == ""


# ------------------------------------------------------------------------------------------------ redirects, Retry-After
def reply_to(method, path, status, headers=None, body=b""):
    return Response(status, dict(headers or {}), body, method, path)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_says_where_to(status):
    err = status_error(reply_to("GET", "/api/jobs", status, {"Location": "https://sso.example/login?next=/api#x"}),
                       "Enterprise Manager could not return the jobs")
    assert str(err) == ("Enterprise Manager could not return the jobs; the server redirects to https://sso.example/login "
                        "(HTTP %d on GET /api/jobs). Is server the REST API's own address (not a portal or a proxy's "
                        "login page)?" % status)
    assert isinstance(err, E.HttpError) and err.status == status


def test_a_redirect_shows_no_user_info_or_query_string():
    secret = urllib.parse.quote(PASSWORD, safe="")  # as a valid URL carries it
    location = "https://%s:%s@sso.example:8443/adfs/ls?client_id=abc&token=%s" % ("admin", secret, EM_TOKEN)
    err = status_error(reply_to("POST", "/api/sessionMngr/", 302, {"Location": location}), "Logon failed")
    assert "; the server redirects to https://sso.example:8443/adfs/ls (HTTP 302" in str(err)
    assert "admin" not in str(err) and secret not in str(err) and "client_id" not in str(err)
    with expect_error("http"):
        raise err


def test_a_relative_redirect_and_the_callers_own_hint():
    err = status_error(reply_to("GET", "/api/", 302, {"Location": "/login"}), "EM could not return the entry point",
                       hint="Check the port")
    assert str(err) == "EM could not return the entry point; the server redirects to /login (HTTP 302 on GET /api/). " \
                       "Check the port"


def test_a_redirect_without_a_location_says_nothing_of_it():
    err = status_error(reply_to("GET", "/api/", 302), "EM could not return the entry point")
    assert str(err) == "EM could not return the entry point (HTTP 302 on GET /api/)" and err.hint is None


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_is_told(status):
    err = status_error(reply_to("GET", "/v8/Jobs", status, {"Retry-After": "120"}), "VB365 could not return the jobs")
    assert str(err) == ("VB365 could not return the jobs; it asks to wait 120 s before the next request (Retry-After) "
                        "(HTTP %d on GET /v8/Jobs)" % status)


def test_a_retry_after_with_veeams_message():
    body = b'{"message": "Quota exceeded."}'
    err = status_error(reply_to("GET", "/v8/Jobs", 429, {"Retry-After": "30.4", "Content-Type": "application/json"},
                                body), "VB365 could not return the jobs")
    assert str(err) == ("VB365 could not return the jobs: Quota exceeded; it asks to wait 30 s before the next request "
                        "(Retry-After) (HTTP 429 on GET /v8/Jobs)")


@pytest.mark.parametrize("status,headers", [(500, {"Retry-After": "120"}), (502, {"Retry-After": "120"}),
                                            (429, {}), (429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})])
def test_no_retry_after_is_told_when_there_is_none_to_tell(status, headers):
    assert "Retry-After" not in str(status_error(reply_to("GET", "/v8/Jobs", status, headers), "VB365 refused"))


@pytest.mark.parametrize("value,seconds", [("120", 120.0), ("0", 0.0), ("2.5", 2.5), (" 7 ", 7.0), ("soon", None),
                                           ("Wed, 21 Oct 2015 07:28:00 GMT", None), (None, None)])
def test_retry_after(value, seconds):
    assert retry_after(reply_to("GET", "/x", 429, {} if value is None else {"Retry-After": value})) == seconds


# ------------------------------------------------------------------------------------------------ credentials
def test_credentials_from_the_options():
    assert credentials({"username": USERNAME, "password": PASSWORD}, "VEEAM_EM") == (USERNAME, PASSWORD)


@pytest.mark.parametrize("params", [{}, {"username": USERNAME}, {"password": PASSWORD},
                                    {"username": "", "password": PASSWORD}, {"username": USERNAME, "password": None}])
def test_missing_credentials_name_their_environment_variables(params):
    with expect_error("usage") as caught:
        credentials(params, "VEEAM_VBR")
    assert str(caught.error) == ("username and password are required: set the options (or module_defaults) or the "
                                 "VEEAM_VBR_USERNAME and VEEAM_VBR_PASSWORD environment variables")


def test_missing_credentials_name_what_may_stand_in_for_them():
    with expect_error("usage") as caught:
        credentials({"username": USERNAME}, "VEEAM_EM", "session_token from backupops.veeam.veeam_em_session")
    assert str(caught.error) == ("username and password are required: set the options (or module_defaults) or the "
                                 "VEEAM_EM_USERNAME and VEEAM_EM_PASSWORD environment variables; or give session_token "
                                 "from backupops.veeam.veeam_em_session")


# ------------------------------------------------------------------------------------------------ collect_pages
class Pages:
    """``read_page`` over scripted pages (the last repeats); records the ``(offset, number)`` of every read."""

    def __init__(self, *pages):
        self.pages = list(pages)
        self.asked = []

    def __call__(self, offset, number):
        self.asked.append((offset, number))
        return self.pages.pop(0) if len(self.pages) > 1 else self.pages[0]


def items(*ids):
    return [{"id": i} for i in ids]


def test_pages_are_read_until_one_says_there_is_no_more():
    pages = Pages((items(1, 2), True), (items(3, 4), True), (items(5), False))
    assert collect_pages(pages, "jobs") == items(1, 2, 3, 4, 5)
    assert pages.asked == [(0, 1), (2, 2), (4, 3)]


def test_an_empty_page_ends_the_list():
    pages = Pages((items(1, 2), True), ([], True), (items(9), True))
    assert collect_pages(pages, "jobs") == items(1, 2) and len(pages.asked) == 2


def test_a_full_page_with_nothing_new_is_refused():
    """A server that ignores the offset sends the first page again: it is not read for ever, and the list is not
    taken as complete (a job looked for could be on a page never read)."""
    pages = Pages((items(1, 2), True))
    with expect_error("parse") as caught:
        collect_pages(pages, "jobs")
    assert pages.asked == [(0, 1), (2, 2)]
    assert str(caught.error).startswith("The server sent page 2 of jobs with nothing new: the items of page 1 again, "
                                        "although it said there were more (it ignores the offset of the request?); "
                                        "2 items were read")


def test_a_last_page_with_nothing_new_ends_the_list():
    """Items that moved between pages while they were read: a last page of items already seen ends the list."""
    pages = Pages((items(1, 2), True), (items(2), False))
    assert collect_pages(pages, "jobs") == items(1, 2)


def test_repeated_items_of_a_page_are_kept_once():
    pages = Pages((items(1, 2), True), (items(2, 3), False))
    assert collect_pages(pages, "jobs") == items(1, 2, 3)


def test_items_without_an_id_are_told_apart_by_their_content():
    pages = Pages(([{"name": "a"}, {"name": "b"}], True), ([{"name": "b"}, {"name": "c"}], True),
                  ([{"name": "a"}], False))
    assert collect_pages(pages, "things") == [{"name": "a"}, {"name": "b"}, {"name": "c"}]
    assert len(pages.asked) == 3


def test_a_list_that_never_ends_is_refused_after_max_pages():
    counter = iter(range(10 ** 6))

    def endless(_offset, _number):
        return [{"id": next(counter)}], True
    with expect_error("parse") as caught:
        collect_pages(endless, "job states", max_pages=5)
    assert str(caught.error) == ("The server kept sending pages of job states: 5 pages (5 items) were read, and it still "
                                 "said there were more")
    assert MAX_PAGES == 200


def test_the_last_allowed_page_may_end_the_list():
    pages = Pages((items(1), True), (items(2), True), (items(3), False))
    assert collect_pages(pages, "jobs", max_pages=3) == items(1, 2, 3)


def test_a_call_redirected_by_a_proxy_says_where_to(server, make_client):
    server.on("GET", "/api/things", Reply(302, headers={"Location": "https://sso.example/login?next=%2Fapi"}))
    with expect_error("http") as caught:
        make_client().call("GET", "/api/things", what="things")
    assert str(caught.error) == ("Thing could not return the things; the server redirects to https://sso.example/login "
                                 "(HTTP 302 on GET /api/things). Is server the REST API's own address (not a portal or a "
                                 "proxy's login page)?")
    assert server.count("GET") == 1  # redirects are not followed


def test_a_call_throttled_for_longer_than_the_cap_says_when_to_come_back(server, make_client, clock):
    server.on("GET", "/api/things", Reply(503, headers={"Retry-After": "300"}), jsonr(200, []))
    with expect_error("http") as caught:
        make_client().call("GET", "/api/things", what="things")
    assert str(caught.error) == ("Thing could not return the things; it asks to wait 300 s before the next request "
                                 "(Retry-After) (HTTP 503 on GET /api/things)")
    assert server.count("GET") == 1 and clock.sleeps == []
