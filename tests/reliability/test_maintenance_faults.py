"""Job control for maintenance windows under faults (issue 14): a stop whose answer is lost, a schedule toggle whose
answer is lost (settled by reading the schedule state, never toggled twice), a job that will not stop in time, and
a maintenance record that cannot be written (the role fails before anything is changed).  Uses the harness as it
is."""

from __future__ import annotations

import harness as H
from harness import Case

import pytest

LONG = {"job_name": "Continuous Log Shipping"}          # running when the emulator starts (an hour per run)
DAILY = {"job_name": "Daily SQL Backup"}                # schedule enabled
JOB_CONTINUOUS = "c6c5a51a-7f69-4e41-8401-70bd354fdfbb"
STOP = {"api": "em", "method": "POST", "path": r"action=stop"}
TOGGLE = {"api": "em", "method": "POST", "path": r"action=toggleScheduleEnabled"}


def _actions(record: dict, job_id: str, action: str) -> int:
    return int(((record.get("counters") or {}).get("em", {}).get("actions", {}).get(job_id) or {}).get(action, 0))


def stopped_once(record: dict) -> None:
    assert _actions(record, JOB_CONTINUOUS, "stop") == 1, record.get("counters")


def toggled_once(record: dict) -> None:
    assert _actions(record, "f3bfa3f2-e279-4e04-b404-3245105a1e96", "toggleScheduleEnabled") == 1, \
        record.get("counters")
    assert record["result"]["job"]["schedule_enabled"] is False


CASES = [
    Case("stop-answer-lost", "veeam_em_job_state", dict(LONG, state="stopped"), area="maintenance",
         faults=[dict(STOP, action="drop_after", times=1)], failed=False, changed=True,
         warnings=("The response to the stop of job 'Continuous Log Shipping' was lost",),
         msg=("Stopped job 'Continuous Log Shipping'",), check=stopped_once),
    Case("toggle-answer-lost", "veeam_em_job_state", dict(DAILY, state="disabled"), area="maintenance",
         faults=[dict(TOGGLE, action="drop_after", times=1)], failed=False, changed=True,
         warnings=("The response to the disable of job 'Daily SQL Backup' was lost",),
         msg=("Disabled the schedule of job 'Daily SQL Backup'",), check=toggled_once),
    # The emulator's stop takes a simulated second; at a tenth of real speed that is 10 s, and the wait is 2 s.
    Case("stop-not-in-time", "veeam_em_job_state", dict(LONG, state="stopped", wait_timeout=2, poll_interval=0.5),
         area="maintenance", clock={"speed": 0.1}, changed=True,
         msg=("Gave up waiting after", "job 'Continuous Log Shipping': session", "still"), check=stopped_once),
]

BATCH = H.register(H.Batch("maintenance-faults", CASES))


@pytest.mark.batch("maintenance-faults")
@pytest.mark.parametrize("case_id", H.params(CASES))
def test_case(case_id: str) -> None:
    H.judge(BATCH.outcome(case_id))


def test_a_record_that_cannot_be_written_changes_nothing(ansible: H.Ansible, emulator: H.Emulator, tmp_path) -> None:
    """begin with a record in a directory that does not exist: the role fails naming the file, before any schedule
    was toggled, and logs off."""
    conn = H.em_conn(emulator)
    plays = [{"hosts": "localhost", "gather_facts": False,
              "module_defaults": {"group/backupops.veeam.em": conn},
              "tasks": [{"name": "begin", "ansible.builtin.include_role": {"name": "backupops.veeam.maintenance"},
                         "vars": {"maintenance_action": "begin", "maintenance_apis": ["em"],
                                  "maintenance_record": str(tmp_path / "no" / "such" / "record.json")}}]}]
    run = ansible.playbook(plays, env=H.em_env(), name="unwritable-record")
    assert run.rc != 0
    text = run.stdout
    assert "Could not write the maintenance record" in text and "Nothing was changed in Veeam yet" in text, text[-3000:]
    counters = emulator.counters()
    assert not any((a or {}).get("toggleScheduleEnabled") for a in counters["em"].get("actions", {}).values())
    assert counters["em"]["open_sessions"] == 0
