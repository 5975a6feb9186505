#!/bin/sh
# How `boot --no-load` grows with the payload (issue 14): UKIs of 8, 30, 60 and 120 MiB (Debian's
# systemd-stub + kernel + an initrd of incompressible data), each against a fresh swtpm (sha1, sha256,
# sha384), with the engine of native/unicorn and with Debian's libunicorn2 side by side.
# Per run: process wall and CPU seconds (user+sys: steadier than wall on a loaded machine), the command's own
# wall, emulation and hashing (from --json stats) and the bytes hashed (the initrd once: systemd-stub's .initrd
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
    '.stats | "\($wall) \($cpu) \(.wallMicros / 1e6) \(.emulationMicros / 1e6) \(.hashMicros / 1e6) \(.hashBytes / 1048576)"' \
    "$tmp/out.json"
}

engines=${ENGINES:-ours debian}
echo "machine load: $(cut -d' ' -f1-3 /proc/loadavg) (timings on a shared machine are noisy: compare within a row; CPU seconds are steadier)"
printf '%8s |' "UKI"
for e in $engines; do printf ' %-52s |' "${e%%=*}: wall, cpu (boot: emul, hash; MiB hashed)"; done
printf ' %s\n' "baseline JVM hello + sha256sum: wall, cpu"
for s in $sizes; do
  f=$(uki "$s")
  printf '%4s MiB |' "$(awk -v b="$(stat -c %s "$f")" 'BEGIN { printf "%.1f", b / 1048576 }')"
  for e in $engines; do
    set -- $(run "$e" "$f")
    printf ' %-52s |' "$(printf '%6.3f s, %5.2f s (%5.3f: %5.3f, %5.3f; %5.1f)' "$1" "$2" "$3" "$4" "$5" "$6")"
  done
  /usr/bin/time -f '%e %U %S' -o "$tmp/t1" java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -cp "$tmp/hello" Hello >/dev/null
  /usr/bin/time -f '%e %U %S' -o "$tmp/t2" sha256sum "$f" >/dev/null
  cat "$tmp/t1" "$tmp/t2" | awk '{ w += $1; c += $2 + $3 } END { printf " %6.3f s, %5.2f s\n", w, c }'
done
