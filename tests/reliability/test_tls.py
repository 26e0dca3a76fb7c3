"""TLS: certificates are checked by default.  Against the emulator's own CA a module fails with a message that
names ca_path and validate_certs; with ca_path it passes; with validate_certs: false it passes and warns."""

from __future__ import annotations

import harness as H
from harness import DROP

INSECURE = ("validate_certs is false: the server's TLS certificate is not checked, so the connection (and the "
            "credentials sent over it) can be intercepted; prefer ca_path")
EM_INFO = {"job_name": "Daily SQL Backup", "latest_session": False}
VB_ENABLED = {"job_name": "Müller's Mailboxes", "state": "enabled"}


def _tls_failure(result: dict, url: str, title: str) -> None:
    H.note("TLS", title, result)
    msg = result["msg"]
    assert result["failed"], result
    assert f"TLS handshake with {url} failed" in msg, msg
    assert "CERTIFICATE_VERIFY_FAILED" in msg, msg
    assert "ca_path" in msg and "validate_certs" in msg, msg
    assert result["error"]["kind"] == "tls", result["error"]


def test_em_default_checks_the_certificate(ansible: H.Ansible, emulator: H.Emulator) -> None:
    run = ansible.adhoc("veeam_em_job_info", H.em_conn(emulator, ca_path=DROP, **EM_INFO), env=H.em_env())
    _tls_failure(run.result, f"https://127.0.0.1:{emulator.em_port}", "EM: default validate_certs, no ca_path")
    assert emulator.counters()["em"]["logons"] == 0


def test_em_ca_path_passes(ansible: H.Ansible, emulator: H.Emulator) -> None:
    result = H.note("TLS", "EM: ca_path", ansible.adhoc("veeam_em_job_info", H.em_conn(emulator, **EM_INFO),
                                                        env=H.em_env()).result)
    assert not result["failed"] and result["msg"] == "1 job", result
    assert not result.get("warnings"), result.get("warnings")


def test_em_ca_path_from_the_environment_passes(ansible: H.Ansible, emulator: H.Emulator) -> None:
    env = dict(H.em_env(), VEEAM_EM_CA_PATH=emulator.ca_path)
    result = H.note("TLS", "EM: ca_path from VEEAM_EM_CA_PATH",
                    ansible.adhoc("veeam_em_job_info", H.em_conn(emulator, ca_path=DROP, **EM_INFO), env=env).result)
    assert not result["failed"] and result["msg"] == "1 job", result


def test_em_ca_of_another_server_fails(ansible: H.Ansible, emulator: H.Emulator, fresh_emulator) -> None:  # type: ignore[no-untyped-def]
    other = fresh_emulator("other-ca")
    run = ansible.adhoc("veeam_em_job_info", H.em_conn(emulator, ca_path=other.ca_path, **EM_INFO), env=H.em_env())
    _tls_failure(run.result, f"https://127.0.0.1:{emulator.em_port}", "EM: ca_path of another CA")
    assert f"ca_path {other.ca_path} does not hold the CA that signed the server's certificate" in run.result["msg"]


def test_em_validate_certs_false_passes_and_warns(ansible: H.Ansible, emulator: H.Emulator) -> None:
    args = H.em_conn(emulator, ca_path=DROP, validate_certs=False, **EM_INFO)
    result = H.note("TLS", "EM: validate_certs: false", ansible.adhoc("veeam_em_job_info", args, env=H.em_env()).result)
    assert not result["failed"] and result["msg"] == "1 job", result
    assert result.get("warnings") == [INSECURE], result.get("warnings")
    assert emulator.counters()["em"]["open_sessions"] == 0


def test_vb365_default_checks_the_certificate(ansible: H.Ansible, emulator: H.Emulator) -> None:
    run = ansible.adhoc("veeam_m365_job_state", H.m365_conn(emulator, ca_path=DROP, **VB_ENABLED), env=H.em_env())
    _tls_failure(run.result, f"https://127.0.0.1:{emulator.m365_port}", "VB365: default validate_certs, no ca_path")
    assert emulator.counters()["m365"]["tokens_issued"] == 0


def test_vb365_ca_path_passes(ansible: H.Ansible, emulator: H.Emulator) -> None:
    result = H.note("TLS", "VB365: ca_path", ansible.adhoc("veeam_m365_job_state", H.m365_conn(emulator, **VB_ENABLED),
                                                           env=H.em_env()).result)
    assert not result["failed"] and "is already enabled" in result["msg"], result
    assert emulator.counters()["m365"]["open_tokens"] == 0


def test_vb365_validate_certs_false_passes_and_warns(ansible: H.Ansible, emulator: H.Emulator) -> None:
    args = H.m365_conn(emulator, ca_path=DROP, validate_certs=False, **VB_ENABLED)
    result = H.note("TLS", "VB365: validate_certs: false",
                    ansible.adhoc("veeam_m365_job_state", args, env=H.em_env()).result)
    assert not result["failed"] and "is already enabled" in result["msg"], result
    assert result.get("warnings") == [INSECURE], result.get("warnings")
    assert emulator.counters()["m365"]["open_tokens"] == 0
