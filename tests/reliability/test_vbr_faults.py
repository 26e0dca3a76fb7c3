"""VBR under faults: 503 bursts, 429, lost and refused connections, slow answers, tokens that expire mid-wait, a
garbled answer while waiting.  Each run must end correctly, start the job at most once, and leave no token open
(the modules log out: ``POST /api/oauth2/logout``)."""

from __future__ import annotations

import pytest

import harness as H
from harness import VBR_DAILY, Case

STATE = "veeam_vbr_job_state"
DAILY = {"job_name": "VBR Daily Backup", "state": "started"}
NAME = "'VBR Daily Backup'"
FAST = {"speed": 10}
TOKEN = {"api": "vbr", "method": "POST", "path": r"^/api/oauth2/token$"}
STATES = {"api": "vbr", "method": "GET", "path": r"^/api/v1/jobs/states"}
START = {"api": "vbr", "method": "POST", "path": r"^/api/v1/jobs/[^/]+/start$"}
STOP = {"api": "vbr", "method": "POST", "path": r"^/api/v1/jobs/[^/]+/stop$"}
SESSION = {"api": "vbr", "method": "GET", "path": r"^/api/v1/sessions/[^/?]+$"}
DONE = f"Started job {NAME}: session"
LOST = f"The response to the start of job {NAME} was lost; VBR shows it took effect, so it was not sent again"
#: A run long enough to outlast the polls at which the cases inject their fault, on a loaded machine too
#: (30 s at speed 5 = 6 s).
SLOW = {"vbr": {"jobs": {"VBR Daily Backup": {"duration": 30}}}}


def refreshed(record: dict) -> None:
    """The expired token was replaced by a refresh grant, not by a second password login."""
    vbr = record["counters"]["vbr"]
    assert vbr["token_refreshes"] >= 1 and vbr["tokens_issued"] == 1, vbr


def logged_out(record: dict) -> None:
    """The module ended its token (a logout), so none is left behind."""
    vbr = record["counters"]["vbr"]
    assert vbr["logouts"] >= 1, vbr


CASES = [
    # ------------------------------------------------------------------ 503 and 429
    Case("vbr-503-burst-on-reads", STATE, DAILY, api="vbr", clock=FAST, area="VBR: 503 bursts on reads",
         faults=[dict(STATES, action="status", status=503, times=3), dict(SESSION, action="status", status=503, times=3)],
         failed=False, changed=True, starts={VBR_DAILY: 1}, msg=(DONE, "ended Success"), check=logged_out),
    Case("vbr-503-for-ever", STATE, DAILY, api="vbr", area="VBR: 503 bursts on reads",
         faults=[dict(STATES, action="status", status=503)], starts={}, msg=("HTTP 503",)),
    Case("vbr-429-token", STATE, DAILY, api="vbr", clock=FAST, area="VBR: 429",
         faults=[dict(TOKEN, action="status", status=429, retry_after=1, times=2)], failed=False, changed=True,
         starts={VBR_DAILY: 1}, msg=(DONE,)),
    Case("vbr-429-retry-after-an-hour", STATE, DAILY, api="vbr", area="VBR: 429",
         faults=[dict(STATES, action="status", status=429, retry_after=3600)], starts={},
         msg=("3600",), title="429 with Retry-After: 3600 is not waited for, and the message says when"),
    # ------------------------------------------------------------------ lost connections around the start
    Case("vbr-drop-after-start", STATE, DAILY, api="vbr", clock={"speed": 5}, config=SLOW,
         area="VBR: connection dropped after the start", faults=[dict(START, action="drop_after", times=1)],
         failed=False, changed=True, starts={VBR_DAILY: 1}, warnings=(LOST,), msg=(DONE,)),
    Case("vbr-drop-before-start", STATE, DAILY, api="vbr", area="VBR: connection dropped before the start",
         faults=[dict(START, action="drop_before")], starts={},
         msg=(f"The start request for job {NAME} got no response, and VBR shows it did not take effect; it was not "
              "sent again",)),
    Case("vbr-drop-after-stop", STATE, {"job_name": "VBR Daily Backup", "state": "stopped"}, api="vbr",
         clock={"speed": 1}, config=SLOW, area="VBR: connection dropped after the start",
         faults=[dict(STOP, action="drop_after", times=1)], failed=False, starts={},
         title="a lost stop of a job that is not running: nothing to stop, nothing sent"),
    # ------------------------------------------------------------------ nothing listening, slow answers
    Case("vbr-connection-refused", STATE, dict(DAILY, port="{closed_port}"), api="vbr", area="VBR: connection refused",
         starts={}, msg=("Could not connect to https://127.0.0.1:", "Connection refused")),
    Case("vbr-slow-read-once", STATE, dict(DAILY, timeout=2), api="vbr", clock=FAST, area="VBR: slower than timeout",
         faults=[dict(STATES, action="latency", delay=3.5, times=1)], failed=False, changed=True,
         starts={VBR_DAILY: 1}, msg=(DONE,)),
    Case("vbr-slow-read-always", STATE, dict(DAILY, timeout=1.5), api="vbr", area="VBR: slower than timeout",
         faults=[dict(STATES, action="latency", delay=2.5)], starts={},
         msg=("did not answer within 1.5 s (the timeout option)",)),
    # ------------------------------------------------------------------ token expiry and garbage mid-wait
    Case("vbr-token-expires-mid-wait", STATE, DAILY, api="vbr", clock={"speed": 5}, config=SLOW,
         area="VBR: token expiry mid-wait", faults=[dict(SESSION, action="expire_tokens", skip=1, times=1)],
         failed=False, changed=True, starts={VBR_DAILY: 1}, msg=(DONE, "ended Success"), check=refreshed),
    Case("vbr-token-expires-before-start", STATE, DAILY, api="vbr", clock=FAST, area="VBR: token expiry mid-wait",
         faults=[dict(START, action="expire_tokens", times=1)], failed=False, changed=True, starts={VBR_DAILY: 1},
         msg=(DONE,), check=refreshed),
    Case("vbr-truncated-mid-wait", STATE, DAILY, api="vbr", clock={"speed": 5}, config=SLOW,
         area="VBR: garbage mid-wait", faults=[dict(SESSION, action="malformed", body="truncated", skip=1, times=1)],
         failed=False, changed=True, starts={VBR_DAILY: 1}, msg=(DONE, "ended Success"),
         title="one truncated answer while waiting does not end the wait"),
    Case("vbr-html-for-ever-mid-wait", STATE, dict(DAILY, wait_timeout=4), api="vbr", clock={"speed": 1},
         config=SLOW, area="VBR: garbage mid-wait",
         faults=[dict(SESSION, action="malformed", body="html", status=502, skip=1)], starts={VBR_DAILY: 1},
         changed=True, msg=("502",)),
]

BATCH = H.register(H.Batch("vbr-faults", CASES))


@pytest.mark.batch("vbr-faults")
@pytest.mark.parametrize("case_id", H.params(CASES))
def test_case(case_id: str) -> None:
    H.judge(BATCH.outcome(case_id))


@pytest.mark.batch("vbr-faults")
def test_batch_output_has_no_secret_and_no_traceback() -> None:
    BATCH.wait()
    assert not BATCH.findings, "\n".join(BATCH.findings)
    assert H.SECRETS.count("VBR access token") > 0 and H.SECRETS.count("VBR refresh token") > 0
