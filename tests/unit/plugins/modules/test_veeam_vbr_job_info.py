# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""veeam_vbr_job_info: the filters (exact name, id, pattern, type), the entries (job views with their running
session), sorting, check mode, failures; the VBR client is a fake holding real-shaped job states (no network)."""

from __future__ import annotations

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.modules import veeam_vbr_job_info
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils import veeam_vocabulary as V
from ansible_collections.backupops.veeam.tests.unit.plugins.modules.module_fakes import (
    VBR_ARGS, patch_client, traceback_of)

DAILY = "9b2e4d70-1c3a-4f5e-8d90-000000000001"
SQL = "9b2e4d70-1c3a-4f5e-8d90-000000000002"
COPY = "9b2e4d70-1c3a-4f5e-8d90-000000000003"
REPLICA = "9b2e4d70-1c3a-4f5e-8d90-000000000004"
RUNNING_SESSION = "c5b4f2b4-8d5e-4b7e-a1cf-000000000002"


def state(job_id, name, job_type="VSphereBackup", status="Inactive", session_id=None, last_result="Success"):
    view = {"id": job_id, "name": name, "type": job_type, "description": "", "status": status,
            "lastResult": last_result, "workload": "Vm", "objectsCount": 1}
    if session_id:
        view.update(sessionId=session_id, lastRun="2026-11-22T18:00:02+01:00")
    return view


def states():
    return [state(SQL, "vbr SQL Backup", status="Running", session_id=RUNNING_SESSION),
            state(DAILY, "VBR Daily Backup", session_id="c5b4f2b4-8d5e-4b7e-a1cf-000000000001"),
            state(COPY, "Offsite copy", job_type="BackupCopy", status="Disabled"),
            state(REPLICA, "DR replica", job_type="VSphereReplica", status="Postprocessing")]


class FakeVbr:
    """The Vbr methods veeam_vbr_job_info uses."""

    revision = "1.2-rev1"

    def __init__(self, jobs=None, error=None):
        self.jobs = states() if jobs is None else jobs
        self.error = error
        self.calls = []

    def job_states(self, name=None):
        self.calls.append(("job_states", name))
        if self.error is not None:
            raise self.error
        return [dict(job) for job in self.jobs]

    def job(self, job_id):
        self.calls.append(("job", job_id))
        return {"id": job_id, "isDisabled": job_id == REPLICA}

    def session(self, session_id):
        self.calls.append(("session", session_id))
        return {"id": session_id, "name": "vbr SQL Backup", "jobId": SQL, "sessionType": "BackupJob",
                "state": "Working", "progressPercent": 40, "result": {"result": "None", "message": "",
                                                                      "isCanceled": False}}


@pytest.fixture
def info(run_module, monkeypatch):
    def run(client=None, **args):
        client = client or FakeVbr()
        asked = patch_client(monkeypatch, client)
        return run_module(dict(VBR_ARGS, **args), veeam_vbr_job_info.main), client, asked
    return run


def test_every_job_sorted_by_name(info):
    result, client, asked = info()
    assert not result.failed and result.result["changed"] is False and result.result["msg"] == "4 jobs"
    assert [j["name"] for j in result.result["jobs"]] == ["DR replica", "Offsite copy", "VBR Daily Backup",
                                                          "vbr SQL Backup"]
    assert result.result["api_version"] == "1.2-rev1" and asked == [{}] and client.entered == client.exited == 1
    assert client.calls == [("job_states", None), ("session", RUNNING_SESSION)]


def test_an_entry_is_the_job_view_with_its_running_session(info):
    result, _client, _asked = info()
    jobs = {j["id"]: j for j in result.result["jobs"]}
    sql = jobs[SQL]
    assert (sql["type"], sql["veeam_type"], sql["running"], sql["enabled"]) == ("backup", "VSphereBackup", True, None)
    assert sql["running_session"] == {"id": RUNNING_SESSION, "name": "vbr SQL Backup", "job_id": SQL,
                                      "job_name": "vbr SQL Backup", "veeam_type": "BackupJob", "state": "Working",
                                      "result": "None", "message": None, "canceled": False, "progress_percent": 40,
                                      "processed_objects": None, "creation_time": None, "end_time": None}
    # the vocabulary's keys (docs/vocabulary.md): the job's, VBR's own, and the running session
    assert set(sql) == V.job_keys("VBR") | {"running_session"}
    assert set(sql["running_session"]) == V.session_keys("VBR")
    assert jobs[DAILY]["running_session"] is None and jobs[DAILY]["enabled"] is True
    assert jobs[COPY]["type"] == "backup_copy" and jobs[COPY]["enabled"] is False
    # a status this module does not know: not running (no session read), enabled not known
    assert (jobs[REPLICA]["running"], jobs[REPLICA]["enabled"], jobs[REPLICA]["running_session"]) == (False, None, None)


def test_without_running_session_no_session_is_read(info):
    result, client, _asked = info(running_session=False)
    assert client.calls == [("job_states", None)]
    assert {j["running_session"] for j in result.result["jobs"]} == {None}


def test_the_name_is_matched_exactly(info):
    result, client, _asked = info(job_name="VBR SQL Backup")
    assert result.result["jobs"] == [] and result.result["msg"] == "0 jobs"
    assert client.calls == [("job_states", "VBR SQL Backup")]  # VBR's nameFilter narrows; the module matches exactly
    result, _client, _asked = info(job_name="vbr SQL Backup")
    assert [j["id"] for j in result.result["jobs"]] == [SQL] and result.result["msg"] == "1 job"


def test_by_id_regardless_of_case(info):
    result, client, _asked = info(job_id=" %s " % DAILY.upper())
    assert [j["name"] for j in result.result["jobs"]] == ["VBR Daily Backup"]
    assert client.calls == [("job_states", None)]


def test_an_unknown_id_is_an_empty_list(info):
    result, _client, _asked = info(job_id="22222222-2222-4222-8222-222222222222")
    assert not result.failed and result.result["jobs"] == [] and result.result["msg"] == "0 jobs"


@pytest.mark.parametrize("pattern,names", [("VBR *", ["VBR Daily Backup", "vbr SQL Backup"]), ("*sql*", ["vbr SQL Backup"]),
                                           ("*copy", ["Offsite copy"]), ("nothing*", [])])
def test_a_name_pattern(info, pattern, names):
    result, client, _asked = info(name_pattern=pattern, running_session=False)
    assert [j["name"] for j in result.result["jobs"]] == names and client.calls == [("job_states", None)]


@pytest.mark.parametrize("job_type,names", [("backup", ["VBR Daily Backup", "vbr SQL Backup"]),
                                            ("BACKUP_COPY", ["Offsite copy"]), ("vspherereplica", ["DR replica"]),
                                            ("VSphereBackup", ["VBR Daily Backup", "vbr SQL Backup"]),
                                            ("agent", [])])
def test_a_job_type_as_the_collections_word_or_vbrs(info, job_type, names):
    result, _client, _asked = info(job_type=job_type, running_session=False)
    assert [j["name"] for j in result.result["jobs"]] == names


@pytest.mark.parametrize("args", [{"job_name": "x", "job_id": DAILY}, {"job_name": "x", "name_pattern": "*"},
                                  {"job_id": DAILY, "name_pattern": "*"}])
def test_the_selections_are_exclusive(info, args):
    result, client, asked = info(**args)
    assert result.failed and result.result["msg"].startswith("parameters are mutually exclusive: job_name|job_id|"
                                                             "name_pattern")
    assert asked == [] and client.calls == []


def test_check_mode_reads_as_usual(info):
    result, client, _asked = info(_ansible_check_mode=True)
    assert not result.failed and len(result.result["jobs"]) == 4 and client.entered == 1


def test_an_error_fails_without_a_traceback(info, fail_calls):
    client = FakeVbr(error=E.ForbiddenError("VBR could not return the list of job states", status=403))
    result, _client, _asked = info(client=client)
    assert result.failed and result.result["error"]["kind"] == "forbidden" and result.result["changed"] is False
    assert traceback_of(result, fail_calls) == ""


def test_a_bug_fails_with_its_traceback(info, fail_calls):
    result, _client, _asked = info(client=FakeVbr(jobs=[None]))
    assert result.failed and "(please report this as a bug)" in result.result["msg"]
    assert "Traceback" in traceback_of(result, fail_calls)


def test_the_password_is_never_printed(info):
    result, _client, _asked = info()
    assert VBR_ARGS["password"] not in str(result.result)


def test_schedule_state_reads_the_settings_of_the_jobs_whose_status_does_not_say(info):
    result, client, _asked = info(schedule_state=True, running_session=False)
    jobs = {job["id"]: job for job in result.result["jobs"]}
    assert (jobs[SQL]["enabled"], jobs[REPLICA]["enabled"], jobs[DAILY]["enabled"], jobs[COPY]["enabled"]) == (
        True, False, True, False)
    assert sorted(client.calls[1:]) == sorted([("job", SQL), ("job", REPLICA)])
