#!/usr/bin/env bash
# Run examples/demo.yml against the emulator started by `make demo`.
# Usage: tools/demo.sh <endpoints.json> <venv> <collections path>
set -euo pipefail
endpoints=$1; venv=$2; collections=$3
root=$(cd "$(dirname "$0")/.." && pwd)
eval "$("$root/tools/emulator_env.sh" "$endpoints" "$venv/bin/python")"
export ANSIBLE_COLLECTIONS_PATH="$collections"
export ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0
echo
echo "== demo: the emulator plays Veeam Backup Enterprise Manager at $VEEAM_EM_SERVER"
echo "== running: ansible-playbook examples/demo.yml (credentials from VEEAM_EM_* environment variables)"
echo
"$venv/bin/ansible-playbook" -i localhost, -c local "$root/examples/demo.yml"
echo "== demo done: the playbook above found the job by name, started it through Enterprise Manager's REST API,"
echo "   awaited its backup session, logged off, and said how it ended. Run 'make emulator' to try your own playbooks."
