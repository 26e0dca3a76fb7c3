"""The role job_run given what a newcomer guesses (issue 19): plain job names in job_run_jobs are taken, a list in
job_run_job_name is refused before anything is sent, and the Enterprise Manager variables set for another API are
named in a warning (and ignored) instead of silently doing nothing."""
from __future__ import annotations

import harness as H


def _play(conn_group: str, conn: dict, role_vars: dict) -> list[dict]:
    return [{"name": "job_run as a newcomer writes it", "hosts": "localhost", "gather_facts": False,
             "module_defaults": {conn_group: conn},
             "tasks": [{"name": "run", "ansible.builtin.include_role": {"name": "backupops.veeam.job_run"},
                        "vars": role_vars},
                       {"name": "result", "ansible.builtin.debug": {"msg": "RESULT {{ job_run_result | to_json }}"}}]}]


def test_em_only_variables_for_vbr_are_named_and_plain_names_run(ansible: H.Ansible, emulator: H.Emulator) -> None:
    run = ansible.playbook(_play("group/backupops.veeam.vbr", H.vbr_conn(emulator), {
        "job_run_api": "vbr", "job_run_jobs": ["VBR Daily Backup"], "job_run_wait_for": "session",
        "job_run_backup_server": "vbr02.lab.local"}), env=H.em_env(), name="role-em-only-vars", verbosity="-v")
    assert run.rc == 0, run.stdout[-3000:]
    assert ("WARNING: job_run_api is vbr, which does not use job_run_wait_for, job_run_backup_server; they are "
            "ignored") in run.stdout, run.stdout[-3000:]
    assert '"name": "VBR Daily Backup"' in run.stdout and '"failed": false' in run.stdout, run.stdout[-3000:]
    assert emulator.counters()["vbr"]["open_tokens"] == 0


def test_a_list_in_job_run_job_name_is_refused_before_a_logon(ansible: H.Ansible, emulator: H.Emulator) -> None:
    before = emulator.counters()
    run = ansible.playbook(_play("group/backupops.veeam.em", H.em_conn(emulator), {
        "job_run_job_name": ["Daily SQL Backup", "Exchange Backup"]}), env=H.em_env(), name="role-name-list",
        verbosity="-v")
    assert run.rc != 0
    assert "Give one job with job_run_job_name or job_run_job_id (a string)" in run.stdout, run.stdout[-3000:]
    after = emulator.counters()
    assert after["em"].get("logons", 0) == before["em"].get("logons", 0) and after["em"]["open_sessions"] == 0
