#!/usr/bin/env bash
# Run one check of `make test`: show its output, keep a log, and record PASS/FAIL with the time it took.
# Usage: tools/step.sh "<name>" <command> [args...]   (always exits 0; tools/summary.sh decides)
set -u
name=$1; shift
root=$(cd "$(dirname "$0")/.." && pwd)
logs="$root/.work/logs"; mkdir -p "$logs"
log="$logs/$(echo "$name" | tr -c 'a-zA-Z0-9.\n' '-' | tr -s '-').log"
echo
echo "==================== $name"
start=$(date +%s)
set -o pipefail
"$@" 2>&1 | tee "$log"
rc=$?
secs=$(( $(date +%s) - start ))
if [ $rc -eq 0 ]; then status=PASS; else status=FAIL; fi
printf '%s\t%s\t%ss\t%s\n' "$status" "$name" "$secs" "$log" >> "$root/.work/summary.txt"
exit 0
