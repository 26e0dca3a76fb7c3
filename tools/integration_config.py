#!/usr/bin/env python
"""Write tests/integration/integration_config.yml (printed to stdout) from the emulator's endpoints.json.

ansible-test integration passes that file to every target as extra vars, which is how the targets learn where
the emulator listens (ansible-test does not pass the caller's environment to modules).
"""

from __future__ import annotations

import json
import sys
import urllib.parse


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        endpoints = json.load(handle)
    em = urllib.parse.urlsplit(endpoints["em_url"])
    m365 = urllib.parse.urlsplit(endpoints["m365_url"])
    config = {
        "veeam_em_server": em.hostname,
        "veeam_em_port": em.port,
        "veeam_m365_server": m365.hostname,
        "veeam_m365_port": m365.port,
        "veeam_ca_path": endpoints["ca_path"],
        "veeam_tls": bool(endpoints.get("tls", True)),
        "emulator_em_control": f"{em.scheme}://{em.netloc}/_emulator",
        "emulator_m365_control": f"{m365.scheme}://{m365.netloc}/_emulator",
        "emulator_dir": endpoints.get("dir", ""),
    }
    if endpoints.get("vbr_url"):
        # The VBR listener and the default scenario's Backup Administrator (docs/emulator.md, VBR).
        vbr = urllib.parse.urlsplit(endpoints["vbr_url"])
        config.update({
            "veeam_vbr_server": vbr.hostname,
            "veeam_vbr_port": vbr.port,
            "veeam_vbr_username": "VEEAM\\ansible-vbr",
            "veeam_vbr_password": "Vbr#Adm1n-Ans1ble-2026!y",
            "emulator_vbr_control": f"{vbr.scheme}://{vbr.netloc}/_emulator",
        })
    # JSON is valid YAML; keep it simple and exact.
    print(json.dumps(config, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
