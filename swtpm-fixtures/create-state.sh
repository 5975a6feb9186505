#!/bin/sh
# Creates a fresh TPM 2.0 state directory for swtpm with the chosen PCR banks.
# Usage: create-state.sh DIR [--pcr-banks sha1,sha256,...]   (default banks: sha256)
set -eu
usage() { echo "usage: $0 DIR [--pcr-banks sha1,sha256,sha384,sha512]" >&2; exit 2; }
[ $# -ge 1 ] || usage
DIR=$1; shift
BANKS=sha256
while [ $# -gt 0 ]; do
  case "$1" in
    --pcr-banks) [ $# -ge 2 ] || usage; BANKS=$2; shift 2 ;;
    --pcr-banks=*) BANKS=${1#--pcr-banks=}; shift ;;
    *) usage ;;
  esac
done
command -v swtpm_setup >/dev/null 2>&1 || { echo "$0: swtpm_setup not found (Debian package swtpm-tools)" >&2; exit 1; }
mkdir -p "$DIR"
# swtpm_setup needs a swtpm_setup.conf: /etc/swtpm_setup.conf from the package, else a per-user one.
# As root it refuses to write into root's home unless told so ("root").
CONF_HOME=${XDG_CONFIG_HOME:-${HOME:-/root}/.config}
if [ ! -r /etc/swtpm_setup.conf ] && [ ! -r "$CONF_HOME/swtpm_setup.conf" ]; then
  if [ "$(id -u)" -eq 0 ]; then opt=skip-if-exist,root; else opt=skip-if-exist; fi
  swtpm_setup --create-config-files "$opt" >/dev/null
fi
# no EK or certificates: tests need PCRs and the storage hierarchy only (and it keeps this < 1 s)
if ! swtpm_setup --tpm2 --tpmstate "$DIR" --pcr-banks "$BANKS" --overwrite --logfile "$DIR/setup.log" >/dev/null; then
  echo "$0: swtpm_setup failed; log:" >&2
  cat "$DIR/setup.log" >&2 || true
  exit 1
fi
