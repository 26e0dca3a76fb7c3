"""Conformance of the VBR emulator with Veeam's OpenAPI documents (1.1-rev0, 1.2-rev1, 1.3-rev0, 1.3-rev1).

Every route the emulator serves is driven through success and error paths on every revision, and each answer is
checked against the operation in ``<repo>/../shared/vbr-openapi/vbr_rest_<revision>.openapi.json``:

- the status code is one the operation declares;
- a response the operation declares without content has an empty body;
- a JSON body validates against the declared schema: ``$ref``s resolved, ``allOf`` merged, polymorphic schemas
  dispatched on their ``discriminator`` (the variant the discriminator value names must match), OpenAPI 3.0
  ``nullable`` honoured, ``date-time`` and ``uuid`` formats checked, and no property the schema does not declare
  (strict).

Deliberate deviations (documented in docs/emulator.md, VBR, and asserted explicitly below):

1. ``Error.resourceId`` is ``null`` when no object is involved (a real VBR 12 answer); the schema says string.
2. The password grant's ``TokenModel`` carries ``username`` from 1.2-rev1 on, as the Overview's example does; the
   schema does not declare it.
3. 1.1-rev0's ``ServerInfoModel`` requires ``vbrInstallationId`` but declares ``vbrId``; the emulator sends ``vbrId``
   (as every later revision requires).
4. A missing or unsupported ``x-api-version`` and an invalid query value answer 400 with an ``Error`` body, also on
   the GET operations, which declare no 400.
5. A path no operation of the client's revision has (``/jobs/{id}/retry`` before 1.3-rev0) answers 404 ``InvalidURI``;
   another method on a known path 405 ``MethodNotAllowed``.  Both are outside the documents (checked as ``Error``).
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

from emulator import vbr_testkit as kit
from emulator.vbr import ROUTES
from emulator.vbr_enums import ENUMS

REPO = Path(__file__).resolve().parents[3]
SPEC_DIR = Path(os.environ.get("VBR_OPENAPI_DIR", REPO.parent / "shared" / "vbr-openapi"))
REVISIONS = kit.REVISIONS

if not SPEC_DIR.is_dir():
    pytest.skip("VBR OpenAPI documents not found at %s (expected <repo>/../shared/vbr-openapi/)" % SPEC_DIR,
                allow_module_level=True)

try:  # jsonschema checks "date-time" only when rfc3339-validator is importable
    import rfc3339_validator  # noqa: F401 pylint: disable=unused-import
except ImportError:  # pragma: no cover
    pytest.skip("rfc3339-validator is not installed (tests/emulator/requirements.txt)", allow_module_level=True)

FORMATS = jsonschema.FormatChecker(formats=["date-time", "uuid"])


# ----------------------------------------------------------------------------------------------- specs
class Converter:
    """OpenAPI 3.0 components -> JSON Schema draft 7: strict objects, merged ``allOf``, discriminator dispatch."""

    DROP = ("example", "examples", "description", "discriminator", "deprecated", "readOnly", "writeOnly", "title")

    def __init__(self, schemas: dict[str, Any]) -> None:
        self.schemas = schemas
        self.out: dict[str, Any] = {}
        for name in schemas:
            self.out[name] = self.component(name)

    @staticmethod
    def ref_name(ref: str) -> str:
        return ref.rsplit("/", 1)[-1]

    def component(self, name: str) -> Any:
        schema = self.schemas[name]
        disc = schema.get("discriminator") if isinstance(schema, dict) else None
        if disc and disc.get("mapping"):
            prop = disc["propertyName"]
            mapping = {key: self.ref_name(ref) for key, ref in disc["mapping"].items()}
            return {"type": "object", "required": [prop], "properties": {prop: {"enum": sorted(mapping)}},
                    "allOf": [{"if": {"properties": {prop: {"const": key}}, "required": [prop]},
                               "then": {"$ref": "#/components/schemas/" + target}} for key, target in mapping.items()]}
        return self.node(schema)

    def base(self, name: str) -> dict[str, Any]:
        """A schema as a part of ``allOf``: its own properties and required list, without ``oneOf``."""
        schema = self.schemas[name]
        if "allOf" in schema:
            return self.merged(schema)
        return {"properties": dict(schema.get("properties") or {}), "required": list(schema.get("required") or [])}

    def merged(self, schema: dict[str, Any]) -> dict[str, Any]:
        props: dict[str, Any] = {}
        required: list[str] = []
        for part in list(schema.get("allOf") or []) + [schema]:
            if part is schema:
                piece = {"properties": schema.get("properties") or {}, "required": schema.get("required") or []}
            elif "$ref" in part:
                piece = self.base(self.ref_name(part["$ref"]))
            elif "allOf" in part:
                piece = self.merged(part)
            else:
                piece = {"properties": part.get("properties") or {}, "required": part.get("required") or []}
            props.update(piece["properties"])
            required.extend(r for r in piece["required"] if r not in required)
        return {"properties": props, "required": required}

    def node(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.node(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "allOf" in node and all("$ref" in p or "properties" in p or "allOf" in p for p in node["allOf"]):
            flat = self.merged(node)
            out: dict[str, Any] = {"type": "object",
                                   "properties": {k: self.node(v) for k, v in flat["properties"].items()},
                                   "additionalProperties": False}
            if flat["required"]:
                out["required"] = flat["required"]
            if node.get("nullable"):
                out["type"] = ["object", "null"]
            return out
        out = {key: ({name: self.node(prop) for name, prop in value.items()} if key == "properties" else self.node(value))
               for key, value in node.items() if key not in self.DROP and not key.startswith("x-")}
        out.pop("oneOf", None) if "properties" in out and "oneOf" in out else None
        if "properties" in out and "additionalProperties" not in out and not any(k in out for k in ("anyOf", "oneOf")):
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
    """One revision's document: operations by (method, path template), validators by schema."""

    def __init__(self, revision: str) -> None:
        with open(SPEC_DIR / ("vbr_rest_%s.openapi.json" % revision), encoding="utf-8") as handle:
            self.doc = json.load(handle)
        self.revision = revision
        schemas = copy.deepcopy(self.doc["components"]["schemas"])
        # Deviation 1: resourceId is null when no object is involved.
        schemas["Error"]["properties"]["resourceId"]["nullable"] = True
        # Deviation 2: the password grant names the user from 1.2-rev1 (Overview example).
        if revision != "1.1-rev0":
            schemas["TokenModel"]["properties"]["username"] = {"type": "string"}
        # Deviation 3: 1.1-rev0 requires vbrInstallationId but declares vbrId.
        if "vbrInstallationId" in schemas["ServerInfoModel"]["required"]:
            schemas["ServerInfoModel"]["required"] = ["vbrId" if r == "vbrInstallationId" else r
                                                      for r in schemas["ServerInfoModel"]["required"]]
        self.components = {"schemas": Converter(schemas).out}
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

    def response(self, operation: dict[str, Any], status: int) -> dict[str, Any] | None:
        declared = operation["responses"].get(str(status))
        if declared is not None and "$ref" in declared:
            declared = self.doc["components"]["responses"][declared["$ref"].rsplit("/", 1)[-1]]
        return declared

    def validator(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            root = {"components": self.components, "allOf": [Converter({}).node(schema)]}
            self._validators[key] = jsonschema.Draft7Validator(root, format_checker=FORMATS)
        return self._validators[key]

    def errors(self, schema: dict[str, Any], body: Any) -> list[str]:
        found = sorted(self.validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
        return ["%s: %s" % ("/".join(str(p) for p in e.absolute_path), e.message) for e in found[:5]]


SPECS: dict[str, Spec] = {}


def spec(revision: str) -> Spec:
    if revision not in SPECS:
        SPECS[revision] = Spec(revision)
    return SPECS[revision]


ERROR = {"$ref": "#/components/schemas/Error"}


# ----------------------------------------------------------------------------------------------- checking
class Checker:
    """Calls the emulator and checks each answer against the spec; records which operations were covered."""

    def __init__(self, revision: str, caller: kit.Caller | None = None) -> None:
        self.revision = revision
        if caller is None:
            api, _clock = kit.make_api()
            caller = kit.Caller(api, revision)
        caller.revision = revision
        self.caller = caller
        self.covered: set[tuple[str, str]] = set()

    @property
    def spec(self) -> Spec:
        return spec(self.revision)

    def call(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        reply = self.caller.call(method, path, **kwargs)
        assert reply.status == expect, "%s %s -> %d %s (expected %d)" % (method, path, reply.status, reply.raw[:300], expect)
        self.check(method, path, reply)
        return reply

    def check(self, method: str, path: str, reply: Any) -> None:
        template, operation = self.spec.operation(method, path)
        assert operation is not None, "%s %s is not an operation of the %s spec" % (method, path, self.revision)
        self.covered.add((method.upper(), template))
        declared = self.spec.response(operation, reply.status)
        assert declared is not None, "%s %s: status %d is not declared (declared: %s)" % (
            method, path, reply.status, sorted(operation["responses"]))
        content = declared.get("content")
        if not content:
            assert reply.raw == b"", "%s %s: %d must have no body, got %r" % (method, path, reply.status, reply.raw[:200])
            return
        assert reply.headers.get("Content-Type", "").startswith("application/json"), reply.headers
        schema = content["application/json"]["schema"]
        errors = self.spec.errors(schema, reply.json)
        assert not errors, "%s %s (%d): %s" % (method, path, reply.status, "; ".join(errors))

    def deviation(self, method: str, path: str, expect: int, code: str, **kwargs: Any) -> Any:
        """A documented deviation: the status is outside the operation's list; the body is still an ``Error``."""
        reply = self.caller.call(method, path, **kwargs)
        assert reply.status == expect, "%s %s -> %d %s (expected %d)" % (method, path, reply.status, reply.raw[:300], expect)
        errors = self.spec.errors(ERROR, reply.json)
        assert not errors, errors
        assert reply.json["errorCode"] == code, reply.json
        return reply


def _implemented(revision: str) -> set[tuple[str, str]]:
    key = tuple(int(x) for x in re.findall(r"\d+", revision))
    return {(route.method, route.template) for route in ROUTES if route.available(key)}  # type: ignore[arg-type]


def _normal(pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(method, re.sub(r"\{\w+\}", "{}", path).lower()) for method, path in pairs}


# ----------------------------------------------------------------------------------------------- the drive
def drive(revision: str, caller: kit.Caller | None = None) -> Checker:  # pylint: disable=too-many-statements
    """Exercise every route of one revision (in-process, or over HTTPS with an ``HttpCaller``)."""
    chk = Checker(revision, caller)
    c = chk.caller
    at_least_12 = revision != "1.1-rev0"
    at_least_13 = revision in ("1.3-rev0", "1.3-rev1")
    rev1 = revision == "1.3-rev1"
    jobs = "/api/v1/jobs"

    # Authentication.
    chk.call("GET", "/api/v1/serverInfo", 401, auth=False)
    chk.call("GET", jobs, 401, headers={"Authorization": "Bearer not-a-token"})
    bad = chk.call("POST", "/api/oauth2/token", 401, form=kit.form((kit.ADMIN[0], "wrong")), auth=False)
    assert bad.json == {"errorCode": "AccessDenied", "message": "Authentication failed", "resourceId": None}
    chk.call("POST", "/api/oauth2/token", 400, form={"grant_type": "client_credentials"}, auth=False)
    chk.call("POST", "/api/oauth2/token", 400, form={"grant_type": "password", "username": kit.ADMIN[0]}, auth=False)
    token = chk.call("POST", "/api/oauth2/token", 200, form=kit.form(), auth=False).json
    assert token["token_type"] == "bearer" and token["expires_in"] == 900
    assert ("username" in token) == at_least_12
    grant = "Password" if rev1 else "password"
    token = chk.call("POST", "/api/oauth2/token", 200, form=kit.form(grant=grant), auth=False).json
    refreshed = chk.call("POST", "/api/oauth2/token", 200, auth=False,
                         form={"grant_type": "Refresh_token" if rev1 else "refresh_token",
                               "refresh_token": token["refresh_token"]}).json
    assert "username" not in refreshed
    chk.call("POST", "/api/oauth2/token", 401, auth=False,
             form={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})  # single use
    c.token = refreshed["access_token"]

    # Revision negotiation (deviation 4: 400 also where the operation declares none).
    for value in (None, "", "1.0-rev2", "9.9-rev9", "1.3"):
        chk.deviation("GET", jobs, 400, "NotImplemented", headers={"x-api-version": value})
    chk.call("POST", "/api/oauth2/token", 400, form=kit.form(), auth=False, headers={"x-api-version": "0.9-rev0"})

    # Server information.
    info = chk.call("GET", "/api/v1/serverInfo", 200).json
    assert info["buildVersion"] == "13.0.1.180"

    # Jobs.
    listed = chk.call("GET", jobs, 200).json
    assert listed["pagination"]["total"] == kit.VISIBLE_JOBS[revision] == len(listed["data"])
    first = chk.call("GET", jobs, 200, query={"limit": 3, "skip": 2, "orderColumn": "Name", "orderAsc": "false"}).json
    assert first["pagination"] == {"total": kit.VISIBLE_JOBS[revision], "count": 3, "skip": 2, "limit": 3}
    type_name = "VSphereBackup" if at_least_13 else "Backup"
    assert chk.call("GET", jobs, 200, query={"typeFilter": type_name, "nameFilter": "*Daily*"}).json["data"]
    chk.deviation("GET", jobs, 400, "UnexpectedContent", query={"typeFilter": "NoSuchType"})
    chk.deviation("GET", jobs, 400, "UnexpectedContent", query={"limit": "-1"})
    for job in listed["data"]:
        chk.call("GET", "%s/%s" % (jobs, job["id"]), 200)
    chk.call("GET", "%s/%s" % (jobs, kit.UNKNOWN_ID), 404)
    chk.call("GET", "%s/%s" % (jobs, "not-a-guid"), 404)
    if not at_least_13:
        chk.call("GET", "%s/%s" % (jobs, kit.JOB_HYPERV), 404)  # a type the revision does not know
    states = chk.call("GET", jobs + "/states", 200).json
    assert len(states["data"]) == kit.VISIBLE_JOBS[revision]
    chk.call("GET", jobs + "/states", 200, query={"statusFilter": "Inactive" if rev1 else "inactive",
                                                  "orderColumn": "LastRun", "orderAsc": "true", "limit": 5})
    chk.call("GET", jobs + "/states", 200, query={"idFilter": kit.JOB_FAILING, "lastResultFilter": "Failed",
                                                  "workloadFilter": "Vm" if rev1 else "vm"})
    chk.deviation("GET", jobs + "/states", 400, "UnexpectedContent", query={"idFilter": "x"})

    # Start, the session life cycle, stop.
    daily = "%s/%s" % (jobs, kit.JOB_DAILY)
    started = chk.call("POST", daily + "/start", 201, body={"performActiveFull": False}).json
    assert started["state"] == "Starting" and started["result"]["result"] == "None"
    assert started["activityId" if revision == "1.1-rev0" else "jobId"] == kit.JOB_DAILY
    assert started["sessionType"] == ("Job" if revision == "1.1-rev0" else "BackupJob")
    chk.call("POST", daily + "/start", 400)  # already running
    chk.call("POST", daily + "/start", 400, body=b"{nope", headers={"Content-Type": "application/json"})
    session = "/api/v1/sessions/" + started["id"]
    c.advance(1.5)
    working = chk.call("GET", session, 200).json
    assert working["state"] == "Working" and 0 < working["progressPercent"] < 100
    running_states = chk.call("GET", jobs + "/states", 200, query={"idFilter": kit.JOB_DAILY}).json["data"][0]
    assert running_states["status"].lower() == "running"
    c.advance(5)
    done = chk.call("GET", session, 200).json
    assert done["state"] == "Stopped" and done["result"]["result"] == "Success" and done["progressPercent"] == 100
    chk.call("POST", daily + "/stop", 400)  # not running
    for job_id, result in ((kit.JOB_WARNING, "Warning"), (kit.JOB_FAILING, "Failed")):
        sid = chk.call("POST", "%s/%s/start" % (jobs, job_id), 201, body={"performActiveFull": True}).json["id"]
        c.advance(10)
        ended = chk.call("GET", "/api/v1/sessions/" + sid, 200).json
        assert ended["result"]["result"] == result and ended["result"]["message"]
    long_job = "%s/%s" % (jobs, kit.JOB_LONG)
    long_id = chk.call("POST", long_job + "/start", 201).json["id"]
    c.advance(30)
    graceful = "gracefullStop" if revision == "1.1-rev0" else "gracefulStop"
    stopping = chk.call("POST", long_job + "/stop", 201, body={graceful: False}).json
    assert stopping["id"] == long_id and stopping["state"] == "Stopping"
    c.advance(1)
    stopped = chk.call("GET", "/api/v1/sessions/" + long_id, 200).json
    assert stopped["state"] == "Stopped" and stopped["result"] == {
        "result": "Failed", "message": "Job has been stopped by user.", "isCanceled": True}
    chk.call("POST", "%s/%s/start" % (jobs, kit.UNKNOWN_ID), 404)
    chk.call("POST", "%s/%s/stop" % (jobs, kit.UNKNOWN_ID), 404)

    # Retry (1.3-rev0+; an unknown route before, deviation 5).
    if at_least_13:
        retried = chk.call("POST", "%s/%s/retry" % (jobs, kit.JOB_FAILING), 201, body={"startChainedJobs": False}).json
        assert retried["state"] == "Starting"
        if rev1:
            assert retried["relatedSessionId"]
        chk.call("POST", "%s/%s/retry" % (jobs, kit.JOB_FAILING), 400)  # running
        c.advance(10)
        chk.call("POST", "%s/%s/retry" % (jobs, kit.JOB_FAILING), 400)  # last run succeeded
        chk.call("POST", "%s/%s/retry" % (jobs, kit.UNKNOWN_ID), 404)
    else:
        chk.deviation("POST", "%s/%s/retry" % (jobs, kit.JOB_FAILING), 404, "InvalidURI")
    chk.deviation("GET", daily + "/start", 405, "MethodNotAllowed")

    # Enable and disable: 200 {} up to 1.3-rev0, 204 from 1.3-rev1.
    done_status = 204 if rev1 else 200
    disabled = "%s/%s" % (jobs, kit.JOB_DISABLED)
    chk.call("POST", disabled + "/enable", done_status)
    assert chk.call("GET", disabled, 200).json["isDisabled"] is False
    chk.call("POST", disabled + "/disable", done_status)
    chk.call("POST", disabled + "/disable", done_status)
    assert chk.call("GET", disabled, 200).json["isDisabled"] is True
    chk.call("POST", "%s/%s/enable" % (jobs, kit.UNKNOWN_ID), 404)
    chk.call("POST", "%s/%s/disable" % (jobs, kit.UNKNOWN_ID), 404)
    chk.call("POST", disabled + "/start", 201)  # a disabled job still starts by hand

    # Sessions.
    sessions = chk.call("GET", "/api/v1/sessions", 200).json
    assert sessions["pagination"]["total"] >= 10
    for item in sessions["data"]:
        chk.call("GET", "/api/v1/sessions/" + item["id"], 200)
    type_filter = "Job" if revision == "1.1-rev0" else "BackupJob"
    chk.call("GET", "/api/v1/sessions", 200, query={
        "jobIdFilter": kit.JOB_FAILING, "typeFilter": type_filter, "stateFilter": "Stopped", "resultFilter": "Failed",
        "createdAfterFilter": "2000-01-01T00:00:00Z", "createdBeforeFilter": "2100-01-01T00:00:00.000+02:00",
        "endedAfterFilter": "2000-01-01T00:00:00Z", "endedBeforeFilter": "2100-01-01T00:00:00Z",
        "orderColumn": "CreationTime", "orderAsc": "false", "skip": 0, "limit": 2, "nameFilter": "VBR*"})
    chk.deviation("GET", "/api/v1/sessions", 400, "UnexpectedContent", query={"stateFilter": "Sleeping"})
    chk.call("GET", "/api/v1/sessions/" + kit.UNKNOWN_ID, 404)
    long_again = chk.call("POST", long_job + "/start", 201).json["id"]
    chk.call("POST", "/api/v1/sessions/%s/stop" % long_again, 200)
    chk.call("POST", "/api/v1/sessions/%s/stop" % long_again, 200)  # again: nothing left to stop
    chk.call("POST", "/api/v1/sessions/%s/stop" % kit.UNKNOWN_ID, 404)

    # Roles: the viewer may look but not start; the operator may start but not disable (x-veeam-authorize claims).
    admin_token = c.token
    c.login(kit.VIEWER)
    chk.call("GET", jobs, 200)
    chk.call("POST", "%s/%s/start" % (jobs, kit.JOB_SQL), 403)
    chk.call("POST", "/api/v1/sessions/%s/stop" % long_again, 403)
    chk.call("GET", "/api/v1/serverInfo", 403)
    chk.call("POST", "/api/oauth2/logout", 200)
    c.login(kit.OPERATOR)
    chk.call("POST", "%s/%s/disable" % (jobs, kit.JOB_SQL), 403)
    chk.call("POST", "%s/%s/enable" % (jobs, kit.JOB_SQL), 403)
    chk.call("POST", "%s/%s/start" % (jobs, kit.JOB_SQL), 201)
    chk.call("POST", "%s/%s/stop" % (jobs, kit.JOB_SQL), 201, body={graceful: True})
    chk.call("POST", "/api/oauth2/logout", 200)
    chk.call("GET", jobs, 401)  # logged out
    chk.call("POST", "/api/oauth2/logout", 401)

    # Expiry on the simulated clock.
    c.token = admin_token
    c.advance(900)
    expired = chk.call("GET", jobs, 401).json
    assert expired["errorCode"] == "ExpiredToken"
    c.login()
    c.expire_tokens()
    chk.call("GET", "/api/v1/serverInfo", 401)
    return chk


@pytest.fixture(name="driven", scope="module", params=REVISIONS)
def fixture_driven(request: Any) -> Checker:
    return drive(request.param)


def test_every_answer_conforms(driven: Checker) -> None:
    """drive() asserts on each call; here: something was checked at all."""
    assert len(driven.caller.log) > 80


def test_every_implemented_route_was_checked(driven: Checker) -> None:
    missing = _normal(_implemented(driven.revision)) - _normal(driven.covered)
    assert not missing, "implemented %s routes not exercised: %s" % (driven.revision, sorted(missing))


@pytest.mark.parametrize("revision", REVISIONS)
def test_implemented_routes_exist_in_spec_with_their_claims(revision: str) -> None:
    for route in ROUTES:
        sample = route.template.replace("{id}", kit.UNKNOWN_ID)
        _template, operation = spec(revision).operation(route.method, sample)
        key = tuple(int(x) for x in re.findall(r"\d+", revision))
        if not route.available(key):  # type: ignore[arg-type]
            assert operation is None, "%s %s exists in %s but is not served there" % (route.method, route.template, revision)
            continue
        assert operation is not None, "%s serves %s %s which the spec lacks" % (revision, route.method, route.template)
        claims = (operation.get("x-veeam-authorize") or {}).get("claims")
        if claims is not None:
            assert claims == [route.claim], "%s %s: spec claims %s, emulator %s" % (
                route.method, route.template, claims, route.claim)
        assert ("x-api-version" in json.dumps(operation.get("parameters")) or
                any(p.get("$ref", "").endswith("apiVersionParam") for p in operation.get("parameters", [])))


@pytest.mark.parametrize("revision", REVISIONS)
def test_spec_operations_of_the_emulated_areas_are_implemented(revision: str) -> None:
    """Every GET/POST operation on the emulated paths is served, except the ones out of scope (documented)."""
    out_of_scope = {("POST", "/api/v1/jobs"), ("POST", "/api/oauth2/authorization_code"),
                    ("POST", "/api/v1/jobs/{id}/clone"), ("POST", "/api/v1/jobs/{id}/applyConfiguration"),
                    ("POST", "/api/v1/jobs/{id}/clearCache"), ("POST", "/api/v1/jobs/quickBackup/vSphere"),
                    ("GET", "/api/v1/sessions/{id}/logs"), ("GET", "/api/v1/sessions/{id}/taskSessions")}
    areas = re.compile(r"^/api/(oauth2/\w+|v1/serverInfo|v1/jobs(/.*)?|v1/sessions(/.*)?)$")
    implemented = _normal(_implemented(revision))
    for template, ops in spec(revision).doc["paths"].items():
        if not areas.match(template):
            continue
        for method in ops:
            key = (method.upper(), template)
            if method.upper() not in ("GET", "POST") or key in out_of_scope:
                continue
            assert _normal({key}) <= implemented, "spec operation %s %s is not implemented" % key


def test_enum_copies_equal_the_documents() -> None:
    for revision in REVISIONS:
        schemas = spec(revision).doc["components"]["schemas"]
        for name, per_revision in ENUMS.items():
            assert list(per_revision[revision]) == schemas[name]["enum"], (revision, name)


def test_deviations_are_the_documented_ones() -> None:
    """Guard: the schema changes this test makes are exactly deviations 1-3 of the module docstring."""
    for revision in REVISIONS:
        original = spec(revision).doc["components"]["schemas"]
        assert "nullable" not in original["Error"]["properties"]["resourceId"]
        assert "username" not in original["TokenModel"]["properties"]
    assert "vbrInstallationId" in spec("1.1-rev0").doc["components"]["schemas"]["ServerInfoModel"]["required"]
    assert "vbrInstallationId" not in spec("1.1-rev0").doc["components"]["schemas"]["ServerInfoModel"]["properties"]
    for revision in REVISIONS:  # the operations that answer 400 for a bad revision or query without declaring it
        for method, path in (("GET", "/api/v1/jobs"), ("GET", "/api/v1/sessions"), ("GET", "/api/v1/jobs/states")):
            _template, operation = spec(revision).operation(method, path)
            assert "400" not in operation["responses"]


def test_newer_revision_start_may_answer_204_and_show_an_unknown_state() -> None:
    """A revision after 1.3-rev1 (1.4-rev0 here): 1.3-rev1 shapes, plus the 204 start and a new session state."""
    api, _clock = kit.make_api({"revisions": list(REVISIONS) + ["1.4-rev0"]})
    caller = kit.Caller(api, "1.4-rev0")
    chk = Checker("1.3-rev1", caller)
    caller.revision = "1.4-rev0"
    caller.login()
    assert chk.call("GET", "/api/v1/serverInfo", 200).json["buildVersion"] == "13.2.0.9999"
    caller.configure({"jobs": {kit.JOB_SQL: {"no_objects": True}, "VBR Daily Backup": {"unknown_state": "WaitingNetwork"}}})
    empty = caller.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_SQL)
    assert empty.status == 204 and empty.raw == b""
    assert api.counters_view()["starts"][kit.JOB_SQL] == 1
    started = chk.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_DAILY, 201).json
    caller.advance(1.5)
    newer = caller.call("GET", "/api/v1/sessions/" + started["id"]).json
    assert newer["state"] == "WaitingNetwork"
    newer["state"] = "Working"
    assert not spec("1.3-rev1").errors({"$ref": "#/components/schemas/SessionModel"}, newer)
    # The same server answers a 1.3-rev1 client with documented values only.
    assert chk.call("GET", "/api/v1/sessions/" + started["id"], 200, revision="1.3-rev1").json["state"] == "Working"
    chk.call("POST", "/api/v1/jobs/%s/stop" % kit.JOB_DAILY, 201, revision="1.3-rev1")
    chk.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_SQL, 201, revision="1.3-rev1")  # no 204 for 1.3-rev1


# ----------------------------------------------------------------------------------------------- real server
@pytest.fixture(name="live", scope="module")
def fixture_live(tmp_path_factory: Any) -> Any:
    emu = kit.EmulatorProcess(str(tmp_path_factory.mktemp("emulator-vbr")))
    try:
        yield kit.HttpCaller(emu)
    finally:
        emu.stop()


def test_conformance_through_the_real_server(live: Any) -> None:
    """The drive over HTTPS for the oldest and the newest revision: TLS, headers, body handling, control endpoint."""
    for revision in ("1.1-rev0", "1.3-rev1"):
        live.freeze()
        chk = drive(revision, live)
        assert not _normal(_implemented(revision)) - _normal(chk.covered)


def test_the_checker_is_strict() -> None:
    """Guard for the converter: an undeclared property, a missing required one, a wrong discriminator value, a nested
    extra property and a malformed date-time are all caught."""
    api, _clock = kit.make_api()
    caller = kit.Caller(api, "1.3-rev1")
    caller.login()
    the_spec = spec("1.3-rev1")
    job_model = {"$ref": "#/components/schemas/JobModel"}
    job = caller.call("GET", "/api/v1/jobs/" + kit.JOB_HYPERV).json
    assert not the_spec.errors(job_model, job)
    broken = [dict(job, bogus=1), {k: v for k, v in job.items() if k != "isDisabled"}, dict(job, type="VSphereBackup"),
              dict(job, storage=dict(job["storage"], backupProxies={"autoSelectEnabled": True}))]
    for body in broken:
        assert the_spec.errors(job_model, body), body
    session = caller.call("POST", "/api/v1/jobs/%s/start" % kit.JOB_DAILY).json
    session_model = {"$ref": "#/components/schemas/SessionModel"}
    assert not the_spec.errors(session_model, session)
    assert the_spec.errors(session_model, dict(session, creationTime="yesterday"))
    assert the_spec.errors(session_model, dict(session, result=dict(session["result"], extra=True)))
    assert the_spec.errors(session_model, dict(session, state="Sleeping"))
