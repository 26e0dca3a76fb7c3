#!/usr/bin/env bash
# Print the summary of `make test` and fail when any check failed.
set -u
summary=$1
echo
echo "==================== summary"
if [ ! -s "$summary" ]; then echo "no checks ran"; exit 1; fi
printf '%-5s %-30s %6s %8s\n' "" "" "wall" "cpu"
awk -F'\t' '{ printf "%-5s %-30s %6s %8s   %s\n", $1, $2, $3, $5, ($1 == "FAIL" ? $4 : "") }' "$summary"
if grep -q '^FAIL' "$summary"; then
  echo "RESULT: FAILED ($(grep -c '^FAIL' "$summary") of $(wc -l < "$summary") checks failed; logs above)"
  exit 1
fi
echo "RESULT: all $(wc -l < "$summary") checks passed"
