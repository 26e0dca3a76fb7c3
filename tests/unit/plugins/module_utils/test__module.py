# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_module: the shared argument specs, environment fallbacks, no_log, the numbers checked before anything is sent,
the client and the job lifecycle it builds, and errors to fail_json (with what changed first; a traceback only for
a bug)."""

from __future__ import annotations

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils import _http
from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.module_utils import _vbr
from ansible_collections.backupops.veeam.plugins.module_utils import _wire
from ansible_collections.backupops.veeam.plugins.module_utils._errors import (
    ForbiddenError, JobFailedError, TransportError, WaitTimeoutError)
from ansible_collections.backupops.veeam.plugins.module_utils._jobs import JobAdapter, Lifecycle
from ansible_collections.backupops.veeam.plugins.module_utils._module import (
    VeeamModule, connection_spec, jobs_spec, wait_spec)
from ansible_collections.backupops.veeam.plugins.module_utils._poll import Poller, WaitResult
from ansible_collections.backupops.veeam.plugins.module_utils._version import COLLECTION_VERSION
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.fake_jobs import FakeJobs, fake_job
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    EM_TOKEN, PASSWORD, USERNAME, FakeClock, assert_no_secrets, expect_error)
from ansible_collections.backupops.veeam.tests.unit.plugins.modules.module_fakes import (
    patch_client, patch_poller, traceback_of)

EM = _em.CONNECTION
M365 = _m365.CONNECTION
EM_ARGS = {"server": "em.example", "username": USERNAME, "password": PASSWORD}
M365_ARGS = {"server": "vb365.example", "username": USERNAME, "password": PASSWORD}
OWN = {"job_name": {"type": "str"}}
ENV_NAMES = ["SERVER", "PORT", "USERNAME", "PASSWORD", "VALIDATE_CERTS", "CA_PATH", "TIMEOUT"]
COMMON = {"server", "port", "username", "password", "validate_certs", "ca_path", "timeout", "api_version"}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for prefix in ("VEEAM_EM_", "VEEAM_M365_", "VEEAM_VBR_"):
        for name in ENV_NAMES:
            monkeypatch.delenv(prefix + name, raising=False)


def build(module_args, args, conn=EM, wait=None, spec=None, **kwargs):
    with module_args(args):
        return VeeamModule(conn, dict(OWN if spec is None else spec), wait=wait, **kwargs)


# ------------------------------------------------------------------------------------------------ specs
def test_em_spec_defaults_and_merge(module_args):
    vm = build(module_args, dict(EM_ARGS, job_name="DB Backup"), wait=True, supports_check_mode=True)
    p = vm.params
    assert (p["server"], p["port"], p["username"], p["password"]) == ("em.example", 9398, USERNAME, PASSWORD)
    assert (p["validate_certs"], p["ca_path"], p["timeout"], p["api_version"], p["session_token"]) == (
        True, None, 30.0, "latest", None)
    assert (p["wait"], p["wait_timeout"], p["poll_interval"], p["job_name"]) == (True, 3600, 5.0, "DB Backup")
    assert not vm.check_mode and vm.conn is EM


def test_m365_spec_defaults(module_args):
    vm = build(module_args, M365_ARGS, conn=M365)
    assert (vm.params["port"], vm.params["api_version"]) == (4443, "auto")
    assert vm.params["session_token"] is None and "wait" not in vm.params


def test_the_option_names_are_the_shared_contract():
    assert set(connection_spec(EM)) == COMMON | {"session_token"}
    assert set(connection_spec(M365)) == COMMON | {"session_token"}
    assert set(connection_spec(_vbr.CONNECTION)) == COMMON
    assert set(wait_spec(True)) == {"wait", "wait_timeout", "poll_interval"}
    assert wait_spec(False)["wait"]["default"] is False
    assert connection_spec(EM)["api_version"]["choices"] == list(_em.API_VERSIONS)
    assert connection_spec(M365)["api_version"]["choices"] == list(_m365.API_VERSIONS)
    assert connection_spec(EM)["api_version"]["default"] == "latest"


def test_secrets_are_no_log():
    em = connection_spec(EM)
    assert em["password"]["no_log"] is True and em["session_token"]["no_log"] is True
    assert connection_spec(M365)["password"]["no_log"] is True and connection_spec(M365)["session_token"]["no_log"] is True
    assert all(not spec.get("no_log") for name, spec in em.items() if name not in ("password", "session_token"))


def test_jobs_spec():
    spec = jobs_spec(organization={"type": "str"}, full={"type": "bool"})
    assert (spec["type"], spec["elements"]) == ("list", "dict")
    assert set(spec["options"]) == {"job_id", "job_name", "organization", "full"}
    assert spec["mutually_exclusive"] == [["job_id", "job_name"], ["job_id", "organization"]]
    assert spec["required_one_of"] == [["job_id", "job_name"]]
    assert jobs_spec(job_type={"type": "str"})["mutually_exclusive"] == [["job_id", "job_name"]]


def test_a_module_option_wins_over_the_common_one(module_args):
    vm = build(module_args, EM_ARGS, spec={"port": {"type": "int", "default": 9443}})
    assert vm.params["port"] == 9443


def test_the_wait_default_is_the_modules_choice(module_args):
    assert build(module_args, EM_ARGS, wait=False).params["wait"] is False


@pytest.mark.parametrize("api_version", ["v1_8", "v8"])
def test_api_version_choices(run_module, api_version):
    exit_ = run_module(dict(EM_ARGS, api_version=api_version), lambda: VeeamModule(EM, dict(OWN)))
    assert exit_.failed and "api_version" in exit_.result["msg"] and api_version in exit_.result["msg"]


# ------------------------------------------------------------------------------------------------ environment
@pytest.mark.parametrize("conn,prefix", [(EM, "VEEAM_EM_"), (M365, "VEEAM_M365_")])
def test_environment_fallbacks(module_args, monkeypatch, tmp_path, conn, prefix):
    values = {"SERVER": "env.example", "PORT": "9443", "USERNAME": USERNAME, "PASSWORD": PASSWORD,
              "VALIDATE_CERTS": "false", "CA_PATH": str(tmp_path / "ca.pem"), "TIMEOUT": "12.5"}
    for name, value in values.items():
        monkeypatch.setenv(prefix + name, value)
    p = build(module_args, {}, conn=conn).params
    assert (p["server"], p["port"], p["username"], p["password"]) == ("env.example", 9443, USERNAME, PASSWORD)
    assert (p["validate_certs"], p["ca_path"], p["timeout"]) == (False, str(tmp_path / "ca.pem"), 12.5)


def test_options_win_over_the_environment(module_args, monkeypatch):
    monkeypatch.setenv("VEEAM_EM_SERVER", "env.example")
    monkeypatch.setenv("VEEAM_EM_USERNAME", "env-user")
    assert build(module_args, EM_ARGS).params["server"] == "em.example"
    assert build(module_args, EM_ARGS).params["username"] == USERNAME


def test_the_other_apis_environment_is_not_read(module_args, monkeypatch):
    monkeypatch.setenv("VEEAM_M365_SERVER", "vb365.example")
    monkeypatch.setenv("VEEAM_EM_SERVER", "em.example")
    assert build(module_args, {}, conn=EM).params["server"] == "em.example"
    assert build(module_args, {}, conn=M365).params["server"] == "vb365.example"


@pytest.mark.parametrize("conn,variable", [(EM, "VEEAM_EM_SERVER"), (M365, "VEEAM_M365_SERVER")])
@pytest.mark.parametrize("env_value", [None, "", "  "])
def test_server_is_required_and_the_message_names_its_variable(run_module, monkeypatch, fail_calls, conn, variable,
                                                               env_value):
    if env_value is None:
        monkeypatch.delenv(variable, raising=False)
    else:
        monkeypatch.setenv(variable, env_value)
    exit_ = run_module({"username": USERNAME, "password": PASSWORD},
                       lambda: VeeamModule(conn, dict(OWN)).run(lambda module: module.client()))
    assert exit_.failed
    assert exit_.result["msg"] == ("No server given: set the server option (or module_defaults for "
                                   "group/backupops.veeam.%s) or the %s environment variable" % (conn.name, variable))
    assert exit_.result["error"]["kind"] == "usage" and traceback_of(exit_, fail_calls) == ""


@pytest.mark.parametrize("name, value", [("VEEAM_EM_PORT", ""), ("VEEAM_EM_TIMEOUT", " "), ("VEEAM_EM_VALIDATE_CERTS", "")])
def test_empty_environment_variables_count_as_unset(module_args, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    params = build(module_args, {"server": "em.example"}).params
    assert params["port"] == 9398 and params["timeout"] == 30.0 and params["validate_certs"] is True


# ------------------------------------------------------------------------------------------------ no_log
def test_secret_values_are_masked_in_any_output(run_module):
    def body(vm):
        raise ForbiddenError("the server echoed %s and %s" % (vm.params["password"], vm.params["session_token"]),
                             status=500)

    exit_ = run_module(dict(EM_ARGS, session_token=EM_TOKEN), lambda: VeeamModule(EM, dict(OWN)).run(body))
    assert exit_.failed
    assert_no_secrets(exit_.result)
    assert "********" in exit_.result["msg"]


# ------------------------------------------------------------------------------------------------ libraries
@pytest.mark.parametrize("module,flag,error,library", [(_http, "HAS_REQUESTS", "REQUESTS_IMPORT_ERROR", "requests"),
                                                       (_wire, "HAS_XMLTODICT", "XMLTODICT_IMPORT_ERROR", "xmltodict")])
def test_a_missing_library(run_module, monkeypatch, fail_calls, module, flag, error, library):
    monkeypatch.setattr(module, flag, False)
    monkeypatch.setattr(module, error, ImportError("No module named %r" % library))
    exit_ = run_module(EM_ARGS, lambda: VeeamModule(EM, dict(OWN)))
    assert exit_.failed
    assert exit_.result["msg"].startswith("Failed to import the required Python library (%s) on " % library)
    assert fail_calls[0]["exception"] == "No module named %r" % library


# ------------------------------------------------------------------------------------------------ run / fail
def test_run_exits_with_the_result(run_module):
    exit_ = run_module(EM_ARGS, lambda: VeeamModule(EM, dict(OWN)).run(
        lambda vm: {"changed": True, "job": {"name": "DB Backup"}, "msg": "Started"}))
    assert exit_.code == 0 and not exit_.failed
    assert exit_.result["changed"] is True and exit_.result["job"] == {"name": "DB Backup"}


def test_a_veeam_error_becomes_fail_json_without_a_traceback(run_module, fail_calls):
    def body(_vm):
        raise ForbiddenError("Enterprise Manager refused to start job 'DB Backup': Access denied", status=403,
                             method="POST", path="/api/jobs/{id}", veeam_message="Access denied.",
                             hint="The account lacks the role", details={"job": {"name": "DB Backup"}})

    exit_ = run_module(EM_ARGS, lambda: VeeamModule(EM, dict(OWN)).run(body))
    assert exit_.failed and exit_.code == 1 and exit_.result["changed"] is False
    assert exit_.result["msg"] == ("Enterprise Manager refused to start job 'DB Backup': Access denied (HTTP 403 on POST "
                                   "/api/jobs/{id}). The account lacks the role")
    assert exit_.result["error"] == {"kind": "forbidden", "status": 403, "method": "POST", "path": "/api/jobs/{id}",
                                     "veeam_message": "Access denied.", "veeam_code": None}
    assert exit_.result["job"] == {"name": "DB Backup"}
    assert traceback_of(exit_, fail_calls) == "" and "exception" not in exit_.result


def test_an_error_after_a_change_says_what_changed(run_module):
    def body(vm):
        vm.journal.changed("Started job 'DB Backup' (task task-7)")
        raise TransportError("Lost the connection to https://em.example:9398", method="GET", path="/api/tasks/{id}")

    exit_ = run_module(EM_ARGS, lambda: VeeamModule(EM, dict(OWN)).run(body))
    assert exit_.failed and exit_.result["changed"] is True
    assert exit_.result["msg"] == ("Started job 'DB Backup' (task task-7), then: Lost the connection to "
                                   "https://em.example:9398 (GET /api/tasks/{id})")


def test_an_error_that_says_what_changed_itself(run_module):
    def body(vm):
        vm.journal.changed("Started job 'DB Backup'")
        raise WaitTimeoutError("Gave up waiting after 60 s", details={"changed": True, "task": {"id": "task-1"}})

    exit_ = run_module(EM_ARGS, lambda: VeeamModule(EM, dict(OWN)).run(body))
    assert exit_.failed and exit_.result["changed"] is True and exit_.result["task"] == {"id": "task-1"}
    assert exit_.result["msg"] == "Gave up waiting after 60 s" and exit_.result["error"]["kind"] == "wait_timeout"


def test_fail_keeps_extra_facts_and_changed(run_module):
    def go():
        vm = VeeamModule(EM, dict(OWN))
        vm.fail(JobFailedError("Job 'DB Backup' ended Failed", details={"changed": True, "session": {"id": "s"}}))

    exit_ = run_module(EM_ARGS, go)
    assert exit_.failed and exit_.result["changed"] is True and exit_.result["session"] == {"id": "s"}
    assert exit_.result["error"]["kind"] == "job_failed"


def test_warnings_reach_the_result(run_module):
    def body(vm):
        vm.warn("careful")
        vm.warn("careful")
        return {"changed": False}

    exit_ = run_module(EM_ARGS, lambda: VeeamModule(EM, dict(OWN)).run(body))
    assert exit_.warnings == ["careful"]


def test_an_unexpected_exception_is_reported_as_a_bug_with_its_traceback(run_module, fail_calls):
    def body(_vm):
        raise ValueError("boom")

    exit_ = run_module(EM_ARGS, lambda: VeeamModule(EM, dict(OWN)).run(body))
    assert exit_.failed
    assert exit_.result["msg"].startswith("Unexpected error in ")
    assert exit_.result["msg"].endswith(": ValueError: boom (please report this as a bug)")
    trace = traceback_of(exit_, fail_calls)
    assert "Traceback" in trace and "ValueError: boom" in trace


@pytest.mark.parametrize("args,message", [
    ({"wait_timeout": 0}, "wait_timeout must be a positive number of seconds, got 0"),
    ({"wait_timeout": -5}, "wait_timeout must be a positive number of seconds, got -5"),
    ({"poll_interval": 0}, "poll_interval must be a positive number of seconds (at least 0.5), got 0.0"),
    ({"poll_interval": -1}, "poll_interval must be a positive number of seconds (at least 0.5), got -1.0"),
    ({"poll_interval": 0.1}, "poll_interval must be a positive number of seconds (at least 0.5), got 0.1"),
    ({"poll_interval": "nan"}, "poll_interval must be a positive number of seconds (at least 0.5), got nan"),
    ({"poll_interval": "inf"}, "poll_interval must be a positive number of seconds (at least 0.5), got inf"),
    ({"timeout": 0}, "timeout must be a positive number of seconds, got 0.0"),
    ({"timeout": -1}, "timeout must be a positive number of seconds, got -1.0"),
    ({"timeout": "nan"}, "timeout must be a positive number of seconds, got nan"),
    ({"timeout": "inf"}, "timeout must be a positive number of seconds, got inf"),
])
def test_numbers_no_run_can_use_fail_before_anything_happens(run_module, fail_calls, args, message):
    called = []
    exit_ = run_module(dict(EM_ARGS, **args), lambda: VeeamModule(EM, dict(OWN), wait=True).run(called.append))
    assert exit_.failed and exit_.result["msg"] == message and exit_.result["error"]["kind"] == "usage"
    assert called == [] and traceback_of(exit_, fail_calls) == ""


def test_the_shortest_poll_interval_is_accepted(run_module):
    exit_ = run_module(dict(EM_ARGS, poll_interval=0.5), lambda: VeeamModule(EM, dict(OWN), wait=True).run(
        lambda vm: {"changed": False, "interval": vm.poller().interval}))
    assert not exit_.failed and exit_.result["interval"] == 0.5


def test_wait_options_are_not_checked_for_modules_without_them(run_module):
    exit_ = run_module(EM_ARGS, lambda: VeeamModule(EM, dict(OWN)).run(lambda vm: {"changed": False}))
    assert not exit_.failed


# ------------------------------------------------------------------------------------------------ client
def test_the_client_from_the_options(module_args, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not read here")
    vm = build(module_args, dict(EM_ARGS, server="em.example:9443", ca_path=str(ca), timeout=7,
                                 api_version="v1_7", session_token=EM_TOKEN))
    assert vm.transport is None
    em = vm.client(logoff=True)
    assert isinstance(em, _em.EnterpriseManager) and em.journal is vm.journal
    transport = em.t
    assert vm.transport is transport  # kept: the poller bounds the requests of a wait with it
    # the base has no API path (EM's /api is every request path's own); the environment is not trusted
    assert transport.base == "https://em.example:9443" and transport.verify == str(ca)
    assert transport.session.trust_env is False
    assert transport.timeout == 7.0
    assert transport.session.headers["User-Agent"] == "ansible-backupops.veeam/%s (%s)" % (COLLECTION_VERSION, vm.name)
    assert (em.auth.username, em.auth.api_version, em.auth.token, em.auth.logoff_on_end) == (
        USERNAME, "v1_7", EM_TOKEN, True)
    m365 = build(module_args, dict(M365_ARGS, api_version="v6"), conn=M365).client()
    assert isinstance(m365, _m365.Vb365) and m365.version == "v6" and m365.t.base == "https://vb365.example:4443"


def test_validate_certs_false_warns_once(run_module):
    def go():
        vm = VeeamModule(EM, dict(OWN))
        vm.client()
        vm.client()
        assert vm.client().t.verify is False
        vm.module.exit_json(changed=False, seen=vm.journal.warnings)

    exit_ = run_module(dict(EM_ARGS, validate_certs=False), go)
    text = ("validate_certs is false: the server's TLS certificate is not checked, so the connection (and the "
            "credentials sent over it) can be intercepted; prefer ca_path")
    assert exit_.result["seen"] == [text]
    assert exit_.warnings == [text]


def test_a_bad_server_value_fails_with_the_usage_message(run_module, fail_calls):
    exit_ = run_module(dict(EM_ARGS, server="ftp://em.example"),
                       lambda: VeeamModule(EM, dict(OWN)).run(lambda vm: vm.client()))
    assert exit_.failed and exit_.result["msg"] == "server 'ftp://em.example' is not a hostname, host:port or http(s) URL"
    assert traceback_of(exit_, fail_calls) == ""


def test_missing_credentials_fail_when_the_client_is_built(run_module):
    exit_ = run_module({"server": "em.example"}, lambda: VeeamModule(EM, dict(OWN)).run(lambda vm: vm.client()))
    assert exit_.failed and exit_.result["msg"] == (
        "username and password are required: set the options (or module_defaults) or the VEEAM_EM_USERNAME and "
        "VEEAM_EM_PASSWORD environment variables; or give session_token from backupops.veeam.veeam_em_session")


@pytest.mark.parametrize("conn,env,alternative", [
    (M365, "VEEAM_M365", "; or give session_token from backupops.veeam.veeam_m365_session"),
    (_vbr.CONNECTION, "VEEAM_VBR", "")])
def test_missing_credentials_name_the_apis_variables(run_module, conn, env, alternative):
    exit_ = run_module({"server": "x.example"}, lambda: VeeamModule(conn, dict(OWN)).run(lambda vm: vm.client()))
    assert exit_.failed and exit_.result["msg"] == (
        "username and password are required: set the options (or module_defaults) or the %s_USERNAME and %s_PASSWORD "
        "environment variables%s" % (env, env, alternative))


def test_a_reverse_proxy_prefix_in_server(module_args):
    vm = build(module_args, dict(EM_ARGS, server="https://proxy.example/veeam/em/api"))
    transport = vm.client().t
    assert transport.base == "https://proxy.example:9398/veeam/em"
    assert transport.url("/api/jobs") == "https://proxy.example:9398/veeam/em/api/jobs"


def test_a_ca_path_that_is_not_a_file_fails_before_anything_is_sent(run_module, fail_calls, tmp_path):
    missing = str(tmp_path / "nope.pem")
    exit_ = run_module(dict(EM_ARGS, ca_path=missing), lambda: VeeamModule(EM, dict(OWN)).run(lambda vm: vm.client()))
    assert exit_.failed and exit_.result["error"]["kind"] == "usage"
    assert exit_.result["msg"].startswith("ca_path %r is not a file" % missing)
    assert traceback_of(exit_, fail_calls) == ""


def test_user_info_in_server_fails_without_the_password(run_module):
    exit_ = run_module(dict(EM_ARGS, server="https://admin:S3cr#t@em.example"),
                       lambda: VeeamModule(EM, dict(OWN)).run(lambda vm: vm.client()))
    assert exit_.failed and exit_.result["error"]["kind"] == "usage" and "S3cr" not in exit_.result["msg"]
    assert exit_.result["msg"].startswith("server carries a user name or password")


# ------------------------------------------------------------------------------------------------ lifecycle
def test_the_poller_from_the_options(module_args):
    vm = build(module_args, dict(EM_ARGS, wait_timeout=120, poll_interval=2), wait=True)
    poller = vm.poller()
    assert isinstance(poller, Poller) and (poller.timeout, poller.interval) == (120.0, 2.0)
    assert vm.poller(30).timeout == 30.0
    assert poller.bound is None  # no client yet: nothing to bound


def test_the_poller_bounds_the_requests_of_its_wait(module_args):
    vm = build(module_args, dict(EM_ARGS, wait_timeout=120, poll_interval=2), wait=True)
    transport = vm.client().t
    poller = vm.poller()
    assert poller.bound == transport.bounded
    deadlines = []
    poller.wait(lambda: deadlines.append(transport.deadline) or "Stopped", lambda value: value == "Stopped")
    assert len(deadlines) == 1 and deadlines[0] is not None and transport.deadline is None


@pytest.mark.parametrize("options,expected", [
    ({}, {"action": "start", "wait": True, "wait_timeout": 3600, "if_running": "skip", "fail_on_warning": False}),
    ({"wait": False, "wait_timeout": 60, "if_running": "fail", "fail_on_warning": True},
     {"action": "start", "wait": False, "wait_timeout": 60, "if_running": "fail", "fail_on_warning": True}),
])
def test_the_lifecycle_from_the_options(module_args, options, expected):
    spec = {"if_running": {"type": "str", "default": "skip"}, "fail_on_warning": {"type": "bool", "default": False}}
    vm = build(module_args, dict(EM_ARGS, **options), wait=True, spec=spec)
    adapter = JobAdapter(client=None)
    cycle = vm.lifecycle(adapter, "started")
    assert isinstance(cycle, Lifecycle) and cycle.adapter is adapter and cycle.journal is vm.journal
    assert {k: getattr(cycle, k) for k in expected} == expected
    assert cycle.check_mode is False and cycle.poller(10).timeout == 10.0


def test_the_lifecycle_of_a_module_without_wait_options(module_args):
    vm = build(module_args, M365_ARGS, conn=M365, supports_check_mode=True)
    cycle = vm.lifecycle(JobAdapter(client=None), "enabled")
    assert (cycle.wait, cycle.if_running, cycle.fail_on_warning, cycle.wait_timeout) == (False, "skip", False, None)


def test_the_lifecycle_in_check_mode(module_args):
    vm = build(module_args, dict(EM_ARGS, _ansible_check_mode=True), wait=True, supports_check_mode=True)
    assert vm.check_mode and vm.lifecycle(JobAdapter(client=None), "started").check_mode is True


def test_the_module_name(module_args):
    vm = build(module_args, EM_ARGS)
    assert vm.name == getattr(vm.module, "_name", "backupops.veeam")


# ------------------------------------------------------------------------------------------------ bring_jobs
JOBS_SPEC = {"job_name": {"type": "str"}, "job_id": {"type": "str"}, "state": {"type": "str", "default": "started"},
             "full": {"type": "bool", "default": False}, "organization": {"type": "str"},
             "jobs": jobs_spec(full={"type": "bool"}, organization={"type": "str"})}


@pytest.fixture
def fake_api(monkeypatch, clock):
    """The module's client is a stand-in; the adapter factory makes FakeJobs over 'A' and 'B' and records what it got."""
    client = type("Client", (), {})()
    asked = patch_client(monkeypatch, client)
    patch_poller(monkeypatch, clock)
    made = []

    def factory(given):
        adapter = FakeJobs([fake_job("A"), fake_job("B")], clock=clock)
        real_find = adapter.find

        def find(wanted):
            adapter.wanted = wanted
            return real_find(wanted)
        adapter.find = find
        made.append((given, adapter))
        return adapter
    return type("FakeApi", (), {"client": client, "asked": asked, "made": made, "factory": staticmethod(factory)})


def run_bring(run_module, fake_api, args, inherited=(), by_name_only=()):
    def go():
        vm = VeeamModule(EM, dict(JOBS_SPEC), wait=True)
        vm.run(lambda module: module.bring_jobs(fake_api.factory, module.params["state"], inherited=inherited,
                                                by_name_only=by_name_only))
    return run_module(dict(EM_ARGS, **args), go)


def test_bring_jobs_brings_one_job_through_the_lifecycle(run_module, fake_api):
    exit_ = run_bring(run_module, fake_api, {"job_name": "A"})
    assert not exit_.failed and exit_.result["changed"] is True
    assert exit_.result["msg"] == "Started job 'A': run ended Success after 1.0 s"
    assert exit_.result["api_version"] == "f1" and "jobs" not in exit_.result
    (given, adapter), = fake_api.made
    assert given is fake_api.client and fake_api.client.entered == 1 and fake_api.client.exited == 1
    assert adapter.wanted == [{"job_id": None, "job_name": "A"}] and adapter.sent == [("A", "start")]


def test_bring_jobs_with_a_list_reports_jobs_even_for_one(run_module, fake_api):
    exit_ = run_bring(run_module, fake_api, {"jobs": [{"job_name": "B"}]})
    assert not exit_.failed and exit_.result["msg"] == "1 job: 1 started, 0 already running, 0 failed"
    assert [r["job"]["name"] for r in exit_.result["jobs"]] == ["B"]


def test_bring_jobs_passes_inherited_options_to_the_entries_that_do_not_set_them(run_module, fake_api):
    jobs = [{"job_name": "A"}, {"job_name": "B", "full": False, "organization": "other"}]
    run_bring(run_module, fake_api, {"full": True, "organization": "tech", "jobs": jobs},
              inherited=("organization", "full"))
    adapter = fake_api.made[0][1]
    assert adapter.wanted == [
        {"job_id": None, "job_name": "A", "organization": "tech", "full": True},
        {"job_id": None, "job_name": "B", "organization": "other", "full": False}]


def test_bring_jobs_gives_by_name_only_options_to_entries_given_by_name(run_module, fake_api):
    run_bring(run_module, fake_api, {"organization": "tech", "jobs": [{"job_name": "A"}, {"job_id": "id-b"}]},
              inherited=("organization",), by_name_only=("organization",))
    assert [w["organization"] for w in fake_api.made[0][1].wanted] == ["tech", None]


@pytest.mark.parametrize("args", [{"state": "stopped", "full": True, "job_name": "A"},
                                  {"state": "retried", "jobs": [{"job_name": "A", "full": True}]}])
def test_full_applies_to_starts_only_and_fails_before_the_client(run_module, fake_api, fail_calls, args):
    exit_ = run_bring(run_module, fake_api, args)
    assert exit_.failed and exit_.result["msg"] == "full applies to state: started only"
    assert exit_.result["error"]["kind"] == "usage" and fake_api.asked == [] and fake_api.made == []
    assert traceback_of(exit_, fail_calls) == ""


def test_bring_jobs_a_failure_after_a_change_says_so(run_module, fake_api):
    def failing(given):
        adapter = FakeJobs([fake_job("A", runs=[["Working", "Failed"]], reason="No space")])
        fake_api.made.append((given, adapter))
        return adapter
    fake_api.factory = staticmethod(failing)
    exit_ = run_bring(run_module, fake_api, {"job_name": "A"})
    assert exit_.failed and exit_.result["changed"] is True and exit_.result["error"]["kind"] == "job_failed"
    assert exit_.result["msg"] == "Started job 'A': run ended Failed after 1.0 s: No space"


# ------------------------------------------------------------------------------------------------ finish_wait
def waited(done, error=None):
    history = [{"state": "Working", "elapsed": 0.0}] + ([{"state": "Stopped", "elapsed": 31.0}] if done else [])
    return WaitResult({"state": "Stopped" if done else "Working"}, 31.0 if done else 30.4, 3, history, done=done,
                      error=error)


def test_finish_wait_of_a_wait_that_ended(module_args):
    vm = build(module_args, EM_ARGS, wait=True)
    result = {"changed": False}
    assert vm.finish_wait(waited(True), result, "Task task-7", {"task": {"id": "task-7"}}) == {"state": "Stopped"}
    assert result == {"changed": False, "elapsed": 31.0, "history": waited(True).history}


def test_finish_wait_of_a_wait_that_ran_out(module_args):
    vm = build(module_args, dict(EM_ARGS, wait_timeout=30), wait=True)
    result = {"changed": False}
    with expect_error("wait_timeout") as caught:
        vm.finish_wait(waited(False), result, "Task task-7", {"task": {"id": "task-7", "state": "Running"}})
    assert str(caught.error) == ("Task task-7 was still Working after 30 s (wait_timeout 30 s). Run the task again to go "
                                 "on waiting (nothing is sent twice)")
    assert caught.error.details == {"changed": False, "elapsed": 30.4, "history": waited(False).history,
                                    "task": {"id": "task-7", "state": "Running"}}


def test_finish_wait_names_the_failure_of_the_last_poll(module_args):
    vm = build(module_args, dict(EM_ARGS, wait_timeout=30), wait=True)
    error = TransportError("Lost the connection to https://em.example:9398", method="GET", path="/api/tasks/{id}")
    with expect_error("wait_timeout") as caught:
        vm.finish_wait(waited(False, error), {}, "Session S@1", {}, hint="Use veeam_vbr_session_info")
    assert str(caught.error) == ("Session S@1 was still Working after 30 s (wait_timeout 30 s); the last poll failed: "
                                 "Lost the connection to https://em.example:9398 (GET /api/tasks/{id}). Use "
                                 "veeam_vbr_session_info")


def test_finish_wait_of_a_wait_that_read_nothing(module_args):
    vm = build(module_args, dict(EM_ARGS, wait_timeout=30), wait=True)
    with expect_error("wait_timeout", "Task task-7 was still unknown after 30 s"):
        vm.finish_wait(WaitResult(None, 30.0, 0, [], done=False), {}, "Task task-7", {})


# ------------------------------------------------------------------------------------------------ the traceback rule
class StubModule:
    """An AnsibleModule stand-in whose fail_json records its keyword arguments and exits."""

    def __init__(self):
        self.calls = []

    def warn(self, _text):
        pass


class NewStyle(StubModule):
    def fail_json(self, msg, exception=None, **kwargs):
        self.calls.append(dict(kwargs, msg=msg, exception=exception))
        raise SystemExit(1)


class OldStyle(StubModule):
    def fail_json(self, **kwargs):
        self.calls.append(kwargs)
        raise SystemExit(1)


@pytest.mark.parametrize("stub,expected", [(NewStyle, ""), (OldStyle, "absent")])
def test_an_expected_failure_gives_an_empty_traceback_where_fail_json_takes_one(module_args, stub, expected):
    """Read at fail time from fail_json's own signature (ansible-core 2.19 takes ``exception`` and records the handled
    exception unless it is given; earlier releases do not)."""
    vm = build(module_args, EM_ARGS)
    vm.module = stub()
    with pytest.raises(SystemExit):
        vm.fail(ForbiddenError("refused", status=403))
    call = vm.module.calls[0]
    assert call.get("exception", "absent") == expected
    assert call["msg"] == "refused (HTTP 403)" and call["error"]["kind"] == "forbidden" and call["changed"] is False
