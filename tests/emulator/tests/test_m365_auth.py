"""VB365 emulator: tokens (password and refresh grants), bearer checks, logout, expiry, throttling, versions."""

from __future__ import annotations

import pytest

from emulator import m365_testkit as kit
from emulator.core import Request

LOGIN = {"grant_type": "password", "username": kit.USERNAME, "password": kit.PASSWORD}


@pytest.fixture(name="api")
def fixture_api():
    """The default scenario without its token quota: these tests ask for several tokens a second (the quota has
    tests of its own below, on the default scenario's limits and on others)."""
    api, _clock = kit.make_api({"throttle_token": None})
    return api


def test_version_probe_without_token(api) -> None:
    caller = kit.Caller(api)
    for version in range(2, 9):
        assert caller.call("GET", "/v%d/ServiceInstance" % version).status == 401
    for path in ("/v1/ServiceInstance", "/v9/ServiceInstance", "/ServiceInstance", "/", "/swagger/ui/index"):
        assert caller.call("GET", path).status == 404


def test_restricted_versions_answer_404_everywhere() -> None:
    api, _clock = kit.make_api({"versions": ["v6", "v7"]})
    caller = kit.Caller(api)
    assert caller.call("GET", "/v8/ServiceInstance").status == 404
    assert caller.call("POST", "/v8/token", form=LOGIN).status == 404
    assert caller.call("GET", "/v5/Jobs").status == 404
    assert caller.login(7).status == 200
    assert caller.call("GET", "/v6/Jobs").status == 200
    assert caller.call("GET", "/v8/Jobs").status == 404
    api.apply_config({"m365": {"versions": ["v8"]}})
    assert caller.call("GET", "/v6/Jobs").status == 404
    assert caller.call("GET", "/v8/Jobs").status == 200  # a token is valid for every served version


def test_password_grant_fields_and_case_insensitive_route(api) -> None:
    caller = kit.Caller(api)
    reply = caller.call("POST", "/v3/Token", form=LOGIN)
    assert reply.status == 200
    body = reply.json
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "userName", ".issued", ".expires"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600 and body["userName"] == kit.USERNAME
    assert body[".issued"].endswith(" GMT") and body[".expires"].endswith(" GMT")
    assert body["access_token"] != body["refresh_token"] and len(body["access_token"]) > 60
    assert caller.call("POST", "/V8/TOKEN", form=LOGIN).status == 200
    # The user name is matched case-insensitively; the password is not.
    assert caller.call("POST", "/v8/token", form=dict(LOGIN, username=kit.USERNAME.upper())).status == 200
    assert caller.call("POST", "/v8/token", form=dict(LOGIN, password=kit.PASSWORD.lower())).status == 400


def test_json_token_body_only_from_v6(api) -> None:
    caller = kit.Caller(api)
    assert caller.call("POST", "/v6/token", body=LOGIN).status == 200
    legacy = caller.call("POST", "/v5/token", body=LOGIN)  # v2-v5: OWIN reads the form only
    assert legacy.status == 400 and legacy.json["error"] == "unsupported_grant_type"


def test_token_errors(api) -> None:
    """The default style (auto): what users report of older releases up to v5, RESTExceptionInfo from v6."""
    caller = kit.Caller(api)
    legacy = caller.call("POST", "/v5/token", form=dict(LOGIN, password="nope"))
    assert legacy.status == 400
    assert legacy.json == {"error": "Authorization Error", "error_description": "Invalid credential"}
    rest = caller.call("POST", "/v8/token", form=dict(LOGIN, password="nope"))
    assert rest.status == 400 and rest.json == {"message": "The user name or password is incorrect.", "errorCode": "ParameterValidationFailure",
                                                "stackTrace": None}
    api.apply_config({"m365": {"token_error_style": "oauth"}})
    bad = caller.call("POST", "/v8/token", form=dict(LOGIN, password="nope"))
    assert bad.status == 400
    assert bad.json == {"error": "invalid_grant", "error_description": "The user name or password is incorrect."}
    assert caller.call("POST", "/v8/token", form={"username": kit.USERNAME}).json["error"] == "unsupported_grant_type"
    assert caller.call("POST", "/v8/token", form={"grant_type": "operator"}).status == 400
    assert caller.call("POST", "/v8/token", form={"grant_type": "refresh_token", "refresh_token": "x"}).json["error"] == "invalid_grant"
    api.apply_config({"m365": {"token_error_style": "legacy"}})
    assert caller.call("POST", "/v8/token", form=dict(LOGIN, password="nope")).json["error"] == "Authorization Error"
    assert api.counters_view()["token_failures"] == 7


def test_bearer_required_and_401_body(api) -> None:
    """A rejected or expired token: 401 with an empty body (as real VB365 answers it), or, with
    ``unauthorized_body: rest``, the version's RESTExceptionInfo."""
    caller = kit.Caller(api)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        reply = caller.call("GET", "/v7/Jobs", headers=headers)
        assert reply.status == 401 and reply.raw == b""
        assert reply.headers["WWW-Authenticate"] == "Bearer"
    api.apply_config({"m365": {"unauthorized_body": "rest"}})
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        reply = caller.call("GET", "/v7/Jobs", headers=headers)
        assert reply.status == 401
        assert reply.json == {"message": "Authorization has been denied for this request.", "errorCode": None}
    assert caller.call("GET", "/v6/Jobs").json == {"message": "Authorization has been denied for this request."}
    assert caller.call("GET", "/v8/Health").status == 200  # anonymous in the v8 spec


def test_refresh_rotates_and_revokes_the_old_pair(api) -> None:
    caller = kit.Caller(api)
    caller.login(8)
    old_access, old_refresh = caller.token, caller.refresh
    reply = caller.call("POST", "/v8/token", form={"grant_type": "refresh_token", "refresh_token": old_refresh}, auth=False)
    assert reply.status == 200 and reply.json["userName"] == kit.USERNAME
    assert caller.call("GET", "/v8/Jobs").status == 401  # the old access token was replaced
    caller.token = reply.json["access_token"]
    assert caller.call("GET", "/v8/Jobs").status == 200
    again = caller.call("POST", "/v8/token", form={"grant_type": "refresh_token", "refresh_token": old_refresh}, auth=False)
    assert again.status == 400  # a refresh token is good for one use
    view = api.counters_view()
    assert view["tokens_issued"] == 1 and view["token_refreshes"] == 1 and view["open_tokens"] == 1
    assert old_access != caller.token


def test_logout_v7_v8_and_absent_before(api) -> None:
    caller = kit.Caller(api)
    for version, status in ((7, 200), (8, 204)):
        caller.login(version)
        refresh = caller.refresh
        reply = caller.call("POST", "/v%d/token/logout" % version)
        assert reply.status == status and reply.raw == b""
        assert caller.call("GET", "/v%d/Jobs" % version).status == 401
        refused = caller.call("POST", "/v8/token", form={"grant_type": "refresh_token", "refresh_token": refresh}, auth=False)
        assert refused.status == 400
    caller.login(6)
    assert caller.call("POST", "/v6/token/logout").status == 404
    assert caller.call("POST", "/v5/token/logout").status == 404
    caller.token = None
    assert caller.call("POST", "/v8/token/logout").status == 401
    view = api.counters_view()
    assert view["logouts"] == 2 and view["open_tokens"] == 1  # the v6 token stays open until it expires


def test_tokens_expire_on_wall_clock(api) -> None:
    now = [1_000_000.0]
    api._wall = lambda: now[0]  # pylint: disable=protected-access
    api.apply_config({"m365": {"token_lifetime": 60}})
    caller = kit.Caller(api)
    assert caller.login(8).json["expires_in"] == 60
    now[0] += 59
    assert caller.call("GET", "/v8/Jobs").status == 200
    now[0] += 1
    assert caller.call("GET", "/v8/Jobs").status == 401
    assert api.counters_view()["open_tokens"] == 0
    refreshed = caller.call("POST", "/v8/token", form={"grant_type": "refresh_token", "refresh_token": caller.refresh}, auth=False)
    assert refreshed.status == 200  # the refresh token outlives the access token


def test_expire_auth_keeps_refresh_tokens(api) -> None:
    caller = kit.Caller(api)
    caller.login(8)
    api.expire_auth()
    assert caller.call("GET", "/v8/Jobs").status == 401
    reply = caller.call("POST", "/v8/token", form={"grant_type": "refresh_token", "refresh_token": caller.refresh}, auth=False)
    assert reply.status == 200


def test_simulated_clock_does_not_expire_tokens() -> None:
    api, clock = kit.make_api()
    caller = kit.Caller(api)
    caller.login(8)
    clock.advance(10 * 3600)
    assert caller.call("GET", "/v8/Jobs").status == 200


def test_the_default_scenario_has_vb365s_default_quota_and_reset_clears_it() -> None:
    """VB365's defaults since v6 (WebApiThrottle: 1 a second, 5 a minute, 1500 an hour), answered with 429, a
    Retry-After and WebApiThrottle's bare JSON string; a reset forgets the requests counted so far."""
    api, _clock = kit.make_api()
    assert api.cfg["throttle_token"] == {"per_second": 1, "per_minute": 5, "per_hour": 1500, "body": "string"}
    caller = kit.Caller(api)
    now = [1000.0]
    api._wall = lambda: now[0]  # pylint: disable=protected-access
    assert caller.call("POST", "/v8/token", form=LOGIN).status == 200
    second = caller.call("POST", "/v8/token", form=LOGIN)
    assert second.status == 429 and second.headers["Retry-After"] == "1"
    assert second.json == "API calls quota exceeded! maximum admitted 1 per Second."
    statuses = []
    for _attempt in range(5):
        now[0] += 1.5
        statuses.append(caller.call("POST", "/v6/token", form=LOGIN).status)
    assert statuses == [200, 200, 200, 200, 429]  # the sixth within a minute (refused requests do not count)
    minute = caller.call("POST", "/v8/token", form=LOGIN)
    assert minute.json == "API calls quota exceeded! maximum admitted 5 per Minute."
    assert int(minute.headers["Retry-After"]) == 53  # until the first of the five leaves the minute
    assert api.counters_view()["throttled"] == 3
    api.reset()
    assert caller.call("POST", "/v8/token", form=LOGIN).status == 200


def test_throttle_burst_window_and_retry_after(api) -> None:
    now = [5000.0]
    api._wall = lambda: now[0]  # pylint: disable=protected-access
    api.apply_config({"m365": {"throttle_token": {"burst": 2, "window": 10}}})
    caller = kit.Caller(api)
    assert caller.login(8).status == 200
    assert caller.call("POST", "/v8/token", form=dict(LOGIN, password="x"), auth=False).status == 400  # counts too
    now[0] += 3
    reply = caller.call("POST", "/v8/token", form=LOGIN, auth=False)
    assert reply.status == 429 and reply.headers["Retry-After"] == "7"
    assert reply.json["message"] == "API calls quota exceeded! maximum admitted 2 per 10 Seconds."
    now[0] += 7
    assert caller.call("POST", "/v8/token", form=LOGIN, auth=False).status == 200
    assert api.counters_view()["throttled"] == 1
    assert caller.call("GET", "/v8/Jobs").status == 200  # only the token endpoint is throttled


def test_throttle_webapithrottle_style_limits_and_bodies(api) -> None:
    now = [0.0]
    api._wall = lambda: now[0]  # pylint: disable=protected-access
    api.apply_config({"m365": {"throttle_token": {"per_second": 1, "per_minute": 3, "body": "string"}}})
    caller = kit.Caller(api)
    statuses = []
    for _attempt in range(6):
        statuses.append(caller.call("POST", "/v7/token", form=LOGIN, auth=False).status)
        now[0] += 0.5
    assert statuses == [200, 429, 200, 429, 200, 429]
    reply = caller.call("POST", "/v7/token", form=LOGIN, auth=False)
    assert reply.status == 429 and reply.json == "API calls quota exceeded! maximum admitted 3 per Minute."
    api.apply_config({"m365": {"throttle_token": {"per_second": 1, "per_minute": 3, "body": "empty"}}})
    assert caller.call("POST", "/v7/token", form=LOGIN, auth=False).raw == b""  # same limits: the count goes on
    api.apply_config({"m365": {"throttle_token": {"per_minute": 3}}})
    assert caller.call("POST", "/v7/token", form=LOGIN, auth=False).status == 200  # new limits count from now
    with pytest.raises(ValueError):
        api.apply_config({"m365": {"throttle_token": {"per_day": 3}}})


def test_logs_contain_no_secrets_in_route_keys(api) -> None:
    key = api.route_key(Request("POST", "/v3/Token", "", {}, b"grant_type=password&password=secret"))
    assert key == "POST /v3/token"
