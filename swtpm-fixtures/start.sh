#!/bin/sh
# Starts swtpm on loopback for the state in DIR, as a daemon with DIR/swtpm.pid.
# Usage: start.sh DIR PORT CTRLPORT        (TCP on 127.0.0.1; tpm2-tools: -T swtpm:host=127.0.0.1,port=PORT)
#        start.sh DIR /path/data.sock /path/ctrl.sock   (Unix sockets; our TCTI: swtpm:path=/path/data.sock)
# DIR and socket paths may be relative to the current directory.
# The TPM is powered on and started (TPM2_Startup(CLEAR)) by swtpm itself.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 DIR PORT CTRLPORT | $0 DIR DATA.sock CTRL.sock" >&2; exit 2; }
DIR=$1; DATA=$2; CTRL=$3
command -v swtpm >/dev/null 2>&1 || { echo "$0: swtpm not found (Debian package swtpm)" >&2; exit 1; }
# swtpm --daemon changes to / before it opens the state, pid and log files: every path must be
# absolute, or a relative DIR leaves swtpm without its state (failure mode) and no pid file
[ -d "$DIR" ] || { echo "$0: $DIR is not a directory (create-state.sh makes it)" >&2; exit 2; }
DIR=$(CDPATH= cd -- "$DIR" && pwd)
abs() { case "$1" in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
# a port is all digits; anything else is a Unix socket path
case "$DATA" in
  ''|*[!0-9]*) SERVER="type=unixio,path=$(abs "$DATA")" ;;
  *) SERVER="type=tcp,port=$DATA,bindaddr=127.0.0.1" ;;
esac
case "$CTRL" in
  ''|*[!0-9]*) CTRLOPT="type=unixio,path=$(abs "$CTRL")" ;;
  *) CTRLOPT="type=tcp,port=$CTRL,bindaddr=127.0.0.1" ;;
esac
rm -f "$DIR/swtpm.pid"
swtpm socket --tpm2 --tpmstate dir="$DIR" \
  --server "$SERVER" --ctrl "$CTRLOPT" \
  --flags not-need-init,startup-clear \
  --pid file="$DIR/swtpm.pid" --log file="$DIR/swtpm.log",level=1 --daemon
# --daemon returns once the sockets listen; the pid file follows right after
i=0
while [ ! -s "$DIR/swtpm.pid" ]; do
  i=$((i + 1))
  [ $i -le 100 ] || { echo "$0: swtpm did not write $DIR/swtpm.pid" >&2; cat "$DIR/swtpm.log" >&2 || true; exit 1; }
  sleep 0.05
done
