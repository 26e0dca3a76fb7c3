# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""veeam_em_session: log on (the token returned, never logged off by the module), log off (changed only when this
run ended the session), the options each state takes; the client is a fake (no network)."""

from __future__ import annotations

import types

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.modules import veeam_em_session
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import EM_SESSION_ID, EM_TOKEN
from ansible_collections.backupops.veeam.tests.unit.plugins.modules.module_fakes import (
    EM_ARGS, patch_client, traceback_of)


class FakeLogon:
    """The EmLogon of the client: ``logoff`` answers ``gone`` or raises it."""

    def __init__(self, gone=False, user_name="SRV12\\Administrator"):
        self.token = EM_TOKEN
        self.session_id = EM_SESSION_ID
        self.user_name = user_name
        self.gone = gone
        self.logoffs = 0

    @property
    def handoff(self):
        return "%s|%s" % (self.token, self.session_id)

    def logoff(self):
        self.logoffs += 1
        if isinstance(self.gone, Exception):
            raise self.gone
        return self.gone


@pytest.fixture
def session(run_module, monkeypatch):
    def run(logon=None, **args):
        client = types.SimpleNamespace(auth=logon or FakeLogon())
        asked = patch_client(monkeypatch, client)
        return run_module(dict(EM_ARGS, **args), veeam_em_session.main), client, asked
    return run


def test_log_on(session):
    result, client, asked = session()
    assert not result.failed and result.result["changed"] is True
    # the hand-off: the token and its logon session's id, so that a later task ends exactly that session
    assert result.result["session_token"] == "%s|%s" % (EM_TOKEN, EM_SESSION_ID)
    assert result.result["logon_session_id"] == EM_SESSION_ID and "session_id" not in result.result
    assert (result.result["user_name"], result.result["api_version"]) == ("SRV12\\Administrator", "latest")
    assert result.result["msg"] == "Logged on to Enterprise Manager as SRV12\\Administrator (session %s)" % EM_SESSION_ID
    assert asked == [{"logoff": False}] and client.entered == client.exited == 1 and client.auth.logoffs == 0


def test_log_on_names_the_username_when_em_does_not(session):
    result, _client, _asked = session(logon=FakeLogon(user_name=None), api_version="v1_7")
    assert result.result["msg"].startswith("Logged on to Enterprise Manager as LAB\\svc-ansible (session ")
    assert result.result["api_version"] == "v1_7"


def test_log_on_in_check_mode_too(session):
    """The play's other tasks need the session for their reads in check mode as well."""
    result, client, _asked = session(_ansible_check_mode=True)
    assert result.result["changed"] is True and client.entered == 1
    assert result.result["session_token"] == "%s|%s" % (EM_TOKEN, EM_SESSION_ID)


def test_a_token_is_not_for_state_present(session, fail_calls):
    result, client, asked = session(session_token=EM_TOKEN)
    assert result.failed and result.result["error"]["kind"] == "usage" and asked == []
    assert result.result["msg"] == "session_token is for state: absent; state: present logs on with username and password"
    assert traceback_of(result, fail_calls) == "" and not hasattr(client, "entered")


def test_log_off(session):
    result, client, asked = session(state="absent", session_token=EM_TOKEN, logon_session_id=EM_SESSION_ID)
    assert not result.failed and result.result["changed"] is True
    assert result.result["msg"] == "Logged off from Enterprise Manager (session %s)" % EM_SESSION_ID
    assert asked == [{"logoff": False}] and client.auth.logoffs == 1
    assert "session_token" not in result.result


def test_session_id_is_an_alias_of_logon_session_id(session):
    """The option's name before 0.2.0 still works (docs/vocabulary.md: session_id alone names nothing any more)."""
    result, client, _asked = session(state="absent", session_token=EM_TOKEN, session_id=EM_SESSION_ID)
    assert not result.failed and result.result["changed"] is True and client.auth.logoffs == 1
    assert result.params["logon_session_id"] == EM_SESSION_ID


@pytest.mark.parametrize("gone", [True, E.AuthError("expired", status=401), E.NotFoundError("gone", status=404)])
def test_log_off_a_session_already_gone(session, gone):
    result, _client, _asked = session(logon=FakeLogon(gone=gone), state="absent", session_token=EM_TOKEN)
    assert not result.failed and result.result["changed"] is False
    assert result.result["msg"] == "The Enterprise Manager session was already logged off or expired"


def test_a_failed_logoff_fails(session, fail_calls):
    logon = FakeLogon(gone=E.HttpError("Logoff from Enterprise Manager failed", status=500, method="DELETE",
                                       path="/api/logonSessions/{id}"))
    result, _client, _asked = session(logon=logon, state="absent", session_token=EM_TOKEN)
    assert result.failed and result.result["error"]["kind"] == "http" and result.result["changed"] is False
    assert traceback_of(result, fail_calls) == ""


def test_log_off_needs_the_token(session, fail_calls):
    result, _client, asked = session(state="absent")
    assert result.failed and result.result["msg"] == "state: absent needs session_token (the one state: present returned)"
    assert asked == [] and traceback_of(result, fail_calls) == ""


def test_the_token_given_is_never_printed(session):
    result, _client, _asked = session(state="absent", session_token=EM_TOKEN)
    assert EM_TOKEN not in str(result.result.get("invocation", {}))


def test_state_choices(session):
    result, _client, asked = session(state="gone")
    assert result.failed and "value of state must be one of: present, absent, got: gone" in result.result["msg"]
    assert asked == []


def test_a_bug_fails_with_its_traceback(session, fail_calls):
    result, _client, _asked = session(logon=types.SimpleNamespace())  # no token attribute: a bug
    assert result.failed and "AttributeError" in result.result["msg"] and "Traceback" in traceback_of(result, fail_calls)
