# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_jobs: the job lifecycle against a small in-memory adapter (no network, a fake clock).

resolve -> survey -> decide -> check mode -> act once -> settle a lost answer -> await (rounds) -> judge -> report,
for one job and for a list, in every state; the journal of what changed; ``wanted_jobs``.  The same judging
through the real Enterprise Manager and VB365 adapters is at the end of this file.
"""

from __future__ import annotations

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.module_utils._errors import Journal
from ansible_collections.backupops.veeam.plugins.module_utils._jobs import (
    ACTIONS, JobAdapter, Lifecycle, Outcome, Run, wanted_jobs)
from ansible_collections.backupops.veeam.plugins.module_utils._poll import Poller
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.fake_jobs import FakeJobs, fake_job
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import expect_error, jsonr, xml
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils import veeam_wire as wire


@pytest.fixture
def go(clock, journal):
    """``go(adapter_or_jobs, state, names, **Lifecycle options)``: the lifecycle's result (or its error)."""
    def run(adapter, state, names=None, many=None, wanted=None, **options):
        if isinstance(adapter, list):
            adapter = FakeJobs(adapter, clock=clock)
        options.setdefault("wait_timeout", 600)
        cycle = Lifecycle(adapter, state, journal, poller=lambda timeout: Poller(
            timeout, 5, clock=clock.monotonic, sleep=clock.sleep), clock=clock.monotonic, **options)
        wanted = wanted or [{"job_name": name} for name in names]
        return cycle.run(wanted, many=many)
    return run


# ------------------------------------------------------------------------------------------------ one and many
def test_one_job_is_started_and_awaited(go, clock, journal):
    fake = FakeJobs([fake_job("Daily", runs=[["Working", "Working", "Success"]])], clock=clock)
    result = go(fake, "started", ["Daily"])
    assert result == {"changed": True, "msg": "Started job 'Daily': run ended Success after 2.0 s", "elapsed": 2.0,
                      "job": {"id": "id-daily", "name": "Daily"}, "receipt": {"id": "r-id-daily-1"},
                      "history": [{"state": "Working", "elapsed": 0.0}, {"state": "Success", "elapsed": 2.0}],
                      "api_version": "f1"}
    assert fake.sent == [("Daily", "start")] and fake.polled == ["Daily", "Daily"]
    assert fake.surveys == [(["Daily"], "start", True)]
    assert journal.changes == ["Started job 'Daily' (receipt r-id-daily-1)"] and journal.warnings == []
    assert clock.sleeps == [1.0, 1.0]  # the answer to the start was just read: the first poll after a pause


def test_a_list_takes_the_same_path_as_one_job(go, clock):
    def jobs():
        return [fake_job("A", runs=[["Working", "Success"]]), fake_job("B", runs=[["Working", "Working", "Success"]])]
    one = FakeJobs(jobs()[:1], clock=clock)
    single = go(one, "started", ["A"])
    many = FakeJobs(jobs(), clock=clock)
    listed = go(many, "started", ["A", "B"])
    assert many.sent == [("A", "start"), ("B", "start")]  # every start first, then the runs awaited together
    assert many.polled == ["A", "B", "B"] and many.watched == ["A", "B"] == sorted(many.watched)
    first = dict(listed["jobs"][0])
    assert first.pop("failed") is False
    assert first == {k: v for k, v in single.items() if k != "api_version"}
    assert listed["msg"] == "2 jobs: 2 started, 0 already running, 0 failed"
    assert listed["changed"] is True and listed["elapsed"] == 2.0 and listed["api_version"] == "f1"
    assert [r["msg"] for r in listed["jobs"]] == ["Started job 'A': run ended Success after 1.0 s",
                                                  "Started job 'B': run ended Success after 2.0 s"]


def test_one_entry_of_jobs_is_reported_as_a_list(go):
    result = go([fake_job("A")], "started", ["A"], many=True)
    assert result["msg"] == "1 job: 1 started, 0 already running, 0 failed"
    assert len(result["jobs"]) == 1 and "job" not in result


def test_report_counts(go):
    result = go([fake_job("A"), fake_job("B", running=True, runs=[["Working", "Warning"]]), fake_job("C")],
                "started", ["A", "B", "C"])
    assert result["msg"] == "3 jobs: 2 started, 1 already running, 0 failed"
    assert [r["changed"] for r in result["jobs"]] == [True, False, True]


def test_a_job_given_twice(go):
    fake_jobs = [fake_job("A")]
    with expect_error("usage") as caught:
        go(fake_jobs, "started", many=True, wanted=[{"job_name": "A"}, {"job_id": "id-a"}])
    assert str(caught.error) == "Job 'A' is given twice in jobs"


def test_every_job_is_found_before_anything_is_sent(go, clock):
    fake = FakeJobs([fake_job("A")], clock=clock)
    with expect_error("not_found", "No fake job named 'B'"):
        go(fake, "started", ["A", "B"])
    assert fake.sent == [] and fake.surveys == []


def test_an_unknown_state(journal):
    with expect_error("usage") as caught:
        Lifecycle(FakeJobs([]), "running", journal)
    assert str(caught.error) == "state 'running' is not one of started, stopped, retried, enabled, disabled"


# ------------------------------------------------------------------------------------------------ already there
@pytest.mark.parametrize("state,job,msg", [
    ("started", {"running": True}, "Job 'A' is already running; not started again"),
    ("started", {"running": True, "label": "session s-1, Working"},
     "Job 'A' is already running (session s-1, Working); not started again"),
    ("retried", {"running": True}, "Job 'A' is already running; not retried again"),
    ("retried", {"failed_last": False}, "Job 'A' did not fail last time (last result Success); not retried"),
    ("stopped", {"running": False}, "Job 'A' is not running (last result Success)"),
    ("enabled", {"enabled": True}, "Job 'A' is already enabled"),
    ("disabled", {"enabled": False}, "Job 'A' is already disabled"),
])
def test_a_job_already_in_the_state_is_left_alone(go, clock, journal, state, job, msg):
    fake = FakeJobs([fake_job("A", runs=[["Working", "Working", "Success"]], **job)], clock=clock)
    result = go(fake, state, ["A"], wait=False)
    assert result["changed"] is False and result["msg"] == msg
    assert fake.sent == [] and journal.changes == [] and fake.polled == []


@pytest.mark.parametrize("state,skipped_word", [("started", "already running"), ("stopped", "not running"),
                                                ("retried", "not retried"), ("enabled", "already enabled"),
                                                ("disabled", "already disabled")])
def test_a_list_of_jobs_already_in_the_state(go, state, skipped_word):
    idle = {"started": {"running": True}, "stopped": {}, "retried": {}, "enabled": {}, "disabled": {"enabled": False}}
    jobs = [fake_job(name, **idle[state]) for name in ("A", "B")]
    result = go(jobs, state, ["A", "B"], wait=False)
    done = ACTIONS[state]
    assert result["changed"] is False and result["msg"] == "2 jobs: 0 %s, 2 %s, 0 failed" % (
        {"start": "started", "stop": "stopped", "retry": "retried", "enable": "enabled", "disable": "disabled"}[done],
        skipped_word)


@pytest.mark.parametrize("state,job,action,word", [
    ("started", {}, "start", "Started"), ("retried", {"failed_last": True}, "retry", "Retried"),
    ("stopped", {"running": True}, "stop", "Stopped"), ("enabled", {"enabled": False}, "enable", "Enabled"),
    ("disabled", {}, "disable", "Disabled")])
def test_a_job_not_in_the_state_is_acted_on_once(go, clock, journal, state, job, action, word):
    fake = FakeJobs([fake_job("A", **job)], clock=clock)
    result = go(fake, state, ["A"], wait=False)
    assert fake.sent == [("A", action)] and result["changed"] is True
    expected = "Asked Fake to stop job 'A'" if action == "stop" else "%s job 'A'" % word
    assert result["msg"] == expected + " (receipt r-id-a-1)"
    assert journal.changes == ["%s job 'A' (receipt r-id-a-1)" % word]
    assert fake.concluded == ["A"] and fake.polled == []


def test_a_running_job_is_awaited_when_not_started_again(go, clock, journal):
    fake = FakeJobs([fake_job("A", running=True, label="session s-1, Working", runs=[["Working", "Success"]])],
                    clock=clock)
    result = go(fake, "started", ["A"])
    assert result["changed"] is False and fake.sent == []
    assert result["msg"] == "Job 'A' is already running (session s-1, Working); not started again: run ended Success " \
                            "after 1.0 s"
    assert journal.changes == []


@pytest.mark.parametrize("state", ["enabled", "disabled"])
def test_enable_and_disable_are_never_awaited(go, clock, state):
    fake = FakeJobs([fake_job("A", enabled=state == "disabled")], clock=clock)
    result = go(fake, state, ["A"], wait=True)
    assert result["changed"] is True and fake.watched == [] and fake.polled == [] and clock.sleeps == []
    assert result["elapsed"] == 0.0


# ------------------------------------------------------------------------------------------------ if_running
def test_if_running_skip_leaves_a_running_job_alone(go):
    result = go([fake_job("A", running=True)], "started", ["A"], if_running="skip", wait=False)
    assert result["changed"] is False and "already running" in result["msg"]


def test_if_running_fail(go, clock):
    fake = FakeJobs([fake_job("A", running=True, label="session s-1, Working")], clock=clock)
    with expect_error("conflict") as caught:
        go(fake, "started", ["A"], if_running="fail")
    assert str(caught.error) == ("Job 'A' is already running (session s-1, Working). Use if_running: skip to leave it "
                                 "running and report its session")
    assert caught.error.details == {"job": {"id": "id-a", "name": "A"}}
    assert fake.sent == []


def test_if_running_fail_in_a_list_fails_before_anything_is_sent(go, clock):
    fake = FakeJobs([fake_job("A"), fake_job("B", running=True)], clock=clock)
    with expect_error("conflict", "Job 'B' is already running"):
        go(fake, "started", ["A", "B"], if_running="fail")
    assert fake.sent == []


# ------------------------------------------------------------------------------------------------ check mode
@pytest.mark.parametrize("state,job,msg", [
    ("started", {}, "Would start job 'A'"), ("stopped", {"running": True}, "Would stop job 'A'"),
    ("retried", {"failed_last": True}, "Would retry job 'A'"), ("enabled", {"enabled": False}, "Would enable job 'A'"),
    ("disabled", {}, "Would disable job 'A'")])
def test_check_mode_predicts_and_never_sends_or_polls(go, clock, journal, state, job, msg):
    fake = FakeJobs([fake_job("A", **job)], clock=clock)
    result = go(fake, state, ["A"], check_mode=True)
    assert result["changed"] is True and result["msg"] == msg
    assert fake.sent == [] and fake.polled == [] and fake.watched == [] and clock.sleeps == []
    assert fake.surveys == [(["A"], ACTIONS[state], False)] and journal.changes == []


def test_check_mode_of_a_list(go, clock):
    fake = FakeJobs([fake_job("A"), fake_job("B", running=True), fake_job("C")], clock=clock)
    result = go(fake, "started", ["A", "B", "C"], check_mode=True)
    assert result["msg"] == "3 jobs: 2 would be started, 1 already running, 0 failed"
    assert [r["msg"] for r in result["jobs"]] == ["Would start job 'A'", "Job 'B' is already running; not started "
                                                  "again", "Would start job 'C'"]
    assert fake.sent == [] and fake.polled == []


def test_check_mode_still_fails_a_running_job_with_if_running_fail(go):
    with expect_error("conflict", "Job 'A' is already running"):
        go([fake_job("A", running=True)], "started", ["A"], check_mode=True, if_running="fail")


# ------------------------------------------------------------------------------------------------ lost answers
def test_a_lost_answer_that_took_effect_is_a_warning(go, clock, journal):
    fake = FakeJobs([fake_job("A", send=[("lost", True, False)])], clock=clock)
    result = go(fake, "started", ["A"])
    assert fake.sent == [("A", "start")] and fake.looked == ["A"]
    assert result["changed"] is True and result["receipt"] == {"id": "r-found"}
    assert result["msg"] == "Started job 'A': run ended Success after 1.0 s"
    assert journal.warnings == ["The response to the start of job 'A' was lost; Fake shows it took effect, so it was "
                                "not sent again"]
    assert journal.changes == ["Started job 'A' (receipt r-found)"]


def test_a_lost_answer_that_did_not_take_effect(go, clock, journal):
    fake = FakeJobs([fake_job("A", send=[("lost", False, False)])], clock=clock)
    with expect_error("response_lost") as caught:
        go(fake, "started", ["A"])
    assert str(caught.error) == ("The start request for job 'A' got no response, and Fake shows it did not take effect; "
                                 "it was not sent again (POST /fake/jobs/{id}/start). Run the task again once the "
                                 "connection to Fake is stable")
    assert fake.sent == [("A", "start")] and fake.looked == ["A"] and clock.sleeps == []
    assert journal.changes == [] and journal.annotate(caught.error) == (str(caught.error), False)


def test_a_timed_out_answer_that_never_shows(go, clock, journal):
    fake = FakeJobs([fake_job("A", send=[("lost", False, True)])], timeout=3, clock=clock)
    with expect_error("response_lost") as caught:
        go(fake, "started", ["A"])
    assert str(caught.error) == (
        "Fake did not answer the start of job 'A' within 3 s (the timeout option), and 3 s later still shows no sign of "
        "it; the start was not sent again, but Fake may still carry it out (POST /fake/jobs/{id}/start). Check the "
        "job's state and sessions before you start it again, and raise timeout if Fake is slow")
    assert fake.sent == [("A", "start")] and fake.looked == ["A"] * 4 and clock.sleeps == [1.0] * 3
    assert isinstance(caught.error, E.LostAnswerError)


def test_a_timed_out_answer_that_shows_a_little_later(go, clock, journal):
    fake = FakeJobs([fake_job("A", send=[("lost", True, True)], looks=[False, False, True])], timeout=30, clock=clock)
    result = go(fake, "started", ["A"], wait=False)
    assert result["changed"] is True and fake.sent == [("A", "start")] and fake.looked == ["A"] * 3
    assert clock.sleeps == [1.0, 1.0] and len(journal.warnings) == 1


@pytest.mark.parametrize("state,job", [("stopped", {"running": True}), ("enabled", {"enabled": False}),
                                       ("disabled", {})])
def test_other_lost_actions_are_settled_the_same_way(go, clock, journal, state, job):
    fake = FakeJobs([fake_job("A", send=[("lost", True, False)], **job)], clock=clock)
    result = go(fake, state, ["A"], wait=False)
    assert result["changed"] is True and len(fake.sent) == 1
    assert journal.warnings == ["The response to the %s of job 'A' was lost; Fake shows it took effect, so it was "
                                "not sent again" % ACTIONS[state]]


def test_a_lost_answer_in_a_list_stops_the_list_and_says_what_changed(go, clock, journal):
    fake = FakeJobs([fake_job("A"), fake_job("B", send=[("lost", False, False)]), fake_job("C")], clock=clock)
    with expect_error("response_lost") as caught:
        go(fake, "started", ["A", "B", "C"])
    assert fake.sent == [("A", "start"), ("B", "start")]  # nothing is sent after an unsettled lost answer
    msg, changed = journal.annotate(caught.error)
    assert changed is True and msg.startswith("Started job 'A' (receipt r-id-a-1), then: The start request for job 'B' "
                                              "got no response")
    assert [r["changed"] for r in caught.error.details["jobs"]] == [True, False, False]
    assert caught.error.details["api_version"] == "f1"


# ------------------------------------------------------------------------------------------------ refusals
def conflict(message="Job is already running."):
    return E.ConflictError("Fake refused to start job 'A': %s" % message.rstrip("."), status=409, method="POST",
                           path="/fake/jobs/{id}/start", veeam_message=message)


def test_a_refusal_when_the_job_reached_the_state_meanwhile(go, clock, journal):
    fake = FakeJobs([fake_job("A", send=[("refuse", conflict(), True)], runs=[["Working", "Success"]])], clock=clock)
    result = go(fake, "started", ["A"])
    assert result["changed"] is False
    assert result["msg"] == "Job 'A' is already running; not started again: run ended Success after 1.0 s"
    assert journal.warnings == ["Fake refused to start job 'A': Job is already running. It started since the module "
                                "read it, so it was left running"]
    assert fake.sent == [("A", "start")] and journal.changes == []
    assert fake.surveys == [(["A"], "start", True), (["A"], "start", True)]  # read again after the refusal


@pytest.mark.parametrize("state,job,effect", [("stopped", {"running": True}, "Its run ended since the module read it"),
                                              ("enabled", {"enabled": False}, "It was enabled since the module read it"),
                                              ("disabled", {}, "It was disabled since the module read it")])
def test_other_refusals_when_done_meanwhile(go, clock, journal, state, job, effect):
    refusal = E.HttpError("Fake refused", status=400, veeam_message="Invalid state")
    fake = FakeJobs([fake_job("A", send=[("refuse", refusal, True)], **job)], clock=clock)
    result = go(fake, state, ["A"], wait=False)
    assert result["changed"] is False
    assert journal.warnings == ["Fake refused to %s job 'A': Invalid state. %s" % (ACTIONS[state], effect)]


@pytest.mark.parametrize("veeam_message", ["Invalid state.", "Invalid state", "Invalid state..."])
def test_the_refusal_warning_drops_veeams_full_stop(go, clock, journal, veeam_message):
    refusal = E.HttpError("Fake refused", status=400, veeam_message=veeam_message)
    fake = FakeJobs([fake_job("A", send=[("refuse", refusal, True)], running=True)], clock=clock)
    go(fake, "stopped", ["A"], wait=False)
    assert journal.warnings == ["Fake refused to stop job 'A': Invalid state. Its run ended since the module read it"]


def test_the_refusal_warning_without_veeams_message_uses_the_error(go, clock, journal):
    refusal = E.HttpError("Fake refused to stop job 'A'.", status=400)
    fake = FakeJobs([fake_job("A", send=[("refuse", refusal, True)], running=True)], clock=clock)
    go(fake, "stopped", ["A"], wait=False)
    assert journal.warnings == ["Fake refused to stop job 'A': Fake refused to stop job 'A'. (HTTP 400). Its run ended "
                                "since the module read it"]


def test_a_refusal_when_the_job_runs_meanwhile_and_if_running_fail(go, clock):
    fake = FakeJobs([fake_job("A", send=[("refuse", conflict(), True)])], clock=clock)
    with expect_error("conflict", "Job 'A' is already running. Use if_running: skip"):
        go(fake, "started", ["A"], if_running="fail")


def test_a_refusal_of_a_job_that_did_not_reach_the_state(go, clock, journal):
    fake = FakeJobs([fake_job("A", send=[("refuse", conflict("Not enough licenses."), False)])], clock=clock)
    with expect_error("conflict") as caught:
        go(fake, "started", ["A"])
    assert str(caught.error) == "Fake refused to start job 'A': Not enough licenses (HTTP 409 on POST /fake/jobs/{id}/start)"
    assert journal.warnings == [] and journal.annotate(caught.error)[1] is False


@pytest.mark.parametrize("error", [E.ForbiddenError("Access denied", status=403), E.NotFoundError("gone", status=404),
                                   E.HttpError("busy", status=500)])
def test_refusals_are_error_statuses(go, clock, error):
    fake = FakeJobs([fake_job("A", send=[("refuse", error, False)])], clock=clock)
    with pytest.raises(type(error)):
        go(fake, "started", ["A"])
    assert len(fake.surveys) == 2  # the job was read again before the refusal was reported


@pytest.mark.parametrize("error", [E.AuthError("rejected", status=401), E.NotFoundError("No such job"),
                                   E.TransportError("Could not connect", not_sent=True), E.ParseError("not XML")])
def test_other_errors_are_not_refusals(go, clock, error):
    """Not an answer of the server to this request (no status): nothing to read again, the error stands."""
    fake = FakeJobs([fake_job("A", send=[("refuse", error, False)]), fake_job("B")], clock=clock)
    with pytest.raises(type(error)) as info:
        go(fake, "started", ["A", "B"])
    assert info.value is error and len(fake.surveys) == 1 and fake.sent == [("A", "start")]
    assert [r["failed"] for r in error.details["jobs"]] == [False, False]


def test_in_a_list_a_refusal_fails_that_job_only(go, clock, journal):
    fake = FakeJobs([fake_job("A"), fake_job("B", send=[("refuse", conflict("Not enough licenses."), False)]),
                     fake_job("C")], clock=clock)
    with expect_error("job_failed") as caught:
        go(fake, "started", ["A", "B", "C"])
    assert fake.sent == [("A", "start"), ("B", "start"), ("C", "start")]
    assert fake.watched == ["A", "C"]  # the others are awaited
    assert str(caught.error) == ("3 jobs: 2 started, 0 already running, 1 failed: Fake refused to start job 'A': Not "
                                 "enough licenses (HTTP 409 on POST /fake/jobs/{id}/start)")
    results = caught.error.details["jobs"]
    assert [(r["changed"], r["failed"]) for r in results] == [(True, False), (False, True), (True, False)]
    assert caught.error.details["changed"] is True
    assert journal.annotate(caught.error) == (str(caught.error), True)


def test_in_a_list_a_refusal_meanwhile_with_if_running_fail_fails_that_job(go, clock):
    fake = FakeJobs([fake_job("A"), fake_job("B", send=[("refuse", conflict(), True)])], clock=clock)
    with expect_error("job_failed") as caught:
        go(fake, "started", ["A", "B"], if_running="fail")
    assert caught.error.details["jobs"][1]["msg"] == ("Job 'B' is already running. Use if_running: skip to leave "
                                                      "it running and report its session")
    assert caught.error.details["jobs"][0]["changed"] is True


# ------------------------------------------------------------------------------------------------ judging
def test_success(go, journal):
    result = go([fake_job("A")], "started", ["A"])
    assert result["msg"] == "Started job 'A': run ended Success after 1.0 s" and journal.warnings == []


def test_warning_warns(go, journal):
    result = go([fake_job("A", runs=[["Working", "Warning"]], reason="Low disk space")], "started", ["A"])
    assert result["changed"] is True
    assert result["msg"] == "Started job 'A': run ended Warning after 1.0 s: Low disk space"
    assert journal.warnings == ["Job 'A' ended with a warning: Low disk space"]


def test_warning_fails_with_fail_on_warning(go, journal):
    with expect_error("job_failed") as caught:
        go([fake_job("A", runs=[["Working", "Warning"]], reason="Low disk space")], "started", ["A"],
           fail_on_warning=True)
    assert str(caught.error) == "Started job 'A': run ended Warning after 1.0 s: Low disk space"
    assert caught.error.details["changed"] is True and journal.warnings == []
    assert journal.annotate(caught.error) == (str(caught.error), True)


@pytest.mark.parametrize("result", ["Failed", "failed", "NotConfigured", "Disconnected"])
def test_a_bad_result_fails(go, result):
    with expect_error("job_failed") as caught:
        go([fake_job("A", runs=[["Working", result]], reason="No space left")], "started", ["A"])
    assert str(caught.error) == "Started job 'A': run ended %s after 1.0 s: No space left" % result
    details = caught.error.details
    assert details["changed"] is True and details["job"] == {"id": "id-a", "name": "A"}
    assert details["history"][-1]["state"] == result and details["api_version"] == "f1" and "failed" not in details


def test_an_unknown_result_warns(go, journal):
    result = go([fake_job("A", runs=[["Working", "Stopped"]])], "started", ["A"])
    assert result["changed"] is True and journal.warnings == ["Job 'A' ended Stopped"]


def test_in_a_list_a_failed_run_fails_the_task_with_every_result(go):
    with expect_error("job_failed") as caught:
        go([fake_job("A"), fake_job("B", runs=[["Working", "Working", "Failed"]])], "started", ["A", "B"])
    assert str(caught.error) == ("2 jobs: 2 started, 0 already running, 1 failed: Started job 'B': run ended Failed "
                                 "after 2.0 s")
    assert [r["failed"] for r in caught.error.details["jobs"]] == [False, True]


def test_a_stop_that_ended_stopped(go, journal):
    result = go([fake_job("A", running=True, runs=[["Stopping", "Stopped"]])], "stopped", ["A"])
    assert result["msg"] == "Stopped job 'A': run ended Stopped after 1.0 s" and journal.warnings == []


@pytest.mark.parametrize("ending", ["Success", "Failed", "Warning"])
def test_a_stop_that_ended_otherwise_warns(go, journal, ending):
    result = go([fake_job("A", running=True, runs=[["Stopping", ending]])], "stopped", ["A"], fail_on_warning=True)
    assert result["changed"] is True  # the run ended before the stop: not a failure of the stop
    assert journal.warnings == ["Job 'A' ended %s before the stop took effect" % ending]


def test_a_run_without_a_result_to_judge(go, journal, clock):
    class Tasks(FakeJobs):
        def outcome(self, run, watch):
            return Outcome("task t-1 Finished")
    result = go(Tasks([fake_job("A")], clock=clock), "started", ["A"])
    assert result["msg"] == "Started job 'A': task t-1 Finished after 1.0 s" and journal.warnings == []


def test_an_outcome_without_its_time(go, clock):
    class Untimed(FakeJobs):
        def outcome(self, run, watch):
            return Outcome("its backup session is Stopped/Success", timed=False)
    result = go(Untimed([fake_job("A")], clock=clock), "started", ["A"])
    assert result["msg"] == "Started job 'A': its backup session is Stopped/Success"


# ------------------------------------------------------------------------------------------------ timeout
def test_timeout_of_one_job(go, clock, journal):
    fake = FakeJobs([fake_job("A", runs=[["Working"]])], clock=clock)
    with expect_error("wait_timeout") as caught:
        go(fake, "started", ["A"], wait_timeout=10)
    assert str(caught.error) == (
        "Gave up waiting after 10 s (wait_timeout 10 s): job 'A': run of A still Working. The job keeps running; to go "
        "on waiting, run the task again (a running job is not started twice)")
    details = caught.error.details
    assert details["changed"] is True and details["elapsed"] == 10.0
    assert details["job"] == {"id": "id-a", "name": "A"} and details["receipt"] == {"id": "r-id-a-1"}
    assert details["last_state"] == "Working" and details["history"] == [{"state": "Working", "elapsed": 0.0}]
    assert details["api_version"] == "f1" and "jobs" not in details
    assert journal.annotate(caught.error) == (str(caught.error), True)  # the message says what changed itself


def test_a_timeout_keeps_what_the_watch_last_read(go, clock):
    """The adapter's keep() is given the pending watch before the result is built: the failed result shows the
    session as last read, not as the action answered it."""
    fake = FakeJobs([fake_job("A", runs=[["Queued", "Working"]]), fake_job("B", runs=[["Queued", "Success"]])],
                    clock=clock)
    with expect_error("wait_timeout") as caught:
        go(fake, "started", ["A"], wait_timeout=10)
    assert fake.kept == {"A": "Working"} and caught.error.details["kept"] == "Working"
    assert caught.error.details["last_state"] == "Working"
    fake = FakeJobs([fake_job("A", runs=[["Queued", "Working"]]), fake_job("B", runs=[["Queued", "Success"]])],
                    clock=clock)
    with expect_error("wait_timeout") as caught:
        go(fake, "started", ["A", "B"], wait_timeout=10)
    assert fake.kept == {"A": "Working"}  # only what did not end
    assert [r.get("kept") for r in caught.error.details["jobs"]] == ["Working", None]


def test_the_default_keep_changes_nothing():
    run = Run(0, {"job_name": "A"})
    before = dict(vars(run))
    assert JobAdapter(client=None).keep(run, {"session": {"id": "s"}}) is None and vars(run) == before


def test_a_timeout_says_when_the_last_poll_failed(go, clock):
    lost = E.TransportError("Lost the connection to https://fake.example:1", method="GET", path="/fake/runs/{id}")
    fake = FakeJobs([fake_job("A", runs=[["Working", "Working", lost]])], clock=clock)
    with expect_error("wait_timeout") as caught:
        go(fake, "started", ["A"], wait_timeout=3)
    assert str(caught.error).startswith(
        "Gave up waiting after 3 s (wait_timeout 3 s): job 'A': run of A still Working (the last poll failed: Lost the "
        "connection to https://fake.example:1 (GET /fake/runs/{id})). The job keeps running")
    assert caught.error.details["last_state"] == "Working"


def test_a_timeout_after_a_good_last_poll_says_nothing_of_failures(go, clock):
    lost = E.TransportError("Lost the connection", method="GET", path="/fake/runs/{id}")
    fake = FakeJobs([fake_job("A", runs=[["Working", lost, "Working"]])], clock=clock)
    with expect_error("wait_timeout") as caught:
        go(fake, "started", ["A"], wait_timeout=5)
    assert "last poll failed" not in str(caught.error)


def test_a_timeout_of_a_list_says_which_jobs_last_poll_failed(go, clock):
    lost = E.HttpError("Fake could not return the run", status=503, method="GET", path="/fake/runs/{id}")
    fake = FakeJobs([fake_job("A", runs=[["Working", lost]]), fake_job("B", runs=[["Queued"]])], clock=clock)
    with expect_error("wait_timeout") as caught:
        go(fake, "started", ["A", "B"], wait_timeout=3)
    assert ("job 'A': run of A still Working (the last poll failed: Fake could not return the run (HTTP 503 on GET "
            "/fake/runs/{id})); job 'B': run of B still Queued. " in str(caught.error))
    assert caught.error.details["jobs"][0]["msg"].startswith("Started job 'A': run of A still Working (the last poll "
                                                             "failed: ")


def test_timeout_of_a_list_names_each_job(go, clock):
    fake = FakeJobs([fake_job("A", runs=[["Working"]]), fake_job("B", runs=[["Working", "Success"]]),
                     fake_job("C", runs=[["Queued"]])], clock=clock)
    with expect_error("wait_timeout") as caught:
        go(fake, "started", ["A", "B", "C"], wait_timeout=10)
    assert str(caught.error).startswith("Gave up waiting after 10 s (wait_timeout 10 s): job 'A': run of A still "
                                        "Working; job 'C': run of C still Queued. The job keeps running")
    results = caught.error.details["jobs"]
    assert [r["msg"] for r in results] == ["Started job 'A': run of A still Working after 10 s",
                                           "Started job 'B': run ended Success after 1.0 s",
                                           "Started job 'C': run of C still Queued after 10 s"]
    assert [r["elapsed"] for r in results] == [10.0, 1.0, 10.0] and caught.error.details["changed"] is True
    assert "history" in results[0] and "last_state" not in caught.error.details


def test_timeout_of_a_stop_has_its_own_hint(go):
    with expect_error("wait_timeout") as caught:
        go([fake_job("A", running=True, runs=[["Stopping"]])], "stopped", ["A"], wait_timeout=5)
    assert str(caught.error).endswith("job 'A': run of A still Stopping. Fake may take a while to stop a job; run the "
                                      "task again to go on waiting (the stop is not sent twice)")


def test_timeout_of_a_running_job_not_started_again_says_nothing_changed(go):
    with expect_error("wait_timeout") as caught:
        go([fake_job("A", running=True, runs=[["Working"]])], "started", ["A"], wait_timeout=5)
    assert caught.error.details["changed"] is False


# ------------------------------------------------------------------------------------------------ refused later
def test_a_start_refused_later_while_the_job_runs_anyway_is_awaited_in_a_second_round(go, clock, journal):
    """A start task that finished without success, while the job runs anyway (another operator): reported as
    if_running says, awaited in a second round, with the elapsed time counted from the first round."""
    fake = FakeJobs([fake_job("A", runs=[["Running", "refused"], ["Working", "Working", "Success"]])], clock=clock)
    fake.meanwhile["A"] = {"running": True}
    result = go(fake, "started", ["A"])
    assert fake.sent == [("A", "start")] and fake.watched == ["A", "A"]
    assert result["changed"] is False
    assert result["msg"] == "Job 'A' is already running; not started again: run ended Success after 3.0 s"
    assert result["elapsed"] == 3.0
    assert result["history"] == [{"state": "Working", "elapsed": 1.0}, {"state": "Success", "elapsed": 3.0}]
    assert journal.warnings == ["Fake refused to start job 'A' (task finished with 'Cannot start the job'). It started "
                                "since the module read it, so it was left running"]
    assert journal.changes == []  # the start that was recorded is taken back


def test_a_start_refused_later_while_the_job_runs_anyway_with_if_running_fail(go, clock):
    fake = FakeJobs([fake_job("A", runs=[["Running", "refused"]])], clock=clock)
    fake.meanwhile["A"] = {"running": True}
    with expect_error("job_failed") as caught:
        go(fake, "started", ["A"], if_running="fail")
    assert str(caught.error) == ("Job 'A' is already running. Use if_running: skip to leave it running and report its "
                                 "session")
    assert caught.error.details["changed"] is False and fake.watched == ["A"]


def test_a_start_refused_later_of_a_job_that_does_not_run(go, clock, journal):
    fake = FakeJobs([fake_job("A", runs=[["Running", "refused"]])], clock=clock)
    with expect_error("job_failed") as caught:
        go(fake, "started", ["A"])
    assert str(caught.error) == "Fake did not start job 'A': task finished with 'Cannot start the job'"
    assert caught.error.details["changed"] is False and journal.changes == []
    assert journal.annotate(caught.error) == (str(caught.error), False)


def test_a_start_refused_later_in_a_list(go, clock):
    fake = FakeJobs([fake_job("A", runs=[["Working", "Working", "Success"]]), fake_job("B", runs=[["Running", "refused"]])],
                    clock=clock)
    with expect_error("job_failed") as caught:
        go(fake, "started", ["A", "B"])
    assert str(caught.error) == ("2 jobs: 1 started, 0 already running, 1 failed: Fake did not start job 'B': task "
                                 "finished with 'Cannot start the job'")


def test_the_second_round_has_what_is_left_of_wait_timeout(go, clock):
    fake = FakeJobs([fake_job("A", runs=[["Running", "Running", "refused"], ["Working"]])], clock=clock)
    fake.meanwhile["A"] = {"running": True}
    with expect_error("wait_timeout") as caught:
        go(fake, "started", ["A"], wait_timeout=10)
    assert str(caught.error).startswith("Gave up waiting after 10 s (wait_timeout 10 s): job 'A': run of A still Working")
    assert caught.error.details["elapsed"] == 10.0 and caught.error.details["changed"] is False
    assert caught.error.details["history"][0] == {"state": "Working", "elapsed": 2.0}


def test_a_refused_start_without_wait_is_not_awaited_again(go, clock):
    """refused_later only comes from an awaited run; without wait there is no second round."""
    fake = FakeJobs([fake_job("A", runs=[["Running", "refused"]])], clock=clock)
    fake.meanwhile["A"] = {"running": True}
    cycle = Lifecycle(fake, "started", Journal(), poller=lambda t: Poller(t, 5, clock=clock.monotonic,
                                                                          sleep=clock.sleep),
                      wait=False, wait_timeout=60, clock=clock.monotonic)
    run = cycle.resolve([{"job_name": "A"}])[0]
    fake.survey([run], "start", True)
    cycle.act(run)
    assert cycle.refused_later(run, Outcome("task finished", refused=True)) is None
    assert run.skipped and not run.changed


# ------------------------------------------------------------------------------------------------ the journal
def test_an_error_after_a_change_says_what_changed(go, clock, journal):
    class Broken(FakeJobs):
        def progress(self, watch):
            raise E.AuthError("Fake could not return the run", status=401, method="GET", path="/fake/runs/{id}")
    with expect_error("auth") as caught:
        go(Broken([fake_job("X")], clock=clock), "started", ["X"])
    assert journal.annotate(caught.error) == (
        "Started job 'X' (receipt r-id-x-1), then: Fake could not return the run (HTTP 401 on GET /fake/runs/{id})",
        True)


def test_an_error_before_any_change_changes_nothing(journal):
    assert journal.annotate(E.NotFoundError("No job")) == ("No job", False)


def test_several_changes_are_listed_in_order(journal):
    journal.changed("Started job 'A'")
    entry = journal.changed("Started job 'B'")
    journal.changed("Started job 'C'")
    journal.retract(entry)
    journal.retract("never recorded")
    assert journal.annotate(E.TransportError("Lost the connection")) == (
        "Started job 'A'; Started job 'C', then: Lost the connection", True)


def test_warnings_are_given_once_each_to_the_sink():
    seen = []
    journal = Journal(sink=seen.append)
    journal.warn("a")
    journal.warn("b")
    journal.warn("a")
    assert journal.warnings == ["a", "b"] == seen


def test_changed_false_in_the_details_wins(journal):
    journal.changed("Started job 'A'")
    err = E.WaitTimeoutError("Gave up", details={"changed": False})
    assert journal.annotate(err) == ("Gave up", False)


# ------------------------------------------------------------------------------------------------ pieces
def test_run_names():
    run = Run(0, {"job_name": "Daily", "job_id": None})
    assert run.name == "Daily"
    run = Run(0, {"job_name": None, "job_id": "abc"})
    assert run.name == "abc"
    run.job = {"name": "Found"}
    assert run.name == "Found"


def test_the_adapter_interface_says_what_is_missing():
    adapter = JobAdapter(client=None)
    for name, args in (("find", ([],)), ("survey", ([], "start", True)), ("running", (None,)), ("enabled", (None,)),
                       ("failed_last", (None,)), ("send", (None, "start")), ("look", (None, "start")),
                       ("watch", (None, "start")), ("progress", (None,)), ("ended", (None,)), ("state", (None,)),
                       ("waiting_for", (None,)), ("outcome", (None, None)), ("view", (None,))):
        with pytest.raises(NotImplementedError):
            getattr(adapter, name)(*args)
    assert (adapter.running_label(None), adapter.idle_label(None), adapter.kind(None, "start"), adapter.note(None),
            adapter.conclude(None, "start"), adapter.extras()) == (None, None, "", None, None, {})
    assert adapter.fresh is True and adapter.prefetch is None


def test_wanted_jobs_of_one_job():
    params = {"job_id": None, "job_name": "Daily", "jobs": None, "organization": "contoso", "full": True}
    assert wanted_jobs(params) == [{"job_id": None, "job_name": "Daily"}]
    assert wanted_jobs(params, inherited=("organization", "full")) == [
        {"job_id": None, "job_name": "Daily", "organization": "contoso", "full": True}]


def test_wanted_jobs_of_a_list_inherit_the_tasks_options():
    params = {"job_id": None, "job_name": None, "organization": "contoso", "full": False, "jobs": [
        {"job_name": "A"},
        {"job_name": "B", "organization": "fabrikam", "full": True},
        {"job_id": "1234", "organization": None, "full": None},
        {"job_id": "5678", "organization": "fabrikam"},
    ]}
    assert wanted_jobs(params, inherited=("organization", "full"), by_name_only=("organization",)) == [
        {"job_id": None, "job_name": "A", "organization": "contoso", "full": False},
        {"job_id": None, "job_name": "B", "organization": "fabrikam", "full": True},
        {"job_id": "1234", "job_name": None, "organization": None, "full": False},   # by id: no organization
        {"job_id": "5678", "job_name": None, "organization": "fabrikam", "full": False},
    ]


def test_wanted_jobs_of_an_empty_list_is_the_single_job():
    assert wanted_jobs({"job_id": "1", "job_name": None, "jobs": []}) == [{"job_id": "1", "job_name": None}]


# ------------------------------------------------------------------------------------------------ every adapter
REASON = "Low disk space"


@pytest.fixture
def ended(request, server, clock, make_em, make_vb, lifecycle):
    """``ended(api, result, **options)``: start one job whose run ends ``result`` (with ``REASON``), through the
    fake adapter or the real Enterprise Manager or VB365 adapter on the fake server; ``(job name, result or
    error)``."""
    def run(api, result, **options):
        if api == "fake":
            fake = FakeJobs([fake_job("A", runs=[["Working", result]], reason=REASON)], clock=clock)
            return "A", lambda: lifecycle(fake, "started", **options).run([{"job_name": "A"}])
        if api == "em":
            request.getfixturevalue("em_server")
            server.on("GET", "/api/jobs/%s" % wire.DB_BACKUP, xml(200, "em_job_entity.xml"))
            server.on("GET", wire.DB_SESSIONS, wire.sessions_list(),
                      wire.sessions_list(wire.session_xml("Stopped", result, failure=REASON)))
            server.on("POST", "/api/jobs/%s" % wire.DB_BACKUP, xml(202, "em_task_running_start_job.xml"))
            server.on("GET", "/api/tasks/task-1", xml(200, "em_task_finished_ok.xml"))

            def start_em():
                with make_em() as em:
                    return lifecycle(_em.EmJobs(em, wait_for="session"), "started", **options).run(
                        [{"job_id": wire.DB_BACKUP}])
            return "DB Backup", start_em
        request.getfixturevalue("vb_server")
        server.on("GET", "/v8/Jobs/%s" % wire.JOB, jsonr(200, wire.job()))
        server.on("POST", "/v8/Jobs/%s/start" % wire.JOB, jsonr(200, wire.session_body("Running")))
        server.on("GET", "/v8/JobSessions/%s" % wire.M365_SESSION,
                  jsonr(200, wire.session_body(result, details=REASON)))

        def start_vb():
            with make_vb() as vb:
                return lifecycle(_m365.Vb365Jobs(vb), "started", **options).run([{"job_id": wire.JOB}])
        return "Backup Job ABC", start_vb
    return run


APIS = ("fake", "em", "vb365")


@pytest.mark.parametrize("api", APIS)
def test_success_is_fine_with_every_adapter(ended, warnings, api):
    name, start = ended(api, "Success")
    result = start()
    assert result["changed"] is True and warnings == []
    assert result["msg"].startswith("Started job %r: " % name) and " ended Success after " in result["msg"]
    assert not result["msg"].endswith(REASON)  # the reason of a success is not shown


@pytest.mark.parametrize("api", APIS)
def test_a_warning_warns_with_every_adapter(ended, warnings, api):
    name, start = ended(api, "Warning")
    result = start()
    assert result["changed"] is True and " ended Warning after " in result["msg"]
    assert result["msg"].endswith(": " + REASON)
    assert warnings == ["Job %r ended with a warning: %s" % (name, REASON)]


@pytest.mark.parametrize("api", APIS)
def test_a_warning_fails_with_fail_on_warning_with_every_adapter(ended, warnings, api):
    name, start = ended(api, "Warning", fail_on_warning=True)
    with expect_error("job_failed") as caught:
        start()
    assert str(caught.error).startswith("Started job %r: " % name) and str(caught.error).endswith(": " + REASON)
    assert caught.error.details["changed"] is True and warnings == []


@pytest.mark.parametrize("api", APIS)
def test_failed_fails_with_every_adapter(ended, api):
    name, start = ended(api, "Failed")
    with expect_error("job_failed") as caught:
        start()
    assert str(caught.error).startswith("Started job %r: " % name) and " ended Failed after " in str(caught.error)
    assert caught.error.details["changed"] is True and caught.error.details["job"]


# ------------------------------------------------------------------------------------------------ a job being stopped
def test_a_job_being_stopped_is_not_stopped_again_but_awaited(go, clock, journal):
    fake = FakeJobs([fake_job("A", running=True, stopping=True, runs=[["Stopping", "Stopping", "Stopped"]])],
                    clock=clock)
    result = go(fake, "stopped", ["A"])
    assert fake.sent == [] and fake.watched == ["A"] and journal.changes == []
    assert result["changed"] is False
    assert result["msg"] == ("Job 'A' is being stopped already; the stop was not sent again: run ended Stopped after "
                             "2.0 s")
    assert [h["state"] for h in result["history"]] == ["Stopping", "Stopped"]


def test_a_job_being_stopped_without_wait(go, clock):
    fake = FakeJobs([fake_job("A", running=True, stopping=True)], clock=clock)
    result = go(fake, "stopped", ["A"], wait=False)
    assert fake.sent == [] and fake.watched == [] and fake.concluded == []
    assert result == {"changed": False, "msg": "Job 'A' is being stopped already; the stop was not sent again",
                      "elapsed": 0.0, "job": {"id": "id-a", "name": "A"}, "api_version": "f1"}


def test_a_job_being_stopped_among_others_counts_as_not_sent(go, clock):
    fake = FakeJobs([fake_job("A", running=True, stopping=True, runs=[["Stopping", "Stopped"]]),
                     fake_job("B", running=True, runs=[["Stopping", "Stopped"]]), fake_job("C")], clock=clock)
    result = go(fake, "stopped", ["A", "B", "C"])
    assert fake.sent == [("B", "stop")] and sorted(fake.watched) == ["A", "B"]
    assert result["msg"] == "3 jobs: 1 stopped, 2 not running, 0 failed"
    assert [r["changed"] for r in result["jobs"]] == [False, True, False]


def test_a_job_being_stopped_that_ends_otherwise_warns(go, clock, journal):
    fake = FakeJobs([fake_job("A", running=True, stopping=True, runs=[["Stopping", "Failed"]])], clock=clock)
    result = go(fake, "stopped", ["A"])
    assert result["changed"] is False and journal.warnings == ["Job 'A' ended Failed before the stop took effect"]


def test_a_running_job_not_being_stopped_is_stopped(go, clock):
    fake = FakeJobs([fake_job("A", running=True, runs=[["Stopping", "Stopped"]])], clock=clock)
    assert go(fake, "stopped", ["A"])["changed"] is True and fake.sent == [("A", "stop")]


def test_stopping_is_asked_only_for_a_stop(go, clock):
    """A start of a job being stopped: it runs, so it is not started again (stopping says nothing of starts)."""
    fake = FakeJobs([fake_job("A", running=True, stopping=True, runs=[["Stopping", "Stopped"]])], clock=clock)
    result = go(fake, "started", ["A"])
    assert fake.sent == [] and result["msg"].startswith("Job 'A' is already running; not started again")


def test_the_default_adapter_says_no_job_is_being_stopped():
    assert JobAdapter(client=None).stopping(Run(0, {})) is False
