# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_auth: the Enterprise Manager logon session (logon, the token from the header only, logoff, a handed-over token,
renewal) and OAuth2 tokens (VB365: password grant, refresh before expiry, a refused refresh token, 429, logout).

Most of these run through the API's client as a module does (``with client:`` logs on and off); a few call the
authenticator alone.  No secret may appear in an error or a warning.
"""

from __future__ import annotations

import base64
import uuid

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils._auth import (
    EmLogon, OAuth2Token, UnsupportedRevision, Vb365Token, VbrToken, send_creating, token_session_ids)
from ansible_collections.backupops.veeam.plugins.module_utils._errors import (
    JobFailedError, Journal, LostAnswerError, UsageError)
from ansible_collections.backupops.veeam.plugins.module_utils._http import RetryPolicy
from ansible_collections.backupops.veeam.plugins.module_utils._m365 import Routes
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    BASIC, EM_SESSION_ID, EM_TOKEN, EM_TOKEN2, M365_ACCESS, M365_ACCESS2, M365_REFRESH, M365_REFRESH2, PASSWORD,
    USERNAME, Reply, assert_no_secrets, dropped, em_error, expect_error, fixture_bytes, jsonr, read_timeout, refused,
    reset, xml)
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_wire import (
    ANY_LOGOFF, DB_BACKUP, JOB, LOGON, SECOND_SESSION_ID, job, logon_reply, token_body)

BASE_VB = "https://vb365.example:4443"
LOGON_SESSIONS = ('<EntityReferences xmlns="http://www.veeam.com/ent/v1.0"><Ref Type="LogonSessionReference" '
                  'UID="urn:veeam:LogonSession:%s" Href="https://em:9398/api/logonSessions/%s"/></EntityReferences>'
                  % (EM_SESSION_ID, EM_SESSION_ID))


# ================================================================================================ EmLogon
def test_logon_takes_the_token_from_the_header_and_sends_basic_auth(em_server, make_em):
    with make_em() as em:
        logon = em.auth
        assert isinstance(logon, EmLogon)
        assert logon.token == EM_TOKEN and logon.session_id == EM_SESSION_ID
        assert logon.user_name == "SRV12\\Administrator" and logon.owns_session
        assert em.auth.headers() == {"X-RestSvcSessionId": EM_TOKEN}
    call = em_server.calls[0]
    assert (call.method, call.path, call.params) == ("POST", LOGON, {"v": ["latest"]})
    assert call.headers["Authorization"] == "Basic " + BASIC
    assert call.headers["Accept"] == "application/xml"
    assert call.body == b""


@pytest.mark.parametrize("version", ["v1_5", "v1_6", "v1_7"])
def test_logon_asks_for_the_api_version(em_server, make_em, version):
    with make_em(api_version=version):
        pass
    assert em_server.calls[0].params == {"v": [version]}


def test_the_token_is_never_taken_from_the_body(server, make_em):
    """The JSON logon body has a SessionId; the token is still the header (EM tokens are not derived ids)."""
    body = fixture_bytes("em_logon_session_twin_constructed.json")
    server.on("POST", LOGON, Reply(201, body, [("X-RestSvcSessionId", EM_TOKEN)], content_type="application/json"))
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em() as em:
        em.find_job(job_id=DB_BACKUP)
        assert em.auth.token == EM_TOKEN and em.auth.session_id == EM_SESSION_ID
    assert server.calls[1].headers["X-RestSvcSessionId"] == EM_TOKEN
    assert server.calls[2].path == "/api/logonSessions/%s" % EM_SESSION_ID


def test_a_logon_without_the_token_header_is_refused(server, make_em):
    server.on("POST", LOGON, xml(201, "em_logon_session.xml"))
    with expect_error("parse") as caught:
        with make_em():
            pass
    assert str(caught.error) == ("Enterprise Manager accepted the logon but sent no X-RestSvcSessionId header; is this "
                                 "the Enterprise Manager REST API (port 9398, path /api)? (HTTP 201 on POST "
                                 "/api/sessionMngr/)")
    assert server.count("DELETE") == 0


@pytest.mark.parametrize("body", [b"<LogonSession><Links>", b"<html><title>Oops</title></html>"])
def test_an_unreadable_logon_body_ends_the_session_it_opened(server, make_em, body):
    """The token came in the header, so the logon session exists: it is logged off before the parse error."""
    server.on("POST", LOGON, Reply(201, body, [("X-RestSvcSessionId", EM_TOKEN)], content_type="application/xml"))
    server.on("GET", "/api/logonSessions", xml(200, LOGON_SESSIONS))
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with expect_error("parse"):
        with make_em():
            pass
    assert [(c.method, c.path) for c in server.calls] == [
        ("POST", LOGON), ("GET", "/api/logonSessions"), ("DELETE", "/api/logonSessions/%s" % EM_SESSION_ID)]
    assert server.calls[-1].headers["X-RestSvcSessionId"] == EM_TOKEN


def test_an_unreadable_logon_body_whose_logoff_fails_too(server, make_em):
    server.on("POST", LOGON, Reply(201, b"<LogonSession", [("X-RestSvcSessionId", EM_TOKEN)],
                                   content_type="application/xml"))
    server.on("GET", "/api/logonSessions", em_error(500, "Internal error"))
    with expect_error("parse", "not well-formed XML") as caught:
        with make_em():
            pass
    assert ("; the logon session it opened could not be ended (Enterprise Manager could not return the logon sessions: "
            "Internal error): it ends after 15 minutes idle" in str(caught.error))
    assert server.count("DELETE") == 0


def test_an_unreadable_logon_body_whose_delete_fails(server, make_em):
    server.on("POST", LOGON, Reply(201, b"<LogonSession", [("X-RestSvcSessionId", EM_TOKEN)],
                                   content_type="application/xml"))
    server.on("GET", "/api/logonSessions", xml(200, LOGON_SESSIONS))
    server.on("DELETE", ANY_LOGOFF, refused())
    with expect_error("parse", "not well-formed XML") as caught:
        with make_em():
            pass
    assert "; the logon session it opened could not be ended (Could not connect to" in str(caught.error)
    assert str(caught.error).count("it ends after 15 minutes idle") == 1
    assert len([c for c in server.attempts if c.method == "DELETE"]) == 1


def test_wrong_credentials(server, make_em, warnings):
    server.on("POST", LOGON, em_error(401, "Unauthorized"))
    with expect_error("auth", warnings=warnings) as caught:
        with make_em():
            pass
    assert str(caught.error) == ("Enterprise Manager rejected the username or password for 'LAB\\svc-ansible' (HTTP 401 "
                                 "on POST /api/sessionMngr/). Check username (DOMAIN\\user) and password; the account "
                                 "needs the Portal Administrator role to start jobs")
    assert caught.error.veeam_message == "Unauthorized" and caught.error.status == 401
    assert server.count("POST") == 1 and server.count("DELETE") == 0


def test_a_busy_server_at_logon_is_retried(server, make_em, clock):
    server.on("POST", LOGON, Reply(503), logon_reply())
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em() as em:
        assert em.auth.token == EM_TOKEN
    assert server.count("POST") == 2 and clock.sleeps == [0.375]


@pytest.mark.parametrize("body", [Reply(500, b"<html><title>Server Error</title></html>", content_type="text/html"),
                                  Reply(500, b"", content_type="application/xml"),
                                  Reply(500, b"<Error Message=", content_type="application/xml")])
def test_an_error_without_a_readable_body(server, make_em, body):
    server.on("POST", LOGON, body)
    with expect_error("http") as caught:
        with make_em():
            pass
    assert str(caught.error) == "Logon to Enterprise Manager failed (HTTP 500 on POST /api/sessionMngr/)"
    assert caught.error.veeam_message is None


def test_logon_server_error(server, make_em):
    server.on("POST", LOGON, em_error(500, "Object reference not set to an instance of an object."))
    with expect_error("http") as caught:
        with make_em():
            pass
    assert str(caught.error) == ("Logon to Enterprise Manager failed: Object reference not set to an instance of an "
                                 "object (HTTP 500 on POST /api/sessionMngr/)")


def test_an_api_version_the_server_does_not_offer(server, make_em):
    server.on("POST", LOGON, em_error(400, "Unsupported version"))
    server.on("GET", "/api/", xml(200, '<EnterpriseManager xmlns="http://www.veeam.com/ent/v1.0"><SupportedVersions>'
                                       '<SupportedVersion Name="v1_6"/><SupportedVersion Name="v1_7"/>'
                                       '</SupportedVersions></EnterpriseManager>'))
    with expect_error("usage") as caught:
        with make_em(api_version="v1_5"):
            pass
    assert str(caught.error) == ("Enterprise Manager does not offer REST API version v1_5; it offers v1_6, v1_7 (HTTP 400 "
                                 "on POST /api/sessionMngr/). Use api_version: latest")


@pytest.mark.parametrize("entry", [Reply(404), xml(200, "<EnterpriseManager/>"), Reply(200, b"<html>down</html>")])
def test_an_api_version_not_offered_by_a_server_that_does_not_list_versions(server, make_em, entry):
    server.on("POST", LOGON, Reply(404))
    server.on("GET", "/api/", entry)
    with expect_error("usage") as caught:
        with make_em(api_version="v1_6"):
            pass
    assert str(caught.error) == ("Enterprise Manager does not offer REST API version v1_6 (HTTP 404 on POST "
                                 "/api/sessionMngr/). Use api_version: latest")


def test_latest_that_the_server_refuses_is_a_logon_failure(server, make_em):
    server.on("POST", LOGON, Reply(404))
    with expect_error("not_found", "Logon to Enterprise Manager failed (HTTP 404 on POST /api/sessionMngr/)"):
        with make_em():
            pass


def test_logon_without_credentials(make_transport):
    logon = EmLogon(make_transport(), token=EM_TOKEN)
    assert not logon.can_renew
    with expect_error("auth") as caught:
        logon.logon()
    assert str(caught.error) == ("The Enterprise Manager session has expired or was logged off, and no username and "
                                 "password were given to log on again (EM ends idle sessions after 15 minutes). Log on "
                                 "again with backupops.veeam.veeam_em_session")


# ------------------------------------------------------------------------------------------------ logoff
def test_logoff_on_exit(em_server, make_em):
    with make_em() as em:
        pass
    delete = em_server.calls[-1]
    assert (delete.method, delete.path) == ("DELETE", "/api/logonSessions/%s" % EM_SESSION_ID)
    assert delete.headers["X-RestSvcSessionId"] == EM_TOKEN
    assert em.auth.token is None and not em.auth.owns_session


@pytest.mark.parametrize("error", [ValueError("a bug in the module"), JobFailedError("job failed")])
def test_logoff_also_when_the_body_raised(em_server, make_em, error):
    with pytest.raises(type(error)) as info:
        with make_em():
            raise error
    assert info.value is error
    assert em_server.count("DELETE", "/api/logonSessions/%s" % EM_SESSION_ID) == 1


def test_a_failed_logoff_is_a_warning_not_an_error(server, make_em, warnings):
    server.on("POST", LOGON, logon_reply())
    server.on("DELETE", ANY_LOGOFF, em_error(500, "Internal error"))
    with make_em():
        pass
    assert warnings == ["Could not log off from Enterprise Manager (Logoff from Enterprise Manager failed: Internal error "
                        "(HTTP 500 on DELETE /api/logonSessions/{id})); EM ends idle logon sessions after 15 minutes"]
    assert_no_secrets(warnings)


def test_an_unreachable_server_at_logoff_is_a_warning(server, make_em, warnings):
    server.on("POST", LOGON, logon_reply())
    server.on("DELETE", ANY_LOGOFF, refused())
    with make_em():
        pass
    assert len(warnings) == 1 and warnings[0].startswith("Could not log off from Enterprise Manager (Could not connect to")
    assert len(server.attempts) == 2  # logon + one try of the logoff (once: the end of a run is not kept waiting)
    assert_no_secrets(warnings)


@pytest.mark.parametrize("status", [401, 404])
def test_logoff_of_a_session_already_gone(server, make_em, warnings, status):
    server.on("POST", LOGON, logon_reply())
    server.on("DELETE", ANY_LOGOFF, Reply(status))
    with make_em() as em:
        pass
    assert warnings == [] and em.auth.token is None


def test_logoff_says_whether_the_session_was_gone(server, make_transport):
    server.on("DELETE", ANY_LOGOFF, Reply(204), Reply(404))
    assert EmLogon(make_transport(), token=EM_TOKEN, session_id=EM_SESSION_ID).logoff() is False
    assert EmLogon(make_transport(), token=EM_TOKEN, session_id=EM_SESSION_ID).logoff() is True


def test_a_logoff_without_a_token_is_a_no_op(make_transport, server):
    assert EmLogon(make_transport(), USERNAME, PASSWORD).logoff() is True and server.attempts == []


def test_a_handed_in_token_is_used_and_not_logged_off(server, make_em):
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    with make_em(username=None, password=None, session_token=EM_TOKEN) as em:
        assert em.find_job(job_id=DB_BACKUP)["name"] == "DB Backup"
        assert not em.auth.owns_session
    assert [c.method for c in server.calls] == ["GET"]
    assert server.calls[0].headers["X-RestSvcSessionId"] == EM_TOKEN


def test_a_handed_in_token_is_logged_off_when_asked(server, make_em):
    server.on("GET", "/api/logonSessions", xml(200, LOGON_SESSIONS))
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em(username=None, password=None, session_token=EM_TOKEN, logoff=True):
        pass
    assert [(c.method, c.path) for c in server.calls] == [
        ("GET", "/api/logonSessions"), ("DELETE", "/api/logonSessions/%s" % EM_SESSION_ID)]


def test_a_handed_in_token_with_its_logon_session_id(server, make_em):
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em(username=None, password=None, session_token=EM_TOKEN, logon_session_id=SECOND_SESSION_ID, logoff=True):
        pass
    assert [(c.method, c.path) for c in server.calls] == [("DELETE", "/api/logonSessions/%s" % SECOND_SESSION_ID)]


def test_a_token_whose_session_cannot_be_told_apart_is_a_warning_at_logoff(server, make_em, warnings):
    two = "".join('<Ref Type="LogonSessionReference" Href="https://em:9398/api/logonSessions/%s"/>' % i
                  for i in (EM_SESSION_ID, SECOND_SESSION_ID))
    server.on("GET", "/api/logonSessions", xml(200, "<EntityReferences>%s</EntityReferences>" % two))
    with make_em(username=None, password=None, session_token=EM_TOKEN, logoff=True):
        pass
    assert warnings == ["Could not log off from Enterprise Manager (Cannot tell which of the 2 logon sessions of this "
                        "account the session token belongs to; pass logon_session_id as well (veeam_em_session state=present "
                        "returns it, and its session_token carries it)); EM ends idle logon sessions after 15 minutes"]
    assert server.count("DELETE") == 0


def test_the_session_list_of_a_token_that_cannot_be_read(server, make_em, warnings):
    server.on("GET", "/api/logonSessions", em_error(401, "Unauthorized"))
    with make_em(username=None, password=None, session_token=EM_TOKEN, logoff=True):
        pass
    assert warnings == ["Could not log off from Enterprise Manager (Enterprise Manager could not return the logon "
                        "sessions: Unauthorized (HTTP 401 on GET /api/logonSessions)); EM ends idle logon sessions "
                        "after 15 minutes"]


@pytest.mark.parametrize("body", [
    '<LogonSessions><LogonSession Href="https://em/api/logonSessions/%s"><SessionId>%s</SessionId></LogonSession>'
    '</LogonSessions>' % (SECOND_SESSION_ID, SECOND_SESSION_ID),
    '<EntityReferences><Ref UID="urn:veeam:LogonSession:%s"/></EntityReferences>' % SECOND_SESSION_ID])
def test_the_session_id_of_a_token_from_any_list_shape(server, make_transport, body):
    server.on("GET", "/api/logonSessions", xml(200, body))
    assert EmLogon(make_transport(), token=EM_TOKEN).current_session_id() == SECOND_SESSION_ID


def test_an_owned_session_is_kept_when_asked(em_server, make_em):
    with make_em(logoff=False) as em:
        token = em.auth.token
    assert token == EM_TOKEN and em_server.count("DELETE") == 0


# ------------------------------------------------------------------------------------------------ renewal
def test_renewal_of_an_owned_session_is_silent(server, make_em, warnings):
    server.on("POST", LOGON, logon_reply(), logon_reply(EM_TOKEN2, SECOND_SESSION_ID))
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, em_error(401, "Unauthorized"), xml(200, "em_job_entity.xml"))
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em() as em:
        em.find_job(job_id=DB_BACKUP)
        assert em.auth.renewals == 1 and em.auth.token == EM_TOKEN2 and em.auth.session_id == SECOND_SESSION_ID
    assert warnings == []


def test_renewal_of_a_handed_in_token_warns(server, make_em, warnings):
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, em_error(401, "Unauthorized"), xml(200, "em_job_entity.xml"))
    server.on("POST", LOGON, logon_reply(EM_TOKEN2, SECOND_SESSION_ID))
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em(session_token=EM_TOKEN) as em:
        em.find_job(job_id=DB_BACKUP)
        assert em.auth.owns_session  # the new session is ours: it is logged off at the end
    assert warnings == ["The Enterprise Manager session token was rejected (expired or logged off); logged on again, "
                        "and this task logs the new session off when it ends"]
    assert [(c.method, c.path) for c in server.calls if c.method != "GET"] == [
        ("POST", LOGON), ("DELETE", "/api/logonSessions/%s" % SECOND_SESSION_ID)]
    assert_no_secrets(warnings)


def test_em_sessions_are_not_refreshed_ahead(make_transport, server):
    logon = EmLogon(make_transport(), token=EM_TOKEN)
    logon.refresh_if_due()
    logon.begin()  # a token is there already: no logon
    assert server.attempts == [] and logon.token == EM_TOKEN


def test_the_em_logon_of_connect(make_transport, journal):
    em = _em.connect(make_transport(), {"username": USERNAME, "password": PASSWORD, "api_version": "v1_7",
                                        "session_token": EM_TOKEN, "logon_session_id": EM_SESSION_ID}, journal, logoff=True)
    assert isinstance(em, _em.EnterpriseManager) and em.journal is journal
    assert (em.auth.username, em.auth.api_version, em.auth.token, em.auth.session_id, em.auth.logoff_on_end) == (
        USERNAME, "v1_7", EM_TOKEN, EM_SESSION_ID, True)
    assert em.auth.journal is journal


# ================================================================================================ OAuth2 / VB365
def token_calls(server, version="v8"):
    return [c for c in server.calls if c.path == "/%s/token" % version]


def test_login_is_a_form_encoded_password_grant(vb_server, make_vb):
    with make_vb() as vb:
        assert isinstance(vb.auth, Vb365Token) and vb.auth.logins == 1
    login = token_calls(vb_server)[0]
    assert login.form == {"grant_type": "password", "username": USERNAME, "password": PASSWORD}
    assert login.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert login.headers["Accept"] == "application/json"


def test_the_token_request_form_matches_the_documented_sample():
    documented = fixture_bytes("m365_token_request_form_v1.txt").decode("utf-8").strip()
    assert set(dict(pair.split("=", 1) for pair in documented.split("&"))) == {"grant_type", "username", "password"}


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
        assert vb.auth.refreshes == 1 and vb.auth.logins == 1
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
        assert vb.auth.refreshes == 0
        clock.advance(10)  # 25 s left < 30 s (a tenth of 300 s)
        vb.get_job(JOB)
        assert vb.auth.refreshes == 1


def test_a_token_without_expiry_lives_an_hour(vb_server, make_vb, clock):
    vb_server.on("POST", "/v8/token", jsonr(200, {"access_token": M365_ACCESS, "expires_in": "soon"}))
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job()))
    with make_vb() as vb:
        clock.advance(3539)
        vb.get_job(JOB)
        assert vb.auth.logins == 1
        clock.advance(2)  # no refresh token: a new password login
        vb.get_job(JOB)
        assert vb.auth.logins == 2 and vb.auth.refreshes == 0


def test_429_at_login_is_backed_off_with_retry_after(vb_server, make_vb, clock):
    vb_server.on("POST", "/v8/token", Reply(429, b"Quota Exceeded", {"Retry-After": "3"}),
                 Reply(429, b"Quota Exceeded", {"Retry-After": "7"}), token_body())
    with make_vb() as vb:
        assert vb.auth.logins == 1
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
        "Fewer logins per minute help (one login per play: a session module, or the job_run role with several jobs)")
    assert len(token_calls(vb_server)) == 6 and len(clock.sleeps) == 5


def test_429_of_a_refresh(vb_server, make_vb, clock):
    vb_server.on("POST", "/v8/token", token_body(), Reply(429))
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job()))
    with expect_error("http", "VB365 throttled the token refresh (429 Quota Exceeded) and kept doing so after 6 tries"):
        with make_vb() as vb:
            clock.advance(3590)
            vb.get_job(JOB)


def test_a_refused_refresh_falls_back_to_the_password(vb_server, make_vb, clock):
    vb_server.on("POST", "/v8/token", token_body(), jsonr(400, "m365_oauth_error_constructed.json"),
                 token_body(M365_ACCESS2, M365_REFRESH2))
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job()))
    with make_vb() as vb:
        clock.advance(3590)
        vb.get_job(JOB)
        assert vb.auth.logins == 2 and vb.auth.refreshes == 0
    assert [c.form["grant_type"] for c in token_calls(vb_server)] == ["password", "refresh_token", "password"]
    assert [c.headers["Authorization"] for c in vb_server.calls if c.method == "GET"] == ["Bearer " + M365_ACCESS2]


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
        assert vb.auth.refreshes == 1
    assert [c.headers["Authorization"] for c in vb_server.calls if c.method == "GET"] == [
        "Bearer " + M365_ACCESS, "Bearer " + M365_ACCESS2]


def test_a_second_401_is_an_error(vb_server, make_vb, warnings):
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(401, {"message": "Authorization has been denied for this request."}))
    with expect_error("auth", warnings=warnings) as caught:
        with make_vb() as vb:
            vb.get_job(JOB)
    assert str(caught.error) == ("VB365 could not return the job %s: Authorization has been denied for this request "
                                 "(HTTP 401 on GET /v8/Jobs/{id}). VB365 refused a token it had just issued: check that "
                                 "the VB365 server's clock is right and that the "
                                 "account may use the REST API, then run the task again" % JOB)
    assert vb_server.count("GET") == 2


@pytest.mark.parametrize("status", [400, 401, 403])
def test_wrong_credentials_of_vb365(vb_server, make_vb, warnings, status):
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


def test_a_login_that_fails_otherwise(vb_server, make_vb):
    vb_server.on("POST", "/v8/token", jsonr(500, {"message": "Database is offline."}))
    with expect_error("http") as caught:
        with make_vb():
            pass
    assert str(caught.error) == "VB365 login failed: Database is offline (HTTP 500 on POST /v8/token)"


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
    with make_vb(version) as vb:
        pass
    posts = [c.path for c in vb_server.calls if c.method == "POST"]
    assert posts == ["/%s/token" % version] + (["/%s/token/logout" % version] if logout else [])
    if logout:
        assert vb_server.calls[-1].headers["Authorization"] == "Bearer " + M365_ACCESS
    assert vb.auth.headers() == {}  # the token is forgotten at the end either way


def test_logout_also_when_the_body_raised(vb_server, make_vb):
    with pytest.raises(ZeroDivisionError):
        with make_vb("v8"):
            raise ZeroDivisionError()
    assert vb_server.count("POST", "/v8/token/logout") == 1


@pytest.mark.parametrize("status", [200, 204, 401])
def test_a_logout_of_a_token_already_gone_is_fine(vb_server, make_vb, warnings, status):
    vb_server.on("POST", "/v8/token/logout", Reply(status))
    with make_vb("v8"):
        pass
    assert warnings == []


def test_a_failed_logout_is_a_warning(vb_server, make_vb, warnings):
    vb_server.on("POST", "/v8/token/logout", jsonr(500, {"message": "Internal error."}))
    with make_vb("v8"):
        pass
    assert warnings == ["Could not log out from VB365 (VB365 logout failed: Internal error (HTTP 500 on POST "
                        "/v8/token/logout)); the token expires on its own"]
    assert_no_secrets(warnings)


def test_token_retries_on_throttling_only_not_on_connection_errors(vb_server, make_vb, clock):
    """The token endpoint's own policy (6 tries, up to 20 s) is for 429; a port nobody listens on fails after the
    transport's 4 tries (about 3 s), as on any other request."""
    vb_server.on("POST", "/v8/token", refused())
    with expect_error("connection", "Connection refused"):
        with make_vb():
            pass
    assert len(vb_server.attempts) == 4 and clock.sleeps == [0.375, 0.75, 1.5]


def test_the_vb365_token_defaults(make_transport):
    token = Vb365Token(make_transport(), USERNAME, PASSWORD, Routes("v6"))
    assert (token.token_path, token.logout_path, token.version, token.product) == ("/v6/token", None, "v6", "VB365")
    # VB365 throttles its token endpoint (5 a minute by default): a Retry-After of up to a minute is waited for
    assert (token.retry.attempts, token.retry.base, token.retry.cap) == (6, 1.0, 60.0)
    assert Vb365Token(make_transport(), USERNAME, PASSWORD, Routes("v7")).logout_path == "/v7/token/logout"


# ------------------------------------------------------------------------------------------------ OAuth2Token alone
@pytest.fixture
def oauth(make_transport, clock):
    """An OAuth2Token of another API (VBR-like): its own paths and an ``x-api-version`` header."""
    def make(**kwargs):
        kwargs.setdefault("headers", {"x-api-version": "1.1-rev0"})
        kwargs.setdefault("retry", RetryPolicy(attempts=2, sleep=clock.sleep, rand=lambda: 0.5))
        return OAuth2Token(make_transport(base="https://vbr.example:9419"), USERNAME, PASSWORD, "/api/oauth2/token",
                           clock=clock.monotonic, **kwargs)
    return make


@pytest.mark.parametrize("username,password", [(None, PASSWORD), (USERNAME, ""), ("", None)])
def test_oauth2_needs_credentials(make_transport, username, password):
    with expect_error("usage") as caught:
        OAuth2Token(make_transport(), username, password, "/token")
    assert str(caught.error) == "username and password are required"


def test_oauth2_token_requests_carry_the_apis_headers(server, oauth):
    server.on("POST", "/api/oauth2/token", token_body())
    token = oauth(logout_path="/api/oauth2/logout")
    server.on("POST", "/api/oauth2/logout", Reply(200))
    token.begin()
    assert token.headers() == {"Authorization": "Bearer %s" % M365_ACCESS}
    token.end()
    assert [c.headers["x-api-version"] for c in server.calls] == ["1.1-rev0", "1.1-rev0"]
    assert server.calls[1].headers["Authorization"] == "Bearer %s" % M365_ACCESS
    assert token.headers() == {}


def test_oauth2_without_a_logout_route_just_forgets_the_token(server, oauth):
    server.on("POST", "/api/oauth2/token", token_body())
    token = oauth()
    token.begin()
    token.end()
    assert token.headers() == {} and len(server.calls) == 1


def test_oauth2_a_refused_login(server, oauth):
    server.on("POST", "/api/oauth2/token", jsonr(401, {"error": "invalid_grant", "error_description": "Bad password"}))
    with expect_error("auth") as caught:
        oauth().begin()
    assert str(caught.error) == ("Veeam rejected the username or password for 'LAB\\svc-ansible' (HTTP 401 on POST "
                                 "/api/oauth2/token). Check username and password")


def test_oauth2_end_failed_is_a_message(oauth):
    assert oauth().end_failed(Exception("boom")) == "Could not log out from Veeam (boom); the token expires on its own"


def test_oauth2_journal_defaults(make_transport):
    token = OAuth2Token(make_transport(), USERNAME, PASSWORD, "/token")
    assert isinstance(token.journal, Journal) and token.can_renew and token.logout_path is None


# ================================================================================================ send_creating
LOST_TEXT = "Lost the connection to https://em.example:9398: the connection was closed before a response arrived"


class Sender:
    """A ``send`` for send_creating: raises the scripted errors in order, then answers."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.sent = 0

    def __call__(self):
        self.sent += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def lost(timed_out=False):
    return LostAnswerError(LOST_TEXT + "; the server may or may not have acted on the request", timed_out=timed_out,
                           method="POST", path="/api/sessionMngr/")


def test_send_creating_sends_once_when_the_answer_comes():
    journal = Journal()
    send = Sender("answer")
    assert send_creating(send, journal, "the logon to Enterprise Manager", "logon session", "ends after 15 minutes "
                         "idle") == "answer"
    assert send.sent == 1 and journal.warnings == []


@pytest.mark.parametrize("timed_out", [False, True])
def test_send_creating_sends_again_once_after_a_lost_answer_and_warns(timed_out):
    journal = Journal()
    send = Sender(lost(timed_out), "answer")
    assert send_creating(send, journal, "the logon to Enterprise Manager", "logon session",
                         "ends after 15 minutes idle") == "answer"
    assert send.sent == 2
    assert journal.warnings == ["The answer to the logon to Enterprise Manager was lost (%s); if the server received it, "
                                "it made a logon session that this task cannot end (it ends after 15 minutes idle). "
                                "Sent once more" % LOST_TEXT]


@pytest.mark.parametrize("timed_out", [False, True])
def test_send_creating_fails_after_a_second_lost_answer(timed_out):
    journal = Journal()
    send = Sender(lost(), lost(timed_out), "never")
    with expect_error("response_lost") as caught:
        send_creating(send, journal, "the login to VB365", "token", "expires after its lifetime, an hour by default")
    assert send.sent == 2 and len(journal.warnings) == 1
    assert str(caught.error) == ("The login to VB365 got no answer twice (%s); each may have made a token that this "
                                 "task cannot end (it expires after its lifetime, an hour by default) (POST "
                                 "/api/sessionMngr/). Check the server and raise timeout if it is slow" % LOST_TEXT)
    assert caught.error.timed_out is timed_out


def test_send_creating_lets_other_errors_through_without_sending_again():
    send = Sender(UsageError("bad"), "never")
    with pytest.raises(UsageError):
        send_creating(send, Journal(), "the logon", "logon session", "ends")
    assert send.sent == 1


@pytest.mark.parametrize("fault", [dropped, reset, read_timeout])
def test_a_lost_logon_answer_is_sent_again_once(server, make_em, warnings, fault):
    server.on("POST", LOGON, fault(), logon_reply())
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em() as em:
        assert em.auth.token == EM_TOKEN
    assert server.count("POST", LOGON) == 2
    assert len(warnings) == 1 and warnings[0].startswith("The answer to the logon to Enterprise Manager was lost (")
    assert warnings[0].endswith("if the server received it, it made a logon session that this task cannot end (it "
                                "ends after 15 minutes idle). Sent once more")
    assert_no_secrets(warnings)


def test_two_lost_logon_answers_fail_the_task(server, make_em, warnings):
    server.on("POST", LOGON, dropped(), reset(), logon_reply())
    with expect_error("response_lost", "The logon to Enterprise Manager got no answer twice (", warnings=warnings) as c:
        with make_em():
            pass
    assert "each may have made a logon session that this task cannot end (it ends after 15 minutes idle)" in str(c.error)
    assert server.count("POST", LOGON) == 2 and server.count("DELETE") == 0


def test_a_logon_refused_before_it_was_sent_is_tried_again_without_a_warning(server, make_em, warnings, clock):
    server.on("POST", LOGON, refused(), logon_reply())
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em():
        pass
    assert warnings == [] and server.count("POST", LOGON) == 1 and clock.sleeps == [0.375]


def test_a_lost_token_answer_is_sent_again_once(vb_server, make_vb, warnings):
    vb_server.on("POST", "/v8/token", dropped(), token_body())
    with make_vb() as vb:
        assert vb.auth.logins == 1
    assert len(token_calls(vb_server)) == 2
    assert warnings == ["The answer to the login to VB365 was lost (Lost the connection to %s: the connection was "
                        "closed before a response arrived); if the server received it, it made a token that this task "
                        "cannot end (it expires after its lifetime, an hour by default). Sent once more" % BASE_VB]


def test_a_lost_refresh_answer_is_sent_again_once(vb_server, make_vb, clock, warnings):
    vb_server.on("POST", "/v8/token", token_body(), read_timeout(), token_body(M365_ACCESS2, M365_REFRESH2))
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job()))
    with make_vb() as vb:
        clock.advance(3590)
        vb.get_job(JOB)
        assert vb.auth.refreshes == 1
    assert len(warnings) == 1 and warnings[0].startswith("The answer to the token refresh to VB365 was lost (")


def test_logout_is_tried_once(vb_server, make_vb, warnings):
    vb_server.on("POST", "/v8/token/logout", Reply(503), Reply(204))
    with make_vb("v8"):
        pass
    assert vb_server.count("POST", "/v8/token/logout") == 1
    assert warnings == ["Could not log out from VB365 (VB365 logout failed (HTTP 503 on POST /v8/token/logout)); the "
                        "token expires on its own"]


def test_logoff_is_tried_once(server, make_em, warnings):
    server.on("POST", LOGON, logon_reply())
    server.on("DELETE", ANY_LOGOFF, Reply(503), Reply(204))
    with make_em():
        pass
    assert server.count("DELETE") == 1 and len(warnings) == 1


# ================================================================================================ the hand-off token
def test_the_handoff_carries_the_token_and_its_session_id(em_server, make_em):
    with make_em(logoff=False) as em:
        assert em.auth.handoff == "%s|%s" % (EM_TOKEN, EM_SESSION_ID)


def test_a_handoff_token_is_split_into_token_and_session_id(server, make_em):
    server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    server.on("DELETE", ANY_LOGOFF, Reply(204))
    with make_em(username=None, password=None, session_token="%s|%s" % (EM_TOKEN, SECOND_SESSION_ID),
                 logoff=True) as em:
        assert em.auth.token == EM_TOKEN and em.auth.session_id == SECOND_SESSION_ID
        assert em.auth.handoff == "%s|%s" % (EM_TOKEN, SECOND_SESSION_ID)
        em.find_job(job_id=DB_BACKUP)
    assert server.calls[0].headers["X-RestSvcSessionId"] == EM_TOKEN  # the token alone, never the hand-off
    # logged off by the id it carried: no list of logon sessions to guess from
    assert [(c.method, c.path) for c in server.calls[1:]] == [("DELETE", "/api/logonSessions/%s" % SECOND_SESSION_ID)]


def test_a_session_id_given_apart_wins_over_the_one_in_the_handoff(make_transport):
    logon = EmLogon(make_transport(), token="%s|%s" % (EM_TOKEN, SECOND_SESSION_ID), session_id=EM_SESSION_ID)
    assert logon.token == EM_TOKEN and logon.session_id == EM_SESSION_ID


def test_a_token_without_a_session_id_is_handed_on_as_it_is(make_transport):
    logon = EmLogon(make_transport(), token=EM_TOKEN)
    assert logon.session_id is None and logon.handoff == EM_TOKEN
    assert EmLogon(make_transport(), token=EM_TOKEN + "|").session_id is None


# ================================================================================================ which logon session
GUID = "9d5e2f1c-3b4a-4c5d-8e6f-7a8b9c0d1e2f"


def test_token_session_ids_of_a_base64_guid_text():
    token = base64.b64encode(GUID.encode("ascii")).decode("ascii")
    assert token_session_ids(token) == {GUID}
    assert token_session_ids(token.rstrip("=")) == {GUID}  # padding left out
    assert token_session_ids(base64.b64encode(GUID.upper().encode("ascii")).decode("ascii")) == {GUID}


def test_token_session_ids_of_sixteen_raw_bytes_both_ways_round():
    raw = uuid.UUID(GUID).bytes
    ids = token_session_ids(base64.b64encode(raw).decode("ascii"))
    assert ids == {GUID, str(uuid.UUID(bytes_le=raw))} and len(ids) == 2
    assert GUID in token_session_ids(base64.b64encode(uuid.UUID(GUID).bytes_le).decode("ascii"))


@pytest.mark.parametrize("token", ["", "!!not base64!!", EM_TOKEN, base64.b64encode(b"short").decode(), None])
def test_token_session_ids_of_anything_else_is_empty(token):
    assert token_session_ids(token) == set()


def logon_sessions(*ids):
    return xml(200, '<EntityReferences xmlns="http://www.veeam.com/ent/v1.0">%s</EntityReferences>' % "".join(
        '<Ref Type="LogonSessionReference" UID="urn:veeam:LogonSession:%s" Href="https://em:9398/api/logonSessions/%s"/>'
        % (i, i) for i in ids))


def test_the_session_the_token_stands_for_is_picked_among_several(server, make_transport):
    token = base64.b64encode(GUID.encode("ascii")).decode("ascii")
    server.on("GET", "/api/logonSessions", logon_sessions(EM_SESSION_ID, GUID, SECOND_SESSION_ID))
    assert EmLogon(make_transport(), token=token).current_session_id() == GUID
    assert server.calls[0].headers["X-RestSvcSessionId"] == token


def test_the_session_of_a_raw_bytes_token_is_picked_among_several(server, make_transport):
    token = base64.b64encode(uuid.UUID(GUID).bytes_le).decode("ascii")
    server.on("GET", "/api/logonSessions", logon_sessions(EM_SESSION_ID, GUID))
    assert EmLogon(make_transport(), token=token).current_session_id() == GUID


def test_the_only_listed_session_is_taken(server, make_transport):
    server.on("GET", "/api/logonSessions", logon_sessions(SECOND_SESSION_ID))
    assert EmLogon(make_transport(), token=EM_TOKEN).current_session_id() == SECOND_SESSION_ID


@pytest.mark.parametrize("ids", [(EM_SESSION_ID, SECOND_SESSION_ID), ()])
def test_other_operators_sessions_are_never_taken_for_ours(server, make_transport, ids):
    server.on("GET", "/api/logonSessions", logon_sessions(*ids))
    with expect_error("usage") as caught:
        EmLogon(make_transport(), token=EM_TOKEN).current_session_id()
    assert str(caught.error) == ("Cannot tell which of the %d logon sessions of this account the session token belongs "
                                 "to; pass logon_session_id as well (veeam_em_session state=present returns it, and its "
                                 "session_token carries it)" % len(ids))


def test_a_token_that_stands_for_a_session_not_listed_is_not_taken_for_another(server, make_transport):
    token = base64.b64encode(GUID.encode("ascii")).decode("ascii")
    server.on("GET", "/api/logonSessions", logon_sessions(EM_SESSION_ID, SECOND_SESSION_ID))
    with expect_error("usage", "Cannot tell which of the 2 logon sessions"):
        EmLogon(make_transport(), token=token).current_session_id()


# ================================================================================================ Retry-After at login
def test_a_throttled_login_that_asks_to_wait_longer_than_the_cap(vb_server, make_vb, clock, warnings):
    vb_server.on("POST", "/v8/token", Reply(429, b"Quota Exceeded", {"Retry-After": "90"}), token_body())
    with expect_error("http", warnings=warnings) as caught:
        with make_vb():
            pass
    assert str(caught.error) == ("VB365 throttled the login (429 Quota Exceeded) and asks to wait 90 s before the next "
                                 "one (Retry-After) (HTTP 429 on POST /v8/token). Fewer logins per minute help (one login "
                                 "per play: a session module, or the job_run role with several jobs)")
    assert len(token_calls(vb_server)) == 1 and clock.sleeps == []


def test_a_throttled_login_that_asks_to_wait_within_the_cap_is_waited_for(vb_server, make_vb, clock):
    vb_server.on("POST", "/v8/token", Reply(429, b"Quota Exceeded", {"Retry-After": "20"}), token_body())
    with make_vb() as vb:
        assert vb.auth.logins == 1
    assert clock.sleeps == [20.0]


# ================================================================================================ VbrToken
REVISION = "1.3-rev1"


@pytest.fixture
def vbr_token(make_transport, clock, journal):
    def make(revision=REVISION):
        return VbrToken(make_transport(base="https://vbr.example:9419"), USERNAME, PASSWORD, revision, journal=journal,
                        clock=clock.monotonic)
    return make


def test_vbr_token_requests_carry_the_revision(server, vbr_token):
    server.on("POST", "/api/oauth2/token", token_body())
    server.on("POST", "/api/oauth2/logout", Reply(200))
    token = vbr_token("1.1-rev0")
    token.begin()
    token.end()
    login, logout = server.calls
    assert login.form == {"grant_type": "password", "username": USERNAME, "password": PASSWORD}
    assert login.headers["x-api-version"] == "1.1-rev0" and logout.headers["x-api-version"] == "1.1-rev0"
    assert logout.headers["Authorization"] == "Bearer " + M365_ACCESS
    assert (token.product, token.token_path, token.logout_path, token.revision) == (
        "VBR", "/api/oauth2/token", "/api/oauth2/logout", "1.1-rev0")


@pytest.mark.parametrize("body", [
    {"errorCode": "NotImplemented", "message": "The specified API version is not supported."},
    {"errorCode": "BadRequest", "message": "Unsupported x-api-version header value."},
])
def test_vbr_refuses_the_revision(server, vbr_token, body):
    server.on("POST", "/api/oauth2/token", jsonr(400, body))
    with expect_error("usage") as caught:
        vbr_token().begin()
    assert isinstance(caught.error, UnsupportedRevision)
    assert str(caught.error) == ("VBR does not accept REST API revision 1.3-rev1: %s (HTTP 400 on POST /api/oauth2/token)"
                                 ". Use api_version: auto, or the revision of your VBR release (1.1-rev0 for 12.0 up to "
                                 "1.3-rev1 for 13.0.1)" % body["message"].rstrip("."))
    assert caught.error.veeam_code == body["errorCode"]


def test_vbr_refuses_the_revision_without_a_message(server, vbr_token):
    server.on("POST", "/api/oauth2/token", jsonr(400, {"errorCode": "NotImplemented"}))
    with expect_error("usage") as caught:
        vbr_token().begin()
    assert str(caught.error).startswith("VBR does not accept REST API revision 1.3-rev1 (HTTP 400 on POST ")


@pytest.mark.parametrize("status,body", [
    (400, {"errorCode": "InvalidGrant", "message": "Invalid user name or password."}),
    (401, {"errorCode": "AccessDenied", "message": "Access is denied."}),
    (403, {"errorCode": "Forbidden", "message": "Forbidden."}),
])
def test_vbr_rejects_the_credentials(server, vbr_token, status, body):
    server.on("POST", "/api/oauth2/token", jsonr(status, body))
    with expect_error("auth") as caught:
        vbr_token().begin()
    assert not isinstance(caught.error, UnsupportedRevision)
    assert str(caught.error) == ("VBR rejected the username or password for 'LAB\\svc-ansible' (HTTP %d on POST "
                                 "/api/oauth2/token). Check username (DOMAIN\\user) and password; VBR lets Backup "
                                 "Administrators and Backup Operators start and stop jobs" % status)
    assert caught.error.veeam_message == body["message"]


def test_vbr_login_that_fails_otherwise(server, vbr_token):
    server.on("POST", "/api/oauth2/token", jsonr(500, {"errorCode": "UnknownError", "message": "Database is down."}))
    with expect_error("http") as caught:
        vbr_token().begin()
    assert str(caught.error) == "VBR login failed: Database is down (HTTP 500 on POST /api/oauth2/token)"


def test_a_lost_vbr_token_answer_warns_that_the_token_lasts_15_minutes(server, vbr_token, warnings):
    server.on("POST", "/api/oauth2/token", dropped(), token_body())
    vbr_token().begin()
    assert len(warnings) == 1 and warnings[0].startswith("The answer to the login to VBR was lost (")
    assert "it made a token that this task cannot end (it expires after 15 minutes). Sent once more" in warnings[0]


def test_a_throttled_vbr_login_that_asks_to_wait_longer_than_the_cap(server, vbr_token, clock):
    server.on("POST", "/api/oauth2/token", Reply(429, headers={"Retry-After": "60"}), token_body())
    with expect_error("http") as caught:
        vbr_token().begin()
    assert str(caught.error).startswith("VBR throttled the login (429 Quota Exceeded) and asks to wait 60 s before the "
                                        "next one (Retry-After) (HTTP 429 on POST /api/oauth2/token)")
    assert len(server.calls) == 1 and clock.sleeps == []


# ================================================================================================ ~/.netrc
def _netrc_home(monkeypatch, tmp_path, host):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine %s login netrc-user password netrc-Pw-from-file\n" % host)
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NETRC", raising=False)


def test_the_em_logon_sends_the_modules_credentials_whatever_netrc_says(em_server, make_em, monkeypatch, tmp_path):
    _netrc_home(monkeypatch, tmp_path, "em.example")
    with make_em():
        pass
    assert em_server.calls[0].headers["Authorization"] == "Basic " + BASIC
    assert all("Authorization" not in c.headers for c in em_server.calls[1:])  # the token, not netrc, afterwards


def test_a_token_request_sends_the_modules_credentials_and_no_netrc_ones(vb_server, make_vb, monkeypatch, tmp_path):
    _netrc_home(monkeypatch, tmp_path, "vb365.example")
    with make_vb():
        pass
    login = token_calls(vb_server)[0]
    assert "Authorization" not in login.headers
    assert (login.form["username"], login.form["password"]) == (USERNAME, PASSWORD)
