#!/usr/bin/env bash
# Run examples/demo.yml against the emulator started by `make demo`.
# Usage: tools/demo.sh <endpoints.json> <venv> <collections path>
set -euo pipefail
endpoints=$1; venv=$2; collections=$3
root=$(cd "$(dirname "$0")/.." && pwd)
read -r em_hostport ca < <("$venv/bin/python" - "$endpoints" <<'PY'
import json, sys, urllib.parse
e = json.load(open(sys.argv[1]))
u = urllib.parse.urlsplit(e["em_url"])
print(f"{u.scheme}://{u.netloc}", e["ca_path"])
PY
)
export VEEAM_EM_SERVER="$em_hostport"
export VEEAM_EM_USERNAME='VEEAM\ansible-admin'
export VEEAM_EM_PASSWORD='Em#Adm1n-Ans1ble-2026!x'
export VEEAM_EM_CA_PATH="$ca"
export ANSIBLE_COLLECTIONS_PATH="$collections"
export ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0
echo
echo "== demo: the emulator plays Veeam Backup Enterprise Manager at $VEEAM_EM_SERVER"
echo "== running: ansible-playbook examples/demo.yml (credentials from VEEAM_EM_* environment variables)"
echo
"$venv/bin/ansible-playbook" -i localhost, -c local "$root/examples/demo.yml"
echo "== demo done: the playbook above found the job by name, started it through Enterprise Manager's REST API,"
echo "   awaited its backup session, logged off, and said how it ended. Run 'make emulator' to try your own playbooks."
