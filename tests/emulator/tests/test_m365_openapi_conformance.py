"""Conformance of the VB365 emulator with Veeam's OpenAPI documents (v6, v7, v8).

Every v6/v7/v8 route the emulator implements is driven through success and error paths, and each answer is
checked against the operation in ``<repo>/../shared/vb365-openapi/vb365_rest_v{6,7,8}.openapi.json``:

- the status code is one the operation declares (an error status may fall under ``default``);
- a response the operation declares without content has an empty body;
- a JSON body validates against the declared schema, ``$ref``s resolved, OpenAPI 3.0 ``nullable`` honoured,
  ``format`` checked (date-time, uuid), and no property the schema does not declare (strict).

Deliberate deviations (documented in docs/emulator.md, VB365): ``.issued``/``.expires`` of the token are in
the OWIN RFC 1123 style rather than ISO date-time; a failed ``POST /token`` up to v5 answers the legacy
``{"error": "Authorization Error", "error_description": "Invalid credential"}`` (RESTExceptionInfo from v6); a
rejected or expired token gets 401 with an empty body.  Each is asserted explicitly below.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from emulator import m365_testkit as kit
from emulator.m365 import ROUTES

REPO = Path(__file__).resolve().parents[3]
SPEC_DIR = Path(os.environ.get("VB365_OPENAPI_DIR", REPO.parent / "shared" / "vb365-openapi"))
VERSIONS = (6, 7, 8)

if not SPEC_DIR.is_dir():
    pytest.skip("VB365 OpenAPI documents not found at %s (expected <repo>/../shared/vb365-openapi/)" % SPEC_DIR,
                allow_module_level=True)

try:  # jsonschema checks "date-time" only when rfc3339-validator is importable
    import rfc3339_validator  # noqa: F401 pylint: disable=unused-import
except ImportError:  # pragma: no cover
    pytest.skip("rfc3339-validator is not installed (tests/emulator/requirements.txt)", allow_module_level=True)


# ----------------------------------------------------------------------------------------------- specs
def _to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects -> JSON Schema draft 4 (nullable -> null allowed; strict objects)."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _to_json_schema(value) for key, value in node.items()
           if key not in ("example", "examples", "x-anyOf", "discriminator")}
    if "properties" in out and "additionalProperties" not in out and not any(k in out for k in ("allOf", "anyOf", "oneOf")):
        out["additionalProperties"] = False
    if out.pop("nullable", False) is True:
        if "$ref" in out:
            return {"anyOf": [{"$ref": out["$ref"]}, {"type": "null"}]}
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = list(out["enum"]) + [None]
    return out


class Spec:
    """One OpenAPI document: operations by (method, path template) and validators by schema."""

    def __init__(self, version: int) -> None:
        with open(SPEC_DIR / ("vb365_rest_v%d.openapi.json" % version), encoding="utf-8") as handle:
            self.doc = json.load(handle)
        self.version = version
        self.components = _to_json_schema(self.doc["components"])
        token = self.components["schemas"]["OAuthTokenResponse"]["properties"]
        for name in (".issued", ".expires"):  # deviation: OWIN sends RFC 1123 dates here (see module docstring)
            token[name].pop("format", None)
        self.paths = []
        for template, ops in self.doc["paths"].items():
            regex = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$"
            literal = sum(1 for part in template.split("/") if part and not part.startswith("{"))
            self.paths.append((literal, re.compile(regex, re.IGNORECASE), template, ops))
        self.paths.sort(key=lambda item: -item[0])
        self._validators: dict[str, Any] = {}

    def operation(self, method: str, path: str) -> tuple[str | None, dict[str, Any] | None]:
        for _literal, regex, template, ops in self.paths:
            if regex.match(path):
                return template, ops.get(method.lower())
        return None, None

    def validator(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            root = {"components": self.components, "allOf": [_to_json_schema(schema)]}
            self._validators[key] = jsonschema.Draft4Validator(root, format_checker=jsonschema.FormatChecker())
        return self._validators[key]


SPECS: dict[int, Spec] = {}


def spec(version: int) -> Spec:
    if version not in SPECS:
        SPECS[version] = Spec(version)
    return SPECS[version]


# ----------------------------------------------------------------------------------------------- checking
class Checker:
    """Calls the emulator and checks each answer against the spec; records which operations were covered."""

    def __init__(self, version: int, caller: kit.Caller | None = None) -> None:
        self.version = version
        if caller is None:
            api, _clock = kit.make_api()
            caller = kit.Caller(api)
        self.caller = caller
        self.covered: set[tuple[str, str]] = set()

    def call(self, method: str, path: str, expect: int, **kwargs: Any) -> kit.Reply:
        reply = self.caller.call(method, path, **kwargs)
        assert reply.status == expect, "%s %s -> %d %s (expected %d)" % (method, path, reply.status, reply.raw[:300], expect)
        self.check(method, path, reply)
        return reply

    def check(self, method: str, path: str, reply: kit.Reply, schema_check: bool = True) -> None:
        the_spec = spec(self.version)
        template, operation = the_spec.operation(method, path)
        assert operation is not None, "%s %s is not an operation of the v%d spec" % (method, path, self.version)
        self.covered.add((method.upper(), template))
        responses = operation["responses"]
        declared = responses.get(str(reply.status))
        if declared is None:
            assert reply.status >= 400 and "default" in responses, (
                "%s %s: status %d is not declared (declared: %s)" % (method, path, reply.status, sorted(responses)))
            declared = responses["default"]
        content = declared.get("content")
        if not content:
            assert reply.raw == b"", "%s %s: %d must have no body, got %r" % (method, path, reply.status, reply.raw[:200])
            return
        if reply.status == 401 and reply.raw == b"":
            # Deliberate deviation (docs/emulator.md, VB365 assumptions): real VB365 answers a rejected or expired
            # token with 401 and an empty body, whatever the spec declares; ``unauthorized_body: rest`` sends it.
            return
        assert reply.headers.get("Content-Type", "").startswith("application/json"), reply.headers
        if schema_check:
            media = content.get("application/json") or content.get("*/*")  # the token's 200 is declared as */*
            assert media is not None, "%s %s: no JSON content declared for %d" % (method, path, reply.status)
            schema = media["schema"]
            errors = sorted(the_spec.validator(schema).iter_errors(reply.json), key=lambda e: list(e.absolute_path))
            assert not errors, "%s %s (%d): %s" % (method, path, reply.status, "; ".join(
                "%s: %s" % ("/".join(str(p) for p in e.absolute_path), e.message) for e in errors[:5]))


def _implemented(version: int) -> set[tuple[str, str]]:
    return {(route.method, "/v%d%s" % (version, route.template)) for route in ROUTES if version in route.versions}


# ----------------------------------------------------------------------------------------------- the drive
def drive(version: int, caller: kit.Caller | None = None) -> Checker:
    """Exercise every implemented route of one version (in-process, or over HTTP with an ``HttpCaller``)."""
    chk = Checker(version, caller)
    v = "/v%d" % version
    login = {"grant_type": "password", "username": kit.USERNAME, "password": kit.PASSWORD}

    # Authentication.
    chk.call("GET", v + "/ServiceInstance", 401)
    # The default scenario's token quota (VB365's defaults): a second login within the second is refused with
    # WebApiThrottle's bare JSON string (not RESTExceptionInfo: a documented deviation); then the quota is off
    # for the rest of the drive, which asks for several tokens a second.
    chk.call("POST", v + "/token", 200, form=login, auth=False)
    quota = chk.caller.call("POST", v + "/token", form=login, auth=False)
    assert quota.status == 429 and quota.json == "API calls quota exceeded! maximum admitted 1 per Second."
    assert int(quota.headers["Retry-After"]) >= 1
    chk.check("POST", v + "/token", quota, schema_check=False)
    chk.caller.configure({"m365": {"throttle_token": None}})
    reply = chk.call("POST", v + "/token", 200, form=login, auth=False)
    assert reply.json["token_type"] == "bearer" and reply.json["expires_in"] == 3600
    assert re.match(r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$", reply.json[".issued"])
    chk.caller.token, refresh = reply.json["access_token"], reply.json["refresh_token"]
    reply = chk.call("POST", v + "/token", 200, body=dict(login), auth=False)  # JSON body (v6+)
    reply = chk.call("POST", v + "/token", 200, form={"grant_type": "refresh_token", "refresh_token": refresh}, auth=False)
    chk.caller.token = reply.json["access_token"]
    # The default (auto) from v6: the version's RESTExceptionInfo, validated against the spec.
    chk.call("POST", v + "/token", 400, form=dict(login, password="wrong"), auth=False)
    chk.caller.configure({"m365": {"token_error_style": "oauth"}})
    bad = chk.caller.call("POST", v + "/token", form=dict(login, password="wrong"), auth=False)
    assert bad.status == 400 and set(bad.json) == {"error", "error_description"} and bad.json["error"] == "invalid_grant"
    chk.check("POST", v + "/token", bad, schema_check=False)  # status declared (default); body: documented deviation
    chk.caller.configure({"m365": {"token_error_style": "auto", "throttle_token": {"burst": 1, "window": 60}}})
    chk.call("POST", v + "/token", 200, form=login, auth=False)
    throttled = chk.call("POST", v + "/token", 429, form=login, auth=False)
    assert int(throttled.headers["Retry-After"]) >= 1
    chk.caller.configure({"m365": {"throttle_token": None}})

    # Service, health, organizations.
    assert chk.call("GET", v + "/ServiceInstance", 200).json["version"]
    if version >= 8:
        chk.call("GET", v + "/Health", 200, auth=False)
    orgs = chk.call("GET", v + "/Organizations", 200).json
    if version >= 8:
        chk.call("GET", v + "/Organizations", 200, query={"limit": 1})
        orgs = orgs["results"]
    assert {o["id"] for o in orgs} == {kit.ORG_CONTOSO, kit.ORG_FABRIKAM}
    chk.call("GET", v + "/Organizations/" + kit.ORG_CONTOSO, 200)
    chk.call("GET", v + "/Organizations/" + kit.JOB_LONG, 404)
    chk.call("GET", v + "/Organizations/not-a-guid", 400)
    if version <= 7:
        chk.call("GET", v + "/Organizations/%s/Jobs" % kit.ORG_FABRIKAM, 200)

    # Jobs.
    jobs = chk.call("GET", v + "/Jobs", 200).json
    if version >= 8:
        assert len(jobs["results"]) == 9
        first = chk.call("GET", v + "/Jobs", 200, query={"limit": 5}).json
        assert len(first["results"]) == 5 and "next" in first["_links"]
        chk.call("GET", v + "/Jobs", 200, query={"limit": 5, "offset": 5, "organizationId": kit.ORG_FABRIKAM})
        chk.call("GET", v + "/Jobs", 400, query={"limit": 10001})
        chk.call("GET", v + "/Jobs", 400, query={"organizationId": "x"})
    for job_id in (kit.JOB_EXCHANGE_CONTOSO, kit.JOB_SHAREPOINT_FAILED, kit.JOB_NEVER_RUN, kit.JOB_TEAMS_DISABLED):
        chk.call("GET", v + "/Jobs/" + job_id, 200)
    chk.call("GET", v + "/Jobs/" + kit.ORG_CONTOSO, 404)

    # Actions and the session life cycle (frozen clock, moved by advance).
    job = v + "/Jobs/" + kit.JOB_EXCHANGE_CONTOSO
    chk.call("POST", job + "/start", 400)  # the body is required (the v6/v7/v8 specs all say so)
    started = chk.call("POST", job + "/start", 200 if version >= 8 else 204, body={"full": True})
    chk.call("POST", job + "/start", 400, body={})  # already running
    chk.call("POST", v + "/Jobs/%s/start" % kit.ORG_CONTOSO, 404, body={})
    sessions_path = (v + "/Jobs/%s/JobSessions" % kit.JOB_EXCHANGE_CONTOSO) if version == 6 else v + "/JobSessions"
    query = {} if version == 6 else {"jobId": kit.JOB_EXCHANGE_CONTOSO}
    newest = chk.call("GET", sessions_path, 200, query=query).json["results"][0]
    if version >= 8:
        assert newest["id"] == started.json["id"]
    session = v + "/JobSessions/" + newest["id"]
    assert chk.call("GET", session, 200).json["status"] == "Queued"
    chk.caller.advance(1.5)
    assert chk.call("GET", session, 200).json["status"] == "Running"
    chk.caller.advance(5)
    assert chk.call("GET", session, 200).json["status"] == "Success"
    chk.call("POST", job + "/stop", 400)  # not running
    for job_id, result in ((kit.JOB_ONEDRIVE_WARNING, "Warning"), (kit.JOB_SHAREPOINT_FAILED, "Failed")):
        chk.call("POST", v + "/Jobs/%s/start" % job_id, 200 if version >= 8 else 204, body={})
        chk.caller.advance(10)
        assert chk.call("GET", v + "/Jobs/" + job_id, 200).json["lastStatus"] == result
    long_job = v + "/Jobs/" + kit.JOB_LONG
    chk.call("POST", long_job + "/start", 200 if version >= 8 else 204, body={"full": False})
    chk.caller.advance(30)
    chk.call("POST", long_job + "/stop", 204)
    assert chk.call("GET", long_job, 200).json["lastStatus"] == "Stopped"
    chk.call("POST", v + "/Jobs/%s/disable" % kit.JOB_MUELLER, 204)
    chk.call("POST", v + "/Jobs/%s/disable" % kit.JOB_MUELLER, 204)
    chk.call("POST", v + "/Jobs/%s/enable" % kit.JOB_MUELLER, 204)
    chk.call("POST", v + "/Jobs/%s/enable" % kit.ORG_FABRIKAM, 404)
    chk.call("POST", v + "/Jobs/%s/start" % kit.JOB_TEAMS_DISABLED, 200 if version >= 8 else 204, body={})  # disabled: allowed

    # Job session listings and filters.
    if version == 6:
        chk.call("GET", v + "/Jobs/%s/JobSessions" % kit.JOB_LONG, 200, query={"limit": 1, "offset": 1})
        chk.call("GET", v + "/Jobs/%s/JobSessions" % kit.ORG_FABRIKAM, 404)
    chk.call("GET", v + "/JobSessions", 200)
    filters = {"limit": 3, "offset": 2, "jobType": "Backup", "endTimeLowerBound": "2020-01-01T00:00:00Z"}
    chk.call("GET", v + "/JobSessions", 200, query=filters)
    if version >= 7:
        chk.call("GET", v + "/JobSessions", 200, query={"jobId": kit.JOB_LONG, "endTimeUpperBound": "2100-01-01T00:00:00Z"})
    if version >= 8:
        assert chk.call("GET", v + "/JobSessions", 200, query={"status": "Stopped"}).json["results"]
        chk.call("GET", v + "/JobSessions", 400, query={"status": "Success"})  # the v8 filter enum says Succeeded
    chk.call("GET", v + "/JobSessions", 400, query={"limit": 0})
    chk.call("GET", v + "/JobSessions/" + kit.ORG_CONTOSO, 404)
    for item in chk.call("GET", v + "/JobSessions", 200, query={"limit": 100}).json["results"]:
        chk.call("GET", v + "/JobSessions/" + item["id"], 200)

    # Explore and restore sessions.
    explored = chk.call("POST", v + "/Jobs/%s/explore" % kit.JOB_ONEDRIVE_WARNING, 201 if version >= 8 else 200,
                        body={"dateTime": None, "type": "Veod", "showDeleted": True, "showAllVersions": False}).json
    chk.call("POST", v + "/Jobs/%s/explore" % kit.JOB_EXCHANGE_FABRIKAM, 201 if version >= 8 else 200,
             body={"dateTime": "2019-04-12T10:54:40.2794046Z", "type": "Vex"})
    chk.call("POST", v + "/Jobs/%s/explore" % kit.JOB_NEVER_RUN, 400, body={"type": "Vex"})  # no restore point
    chk.call("POST", v + "/Jobs/%s/explore" % kit.JOB_MUELLER, 400, body={"type": "Nope"})
    chk.call("POST", v + "/Jobs/%s/explore" % kit.JOB_MUELLER, 400)  # body required
    chk.call("GET", v + "/RestoreSessions", 200)
    chk.call("GET", v + "/RestoreSessions", 200, query={"limit": 1, "startTimeFrom": "2000-01-01T00:00:00Z"})
    if version >= 8:
        chk.call("GET", v + "/RestoreSessions", 200, query={"orderAsc": "true", "orderBy": "EndTime"})
    chk.call("GET", v + "/RestoreSessions/" + explored["id"], 200)
    chk.call("GET", v + "/RestoreSessions/" + kit.ORG_CONTOSO, 404)
    chk.call("POST", v + "/RestoreSessions/%s/Stop" % explored["id"], 204 if version >= 8 else 200)
    chk.call("POST", v + "/RestoreSessions/%s/Stop" % explored["id"], 400)  # already stopped
    assert chk.call("GET", v + "/RestoreSessions/" + explored["id"], 200).json["state"] == "Stopped"

    # Logout (v7+), then the token is refused.
    if version >= 7:
        chk.call("POST", v + "/token/logout", 200 if version == 7 else 204)
        chk.call("GET", v + "/Jobs", 401)
    chk.caller.expire_tokens()
    chk.call("GET", v + "/ServiceInstance", 401)
    return chk


@pytest.fixture(name="driven", scope="module", params=VERSIONS, ids=["v%d" % n for n in VERSIONS])
def fixture_driven(request: Any) -> Checker:
    return drive(request.param)


def test_every_answer_conforms(driven: Checker) -> None:
    """drive() asserts on each call; here: something was checked at all."""
    assert len(driven.caller.log) > 60


def _normal(pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(method, re.sub(r"\{\w+\}", "{}", path).lower()) for method, path in pairs}


def test_every_implemented_route_was_checked(driven: Checker) -> None:
    missing = _normal(_implemented(driven.version)) - _normal(driven.covered)
    assert not missing, "implemented v%d routes not exercised: %s" % (driven.version, sorted(missing))


@pytest.mark.parametrize("version", VERSIONS)
def test_implemented_routes_exist_in_spec(version: int) -> None:
    for method, path in _implemented(version):
        sample = path.replace("{id}", "00000000-0000-4000-8000-000000000000")
        template, operation = spec(version).operation(method, sample)
        assert operation is not None, "v%d implements %s %s which the spec lacks (%s)" % (version, method, path, template)


@pytest.mark.parametrize("version", VERSIONS)
def test_spec_operations_of_the_collection_are_implemented(version: int) -> None:
    """Every spec operation in the areas the emulator covers is implemented (so none is missing by accident)."""
    areas = re.compile(r"^/v\d/(token(/logout)?|ServiceInstance|Health|Jobs(/\{jobId\}(/(start|stop|enable|disable|explore|"
                       r"JobSessions))?)?|JobSessions(/\{\w+\})?|RestoreSessions(/\{restoreSessionId\}(/Stop)?)?|"
                       r"Organizations(/\{organizationId\}(/Jobs)?)?)$", re.IGNORECASE)
    implemented = {(m, re.sub(r"\{\w+\}", "{}", p).lower()) for m, p in _implemented(version)}
    for template, ops in spec(version).doc["paths"].items():
        if not areas.match(template):
            continue
        for method in ops:
            if method.upper() not in ("GET", "POST"):
                continue  # create/update/delete of jobs and organizations are out of scope (documented)
            if method.upper() == "POST" and re.search(r"/(Jobs|Organizations)$", template, re.IGNORECASE):
                continue
            key = (method.upper(), re.sub(r"\{\w+\}", "{}", template).lower())
            assert key in implemented, "spec operation %s %s is not implemented" % key


def test_absent_routes_answer_404_or_405() -> None:
    chk = Checker(6)
    chk.caller.login(6)
    assert chk.caller.call("POST", "/v6/token/logout").status == 404  # no logout in v6
    assert chk.caller.call("GET", "/v7/Jobs/%s/JobSessions" % kit.JOB_LONG).status == 404  # dropped in v7
    wrong = chk.caller.call("GET", "/v8/Jobs/%s/start" % kit.JOB_LONG)
    assert wrong.status == 405 and wrong.headers["Allow"] == "POST"
    errors = list(spec(8).validator({"$ref": "#/components/schemas/RESTExceptionInfo"}).iter_errors(wrong.json))
    assert not errors


def test_deviation_list_is_short() -> None:
    """Guard: the OAuthTokenResponse date fields are the only formats relaxed by this test."""
    for version in VERSIONS:
        original = copy.deepcopy(spec(version).doc["components"]["schemas"]["OAuthTokenResponse"]["properties"])
        relaxed = spec(version).components["schemas"]["OAuthTokenResponse"]["properties"]
        changed = [name for name in original if original[name].get("format") != relaxed[name].get("format")]
        assert changed == [".issued", ".expires"] or sorted(changed) == [".expires", ".issued"]


# ----------------------------------------------------------------------------------------------- real server
@pytest.fixture(name="live", scope="module")
def fixture_live(tmp_path_factory: Any) -> Any:
    pytest.importorskip("emulator.server", reason="the emulator server (tests/emulator/server.py) is not there")
    emu = kit.EmulatorProcess(str(tmp_path_factory.mktemp("emulator")))
    try:
        yield kit.HttpCaller(emu)
    finally:
        emu.stop()


@pytest.mark.parametrize("version", VERSIONS)
def test_conformance_through_the_real_server(live: Any, version: int) -> None:
    """The same drive over HTTPS: TLS, the server's headers and body handling, control endpoint, fault rules."""
    live.freeze()
    chk = drive(version, live)
    assert not _normal(_implemented(version)) - _normal(chk.covered)
