#!/bin/sh
# Builds the Unicorn engine kexec-measured prefers: Debian's unicorn-engine 2.0.1.post1 source package
# (the same version as Debian 12's libunicorn2), Debian's library patch, and the patches in patches/
# (see README.md: why each one exists and what it measured). x86 only.
#
# Output: target/native/libunicorn.so.2 and a libunicorn.so link to it (the launcher and the tests put
# that directory first in jna.library.path). Cached by content: a build whose inputs (tarball, patches, this script, compiler)
# are unchanged is copied from ${KEXEC_MEASURED_CACHE:-$HOME/.cache/kexec-measured}/unicorn/KEY/ instead
# of being rebuilt, so `mvn clean` and CI runs on the same machine pay the ~1.5 min build once.
#
# Source tarball, first found wins, always checked against the SHA-256 below (the one in Debian's signed
# unicorn-engine_2.0.1.post1-1.dsc, kept beside this script):
#   $UNICORN_ORIG_TARBALL, then native/unicorn/unicorn-engine_2.0.1.post1.orig.tar.gz (checked in: the
#   workplace's network reaches Debian's archive but not this file), then the Debian archive by URL.
#
# Usage: native/unicorn/build.sh [OUTDIR]   (default target/native; needs cc, cmake, patch; ninja optional)
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
root=$(CDPATH= cd -- "$here/../.." && pwd)
out=${1:-$root/target/native}

VERSION=2.0.1.post1
ORIG=unicorn-engine_${VERSION}.orig.tar.gz
ORIG_SHA256=6b276c857c69ee5ec3e292c3401c8c972bae292e0e4cb306bb9e5466c0f14737
URLS="https://deb.debian.org/debian/pool/main/u/unicorn-engine/$ORIG
https://snapshot.debian.org/archive/debian/20221125T000000Z/pool/main/u/unicorn-engine/$ORIG"
# Debian's library patch first (0001/0003/0004 of the Debian package touch only the Python and Ruby
# bindings and an armhf test, none of which is built here), then ours in order.
PATCHES="debian-0002-Link-against-pthread.patch
0001-stores-fast-path-unless-page-holds-code.patch
0002-tcg-claim-first-code-region-at-init.patch
0003-tcg-128-MiB-translation-cache.patch"

# install OUT/libunicorn.so.2 (+ the libunicorn.so name JNA looks up in jna.library.path) from $1
install_lib() {
  cp "$1" "$out/libunicorn.so.2.tmp" && mv "$out/libunicorn.so.2.tmp" "$out/libunicorn.so.2"
  ln -sf libunicorn.so.2 "$out/libunicorn.so"
  echo "$key" > "$out/libunicorn.key"
}
die() { echo "native/unicorn/build.sh: $*" >&2; exit 1; }
for tool in cc cmake patch sha256sum tar; do
  command -v "$tool" >/dev/null || die "$tool is missing (tests/bin/install-deps installs cmake, gcc, patch)"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. The source tarball, verified.
tarball=""
for cand in "${UNICORN_ORIG_TARBALL:-}" "$here/$ORIG"; do
  if [ -n "$cand" ] && [ -f "$cand" ]; then tarball=$cand; break; fi
done
if [ -z "$tarball" ]; then
  for url in $URLS; do
    if curl -fsSL --max-time 120 -o "$work/$ORIG" "$url" 2>/dev/null; then tarball=$work/$ORIG; break; fi
  done
fi
[ -n "$tarball" ] || die "no $ORIG (set UNICORN_ORIG_TARBALL or restore native/unicorn/$ORIG)"
echo "$ORIG_SHA256  $tarball" | sha256sum -c --quiet - || die "$tarball: SHA-256 is not $ORIG_SHA256"
grep -q " $ORIG_SHA256 [0-9]* $ORIG\$" "$here/unicorn-engine_${VERSION}-1.dsc" \
  || die "the pinned SHA-256 is not the one in unicorn-engine_${VERSION}-1.dsc"

# 2. Cache key: everything that can change the library (bump RECIPE when the steps below change).
RECIPE=1
# Reproducible: no build paths in the binary (the temporary directory is mapped to "."), fixed timestamps.
export SOURCE_DATE_EPOCH=1669334400
CFLAGS="-ffile-prefix-map=$work=. -fstack-protector-strong -D_FORTIFY_SOURCE=2"
LDFLAGS="-Wl,-z,relro,-z,now"
CMAKE_OPTS="-DCMAKE_BUILD_TYPE=Release -DUNICORN_ARCH=x86 -DUNICORN_BUILD_TESTS=OFF -DUNICORN_INSTALL=OFF"
key=$( { echo "$RECIPE $ORIG_SHA256 $CMAKE_OPTS $LDFLAGS"; echo "$CFLAGS" | sed "s|$work|WORK|"
         for p in $PATCHES; do sha256sum < "$here/patches/$p"; done
         cc --version | head -1; cmake --version | head -1; } | sha256sum | cut -c1-16)
cache=${KEXEC_MEASURED_CACHE:-${HOME:-/tmp}/.cache/kexec-measured}/unicorn/$key
mkdir -p "$out"
if [ -f "$cache/libunicorn.so.2" ]; then
  install_lib "$cache/libunicorn.so.2"
  echo "native/unicorn/build.sh: libunicorn.so.2 $key from the cache ($cache)"
  exit 0
fi

# 3. Unpack, patch, build only the shared library for x86.
start=$(date +%s)
tar -xzf "$tarball" -C "$work"
src=$work/unicorn-$VERSION
[ -d "$src" ] || die "unexpected tarball layout (no unicorn-$VERSION/)"
for p in $PATCHES; do
  patch -d "$src" -p1 --quiet --forward < "$here/patches/$p" || die "patch $p does not apply"
done
gen=""
command -v ninja >/dev/null && gen="-G Ninja"
# shellcheck disable=SC2086
cmake -S "$src" -B "$work/build" $gen $CMAKE_OPTS -DCMAKE_C_FLAGS="$CFLAGS" \
  -DCMAKE_SHARED_LINKER_FLAGS="$LDFLAGS" >"$work/cmake.log" 2>&1 \
  || { tail -30 "$work/cmake.log" >&2; die "cmake failed"; }
jobs=$(nproc 2>/dev/null || echo 2)
cmake --build "$work/build" --target unicorn -j "$jobs" >"$work/build.log" 2>&1 \
  || { tail -40 "$work/build.log" >&2; die "build failed"; }
lib=$work/build/libunicorn.so.2
[ -f "$lib" ] || die "the build made no libunicorn.so.2"

mkdir -p "$cache"
cp "$lib" "$cache/libunicorn.so.2.tmp" && mv "$cache/libunicorn.so.2.tmp" "$cache/libunicorn.so.2"
install_lib "$lib"
echo "native/unicorn/build.sh: built libunicorn.so.2 $key in $(( $(date +%s) - start )) s"
