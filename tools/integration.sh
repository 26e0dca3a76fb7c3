#!/usr/bin/env bash
# Run the integration targets against the emulator, in four groups at once (each with its own copy of the installed
# collection and its own emulator), and fail if any target fails.  With target names, run just those, as one group.
#   tools/integration.sh <venv> <work dir> <installed collection dir> <python> [target ...]
# ansible-test runs with --local: the modules and ansible-playbook use <venv>, which has everything the targets need,
# so no test virtualenv is created (and the groups cannot race to create the same one).  <python> runs the emulator.
# AT_PYTHON (default 3.11) is the X.Y of <venv>'s Python, which ansible-test is told with --python.
set -u
venv=$1; work=$2; coll=$3; python=$4; shift 4
at_python=${AT_PYTHON:-3.11}
root=$(cd "$(dirname "$0")/.." && pwd)
targets_dir="$root/tests/integration/targets"

if [ $# -gt 0 ]; then
  groups=("$*")
else
  # Four groups of about the same length (the biggest target alone; ansible-test's run_time_seconds of a
  # make test run, under its load: 497 / 373 / about 330 / about 310 s); new targets join the last group.
  first="veeam_m365_job_state"
  second="veeam_m365_restore_session veeam_em_session veeam_task_info veeam_em_job_info"
  third="role_maintenance role_job_run veeam_em_task veeam_m365_session_shared veeam_vbr_job_info"
  rest=""
  for dir in "$targets_dir"/*/; do
    name=$(basename "$dir")
    grep -qx hidden "$dir/aliases" 2>/dev/null && continue
    case " $first $second $third " in *" $name "*) ;; *) rest="$rest $name" ;; esac
  done
  groups=("$first" "$second" "$third" "${rest# }")
fi

run_group() {  # <index> <targets>
  local dir="$work/integration-$1" targets=$2 tree rc
  rm -rf "$dir"; mkdir -p "$dir/collections/ansible_collections/backupops"
  tree="$dir/collections/ansible_collections/backupops/veeam"
  cp -a "$coll" "$tree"
  if ! EMULATOR_EM_PORT=0 EMULATOR_M365_PORT=0 EMULATOR_VBR_PORT=0 "$root/tools/emulator_ctl.sh" start "$dir/emulator" "$python" >"$dir/log" 2>&1; then
    echo 1 > "$dir/rc"; return
  fi
  "$python" "$root/tools/integration_config.py" "$dir/emulator/endpoints.json" > "$tree/tests/integration/integration_config.yml"
  # shellcheck disable=SC2086
  # Each group has its own HOME: ansible-test creates ~/.ansible/test/id_rsa on first use, and two groups sharing
  # one HOME race to create it (ssh-keygen then asks "Overwrite (y/n)?" and the group fails).
  mkdir -p "$dir/home"
  (cd "$tree" && HOME="$dir/home" ANSIBLE_COLLECTIONS_PATH="$dir/collections" "$venv/bin/ansible-test" integration --local \
     --python "$at_python" --color no $targets) >>"$dir/log" 2>&1
  rc=$?
  "$root/tools/emulator_ctl.sh" stop "$dir/emulator"
  echo "$rc" > "$dir/rc"
}

start=$(date +%s)
i=0
for g in "${groups[@]}"; do
  i=$((i + 1))
  echo "== integration group $i: $g"
  run_group "$i" "$g" &
done
wait

status=0
for n in $(seq 1 "$i"); do
  dir="$work/integration-$n"
  rc=$(cat "$dir/rc" 2>/dev/null || echo 1)
  echo
  echo "==================== integration group $n (rc=$rc)"
  cat "$dir/log"
  [ "$rc" = 0 ] || status=1
done
echo
for n in $(seq 1 "$i"); do
  echo "integration group $n: rc=$(cat "$work/integration-$n/rc" 2>/dev/null || echo 1) ($(grep -c '^Running .* integration test role' "$work/integration-$n/log") targets)"
done
echo "integration (ansible-core $("$venv/bin/python" -c 'import ansible.release as r; print(r.__version__)'), Python $at_python): $(( $(date +%s) - start )) s"
exit $status
