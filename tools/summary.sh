#!/usr/bin/env bash
# Print the summary of `make test` and fail when any check failed.
#   tools/summary.sh <summary file> [<not-run file>]
# The not-run file lists the checks that could not run on this machine (an interpreter is missing); they are
# named after the table, and with CI=true they fail the run.
set -u
summary=$1; skipped=${2:-}
echo
echo "==================== summary"
if [ ! -s "$summary" ]; then echo "no checks ran"; exit 1; fi
printf '%-5s %-30s %6s %8s\n' "" "" "wall" "cpu"
awk -F'\t' '{ printf "%-5s %-30s %6s %8s   %s\n", $1, $2, $3, $5, ($1 == "FAIL" ? $4 : "") }' "$summary"
not_run=0
if [ -n "$skipped" ] && [ -s "$skipped" ]; then
  not_run=$(sort -u "$skipped" | wc -l)
  echo
  echo "NOT RUN on this machine ($not_run):"
  sort -u "$skipped" | sed 's/^/  - /'
fi
if grep -q '^FAIL' "$summary"; then
  echo "RESULT: FAILED ($(grep -c '^FAIL' "$summary") of $(wc -l < "$summary") checks failed; logs above)"
  exit 1
fi
if [ "$not_run" -gt 0 ]; then
  if [ "${CI:-}" = true ]; then
    echo "RESULT: FAILED (CI=true and $not_run checks could not run)"
    exit 1
  fi
  echo "RESULT: all $(wc -l < "$summary") checks that ran passed; $not_run could not run here (above), so this is not the full test"
  exit 0
fi
echo "RESULT: all $(wc -l < "$summary") checks passed"
