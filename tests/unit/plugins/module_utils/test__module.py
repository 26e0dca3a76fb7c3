# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_module: the shared argument specs, environment fallbacks, no_log, the clients it builds, errors to fail_json."""

from __future__ import annotations

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils import _http
from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.module_utils import _module
from ansible_collections.backupops.veeam.plugins.module_utils import _wire
from ansible_collections.backupops.veeam.plugins.module_utils._errors import VeeamError
from ansible_collections.backupops.veeam.plugins.module_utils._module import VeeamModule
from ansible_collections.backupops.veeam.plugins.module_utils._poll import Poller
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    EM_TOKEN, PASSWORD, USERNAME, assert_no_secrets)

EM_ARGS = {"server": "em.example", "username": USERNAME, "password": PASSWORD}
OWN = {"job_name": {"type": "str"}}
ENV_NAMES = ["SERVER", "PORT", "USERNAME", "PASSWORD", "VALIDATE_CERTS", "CA_PATH", "TIMEOUT"]


@pytest.fixture
def fail_calls(monkeypatch):
    """The keyword arguments of every fail_json call (2.19 drops ``exception`` from the printed result)."""
    calls = []
    real = AnsibleModule.fail_json

    def record(self, **kwargs):
        calls.append(kwargs)
        real(self, **kwargs)
    monkeypatch.setattr(AnsibleModule, "fail_json", record)
    return calls


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for prefix in ("VEEAM_EM_", "VEEAM_M365_"):
        for name in ENV_NAMES:
            monkeypatch.delenv(prefix + name, raising=False)


def build(module_args, args, api="em", wait=None, spec=None, **kwargs):
    with module_args(args):
        return VeeamModule(api, dict(OWN if spec is None else spec), wait=wait, **kwargs)


# ------------------------------------------------------------------------------------------------ specs
def test_em_spec_defaults_and_merge(module_args):
    vm = build(module_args, dict(EM_ARGS, job_name="DB Backup"), wait=True, supports_check_mode=True)
    p = vm.params
    assert (p["server"], p["port"], p["username"], p["password"]) == ("em.example", 9398, USERNAME, PASSWORD)
    assert (p["validate_certs"], p["ca_path"], p["timeout"], p["api_version"], p["session_token"]) == (
        True, None, 30.0, "latest", None)
    assert (p["wait"], p["wait_timeout"], p["poll_interval"], p["job_name"]) == (True, 3600, 5.0, "DB Backup")
    assert not vm.check_mode


def test_m365_spec_defaults(module_args):
    vm = build(module_args, {"server": "vb365.example", "username": USERNAME, "password": PASSWORD}, api="m365")
    assert (vm.params["port"], vm.params["api_version"]) == (4443, "v8")
    assert "session_token" not in vm.params and "wait" not in vm.params


def test_the_option_names_are_the_shared_contract():
    common = {"server", "port", "username", "password", "validate_certs", "ca_path", "timeout", "api_version"}
    assert set(_module.EM_ARGSPEC) == common | {"session_token"}
    assert set(_module.M365_ARGSPEC) == common
    assert set(_module.wait_argspec(True)) == {"wait", "wait_timeout", "poll_interval"}
    assert _module.EM_ARGSPEC["api_version"]["choices"] == list(_em.API_VERSIONS)
    assert _module.M365_ARGSPEC["api_version"]["choices"] == list(_m365.API_VERSIONS)


def test_secrets_are_no_log():
    assert _module.EM_ARGSPEC["password"]["no_log"] is True
    assert _module.EM_ARGSPEC["session_token"]["no_log"] is True
    assert _module.M365_ARGSPEC["password"]["no_log"] is True
    assert all(not spec.get("no_log") for name, spec in _module.EM_ARGSPEC.items() if name not in ("password", "session_token"))


def test_a_module_option_wins_over_the_common_one(module_args):
    vm = build(module_args, EM_ARGS, spec={"port": {"type": "int", "default": 9443}})
    assert vm.params["port"] == 9443


def test_the_wait_default_is_the_modules_choice(module_args):
    assert build(module_args, EM_ARGS, wait=False).params["wait"] is False


@pytest.mark.parametrize("api_version", ["v1_8", "v8"])
def test_api_version_choices(run_module, api_version):
    exit_ = run_module(dict(EM_ARGS, api_version=api_version), lambda: VeeamModule("em", dict(OWN)))
    assert exit_.failed and "api_version" in exit_.result["msg"] and api_version in exit_.result["msg"]


# ------------------------------------------------------------------------------------------------ environment
@pytest.mark.parametrize("api,prefix", [("em", "VEEAM_EM_"), ("m365", "VEEAM_M365_")])
def test_environment_fallbacks(module_args, monkeypatch, tmp_path, api, prefix):
    values = {"SERVER": "env.example", "PORT": "9443", "USERNAME": USERNAME, "PASSWORD": PASSWORD,
              "VALIDATE_CERTS": "false", "CA_PATH": str(tmp_path / "ca.pem"), "TIMEOUT": "12.5"}
    for name, value in values.items():
        monkeypatch.setenv(prefix + name, value)
    p = build(module_args, {}, api=api).params
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
    assert build(module_args, {}, api="em").params["server"] == "em.example"
    assert build(module_args, {}, api="m365").params["server"] == "vb365.example"


@pytest.mark.parametrize("api, variable", [("em", "VEEAM_EM_SERVER"), ("m365", "VEEAM_M365_SERVER")])
@pytest.mark.parametrize("env_value", [None, "", "  "])
def test_server_is_required_and_the_message_names_its_variable(run_module, monkeypatch, api, variable, env_value):
    if env_value is None:
        monkeypatch.delenv(variable, raising=False)
    else:
        monkeypatch.setenv(variable, env_value)
    exit_ = run_module({"username": USERNAME, "password": PASSWORD},
                       lambda: VeeamModule(api, dict(OWN)).run(lambda module: module.transport()))
    assert exit_.failed
    assert exit_.result["msg"] == ("No server given: set the server option (or module_defaults for "
                                   "group/backupops.veeam.%s) or the %s environment variable" % (api, variable))
    assert exit_.result["error"]["kind"] == "usage"


@pytest.mark.parametrize("name, value", [("VEEAM_EM_PORT", ""), ("VEEAM_EM_TIMEOUT", " "), ("VEEAM_EM_VALIDATE_CERTS", "")])
def test_empty_environment_variables_count_as_unset(module_args, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    params = build(module_args, {"server": "em.example"}, api="em").params
    assert params["port"] == 9398 and params["timeout"] == 30.0 and params["validate_certs"] is True


# ------------------------------------------------------------------------------------------------ no_log
def test_secret_values_are_masked_in_any_output(run_module):
    def body(vm):
        raise VeeamError("the server echoed %s and %s" % (vm.params["password"], vm.params["session_token"]),
                         kind="http", status=500)

    exit_ = run_module(dict(EM_ARGS, session_token=EM_TOKEN),
                       lambda: VeeamModule("em", dict(OWN)).run(body))
    assert exit_.failed
    assert_no_secrets(exit_.result)
    assert "********" in exit_.result["msg"]


# ------------------------------------------------------------------------------------------------ libraries
@pytest.mark.parametrize("module,flag,error,library", [(_http, "HAS_REQUESTS", "REQUESTS_IMPORT_ERROR", "requests"),
                                                       (_wire, "HAS_XMLTODICT", "XMLTODICT_IMPORT_ERROR", "xmltodict")])
def test_a_missing_library(run_module, monkeypatch, fail_calls, module, flag, error, library):
    monkeypatch.setattr(module, flag, False)
    monkeypatch.setattr(module, error, ImportError("No module named %r" % library))
    exit_ = run_module(EM_ARGS, lambda: VeeamModule("em", dict(OWN)))
    assert exit_.failed
    assert exit_.result["msg"].startswith("Failed to import the required Python library (%s) on " % library)
    assert fail_calls[0]["exception"] == "No module named %r" % library


# ------------------------------------------------------------------------------------------------ run / fail
def test_run_exits_with_the_result(run_module):
    exit_ = run_module(EM_ARGS, lambda: VeeamModule("em", dict(OWN)).run(
        lambda vm: {"changed": True, "job": {"name": "DB Backup"}, "msg": "Started"}))
    assert exit_.code == 0 and not exit_.failed
    assert exit_.result["changed"] is True and exit_.result["job"] == {"name": "DB Backup"}


def test_a_veeam_error_becomes_fail_json(run_module):
    def body(_vm):
        raise VeeamError("Enterprise Manager refused to start job 'DB Backup': Access denied", kind="forbidden",
                         status=403, method="POST", path="/api/jobs/{id}", veeam_message="Access denied.",
                         hint="The account lacks the role", details={"job": {"name": "DB Backup"}})

    exit_ = run_module(EM_ARGS, lambda: VeeamModule("em", dict(OWN)).run(body))
    assert exit_.failed and exit_.code == 1 and exit_.result["changed"] is False
    assert exit_.result["msg"] == ("Enterprise Manager refused to start job 'DB Backup': Access denied (HTTP 403 on POST "
                                   "/api/jobs/{id}). The account lacks the role")
    assert exit_.result["error"] == {"kind": "forbidden", "status": 403, "method": "POST", "path": "/api/jobs/{id}",
                                     "veeam_message": "Access denied.", "veeam_code": None}
    assert exit_.result["job"] == {"name": "DB Backup"}


def test_fail_keeps_extra_facts_and_changed(run_module):
    def go():
        vm = VeeamModule("em", dict(OWN))
        vm.fail(VeeamError("Gave up waiting after 60 s; last state: Working", kind="wait_timeout"), changed=True,
                task={"id": "task-1"})

    exit_ = run_module(EM_ARGS, go)
    assert exit_.failed and exit_.result["changed"] is True and exit_.result["task"] == {"id": "task-1"}
    assert exit_.result["error"]["kind"] == "wait_timeout"


def test_an_unexpected_exception_is_reported_as_a_bug(run_module, fail_calls):
    def body(_vm):
        raise ValueError("boom")

    exit_ = run_module(EM_ARGS, lambda: VeeamModule("em", dict(OWN)).run(body))
    assert exit_.failed
    assert exit_.result["msg"].startswith("Unexpected error in ")
    assert exit_.result["msg"].endswith(": ValueError: boom (please report this as a bug)")
    assert "Traceback" in fail_calls[0]["exception"] and "ValueError: boom" in fail_calls[0]["exception"]


@pytest.mark.parametrize("args,message", [
    ({"wait_timeout": 0}, "wait_timeout must be a positive number of seconds, got 0"),
    ({"wait_timeout": -5}, "wait_timeout must be a positive number of seconds, got -5"),
    ({"poll_interval": 0}, "poll_interval must be a positive number of seconds, got 0.0"),
    ({"poll_interval": -1}, "poll_interval must be a positive number of seconds, got -1.0"),
])
def test_zero_or_negative_wait_options_fail_before_anything_happens(run_module, args, message):
    called = []
    exit_ = run_module(dict(EM_ARGS, **args), lambda: VeeamModule("em", dict(OWN), wait=True).run(called.append))
    assert exit_.failed and exit_.result["msg"] == message and exit_.result["error"]["kind"] == "usage"
    assert called == []


# ------------------------------------------------------------------------------------------------ clients
def test_transport_from_the_options(module_args, tmp_path):
    vm = build(module_args, dict(EM_ARGS, server="em.example:9443", ca_path=str(tmp_path / "ca.pem"), timeout=7))
    transport = vm.transport()
    assert transport.base == "https://em.example:9443/api" and transport.verify == str(tmp_path / "ca.pem")
    assert transport.timeout == 7.0
    assert transport.session.headers["User-Agent"].startswith("ansible-backupops.veeam/%s (" % _module.COLLECTION_VERSION)
    m365 = build(module_args, {"server": "vb365.example", "username": USERNAME, "password": PASSWORD}, api="m365")
    assert m365.transport().base == "https://vb365.example:4443"


@pytest.mark.parametrize("timeout", [0, -1])
def test_a_zero_or_negative_timeout(module_args, timeout):
    vm = build(module_args, dict(EM_ARGS, timeout=timeout))
    with pytest.raises(VeeamError) as info:
        vm.transport()
    assert info.value.kind == "usage"
    assert str(info.value) == "timeout must be a positive number of seconds, got %r" % float(timeout)


def test_validate_certs_false_warns_once(run_module):
    def go():
        vm = VeeamModule("em", dict(OWN))
        vm.transport()
        vm.transport()
        assert vm.transport().verify is False
        vm.module.exit_json(changed=False, seen=vm.warnings)

    exit_ = run_module(dict(EM_ARGS, validate_certs=False), go)
    text = ("validate_certs is false: the server's TLS certificate is not checked, so the connection (and the "
            "credentials sent over it) can be intercepted; prefer ca_path")
    assert exit_.result["seen"] == [text]
    assert text in str(exit_.result.get("warnings", exit_.result["seen"]))


def test_clients_and_poller_from_the_options(module_args):
    vm = build(module_args, dict(EM_ARGS, api_version="v1_7", session_token=EM_TOKEN, wait_timeout=120,
                                 poll_interval=2), wait=True)
    em = vm.em(logoff=True)
    assert isinstance(em, _em.EnterpriseManager)
    assert (em.username, em.api_version, em.token, em.logoff_on_exit) == (USERNAME, "v1_7", EM_TOKEN, True)
    poller = vm.poller()
    assert isinstance(poller, Poller) and (poller.timeout, poller.interval) == (120.0, 2.0)
    m365 = build(module_args, {"server": "vb365.example", "username": USERNAME, "password": PASSWORD,
                               "api_version": "v6"}, api="m365").m365()
    assert isinstance(m365, _m365.Vb365) and m365.version == "v6"


def test_a_bad_server_value_fails_with_the_usage_message(run_module):
    def body(vm):
        vm.transport()

    exit_ = run_module(dict(EM_ARGS, server="ftp://em.example"), lambda: VeeamModule("em", dict(OWN)).run(body))
    assert exit_.failed and exit_.result["msg"] == "server 'ftp://em.example' is not a hostname, host:port or http(s) URL"
