# Shared by the tests/e2e scripts (sourced, POSIX sh). Names the Debian package of every tool it
# needs and fails when one is missing: a missing real part is a failure, never a skip.

e2e_dir=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
case "$e2e_dir" in */tests/e2e) ;; *) e2e_dir=$(CDPATH= cd -- "$e2e_dir/.." && pwd) ;; esac
project_dir=$(CDPATH= cd -- "$e2e_dir/../.." && pwd)

die() { echo "e2e: $*" >&2; exit 1; }

# The guest sees the host's / read-only over 9p but mounts its own file systems on /tmp, /run, /dev and /proc
# (guest/init): a project there is invisible to it (the stage fails with "cannot open …/stage.sh").
case "$(readlink -f "$project_dir")/" in
  /tmp/*|/run/*|/dev/*|/proc/*) die "the project is under /$(readlink -f "$project_dir" | cut -d/ -f2), which the guest replaces with its own file system: clone it elsewhere (e.g. under /work or /home)" ;;
esac

# need COMMAND PACKAGE: fail naming the Debian package when COMMAND is missing
need() {
  command -v "$1" >/dev/null 2>&1 || [ -x "$1" ] || die "$1 not found (install the Debian package $2; tests/bin/install-deps does)"
}

# The guest kernel: the newest installed Debian kernel (package linux-image-amd64), and its modules.
guest_kernel() {
  k=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
  [ -n "$k" ] || die "no /boot/vmlinuz-* (install the Debian package linux-image-amd64)"
  echo "$k"
}
guest_kver() { basename "$(guest_kernel)" | sed 's/^vmlinuz-//'; }

# Timeouts are at least 10x the medians measured under TCG (reference: QEMU 7.2 on 2 cores).
# E2E_TIMEOUT_SCALE multiplies them (a slow or loaded runner).
scaled() { awk -v s="${E2E_TIMEOUT_SCALE:-1}" -v t="$1" 'BEGIN { printf "%d", t * s }'; }

# Reproducible builds: fixed times for cpio members, FAT entries and the UKI's PE header.
: "${SOURCE_DATE_EPOCH:=1700000000}"
export SOURCE_DATE_EPOCH
