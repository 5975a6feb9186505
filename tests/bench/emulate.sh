#!/bin/sh
# Bench of the UEFI emulator (run after `mvn -B -ntp -q package -DskipTests`):
#  1. JVM start-up alone (kexec-measured --version)
#  2. UKI (tests/bin/make-uki) → kernel cut-over: emulation time as reported by the command
#  3. --full-emulation of the Debian kernel to the post-ExitBootServices jump with the engine of native/unicorn
#     and with Debian's libunicorn2: total time and an estimate of guest instructions per second from the
#     instruction count measured for the 6.1.170 stub (4,496,231,070; uefi-subset.md §2.1) — this emulator
#     does not count instructions on its fast path.
# Usage: tests/bench/emulate.sh [--no-full]
set -eu
cd "$(dirname "$0")/../.."
km=target/kexec-measured
[ -x "$km" ] || { echo "build first: mvn -B -ntp -q package -DskipTests" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tests/bin/make-uki "$tmp/uki" >/dev/null

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
t0=$(now); "$km" --version >/dev/null; t1=$(now)
echo "jvm start (--version): $(sub "$t1" "$t0") s"

for i in 1 2 3; do
  t0=$(now)
  line=$("$km" emulate "$tmp/uki/demo.efi" | grep '^emulation:')
  t1=$(now)
  echo "uki -> cut-over run $i: ${line#emulation: } (process wall $(sub "$t1" "$t0") s)"
done

esp="$tmp/esp"
mkdir -p "$esp/EFI/BOOT" "$esp/EFI/Linux" "$esp/loader"
cp /usr/lib/systemd/boot/efi/systemd-bootx64.efi "$esp/EFI/BOOT/BOOTX64.EFI"
cp "$tmp/uki/demo.efi" "$esp/EFI/Linux/debian-uki.efi"
printf 'timeout 0\n' > "$esp/loader/loader.conf"
t0=$(now)
line=$("$km" emulate "$esp/EFI/BOOT/BOOTX64.EFI" --esp "$esp" | grep '^emulation:')
t1=$(now)
echo "systemd-boot -> uki -> cut-over: ${line#emulation: } (process wall $(sub "$t1" "$t0") s)"

[ "${1:-}" = "--no-full" ] && exit 0
# Full emulation with each engine, side by side: the engine of native/unicorn (what the launcher
# loads when it was built) and Debian's libunicorn2 2.0.1 (the baseline; issue 14 goal: <= 15 s).
echo "machine load: $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: compare the two lines, not runs of different days)"
for engine in native/unicorn debian; do
  opts=""
  [ "$engine" = debian ] && opts="-Dkexecmeasured.unicorn=system -Djna.library.path=/nonexistent"
  t0=$(now)
  line=$(KEXEC_MEASURED_JAVA_OPTS="$opts" "$km" emulate "$tmp/uki/vmlinuz" --initrd "$tmp/uki/initrd.cpio" \
    --append "console=ttyS0 root=/dev/vda ro" --full-emulation --time-budget 600s | grep '^emulation:')
  t1=$(now)
  secs=$(echo "$line" | sed 's/.*calls, \([0-9.]*\) s/\1/')
  echo "full emulation to the post-EBS jump, $engine: ${line#emulation: } (process wall $(sub "$t1" "$t0") s)," \
    "~$(awk -v s="$secs" 'BEGIN { printf "%.0f", 4496231070 / s / 1e6 }') M guest instructions/s (count: uefi-subset.md §2.1)"
done
