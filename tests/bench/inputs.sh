#!/bin/bash
# Bench (not a test): wall time and peak RSS of the input-bound commands, for this build and, side
# by side, a baseline build (another checkout's target/ directory, e.g. of the previous main):
#   inspect of a >= 50 MB UKI (stub + kernel + 48 MiB random initrd), inspect of a 300 MB PE (sparse
#   section) in a 256 MiB heap, eventlog replay of a 100 000-record log, replay of /dev/zero (file and
#   stdin). Best of RUNS (default 3) per cell; a baseline that fails shows its exit code.
# Usage: tests/bench/inputs.sh [RUNS] [BASELINE_TARGET_DIR]     (needs `mvn package`, binutils, python3)
set -eu
cd "$(dirname "$0")/../.."
runs=${1:-3}
base=${2:-}
ours=target/kexec-measured
[ -x "$ours" ] || { echo "bench: $ours missing; run 'mvn -B -ntp package -DskipTests' first" >&2; exit 2; }
[ -z "$base" ] || [ -x "$base/kexec-measured" ] || { echo "bench: $base/kexec-measured missing" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tests/bin/make-uki "$work/uki" >/dev/null
head -c $((48 * 1024 * 1024)) /dev/urandom > "$work/big-initrd"
objcopy --remove-section .initrd "$work/uki/demo.efi" "$work/base.efi"
objcopy --add-section .initrd="$work/big-initrd" --change-section-vma .initrd=0x3000000 "$work/base.efi" "$work/uki55.efi"
python3 - "$work/pe300.efi" <<'EOF'
import struct, sys
b = bytearray(open('/usr/lib/systemd/boot/efi/systemd-bootx64.efi', 'rb').read())
coff = struct.unpack_from('<I', b, 0x3c)[0] + 4
n = struct.unpack_from('<H', b, coff + 2)[0]; opt = coff + 20
table = opt + struct.unpack_from('<H', b, coff + 16)[0]
soi, fa, sa = struct.unpack_from('<I', b, opt + 56)[0], struct.unpack_from('<I', b, opt + 36)[0], struct.unpack_from('<I', b, opt + 32)[0]
size = 300 << 20; raw = -(-len(b) // fa) * fa; va = -(-soi // sa) * sa
b[table + 40 * n:table + 40 * n + 40] = b'.big\0\0\0\0' + struct.pack('<IIIIIIHHI', size, va, size, raw, 0, 0, 0, 0, 0x40000040)
struct.pack_into('<H', b, coff + 2, n + 1); struct.pack_into('<I', b, opt + 56, va + size)
with open(sys.argv[1], 'wb') as f:
    f.write(b + b'\0' * (raw - len(b))); f.truncate(raw + size)
EOF
"$ours" eventlog synth --events 100000 --banks sha1,sha256,sha384 -o "$work/log100k.bin" >/dev/null 2>&1 || true

cell() { # tool opts stdin args... -> "best_s/peak_MiB" or "exit N"
  local tool=$1 opts=$2 in=$3; shift 3
  local best="" mem="" rc t m
  for _ in $(seq "$runs"); do
    rc=0
    KEXEC_MEASURED_JAVA_OPTS=$opts /usr/bin/time -f "%e %M" -o "$work/t" "$tool" "$@" < "$in" > /dev/null 2>&1 || rc=$?
    if [ $rc -ne 0 ] && [ $rc -ne 2 ]; then echo "exit $rc"; return; fi
    read -r t m < "$work/t"
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; mem=$((m / 1024)); fi
  done
  echo "${best}s/${mem}MiB(rc$rc)"
}

printf '%-44s %-26s %s\n' case "this build" "${base:-(no baseline)}"
row() { # label opts stdin args...
  local label=$1 opts=$2 in=$3; shift 3
  local a b="-"
  a=$(cell "$ours" "$opts" "$in" "$@")
  [ -z "$base" ] || b=$(cell "$base/kexec-measured" "$opts" "$in" "$@")
  printf '%-44s %-26s %s\n' "$label" "$a" "$b"
}
row "inspect 55 MiB UKI (default heap)" "" /dev/null inspect "$work/uki55.efi" --no-emulation
row "inspect 300 MB PE, -Xmx256m" "-Xmx256m" /dev/null inspect "$work/pe300.efi"
[ -f "$work/log100k.bin" ] && row "eventlog replay 100 000 records (16 MB)" "" /dev/null eventlog replay "$work/log100k.bin"
row "eventlog replay /dev/zero, -Xmx256m" "-Xmx256m" /dev/null eventlog replay /dev/zero
row "eventlog replay - < /dev/zero, -Xmx256m" "-Xmx256m" /dev/zero eventlog replay -
