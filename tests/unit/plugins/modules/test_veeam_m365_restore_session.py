# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""veeam_m365_restore_session: open a restore session on a job's backup (present) or stop one (absent): the options
each state takes, point_in_time, what the API version allows, check mode, idempotency, the wait for a stop; the
client is a fake holding real-shaped answers (no network)."""

from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.modules import veeam_m365_restore_session
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import fixture_bytes
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_wire import JOB, job
from ansible_collections.backupops.veeam.tests.unit.plugins.modules.module_fakes import (
    M365_ARGS, patch_client, patch_poller, traceback_of)

SESSION = "fa561ea7-9017-4ffd-a890-6fe85e2c6662"


def restore(state="Working", **changes):
    data = json.loads(fixture_bytes("m365_restore_session_explore_reconstructed.json"))
    data.update(id=SESSION, state=state, **changes)
    return data


class FakeVb:
    """The Vb365 methods the module uses; the version's rules and the stop wait are the real client's."""

    check_restore_type = _m365.Vb365.check_restore_type
    wait_restore_session_stopped = _m365.Vb365.wait_restore_session_stopped

    def __init__(self, version="v8", sessions=None, stopped=True, error=None):
        self.routes = _m365.Routes(version)
        self.version = version
        self.sessions = list(sessions or [restore()])
        self.stopped = stopped
        self.error = error
        self.explored = []
        self.stops = []
        self.found = []

    def find_job(self, job_id=None, job_name=None, organization=None):
        self.found.append((job_id, job_name, organization))
        if self.error is not None:
            raise self.error
        return job()

    def job_view(self, raw):
        return _m365.job_view(raw)

    def explore(self, raw_job, point_in_time, restore_type, show_deleted, show_all_versions):
        self.explored.append((raw_job["id"], point_in_time, restore_type, show_deleted, show_all_versions))
        return restore(type=restore_type.capitalize())

    def get_restore_session(self, session_id):
        assert session_id == SESSION
        return self.sessions.pop(0) if len(self.sessions) > 1 else self.sessions[0]

    def stop_restore_session(self, session_id):
        self.stops.append(session_id)
        return self.stopped


@pytest.fixture
def restore_session(run_module, monkeypatch, clock):
    def run(client=None, **args):
        client = client or FakeVb()
        patch_poller(monkeypatch, clock)
        asked = patch_client(monkeypatch, client)
        return run_module(dict(M365_ARGS, **args), veeam_m365_restore_session.main), client, asked
    return run


# ------------------------------------------------------------------------------------------------ options
@pytest.mark.parametrize("args,message", [
    ({}, "state is present but any of the following are missing: job_id, job_name"),
    ({"state": "absent"}, "state is absent but all of the following are missing: restore_session_id"),
    ({"job_id": JOB, "job_name": "Mail"}, "parameters are mutually exclusive: job_id|job_name"),
    ({"job_id": JOB, "organization": "contoso"}, "parameters are mutually exclusive: job_id|organization"),
    ({"job_name": "Mail", "type": "vem"}, "value of type must be one of: vex, veod, vesp, vet, got: vem"),
])
def test_option_checks(restore_session, args, message):
    result, client, asked = restore_session(**args)
    assert result.failed and message in result.result["msg"] and asked == [] and client.found == []


@pytest.mark.parametrize("args,message", [
    ({"job_name": "Mail", "restore_session_id": SESSION},
     "restore_session_id is for state: absent; state: present opens a new restore session on the backup of job_id or job_name"),
    ({"job_name": "Mail", "session_id": SESSION},  # the alias
     "restore_session_id is for state: absent; state: present opens a new restore session on the backup of job_id or "
     "job_name"),
    ({"job_name": "Mail", "point_in_time": "yesterday"},
     "point_in_time 'yesterday' is not an ISO 8601 date and time such as 2026-11-20T22:00:00Z"),
    ({"state": "absent", "restore_session_id": SESSION, "job_name": "Mail"},
     "job_name is for state: present; state: absent stops the restore session restore_session_id"),
    ({"state": "absent", "restore_session_id": SESSION, "job_id": JOB, "point_in_time": "2026-11-20T22:00:00Z"},
     "job_id, point_in_time are for state: present; state: absent stops the restore session restore_session_id"),
])
def test_options_of_the_other_state_are_refused_before_anything_is_sent(restore_session, fail_calls, args, message):
    result, _client, asked = restore_session(**args)
    assert result.failed and result.result["msg"] == message and result.result["error"]["kind"] == "usage"
    assert asked == [] and traceback_of(result, fail_calls) == ""


# ------------------------------------------------------------------------------------------------ present
def test_explore_the_latest_restore_point(restore_session):
    result, client, _asked = restore_session(job_name="Exchange Daily")
    assert not result.failed and result.result["changed"] is True and result.result["api_version"] == "v8"
    assert result.result["msg"] == ("Explored the backup of job 'Backup Job ABC' (latest restore point): restore "
                                    "session %s is Working" % SESSION)
    assert result.result["restore_session"]["type"] == "vex" and result.result["job"]["id"] == JOB
    assert client.found == [(None, "Exchange Daily", None)]
    assert client.explored == [(JOB, None, "vex", False, False)]


def test_explore_a_point_in_time(restore_session):
    result, client, _asked = restore_session(job_id=JOB, point_in_time="2026-11-20T23:00:00+01:00", type="vesp",
                                             show_deleted=True, show_all_versions=True)
    when = datetime.datetime(2026, 11, 20, 22, 0, tzinfo=datetime.timezone.utc)
    assert client.explored == [(JOB, when, "vesp", True, True)]
    assert "(2026-11-20T22:00:00Z)" in result.result["msg"]


def test_explore_in_check_mode(restore_session):
    result, client, _asked = restore_session(job_name="Mail", organization="contoso", _ansible_check_mode=True)
    assert not result.failed and result.result["changed"] is True and client.explored == []
    assert result.result["msg"] == "Would explore the backup of job 'Backup Job ABC' (vex, latest restore point)"
    assert client.found == [(None, "Mail", "contoso")] and "restore_session" not in result.result


def test_v2_cannot_explore(restore_session, fail_calls):
    result, client, _asked = restore_session(FakeVb("v2"), job_name="Mail", api_version="v2")
    assert result.failed and result.result["msg"] == ("Exploring backups needs VB365 REST API v3 or later; v2 has no "
                                                      "explore action")
    assert result.result["job"]["id"] == JOB and client.explored == [] and traceback_of(result, fail_calls) == ""


def test_teams_needs_v5(restore_session):
    result, client, _asked = restore_session(FakeVb("v4"), job_name="Mail", type="vet", api_version="v4")
    assert result.failed and result.result["msg"] == ("type 'vet' needs a newer VB365 REST API: v4 explores vex, veod, "
                                                      "vesp (Teams, vet, came with v5)")
    assert client.explored == []


def test_an_unknown_job(restore_session, fail_calls):
    result, _client, _asked = restore_session(FakeVb(error=E.NotFoundError("No VB365 job named 'Mail'")),
                                              job_name="Mail")
    assert result.failed and result.result["error"]["kind"] == "not_found" and traceback_of(result, fail_calls) == ""


# ------------------------------------------------------------------------------------------------ absent
def test_stop_and_await(restore_session, clock):
    client = FakeVb(sessions=[restore(), restore("Stopping"), restore("Stopped")])
    result, client, _asked = restore_session(client, state="absent", restore_session_id=SESSION)
    assert not result.failed and result.result["changed"] is True and client.stops == [SESSION]
    assert result.result["msg"] == "Stopped restore session %s (Restore Session (Exchange)); it is Stopped" % SESSION
    assert [h["state"] for h in result.result["history"]] == ["Stopping", "Stopped"]
    assert result.result["restore_session"]["state"] == "Stopped" and result.result["elapsed"] == 1.0
    assert clock.sleeps == [1.0]


def test_session_id_is_an_alias_of_restore_session_id(restore_session):
    """The option's name before 0.2.0 still works (docs/vocabulary.md: session_id alone names nothing any more)."""
    client = FakeVb(sessions=[restore(), restore("Stopped")])
    result, client, _asked = restore_session(client, state="absent", session_id=SESSION)
    assert not result.failed and result.result["changed"] is True and client.stops == [SESSION]
    assert result.params["restore_session_id"] == SESSION


def test_stop_without_waiting(restore_session):
    client = FakeVb(sessions=[restore(), restore("Stopping")])
    result, client, _asked = restore_session(client, state="absent", restore_session_id=SESSION, wait=False)
    assert result.result["changed"] is True and result.result["restore_session"]["state"] == "Stopping"
    assert "history" not in result.result


def test_a_stopped_session_is_left_alone(restore_session):
    result, client, _asked = restore_session(FakeVb(sessions=[restore("Stopped")]), state="absent", restore_session_id=SESSION)
    assert not result.failed and result.result["changed"] is False and client.stops == []
    assert result.result["msg"] == "Restore session %s is already stopped" % SESSION


def test_stop_in_check_mode(restore_session):
    result, client, _asked = restore_session(state="absent", restore_session_id=SESSION, _ansible_check_mode=True)
    assert result.result["changed"] is True and client.stops == []
    assert result.result["msg"] == "Would stop restore session %s (Restore Session (Exchange))" % SESSION


def test_a_session_stopped_meanwhile(restore_session):
    client = FakeVb(sessions=[restore(), restore("Stopped")], stopped=False)
    result, client, _asked = restore_session(client, state="absent", restore_session_id=SESSION)
    assert not result.failed and result.result["changed"] is False and client.stops == [SESSION]
    assert result.warnings == ["VB365 refused to stop restore session %s because it was stopped meanwhile" % SESSION]
    assert result.result["msg"] == "Restore session %s is already stopped" % SESSION


def test_a_stop_that_is_not_done_in_time(restore_session, fail_calls):
    client = FakeVb(sessions=[restore(), restore("Stopping")])
    result, _client, _asked = restore_session(client, state="absent", restore_session_id=SESSION, wait_timeout=20)
    assert result.failed and result.result["error"]["kind"] == "wait_timeout" and result.result["changed"] is True
    assert result.result["msg"] == (
        "Restore session %s was still Stopping after 20 s (wait_timeout 20 s). Run the task again to go on waiting "
        "(nothing is sent twice)" % SESSION)
    assert [h["state"] for h in result.result["history"]] == ["Stopping"]
    assert result.result["restore_session"]["state"] == "Stopping" and result.result["api_version"] == "v8"
    assert traceback_of(result, fail_calls) == ""


def test_a_bug_fails_with_its_traceback(restore_session, fail_calls):
    client = FakeVb(sessions=[None])
    result, _client, _asked = restore_session(client, state="absent", restore_session_id=SESSION)
    assert result.failed and "(please report this as a bug)" in result.result["msg"]
    assert "Traceback" in traceback_of(result, fail_calls)
