#!/bin/sh
# Bench: a prepared measured kexec against a reboot through the firmware, in the same VM, one run
# (tests/e2e/run bench: OVMF → bench1 → `kexec-measured boot bench2.efi --exec` → bench2 → `reboot -f`
# → OVMF → bench1). Times are the host's, stamped on each console line as it arrives:
#   prepared kexec = "tool-start" in bench1 → bench2's /init;  reboot = "reboot-start" → bench1's /init.
# The tool's own time is split from its --json stats (written before the exec): JVM start, emulation,
# hashing, TPM (the commit's extends), the load syscall. Prints numbers; it is not a test. Timings taken while other work runs
# on the machine are noisy: compare the two columns of one run, not runs with each other.
# Usage: tests/bench/kexec-vs-reboot.sh   (after mvn -B -ntp -q package -DskipTests)
set -eu
cd "$(dirname "$0")/../.."
command -v jq >/dev/null || { echo "jq missing (Debian package jq)" >&2; exit 2; }
tests/e2e/run bench >/dev/null
run=target/e2e/bench
log=$run/console.log
ts() {  # ts PATTERN [AFTER]: host time of the first console line matching PATTERN after time AFTER
  awk -v p="$1" -v after="${2:-0}" '$1 > after && index($0, p) { print $1; exit }' "$log"
}
t_tool=$(ts "KM-MARK tool-start boot")
t_init2=$(ts "KM-MARK init" "$t_tool")
t_reboot=$(ts "KM-MARK reboot-start")
t_init1=$(ts "KM-MARK init" "$t_reboot")
[ -n "$t_tool" ] && [ -n "$t_init2" ] && [ -n "$t_reboot" ] && [ -n "$t_init1" ] || {
  echo "the bench run did not reach every mark; see $log" >&2; exit 1; }
kexec=$(awk -v a="$t_tool" -v b="$t_init2" 'BEGIN { printf "%.1f", b - a }')
reboot=$(awk -v a="$t_reboot" -v b="$t_init1" 'BEGIN { printf "%.1f", b - a }')
printf 'prepared kexec (tool start -> next /init):  %6s s\n' "$kexec"
printf 'reboot through OVMF (reboot -> /init):       %6s s\n' "$reboot"
awk -v k="$kexec" -v r="$reboot" 'BEGIN { printf "reboot / kexec:                              %6.2f x (goal >= 2)\n", r / k }'
# boot --json's stats (cli/BootCommand): no separate TPM clock exists; the TPM's share is the commit (the
# extends, with the journal's fsyncs around each) and the PCR reads inside the plan
jq -r --arg total "$kexec" '.stats as $s | def s(x): (x / 1e5 | floor) / 10;
  "tool (of the \($total) s): JVM start \(s($s.jvmStartMicros)) s; then wall \(s($s.wallMicros)) s = plan \(s($s.planMicros)) s " +
  "(emulation \(s($s.emulationMicros)) s, hashing \(s($s.hashMicros)) s of \($s.hashBytes) bytes, the rest PCR reads, log and policy) + " +
  "commit \(s($s.commitMicros)) s (TPM: \($s.extendCommands) extends, \($s.tpmCommands) commands in all, journal) + " +
  "kexec_file_load \(s($s.loadMicros)) s + other \(s($s.wallMicros - $s.planMicros - $s.commitMicros - $s.loadMicros)) s " +
  "(decision, sidecar built, outputs written and archived); the rest is the kexec reboot and the next kernel up to /init"' "$run/out/bench1/boot.json"
echo "baseline (reference machine, quiet, tests/e2e README): reboot through OVMF -> /init 11.1 s; kexec -e -> /init 6.2 s"
uptime | sed 's/^/load while measuring: /'
