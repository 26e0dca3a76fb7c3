#!/usr/bin/env bash
# Run several streams of `make test` checks at once, and show their output, in order, when all have ended.
#   tools/stage.sh <make> "<name>=<target>[,<name>=<target> ...]" ...
# Each argument after <make> is a stream: its checks run one after the other (through tools/step.sh, which keeps
# each check's log and records PASS/FAIL); the streams run side by side.  A check that waits on the emulator or
# on a network leaves a core idle, which another stream then uses: on 2 cores `make test` takes about 60% of the
# time it takes one check at a time.  Always exits 0: tools/summary.sh decides.
set -u
make=$1; shift
root=$(cd "$(dirname "$0")/.." && pwd)
summary="$root/.work/summary.txt"
start=$(date +%s)
names=""
for stream in "$@"; do
  IFS=',' read -r -a steps <<< "$stream"
  for step in "${steps[@]}"; do names="$names${names:+, }${step%%=*}"; done
done
echo
echo "==================== at once: $names"


for stream in "$@"; do
  (
    IFS=',' read -r -a steps <<< "$stream"
    for step in "${steps[@]}"; do
      name=${step%%=*}; target=${step#*=}
      STEP_QUIET=1 "$root/tools/step.sh" "$name" "$make" --no-print-directory "$target"
    done
  ) &
done
wait

# The logs, and the summary lines, in the order the checks were given (not the order they ended in).
for stream in "$@"; do
  IFS=',' read -r -a steps <<< "$stream"
  for step in "${steps[@]}"; do
    name=${step%%=*}; log=$("$root/tools/step.sh" --log-of "$name")
    echo
    echo "==================== $name"
    cat "$log"
    cat "$log.summary" >> "$summary" 2>/dev/null || printf 'FAIL\t%s\t0s\t%s\t0s\n' "$name" "$log" >> "$summary"
    rm -f "$log.summary"
  done
done
echo
echo "(these checks ran side by side: $(( $(date +%s) - start )) s in all)"
exit 0
