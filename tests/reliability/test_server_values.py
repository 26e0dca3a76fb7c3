"""Bad input from the server, part two: unknown states and enum values, missing fields.

The emulator only sends what Veeam documents, so these answers are made by ``harness.RewriteProxy``: a plain-HTTP
proxy in front of the emulator that rewrites the real answers (a ``rewrite`` rule per case).  The modules run
end to end through it.  A clear error or a tolerant reading, never a traceback, never a job started twice.
"""

from __future__ import annotations

import pytest

import harness as H
from harness import DROP, JOB_DAILY, M365_MUELLER, Case

FAST = {"speed": 10}
EM = {"server": "http://127.0.0.1:{em_proxy_port}", "ca_path": DROP}
VB = {"server": "http://127.0.0.1:{m365_proxy_port}", "ca_path": DROP}
DAILY = dict(EM, job_name="Daily SQL Backup", wait_timeout=20)
DAILY_SESSION = dict(DAILY, wait_for="session")
MUELLER = dict(VB, job_name="Müller's Mailboxes", state="started", wait_timeout=20)
LONG_EM = {"jobs": {"Daily SQL Backup": {"duration": 600, "task_duration": 600}}}
LONG_VB = {"jobs": {"Müller's Mailboxes": {"duration": 600}}}
TASK = {"method": "GET", "path": r"^/api/tasks/task-"}
SESSIONS = {"method": "GET", "path": r"backupSessions"}
QUERY = {"method": "GET", "path": r"^/api/query\?type=Job&"}
START_EM = {"method": "POST", "path": r"action=start"}
VB_SESSIONS = {"method": "GET", "path": r"^/v8/JobSessions"}
VB_JOBS = {"method": "GET", "path": r"^/v8/Jobs"}
VB_START = {"method": "POST", "path": r"^/v8/Jobs/[^/]+/start$"}
VB_TOKEN = {"method": "POST", "path": r"^/v8/token$"}
EM_DONE = "Started job 'Daily SQL Backup': task task-1 Finished"
VB_DONE = "Started job \"Müller's Mailboxes\": session"


def rewrite(where: dict, *pairs: tuple[str, str], times: int | None = None) -> dict:
    return dict(where, action="rewrite", replace=[list(pair) for pair in pairs], times=times)


def em(case_id: str, args: dict, rules: list[dict], title: str, **kwargs) -> Case:
    kwargs.setdefault("clock", FAST)
    return Case(case_id, "veeam_em_job_start", args, api="em", emulator="em_proxy", faults=rules, title=title,
                area="EM: unknown values and missing fields", **kwargs)


def vb(case_id: str, args: dict, rules: list[dict], title: str, **kwargs) -> Case:
    kwargs.setdefault("clock", FAST)
    return Case(case_id, "veeam_m365_job_state", args, api="m365", emulator="m365_proxy", faults=rules, title=title,
                area="VB365: unknown values and missing fields", **kwargs)


CASES = [
    # ------------------------------------------------------------------ EM tasks
    em("em-task-state-unknown", dict(DAILY, wait_timeout=4), [rewrite(TASK, (r"<State>\w+</State>", "<State>Frobnicating</State>"))],
       "task State unknown (for ever)", config=LONG_EM, clock={}, starts={JOB_DAILY: 1}, changed=True,
       msg=("Gave up waiting after", "job 'Daily SQL Backup': task task-1 still Frobnicating")),
    em("em-task-state-unknown-once", DAILY,
       [rewrite(TASK, (r"<State>\w+</State>", "<State>Frobnicating</State>"), times=1)],
       "task State unknown (one poll)", failed=False, changed=True, starts={JOB_DAILY: 1}, msg=(EM_DONE,)),
    em("em-task-state-missing", dict(DAILY, wait_timeout=4), [rewrite(TASK, (r"\s*<State>\w+</State>", ""))],
       "task State missing", starts={JOB_DAILY: 1}, changed=True, msg=("Gave up waiting after", "task task-1 still None")),
    em("em-task-success-unknown", DAILY, [rewrite(TASK, ('Success="true"', 'Success="maybe"'))],
       "task Result Success unknown", starts={JOB_DAILY: 1}, changed=False,
       msg=("Enterprise Manager did not start job 'Daily SQL Backup': task task-1 finished with",)),
    em("em-task-result-missing", DAILY, [rewrite(TASK, (r"(?s)\s*<Result .*?</Result>", ""))],
       "task Result missing", failed=False, changed=True, starts={JOB_DAILY: 1}, msg=(EM_DONE,)),
    em("em-start-answer-without-task-id", DAILY, [rewrite(START_EM, (r"\s*<TaskId>[^<]*</TaskId>", ""),
                                                          (r' Href="[^"]*"', ""))],
       "start answer without TaskId and Href", changed=True, starts={JOB_DAILY: 1},
       msg=("Started job 'Daily SQL Backup'",)),
    # ------------------------------------------------------------------ EM backup sessions
    em("em-session-state-unknown", dict(DAILY_SESSION, wait_timeout=4),
       [rewrite(SESSIONS, (r"<State>(Starting|Working)</State>", "<State>WaitingTape</State>"))],
       "session State unknown (for ever)", config=LONG_EM, clock={}, starts={JOB_DAILY: 1}, changed=True,
       msg=("Gave up waiting after", "job 'Daily SQL Backup': session", "still WaitingTape")),
    em("em-session-state-unknown-while-running", DAILY_SESSION,
       [rewrite(SESSIONS, (r"<State>(Starting|Working)</State>", "<State>WaitingTape</State>"))],
       "session State unknown (while running)", failed=False, changed=True, starts={JOB_DAILY: 1},
       msg=("ended Success",)),
    em("em-session-result-unknown", DAILY_SESSION, [rewrite(SESSIONS, ("<Result>Success</Result>", "<Result>Cancelled</Result>"))],
       "session Result unknown", failed=False, changed=True, starts={JOB_DAILY: 1}, msg=("ended Cancelled",),
       warnings=("Job 'Daily SQL Backup' ended Cancelled",)),
    em("em-session-result-missing", DAILY_SESSION, [rewrite(SESSIONS, (r"\s*<Result>\w+</Result>", ""))],
       "session Result missing", failed=False, changed=True, starts={JOB_DAILY: 1},
       warnings=("Job 'Daily SQL Backup' ended in no known state",)),
    em("em-session-state-missing", dict(DAILY_SESSION, wait_timeout=4), [rewrite(SESSIONS, (r"\s*<State>\w+</State>", ""))],
       "session State missing", changed=False, starts={}, msg=("Gave up waiting after",)),
    # ------------------------------------------------------------------ EM jobs
    em("em-job-type-unknown", DAILY, [rewrite(QUERY, ("<JobType>Backup</JobType>", "<JobType>QuantumBackup</JobType>"))],
       "job JobType unknown", failed=False, changed=True, starts={JOB_DAILY: 1}, msg=(EM_DONE,)),
    em("em-job-links-missing", DAILY, [rewrite(QUERY, (r"(?s)<Links>.*?</Links>", ""))],
       "job Links missing", failed=False, changed=True, starts={JOB_DAILY: 1}, msg=(EM_DONE,)),
    em("em-job-uid-missing", DAILY, [rewrite(QUERY, (r' UID="urn:veeam:Job:[^"]*"', ""),
                                             (r'(<Job [^>]*) Href="[^"]*"', r"\1"))],
       "job UID and Href missing", failed=False, changed=True, starts={JOB_DAILY: 1}, msg=(EM_DONE,)),
    em("em-job-name-missing", DAILY, [rewrite(QUERY, (r' Name="Daily SQL Backup"', ""))],
       "job Name missing", starts={}, changed=False, msg=("No job named 'Daily SQL Backup'",)),
    # ------------------------------------------------------------------ VB365
    vb("vb-session-status-unknown", dict(MUELLER, wait_timeout=4),
       [rewrite(VB_SESSIONS, (r'"status": "\w+"', '"status": "Throttling"'))], "session status unknown (for ever)",
       config=LONG_VB, clock={}, changed=True, starts={M365_MUELLER: 1},
       msg=("Gave up waiting after", "job \"Müller's Mailboxes\": session", "still Throttling")),
    vb("vb-session-status-missing", dict(MUELLER, wait_timeout=6), [rewrite(VB_SESSIONS, (r'"status": "\w+",\s*', ""))],
       "session status missing", config=LONG_VB, clock={}, changed=True, starts={M365_MUELLER: 1}, msg_not=("ended",),
       msg=("Gave up waiting after", "without a status")),
    vb("vb-job-last-status-unknown", MUELLER, [rewrite(VB_JOBS, (r'"lastStatus": "\w+"', '"lastStatus": "Mystery"'))],
       "job lastStatus unknown", failed=False, changed=True, starts={M365_MUELLER: 1}, msg=(VB_DONE,)),
    vb("vb-job-id-missing", MUELLER, [rewrite(VB_JOBS, (r'"id": "3a6c1f10-5b1e-4e0a-9c11-000000000007", ', ""))],
       "job id missing", starts={}, changed=False,
       msg=("VB365 listed the job \"Müller's Mailboxes\" without an id, so it cannot be started",)),
    vb("vb-start-answer-without-id", MUELLER, [rewrite(VB_START, (r'"id": "[0-9a-f-]+", ', ""))],
       "start answer without session id", failed=False, changed=True, starts={M365_MUELLER: 1}, msg=(VB_DONE,)),
    vb("vb-token-expires-in-not-a-number", MUELLER, [rewrite(VB_TOKEN, (r'"expires_in": \d+', '"expires_in": "soon"'))],
       "token expires_in not a number", failed=False, changed=True, starts={M365_MUELLER: 1}, msg=(VB_DONE,)),
]

BATCH = H.register(H.Batch("server-values", CASES, proxies=True))


@pytest.mark.batch("server-values")
@pytest.mark.parametrize("case_id", H.params(CASES))
def test_case(case_id: str) -> None:
    H.judge(BATCH.outcome(case_id))


@pytest.mark.batch("server-values")
def test_batch_output_has_no_secret_and_no_traceback() -> None:
    BATCH.wait()
    assert not BATCH.findings, "\n".join(BATCH.findings)


@pytest.mark.batch("server-values")
def test_the_proxy_rewrote_what_each_case_asked() -> None:
    """Every rewrite rule met the answer it was written for (a case whose rule never applied tests nothing)."""
    BATCH.wait()
    for case_id, outcome in BATCH.outcomes.items():
        rules = [rule for rule in outcome.record.get("faults") or [] if rule.get("action") == "rewrite"]
        assert rules and all(rule["applied"] > 0 for rule in rules), f"{case_id}: a rewrite rule never applied: {rules}"
