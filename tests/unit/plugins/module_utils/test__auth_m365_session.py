# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The VB365 session token of veeam_m365_session (issue 15): the hand-off (encoded, decoded, refused when it is not
one), the session module's login kept open, a handed token used without a login or a logout, not refreshed before
it runs out, refreshed once after it ran out, replaced by a password login when its refresh token was used up by
another task, an error saying what to do without credentials, logged out when asked (state: absent).  Through the
VB365 client as a module runs it, against the fake server; no secret in an error or a warning."""

from __future__ import annotations

import base64
import json
import time

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.module_utils._auth import decode_handoff, encode_handoff
from ansible_collections.backupops.veeam.plugins.module_utils._errors import UsageError
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    M365_ACCESS, M365_ACCESS2, M365_REFRESH, M365_REFRESH2, PASSWORD, USERNAME, Reply, assert_no_secrets,
    expect_error, jsonr)
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_wire import JOB, job, token_body

BASE_VB = "https://vb365.example:4443"
MODULE = "backupops.veeam.veeam_m365_session"


@pytest.fixture
def connect(make_transport, journal, token_clock):  # pylint: disable=unused-argument
    """``connect(session_token=None, version="v8", with_credentials=True, **connect kwargs)``: the VB365 client of
    a module run, as VeeamModule builds it."""
    def make(session_token=None, version="v8", with_credentials=True, **kwargs):
        params = {"api_version": version, "session_token": session_token,
                  "username": USERNAME if with_credentials else None,
                  "password": PASSWORD if with_credentials else None}
        return _m365.connect(make_transport(base=BASE_VB), params, journal, **kwargs)
    return make


def handed(access=M365_ACCESS, refresh=M365_REFRESH, expires_in=3600, version="v8"):
    return encode_handoff("vb365", {"access": access, "refresh": refresh, "expires": time.time() + expires_in,
                                    "version": version})


def posts(server):
    return [(c.path, (c.form or {}).get("grant_type")) for c in server.calls if c.method == "POST"]


# ------------------------------------------------------------------------------------------------ the token itself
def test_the_hand_off_round_trip():
    token = encode_handoff("vb365", {"access": M365_ACCESS, "refresh": M365_REFRESH, "expires": 1.5e9, "version": "v7"})
    assert token.startswith("vb365:") and "=" not in token
    assert M365_ACCESS not in token and M365_REFRESH not in token  # opaque (base64url JSON), not the raw tokens
    assert decode_handoff("vb365", "  %s " % token, MODULE) == {
        "access": M365_ACCESS, "refresh": M365_REFRESH, "expires": 1.5e9, "version": "v7"}


@pytest.mark.parametrize("token", [
    M365_ACCESS,                                                                # a raw access token
    "em:" + encode_handoff("vb365", {"access": M365_ACCESS}).split(":", 1)[1],  # another kind
    "vb365:%%%not-base64%%%",
    "vb365:" + base64.urlsafe_b64encode(b"[1, 2]").decode("ascii"),            # not an object
    "vb365:" + base64.urlsafe_b64encode(json.dumps({"refresh": M365_REFRESH}).encode()).decode("ascii"),  # no access
    "vb365:" + base64.urlsafe_b64encode(b"\xff\xfe").decode("ascii"),           # not UTF-8
])
def test_a_token_that_is_not_a_hand_off_is_refused(token):
    with pytest.raises(UsageError) as caught:
        decode_handoff("vb365", token, MODULE)
    assert str(caught.value) == ("session_token is not one that %s returned: register its result and pass its "
                                 "session_token" % MODULE)
    assert_no_secrets([str(caught.value)])


def test_a_bad_session_token_fails_before_anything_is_sent(connect, vb_server):
    with expect_error("usage", "session_token is not one that backupops.veeam.veeam_m365_session returned"):
        connect(session_token="not-a-session-token")
    assert vb_server.calls == []


# ------------------------------------------------------------------------------------------------ state: present
def test_the_session_modules_login_is_kept_open_and_handed_on(connect, vb_server):
    with connect(keep_open=True) as vb:
        token = vb.handoff()
        expires = vb.auth.expires_epoch
    assert posts(vb_server) == [("/v8/token", "password")]  # no logout: the later tasks use the token
    fields = decode_handoff("vb365", token, MODULE)
    assert (fields["access"], fields["refresh"], fields["version"]) == (M365_ACCESS, M365_REFRESH, "v8")
    assert abs(fields["expires"] - (time.time() + 3600)) < 5 and fields["expires"] == expires


def test_the_hand_off_carries_the_version_auto_found(connect, vb_server):
    vb_server.on("GET", "/v8/ServiceInstance", jsonr(401, None))  # only the newest version answers (401: it exists)
    with connect(version="auto", keep_open=True) as vb:
        token = vb.handoff()
    assert decode_handoff("vb365", token, MODULE)["version"] == vb.version


# ------------------------------------------------------------------------------------------------ later tasks
def test_a_handed_token_is_used_without_a_login_or_a_logout(connect, vb_server):
    vb_server.on("GET", "/v7/Jobs/%s" % JOB, jsonr(200, job()))
    with connect(session_token=handed(version="v7"), version="auto") as vb:  # the token's version, no detection
        assert vb.version == "v7" and vb.get_job(JOB)["id"] == JOB
    assert posts(vb_server) == []
    assert [c.headers["Authorization"] for c in vb_server.calls] == ["Bearer " + M365_ACCESS]


def test_a_handed_token_is_not_refreshed_before_it_runs_out(connect, vb_server, clock):
    """A refresh would revoke the token for every other task of the play."""
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, jsonr(200, job()))
    with connect(session_token=handed(expires_in=30)) as vb:
        clock.advance(20)  # 10 s left: an own token would be refreshed now
        vb.get_job(JOB)
    assert posts(vb_server) == []


def test_a_handed_token_that_ran_out_is_refreshed_once_and_the_new_one_logged_out(connect, vb_server):
    vb_server.on("POST", "/v8/token", token_body(M365_ACCESS2, M365_REFRESH2))
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, Reply(401), jsonr(200, job()))  # 401 with an empty body, as VB365
    with connect(session_token=handed(expires_in=-5)) as vb:
        assert vb.get_job(JOB)["id"] == JOB
        assert (vb.auth.refreshes, vb.auth.logins) == (1, 0)
    assert posts(vb_server) == [("/v8/token", "refresh_token"), ("/v8/token/logout", None)]
    refresh = [c for c in vb_server.calls if c.path == "/v8/token"][0]
    assert refresh.form == {"grant_type": "refresh_token", "refresh_token": M365_REFRESH}
    assert vb_server.calls[-1].headers["Authorization"] == "Bearer " + M365_ACCESS2  # this run's token, not the play's


def test_a_refresh_token_another_task_used_up_is_replaced_by_a_password_login(connect, vb_server, warnings):
    vb_server.on("POST", "/v8/token", jsonr(400, {"message": "The refresh token is invalid or expired."}),
                 token_body(M365_ACCESS2, M365_REFRESH2))
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, Reply(401), jsonr(200, job()))
    with connect(session_token=handed(expires_in=-5)) as vb:
        assert vb.get_job(JOB)["id"] == JOB
        assert (vb.auth.refreshes, vb.auth.logins) == (0, 1)
    assert posts(vb_server) == [("/v8/token", "refresh_token"), ("/v8/token", "password"), ("/v8/token/logout", None)]
    assert warnings == []


def test_without_credentials_a_used_up_token_says_what_to_do(connect, vb_server, warnings):
    vb_server.on("POST", "/v8/token", jsonr(400, {"message": "The refresh token is invalid or expired."}))
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, Reply(401))
    with expect_error("auth", "session token has expired and could not be refreshed",
                      "no username and password were given", warnings=warnings) as caught:
        with connect(session_token=handed(expires_in=-5), with_credentials=False) as vb:
            vb.get_job(JOB)
    assert "log in again with the session module" in caught.error.hint
    assert posts(vb_server) == [("/v8/token", "refresh_token")]


def test_a_handed_token_without_a_refresh_token_logs_in_again(connect, vb_server):
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, Reply(401), jsonr(200, job()))
    with connect(session_token=handed(refresh=None, expires_in=-5)) as vb:
        vb.get_job(JOB)
    assert posts(vb_server) == [("/v8/token", "password"), ("/v8/token/logout", None)]


def test_a_throttled_refresh_waits_for_retry_after(connect, vb_server, clock):
    vb_server.on("POST", "/v8/token", jsonr(429, "API calls quota exceeded! maximum admitted 5 per Minute.",
                                            headers=[("Retry-After", "12")]), token_body(M365_ACCESS2, M365_REFRESH2))
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, Reply(401), jsonr(200, job()))
    with connect(session_token=handed(expires_in=-5)) as vb:
        vb.get_job(JOB)
        assert vb.auth.refreshes == 1
    assert 12 in clock.sleeps


# ------------------------------------------------------------------------------------------------ state: absent
@pytest.mark.parametrize("version,logout", [("v6", False), ("v7", True), ("v8", True)])
def test_the_session_modules_logout(connect, vb_server, version, logout):
    with connect(session_token=handed(version=version), version="auto", end_handed=True) as vb:
        if vb.routes.has_logout:
            assert vb.auth.logout() is False
    assert posts(vb_server) == ([("/%s/token/logout" % version, None)] if logout else [])
    if logout:
        assert vb_server.calls[-1].headers["Authorization"] == "Bearer " + M365_ACCESS


def test_the_logout_of_a_token_that_ran_out(connect, vb_server):
    vb_server.on("POST", "/v8/token/logout", Reply(401))
    with connect(session_token=handed(expires_in=-5), end_handed=True) as vb:
        assert vb.auth.logout() is True  # gone already: changed false
    assert vb_server.count("POST", "/v8/token/logout") == 1


# ------------------------------------------------------------------------------------------------ 401, empty body
def test_a_handed_token_that_cannot_be_renewed_says_to_log_in_again(connect, vb_server, warnings):
    """VB365 answers a token it no longer takes with 401 and an empty body: no message of its own to show."""
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, Reply(401))
    with expect_error("auth", "VB365 could not return the job %s (HTTP 401 on GET /v8/Jobs/{id})" % JOB,
                      warnings=warnings) as caught:
        with connect(session_token=handed(refresh=None), with_credentials=False) as vb:
            vb.get_job(JOB)
    assert caught.error.hint.startswith("VB365 no longer takes the session token")
    assert "backupops.veeam.veeam_m365_session" in caught.error.hint and posts(vb_server) == []


def test_a_401_after_a_new_token_names_the_clock(connect, vb_server, warnings):
    vb_server.on("GET", "/v8/Jobs/%s" % JOB, Reply(401))
    with expect_error("auth", "(HTTP 401 on GET /v8/Jobs/{id})", warnings=warnings) as caught:
        with connect() as vb:
            vb.get_job(JOB)
    assert caught.error.hint.startswith("VB365 refused a token it had just issued: check")
