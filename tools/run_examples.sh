#!/usr/bin/env bash
# Run every playbook in examples/ against the emulator started by `make examples`, and fail if any fails.
# Usage: tools/run_examples.sh <endpoints.json> <venv> <collections path>
#
# The connection comes from the environment, as a user (or an AWX/AAP credential of the collection's types)
# sets it: VEEAM_EM_*, VEEAM_M365_* and VEEAM_VBR_*.  Before each playbook the emulator is reset to its default
# scenario, so each example starts from the same jobs; after each, no Enterprise Manager logon session and no VB365
# or VBR token may be left open.  Every example runs in check mode too (a dry run is a newcomer's first try);
# job_report.yml also writes its CSV report.
set -uo pipefail
endpoints=$1; venv=$2; collections=$3
root=$(cd "$(dirname "$0")/.." && pwd)
py="$venv/bin/python"
eval "$("$root/tools/emulator_env.sh" "$endpoints" "$py")"
ca=$VEEAM_EM_CA_PATH; control=$EMULATOR_CONTROL
export ANSIBLE_COLLECTIONS_PATH="$collections"
export ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0

# control <reset|open>: reset the emulator, or print "<open EM sessions> <open VB365 tokens> <open VBR tokens>".
control() {
  "$py" - "$1" "$control" "$ca" <<'PY'
import json, ssl, sys, urllib.request
what, base, ca = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=ca) if ca else None
if what == "reset":
    urllib.request.urlopen(urllib.request.Request(base + "/reset", method="POST"), context=ctx, timeout=30).read()
else:
    counters = json.load(urllib.request.urlopen(base + "/counters", context=ctx, timeout=30))
    print(counters["em"]["open_sessions"], counters.get("m365", {}).get("open_tokens", 0),
          counters.get("vbr", {}).get("open_tokens", 0))
PY
}

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
failed=(); passed=()
run() {  # run <label> <playbook> [ansible-playbook options...]
  local label=$1 playbook=$2; shift 2
  local start rc open
  echo; echo "== examples: $label"
  control reset || { failed+=("$label (emulator reset failed)"); return; }
  start=$(date +%s)
  "$venv/bin/ansible-playbook" -i localhost, -c local "$playbook" "$@"
  rc=$?
  open=$(control open) || open="? ? ?"
  if [ $rc -ne 0 ]; then
    failed+=("$label (ansible-playbook rc=$rc)")
  elif [ "$open" != "0 0 0" ]; then
    failed+=("$label (left open: EM sessions, VB365 tokens, VBR tokens = $open)")
  else
    passed+=("$label ($(( $(date +%s) - start )) s)")
  fi
}

shopt -s nullglob
playbooks=("$root"/examples/*.yml "$root"/examples/*.yaml)
[ ${#playbooks[@]} -gt 0 ] || { echo "examples: no playbooks in $root/examples"; exit 1; }
for playbook in "${playbooks[@]}"; do
  name=examples/$(basename "$playbook")
  case $(basename "$playbook") in
    job_report.yml)
      run "$name" "$playbook" -e report_file="$work/report.csv"
      if [ ! -s "$work/report.csv" ] || ! grep -q '^"Daily SQL Backup","backup","vbr01.lab.local",' "$work/report.csv"; then
        failed+=("$name (no CSV report written)")
      fi
      run "$name --check" "$playbook" --check
      ;;
    *)
      run "$name" "$playbook"
      run "$name --check" "$playbook" --check
      ;;
  esac
done

echo
echo "== examples: ${#passed[@]} passed, ${#failed[@]} failed"
for p in "${passed[@]}"; do echo "   ok      $p"; done
for f in "${failed[@]}"; do echo "   FAILED  $f"; done
[ ${#failed[@]} -eq 0 ]
