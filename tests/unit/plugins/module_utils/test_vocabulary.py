# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""docs/vocabulary.md, pinned to the views of _em, _m365 and _vbr: a job and a session have exactly the keys the page
lists (the common ones, and each API's own), in every API and whatever the server left out; VB365's one status word
gives state, result and canceled as the page's table says; VBR's lower-case enums come capitalised.  The adapters'
views (what the job modules return) are checked in test__em, test__m365 and test__vbr; the _info modules' entries in
their module tests."""

from __future__ import annotations

import json

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.module_utils import _vbr
from ansible_collections.backupops.veeam.plugins.module_utils import _wire as W
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils import veeam_vocabulary as V
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import fixture_bytes
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_wire import job, job_of, session_body

#: The common keys as issue 19 and the page define them; the page is read by veeam_vocabulary.
JOB_KEYS = {"id", "name", "type", "veeam_type", "description", "enabled", "running", "last_result", "last_run",
            "next_run"}
SESSION_KEYS = {"id", "name", "job_id", "job_name", "state", "result", "message", "canceled", "progress_percent",
                "processed_objects", "creation_time", "end_time"}


def em_body(name):
    return W.root(W.parse(fixture_bytes(name)))[1]


def vbr_state(**changes):
    state = {"id": "9b2e4d70-1c3a-4f5e-8d90-000000000001", "name": "VBR Daily Backup", "type": "VSphereBackup",
             "status": "inactive", "lastResult": "Success", "sessionId": "c5b4f2b4-8d5e-4b7e-a1cf-000000000001"}
    state.update(changes)
    return state


def vbr_session(state="Working", result="None", **changes):
    session = {"id": "c5b4f2b4-8d5e-4b7e-a1cf-000000000002", "name": "VBR Daily Backup", "sessionType": "BackupJob",
               "jobId": "9b2e4d70-1c3a-4f5e-8d90-000000000001", "state": state, "progressPercent": 42,
               "creationTime": "2026-11-22T19:00:00.5+01:00",
               "result": {"result": result, "message": "", "isCanceled": False}}
    session.update(changes)
    return session


# ------------------------------------------------------------------------------------------------ the page
def test_the_page_lists_the_common_keys():
    assert V.JOB == JOB_KEYS and V.SESSION == SESSION_KEYS


def test_an_api_specific_key_is_not_a_common_one():
    for api in V.APIS:
        assert V.JOB_EXTRA[api] and not V.JOB_EXTRA[api] & V.JOB, api
        assert V.SESSION_EXTRA[api] and not V.SESSION_EXTRA[api] & V.SESSION, api


# ------------------------------------------------------------------------------------------------ jobs
@pytest.mark.parametrize("name,kind", [
    ("em_job_entity.xml", "vm"), ("em_job_entity_twin_constructed.json", "vm"),
    ("em_job_entity_replica_vmware.xml", "vm"), ("em_job_entity_immediate_backup_copy.xml", "vm"),
    ("em_job_entity_periodic_backup_copy.xml", "vm"), ("em_nas_job_entity.xml", "nas"),
    ("em_agent_backup_job_entity.xml", "agent")])
def test_an_em_job_has_the_vocabularys_keys(name, kind):
    view = _em.public(job_of(name, kind))
    assert set(view) == V.job_keys("EM")
    assert view["enabled"] == view["schedule_enabled"] and view["type"] in _em.JOB_TYPES
    assert (view["running"], view["last_result"], view["last_run"]) == (None, None, None)  # not in a job entity


def test_an_em_job_of_an_empty_entity_has_every_key():
    assert set(_em.public(_em._job({}, "vm"))) == V.job_keys("EM")  # pylint: disable=protected-access


@pytest.mark.parametrize("raw", [job(), json.loads(fixture_bytes("m365_jobs_list_v7_reconstructed.json"))[0], {}],
                         ids=["v8", "v7", "empty"])
def test_a_vb365_job_has_the_vocabularys_keys(raw):
    view = _m365.job_view(raw)
    assert set(view) == V.job_keys("VB365")
    assert (view["type"], view["veeam_type"]) == ("backup", None) and view["enabled"] == view["is_enabled"]


@pytest.mark.parametrize("raw", [vbr_state(), vbr_state(status="Running", lastResult="None"), {}],
                         ids=["idle", "running", "empty"])
def test_a_vbr_job_has_the_vocabularys_keys(raw):
    assert set(_vbr.job_view(raw)) == V.job_keys("VBR")
    assert set(_vbr.job_view(raw, {"isDisabled": False})) == V.job_keys("VBR")


def test_the_apis_have_the_common_job_keys_in_common():
    views = [_em.public(job_of("em_job_entity.xml")), _m365.job_view(job()), _vbr.job_view(vbr_state())]
    assert set.intersection(*(set(v) for v in views)) == JOB_KEYS


# ------------------------------------------------------------------------------------------------ sessions
@pytest.mark.parametrize("name,of_a_job", [
    ("em_backup_session_stopped_success.xml", True), ("em_backup_session_stopped_success_twin_constructed.json", True),
    ("em_backup_session_working_reconstructed.xml", True),
    ("em_cdp_replica_session_working.xml", False)])  # a CDP policy's session: PolicyUid, no JobUid
def test_an_em_session_has_the_vocabularys_keys(name, of_a_job):
    session = _em.session_view(em_body(name))
    view = _em.public_session(session)
    assert set(view) == V.session_keys("EM")
    assert view["message"] == view["failure_message"] and view["processed_objects"] is None
    assert isinstance(view["progress_percent"], int) and 0 <= view["progress_percent"] <= 100
    # job_id is the job's GUID, as the job's own id is (EM's JobUid is a URN); null when EM names no job
    assert view["job_id"] == (_em._id_of(session["job_uid"]) if of_a_job else None)  # pylint: disable=protected-access
    assert bool(view["job_id"]) is of_a_job


def test_an_em_session_names_the_job_it_is_a_run_of():
    view = _em.public_session(_em.session_view(em_body("em_backup_session_stopped_success.xml")))
    assert (view["job_id"], view["job_name"], view["veeam_job_type"]) == (
        "4856ab37-2235-45e8-affe-d515878b01a9", "Fileserver Backup", "Backup")


@pytest.mark.parametrize("raw", [session_body("Running"), session_body("Success"), session_body(None), {"id": "x"}],
                         ids=["running", "success", "no-status", "bare"])
def test_a_vb365_session_has_the_vocabularys_keys(raw):
    view = _m365.session_view(raw)
    assert set(view) == V.session_keys("VB365")
    assert view["progress_percent"] is None and view["processed_objects"] == raw.get("progress")
    assert view["message"] == view["details"] and view["veeam_job_type"] == raw.get("jobType")


@pytest.mark.parametrize("raw", [vbr_session(), vbr_session(state="Stopped", result="Failed"), {"id": "x"}],
                         ids=["working", "failed", "bare"])
def test_a_vbr_session_has_the_vocabularys_keys(raw):
    view = _vbr.session_view(raw)
    assert set(view) == V.session_keys("VBR") and view["processed_objects"] is None


def test_the_apis_have_the_common_session_keys_in_common():
    views = [_em.public_session(_em.session_view(em_body("em_backup_session_stopped_success.xml"))),
             _m365.session_view(session_body("Success")), _vbr.session_view(vbr_session())]
    assert set.intersection(*(set(v) for v in views)) == SESSION_KEYS


# ------------------------------------------------------------------------------------------------ VB365 status
def _status_rows():
    """``(status, state, result, canceled)`` of every status the page's table names, in VB365's spelling and in
    lower case (older versions and odd servers)."""
    rows = []
    for statuses, state, result, note in V.STATUS_TABLE:
        for status in statuses:
            canceled = "canceled: true" in note
            rows += [(status, state, result, canceled), (status.lower(), state, result, canceled)]
    return rows


def test_the_status_table_names_every_status_of_vb365():
    named = {status for statuses, _state, _result, _note in V.STATUS_TABLE for status in statuses}
    assert named == {"Queued", "Running", "Success", "Warning", "Failed", "Stopped", "NotConfigured", "Disconnected"}
    others = [(state, result) for statuses, state, result, _note in V.STATUS_TABLE if not statuses]
    assert others == [(None, None)]  # one row for "anything else": the word itself, result null


@pytest.mark.parametrize("status,state,result,canceled", _status_rows())
def test_a_vb365_status_gives_state_and_result_as_the_table_says(status, state, result, canceled):
    assert _m365.status_words(status) == (state, result)
    view = _m365.session_view(session_body(status))
    assert (view["state"], view["result"], view["canceled"], view["status"]) == (state, result, canceled, status)
    job_view = _m365.job_view(job(lastStatus=status))
    # a job's last_result is the result of its last finished run; a run that goes on has none yet
    assert job_view["last_result"] == (None if result == "None" else result)
    assert job_view["running"] is (result == "None") and job_view["last_status"] == status


@pytest.mark.parametrize("status", ["Pausing", "Postprocessing"])
def test_a_vb365_status_the_table_does_not_name_is_the_state_without_a_result(status):
    assert _m365.status_words(status) == (status, None)
    view = _m365.session_view(session_body(status))
    assert (view["state"], view["result"], view["canceled"]) == (status, None, False)
    assert _m365.job_view(job(lastStatus=status))["last_result"] is None


def test_a_vb365_session_or_job_without_a_status():
    view = _m365.session_view(session_body(None))
    assert (view["state"], view["result"], view["canceled"]) == (None, None, False)
    assert (_m365.job_view(job(lastStatus=None))["last_result"], _m365.job_view({})["running"]) == (None, False)


# ------------------------------------------------------------------------------------------------ VBR enums
@pytest.mark.parametrize("state,result,expected", [
    ("working", "none", ("Working", "None")), ("Working", "None", ("Working", "None")),
    ("stopped", "success", ("Stopped", "Success")), ("stopped", "warning", ("Stopped", "Warning")),
    ("stopped", "failed", ("Stopped", "Failed")), ("Stopped", "Failed", ("Stopped", "Failed")),
    ("starting", "none", ("Starting", "None")), ("waitingTape", "none", ("WaitingTape", "None"))])
def test_vbr_session_enums_are_capitalised_in_every_revision(state, result, expected):
    view = _vbr.session_view(vbr_session(state=state, result=result))
    assert (view["state"], view["result"]) == expected


@pytest.mark.parametrize("last_result,expected", [
    ("success", "Success"), ("Success", "Success"), ("warning", "Warning"), ("failed", "Failed"),
    ("Failed", "Failed"), ("none", None), ("None", None), (None, None), ("", None)])
def test_a_vbr_jobs_last_result_is_capitalised_and_null_for_none(last_result, expected):
    assert _vbr.job_view(vbr_state(lastResult=last_result))["last_result"] == expected


# ------------------------------------------------------------------------------------------------ others
def test_a_vb365_restore_session_has_the_vocabularys_keys_and_capitalised_enums():
    raw = json.loads(fixture_bytes("m365_restore_session_explore_reconstructed.json"))
    assert set(_m365.restore_session_view(raw)) == V.RESTORE_SESSION
    lower = _m365.restore_session_view(dict(raw, state="stopped", result="success"))
    assert (lower["state"], lower["result"]) == ("Stopped", "Success")


def test_an_em_task_as_the_job_modules_return_it():
    """veeam_em_job_start (the adapter's view) and veeam_task_info return a task's keys of the page."""
    task = _em.task_view(em_body("em_task_finished_start_job.xml"))
    assert set(_em.public_task(task)) == V.TASK

    class Run:  # what EmJobs.view reads of a run
        job, receipt, session, current = job_of("em_job_entity.xml"), task, None, None

    assert set(_em.EmJobs(None).view(Run)["task"]) == V.TASK
