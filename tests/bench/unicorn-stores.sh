#!/bin/sh
# Guest memory bandwidth of the Unicorn engine alone (tests/bench/unicorn-stores.c): Debian's libunicorn2
# (the baseline) and the build of native/unicorn/build.sh side by side, same machine, same run.
# 48 MiB per kernel, second pass; "hooks" = the emulator's hook set (trap-page code hook, CPUID, INTR,
# invalid memory). The goal of issue 14 is a guest memcpy of 48 MiB well under 0.1 s.
# Usage: tests/bench/unicorn-stores.sh [hooks:0|1] [map_ptr:0|1]   (after native/unicorn/build.sh or mvn package)
set -eu
cd "$(dirname "$0")/../.."
debian=$(ldconfig -p | awk '/libunicorn\.so\.2 .*x86-64/ { print $NF; exit }')
[ -n "$debian" ] || { echo "Debian's libunicorn.so.2 missing (package libunicorn2)" >&2; exit 2; }
ours=target/native/libunicorn.so.2
[ -f "$ours" ] || { echo "$ours missing: run native/unicorn/build.sh" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -Wall -o "$tmp/unicorn-stores" tests/bench/unicorn-stores.c -ldl
"$tmp/unicorn-stores" "$debian" "${1:-1}" "${2:-0}" > "$tmp/debian.txt"
"$tmp/unicorn-stores" "$(readlink -f "$ours")" "${1:-1}" "${2:-0}" > "$tmp/ours.txt"
echo "48 MiB, second pass, hooks=${1:-1} map_ptr=${2:-0}; machine load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-13s | %-31s | %-31s | %s\n' kernel "Debian libunicorn2 2.0.1" "native/unicorn build" "speed-up"
paste -d'|' "$tmp/debian.txt" "$tmp/ours.txt" | awk -F'|' '{
  printf "%-13s | %7.3f s %8.1f MB/s %6.1f ns | %7.3f s %8.1f MB/s %6.1f ns | %6.1fx\n", $1, $2, $3, $4, $6, $7, $8, $2 / $6 }'
