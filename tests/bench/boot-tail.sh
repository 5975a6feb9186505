#!/bin/sh
# The steps of `boot --no-load` after the plan (issue 14): decide, sidecar, checkOutputs, load, commit (19 extends
# and the journal), writeOutputs, archive — median per step over N alternating runs of each build (--json
# stepMicros), with process wall and CPU, and one run of each under strace counting the calls that force data to
# disk (fsync, fdatasync) and the renames. A 60 MiB UKI (Debian's systemd-stub + kernel + random initrd) against
# a fresh swtpm (sha1, sha256, sha384) per run. ENGINES as in boot-sizes.sh: "ours" (this build) and
# "before=LAUNCHER" (another build's target/kexec-measured): before/after side by side in one run.
# Usage: [ENGINES="before=/path/target/kexec-measured ours"] [RUNS=7] tests/bench/boot-tail.sh [SIZE_MIB]
#        (after `mvn -B -ntp -q package -DskipTests`; needs jq, python3, strace)
set -eu
cd "$(dirname "$0")/../.."
km=target/kexec-measured
[ -x "$km" ] || { echo "build first: mvn -B -ntp -q package -DskipTests" >&2; exit 2; }
for c in jq python3 strace; do command -v $c >/dev/null || { echo "$c missing (Debian package $c)" >&2; exit 2; }; done
size=${1:-60}
runs=${RUNS:-7}
engines=${ENGINES:-ours}
tmp=$(mktemp -d)
trap 'swtpm-fixtures/stop.sh "$tmp/tpm" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
tests/bin/make-uki "$tmp/base" >/dev/null
tests/bin/synth-eventlog --events 0 --banks sha1,sha256,sha384 -o "$tmp/fw.bin" >/dev/null
mkdir "$tmp/tpm0"
swtpm-fixtures/create-state.sh "$tmp/tpm0" --pcr-banks sha1,sha256,sha384 >/dev/null
port=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) * 2 }')
tcti="swtpm:host=127.0.0.1,port=$port"
base=$(stat -c %s "$tmp/base/demo.efi")
pad=$(( size * 1048576 - base )); [ "$pad" -gt 4096 ] || pad=4096
head -c "$pad" /dev/urandom > "$tmp/initrd"
uki=$tmp/uki.efi
objcopy \
  --add-section .osrel="$tmp/base/os-release" --change-section-vma .osrel=0x20000 \
  --add-section .cmdline="$tmp/base/cmdline.txt" --change-section-vma .cmdline=0x30000 \
  --add-section .linux="$tmp/base/vmlinuz" --change-section-vma .linux=0x2000000 \
  --add-section .initrd="$tmp/initrd" --change-section-vma .initrd=0x3000000 \
  /usr/lib/systemd/boot/efi/linuxx64.efi.stub "$uki"

# run LAUNCHER [WRAPPER...]: one boot against a TPM in its manufactured state (a copy of tpm0)
run() {
  launcher=$1; shift
  swtpm-fixtures/stop.sh "$tmp/tpm" >/dev/null 2>&1 || true
  rm -rf "$tmp/tpm" "$tmp/state"; cp -a "$tmp/tpm0" "$tmp/tpm"
  swtpm-fixtures/start.sh "$tmp/tpm" "$port" $((port + 1)) >/dev/null
  "$@" "$launcher" boot "$uki" --tpm "$tcti" --firmware-log "$tmp/fw.bin" --state-dir "$tmp/state" --no-load --json \
    > "$tmp/out.json"
}

: > "$tmp/steps.tsv"
i=0
while [ "$i" -lt "$runs" ]; do
  for e in $engines; do
    name=${e%%=*}; launcher=$km
    case $e in *=*) launcher=${e#*=} ;; esac
    run "$launcher" /usr/bin/time -f '%e %U %S' -o "$tmp/time"
    read -r wall user sys < "$tmp/time"
    jq -r --arg n "$name" --arg w "$wall" --arg c "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" \
      '.stats.stepMicros | [$n, $w, $c, .decide, .sidecar, .checkOutputs, .load, .commit, .writeOutputs, .archive] | @tsv' \
      "$tmp/out.json" >> "$tmp/steps.tsv"
  done
  i=$((i + 1))
done
for e in $engines; do
  name=${e%%=*}; launcher=$km
  case $e in *=*) launcher=${e#*=} ;; esac
  run "$launcher" strace -f -c -o "$tmp/strace" -e trace=fsync,fdatasync,rename,renameat2
  printf '%s' "$name" >> "$tmp/syscalls"
  for c in fsync fdatasync rename renameat2; do
    printf ' %s' "$(awk -v c="$c" '$NF == c { print $4 }' "$tmp/strace" | head -1)" >> "$tmp/syscalls"
  done
  echo >> "$tmp/syscalls"
done
echo "machine load: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine is noisy: compare builds within this run; CPU seconds are steadier)"
echo "$size MiB UKI, boot --no-load, 3 banks: medians of $runs runs per build (wall and CPU in s, steps in ms), then one run under strace"
python3 - "$tmp/steps.tsv" "$tmp/syscalls" <<'PY'
import statistics, sys
rows = [l.split('\t') for l in open(sys.argv[1]).read().splitlines() if l]
names = list(dict.fromkeys(r[0] for r in rows))
cols = ["wall", "cpu", "decide", "sidecar", "checkOut", "load", "commit", "writeOut", "archive", "afterPlan"]
print("%-8s" % "build" + "".join("%10s" % c for c in cols[:-1]) + "%11s" % cols[-1])
for n in names:
    r = [x for x in rows if x[0] == n]
    med = [statistics.median(float(x[i]) for x in r) for i in range(1, 10)]
    tail = statistics.median(sum(float(v) for v in x[3:10]) for x in r)
    print("%-8s" % n + "%10.2f%10.2f" % (med[0], med[1]) + "".join("%10.1f" % (m / 1000) for m in med[2:]) + "%11.1f" % (tail / 1000))
print("%-8s%10s%10s%10s%10s" % ("build", "fsync", "fdatasync", "rename", "renameat2"))
for l in open(sys.argv[2]).read().splitlines():
    f = l.split(' ')
    print("%-8s" % f[0] + "".join("%10s" % (v or "0") for v in f[1:]))
PY
