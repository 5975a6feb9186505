#!/bin/sh
# tests/bench/inspect.sh [RUNS]: wall time of `kexec-measured inspect` on a >= 50 MB UKI
# (Debian's systemd-stub + kernel + a 48 MiB initrd of random data), next to `sha256sum` of the
# same file, RUNS times each (default 5), then the median. Numbers only; no pass/fail.
# Builds target/kexec-measured first when it is missing.
set -eu
runs=${1:-5}
repo=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
tool="$repo/target/kexec-measured"
[ -x "$tool" ] || (cd "$repo" && mvn -B -ntp -q package -DskipTests)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$repo/tests/bin/make-uki" "$work" >/dev/null
head -c $((48 * 1024 * 1024)) /dev/urandom > "$work/big-initrd"
objcopy --remove-section .initrd "$work/demo.efi" "$work/base.efi"
objcopy --add-section .initrd="$work/big-initrd" --change-section-vma .initrd=0x3000000 "$work/base.efi" "$work/big.efi"
uki="$work/big.efi"
size=$(stat -c %s "$uki")
echo "UKI: $size bytes ($(( size / 1048576 )) MiB), $(nproc) CPUs, $(java -version 2>&1 | head -n 1)"

# Wall time per run, plus the CPU time (user+sys) of the last run: on a shared machine the wall
# time includes waiting for a core, the CPU time does not.
measure() { # label command...
  label=$1; shift
  times=""
  i=0
  while [ "$i" -lt "$runs" ]; do
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" > /dev/null
    read -r wall user sys < "$work/time"
    times="$times $(awk "BEGIN {printf \"%d\", $wall * 1000}")"
    i=$((i + 1))
  done
  median=$(printf '%s\n' $times | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  cpu=$(awk "BEGIN {printf \"%d\", ($user + $sys) * 1000}")
  printf '%-36s wall ms:%s  median %s ms  (cpu %s ms)\n' "$label" "$times" "$median" "$cpu"
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$tool" inspect "$uki" > /dev/null # warm the page cache
measure "sha256sum" sha256sum "$uki"
measure "kexec-measured inspect" "$tool" inspect "$uki"
measure "kexec-measured inspect --json" "$tool" inspect --json "$uki"
measure "kexec-measured --version (JVM start)" "$tool" --version
