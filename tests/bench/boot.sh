#!/bin/sh
# Bench of `kexec-measured boot --no-load` (run after `mvn -B -ntp -q package -DskipTests`): the test UKI
# (tests/bin/make-uki) against a fresh swtpm with banks sha1,sha256,sha384. The firmware log is a Spec-ID-only
# log (tests/bin/synth-eventlog --events 0), which is what a fresh TPM's PCRs replay to.
# Prints per run: process wall time, the command's own wall time (plan, commit), emulation time, TPM commands
# by name (plan: 1 GetCapability + PCR read batch + 1 GetRandom; commit: the stale-plan PCR read + one
# TPM2_PCR_Extend per extended event), and hashing time for large sections (≥ 1 MiB: kernel, initrd, UKI) —
# each byte is read once for all three banks.
# Usage: tests/bench/boot.sh [RUNS]
set -eu
cd "$(dirname "$0")/../.."
km=target/kexec-measured
[ -x "$km" ] || { echo "build first: mvn -B -ntp -q package -DskipTests" >&2; exit 2; }
command -v jq >/dev/null || { echo "jq missing (Debian package jq)" >&2; exit 2; }
runs=${1:-3}
tmp=$(mktemp -d)
trap 'swtpm-fixtures/stop.sh "$tmp/tpm" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
tests/bin/make-uki "$tmp/uki" >/dev/null
tests/bin/synth-eventlog --events 0 --banks sha1,sha256,sha384 -o "$tmp/fw.bin" >/dev/null
mkdir "$tmp/tpm"
swtpm-fixtures/create-state.sh "$tmp/tpm" --pcr-banks sha1,sha256,sha384 >/dev/null
port=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) * 2 }')
swtpm-fixtures/start.sh "$tmp/tpm" "$port" $((port + 1)) >/dev/null
tcti="swtpm:host=127.0.0.1,port=$port"

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
i=1
while [ "$i" -le "$runs" ]; do
  # each run is a new "machine": restart the TPM (PCRs back to the fresh state) and a new state dir
  swtpm-fixtures/stop.sh "$tmp/tpm" >/dev/null
  swtpm-fixtures/start.sh "$tmp/tpm" "$port" $((port + 1)) >/dev/null
  t0=$(now)
  "$km" boot "$tmp/uki/demo.efi" --tpm "$tcti" --firmware-log "$tmp/fw.bin" --state-dir "$tmp/state$i" \
      --no-load --json > "$tmp/out.json"
  t1=$(now)
  jq -r --arg wall "$(sub "$t1" "$t0")" --arg i "$i" '.stats as $s |
    "run \($i): process wall \($wall) s; boot \($s.wallMicros / 1000 | floor) ms (plan \($s.planMicros / 1000 | floor) ms, " +
    "of which emulation \($s.emulationMicros / 1000 | floor) ms; commit \($s.commitMicros / 1000 | floor) ms); " +
    "TPM commands \($s.tpmCommands) = \($s.tpmCommandsByName | to_entries | map("\(.value) \(.key | sub("^TPM2_"; ""))") | join(" + ")); " +
    "hashing \($s.hashMicros / 1000 | floor) ms for \($s.hashBytes / 1048576 * 10 | floor / 10) MiB, of which large sections " +
    "\($s.largeHashMicros / 1000 | floor) ms for \($s.largeHashBytes / 1048576 * 10 | floor / 10) MiB (3 banks, one pass)"' "$tmp/out.json"
  i=$((i + 1))
done
