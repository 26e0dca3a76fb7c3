"""Bad input from the server: broken bodies on the reads a module makes (the emulator's ``malformed`` faults).

A clear error or a tolerant parse, never a traceback; no job started twice, nothing left open.  A body that
breaks after the job was started must not hide that the job was started.
"""

from __future__ import annotations

import pytest

import harness as H
from harness import JOB_DAILY, M365_MUELLER, Case

KINDS = ("truncated", "html", "empty", "wrong_content_type", "bom", "huge", "garbage")
TOLERATED = ("wrong_content_type", "bom", "huge")
FAST = {"speed": 10}
# wait_timeout bounds every case: a body that a client cannot make sense of must not keep it polling for an hour
DAILY = {"job_name": "Daily SQL Backup", "wait_timeout": 20}
MUELLER = {"job_name": "Müller's Mailboxes", "state": "started", "wait_timeout": 20}

EM_LOOKUP = {"api": "em", "method": "GET", "path": r"^/api/query\?type=Job&"}
EM_TASK = {"api": "em", "method": "GET", "path": r"^/api/tasks/task-"}
EM_LOGON = {"api": "em", "method": "POST", "path": r"^/api/sessionMngr"}
VB_JOBS = {"api": "m365", "method": "GET", "path": r"^/v8/Jobs\?"}
VB_SESSION = {"api": "m365", "method": "GET", "path": r"^/v8/JobSessions/"}
VB_TOKEN = {"api": "m365", "method": "POST", "path": r"^/v8/token$"}

#: What a user reads for each broken body (the part of the message that names the body).
HTML = "The server sent an HTML page instead of XML or JSON"
EXPECT = {
    "truncated": ("that is not well-formed XML",),
    "html": (HTML + " ('200 - OK'): is the server address right, and is it the Veeam REST API?",),
    "empty": ("Enterprise Manager sent an empty answer instead of the",),
    "garbage": ("that is not UTF-8 text",),
}
EXPECT_JSON = {
    "truncated": ("that is not valid JSON",),
    "html": EXPECT["html"],
    "empty": ("VB365 sent an empty answer instead of the",),
    "garbage": EXPECT["garbage"],
}
STARTED = "Started job 'Daily SQL Backup' (task task-1), then: "
VB_STARTED = ("Started job \"Müller's Mailboxes\" (session ", "), then: ")
VB_DONE = "Started job \"Müller's Mailboxes\": session"
EM_DONE = "Started job 'Daily SQL Backup': task task-1 Finished"
#: A token that VB365 issued in an answer the client cannot read cannot be logged out: it expires on its own.
TOKEN_LOST = 1


def fault(where: dict, kind: str) -> dict:
    return dict(where, action="malformed", body=kind)


CASES = []
for kind in KINDS:
    tolerated = kind in TOLERATED
    CASES.append(Case(f"em-job-lookup-{kind}", "veeam_em_job_start", DAILY, clock=FAST, area="EM job lookup",
                      title=kind, faults=[fault(EM_LOOKUP, kind)], failed=not tolerated,
                      starts={JOB_DAILY: 1} if tolerated else {}, changed=tolerated,
                      msg=EXPECT[kind] if not tolerated else (EM_DONE,)))
    CASES.append(Case(f"em-task-poll-{kind}", "veeam_em_job_start", DAILY, clock=FAST, area="EM task poll after the start",
                      title=kind, faults=[fault(EM_TASK, kind)], failed=not tolerated, starts={JOB_DAILY: 1},
                      changed=True, msg=(STARTED,) + EXPECT[kind] if not tolerated else (EM_DONE,)))
    CASES.append(Case(f"vb-job-list-{kind}", "veeam_m365_job_state", MUELLER, api="m365", clock=FAST,
                      area="VB365 job list", title=kind, faults=[fault(VB_JOBS, kind)], failed=not tolerated,
                      starts={M365_MUELLER: 1} if tolerated else {}, changed=tolerated,
                      msg=EXPECT_JSON[kind] if not tolerated else (VB_DONE,)))
    CASES.append(Case(f"vb-session-poll-{kind}", "veeam_m365_job_state",
                      dict(MUELLER, wait_timeout=6) if kind == "empty" else MUELLER, api="m365", clock=FAST,
                      area="VB365 session poll after the start", title=kind, faults=[fault(VB_SESSION, kind)],
                      failed=not tolerated, starts={M365_MUELLER: 1}, changed=True,
                      msg=VB_STARTED + EXPECT_JSON[kind] if not tolerated else (VB_DONE,)))
for kind in ("truncated", "html", "empty", "garbage"):
    tolerated = kind == "empty"
    CASES.append(Case(f"em-logon-{kind}", "veeam_em_job_start", DAILY, area="EM logon answer", title=kind,
                      faults=[dict(fault(EM_LOGON, kind), times=1)], failed=not tolerated, changed=tolerated,
                      starts={JOB_DAILY: 1} if tolerated else {},
                      msg=(EM_DONE,) if tolerated else {"html": (HTML + " ('200 - Created')",)}.get(kind, EXPECT[kind])))
    CASES.append(Case(f"vb-token-{kind}", "veeam_m365_job_state", MUELLER, api="m365", area="VB365 token answer",
                      title=kind, faults=[dict(fault(VB_TOKEN, kind), times=1)], starts={}, changed=False,
                      open_tokens=TOKEN_LOST, msg={"empty": ("VB365 answered the token request without an access "
                                                             "token",)}.get(kind, EXPECT_JSON[kind])))
CASES.append(Case("em-job-lookup-over-64mb", "veeam_em_job_start", DAILY, area="EM job lookup", title="huge (70 MB)",
                  faults=[dict(EM_LOOKUP, action="malformed", body="huge", size_mb=70)], starts={}, changed=False,
                  msg=("The server sent a response of 73400328 bytes, more than the 67108864 this collection reads",)))
CASES.append(Case("em-error-page-503", "veeam_em_job_start", DAILY, area="EM job lookup", title="html (503 page)",
                  faults=[dict(EM_LOOKUP, action="malformed", body="html", status=503)], starts={}, changed=False,
                  msg=("Enterprise Manager could not return the list of backup, replica and backup copy jobs",
                       "HTTP 503 on GET /api/query")))

BATCH = H.register(H.Batch("server-input", CASES))


@pytest.mark.batch("server-input")
@pytest.mark.parametrize("case_id", H.params(CASES))
def test_case(case_id: str) -> None:
    H.judge(BATCH.outcome(case_id))


@pytest.mark.batch("server-input")
def test_batch_output_has_no_secret_and_no_traceback() -> None:
    BATCH.wait()
    assert not BATCH.findings, "\n".join(BATCH.findings)
