# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_vbr: the Veeam Backup & Replication REST client (revision negotiation, ``x-api-version`` on every request, job
states page by page, finding jobs, actions, sessions) against the fake server in every revision's shape (1.1-rev0's
``activityId``, lower-case statuses before 1.3-rev1, enable/disable answering 200 or 204, a start answering 201 with
its session or 204 with none), and its adapter, VbrJobs, through the job lifecycle: starts, stops, retries,
enable/disable, lost answers settled (never a second POST), refusals, unknown states awaited, canceled sessions,
timeouts that keep the session as last read.  The token itself is tested in test__auth."""

from __future__ import annotations

import functools

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _vbr
from ansible_collections.backupops.veeam.plugins.module_utils._auth import UnsupportedRevision, VbrToken
from ansible_collections.backupops.veeam.plugins.module_utils._errors import UsageError
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils import veeam_vocabulary as V
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    PASSWORD, USERNAME, Reply, assert_no_secrets, dropped, expect_error, jsonr, read_timeout, reset)
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_wire import token_body

BASE = "https://vbr.example:9419"
REV = "1.3-rev1"
JOB_A = "9b2e4d70-1c3a-4f5e-8d90-000000000001"
JOB_B = "9b2e4d70-1c3a-4f5e-8d90-000000000002"
NAME_A = "VBR Daily Backup"
NAME_B = "VBR SQL Backup"
S_OLD = "c5b4f2b4-8d5e-4b7e-a1cf-000000000001"
S_NEW = "c5b4f2b4-8d5e-4b7e-a1cf-000000000002"
S_B = "c5b4f2b4-8d5e-4b7e-a1cf-000000000003"
STATES = "/api/v1/jobs/states"
SESSIONS = "/api/v1/sessions"
TOKEN = "/api/oauth2/token"


# ------------------------------------------------------------------------------------------------ VBR's answers
def cased(revision, word):
    """``EJobStatus`` and ``EJobWorkload`` are lower case up to 1.3-rev0 and capitalised from 1.3-rev1."""
    return word if _vbr.revision_key(revision) >= (1, 3, 1) else word.lower()


def job_state(job_id=JOB_A, name=NAME_A, status="Inactive", last_result="Success", session_id=S_OLD, revision=REV,
              job_type="VSphereBackup", last_run="2026-11-22T18:00:02.1234567+01:00", **extra):
    """A ``JobStateModel`` as the revision writes it."""
    view = {"id": job_id, "name": name, "type": job_type, "description": "Created by LAB\\admin.",
            "status": cased(revision, status), "lastResult": last_result, "workload": cased(revision, "Vm"),
            "repositoryId": "88788f9e-d8f5-4eb4-bc4f-9b3f5403bcec", "repositoryName": "Default Backup Repository",
            "objectsCount": 2}
    if last_run:
        view["lastRun"] = last_run
    if session_id:
        view["sessionId"] = session_id
    view.update(extra)
    return view


def session(session_id=S_NEW, state="Working", result="None", canceled=False, message="", job_id=JOB_A, name=NAME_A,
            revision=REV, progress=42):
    """A ``SessionModel``: 1.1-rev0 names the job ``activityId``, later revisions ``jobId``."""
    old = revision == "1.1-rev0"
    view = {"id": session_id, "name": name, ("activityId" if old else "jobId"): job_id,
            "sessionType": "Job" if old else "BackupJob", "creationTime": "2026-11-22T19:00:00.5+01:00",
            "state": state, "progressPercent": progress,
            "result": {"result": result, "message": message, "isCanceled": canceled}, "usn": 7}
    if state == "Stopped":
        view["endTime"] = "2026-11-22T19:05:00.5+01:00"
    return view


def page(*items, total=None, skip=0, limit=500):
    pagination = {"total": len(items) if total is None else total, "count": len(items), "skip": skip, "limit": limit}
    return jsonr(200, {"data": list(items), "pagination": pagination})


def error(status, message, code="UnknownError"):
    return jsonr(status, {"errorCode": code, "message": message, "resourceId": None})


def job_model(job_id=JOB_A, name=NAME_A, disabled=False):
    return jsonr(200, {"id": job_id, "name": name, "type": "VSphereBackup", "isDisabled": disabled,
                       "description": "Created by LAB\\admin."})


def by_id(*ids, full=False):
    return [{"job_id": job_id, "job_name": None, "full": full} for job_id in ids]


def by_name(*names, full=False):
    return [{"job_id": None, "job_name": name, "full": full} for name in names]


def action_path(action, job_id=JOB_A):
    return "/api/v1/jobs/%s/%s" % (job_id, action)


def session_path(session_id=S_NEW):
    return "/api/v1/sessions/%s" % session_id


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture
def vbr_server(server):
    server.on("POST", TOKEN, token_body())
    server.on("POST", "/api/oauth2/logout", Reply(200))
    return server


@pytest.fixture
def make_vbr(make_transport, journal):
    """``make_vbr(revision="1.3-rev1", **Transport kwargs)``: the VBR client of a module run."""
    def make(revision=REV, username=USERNAME, password=PASSWORD, **transport):
        return _vbr.connect(make_transport(base=BASE, **transport),
                            {"api_version": revision, "username": username, "password": password}, journal)
    return make


@pytest.fixture
def vbr_run(make_vbr, lifecycle):
    """``vbr_run(state, wanted=None, revision=REV, timeout=30, many=None, **lifecycle options)``: bring the jobs into
    ``state`` as veeam_vbr_job_state does; the lifecycle's result."""
    def run(state, wanted=None, revision=REV, timeout=30, many=None, **options):
        with make_vbr(revision, timeout=timeout) as vbr:
            return _run_lifecycle(lifecycle, vbr, state, wanted, many, options)
    return run


def _run_lifecycle(lifecycle, vbr, state, wanted, many, options):
    return lifecycle(_vbr.VbrJobs(vbr), state, **options).run(wanted or by_id(JOB_A), many=many)


def posts(server, action=None):
    return [c for c in server.calls if c.method == "POST" and c.path.startswith("/api/v1/")
            and (action is None or c.path.endswith("/" + action))]


# ================================================================================================ the client
# ------------------------------------------------------------------------------------------------ revisions
@pytest.mark.parametrize("revision,key", [("1.1-rev0", (1, 1, 0)), ("1.3-rev1", (1, 3, 1)), ("2.10-rev12", (2, 10, 12))])
def test_revision_key(revision, key):
    assert _vbr.revision_key(revision) == key


@pytest.mark.parametrize("revision", ["1.3", "latest", "v1_7", "1.3-Rev1", "", None, " 1.3-rev1"])
def test_a_malformed_revision_is_a_usage_error(revision):
    with expect_error("usage") as caught:
        _vbr.revision_key(revision)
    assert str(caught.error) == ("api_version %r is not a VBR REST API revision such as 1.3-rev1 (or auto)" % (revision,))


def test_the_revisions_are_in_order():
    assert list(_vbr.REVISIONS) == sorted(_vbr.REVISIONS, key=_vbr.revision_key)
    assert _vbr.REVISIONS[0] == "1.1-rev0" and _vbr.REVISIONS[-1] == "1.3-rev1"


def test_connect(make_transport, journal):
    vbr = _vbr.connect(make_transport(base=BASE), {"api_version": "1.2-rev1", "username": USERNAME,
                                                   "password": PASSWORD}, journal)
    assert isinstance(vbr, _vbr.Vbr) and vbr.revision == "1.2-rev1" and vbr.auth is None and vbr.journal is journal
    assert _vbr.connect(make_transport(base=BASE), {"api_version": "auto", "username": USERNAME,
                                                    "password": PASSWORD}, journal).revision is None
    with expect_error("usage", "api_version '13' is not a VBR REST API revision"):
        _vbr.connect(make_transport(base=BASE), {"api_version": "13", "username": USERNAME, "password": PASSWORD},
                     journal)
    with expect_error("usage") as caught:
        _vbr.connect(make_transport(base=BASE), {"api_version": "auto", "username": USERNAME, "password": None}, journal)
    assert str(caught.error) == ("username and password are required: set the options (or module_defaults) or the "
                                 "VEEAM_VBR_USERNAME and VEEAM_VBR_PASSWORD environment variables")


def test_the_connection_of_vbr():
    conn = _vbr.CONNECTION
    assert (conn.name, conn.env, conn.product, conn.port, conn.versions, conn.default_version, conn.base_path) == (
        "vbr", "VEEAM_VBR", "VBR", 9419, None, "auto", "")
    assert conn.connect is _vbr.connect


@pytest.mark.parametrize("revision", _vbr.REVISIONS)
def test_a_given_revision_is_sent_with_every_request(vbr_server, make_vbr, revision):
    vbr_server.on("GET", STATES, page(job_state(revision=revision)))
    vbr_server.on("GET", session_path(S_OLD), jsonr(200, session(S_OLD, revision=revision)))
    with make_vbr(revision) as vbr:
        assert isinstance(vbr.auth, VbrToken) and vbr.version == revision
        vbr.job_states()
        vbr.session(S_OLD)
    assert [c.path for c in vbr_server.calls] == [TOKEN, STATES, session_path(S_OLD), "/api/oauth2/logout"]
    assert {c.headers["x-api-version"] for c in vbr_server.calls} == {revision}
    assert all(c.headers.get("Authorization") for c in vbr_server.calls[1:])


def refusing(*accepted):
    """A token endpoint that refuses every revision but ``accepted`` (400 NotImplemented, as VBR does)."""
    def answer(call):
        if call.headers["x-api-version"] in accepted:
            return token_body()
        return error(400, "The specified API version is not supported.", "NotImplemented")
    return answer


def test_auto_takes_the_newest_revision_the_server_accepts(server, make_vbr, warnings):
    server.on("POST", TOKEN, refusing("1.2-rev1", "1.2-rev0", "1.1-rev0"))
    server.on("POST", "/api/oauth2/logout", Reply(200))
    server.on("GET", STATES, page(job_state(revision="1.2-rev1")))
    with make_vbr("auto") as vbr:
        assert vbr.revision == "1.2-rev1" and vbr.auth.revision == "1.2-rev1"
        vbr.job_states()
    tried = [c.headers["x-api-version"] for c in server.calls if c.path == TOKEN]
    assert tried == ["1.3-rev1", "1.3-rev0", "1.2-rev1"]  # newest first, one refused login per newer revision
    assert [c.headers["x-api-version"] for c in server.calls if c.path != TOKEN] == ["1.2-rev1", "1.2-rev1"]
    assert warnings == []


def test_auto_on_the_newest_server_costs_no_extra_request(vbr_server, make_vbr):
    with make_vbr("auto") as vbr:
        assert vbr.revision == "1.3-rev1"
    assert [c.path for c in vbr_server.calls] == [TOKEN, "/api/oauth2/logout"]


def test_auto_on_a_server_that_accepts_none(server, make_vbr, make_transport, monkeypatch):
    server.on("POST", TOKEN, refusing())
    closed = []
    real = _vbr.Vbr.__enter__

    def entering(self):
        monkeypatch.setattr(self.t, "close", lambda: closed.append(True))
        return real(self)
    monkeypatch.setattr(_vbr.Vbr, "__enter__", entering)
    with expect_error("usage") as caught:
        with make_vbr("auto"):
            pass  # pragma: no cover
    assert isinstance(caught.error, UnsupportedRevision)
    assert str(caught.error).startswith("VBR does not accept REST API revision 1.1-rev0: The specified API version is "
                                        "not supported (HTTP 400 on POST /api/oauth2/token). Use api_version: auto")
    assert [c.headers["x-api-version"] for c in server.calls] == list(reversed(_vbr.REVISIONS))
    assert closed == [True]


def test_a_given_revision_that_the_server_refuses_is_not_replaced(server, make_vbr):
    server.on("POST", TOKEN, refusing("1.2-rev1"))
    with expect_error("usage", "VBR does not accept REST API revision 1.3-rev1") as caught:
        with make_vbr("1.3-rev1"):
            pass  # pragma: no cover
    assert isinstance(caught.error, UnsupportedRevision) and len(server.calls) == 1


def test_auto_does_not_hide_wrong_credentials(server, make_vbr, warnings):
    server.on("POST", TOKEN, error(401, "Access is denied.", "AccessDenied"))
    with expect_error("auth", warnings=warnings) as caught:
        with make_vbr("auto"):
            pass  # pragma: no cover
    assert str(caught.error).startswith("VBR rejected the username or password for 'LAB\\svc-ansible' (HTTP 401 on POST "
                                        "/api/oauth2/token). Check username (DOMAIN\\user) and password")
    assert len(server.calls) == 1  # the newest revision only: a refused password is not a refused revision


# ------------------------------------------------------------------------------------------------ 401, 403
def test_a_401_renews_the_token_once(vbr_server, make_vbr):
    vbr_server.on("GET", session_path(S_OLD), error(401, "Unauthorized"), jsonr(200, session(S_OLD)))
    with make_vbr() as vbr:
        assert vbr.session(S_OLD)["id"] == S_OLD
        assert vbr.auth.refreshes == 1
    grants = [c.form["grant_type"] for c in vbr_server.calls if c.path == TOKEN]
    assert grants == ["password", "refresh_token"]


def test_a_second_401_says_what_to_check(vbr_server, make_vbr, warnings):
    vbr_server.on("GET", session_path(S_OLD), error(401, "Unauthorized."))
    with expect_error("auth", warnings=warnings) as caught:
        with make_vbr() as vbr:
            vbr.session(S_OLD)
    assert str(caught.error) == ("VBR could not return the session %s: Unauthorized (HTTP 401 on GET "
                                 "/api/v1/sessions/{id}). The VBR token was refused; check that the server's clock is "
                                 "right and run the task again" % S_OLD)


@pytest.mark.parametrize("action", ["start", "enable"])
def test_a_403_names_the_account_and_the_roles(vbr_server, make_vbr, action):
    vbr_server.on("POST", action_path(action), error(403, "Access denied.", "Forbidden"))
    with expect_error("forbidden") as caught:
        with make_vbr() as vbr:
            vbr.act({"id": JOB_A, "name": NAME_A}, action)
    assert str(caught.error) == (
        "VBR refused to %s job 'VBR Daily Backup': Access denied (HTTP 403 on POST /api/v1/jobs/{id}/%s). The account "
        "'LAB\\svc-ansible' lacks the VBR role for this: starting, stopping and retrying jobs needs the "
        "StartJobs/StopJobs claims (Backup Administrator or Backup Operator), enabling and disabling the Backup "
        "Administrator role" % (action, action))
    assert caught.error.veeam_code == "Forbidden"


# ------------------------------------------------------------------------------------------------ job states, paging
def test_job_states_ask_for_a_sorted_page(vbr_server, make_vbr):
    vbr_server.on("GET", STATES, page(job_state(), job_state(JOB_B, NAME_B, session_id=S_B)))
    with make_vbr() as vbr:
        assert [s["name"] for s in vbr.job_states()] == [NAME_A, NAME_B]
        vbr.job_states(name='Say "hi" & 100%')
    first, named = [c for c in vbr_server.calls if c.path == STATES]
    assert first.params == {"skip": ["0"], "limit": ["500"], "orderColumn": ["Name"], "orderAsc": ["true"]}
    assert named.params["nameFilter"] == ['Say "hi" & 100%']


def test_job_states_are_read_page_by_page_to_the_total(vbr_server, make_vbr, monkeypatch):
    monkeypatch.setattr(_vbr, "PAGE", 2)
    states = [job_state("9b2e4d70-1c3a-4f5e-8d90-00000000000%d" % i, "Job %d" % i) for i in range(5)]

    def paged(call):
        skip = int(call.params["skip"][0])
        return page(*states[skip:skip + 2], total=5, skip=skip, limit=2)
    vbr_server.on("GET", STATES, paged)
    with make_vbr() as vbr:
        assert [s["name"] for s in vbr.job_states()] == ["Job %d" % i for i in range(5)]
    assert [c.params["skip"][0] for c in vbr_server.calls if c.path == STATES] == ["0", "2", "4"]
    assert {c.params["limit"][0] for c in vbr_server.calls if c.path == STATES} == {"2"}


def test_job_states_without_a_total_go_on_while_pages_are_full(vbr_server, make_vbr, monkeypatch):
    monkeypatch.setattr(_vbr, "PAGE", 2)
    first = [job_state(), job_state(JOB_B, NAME_B)]
    vbr_server.on("GET", STATES, jsonr(200, {"data": first}), jsonr(200, {"data": [job_state(S_B, "Third")]}))
    with make_vbr() as vbr:
        assert len(vbr.job_states()) == 3
    assert vbr_server.count("GET", STATES) == 2


def test_a_total_reached_ends_the_list_even_with_a_full_page(vbr_server, make_vbr, monkeypatch):
    monkeypatch.setattr(_vbr, "PAGE", 2)
    vbr_server.on("GET", STATES, page(job_state(), job_state(JOB_B, NAME_B), total=2, limit=2))
    with make_vbr() as vbr:
        assert len(vbr.job_states()) == 2
    assert vbr_server.count("GET", STATES) == 1


def test_a_server_that_ignores_skip_is_not_read_for_ever(vbr_server, make_vbr, monkeypatch):
    monkeypatch.setattr(_vbr, "PAGE", 2)
    vbr_server.on("GET", STATES, page(job_state(), job_state(JOB_B, NAME_B), total=50, limit=2))
    with expect_error("parse") as caught:
        with make_vbr() as vbr:
            vbr.job_states()
    assert vbr_server.count("GET", STATES) == 2
    assert str(caught.error).startswith("The server sent page 2 of job states with nothing new")


def test_a_total_that_is_never_reached_is_refused(vbr_server, make_vbr, monkeypatch):
    monkeypatch.setattr(_vbr, "PAGE", 1)
    monkeypatch.setattr(_vbr, "collect_pages", functools.partial(_vbr.collect_pages, max_pages=3))
    counter = iter(range(100))
    vbr_server.on("GET", STATES, lambda call: page(job_state("9b2e4d70-1c3a-4f5e-8d90-%012d" % next(counter)),
                                                   total=10 ** 6, limit=1))
    with expect_error("parse") as caught:
        with make_vbr() as vbr:
            vbr.job_states()
    assert str(caught.error) == ("The server kept sending pages of job states: 3 pages (3 items) were read, and it "
                                 "still said there were more")


@pytest.mark.parametrize("body", [{"jobs": []}, [], {"data": {"id": JOB_A}}])
def test_a_list_in_another_shape_is_a_parse_error(vbr_server, make_vbr, body):
    vbr_server.on("GET", STATES, jsonr(200, body))
    with expect_error("parse") as caught:
        with make_vbr() as vbr:
            vbr.job_states()
    assert str(caught.error) == "VBR sent a list of job states in an unexpected shape (no data list)"


def test_an_empty_answer_is_a_parse_error(vbr_server, make_vbr):
    vbr_server.on("GET", STATES, Reply(200, b"", content_type="application/json"))
    with expect_error("parse", "VBR sent an empty answer instead of the list of job states"):
        with make_vbr() as vbr:
            vbr.job_states()


# ------------------------------------------------------------------------------------------------ finding jobs
def test_a_job_by_id(vbr_server, make_vbr):
    vbr_server.on("GET", STATES, page(job_state(JOB_B, NAME_B), job_state()))
    with make_vbr() as vbr:
        assert vbr.find_jobs(by_id(JOB_A.upper())) == [job_state()]
    assert "nameFilter" not in [c for c in vbr_server.calls if c.path == STATES][0].params


def test_a_job_id_that_is_not_a_guid(vbr_server, make_vbr):
    with expect_error("usage") as caught:
        with make_vbr() as vbr:
            vbr.find_jobs(by_id("urn:veeam:Job:1"))
    assert str(caught.error) == "job_id 'urn:veeam:Job:1' is not a VBR job id (a GUID)"


def test_an_unknown_job_id(vbr_server, make_vbr):
    vbr_server.on("GET", STATES, page(job_state(JOB_B, NAME_B)))
    with expect_error("not_found") as caught:
        with make_vbr() as vbr:
            vbr.find_jobs(by_id(JOB_A))
    assert str(caught.error) == ("No VBR job with id %s. List the jobs with backupops.veeam.veeam_vbr_job_info" % JOB_A)


def test_one_name_is_looked_up_with_the_name_filter_and_matched_exactly(vbr_server, make_vbr):
    vbr_server.on("GET", STATES, page(job_state(name="VBR Daily Backup (old)"), job_state(JOB_B, NAME_A)))
    with make_vbr() as vbr:
        assert vbr.find_jobs(by_name(NAME_A))[0]["id"] == JOB_B
    assert [c.params["nameFilter"] for c in vbr_server.calls if c.path == STATES] == [[NAME_A]]


def test_several_names_are_found_in_one_listing(vbr_server, make_vbr):
    vbr_server.on("GET", STATES, page(job_state(), job_state(JOB_B, NAME_B, session_id=S_B)))
    with make_vbr() as vbr:
        found = vbr.find_jobs(by_name(NAME_B, NAME_A) + by_id(JOB_A))
    assert [job["id"] for job in found] == [JOB_B, JOB_A, JOB_A]
    listings = [c for c in vbr_server.calls if c.path == STATES]
    assert "nameFilter" not in listings[0].params and len(listings) == 2  # the names' listing, the id's


def test_a_name_in_another_case_is_not_the_job(vbr_server, make_vbr):
    vbr_server.on("GET", STATES, page(job_state(name="vbr daily backup")))
    with expect_error("not_found") as caught:
        with make_vbr() as vbr:
            vbr.find_jobs(by_name(NAME_A))
    assert str(caught.error) == "No VBR job named 'VBR Daily Backup'. Names are matched exactly; similar: 'vbr daily backup'"


def test_two_jobs_of_one_name(vbr_server, make_vbr):
    vbr_server.on("GET", STATES, page(job_state(), job_state(JOB_B)))
    with expect_error("ambiguous") as caught:
        with make_vbr() as vbr:
            vbr.find_jobs(by_name(NAME_A))
    assert str(caught.error) == "2 VBR jobs are named 'VBR Daily Backup': %s, %s. Choose one with job_id" % (JOB_A, JOB_B)


def test_no_job_of_that_name(vbr_server, make_vbr):
    vbr_server.on("GET", STATES, page())
    with expect_error("not_found", "No VBR job named 'Nightly'. List the jobs with backupops.veeam.veeam_vbr_job_info"):
        with make_vbr() as vbr:
            vbr.find_jobs(by_name("Nightly"))


@pytest.mark.parametrize("name", ["", "  ", None])
def test_an_empty_name(vbr_server, make_vbr, name):
    with expect_error("usage", "job_name is empty: give the exact name of the job, or job_id"):
        with make_vbr() as vbr:
            vbr.find_jobs([{"job_id": None, "job_name": name}])
    assert vbr_server.count("GET", STATES) == 0  # refused before anything is asked


def test_the_job_itself(vbr_server, make_vbr):
    vbr_server.on("GET", "/api/v1/jobs/%s" % JOB_A, job_model(disabled=True))
    vbr_server.on("GET", "/api/v1/jobs/%s" % JOB_B, error(404, "Job not found.", "NotFound"),
                  jsonr(200, ["not", "an", "object"]))
    with make_vbr() as vbr:
        assert vbr.job(JOB_A)["isDisabled"] is True
        with expect_error("not_found", "No VBR job with id %s (HTTP 404 on GET /api/v1/jobs/{id})" % JOB_B):
            vbr.job(JOB_B)
        with expect_error("parse", "VBR sent a job that is not a JSON object"):
            vbr.job(JOB_B)


# ------------------------------------------------------------------------------------------------ actions, sessions
def test_a_start_answers_201_with_its_session(vbr_server, make_vbr):
    vbr_server.on("POST", action_path("start"), jsonr(201, session()))
    with make_vbr() as vbr:
        assert vbr.act({"id": JOB_A, "name": NAME_A}, "start")["id"] == S_NEW
        vbr.act({"id": JOB_A, "name": NAME_A}, "start", full=True)
    assert [c.json for c in posts(vbr_server)] == [{"performActiveFull": False, "startChainedJobs": False},
                                                   {"performActiveFull": True, "startChainedJobs": False}]
    assert posts(vbr_server)[0].headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("reply", [Reply(204), jsonr(200, {}), jsonr(200, {"id": ""}), jsonr(202, {"result": "ok"})])
def test_an_action_without_a_session(vbr_server, make_vbr, reply):
    vbr_server.on("POST", action_path("enable"), reply)
    with make_vbr() as vbr:
        assert vbr.act({"id": JOB_A, "name": NAME_A}, "enable") is None
    assert posts(vbr_server)[0].body == b""  # enable, disable, stop and retry send no body


def test_an_action_is_sent_once_whatever_happens_to_its_answer(vbr_server, make_vbr, clock):
    vbr_server.on("POST", action_path("start"), dropped(), jsonr(201, session()))
    with expect_error("response_lost"):
        with make_vbr() as vbr:
            vbr.act({"id": JOB_A, "name": NAME_A}, "start")
    assert len(posts(vbr_server)) == 1 and clock.sleeps == []


def test_a_session_by_id(vbr_server, make_vbr):
    vbr_server.on("GET", session_path(), jsonr(200, session()), error(404, "Session not found.", "NotFound"),
                  jsonr(200, {"state": "Working"}), jsonr(200, "text"))
    with make_vbr() as vbr:
        assert vbr.session(S_NEW)["state"] == "Working"
        with expect_error("not_found") as caught:
            vbr.session(S_NEW)
        assert str(caught.error) == ("No VBR session with id %s (HTTP 404 on GET /api/v1/sessions/{id}). VBR keeps "
                                     "sessions in its history for a while; check the id" % S_NEW)
        assert vbr.session(S_NEW) == {"state": "Working", "id": S_NEW}  # an answer without its id gets the one asked
        with expect_error("parse", "VBR sent a session that is not a JSON object"):
            vbr.session(S_NEW)


def test_wait_session_polls_until_it_stops(vbr_server, make_vbr, poller, clock):
    vbr_server.on("GET", session_path(), jsonr(200, session(state="WaitingTape")),
                  jsonr(200, session(state="Stopped", result="Success")))
    with make_vbr() as vbr:
        waited = vbr.wait_session(session(state="Working"), poller(600))
    assert waited.done and [h["state"] for h in waited.history] == ["Working", "WaitingTape", "Stopped"]
    assert clock.sleeps == [1.0, 1.0]  # the session was just read: the first poll after a pause


# ------------------------------------------------------------------------------------------------ views, helpers
@pytest.mark.parametrize("raw,result", [
    ({"state": "Stopped", "result": {"result": "Success", "isCanceled": False}}, "Success"),
    ({"state": "Stopped", "result": {"result": "Warning"}}, "Warning"),
    ({"state": "Stopped", "result": {"result": "Failed", "isCanceled": True}}, "Stopped"),
    ({"state": "Stopped", "result": {"result": "None", "isCanceled": True}}, "Stopped"),
    ({"state": "Stopped", "result": "Success"}, None),
    ({"state": "Stopped"}, None),
    (None, None),
])
def test_session_result(raw, result):
    assert _vbr.session_result(raw) == result


@pytest.mark.parametrize("state,ended", [("Stopped", True), ("stopped", True), (" STOPPED ", True), ("Working", False),
                                         ("Stopping", False), ("Starting", False), ("WaitingTape", False),
                                         ("Postprocessing", False), (None, False)])
def test_session_ended(state, ended):
    assert _vbr.session_ended({"state": state}) is ended


def test_session_ended_of_nothing():
    assert _vbr.session_ended(None) is False and _vbr.session_ended({}) is False


@pytest.mark.parametrize("revision", ["1.1-rev0", "1.3-rev1"])
def test_session_view_has_the_same_keys_in_every_revision(revision):
    view = _vbr.session_view(session(state="Stopped", result="Warning", message="1 VM skipped", revision=revision,
                                     progress=100))
    assert view == {"id": S_NEW, "name": NAME_A, "job_id": JOB_A, "job_name": None,
                    "veeam_type": "Job" if revision == "1.1-rev0" else "BackupJob",
                    "state": "Stopped", "result": "Warning", "message": "1 VM skipped", "canceled": False,
                    "progress_percent": 100, "processed_objects": None, "creation_time": "2026-11-22T19:00:00.5+01:00",
                    "end_time": "2026-11-22T19:05:00.5+01:00"}
    assert _vbr.session_view(session(message=""))["message"] is None
    assert _vbr.session_view(None) is None and _vbr.session_view({}) is None
    assert _vbr.session_view({"id": "x", "result": "odd"})["result"] is None


@pytest.mark.parametrize("status,detail,enabled,running", [
    ("Inactive", None, True, False), ("inactive", None, True, False), ("Disabled", None, False, False),
    ("disabled", None, False, False), ("Running", None, None, True), ("starting", None, None, True),
    ("Stopping", None, None, True), ("Postprocessing", None, None, False), ("Enabled", None, True, False),
    ("Running", {"isDisabled": True}, False, True), ("Inactive", {"isDisabled": True}, False, False),
    ("Disabled", {"isDisabled": False}, True, False), ("Inactive", {"isDisabled": "no"}, True, False),
])
def test_job_view_enabled_and_running(status, detail, enabled, running):
    view = _vbr.job_view(job_state(status=status), detail)
    assert (view["enabled"], view["running"], view["status"]) == (enabled, running, status)


@pytest.mark.parametrize("veeam_type,word", [("VSphereBackup", "backup"), ("Backup", "backup"),
                                             ("HyperVBackup", "backup"), ("VSphereReplica", "replica"),
                                             ("BackupCopy", "backup_copy"), ("FileBackup", "file_share"),
                                             ("WindowsAgentBackup", "agent"), ("LinuxAgentBackup", "agent"),
                                             ("SureBackup", "surebackup"), (None, None)])
def test_job_view_type_words(veeam_type, word):
    view = _vbr.job_view(job_state(job_type=veeam_type))
    assert view["type"] == word and view["veeam_type"] == veeam_type


def test_job_view_of_a_state():
    view = _vbr.job_view(job_state(nextRun="2026-11-23T22:00:00+01:00"))
    assert view == {"id": JOB_A, "name": NAME_A, "type": "backup", "veeam_type": "VSphereBackup",
                    "description": "Created by LAB\\admin.", "status": "Inactive", "enabled": True, "running": False,
                    "last_result": "Success", "last_run": "2026-11-22T18:00:02.1234567+01:00",
                    "next_run": "2026-11-23T22:00:00+01:00", "last_session_id": S_OLD, "workload": "Vm",
                    "repository_name": "Default Backup Repository", "objects_count": 2}


# ================================================================================================ the adapter
# ------------------------------------------------------------------------------------------------ start
@pytest.mark.parametrize("revision", _vbr.REVISIONS)
def test_a_start_in_every_revision(vbr_server, vbr_run, journal, revision):
    vbr_server.on("GET", STATES, page(job_state(revision=revision)),
                  page(job_state(revision=revision, session_id=S_NEW, last_run="2026-11-22T19:00:00.5+01:00")))
    vbr_server.on("POST", action_path("start"), jsonr(201, session(state="Starting", revision=revision, progress=0)))
    vbr_server.on("GET", session_path(), jsonr(200, session(revision=revision)),
                  jsonr(200, session(state="Stopped", result="Success", revision=revision, progress=100)))
    result = vbr_run("started", revision=revision)
    assert result["changed"] is True and result["api_version"] == revision
    assert result["msg"] == "Started job 'VBR Daily Backup': session VBR Daily Backup ended Success after 2.0 s"
    assert [h["state"] for h in result["history"]] == ["Starting", "Working", "Stopped"]
    assert result["session"]["job_id"] == JOB_A and result["session"]["result"] == "Success"
    assert result["session"]["job_name"] == NAME_A == result["job"]["name"]
    assert set(result["session"]) == V.session_keys("VBR") and set(result["job"]) == V.job_keys("VBR")
    assert result["job"]["last_session_id"] == S_NEW and result["job"]["status"] == cased(revision, "Inactive")
    assert result["job"]["running"] is False and result["job"]["enabled"] is True
    assert journal.changes == ["Started job 'VBR Daily Backup' (session VBR Daily Backup)"]
    assert len(posts(vbr_server)) == 1
    assert {c.headers["x-api-version"] for c in vbr_server.calls} == {revision}


def test_a_start_by_name_with_an_active_full(vbr_server, vbr_run, journal):
    vbr_server.on("GET", STATES, page(job_state()), page(job_state(session_id=S_NEW)))
    vbr_server.on("POST", action_path("start"), jsonr(201, session()))
    vbr_server.on("GET", session_path(), jsonr(200, session(state="Stopped", result="Success")))
    result = vbr_run("started", by_name(NAME_A, full=True))
    assert result["msg"].startswith("Started an active full backup of job 'VBR Daily Backup': ")
    assert posts(vbr_server)[0].json == {"performActiveFull": True, "startChainedJobs": False}


def test_a_start_answered_204_has_no_session_to_await(vbr_server, vbr_run, warnings, journal):
    vbr_server.on("GET", STATES, page(job_state()))
    vbr_server.on("POST", action_path("start"), Reply(204))
    result = vbr_run("started")
    assert result["changed"] is True and "session" not in result
    assert result["msg"] == "Started job 'VBR Daily Backup' (VBR created no session)"
    assert warnings == ["VBR accepted the start of job 'VBR Daily Backup' but created no session (HTTP 204): the job "
                        "had nothing to process"]
    assert journal.changes == ["Started job 'VBR Daily Backup' (VBR created no session)"]
    assert vbr_server.count("GET", STATES) == 2  # found, then read once more for the result
    assert not [c for c in vbr_server.calls if c.path.startswith("/api/v1/sessions/")]


def test_a_start_without_waiting(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state()), page(job_state(status="Running", session_id=S_NEW)))
    vbr_server.on("POST", action_path("start"), jsonr(201, session()))
    result = vbr_run("started", wait=False)
    assert result["msg"] == "Started job 'VBR Daily Backup' (session VBR Daily Backup)"
    assert result["session"]["id"] == S_NEW and result["job"]["running"] is True
    assert not [c for c in vbr_server.calls if c.path.startswith("/api/v1/sessions/")]


@pytest.mark.parametrize("revision,status", [("1.3-rev1", "Running"), ("1.2-rev1", "running"), ("1.3-rev0", "starting")])
def test_a_running_job_is_not_started_again_but_awaited(vbr_server, vbr_run, revision, status):
    vbr_server.on("GET", STATES, page(job_state(status=status, revision=revision)))
    vbr_server.on("GET", session_path(S_OLD), jsonr(200, session(S_OLD, revision=revision)),
                  jsonr(200, session(S_OLD, state="Stopped", result="Success", revision=revision)))
    result = vbr_run("started", revision=revision)
    assert result["changed"] is False and posts(vbr_server) == []
    assert result["msg"] == ("Job 'VBR Daily Backup' is already running (session VBR Daily Backup, Working, 42% done); "
                             "not started again: session VBR Daily Backup ended Success after 1.0 s")


def test_a_running_job_with_if_running_fail(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state(status="Running")))
    vbr_server.on("GET", session_path(S_OLD), jsonr(200, session(S_OLD)))
    with expect_error("conflict") as caught:
        vbr_run("started", if_running="fail")
    assert str(caught.error) == ("Job 'VBR Daily Backup' is already running (session VBR Daily Backup, Working, 42% "
                                 "done). Use if_running: skip to leave it running and report its session")
    assert caught.error.details["session"]["id"] == S_OLD and posts(vbr_server) == []


def test_an_unknown_job_status_is_decided_by_the_last_session(vbr_server, vbr_run):
    """A status of a later VBR: the job runs while its last session has not stopped."""
    vbr_server.on("GET", STATES, page(job_state(status="Postprocessing")))
    # read by every question about the job (the survey, its running session, the decision, the wait): four times
    vbr_server.on("GET", session_path(S_OLD), *([jsonr(200, session(S_OLD, state="Postprocessing"))] * 4
                                                + [jsonr(200, session(S_OLD, state="Stopped", result="Success"))]))
    result = vbr_run("started")
    assert result["changed"] is False and posts(vbr_server) == []
    assert result["msg"].startswith("Job 'VBR Daily Backup' is already running (session VBR Daily Backup, "
                                    "Postprocessing, 42% done); not started again: ")


def test_an_unknown_job_status_whose_last_session_stopped_is_idle(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state(status="Ready")), page(job_state(status="Ready", session_id=S_NEW)))
    vbr_server.on("GET", session_path(S_OLD), jsonr(200, session(S_OLD, state="Stopped", result="Success")))
    vbr_server.on("POST", action_path("start"), jsonr(201, session()))
    vbr_server.on("GET", session_path(), jsonr(200, session(state="Stopped", result="Success")))
    assert vbr_run("started")["changed"] is True and len(posts(vbr_server)) == 1


def test_an_unknown_job_status_without_a_session_is_idle(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state(status="Ready", session_id=None, last_run=None)))
    vbr_server.on("POST", action_path("start"), Reply(204))
    assert vbr_run("started")["changed"] is True


def test_unknown_session_states_are_awaited(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state()), page(job_state(session_id=S_NEW)))
    vbr_server.on("POST", action_path("start"), jsonr(201, session()))
    vbr_server.on("GET", session_path(), jsonr(200, session(state="WaitingTape")),
                  jsonr(200, session(state="Resuming")), jsonr(200, session(state="Stopped", result="Success")))
    result = vbr_run("started")
    assert [h["state"] for h in result["history"]] == ["Working", "WaitingTape", "Resuming", "Stopped"]


@pytest.mark.parametrize("result,kind,warned", [("Failed", "job_failed", None),
                                                ("Warning", None, "Job 'VBR Daily Backup' ended with a warning: "
                                                                  "1 of 2 VMs was skipped")])
def test_how_a_session_ended_is_judged(vbr_server, vbr_run, warnings, result, kind, warned):
    vbr_server.on("GET", STATES, page(job_state()), page(job_state(session_id=S_NEW, last_result=result)))
    vbr_server.on("POST", action_path("start"), jsonr(201, session()))
    vbr_server.on("GET", session_path(), jsonr(200, session(state="Stopped", result=result,
                                                            message="1 of 2 VMs was skipped")))
    if kind:
        with expect_error(kind) as caught:
            vbr_run("started")
        assert str(caught.error) == ("Started job 'VBR Daily Backup': session VBR Daily Backup ended Failed after 1.0 s: "
                                     "1 of 2 VMs was skipped")
        assert caught.error.details["changed"] is True and caught.error.details["job"]["last_result"] == "Failed"
    else:
        done = vbr_run("started")
        assert done["msg"].endswith("ended Warning after 1.0 s: 1 of 2 VMs was skipped") and warnings == [warned]


def test_a_warning_fails_with_fail_on_warning(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state()), page(job_state(session_id=S_NEW)))
    vbr_server.on("POST", action_path("start"), jsonr(201, session()))
    vbr_server.on("GET", session_path(), jsonr(200, session(state="Stopped", result="Warning")))
    with expect_error("job_failed", "ended Warning after 1.0 s"):
        vbr_run("started", fail_on_warning=True)


def test_a_canceled_session_ended_stopped(vbr_server, vbr_run, warnings):
    """Another operator stopped the run: VBR reports it Failed and canceled; the module says Stopped."""
    vbr_server.on("GET", STATES, page(job_state()), page(job_state(session_id=S_NEW, last_result="Failed")))
    vbr_server.on("POST", action_path("start"), jsonr(201, session()))
    vbr_server.on("GET", session_path(), jsonr(200, session(state="Stopped", result="Failed", canceled=True,
                                                            message="Job has been stopped by user LAB\\alice")))
    result = vbr_run("started")
    assert result["changed"] is True and result["session"]["canceled"] is True
    assert result["msg"] == ("Started job 'VBR Daily Backup': session VBR Daily Backup ended Stopped after 1.0 s: Job "
                             "has been stopped by user LAB\\alice")
    assert warnings == ["Job 'VBR Daily Backup' ended Stopped: Job has been stopped by user LAB\\alice"]


def test_several_jobs_at_once(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state(), job_state(JOB_B, NAME_B, status="Running", session_id=S_B)),
                  page(job_state(session_id=S_NEW), job_state(JOB_B, NAME_B, session_id=S_B)))
    vbr_server.on("GET", session_path(S_B), jsonr(200, session(S_B, job_id=JOB_B, name=NAME_B)),
                  jsonr(200, session(S_B, state="Stopped", result="Success", job_id=JOB_B, name=NAME_B)))
    vbr_server.on("POST", action_path("start"), jsonr(201, session()))
    vbr_server.on("GET", session_path(), jsonr(200, session()), jsonr(200, session(state="Stopped", result="Success")))
    vbr_server.on("GET", SESSIONS, page(session(), session(S_B, job_id=JOB_B, name=NAME_B)),
                  page(session(state="Stopped", result="Success"),
                       session(S_B, state="Stopped", result="Success", job_id=JOB_B, name=NAME_B)))
    result = vbr_run("started", by_name(NAME_A, NAME_B))
    assert result["msg"] == "2 jobs: 1 started, 1 already running, 0 failed" and result["api_version"] == REV
    # one list of sessions a round (not a read per session), one list of job states after the wait (not one per job)
    assert vbr_server.count("GET", SESSIONS) == 2 and vbr_server.count("GET", session_path()) == 0
    assert vbr_server.count("GET", STATES) == 2
    listed = [c for c in vbr_server.calls if c.path == SESSIONS][0]
    assert listed.params["orderColumn"] == ["CreationTime"] and listed.params["orderAsc"] == ["false"]
    assert listed.params["createdAfterFilter"] == ["2026-11-22T17:59:59.500Z"]
    assert [(r["changed"], r["session"]["id"]) for r in result["jobs"]] == [(True, S_NEW), (False, S_B)]
    assert len(posts(vbr_server)) == 1


# ------------------------------------------------------------------------------------------------ stop
def test_a_stop(vbr_server, vbr_run, warnings):
    vbr_server.on("GET", STATES, page(job_state(status="Running")), page(job_state()))
    vbr_server.on("POST", action_path("stop"), jsonr(201, session(S_OLD, state="Stopping")))
    vbr_server.on("GET", session_path(S_OLD), jsonr(200, session(S_OLD)), jsonr(200, session(S_OLD, state="Stopping")),
                  jsonr(200, session(S_OLD, state="Stopped", result="Failed", canceled=True)))
    result = vbr_run("stopped")
    assert result["changed"] is True and warnings == []
    assert result["msg"] == "Stopped job 'VBR Daily Backup': session VBR Daily Backup ended Stopped after 2.0 s"
    assert posts(vbr_server)[0].body == b""


def test_a_stop_that_the_run_beat(vbr_server, vbr_run, warnings):
    vbr_server.on("GET", STATES, page(job_state(status="Running")), page(job_state()))
    vbr_server.on("POST", action_path("stop"), jsonr(201, session(S_OLD, state="Stopping")))
    vbr_server.on("GET", session_path(S_OLD), jsonr(200, session(S_OLD)),
                  jsonr(200, session(S_OLD, state="Stopped", result="Success")))
    vbr_run("stopped")
    assert warnings == ["Job 'VBR Daily Backup' ended Success before the stop took effect"]


@pytest.mark.parametrize("revision,status,state", [("1.3-rev1", "Stopping", "Stopping"),
                                                   ("1.3-rev0", "stopping", "Stopping"),
                                                   ("1.3-rev1", "Running", "Stopping"),
                                                   ("1.2-rev1", "running", "stopping")])
def test_a_job_being_stopped_is_not_stopped_again(vbr_server, vbr_run, journal, revision, status, state):
    vbr_server.on("GET", STATES, page(job_state(status=status, revision=revision)),
                  page(job_state(revision=revision)))
    vbr_server.on("GET", session_path(S_OLD), jsonr(200, session(S_OLD, state=state, revision=revision)),
                  jsonr(200, session(S_OLD, state="Stopped", result="Failed", canceled=True, revision=revision)))
    result = vbr_run("stopped", revision=revision)
    assert posts(vbr_server) == [] and journal.changes == [] and result["changed"] is False
    assert result["msg"] == ("Job 'VBR Daily Backup' is being stopped already; the stop was not sent again: session VBR "
                             "Daily Backup ended Stopped after 1.0 s")


def test_a_job_that_does_not_run_is_not_stopped(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state(last_result="Warning")))
    result = vbr_run("stopped")
    assert result["changed"] is False and result["msg"] == "Job 'VBR Daily Backup' is not running (last result Warning)"
    assert posts(vbr_server) == []
    vbr_server.on("GET", STATES, page(job_state(session_id=None, last_run=None, last_result="None")))
    assert vbr_run("stopped")["msg"] == "Job 'VBR Daily Backup' is not running (it never ran)"


def test_a_stop_without_waiting(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state(status="Running")), page(job_state(status="Stopping")))
    vbr_server.on("GET", session_path(S_OLD), jsonr(200, session(S_OLD)))
    vbr_server.on("POST", action_path("stop"), jsonr(201, session(S_OLD, state="Stopping")))
    result = vbr_run("stopped", wait=False)
    assert result["msg"] == "Asked VBR to stop job 'VBR Daily Backup' (session VBR Daily Backup)"
    assert result["session"]["state"] == "Stopping" and result["job"]["status"] == "Stopping"


# ------------------------------------------------------------------------------------------------ retry
def test_a_retry_of_a_failed_job(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state(last_result="Failed")), page(job_state(session_id=S_NEW)))
    vbr_server.on("POST", action_path("retry"), jsonr(201, session()))
    vbr_server.on("GET", session_path(), jsonr(200, session(state="Stopped", result="Success")))
    result = vbr_run("retried", revision="1.3-rev0")
    assert result["changed"] is True and result["msg"].startswith("Retried job 'VBR Daily Backup': session ")
    assert len(posts(vbr_server, "retry")) == 1 and posts(vbr_server)[0].body == b""


def test_a_retry_of_a_job_that_did_not_fail(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state(last_result="Success")))
    result = vbr_run("retried")
    assert result["changed"] is False and posts(vbr_server) == []
    assert result["msg"] == "Job 'VBR Daily Backup' did not fail last time (last result Success); not retried"


@pytest.mark.parametrize("revision", ["1.1-rev0", "1.1-rev2", "1.2-rev1"])
def test_a_retry_needs_1_3_rev0(vbr_server, vbr_run, revision):
    vbr_server.on("GET", STATES, page(job_state(last_result="Failed", revision=revision)))
    with expect_error("usage") as caught:
        vbr_run("retried", revision=revision)
    assert str(caught.error) == ("state: retried needs VBR REST API revision 1.3-rev0 or later (VBR 13); this task uses "
                                 "%s. Use api_version: auto on a VBR 13 server" % revision)
    assert posts(vbr_server) == []


def test_a_retry_answered_204(vbr_server, vbr_run, warnings):
    vbr_server.on("GET", STATES, page(job_state(last_result="Failed")))
    vbr_server.on("POST", action_path("retry"), Reply(204))
    result = vbr_run("retried")
    assert result["msg"] == "Retried job 'VBR Daily Backup' (VBR created no session)"
    assert warnings == ["VBR accepted the retry of job 'VBR Daily Backup' but created no session (HTTP 204): the job "
                        "had nothing to process"]


# ------------------------------------------------------------------------------------------------ enable, disable
@pytest.mark.parametrize("revision,reply", [("1.3-rev1", Reply(204)), ("1.3-rev0", jsonr(200, {})),
                                            ("1.1-rev0", jsonr(200, {}))])
@pytest.mark.parametrize("state,disabled_before", [("enabled", True), ("disabled", False)])
def test_enable_and_disable(vbr_server, vbr_run, journal, revision, reply, state, disabled_before):
    action = state[:-1]
    vbr_server.on("GET", STATES, page(job_state(status="Disabled" if disabled_before else "Inactive", revision=revision)),
                  page(job_state(status="Inactive" if disabled_before else "Disabled", revision=revision)))
    vbr_server.on("GET", "/api/v1/jobs/%s" % JOB_A, job_model(disabled=disabled_before),
                  job_model(disabled=not disabled_before))
    vbr_server.on("POST", action_path(action), reply)
    result = vbr_run(state, revision=revision, wait=True)
    assert result["changed"] is True and result["msg"] == "%s job 'VBR Daily Backup'" % state.capitalize()
    assert result["job"]["enabled"] is (state == "enabled") and "session" not in result
    assert journal.changes == [result["msg"]] and len(posts(vbr_server)) == 1
    assert not [c for c in vbr_server.calls if c.path.startswith("/api/v1/sessions/")]


@pytest.mark.parametrize("state,disabled", [("enabled", False), ("disabled", True)])
def test_a_job_enabled_or_disabled_already(vbr_server, vbr_run, state, disabled):
    vbr_server.on("GET", STATES, page(job_state(status="Running")))
    vbr_server.on("GET", session_path(S_OLD), jsonr(200, session(S_OLD)))
    vbr_server.on("GET", "/api/v1/jobs/%s" % JOB_A, job_model(disabled=disabled))
    result = vbr_run(state)
    assert result["changed"] is False and result["msg"] == "Job 'VBR Daily Backup' is already %s" % state
    assert result["job"]["enabled"] is (not disabled)  # a running job's status does not say: isDisabled does
    assert posts(vbr_server) == []


def test_check_mode_predicts_and_sends_nothing(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state()))
    result = vbr_run("started", check_mode=True)
    assert result["changed"] is True and result["msg"] == "Would start job 'VBR Daily Backup'"
    assert posts(vbr_server) == []


# ------------------------------------------------------------------------------------------------ lost answers
@pytest.mark.parametrize("fault", [dropped, reset])
def test_a_lost_start_that_took_effect_is_awaited_not_sent_again(vbr_server, vbr_run, warnings, journal, fault):
    vbr_server.on("GET", STATES, page(job_state()), page(job_state(status="Running", session_id=S_NEW)),
                  page(job_state(session_id=S_NEW)))
    vbr_server.on("POST", action_path("start"), fault(), jsonr(201, session()))
    vbr_server.on("GET", session_path(), jsonr(200, session()), jsonr(200, session(state="Stopped", result="Success")))
    result = vbr_run("started")
    assert len(posts(vbr_server)) == 1 and result["changed"] is True and result["session"]["id"] == S_NEW
    assert warnings == ["The response to the start of job 'VBR Daily Backup' was lost; VBR shows it took effect, so it "
                        "was not sent again"]
    assert journal.changes == ["Started job 'VBR Daily Backup' (session VBR Daily Backup)"]


def test_a_lost_start_that_did_not_take_effect(vbr_server, vbr_run, warnings, journal):
    vbr_server.on("GET", STATES, page(job_state()))
    vbr_server.on("POST", action_path("start"), dropped(), jsonr(201, session()))
    with expect_error("response_lost", warnings=warnings) as caught:
        vbr_run("started")
    assert str(caught.error) == ("The start request for job 'VBR Daily Backup' got no response, and VBR shows it did not "
                                 "take effect; it was not sent again (POST /api/v1/jobs/{id}/start). Run the task again "
                                 "once the connection to VBR is stable")
    assert len(posts(vbr_server)) == 1 and journal.changes == [] and warnings == []


def test_a_lost_start_of_a_job_that_runs_but_names_no_new_session(vbr_server, vbr_run, warnings):
    """The job runs (its status says so) though its last session is still the old one: it took effect."""
    vbr_server.on("GET", STATES, page(job_state()), page(job_state(status="Running")), page(job_state()))
    vbr_server.on("POST", action_path("start"), dropped())
    result = vbr_run("started")
    assert result["changed"] is True and len(posts(vbr_server)) == 1
    assert warnings[0].startswith("The response to the start of job 'VBR Daily Backup' was lost; VBR shows it took effect")
    # it was VBR's answer that was lost, not its session: "VBR created no session" is for a 204 only (was a bug)
    assert result["msg"] == "Started job 'VBR Daily Backup'"


def test_a_lost_start_settled_by_the_status_alone_is_awaited(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state()), page(job_state(status="Starting")),
                  page(job_state(status="Running", session_id=S_NEW)), page(job_state(session_id=S_NEW)))
    vbr_server.on("POST", action_path("start"), read_timeout())
    vbr_server.on("GET", session_path(), jsonr(200, session()), jsonr(200, session(state="Stopped", result="Success")))
    result = vbr_run("started")
    assert result["session"]["id"] == S_NEW and " ended Success after " in result["msg"]


def test_a_late_start_is_looked_for_each_second(vbr_server, vbr_run, clock):
    vbr_server.on("GET", STATES, page(job_state()), page(job_state()), page(job_state()),
                  page(job_state(status="Running", session_id=S_NEW)), page(job_state(session_id=S_NEW)))
    vbr_server.on("POST", action_path("start"), read_timeout())
    vbr_server.on("GET", session_path(), jsonr(200, session(state="Stopped", result="Success")))
    result = vbr_run("started", timeout=10)
    assert result["changed"] is True and len(posts(vbr_server)) == 1
    assert clock.sleeps[:2] == [1.0, 1.0]  # two more looks before it showed


def test_a_late_start_that_never_shows(vbr_server, vbr_run, clock, warnings):
    vbr_server.on("GET", STATES, page(job_state()))
    vbr_server.on("POST", action_path("start"), read_timeout())
    with expect_error("response_lost", warnings=warnings) as caught:
        vbr_run("started", timeout=3)
    assert str(caught.error) == (
        "VBR did not answer the start of job 'VBR Daily Backup' within 3 s (the timeout option), and 3 s later still "
        "shows no sign of it; the start was not sent again, but VBR may still carry it out (POST "
        "/api/v1/jobs/{id}/start). Check the job's state and sessions before you start it again, and raise timeout if "
        "VBR is slow")
    assert clock.sleeps == [1.0, 1.0, 1.0] and len(posts(vbr_server)) == 1


def test_a_lost_stop_that_took_effect(vbr_server, vbr_run, warnings):
    vbr_server.on("GET", STATES, page(job_state(status="Running")), page(job_state()))
    vbr_server.on("GET", session_path(S_OLD), jsonr(200, session(S_OLD)),
                  jsonr(200, session(S_OLD, state="Stopped", result="Failed", canceled=True)))
    vbr_server.on("POST", action_path("stop"), dropped())
    result = vbr_run("stopped")
    assert result["changed"] is True and len(posts(vbr_server)) == 1
    assert result["msg"] == "Stopped job 'VBR Daily Backup': session VBR Daily Backup ended Stopped after 1.0 s"
    assert warnings == ["The response to the stop of job 'VBR Daily Backup' was lost; VBR shows it took effect, so it "
                        "was not sent again"]


def test_a_lost_stop_that_did_not_take_effect(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state(status="Running")))
    vbr_server.on("GET", session_path(S_OLD), jsonr(200, session(S_OLD)))
    vbr_server.on("POST", action_path("stop"), reset())
    with expect_error("response_lost", "The stop request for job 'VBR Daily Backup' got no response, and VBR shows it "
                                       "did not take effect; it was not sent again"):
        vbr_run("stopped")
    assert len(posts(vbr_server)) == 1


@pytest.mark.parametrize("state,after,took", [("disabled", True, True), ("disabled", False, False),
                                              ("enabled", False, True), ("enabled", True, False)])
def test_a_lost_enable_or_disable_is_settled_by_is_disabled(vbr_server, vbr_run, warnings, state, after, took):
    vbr_server.on("GET", STATES, page(job_state()))
    vbr_server.on("GET", "/api/v1/jobs/%s" % JOB_A, job_model(disabled=state == "enabled"), job_model(disabled=after))
    vbr_server.on("POST", action_path(state[:-1]), dropped())
    if took:
        assert vbr_run(state)["changed"] is True
        assert warnings[0].startswith("The response to the %s of job 'VBR Daily Backup' was lost" % state[:-1])
    else:
        with expect_error("response_lost", "did not take effect; it was not sent again"):
            vbr_run(state)
    assert len(posts(vbr_server)) == 1


# ------------------------------------------------------------------------------------------------ refusals
def test_a_refused_start(vbr_server, vbr_run, journal):
    vbr_server.on("GET", STATES, page(job_state()))
    vbr_server.on("POST", action_path("start"), error(403, "Access denied.", "Forbidden"))
    with expect_error("forbidden") as caught:
        vbr_run("started")
    assert str(caught.error).startswith("VBR refused to start job 'VBR Daily Backup': Access denied (HTTP 403 on POST "
                                        "/api/v1/jobs/{id}/start). The account 'LAB\\svc-ansible' lacks the VBR role")
    assert vbr_server.count("GET", STATES) == 2  # read again: had someone else started it?
    assert journal.changes == [] and len(posts(vbr_server)) == 1


def test_a_start_refused_because_another_operator_started_it(vbr_server, vbr_run, warnings):
    vbr_server.on("GET", STATES, page(job_state()), page(job_state(status="Running", session_id=S_B)),
                  page(job_state(session_id=S_B)))
    vbr_server.on("POST", action_path("start"), error(400, "Job 'VBR Daily Backup' is already running."))
    vbr_server.on("GET", session_path(S_B), jsonr(200, session(S_B)),
                  jsonr(200, session(S_B, state="Stopped", result="Success")))
    result = vbr_run("started")
    assert result["changed"] is False and result["session"]["id"] == S_B
    assert result["msg"].startswith("Job 'VBR Daily Backup' is already running (session VBR Daily Backup, Working, 42% "
                                    "done); not started again: session VBR Daily Backup ended Success")
    assert warnings == ["VBR refused to start job 'VBR Daily Backup': Job 'VBR Daily Backup' is already running. It "
                        "started since the module read it, so it was left running"]


def test_a_refused_job_in_a_list_fails_that_job_only(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state(), job_state(JOB_B, NAME_B, session_id=S_B)))
    vbr_server.on("POST", action_path("start"), jsonr(201, session()))
    vbr_server.on("POST", action_path("start", JOB_B), error(400, "License limit reached."))
    vbr_server.on("GET", session_path(), jsonr(200, session(state="Stopped", result="Success")))
    with expect_error("job_failed") as caught:
        vbr_run("started", by_name(NAME_A, NAME_B))
    assert str(caught.error) == ("2 jobs: 1 started, 0 already running, 1 failed: VBR refused to start job 'VBR SQL "
                                 "Backup': License limit reached (HTTP 400 on POST /api/v1/jobs/{id}/start)")
    assert [(r["changed"], r["failed"]) for r in caught.error.details["jobs"]] == [(True, False), (False, True)]


# ------------------------------------------------------------------------------------------------ timeouts
def test_a_timeout_keeps_the_session_as_last_read(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state()), page(job_state(status="Running", session_id=S_NEW)))
    vbr_server.on("POST", action_path("start"), jsonr(201, session(state="Starting", progress=0)))
    vbr_server.on("GET", session_path(), jsonr(200, session(progress=10)), jsonr(200, session(progress=55)))
    with expect_error("wait_timeout") as caught:
        vbr_run("started", wait_timeout=20)
    assert str(caught.error) == (
        "Gave up waiting after 20 s (wait_timeout 20 s): job 'VBR Daily Backup': session VBR Daily Backup still "
        "Working. The job keeps running; to go on waiting, run the task again (a running job is not started twice)")
    details = caught.error.details
    assert details["session"]["progress_percent"] == 55 and details["session"]["state"] == "Working"
    assert details["job"]["running"] is True and details["job"]["last_session_id"] == S_NEW  # read again
    assert details["changed"] is True and details["last_state"] == "Working" and details["api_version"] == REV
    assert [h["state"] for h in details["history"]] == ["Starting", "Working"]


def test_a_timeout_of_a_stop(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state(status="Running")), page(job_state(status="Stopping")))
    vbr_server.on("GET", session_path(S_OLD), jsonr(200, session(S_OLD)), jsonr(200, session(S_OLD, state="Stopping")))
    vbr_server.on("POST", action_path("stop"), jsonr(201, session(S_OLD, state="Stopping")))
    with expect_error("wait_timeout") as caught:
        vbr_run("stopped", wait_timeout=10)
    assert str(caught.error).endswith("VBR may take a while to stop a job; run the task again to go on waiting (the "
                                      "stop is not sent twice)")
    assert caught.error.details["session"]["state"] == "Stopping"


def test_a_timeout_whose_last_poll_failed(vbr_server, vbr_run):
    vbr_server.on("GET", STATES, page(job_state()), page(job_state(status="Running", session_id=S_NEW)))
    vbr_server.on("POST", action_path("start"), jsonr(201, session()))
    vbr_server.on("GET", session_path(), jsonr(200, session(progress=50)), Reply(200, b"{", content_type="application/json"))
    with expect_error("wait_timeout") as caught:
        vbr_run("started", wait_timeout=3)
    assert ("job 'VBR Daily Backup': session VBR Daily Backup still Working (the last poll failed: The server sent a "
            "session that is not valid JSON" in str(caught.error))
    assert caught.error.details["session"]["progress_percent"] == 50


def test_no_secret_in_anything_the_adapter_says(vbr_server, vbr_run, warnings):
    vbr_server.on("GET", STATES, page(job_state()))
    vbr_server.on("POST", action_path("start"), dropped())
    with expect_error("response_lost", warnings=warnings) as caught:
        vbr_run("started")
    assert_no_secrets(caught.error, warnings, caught.error.details)


def test_the_adapter_without_the_server():
    adapter = _vbr.VbrJobs(client=None)
    assert adapter.product == "VBR" and adapter.fresh is True
    watch = {"session": session(state="WaitingTape")}
    assert (adapter.state(watch), adapter.ended(watch)) == ("WaitingTape", False)
    assert adapter.waiting_for(watch) == "session VBR Daily Backup still WaitingTape"
    assert adapter.waiting_for({"session": {"id": S_NEW}}) == "session %s still unknown" % S_NEW
    assert adapter.state({"session": {"id": S_NEW}}) == "unknown"
    assert adapter.ended({"session": session(state="Stopped")})


def test_usage_errors_are_usage_errors():
    assert issubclass(UnsupportedRevision, UsageError)
