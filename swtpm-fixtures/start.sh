#!/bin/sh
# Starts swtpm on loopback for the state in DIR, as a daemon with DIR/swtpm.pid.
# Usage: start.sh DIR PORT CTRLPORT        (TCP on 127.0.0.1; tpm2-tools: -T swtpm:host=127.0.0.1,port=PORT)
#        start.sh DIR /path/data.sock /path/ctrl.sock   (Unix sockets; our TCTI: swtpm:path=/path/data.sock)
# The TPM is powered on and started (TPM2_Startup(CLEAR)) by swtpm itself.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 DIR PORT CTRLPORT | $0 DIR DATA.sock CTRL.sock" >&2; exit 2; }
DIR=$1; DATA=$2; CTRL=$3
command -v swtpm >/dev/null 2>&1 || { echo "$0: swtpm not found (Debian package swtpm)" >&2; exit 1; }
case "$DATA" in
  /*) SERVER="type=unixio,path=$DATA" ;;
  *) SERVER="type=tcp,port=$DATA,bindaddr=127.0.0.1" ;;
esac
case "$CTRL" in
  /*) CTRLOPT="type=unixio,path=$CTRL" ;;
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
