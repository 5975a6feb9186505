#!/bin/sh
# How `boot --no-load` grows with the payload (issue 14): UKIs of 8, 30, 60 and 120 MiB (Debian's
# systemd-stub + kernel + an initrd of incompressible data), each against a fresh swtpm (sha1, sha256,
# sha384), with the engine of native/unicorn and with Debian's libunicorn2 side by side.
# Per run: process wall and CPU seconds (user+sys: steadier than wall on a loaded machine), the per-phase split
# from --json stats (JVM start, payload read, plan = emulation + hashing + the rest, commit), minor page faults,
# and the bytes hashed (the initrd once: systemd-stub's .initrd
# measurement and the Linux stub's initrd measurement share their digests); baseline:
# a JVM hello-world (same flags as the launcher) + `sha256sum` of the UKI, the floor the goal is
# stated against (60 MiB: <= 0.75 s wall and <= 3x the baseline). The cost should grow with size only
# through hashing (each byte once per bank).
# ENGINES: "ours" (this build), "debian" (this build on Debian's libunicorn2), and "before=LAUNCHER" (another
# build's target/kexec-measured, e.g. main's in a second worktree: before/after side by side in one run).
# Usage: [ENGINES="ours debian"] tests/bench/boot-sizes.sh [SIZES_MIB...]   (after `mvn -B -ntp -q package -DskipTests`)
set -eu
cd "$(dirname "$0")/../.."
km=target/kexec-measured
[ -x "$km" ] || { echo "build first: mvn -B -ntp -q package -DskipTests" >&2; exit 2; }
command -v jq >/dev/null || { echo "jq missing (Debian package jq)" >&2; exit 2; }
sizes=${*:-8 30 60 120}
tmp=$(mktemp -d)
trap 'swtpm-fixtures/stop.sh "$tmp/tpm" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
tests/bin/make-uki "$tmp/base" >/dev/null
tests/bin/synth-eventlog --events 0 --banks sha1,sha256,sha384 -o "$tmp/fw.bin" >/dev/null
mkdir "$tmp/tpm" "$tmp/hello"
swtpm-fixtures/create-state.sh "$tmp/tpm" --pcr-banks sha1,sha256,sha384 >/dev/null
port=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) * 2 }')
tcti="swtpm:host=127.0.0.1,port=$port"
printf 'public class Hello { public static void main(String[] a) { System.out.println("hello"); } }\n' \
  > "$tmp/hello/Hello.java"
javac -d "$tmp/hello" "$tmp/hello/Hello.java"

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }

# uki SIZE_MIB: the base UKI with an initrd that brings the file to about SIZE_MIB
uki() {
  f="$tmp/uki-$1.efi"
  base=$(stat -c %s "$tmp/base/demo.efi")
  pad=$(( $1 * 1048576 - base ))
  [ "$pad" -gt 4096 ] || pad=4096
  head -c "$pad" /dev/urandom > "$tmp/initrd-$1"
  objcopy \
    --add-section .osrel="$tmp/base/os-release" --change-section-vma .osrel=0x20000 \
    --add-section .cmdline="$tmp/base/cmdline.txt" --change-section-vma .cmdline=0x30000 \
    --add-section .linux="$tmp/base/vmlinuz" --change-section-vma .linux=0x2000000 \
    --add-section .initrd="$tmp/initrd-$1" --change-section-vma .initrd=0x3000000 \
    /usr/lib/systemd/boot/efi/linuxx64.efi.stub "$f"
  echo "$f"
}

# run ENGINE FILE: one boot against a freshly started TPM; prints "wall cpu boot emulation hashing hashedMiB" (s)
run() {
  swtpm-fixtures/stop.sh "$tmp/tpm" >/dev/null 2>&1 || true
  swtpm-fixtures/start.sh "$tmp/tpm" "$port" $((port + 1)) >/dev/null
  rm -rf "$tmp/state"
  opts=""
  launcher=$km
  case $1 in
    debian) opts="-Dkexecmeasured.unicorn=system -Djna.library.path=/nonexistent" ;;
    *=*) launcher=${1#*=} ;;
  esac
  KEXEC_MEASURED_JAVA_OPTS="$opts" /usr/bin/time -f '%e %U %S' -o "$tmp/time" "$launcher" boot "$2" --tpm "$tcti" \
    --firmware-log "$tmp/fw.bin" --state-dir "$tmp/state" --no-load --json > "$tmp/out.json"
  read -r wall user sys < "$tmp/time"
  jq -r --arg wall "$wall" --arg cpu "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" \
    '.stats | "\($wall) \($cpu) \(.jvmStartMicros / 1e6) \(.readMicros // 0 | . / 1e6) \(.emulationMicros / 1e6) \(.hashMicros / 1e6) \(.planMicros / 1e6) \(.commitMicros / 1e6) \(.processMinorFaults // -1) \(.hashBytes / 1048576)"' \
    "$tmp/out.json"
}

engines=${ENGINES:-ours debian}
echo "machine load: $(cut -d' ' -f1-3 /proc/loadavg) (timings on a shared machine are noisy: compare within a size; CPU seconds are steadier)"
echo "per run: process wall and CPU (user+sys) s; from --json stats: JVM start (exec until the command runs: JVM, picocli), payload read, plan (of which"
echo "emulation and hashing), commit (TPM extends, journal, outputs), minor page faults, MiB hashed (each byte once for all banks)"
printf '%-9s %-8s %7s %6s | %6s %6s %6s %6s %6s %6s %7s %6s\n' UKI build wall cpu jvm read plan emul hash commit faults MiB
for s in $sizes; do
  f=$(uki "$s")
  size=$(awk -v b="$(stat -c %s "$f")" 'BEGIN { printf "%.1f MiB", b / 1048576 }')
  for e in $engines; do
    set -- $(run "$e" "$f")
    printf '%-9s %-8s %7.3f %6.2f | %6.3f %6.3f %6.3f %6.3f %6.3f %6.3f %7s %6.1f\n' "$size" "${e%%=*}" "$1" "$2" "$3" "$4" "$7" "$5" "$6" "$8" "$9" "${10}"
  done
  /usr/bin/time -f '%e %U %S' -o "$tmp/t1" java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -cp "$tmp/hello" Hello >/dev/null
  /usr/bin/time -f '%e %U %S' -o "$tmp/t2" sha256sum "$f" >/dev/null
  cat "$tmp/t1" "$tmp/t2" | awk -v s="$size" '{ w += $1; c += $2 + $3 } END { printf "%-9s %-8s %7.3f %6.2f | goal (60 MiB): wall <= 0.75 s and <= 3x this wall (%.2f s)\n", s, "baseline", w, c, 3 * w }'
done
