#!/usr/bin/env bash
# Run one check of `make test`: show its output, keep a log, and record PASS/FAIL with the time it took.
# Usage: tools/step.sh "<name>" <command> [args...]   (always exits 0; tools/summary.sh decides)
# With STEP_QUIET=1 (tools/stage.sh, which runs checks side by side) the output goes to the log only, and the
# summary line to <log>.summary, for tools/stage.sh to show in order.
# `tools/step.sh --log-of "<name>"` prints the path of a check's log.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
logs="$root/.work/logs"; mkdir -p "$logs"
log_of() { echo "$logs/$(echo "$1" | tr -c 'a-zA-Z0-9.\n' '-' | tr -s '-').log"; }
if [ "$1" = --log-of ]; then log_of "$2"; exit 0; fi
name=$1; shift
log=$(log_of "$name")
quiet=${STEP_QUIET:-0}
start=$(date +%s)
if [ "$quiet" = 1 ]; then
  "$@" >"$log" 2>&1
  rc=$?
else
  echo
  echo "==================== $name"
  set -o pipefail
  "$@" 2>&1 | tee "$log"
  rc=$?
fi
secs=$(( $(date +%s) - start ))
# CPU seconds (user + system) of everything the check ran: with `secs`, how much of the machine it kept busy.
times > "$log.times"  # not in $( ): a subshell's `times` counts from zero
cpu=$(awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, t, "m"); n += t[1] * 60 + t[2] } printf "%d", n }' "$log.times"); rm -f "$log.times"
if [ $rc -eq 0 ]; then status=PASS; else status=FAIL; fi
line=$(printf '%s\t%s\t%ss\t%s\t%s' "$status" "$name" "$secs" "$log" "${cpu}s")
if [ "$quiet" = 1 ]; then echo "$line" > "$log.summary"; else echo "$line" >> "$root/.work/summary.txt"; fi
exit 0
