#!/bin/sh
# Stops the swtpm started by start.sh DIR (SIGTERM, then SIGKILL after 5 s). Idempotent.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
PIDFILE=$1/swtpm.pid
[ -s "$PIDFILE" ] || exit 0
PID=$(cat "$PIDFILE")
# only signal a process that really is swtpm (the pid may have been reused)
if [ -r "/proc/$PID/comm" ] && [ "$(cat "/proc/$PID/comm")" = swtpm ]; then
  kill -CONT "$PID" 2>/dev/null || true
  kill "$PID" 2>/dev/null || true
  i=0
  while kill -0 "$PID" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then kill -KILL "$PID" 2>/dev/null || true; break; fi
    sleep 0.05
  done
fi
rm -f "$PIDFILE"
