# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""veeam_em_job_info: filters, the entries it builds (the job in the collection's vocabulary, docs/vocabulary.md, with
its latest session), an unknown id as an empty list, check mode; the Enterprise Manager client is a fake holding
real-shaped jobs (no network)."""

from __future__ import annotations

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.modules import veeam_em_job_info
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils import veeam_vocabulary as V
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_wire import (
    DB_BACKUP, REPLICA, job_of)
from ansible_collections.backupops.veeam.tests.unit.plugins.modules.module_fakes import (
    EM_ARGS, patch_client, traceback_of)

#: A session as EnterpriseManager.latest_session gives it (``_em.session_view``: with the client's href and job_uid).
WORKING = {"id": "s-1", "uid": "urn:veeam:BackupJobSession:s-1", "name": "DB Backup@1", "job_id": DB_BACKUP,
           "job_name": "DB Backup", "veeam_job_type": "Backup", "state": "Working", "result": "None", "message": None,
           "canceled": None, "progress_percent": 40, "processed_objects": None, "creation_time": "2026-11-22T18:00:02Z",
           "end_time": None, "failure_message": None, "is_retry": False, "job_uid": "urn:veeam:Job:%s" % DB_BACKUP,
           "href": "https://em/api/backupSessions/s-1"}
FAILED = dict(WORKING, state="Stopped", result="Failed", message="No space", failure_message="No space",
              progress_percent=100, end_time="2026-11-22T18:10:02Z")


class FakeEm:
    """The EnterpriseManager methods veeam_em_job_info uses, over a list of jobs."""

    def __init__(self, jobs, sessions=None, error=None):
        self.jobs = jobs
        self.sessions = sessions or {}
        self.error = error
        self.calls = []

    def find_job(self, job_id=None, job_type="auto"):
        self.calls.append(("find_job", job_id, job_type))
        for job in self.jobs:
            if job["id"] == job_id:
                return job
        raise E.NotFoundError("No job with id %s on Enterprise Manager" % job_id)

    def list_jobs(self, name=None, job_type="auto", backup_server=None):
        self.calls.append(("list_jobs", name, job_type, backup_server))
        if self.error is not None:
            raise self.error
        return [job for job in self.jobs if name is None or job["name"].lower() == name.lower()]

    def latest_session(self, job):
        self.calls.append(("latest_session", job["name"]))
        return self.sessions.get(job["id"])


def jobs():
    db_backup, replica = job_of("em_job_entity.xml"), job_of("em_job_entity_replica_vmware.xml")
    other = dict(db_backup, id="0e4b4c6e-1f0a-4d37-9b7b-3f1d2b6c8a90", backup_server="vbr02.lab.local")
    shouting = dict(db_backup, id="11111111-1111-4111-8111-111111111111", name="DB BACKUP")
    return [replica, other, db_backup, shouting]


@pytest.fixture
def info(run_module, monkeypatch):
    def run(client=None, **args):
        client = client or FakeEm(jobs(), {DB_BACKUP: WORKING})
        patch_client(monkeypatch, client)
        return run_module(dict(EM_ARGS, **args), veeam_em_job_info.main), client
    return run


def test_job_name_and_job_id_are_exclusive(info):
    result, client = info(job_name="DB Backup", job_id=DB_BACKUP)
    assert result.failed and result.result["msg"] == "parameters are mutually exclusive: job_name|job_id"
    assert client.calls == []


def test_every_job_sorted_by_name_then_backup_server(info):
    result, client = info()
    assert not result.failed and result.result["changed"] is False and result.result["msg"] == "4 jobs"
    entries = result.result["jobs"]
    assert [(e["name"], e["backup_server"]) for e in entries] == [
        ("DB Backup", "srv12.tech.local"), ("DB BACKUP", "srv12.tech.local"), ("DB Backup", "vbr02.lab.local"),
        ("SQL Replication", "srv02.tech.local")]
    assert client.calls[0] == ("list_jobs", None, "auto", None)


def test_an_entry_is_the_job_in_the_vocabulary_with_its_latest_session(info):
    result, _client = info(job_name="DB Backup", backup_server="SRV12.tech.local")
    assert [e["id"] for e in result.result["jobs"]] == [DB_BACKUP]
    entry = result.result["jobs"][0]
    assert (entry["name"], entry["type"], entry["backup_server"]) == ("DB Backup", "backup", "srv12.tech.local")
    assert entry["uid"] == "urn:veeam:Job:%s" % DB_BACKUP and entry["running"] is True
    assert entry["last_result"] is None  # it runs: no finished run to tell
    assert entry["enabled"] is True and entry["enabled"] == entry["schedule_enabled"]
    assert not [k for k in entry if k.startswith("_")] and not {"job_id", "job_name", "job_type"} & set(entry)
    assert set(entry) == V.job_keys("EM") | {"latest_session"}
    assert entry["latest_session"] == {k: v for k, v in WORKING.items() if k not in ("href", "job_uid")}
    assert set(entry["latest_session"]) == V.session_keys("EM")
    assert entry["latest_session"]["job_id"] == entry["id"] and entry["latest_session"]["progress_percent"] == 40


def test_the_last_result_is_the_result_of_the_latest_finished_session(info):
    result, _client = info(client=FakeEm(jobs(), {DB_BACKUP: FAILED}), job_id=DB_BACKUP)
    entry = result.result["jobs"][0]
    assert (entry["running"], entry["last_result"]) == (False, "Failed")
    assert entry["latest_session"]["message"] == entry["latest_session"]["failure_message"] == "No space"


def test_the_name_is_matched_exactly(info):
    result, client = info(job_name="DB Backup")
    assert [e["name"] for e in result.result["jobs"]] == ["DB Backup", "DB Backup"]
    assert client.calls[0] == ("list_jobs", "DB Backup", "auto", None)


def test_job_type_is_handed_to_the_query(info):
    result, client = info(job_type="replica", latest_session=False)
    assert client.calls == [("list_jobs", None, "replica", None)]
    assert result.result["msg"] == "4 jobs"  # the fake does not filter: the module passes the type on


def test_without_latest_session_no_session_is_read(info):
    result, client = info(job_name="DB Backup", latest_session=False)
    assert all(call[0] != "latest_session" for call in client.calls)
    assert {(e["latest_session"], e["running"], e["last_result"]) for e in result.result["jobs"]} == {(None, None, None)}


def test_a_job_without_sessions(info):
    result, _client = info(job_name="SQL Replication")
    assert result.result["jobs"][0]["latest_session"] is None and result.result["jobs"][0]["running"] is False
    assert result.result["jobs"][0]["last_result"] is None


def test_by_id(info):
    result, client = info(job_id=REPLICA, job_type="replica")
    assert [e["name"] for e in result.result["jobs"]] == ["SQL Replication"] and result.result["msg"] == "1 job"
    assert result.result["jobs"][0]["type"] == "replica"
    assert client.calls[0] == ("find_job", REPLICA, "replica")


def test_an_unknown_id_is_an_empty_list(info):
    result, _client = info(job_id="22222222-2222-4222-8222-222222222222")
    assert not result.failed and result.result["jobs"] == [] and result.result["msg"] == "0 jobs"


def test_check_mode_reads_as_usual(info):
    result, client = info(job_name="DB Backup", _ansible_check_mode=True)
    assert not result.failed and len(result.result["jobs"]) == 2 and client.entered == 1


def test_an_error_fails_without_a_traceback(info, fail_calls):
    client = FakeEm(jobs(), error=E.ForbiddenError("Enterprise Manager could not return the list", status=403))
    result, _client = info(client=client)
    assert result.failed and result.result["error"]["kind"] == "forbidden" and result.result["changed"] is False
    assert traceback_of(result, fail_calls) == ""


def test_a_bug_fails_with_its_traceback(info, fail_calls):
    client = FakeEm([{"id": "x"}])  # a job without the keys the module reads
    result, _client = info(client=client)
    assert result.failed and "KeyError" in result.result["msg"] and "Traceback" in traceback_of(result, fail_calls)


def test_the_job_types_are_the_start_modules():
    assert _em.JOB_TYPES == ("backup", "replica", "backup_copy", "file_share", "agent")
