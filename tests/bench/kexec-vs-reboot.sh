#!/bin/sh
# Bench: measured kexec hand-overs against a reboot through the firmware, all in one VM run under TCG
# (tests/e2e/run bench). Times are the host's, stamped on each console line as it arrives; every interval ends
# at the next generation's "KM-MARK init" (its busybox /init, the first thing it runs):
#   (a) tool start -> /init       bench1: `kexec-measured boot bench2.efi --exec`, the issue's measure; the first
#                                 JVM of a fresh kernel, so the JDK and the tool are read over 9p (cold)
#   (b) prepared, commit at shutdown   bench2: `boot bench3.efi --at-shutdown` (plan, decision, load; nothing
#                                 extended) before the timer; timed: the package's system-shutdown hook (its JVM,
#                                 commit-pending: boundary and extends) and reboot(KEXEC) (`kexec -e`), as in
#                                 `systemctl kexec`
#   (c) prepared, committed at once    bench3: `boot bench4.efi` before the timer; timed: `kexec-measured exec`
#   (d) plain kexec-tools          bench4: `kexec -s -l` of the same kernel and busybox initrd before the timer;
#                                 timed: `kexec -e` (the floor: what the kernel's reboot and start cost)
#   (e) reboot through OVMF        bench5: sysrq reboot -> firmware -> bench1's UKI -> /init
# (b) and (c) run after their preparation read the tool's files, as an installed tool's are in memory once it ran.
# The tool's own time is split from its --json stats: JVM start, emulation, hashing, TPM (the commit's extends),
# the load syscall, and its CPU time. The guest's facts (bench2, out/bench2/facts.txt): CPU flags TCG gives it,
# what a JVM start costs there cold and warm, with and without class-data sharing, interpreted; and (bench3)
# how many classes the tool loads and how many come from its CDS archives.
# Prints numbers; it is not a test. Timings taken while other work runs on the machine are noisy: compare the
# rows of one run, not runs with each other.
# Usage: [E2E_BENCH_JAVA_OPTS=OPTIONS] tests/bench/kexec-vs-reboot.sh [RUNDIR]   (after mvn -B -ntp -q package
#        -DskipTests; with RUNDIR, the results of an earlier `tests/e2e/run bench` are read instead of booting the VM
#        again; E2E_BENCH_JAVA_OPTS: JVM options for every tool run of the bench but the facts, e.g. -Xint)
set -eu
cd "$(dirname "$0")/../.."
command -v jq >/dev/null || { echo "jq missing (Debian package jq)" >&2; exit 2; }
if [ $# -ge 1 ]; then run=$1; else tests/e2e/run bench >/dev/null; run=target/e2e/bench; fi
log=$run/console.log
ts() {  # ts PATTERN [AFTER]: host time of the first console line matching PATTERN after time AFTER
  awk -v p="$1" -v after="${2:-0}" '$1 > after && index($0, p) { print $1; exit }' "$log"
}
span() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
t_a=$(ts "KM-MARK tool-start boot"); i_a=$(ts "KM-MARK init" "$t_a")
t_bp=$(ts "KM-MARK tool-start prepare"); t_b=$(ts "KM-MARK handover-start at-shutdown")
t_bx=$(ts "KM-MARK handover-exec at-shutdown" "$t_b"); i_b=$(ts "KM-MARK init" "$t_b")
t_c=$(ts "KM-MARK handover-start exec"); i_c=$(ts "KM-MARK init" "$t_c")
t_d=$(ts "KM-MARK handover-start kexec-e"); i_d=$(ts "KM-MARK init" "$t_d")
t_e=$(ts "KM-MARK reboot-start"); i_e=$(ts "KM-MARK init" "$t_e")
a=$(span "$t_a" "$i_a") && b=$(span "$t_b" "$i_b") && c=$(span "$t_c" "$i_c") && d=$(span "$t_d" "$i_d") &&
  e=$(span "$t_e" "$i_e") || {
  echo "the bench run did not reach every mark; see $log" >&2
  grep 'KM-MARK bench-failed' "$log" >&2 || true
  exit 1
}
hook=$(span "$t_b" "$t_bx")
# QEMU's CPU seconds at a mark (tests/e2e/vm writes them to console-cpu.log): a loaded host stretches wall time
# more than the work the guest did
cpu_at() { [ ! -r "$run/console-cpu.log" ] || awk -v t="$1" '$1 == t { print $2; exit }' "$run/console-cpu.log"; }
cspan() { x=$(cpu_at "$1"); y=$(cpu_at "$2"); case "$x$y" in *-*|"") echo "-" ;; *) span "$x" "$y" ;; esac; }
ca=$(cspan "$t_a" "$i_a"); cb=$(cspan "$t_b" "$i_b"); cc=$(cspan "$t_c" "$i_c"); cd_=$(cspan "$t_d" "$i_d")
ce=$(cspan "$t_e" "$i_e")
opts=$(awk '/KM-MARK bench-java-opts/ { sub(/.*KM-MARK bench-java-opts /, ""); print; exit }' "$log")
[ -z "$opts" ] || echo "JVM options of the tool runs (E2E_BENCH_JAVA_OPTS): $opts"
printf '%-62s %8s %9s %16s\n' "interval (host time stamps of the guest's console)" "wall" "QEMU CPU" "reboot / this"
row() { awk -v n="$1" -v s="$2" -v c="$3" -v r="$e" -v rc="$ce" 'BEGIN {
  printf "%-62s %6.1f s %7s s %6.2f x", n, s, c, r / s
  if (c != "-" && rc != "-" && c > 0) printf " (CPU %.2f x)", rc / c
  printf "\n" }'; }
row "(a) tool start -> next /init (boot --exec, files cold)" "$a" "$ca"
row "(b) prepared --at-shutdown: hook (commit) + kexec -e -> /init" "$b" "$cb"
printf '%-62s %6s s %7s s\n' "      of which the shutdown hook (JVM + commit-pending)" "$hook" "$(cspan "$t_b" "$t_bx")"
row "(c) prepared, committed: kexec-measured exec -> /init" "$c" "$cc"
row "(d) plain kexec-tools: kexec -e -> /init (the floor)" "$d" "$cd_"
printf '%-62s %6.1f s %7s s   (goal: (a) >= 2x faster than this)\n' "(e) reboot through OVMF -> /init" "$e" "$ce"
kl=$(span "$(ts "KM-MARK kexec-load-start")" "$(ts "KM-MARK kexec-load-end")") || kl="-"
printf '%-62s %6s s   (the same kernel; the initrd without the sidecar)\n' "plain kexec -s -l before (d), not in (d)" "$kl"
# boot --json's stats (cli/BootCommand): no separate TPM clock exists; the TPM's share is the commit (the
# extends, with the journal's fsyncs around each) and the PCR reads inside the plan
# shellcheck disable=SC2016 # jq's own $variables
split='.stats as $s | def s(x): if x == null then "-" else ((x / 1e5 | floor) / 10 | tostring) end;
  "JVM start \(s($s.jvmStartMicros)) s; plan \(s($s.planMicros)) s (emulation \(s($s.emulationMicros)) s, hashing " +
  "\(s($s.hashMicros)) s of \($s.hashBytes // "-") bytes); kexec_file_load \(s($s.loadMicros)) s" +
  (if $s.commitMicros then "; commit \(s($s.commitMicros)) s (TPM: \($s.extendCommands) extends, \($s.tpmCommands) " +
     "commands); the run \(s($s.wallMicros)) s, process CPU \(s($s.processCpuMicros)) s"
   else "; nothing extended (the hook commits)" end) +
  (if $s.stepMicros then "\n      steps: " + ($s.stepMicros | to_entries | map("\(.key) \(s(.value))") | join(", ")) +
     " s; the load step beyond the syscall (the hand-over image built) \(s($s.stepMicros.load - $s.loadMicros)) s"
   else "" end) +
  (if $s.sinceProcessStartMicros and $s.wallMicros then
     "\n      set-up between the JVM start and the run (arguments, TPM opened, payload read \(s($s.readMicros)) s): " +
     "\(s($s.sinceProcessStartMicros - $s.jvmStartMicros - $s.wallMicros)) s"
   else "" end)'
for j in "bench1/boot:(a) boot --exec, cold" "bench2/prepare:(b) boot --at-shutdown, warm" "bench3/prepare:(c) boot, warm"; do
  f=$run/out/${j%%:*}.json
  printf 'tool %-28s %s\n' "${j#*:}" "$(jq -r "$split" "$f" 2>/dev/null || echo "no stats ($f)")"
done
echo "guest facts (bench2; cold = the first read over 9p after a kexec; warm = read before, in the page cache):"
grep -s '^cpu-flags' "$run/out/bench2/facts.txt" | sed 's/^/  /' || true
if [ -r "$run/console-cpu.log" ]; then
  awk 'NR == FNR { cpu[$1] = $2; next }
    /KM-MARK fact-start/ { s = $1 }
    /KM-MARK fact-end/ { printf "  %-42s %6.2f s wall %6.2f s QEMU CPU\n", $4, $1 - s, cpu[$1] - cpu[s] }' \
    "$run/console-cpu.log" "$log"
else
  grep -sv '^cpu-flags' "$run/out/bench2/facts.txt" | sed 's/^/  /' || true
fi
echo "classes the tool's boot loads (bench3's preparation, -Xlog:class+load) and how its archives mapped:"
sed 's/^/  /' "$run/out/bench3/classes.txt" 2>/dev/null || true
echo "baseline (reference machine, quiet, tests/e2e README): reboot through OVMF -> /init 11.1 s; kexec -e -> /init 6.2 s"
uptime | sed 's/^/load while measuring: /'
