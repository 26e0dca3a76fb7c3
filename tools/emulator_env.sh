#!/usr/bin/env bash
# Print the `export` lines that point the collection at a running emulator, as a user (or an AWX/AAP credential
# of the collection's types) sets the connection: VEEAM_EM_*, VEEAM_M365_* and VEEAM_VBR_*, with the default
# scenario's accounts, plus EMULATOR_CONTROL (the control endpoint).  Used by tools/demo.sh and tools/doc_commands.py:
#   eval "$(tools/emulator_env.sh <endpoints.json> <python>)"
set -euo pipefail
"$2" - "$1" <<'PY'
import json, shlex, sys, urllib.parse
e = json.load(open(sys.argv[1]))
em = urllib.parse.urlsplit(e["em_url"])
m365 = urllib.parse.urlsplit(e["m365_url"])
ca = e.get("ca_path") or ""
env = {
    "VEEAM_EM_SERVER": f"{em.scheme}://{em.netloc}",
    "VEEAM_EM_USERNAME": "VEEAM\\ansible-admin",
    "VEEAM_EM_PASSWORD": "Em#Adm1n-Ans1ble-2026!x",
    "VEEAM_EM_CA_PATH": ca,
    "VEEAM_M365_SERVER": f"{m365.scheme}://{m365.netloc}",
    "VEEAM_M365_USERNAME": "svc-ansible@contoso.example",
    "VEEAM_M365_PASSWORD": "M365#Adm1n-Ans1ble-2026!z",
    "VEEAM_M365_CA_PATH": ca,
    "EMULATOR_CONTROL": f"{em.scheme}://{em.netloc}/_emulator",
}
if e.get("vbr_url"):
    vbr = urllib.parse.urlsplit(e["vbr_url"])
    env.update({
        "VEEAM_VBR_SERVER": f"{vbr.scheme}://{vbr.netloc}",
        "VEEAM_VBR_USERNAME": "VEEAM\\ansible-vbr",
        "VEEAM_VBR_PASSWORD": "Vbr#Adm1n-Ans1ble-2026!y",
        "VEEAM_VBR_CA_PATH": ca,
    })
for name, value in env.items():
    print(f"export {name}={shlex.quote(value)}")
PY
