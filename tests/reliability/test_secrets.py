"""Secrets: every run of this suite is scanned (harness.scan) for the passwords and every token the emulators
issued.  These tests add the paths where secrets travel most: a session token handed from task to task, the
password given as a module argument, VB365 tokens refreshed during a wait, and failures."""

from __future__ import annotations

import json
import urllib.parse

import harness as H
from harness import EM_PASSWORD, JOB_DAILY, M365_MUELLER

WRONG_PASSWORD = "Wr0ng#Secret-That-Must-Not-Print-2026"


def test_session_token_handed_from_task_to_task(ansible: H.Ansible, emulator: H.Emulator) -> None:
    """veeam_em_session -> veeam_em_job_start -> veeam_task_info -> log off, the password in module_defaults:
    the token issued by EM (read back from the emulator's state) is nowhere in the output, the registered result
    is censored, and the logon session is closed."""
    emulator.clock(speed=10)
    before = H.SECRETS.count("EM session token")
    conn = H.em_conn(emulator, password=EM_PASSWORD)
    plays = [{"hosts": "localhost", "gather_facts": False,
              "module_defaults": {"group/backupops.veeam.em": conn},
              "tasks": [
                  {"name": "log on", "backupops.veeam.veeam_em_session": {}, "register": "em", "no_log": True},
                  {"name": "the token is the one Enterprise Manager issued", "no_log": True,
                   "ansible.builtin.assert": {"that": [
                       "em.session_token | length >= 16",
                       f"em.session_token.split('|')[0] in lookup('ansible.builtin.file', '{emulator.state_path}')"]}},
                  {"name": "start", "backupops.veeam.veeam_em_job_start": {
                      "job_name": "Daily SQL Backup", "wait": False, "session_token": "{{ em.session_token }}"},
                   "register": "started"},
                  {"name": "await the task", "backupops.veeam.veeam_task_info": {
                      "task_id": "{{ started.task.id }}", "wait": True, "session_token": "{{ em.session_token }}"}},
                  {"name": "show what a user would print", "ansible.builtin.debug": {"var": "started"}},
                  {"name": "log off", "backupops.veeam.veeam_em_session": {
                      "state": "absent", "session_token": "{{ em.session_token }}"}, "no_log": True}]}]
    run = ansible.playbook(plays, name="token-handoff")
    assert run.rc == 0, run.stdout[-3000:]
    assert run.task("log on").get("censored"), run.task("log on")
    assert "Task task-1 (StartJob) is Finished" in run.task("await the task")["msg"]
    assert emulator.collect_tokens() >= 1 and H.SECRETS.count("EM session token") > before
    counters = emulator.counters()
    assert counters["em"]["starts"] == {JOB_DAILY: 1} and counters["em"]["logons"] == 1
    assert counters["em"]["open_sessions"] == 0 and counters["em"]["logoffs"] == 1
    assert not run.findings, "\n".join(run.findings)


def test_password_as_argument_at_vvvv_without_debug(ansible: H.Ansible, emulator: H.Emulator) -> None:
    """At -vvvv (what users run), a password given in -a is printed nowhere: not even the exemption for
    ansible-core's debug lines is needed."""
    args = H.em_conn(emulator, password=EM_PASSWORD, job_name="Daily SQL Backup", wait=False)
    run = ansible.adhoc("veeam_em_job_start", args, debug=False)
    assert not run.result["failed"], run.result["msg"]
    for text in run.texts().values():
        assert EM_PASSWORD not in text
        assert H.exempt(text) == text, "nothing to exempt without ANSIBLE_DEBUG"
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.stdout


def test_password_as_argument_with_ansible_debug(ansible: H.Ansible, emulator: H.Emulator) -> None:
    """With ANSIBLE_DEBUG=1, ansible-core itself prints the module arguments in one debug line, as its
    documentation warns ("Debug output can also include secret information despite no_log settings being
    enabled").  That line is the only place the password appears; the scan leaves out that line and nothing else."""
    args = H.em_conn(emulator, password=EM_PASSWORD, job_name="Daily SQL Backup", wait=False)
    run = ansible.adhoc("veeam_em_job_start", args)
    assert not run.result["failed"], run.result["msg"]
    lines = [line for line in run.stdout.splitlines() if EM_PASSWORD in line]
    assert lines and all(": done with _execute_module (backupops.veeam.veeam_em_job_start, {" in line for line in lines)
    assert EM_PASSWORD not in H.exempt(run.stdout) and not run.findings


def test_wrong_password_is_not_echoed(ansible: H.Ansible, emulator: H.Emulator) -> None:
    """A rejected password is a secret too: the failure names the account, never the password."""
    H.SECRETS.add(WRONG_PASSWORD, "wrong password")
    run = ansible.adhoc("veeam_em_job_start", H.em_conn(emulator, password=WRONG_PASSWORD, job_name="Daily SQL Backup"))
    result = H.note("secrets", "EM: wrong password", run.result)
    assert result["failed"] and "rejected the username or password for 'VEEAM\\ansible-admin'" in result["msg"]
    assert WRONG_PASSWORD not in H.exempt(run.stdout) and not run.findings
    counters = emulator.counters()
    assert counters["em"]["logon_failures"] == 1 and counters["em"]["open_sessions"] == 0


def test_vb365_access_and_refresh_tokens_never_printed(ansible: H.Ansible, emulator: H.Emulator) -> None:
    """A VB365 start awaited while the access token is expired by the server (refresh grant, then logout): every
    access and refresh token issued is read from the emulator's state and searched for in the output."""
    emulator.clock(speed=5)
    # The token expires at the first poll of the session (about 1 s into the wait), and the run lasts 5 s: the
    # expiry meets a running session however slow the machine (at the second poll of a 3 s run, it did not always).
    emulator.config({"jobs": {"Müller's Mailboxes": {"duration": 25}}})
    emulator.faults({"api": "m365", "method": "GET", "path": r"^/v8/JobSessions/", "action": "expire_tokens",
                     "times": 1})
    access, refresh = H.SECRETS.count("VB365 access token"), H.SECRETS.count("VB365 refresh token")
    run = ansible.adhoc("veeam_m365_job_state", H.m365_conn(emulator, job_name="Müller's Mailboxes", state="started"),
                        env=H.em_env())
    assert not run.result["failed"], run.result["msg"]
    emulator.collect_tokens()
    assert H.SECRETS.count("VB365 access token") >= access + 2, "the refresh should have issued a second access token"
    assert H.SECRETS.count("VB365 refresh token") >= refresh + 2
    counters = emulator.counters()["m365"]
    assert counters["starts"] == {M365_MUELLER: 1} and counters["token_refreshes"] == 1 and counters["open_tokens"] == 0
    assert not H.scan(run.texts()), H.scan(run.texts())


def test_emulator_logs_are_scanned(ansible: H.Ansible, emulator: H.Emulator) -> None:
    """The emulator's view of what the client sent (request log: header names, User-Agent, query strings; access
    log on stderr) records the module's requests, and holds neither the password nor the token it used."""
    run = ansible.adhoc("veeam_em_job_info", H.em_conn(emulator, job_name="Daily SQL Backup"), env=H.em_env())
    assert not run.result["failed"], run.result["msg"]
    log = emulator.log()
    assert any("X-RestSvcSessionId" in entry["headers"] and entry["headers"]["X-RestSvcSessionId"] is None
               for entry in log), log
    assert any(entry["headers"].get("Authorization", "absent") is None for entry in log), "logon not logged"
    assert "GET /api/query" in emulator.stderr_text()
    assert emulator.collect_tokens() >= 1
    assert not H.scan({"request log": json.dumps(log), "access log": emulator.stderr_text()})


def test_the_scan_finds_what_it_looks_for() -> None:
    """The scan itself: a token in raw, JSON-escaped or URL-encoded form, a masked value, a traceback; and the
    ansible-core debug line it leaves out."""
    token = "Zk9+TestOnly/Token==Q"
    H.SECRETS.add(token, "EM session token")
    assert H.scan({"out": f"header X-RestSvcSessionId: {token}"})
    assert H.scan({"out": json.dumps({"t": token})})
    assert H.scan({"out": "cookie=" + urllib.parse.quote(token, safe="")})
    assert H.scan({"out": '"msg": "logon as ********"'})
    assert not H.scan({"out": "PLAY [x] ******************************"})
    # A banner whose padding is exactly eight stars (the task name fills the rest of the 80 columns), on the
    # terminal and in the log file, is no masked value; one in the task's name is.
    banner = "TASK [backupops.veeam.maintenance : Select the jobs of the maintenance] ********"
    assert not H.scan({"out": f"x\n{banner}\ntask path: /x"})
    assert not H.scan({"out": f"2026-12-04 19:13:51,746 p=29662 u=root n=ansible INFO| {banner}\n"})
    assert H.scan({"out": "TASK [use ********] ******************"})
    assert H.scan({"out": "ok: [localhost] => ********"})
    assert H.scan({"out": "Traceback (most recent call last):"})
    echo = f" 123 1795376373.90670: done with _execute_module (backupops.veeam.x, {{'password': '{EM_PASSWORD}'}})"
    assert not H.scan({"out": echo}) and H.scan({"out": echo.replace("done with", "starting")})
    raw = (f' 123 1795376373.9: _low_level_execute_command() done: rc=0, stdout=\n{{"session_token": "{token}", '
           f'"msg": "x"}}\n, stderr=\n')
    assert not H.scan({"out": raw}) and H.scan({"out": raw.replace('"msg": "x"', f'"msg": "{token}"')})
