"""Process life: ready line, endpoints.json, TLS and CA reuse, plain HTTP, state kept across a restart,
SIGTERM/SIGINT."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests

from .conftest import JOB_LONG, NS, REPO, EmHttp, start_emulator


def test_ready_line_endpoints_and_tls(tmp_path: Path) -> None:
    emu = start_emulator(tmp_path / "emu")
    try:
        info = emu.endpoints
        assert set(info) >= {"pid", "em_url", "m365_url", "em_port", "m365_port", "ca_path", "tls"}
        assert info["pid"] == emu.proc.pid and info["tls"] is True
        assert info["em_url"] == f"https://127.0.0.1:{info['em_port']}/api" and info["em_port"] != 9398
        assert Path(info["ca_path"]).is_absolute() and Path(info["ca_path"]) == (tmp_path / "emu" / "ca.pem").resolve()
        ready = [line for line in emu.stdout_lines if "ready" in line]
        assert ready and info["em_url"] in ready[0]
        if info["m365_url"]:
            assert info["m365_url"] in ready[0]
        # Python ssl with only ca.pem verifies the certificate for 127.0.0.1 and localhost
        for host in ("127.0.0.1", "localhost"):
            ctx = ssl.create_default_context(cafile=info["ca_path"])
            with socket.create_connection(("127.0.0.1", info["em_port"]), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname=host) as tls:
                    assert tls.version() in ("TLSv1.2", "TLSv1.3")
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(info["em_url"] + "/", verify=True, timeout=5)
        # keep-alive: several requests over one connection
        http = emu.session()
        for _attempt in range(3):
            assert http.get(info["em_url"] + "/", timeout=5).status_code == 200
        assert emu.stop() == 0
    finally:
        if emu.proc.poll() is None:
            emu.proc.kill()


def test_state_kept_across_restart_and_ca_reused(tmp_path: Path) -> None:
    directory = tmp_path / "keep"
    env = {"EMULATOR_KEEP_STATE": "1"}
    first = start_emulator(directory, env)
    try:
        ca_before = (directory / "ca.pem").read_bytes()
        client = EmHttp(first)
        client.logon()
        task = ET.fromstring(client.post(f"/jobs/{JOB_LONG}", params={"action": "start"}).content)
        first.control("POST", "faults", {"path": "/api/backupServers", "action": "status", "status": 503})
        assert first.stop() == 0
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
    saved = json.loads((directory / "state.json").read_text())
    assert saved["em"]["logons"][0]["token"] == client.token
    second = start_emulator(directory, env)
    try:
        assert (directory / "ca.pem").read_bytes() == ca_before
        client.emu = second
        client.http = second.session()
        resp = client.get(task.get("Href").split("/api", 1)[1])
        assert resp.status_code == 200 and ET.fromstring(resp.content).findtext(f"{NS}Operation") == "StartJob"
        sessions = ET.fromstring(client.get(f"/jobs/{JOB_LONG}/backupSessions", params={"format": "Entity"}).content)
        assert [s.findtext(f"{NS}State") in ("Starting", "Working") for s in sessions] == [True]
        counters = second.control("GET", "counters")
        assert counters["em"]["logons"] == 1 and counters["em"]["starts"] == {JOB_LONG: 1}
        assert counters["requests"]["em"]["POST /api/jobs/{id}?action=start"] == 1
        assert client.get("/backupServers").status_code == 503
        second.control("POST", "reset")
        assert client.get("/backupServers").status_code == 401
        assert second.stop(signal.SIGINT) == 0
    finally:
        if second.proc.poll() is None:
            second.proc.kill()


def test_fresh_start_ignores_state_without_keep_state(tmp_path: Path) -> None:
    directory = tmp_path / "nokeep"
    directory.mkdir()
    (directory / "state.json").write_text(json.dumps({"em": {"logons": [{"id": "x"}]}}))
    (directory / "endpoints.json").write_text("{}")
    emu = start_emulator(directory)
    try:
        assert emu.control("GET", "counters")["em"]["logons"] == 0
        assert json.loads((directory / "endpoints.json").read_text())["pid"] == emu.proc.pid
    finally:
        assert emu.stop() == 0


def test_plain_http_and_sigterm_stops_listening(tmp_path: Path) -> None:
    emu = start_emulator(tmp_path / "http", {"EMULATOR_TLS": "0"})
    try:
        info = emu.endpoints
        assert info["tls"] is False and info["ca_path"] is None and info["em_url"].startswith("http://")
        assert requests.get(info["em_url"] + "/", timeout=5).status_code == 200
        assert emu.stop(signal.SIGTERM) == 0  # exits by itself, with status 0, within stop()'s 10 s
        with pytest.raises(requests.ConnectionError):
            requests.get(info["em_url"] + "/", timeout=2)
    finally:
        if emu.proc.poll() is None:
            emu.proc.kill()


def test_a_second_emulator_on_the_same_ports_says_so_and_touches_nothing(tmp_path: Path) -> None:
    """``make emulator`` twice: the second says in one line that an emulator runs there, exits 1, and leaves the
    first one's endpoints.json and certificates as they were (issue 19)."""
    first = start_emulator(tmp_path / "emu")
    try:
        info = first.endpoints
        files = {p.name: p.read_bytes() for p in (tmp_path / "emu").iterdir() if p.suffix in (".json", ".pem")}
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
        env.update({"PYTHONPATH": str(REPO / "tests"), "EMULATOR_DIR": str(tmp_path / "emu"),
                    "EMULATOR_EM_PORT": str(info["em_port"]), "EMULATOR_M365_PORT": str(info["m365_port"]),
                    "EMULATOR_VBR_PORT": str(info["vbr_port"])})
        second = subprocess.run([sys.executable, "-m", "emulator"], cwd=str(REPO), env=env, capture_output=True,
                                text=True, timeout=60, check=False)
        assert second.returncode == 1
        assert "Traceback" not in second.stderr
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and f"port {info['em_port']} (em)" in lines[0]
        assert f"an emulator is already running there (pid {info['pid']}" in lines[0]
        assert {p.name: p.read_bytes() for p in (tmp_path / "emu").iterdir() if p.suffix in (".json", ".pem")} == files
        assert first.proc.poll() is None
    finally:
        first.stop()
