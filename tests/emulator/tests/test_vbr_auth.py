"""VBR emulator: tokens (password and single-use refresh grants), bearer checks, expiry on the simulated clock,
logout, roles and the x-veeam-authorize claims."""

from __future__ import annotations

import base64
import json

import pytest

from emulator import vbr_testkit as kit
from emulator.core import Request
from emulator.vbr import ROLE_CLAIMS, ROUTES, VbrApi

TOKEN = "/api/oauth2/token"


@pytest.fixture(name="api")
def fixture_api() -> VbrApi:
    api, _clock = kit.make_api()
    return api


def _refresh(caller: kit.Caller, token: str, grant: str = "refresh_token") -> kit.Reply:
    return caller.call("POST", TOKEN, auth=False, form={"grant_type": grant, "refresh_token": token})


def test_password_grant_answer(api: VbrApi) -> None:
    caller = kit.Caller(api)
    reply = caller.login()
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/json")
    body = reply.json
    assert set(body) == {"access_token", "token_type", "refresh_token", "expires_in", ".issued", ".expires", "username"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 900 and body["username"] == kit.ADMIN[0]
    assert body[".issued"].endswith("+00:00") and body[".expires"] > body[".issued"]
    header, payload, _signature = body["access_token"].split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "RS512", "typ": "JWT"}
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    assert claims["unique_name"] == kit.ADMIN[0] and claims["exp"] - claims["iat"] == 900 and claims["aud"] == "access"
    assert body["access_token"] != body["refresh_token"]
    assert "username" not in kit.Caller(api, "1.1-rev0").login().json  # 1.1-rev0 has no Overview example with it


@pytest.mark.parametrize("grant,refresh_grant", [("password", "refresh_token"), ("Password", "Refresh_token"),
                                                 ("PASSWORD", "REFRESH_TOKEN")])
def test_grant_type_is_case_insensitive_on_every_revision(api: VbrApi, grant: str, refresh_grant: str) -> None:
    """The enum is lower case up to 1.3-rev0 and capitalised from 1.3-rev1; every revision accepts both."""
    for revision in kit.REVISIONS:
        caller = kit.Caller(api, revision)
        reply = caller.call("POST", TOKEN, auth=False, form=kit.form(grant=grant))
        assert reply.status == 200
        assert _refresh(caller, reply.json["refresh_token"], grant=refresh_grant).status == 200


def test_credentials(api: VbrApi) -> None:
    caller = kit.Caller(api)
    assert caller.login((kit.ADMIN[0].upper(), kit.ADMIN[1])).status == 200  # Windows names: any case
    wrong = caller.login((kit.ADMIN[0], kit.ADMIN[1].lower()))
    assert wrong.status == 401
    assert wrong.json == {"errorCode": "AccessDenied", "message": "Authentication failed", "resourceId": None}
    assert caller.login(("VEEAM\\nobody", "x")).status == 401
    for form in ({"grant_type": "password"}, {"username": kit.ADMIN[0], "password": kit.ADMIN[1]},
                 {"grant_type": "client_credentials"}, {"grant_type": "authorization_code", "code": "x"}):
        reply = caller.call("POST", TOKEN, auth=False, form=form)
        assert reply.status == 400 and reply.json["errorCode"] == "UnexpectedContent", form
    as_json = caller.call("POST", TOKEN, auth=False, body=kit.form())
    assert as_json.status == 400 and as_json.json["errorCode"] == "UnexpectedContent"
    assert api.counters_view()["token_failures"] == 7
    assert api.counters_view()["tokens_issued"] == 1


def test_refresh_token_is_single_use(api: VbrApi) -> None:
    caller = kit.Caller(api)
    first = caller.login().json
    second = _refresh(caller, first["refresh_token"])
    assert second.status == 200 and "username" not in second.json
    assert second.json["refresh_token"] != first["refresh_token"]
    reused = _refresh(caller, first["refresh_token"])
    assert reused.status == 401 and reused.json["errorCode"] == "InvalidToken"
    assert _refresh(caller, second.json["refresh_token"]).status == 200
    assert _refresh(caller, "").status == 401
    # The access token of the first pair stays valid until it expires (JWT-style).
    caller.token = first["access_token"]
    assert caller.call("GET", "/api/v1/jobs").status == 200
    view = api.counters_view()
    assert view["tokens_issued"] == 1 and view["token_refreshes"] == 2 and view["token_failures"] == 2
    assert view["open_tokens"] == 3


def test_access_token_expires_on_the_simulated_clock() -> None:
    api, clock = kit.make_api()
    caller = kit.Caller(api)
    refresh = caller.login().json["refresh_token"]
    clock.advance(899)
    assert caller.call("GET", "/api/v1/jobs").status == 200
    assert api.counters_view()["open_tokens"] == 1
    clock.advance(1)
    expired = caller.call("GET", "/api/v1/jobs")
    assert expired.status == 401 and expired.json["errorCode"] == "ExpiredToken"
    assert expired.headers["WWW-Authenticate"] == "Bearer"
    assert api.counters_view()["open_tokens"] == 0
    renewed = _refresh(caller, refresh)  # the refresh token lives 14 days
    assert renewed.status == 200
    caller.token = renewed.json["access_token"]
    assert caller.call("GET", "/api/v1/jobs").status == 200
    clock.advance(14 * 24 * 3600)
    assert _refresh(caller, renewed.json["refresh_token"]).status == 401


def test_configured_lifetime_and_short_term_refresh() -> None:
    api, clock = kit.make_api({"token_lifetime": 60})
    caller = kit.Caller(api)
    body = caller.call("POST", TOKEN, auth=False, form=dict(kit.form(), use_short_term_refresh="true")).json
    assert body["expires_in"] == 60
    clock.advance(60 + 900)  # a short-term refresh token lives the access lifetime plus 15 minutes
    assert _refresh(caller, body["refresh_token"]).status == 401


def test_logout_revokes_the_pair(api: VbrApi) -> None:
    caller = kit.Caller(api)
    refresh = caller.login().json["refresh_token"]
    reply = caller.call("POST", "/api/oauth2/logout")
    assert reply.status == 200 and reply.json == {}
    after = caller.call("GET", "/api/v1/jobs")
    assert after.status == 401 and after.json["errorCode"] == "InvalidToken"
    assert _refresh(caller, refresh).status == 401
    assert caller.call("POST", "/api/oauth2/logout").status == 401
    view = api.counters_view()
    assert view["logouts"] == 1 and view["open_tokens"] == 0


def test_bearer_errors(api: VbrApi) -> None:
    caller = kit.Caller(api)
    missing = caller.call("GET", "/api/v1/jobs")
    assert missing.status == 401 and missing.json["errorCode"] == "AccessDenied"
    for header in ("Basic abc", "Bearer", "Bearer nope", "bearer x.y.z"):
        reply = caller.call("GET", "/api/v1/jobs", headers={"Authorization": header})
        assert reply.status == 401 and reply.json["errorCode"] in ("AccessDenied", "InvalidToken"), header
        assert reply.headers["WWW-Authenticate"] == "Bearer"
    caller.login()
    lower = caller.call("GET", "/api/v1/jobs", headers={"Authorization": "bearer " + str(caller.token)})
    assert lower.status == 200  # the scheme is case-insensitive


def test_expire_auth_keeps_refresh_tokens(api: VbrApi) -> None:
    caller = kit.Caller(api)
    refresh = caller.login().json["refresh_token"]
    api.expire_auth()
    assert caller.call("GET", "/api/v1/jobs").json["errorCode"] == "ExpiredToken"
    assert _refresh(caller, refresh).status == 200


def test_roles_and_claims(api: VbrApi) -> None:
    viewer, operator, admin = kit.Caller(api), kit.Caller(api), kit.Caller(api)
    viewer.login(kit.VIEWER)
    operator.login(kit.OPERATOR)
    admin.login(kit.ADMIN)
    start = "/api/v1/jobs/%s/start" % kit.JOB_DAILY
    refused = viewer.call("POST", start)
    assert refused.status == 403 and refused.json["errorCode"] == "AccessDenied" and refused.json["resourceId"] is None
    assert viewer.call("GET", "/api/v1/jobs").status == 200
    assert viewer.call("GET", "/api/v1/sessions").status == 200
    assert viewer.call("GET", "/api/v1/serverInfo").status == 403  # ViewServices: Backup Administrator only
    assert operator.call("GET", "/api/v1/serverInfo").status == 403
    started = operator.call("POST", start)
    assert started.status == 201 and started.json["initiatedBy"] == kit.OPERATOR[0]
    assert operator.call("POST", "/api/v1/jobs/%s/disable" % kit.JOB_DAILY).status == 403
    assert operator.call("POST", "/api/v1/jobs/%s/enable" % kit.JOB_DAILY).status == 403
    assert viewer.call("POST", "/api/v1/sessions/%s/stop" % started.json["id"]).status == 403
    assert operator.call("POST", "/api/v1/jobs/%s/stop" % kit.JOB_DAILY).status == 201
    assert admin.call("POST", "/api/v1/jobs/%s/disable" % kit.JOB_DAILY).status == 204
    assert admin.call("GET", "/api/v1/serverInfo").status == 200
    assert api.counters_view()["starts"] == {kit.JOB_DAILY: 1}  # the refused start is not a start


def test_role_table_covers_every_claim() -> None:
    claims = {route.claim for route in ROUTES if route.claim}
    assert claims == set(ROLE_CLAIMS["Backup Administrator"])
    assert "StartJobs" in ROLE_CLAIMS["Backup Operator"] and "StartJobs" not in ROLE_CLAIMS["Backup Viewer"]
    assert "EnableJobs" not in ROLE_CLAIMS["Backup Operator"] and "DisableJobs" not in ROLE_CLAIMS["Backup Operator"]


def test_scenario_roles_are_checked() -> None:
    with pytest.raises(ValueError):
        kit.make_api({"users": [{"username": "x", "password": "y", "role": "Janitor"}]})
    api, _clock = kit.make_api({"users": [{"username": "tape", "password": "t", "role": "Veeam Tape Operator"}]})
    caller = kit.Caller(api)
    assert caller.login(("tape", "t")).status == 200
    assert caller.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_SQL).status == 201
    assert caller.call("POST", "/api/v1/sessions/%s/stop" % kit.UNKNOWN_ID).status == 403


def test_route_keys_hold_no_secrets(api: VbrApi) -> None:
    body = b"grant_type=password&username=x&password=secret"
    assert api.route_key(Request("POST", "/api/oauth2/token", "", {}, body)) == "POST /api/oauth2/token"
    assert api.route_key(Request("GET", "/api/v1/jobs/%s" % kit.JOB_DAILY, "")) == "GET /api/v1/jobs/{id}"
    assert api.route_key(Request("GET", "/API/V1/JOBS/STATES/", "")) == "GET /api/v1/jobs/states"
    assert api.route_key(Request("GET", "/api/v1/other/%s" % kit.JOB_DAILY, "")) == "GET /api/v1/other/{id}"
