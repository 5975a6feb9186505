#!/bin/sh
# Fixed start-up cost (issue 14: `--version` <= 0.15 s, `eventlog show` of a real log <= 0.25 s), side by
# side with a JVM hello-world under the launcher's flags, with and without the build's class-data-sharing
# archive (target/kexec-measured.jsa), and tpm2_eventlog as the native reference for `eventlog show`.
# Median of RUNS runs each, wall and CPU (user+sys) seconds: on a shared machine CPU time is the steadier one.
# The event log is this machine's firmware log when readable, else a real firmware log from the test fixtures.
# BEFORE=LAUNCHER adds another build's launcher (e.g. main's target/kexec-measured in a second worktree) side by side.
# Usage: [BEFORE=LAUNCHER] tests/bench/startup.sh [RUNS]   (after `mvn -B -ntp -q package -DskipTests`)
set -eu
cd "$(dirname "$0")/../.."
km=target/kexec-measured
[ -x "$km" ] || { echo "build first: mvn -B -ntp -q package -DskipTests" >&2; exit 2; }
runs=${1:-7}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log=/sys/kernel/security/tpm0/binary_bios_measurements
if [ -r "$log" ]; then cp "$log" "$tmp/log.bin"; what="this machine's firmware log"
else cp src/test/resources/eventlogs/gce-v2-sevsnp-ebs-failure.bin "$tmp/log.bin"; what="a real firmware log (GCE, 117 records: test fixture)"; fi
mkdir "$tmp/hello"
printf 'public class Hello { public static void main(String[] a) { System.out.println("hello"); } }\n' \
  > "$tmp/hello/Hello.java"
javac -d "$tmp/hello" "$tmp/hello/Hello.java"
jar=$(readlink -f target/kexec-measured.jar)
flags="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto"

# median NAME CMD...: runs CMD $runs times, prints the median wall and CPU seconds
median() {
  name=$1; shift
  i=0
  : > "$tmp/times"
  while [ "$i" -lt "$runs" ]; do
    /usr/bin/time -f '%e %U %S' -o "$tmp/t" "$@" >/dev/null 2>&1 || { echo "$name: failed" >&2; exit 1; }
    cat "$tmp/t" >> "$tmp/times"
    i=$((i + 1))
  done
  m=$(( (runs + 1) / 2 ))
  wall=$(awk '{ print $1 }' "$tmp/times" | sort -n | sed -n "${m}p")
  cpu=$(awk '{ print $2 + $3 }' "$tmp/times" | sort -n | sed -n "${m}p")
  printf '%-44s wall %6.3f s   cpu %6.3f s\n' "$name" "$wall" "$cpu"
}

echo "machine load: $(cut -d' ' -f1-3 /proc/loadavg); event log: $what; median of $runs"
# shellcheck disable=SC2086
median "JVM hello-world (launcher flags)" java $flags -cp "$tmp/hello" Hello
[ -n "${BEFORE:-}" ] && median "before: kexec-measured --version" "$BEFORE" --version
median "kexec-measured --version" "$km" --version
# shellcheck disable=SC2086
median "kexec-measured --version, no CDS archive" java $flags -jar "$jar" --version
[ -n "${BEFORE:-}" ] && median "before: kexec-measured eventlog show" "$BEFORE" eventlog show "$tmp/log.bin"
median "kexec-measured eventlog show" "$km" eventlog show "$tmp/log.bin"
# shellcheck disable=SC2086
median "kexec-measured eventlog show, no CDS archive" java $flags -jar "$jar" eventlog show "$tmp/log.bin"
if command -v tpm2_eventlog >/dev/null; then
  median "tpm2_eventlog" tpm2_eventlog "$tmp/log.bin"
fi
