#!/usr/bin/env bash
# Start the Veeam emulator in the background (free ports unless EMULATOR_EM_PORT, EMULATOR_M365_PORT or
# EMULATOR_VBR_PORT are set) and wait until it is ready, or stop the one started before.
#   tools/emulator_ctl.sh start <dir> <python>     writes <dir>/endpoints.json, <dir>/emulator.pid, <dir>/emulator.log
#   tools/emulator_ctl.sh stop <dir>
set -u
cmd=$1; dir=$2
root=$(cd "$(dirname "$0")/.." && pwd)
pidfile="$dir/emulator.pid"
case "$cmd" in
start)
  python=$3
  mkdir -p "$dir"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "emulator already running (pid $(cat "$pidfile"))"; exit 0
  fi
  rm -f "$dir/endpoints.json"
  EMULATOR_DIR="$dir" EMULATOR_EM_PORT="${EMULATOR_EM_PORT:-0}" EMULATOR_M365_PORT="${EMULATOR_M365_PORT:-0}" \
    EMULATOR_VBR_PORT="${EMULATOR_VBR_PORT:-0}" PYTHONPATH="$root/tests" nohup "$python" -m emulator >"$dir/emulator.log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 300); do
    if grep -q ready "$dir/emulator.log" 2>/dev/null && [ -s "$dir/endpoints.json" ]; then
      echo "emulator ready: $(grep ready "$dir/emulator.log" | head -1)"; exit 0
    fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "emulator exited before it was ready; its log:"; cat "$dir/emulator.log"; exit 1
    fi
    sleep 0.1
  done
  echo "emulator not ready after 30 s; its log:"; cat "$dir/emulator.log"; exit 1
  ;;
stop)
  [ -f "$pidfile" ] || exit 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
  ;;
*) echo "usage: $0 start|stop <dir> [python]"; exit 2 ;;
esac
