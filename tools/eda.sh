#!/usr/bin/env bash
# `make eda`: the event source (backupops.veeam.job_sessions) and the example rulebook against the emulator.
#   tools/eda.sh [--venv-only] <python of .venv> <python to make the EDA virtualenv with> <EDA virtualenv> <collections dir>
# (--venv-only: make the EDA virtualenv, when Java is there, and nothing else: make test does it beside the others.)
# tests/eda/test_job_sessions.py (the source, driven poll by poll) runs with .venv's Python; at the same time
# tests/eda/test_rulebook.py runs the rulebook under ansible-rulebook from the EDA virtualenv (made here from
# tools/requirements-eda.txt, apart from .venv).  ansible-rulebook needs Java 17 or newer (JAVA_HOME, or java on
# PATH): without it the rulebook check does not run, this says so plainly and records it for make test's summary
# (SKIPPED_FILE), and with CI=true it fails.
set -u
venv_only=false; if [ "$1" = --venv-only ]; then venv_only=true; shift; fi
venv_python=$1; base_python=$2; eda_venv=$3; collections=$4
root=$(cd "$(dirname "$0")/.." && pwd)
requirements=$root/tools/requirements-eda.txt
logs=$root/.work/logs/eda; mkdir -p "$logs"
start=$(date +%s)

# The major version of a Java runtime, from `java -version` ("17.0.15", or "1.8.0_392" for Java 8); empty if none.
java_major() {
  local java=$1 version
  version=$("$java" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)
  case $version in 1.*) version=${version#1.} ;; esac
  echo "${version%%[.+-]*}"
}
java=""
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then java=$JAVA_HOME/bin/java; else java=$(command -v java || true); fi
major=""; [ -n "$java" ] && major=$(java_major "$java")
why=""
if [ -z "$java" ]; then why="no Java runtime found (JAVA_HOME, java on PATH)";
elif [ -z "$major" ] || [ "$major" -lt 17 ]; then why="$java is Java ${major:-of an unknown version}, ansible-rulebook needs 17 or newer"; fi

if [ -z "$why" ]; then
  if [ ! -f "$eda_venv/.stamp" ] || [ "$requirements" -nt "$eda_venv/.stamp" ]; then
    echo "== installing ansible-rulebook into ${eda_venv#"$root"/} (tools/requirements-eda.txt)"
    rm -rf "$eda_venv"
    "$base_python" -m venv "$eda_venv" && \
      "$eda_venv/bin/python" -m pip --disable-pip-version-check -q install -r "$requirements" && \
      touch "$eda_venv/.stamp" || { echo "FAILED: could not install tools/requirements-eda.txt into $eda_venv"; exit 1; }
  fi
  $venv_only && exit 0
  echo "== $("$eda_venv/bin/ansible-rulebook" --version | head -n 1), Java $major ($java)"
fi
$venv_only && exit 0

run() {  # run <name> [VAR=value ...] -- <pytest args>: pytest in the background, its output in $logs/<name>.log
  local name=$1; shift
  local vars=()
  while [ "$1" != -- ]; do vars+=("$1"); shift; done; shift
  ( cd "$root" && env "${vars[@]}" PYTHONPATH="$root/tests:$collections" ANSIBLE_COLLECTIONS_PATH="$collections" \
      "$venv_python" -m pytest -q -p no:cacheprovider "$@" >"$logs/$name.log" 2>&1 ) &
}
# The source's tests in SHARDS shards side by side (tests/eda/conftest.py: EDA_SHARD), each with its own emulator.
shards=${EDA_SHARDS:-2}
pids=()
for i in $(seq 1 "$shards"); do
  run "job_sessions-$i" EDA_SHARD="$i/$shards" -- tests/eda/test_job_sessions.py
  pids+=($!)
done
if [ -z "$why" ]; then
  run rulebook EDA_VENV="$eda_venv" -- tests/eda/test_rulebook.py -rs
  pid_rulebook=$!
fi
rc=0
for i in $(seq 1 "$shards"); do
  wait "${pids[$((i - 1))]}" || rc=1
  echo "== the event source against the emulator (tests/eda/test_job_sessions.py, part $i of $shards)"
  cat "$logs/job_sessions-$i.log"
done
if [ -z "$why" ]; then
  wait "$pid_rulebook" || rc=1
  echo "== the example rulebook under ansible-rulebook against the emulator (tests/eda/test_rulebook.py)"
  cat "$logs/rulebook.log"
  if grep -q -E "[0-9]+ skipped" "$logs/rulebook.log"; then echo "FAILED: the ansible-rulebook check was skipped"; rc=1; fi
else
  echo "NOT RUN: the ansible-rulebook check (tests/eda/test_rulebook.py: the example rulebook retries a failed job once): $why"
  [ -n "${SKIPPED_FILE:-}" ] && echo "ansible-rulebook check (needs Java 17: $why)" >> "$SKIPPED_FILE"
  if [ "${CI:-}" = true ]; then echo "CI=true: a check that cannot run fails the run (install a Java 17 runtime)"; rc=1; fi
fi
echo "== make eda: $(( $(date +%s) - start )) s"
exit $rc
