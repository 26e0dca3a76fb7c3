# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""veeam_m365_session: log in (the session token returned, the token kept open for the later tasks), log out
(changed only when this run ended the token; v6 and older have no logout), the options each state takes, check
mode; the client is a fake (no network).  The client's part (the hand-off token, a handed token's refresh, expiry
and logout) is tested in module_utils/test__auth_m365_session.py."""

from __future__ import annotations

import time
import types

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.modules import veeam_m365_session
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import (
    M365_ACCESS, M365_REFRESH, PASSWORD, USERNAME)
from ansible_collections.backupops.veeam.tests.unit.plugins.modules.module_fakes import (
    M365_ARGS, patch_client, traceback_of)

HANDOFF = "vb365:the-hand-off-token-of-this-test"


class FakeToken:
    """The Vb365Token of the client: ``logout`` answers ``gone`` or raises it."""

    def __init__(self, gone=False, expires_in=3600):
        self.expires_epoch = time.time() + expires_in if expires_in is not None else None
        self.gone = gone
        self.logouts = 0

    def logout(self):
        self.logouts += 1
        if isinstance(self.gone, Exception):
            raise self.gone
        return self.gone


@pytest.fixture
def session(run_module, monkeypatch):
    def run(token=None, version="v8", has_logout=True, **args):
        client = types.SimpleNamespace(auth=token or FakeToken(), version=version,
                                       routes=types.SimpleNamespace(has_logout=has_logout), handoff=lambda: HANDOFF)
        asked = patch_client(monkeypatch, client)
        return run_module(dict(M365_ARGS, **args), veeam_m365_session.main), client, asked
    return run


def test_log_in(session):
    result, client, asked = session()
    assert not result.failed and result.result["changed"] is True
    assert result.result["session_token"] == HANDOFF and result.result["api_version"] == "v8"
    assert 3590 <= result.result["expires_in"] <= 3600
    assert result.result["msg"] == "Logged in to VB365 (REST API v8) as %s" % USERNAME
    # the token this run logs in with is kept open: the later tasks use it
    assert asked == [{"keep_open": True}] and client.entered == client.exited == 1 and client.auth.logouts == 0


def test_log_in_with_a_token_of_unknown_lifetime(session):
    result, _client, _asked = session(token=FakeToken(expires_in=None), version="v6")
    assert result.result["expires_in"] == 0 and result.result["api_version"] == "v6"


def test_log_in_in_check_mode_too(session):
    """The play's other tasks need the token for their reads in check mode as well."""
    result, client, _asked = session(_ansible_check_mode=True)
    assert result.result["changed"] is True and client.entered == 1 and result.result["session_token"] == HANDOFF


def test_log_out(session):
    result, client, asked = session(state="absent", session_token=HANDOFF)
    assert not result.failed and result.result["changed"] is True
    assert result.result["msg"] == "Logged out from VB365" and result.result["api_version"] == "v8"
    assert asked == [{"end_handed": True}] and client.auth.logouts == 1
    assert "session_token" not in result.result


def test_log_out_in_check_mode_too(session):
    result, client, _asked = session(state="absent", session_token=HANDOFF, _ansible_check_mode=True)
    assert result.result["changed"] is True and client.auth.logouts == 1


def test_no_logout_before_v7(session):
    result, client, _asked = session(state="absent", session_token=HANDOFF, version="v6", has_logout=False)
    assert not result.failed and result.result["changed"] is False and client.auth.logouts == 0
    assert result.result["msg"] == "VB365 REST API v6 has no logout; the token expires on its own"


def test_log_out_a_token_already_gone(session):
    result, _client, _asked = session(token=FakeToken(gone=True), state="absent", session_token=HANDOFF)
    assert not result.failed and result.result["changed"] is False
    assert result.result["msg"] == "The VB365 token was logged out already or has expired"


def test_a_failed_logout_fails(session, fail_calls):
    token = FakeToken(gone=E.HttpError("VB365 logout failed", status=500, method="POST", path="/v8/token/logout"))
    result, _client, _asked = session(token=token, state="absent", session_token=HANDOFF)
    assert result.failed and result.result["error"]["kind"] == "http" and result.result["changed"] is False
    assert traceback_of(result, fail_calls) == ""


def test_no_secret_in_the_output_of_a_logout(session):
    token = "vb365:" + M365_ACCESS + M365_REFRESH
    result, _client, _asked = session(state="absent", session_token=token)
    text = str(result.result)
    assert token not in text and M365_ACCESS not in text and PASSWORD not in text


@pytest.mark.parametrize("args,msg", [
    ({"session_token": HANDOFF}, "session_token is for state: absent; state: present logs in with username and password"),
    ({"state": "absent"}, "state: absent needs session_token (the one state: present returned)"),
    ({"state": "gone"}, "value of state must be one of: present, absent, got: gone"),
])
def test_options_refused_before_the_client_is_asked(session, fail_calls, args, msg):
    result, client, asked = session(**args)
    assert result.failed and msg in result.result["msg"]
    assert asked == [] and not hasattr(client, "entered") and traceback_of(result, fail_calls) == ""
