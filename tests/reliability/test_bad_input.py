"""Bad input from users: each case fails with a message that names the problem, before any change (no job is
started, no logon session or token is left open).  Names with ``"``, ``;``, ``,`` and ``==`` must not select
another job; the real jobs with such names are found exactly (the controls at the end)."""

from __future__ import annotations

import pytest

import harness as H
from harness import JOB_DAILY, JOB_GOLD, JOB_REPORTS, M365_EXCHANGE, M365_USER, Case

START = "veeam_em_job_start"
STATE = "veeam_m365_job_state"
RESTORE = "veeam_m365_restore_session"
NOBODY = "00000000-0000-4000-8000-000000000000"
WRONG_PASSWORD = "Wrong#Passw0rd-For-Reliability-2026"
NOT_FOUND = "No job named"


def em(case_id: str, args: dict, msg: tuple[str, ...], area: str, module: str = START, **kwargs) -> Case:
    return Case(case_id, module, args, api="em", msg=msg, area=area, starts={}, changed=False, **kwargs)


def vb(case_id: str, args: dict, msg: tuple[str, ...], area: str, module: str = STATE, **kwargs) -> Case:
    return Case(case_id, module, args, api="m365", msg=msg, area=area, starts={}, changed=False, **kwargs)


def injection_name(name: str) -> Case:
    """A name built to widen the query filter: it must be taken as one literal name that no job has."""
    return em("name-" + "".join(c if c.isalnum() else "_" for c in name)[:40], {"job_name": name},
              (f"{NOT_FOUND} {name!r} on Enterprise Manager",), "names with \" ; , ==")


EM_CASES = [
    em("unknown-name", {"job_name": "No Such Job"}, ("No job named 'No Such Job' on Enterprise Manager",
                                                     "veeam_em_job_info"), "unknown job id or name"),
    em("unknown-id", {"job_id": NOBODY}, (f"No job with id {NOBODY} on Enterprise Manager",), "unknown job id or name"),
    em("unknown-uid", {"job_id": f"urn:veeam:Job:{NOBODY}"}, (f"No job with id {NOBODY}",), "unknown job id or name"),
    em("name-in-other-case", {"job_name": "daily sql backup"},
       ("No job named 'daily sql backup'", "jobs with the same name in other case: Daily SQL Backup"),
       "unknown job id or name"),
    em("wrong-job-type", {"job_id": JOB_DAILY, "job_type": "agent"}, (f"No agent job with id {JOB_DAILY}",),
       "unknown job id or name"),
    em("malformed-guid", {"job_id": "not-a-guid"}, ("job_id 'not-a-guid' is not a job id",), "malformed GUID"),
    em("malformed-guid-short", {"job_id": "f3bfa3f2-e279-4e04-b404"}, ("is not a job id",), "malformed GUID"),
    em("malformed-guid-path", {"job_id": f"{JOB_DAILY}?action=start"}, ("is not a job id",), "malformed GUID"),
    em("malformed-guid-traversal", {"job_id": f"../jobs/{JOB_DAILY}"}, ("is not a job id",), "malformed GUID"),
    em("uid-of-another-type", {"job_id": "urn:veeam:BackupServer:6b705844-2b2a-4b69-8bc0-1172e65ce82c"},
       ("is a URN of type 'BackupServer', not of a job",), "malformed GUID"),
    em("empty-name", {"job_name": ""}, ("job_name is empty",), "empty name"),
    em("blank-name", {"job_name": "   "}, ("job_name is empty",), "empty name"),
    Case("empty-name-info", "veeam_em_job_info", {"job_name": ""}, area="empty name", failed=False, changed=False,
         msg=("0 jobs",)),
    injection_name('Backup "Gold"'),
    injection_name('x",Name!="'),
    injection_name('No Such Job",Name=="Daily SQL Backup'),
    injection_name('No Such Job";Name!="'),
    injection_name('No Such Job"),(Name!="'),
    injection_name("Reports"),
    injection_name("Reports==Daily,Name==Daily SQL Backup"),
    injection_name("Name==Daily SQL Backup"),
    injection_name('"Daily SQL Backup"'),
    em("wrong-password", {"job_name": "Daily SQL Backup", "password": WRONG_PASSWORD},
       ("Enterprise Manager rejected the username or password for 'VEEAM\\ansible-admin'", "HTTP 401"),
       "wrong credentials"),
    em("unknown-user", {"job_name": "Daily SQL Backup", "username": "VEEAM\\nobody"},
       ("Enterprise Manager rejected the username or password for 'VEEAM\\nobody'",), "wrong credentials"),
    em("empty-password", {"job_name": "Daily SQL Backup", "password": ""}, ("username and password are required",),
       "wrong credentials"),
    em("portal-user-cannot-start", {"job_name": "Daily SQL Backup", "username": H.EM_PORTAL_USER,
                                    "password": H.EM_PORTAL_PASSWORD},
       ("Enterprise Manager refused to start job 'Daily SQL Backup'", "HTTP 403", "Portal Administrator"),
       "wrong credentials"),
    em("wrong-port-closed", {"job_name": "Daily SQL Backup", "port": "{closed_port}"},
       ("Could not connect to https://127.0.0.1:", "Check server and port"), "wrong port"),
    em("wrong-port-vb365", {"job_name": "Daily SQL Backup", "port": "{m365_port}"},
       ("Logon to Enterprise Manager failed", "HTTP 404"), "wrong port"),
    em("wrong-port-out-of-range", {"job_name": "Daily SQL Backup", "port": 70000},
       ("port 70000 is not a TCP port (1-65535)",), "wrong port"),
    em("http-against-https", {"job_name": "Daily SQL Backup", "server": "http://127.0.0.1:{em_port}"},
       ("Lost the connection to http://127.0.0.1:", "give server as https://host:port"), "HTTP against HTTPS"),
    em("https-against-http", {"job_name": "Daily SQL Backup", "port": "{http_em_port}"},
       ("did not answer TLS: if it serves plain HTTP, give server as http://host:port",), "HTTPS against HTTP",
       emulator="http"),
    em("timeout-zero", {"job_name": "Daily SQL Backup", "timeout": 0},
       ("timeout must be a positive number of seconds, got 0.0",), "zero or negative timeouts"),
    em("timeout-negative", {"job_name": "Daily SQL Backup", "timeout": -5},
       ("timeout must be a positive number of seconds, got -5.0",), "zero or negative timeouts"),
    em("wait-timeout-zero", {"job_name": "Daily SQL Backup", "wait_timeout": 0},
       ("wait_timeout must be a positive number of seconds, got 0",), "zero or negative timeouts"),
    em("wait-timeout-negative", {"job_name": "Daily SQL Backup", "wait_timeout": -60},
       ("wait_timeout must be a positive number of seconds, got -60",), "zero or negative timeouts"),
    em("poll-interval-zero", {"job_name": "Daily SQL Backup", "poll_interval": 0},
       ("poll_interval must be a positive number of seconds (at least 0.5), got 0.0",), "zero or negative timeouts"),
    em("poll-interval-negative", {"job_name": "Daily SQL Backup", "poll_interval": -1},
       ("poll_interval must be a positive number of seconds (at least 0.5), got -1.0",), "zero or negative timeouts"),
    em("task-info-timeout-zero", {"task_id": "task-1", "timeout": 0}, ("timeout must be a positive number",),
       "zero or negative timeouts", module="veeam_task_info"),
    em("task-info-wait-timeout-negative", {"task_id": "task-1", "wait": True, "wait_timeout": -1},
       ("wait_timeout must be a positive number",), "zero or negative timeouts", module="veeam_task_info"),
    em("id-and-name", {"job_name": "Daily SQL Backup", "job_id": JOB_DAILY},
       ("parameters are mutually exclusive: job_id|job_name|jobs",), "conflicting options"),
    em("jobs-and-name", {"job_name": "Daily SQL Backup", "jobs": [{"job_id": JOB_DAILY}]},
       ("parameters are mutually exclusive: job_id|job_name|jobs",), "conflicting options"),
    em("jobs-entry-id-and-name", {"jobs": [{"job_id": JOB_DAILY, "job_name": "Daily SQL Backup"}]},
       ("parameters are mutually exclusive: job_id|job_name found in jobs",), "conflicting options"),
    em("same-job-twice", {"jobs": [{"job_id": JOB_DAILY}, {"job_name": "Daily SQL Backup"}]},
       ("Job 'Daily SQL Backup' is given twice",), "conflicting options"),
    em("no-job-at-all", {}, ("one of the following is required: job_id, job_name, jobs",), "conflicting options"),
    em("unknown-choice", {"job_name": "Daily SQL Backup", "wait_for": "forever"},
       ("value of wait_for must be one of: task, session, got: forever",), "conflicting options"),
    em("unknown-option", {"job_name": "Daily SQL Backup", "force": True}, ("Unsupported parameters",),
       "conflicting options"),
    em("session-present-with-token", {"session_token": "Xk2Vq7-not-a-real-token-0000"},
       ("session_token is for state: absent",), "conflicting options", module="veeam_em_session"),
    em("session-absent-without-token", {"state": "absent"}, ("state: absent needs session_token",),
       "conflicting options", module="veeam_em_session"),
    em("task-id-empty", {"task_id": " "}, ("task_id is empty",), "malformed GUID", module="veeam_task_info"),
    em("task-id-traversal", {"task_id": "../jobs", "delete": True},
       ("Task ../jobs was not found in this Enterprise Manager logon session",), "malformed GUID",
       module="veeam_task_info"),
    # controls: the jobs whose names carry the characters above are found exactly, and only they start
    Case("control-quotes-semicolon-comma", START, {"job_name": 'Backup "Gold"; tier,1', "wait": False}, area="controls",
         failed=False, changed=True, starts={JOB_GOLD: 1}, msg=("Started job 'Backup \"Gold\"; tier,1'",)),
    Case("control-double-equals", START, {"job_name": "Reports==Daily", "wait": False}, area="controls",
         failed=False, changed=True, starts={JOB_REPORTS: 1}, msg=("Started job 'Reports==Daily'",)),
]

VB_CASES = [
    vb("vb-unknown-name", {"job_name": "No Such Job", "state": "started"},
       ("No VB365 job named 'No Such Job'",), "unknown job id or name"),
    vb("vb-unknown-id", {"job_id": NOBODY, "state": "started"}, (f"No VB365 job with id {NOBODY}",),
       "unknown job id or name"),
    vb("vb-unknown-organization", {"job_name": "Exchange Daily", "organization": "nowhere.example",
                                   "state": "started"}, ("No VB365 organization named 'nowhere.example'",),
       "unknown job id or name"),
    vb("vb-ambiguous-name", {"job_name": "Exchange Daily", "state": "started"},
       ("2 VB365 jobs are named 'Exchange Daily'", "Choose one with organization or job_id"), "unknown job id or name"),
    vb("vb-malformed-guid", {"job_id": "not-a-guid", "state": "started"},
       ("job_id 'not-a-guid' is not a VB365 job id (a GUID)",), "malformed GUID"),
    vb("vb-malformed-guid-traversal", {"job_id": f"../Jobs/{M365_EXCHANGE}", "state": "started"},
       ("is not a VB365 job id (a GUID)",), "malformed GUID"),
    vb("vb-empty-name", {"job_name": "", "state": "started"}, ("job_name is empty",), "empty name"),
    vb("vb-quote-name", {"job_name": 'SharePoint "Intranet"', "state": "started"},
       ("No VB365 job named 'SharePoint \"Intranet\"'",), "names with \" ; , =="),
    vb("vb-wrong-password", {"job_name": "Müller's Mailboxes", "state": "started", "password": WRONG_PASSWORD},
       (f"VB365 rejected the username or password for '{M365_USER}'",), "wrong credentials"),
    vb("vb-wrong-port-em", {"job_name": "Müller's Mailboxes", "state": "started", "port": "{em_port}"},
       ("every probe of /vN/ServiceInstance answered 404", "is this the VB365 REST API port"), "wrong port"),
    vb("vb-http-against-https", {"job_name": "Müller's Mailboxes", "state": "started",
                                 "server": "http://127.0.0.1:{m365_port}"},
       ("give server as https://host:port",), "HTTP against HTTPS"),
    vb("vb-https-against-http", {"job_name": "Müller's Mailboxes", "state": "started", "port": "{http_m365_port}"},
       ("did not answer TLS: if it serves plain HTTP, give server as http://host:port",), "HTTPS against HTTP",
       emulator="http"),
    vb("vb-timeout-zero", {"job_name": "Müller's Mailboxes", "state": "started", "timeout": 0},
       ("timeout must be a positive number of seconds, got 0.0",), "zero or negative timeouts"),
    vb("vb-wait-timeout-negative", {"job_name": "Müller's Mailboxes", "state": "started", "wait_timeout": -1},
       ("wait_timeout must be a positive number of seconds, got -1",), "zero or negative timeouts"),
    vb("vb-poll-interval-zero", {"job_name": "Müller's Mailboxes", "state": "started", "poll_interval": 0},
       ("poll_interval must be a positive number of seconds (at least 0.5), got 0.0",), "zero or negative timeouts"),
    vb("vb-id-and-name", {"job_name": "Müller's Mailboxes", "job_id": M365_EXCHANGE, "state": "started"},
       ("parameters are mutually exclusive: job_id|job_name",), "conflicting options"),
    vb("vb-id-and-organization", {"job_id": M365_EXCHANGE, "organization": "contoso.onmicrosoft.com",
                                  "state": "started"},
       ("parameters are mutually exclusive: job_id|organization",), "conflicting options"),
    vb("vb-full-with-enabled", {"job_name": "Müller's Mailboxes", "state": "enabled", "full": True},
       ("full applies to state: started only",), "conflicting options"),
    vb("vb-no-state", {"job_name": "Müller's Mailboxes"}, ("missing required arguments: state",),
       "conflicting options"),
    vb("vb-restore-absent-without-id", {"state": "absent"}, ("state is absent but all of the following are missing: "
                                                             "restore_session_id",), "conflicting options", module=RESTORE),
    vb("vb-restore-bad-point-in-time", {"job_name": "Müller's Mailboxes", "point_in_time": "yesterday"},
       ("point_in_time 'yesterday' is not an ISO 8601 date and time",), "conflicting options", module=RESTORE),
    vb("vb-restore-malformed-session-id", {"state": "absent", "restore_session_id": "../RestoreSessions"},
       ("restore_session_id '../RestoreSessions' is not a restore session id (a GUID)",), "malformed GUID", module=RESTORE),
    vb("vb-restore-id-and-session", {"job_name": "Müller's Mailboxes", "session_id": NOBODY},
       ("restore_session_id is for state: absent",), "conflicting options", module=RESTORE),
]

CASES = EM_CASES + VB_CASES
EM_BATCH = H.register(H.Batch("bad-input-em", EM_CASES, http_emulator=True))
VB_BATCH = H.register(H.Batch("bad-input-vb365", VB_CASES, http_emulator=True))


def _only_reads(record: dict) -> None:
    """Nothing but logon, reads and logoff reached the server (or a change it refused: 401, 403)."""
    for entry in record.get("log") or []:
        assert entry["method"] in ("GET", "DELETE") or entry["status"] in (401, 403) or entry["path"].rstrip(
            "/").lower().endswith(("/sessionmngr", "/token", "/token/logout")), f"a change was requested: {entry}"
        if entry["method"] == "DELETE":
            assert entry["path"].lower().startswith("/api/logonsessions/"), f"a delete of something else: {entry}"


for failing in CASES:
    if failing.failed:
        failing.check = _only_reads


@pytest.mark.batch("bad-input-em")
@pytest.mark.parametrize("case_id", H.params(EM_CASES))
def test_em_case(case_id: str) -> None:
    H.judge(EM_BATCH.outcome(case_id))


@pytest.mark.batch("bad-input-vb365")
@pytest.mark.parametrize("case_id", H.params(VB_CASES))
def test_vb365_case(case_id: str) -> None:
    H.judge(VB_BATCH.outcome(case_id))


@pytest.mark.batch("bad-input-em")
@pytest.mark.batch("bad-input-vb365")
def test_batch_output_has_no_secret_and_no_traceback() -> None:
    for batch in (EM_BATCH, VB_BATCH):
        batch.wait()
        assert not batch.findings, "\n".join(batch.findings)
