"""VB365 under faults: 503 bursts on reads, 429 on the token endpoint, lost and refused connections, slow answers,
tokens that expire mid-wait, an emulator restarted mid-wait.  Each run must end correctly, start the job at most
once, and leave no token open (v7 and v8 log out)."""

from __future__ import annotations

import threading
import time

import pytest

import harness as H
from harness import M365_MUELLER, Case

STATE = "veeam_m365_job_state"
MUELLER = {"job_name": "Müller's Mailboxes", "state": "started"}
NAME = "\"Müller's Mailboxes\""
FAST = {"speed": 10}
TOKEN = {"api": "m365", "method": "POST", "path": r"^/v\d/token$"}
JOBS = {"api": "m365", "method": "GET", "path": r"^/v\d/Jobs(\?|$)"}
START = {"api": "m365", "method": "POST", "path": r"^/v\d/Jobs/[^/]+/start$"}
EXPLORE = {"api": "m365", "method": "POST", "path": r"^/v\d/Jobs/[^/]+/explore$"}
SESSION = {"api": "m365", "method": "GET", "path": r"^/v\d/JobSessions"}
DONE = f"Started job {NAME}: session"
LOST = f"The response to the start of job {NAME} was lost; VB365 shows it took effect, so it was not sent again"
#: A run that outlasts, with seconds to spare on a loaded machine, the polls at which the cases below inject their
#: fault (about 1 to 2 s into the wait): 30 s at speed 5 = 6 s.
SLOW = {"jobs": {"Müller's Mailboxes": {"duration": 30}}}


def refreshed(record: dict) -> None:
    """The expired token was replaced by a refresh, not by a new password login."""
    m365 = record["counters"]["m365"]
    assert m365["token_refreshes"] >= 1 and m365["tokens_issued"] == 1, m365


CASES = [
    # ------------------------------------------------------------------ 503 and 429
    Case("vb-503-burst-on-reads", STATE, MUELLER, api="m365", clock=FAST, area="503 bursts on reads",
         faults=[dict(JOBS, action="status", status=503, times=3), dict(SESSION, action="status", status=503, times=3)],
         failed=False, changed=True, starts={M365_MUELLER: 1}, msg=(DONE, "ended Success")),
    Case("vb-503-burst-mid-wait", STATE, MUELLER, api="m365", clock={"speed": 5}, config=SLOW,
         area="503 bursts on reads", faults=[dict(SESSION, action="status", status=503, skip=1, times=6)],
         failed=False, changed=True, starts={M365_MUELLER: 1}, msg=(DONE, "ended Success")),
    Case("vb-503-burst-v7", STATE, dict(MUELLER, api_version="v7"), api="m365", clock=FAST,
         area="503 bursts on reads", faults=[dict(JOBS, action="status", status=503, times=3),
                                             dict(SESSION, action="status", status=503, times=3)],
         failed=False, changed=True, starts={M365_MUELLER: 1}, msg=(DONE, "ended Success")),
    Case("vb-503-for-ever", STATE, MUELLER, api="m365", area="503 bursts on reads",
         faults=[dict(JOBS, action="status", status=503)], starts={}, msg=("VB365 could not return the jobs", "HTTP 503")),
    Case("vb-503-restore-reads", "veeam_m365_restore_session", {"job_name": "Müller's Mailboxes"}, api="m365",
         area="503 bursts on reads", faults=[dict(JOBS, action="status", status=503, times=3)], failed=False,
         changed=True, starts={}, msg=("Explored the backup of job",),
         check=lambda record: _restore_sessions_open(record, 1)),
    Case("vb-429-token", STATE, MUELLER, api="m365", clock=FAST, area="429 on the VB365 token endpoint",
         faults=[dict(TOKEN, action="status", status=429, retry_after=1, times=2)], failed=False, changed=True,
         starts={M365_MUELLER: 1}, msg=(DONE,)),
    Case("vb-429-token-for-ever", STATE, MUELLER, api="m365", area="429 on the VB365 token endpoint",
         faults=[dict(TOKEN, action="status", status=429, retry_after=1)], starts={},
         msg=("VB365 throttled the login (429 Quota Exceeded) and kept doing so after 6 tries",)),
    Case("vb-429-on-reads", STATE, MUELLER, api="m365", clock=FAST, area="429 on the VB365 token endpoint",
         faults=[dict(JOBS, action="status", status=429, retry_after=1, times=2)], failed=False, changed=True,
         starts={M365_MUELLER: 1}, msg=(DONE,)),
    # ------------------------------------------------------------------ the start's connection dropped
    Case("vb-drop-after-start", STATE, MUELLER, api="m365", area="connection dropped after the start",
         faults=[dict(START, action="drop_after", times=1)], failed=False, changed=True, starts={M365_MUELLER: 1},
         warnings=(LOST,), msg=(DONE,)),
    Case("vb-drop-after-start-v7", STATE, dict(MUELLER, api_version="v7"), api="m365",
         area="connection dropped after the start", faults=[dict(START, action="drop_after", times=1)], failed=False,
         changed=True, starts={M365_MUELLER: 1}, warnings=(LOST,), msg=(DONE,)),
    Case("vb-drop-after-start-short-job", STATE, MUELLER, api="m365", clock={"speed": 30},
         area="connection dropped after the start", faults=[dict(START, action="drop_after", times=1)], failed=False,
         changed=True, starts={M365_MUELLER: 1}, warnings=(LOST,), msg=("Started job",)),
    Case("vb-drop-before-start", STATE, MUELLER, api="m365", area="connection dropped before the start",
         faults=[dict(START, action="drop_before")], starts={},
         msg=(f"The start request for job {NAME} got no response, and VB365 shows it did not take effect; it was not "
              "sent again",)),
    Case("vb-drop-after-explore", "veeam_m365_restore_session", {"job_name": "Müller's Mailboxes"}, api="m365",
         area="connection dropped after the start", faults=[dict(EXPLORE, action="drop_after", times=1)],
         failed=False, changed=True, starts={}, msg=("Explored the backup of job",),
         warnings=(f"The response to the explore of job {NAME} was lost; VB365 lists the restore session it opened",),
         check=lambda record: _restore_sessions_open(record, 1)),
    # ------------------------------------------------------------------ nothing listening, slow answers
    Case("vb-connection-refused", STATE, dict(MUELLER, port="{closed_port}"), api="m365", area="connection refused",
         starts={}, msg=("Could not connect to https://127.0.0.1:", "Connection refused")),
    Case("vb-slow-read-once", STATE, dict(MUELLER, timeout=2), api="m365", clock=FAST, area="slower than timeout",
         faults=[dict(JOBS, action="latency", delay=3.5, times=1)], failed=False, changed=True,
         starts={M365_MUELLER: 1}, msg=(DONE,)),
    Case("vb-slow-read-always", STATE, dict(MUELLER, timeout=1.5), api="m365", area="slower than timeout",
         faults=[dict(JOBS, action="latency", delay=2.5)], starts={},
         msg=("did not answer within 1.5 s (the timeout option)",)),
    # ------------------------------------------------------------------ token expiry mid-wait
    Case("vb-token-expires-mid-wait", STATE, MUELLER, api="m365", clock={"speed": 5}, config=SLOW,
         area="VB365 token expiry mid-wait", faults=[dict(SESSION, action="expire_tokens", skip=1, times=1)],
         failed=False, changed=True, starts={M365_MUELLER: 1}, msg=(DONE, "ended Success"), check=refreshed),
    Case("vb-token-expires-mid-wait-v7", STATE, dict(MUELLER, api_version="v7"), api="m365", clock={"speed": 5},
         config=SLOW, area="VB365 token expiry mid-wait",
         faults=[dict(SESSION, action="expire_tokens", skip=2, times=1)], failed=False, changed=True,
         starts={M365_MUELLER: 1}, msg=(DONE, "ended Success"), check=refreshed),
    Case("vb-token-expires-before-start", STATE, MUELLER, api="m365", clock=FAST,
         area="VB365 token expiry mid-wait", faults=[dict(START, action="expire_tokens", times=1)], failed=False,
         changed=True, starts={M365_MUELLER: 1}, msg=(DONE,), check=refreshed),
]


def _restore_sessions_open(record: dict, expected: int) -> None:
    assert record["counters"]["m365"]["restore_sessions_open"] == expected, record["counters"]["m365"]


BATCH = H.register(H.Batch("m365-faults", CASES))


@pytest.mark.batch("m365-faults")
@pytest.mark.parametrize("case_id", H.params(CASES))
def test_case(case_id: str) -> None:
    H.judge(BATCH.outcome(case_id))


@pytest.mark.batch("m365-faults")
def test_batch_output_has_no_secret_and_no_traceback() -> None:
    BATCH.wait()
    assert not BATCH.findings, "\n".join(BATCH.findings)
    assert H.SECRETS.count("VB365 access token") > 0 and H.SECRETS.count("VB365 refresh token") > 0


# ---------------------------------------------------------------------------------- slow start (runs alone)

def test_start_much_slower_than_timeout_is_reported_truthfully(ansible: H.Ansible, emulator: H.Emulator) -> None:
    """v6 has no logout, so the token outlives the task and a start that reaches VB365 after `timeout` takes
    effect: the module must not say it did not.  It looks for the start as long again as `timeout` (was a bug:
    'VB365 shows it did not take effect' after one look), then says VB365 may still carry it out."""
    emulator.clock(speed=10)
    emulator.faults(dict(START, action="latency", delay=5, times=1))
    run = ansible.adhoc(STATE, H.m365_conn(emulator, timeout=1.5, api_version="v6", **MUELLER), env=H.em_env())
    result = H.note("slower than timeout", "VB365 v6: start carried out 5 s later", run.result)
    time.sleep(4.5)          # until the slow request has been processed by the server
    counters = emulator.counters()
    assert counters["requests"]["m365"].get("POST /v6/Jobs/{id}/start") == 1, counters
    assert counters["m365"]["starts"] == {M365_MUELLER: 1}, counters
    if result["failed"]:
        assert "did not take effect" not in result["msg"], result["msg"]
        assert "VB365 may still carry it out" in result["msg"], result["msg"]


# ---------------------------------------------------------------------------------- restart mid-wait

def test_emulator_restarted_mid_wait(ansible: H.Ansible, fresh_emulator) -> None:  # type: ignore[no-untyped-def]
    """SIGTERM and restart (state kept, same ports) while the module awaits the job session: it rides it out
    with its retries, the job is started once, and its token (kept across the restart) is logged out."""
    emu = fresh_emulator("restart", em_port=H.free_port(), m365_port=H.free_port())
    emu.config({"jobs": {"Müller's Mailboxes": {"duration": 12}}})
    args = H.m365_conn(emu, **MUELLER)
    holder: dict = {}
    thread = threading.Thread(target=lambda: holder.update(run=ansible.adhoc(STATE, args, env=H.em_env())))
    thread.start()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        log = emu.log()
        polls = [e for e in log if e["method"] == "GET" and "/JobSessions/" in e["path"]]
        if len(polls) >= 2:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the module never polled the job session")
    before = emu.counters()
    assert emu.stop() == 0
    time.sleep(1.0)
    emu.start()
    thread.join(timeout=180)
    result = H.note("emulator restarted mid-wait", "VB365: SIGTERM + restart while awaiting the session",
                    holder["run"].result)
    assert not result["failed"], result["msg"]
    assert DONE in result["msg"] and "ended Success" in result["msg"], result["msg"]
    after = emu.counters()
    assert before["m365"]["starts"] == after["m365"]["starts"] == {M365_MUELLER: 1}, (before, after)
    assert after["m365"]["open_tokens"] == 0 and after["m365"]["tokens_issued"] == 1, after["m365"]
    assert emu.starts == 2
