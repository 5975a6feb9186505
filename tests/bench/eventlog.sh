#!/bin/bash
# Bench (not a test): parse+replay of synthetic crypto-agile logs (sha1+sha256+sha384) by
# `kexec-measured eventlog replay` versus `tpm2_eventlog`, both as whole processes, at
# 10 000 and 100 000 events (linearity). Prints the best of RUNS wall-clock times per tool.
# Usage: [EVENTLOG_BENCH_SIZES="10000 100000"] tests/bench/eventlog.sh [RUNS]   (needs `mvn package`, tpm2-tools)
set -eu
cd "$(dirname "$0")/../.."
runs=${1:-3}
km=target/kexec-measured
[ -x "$km" ] || { echo "bench: $km missing; run 'mvn -B -ntp package -DskipTests' first" >&2; exit 2; }
command -v tpm2_eventlog >/dev/null || { echo "bench: tpm2_eventlog missing (Debian package tpm2-tools)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

best() { # best wall time in seconds of "$@" over $runs runs, output discarded
  local b="" t
  for _ in $(seq "$runs"); do
    t=$( { TIMEFORMAT=%R; time "$@" >/dev/null 2>&1; } 2>&1 )
    if [ -z "$b" ] || awk "BEGIN{exit !($t < $b)}"; then b=$t; fi
  done
  echo "$b"
}

printf '%-9s %10s %12s %14s %8s\n' events bytes ours_s tpm2_eventlog_s speedup
for n in ${EVENTLOG_BENCH_SIZES:-10000 100000}; do
  f="$work/synth-$n.bin"
  tests/bin/synth-eventlog --events "$n" --banks sha1,sha256,sha384 -o "$f" >/dev/null
  # the two must agree before their speed means anything (no EV_NO_ACTION besides the Spec ID here)
  norm() { awk '/^ *[a-z0-9_]+:$/ {b=$1; sub(":","",b); next} /: 0x/ {i=$1; sub(":","",i); v=$NF; sub("0x","",v); print b, i+0, tolower(v)}'; }
  ours=$("$km" eventlog replay "$f" | norm)
  theirs=$(tpm2_eventlog "$f" 2>/dev/null | sed -n '/^pcrs:/,$p' | sed 1d | norm)
  [ -n "$theirs" ] && [ "$ours" = "$theirs" ] || { echo "bench: replay differs from tpm2_eventlog for $f" >&2; exit 1; }
  to=$(best "$km" eventlog replay "$f")
  tt=$(best tpm2_eventlog "$f")
  printf '%-9s %10s %12s %14s %7.1fx\n' "$n" "$(stat -c %s "$f")" "$to" "$tt" "$(awk "BEGIN{print $tt/$to}")"
done
