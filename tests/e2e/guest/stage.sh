#!/bin/sh
# stage.sh STAGE: what one generation of an e2e guest does, run inside the host's root (its JDK,
# tpm2-tools and the built jar), with RUN (the run directory, writable) and PROJECT set. Results go to
# $RUN/out/STAGE/; the host checks them (src/test/java/org/kexecmeasured/e2e). A step's failure is
# recorded, never hidden: the host test reads the exit codes.
#
# Stages: gen1 (firmware-booted UKI: seal two secrets, then boot --exec gen2.efi), gen2 (try both
# unseals, then boot --exec gen3.efi, or stop in quick mode), gen3 (load crash.efi with --crash, then
# crash the kernel), crash (report), sb1 (Secure Boot + lockdown: an unsigned inner kernel is refused,
# then boot --exec sb2.efi with the snakeoil-signed one), sb2 (report), bench1 (boot --exec bench2.efi),
# bench2 (reboot through the firmware), sd1 (systemd as init: boot --at-shutdown sd2.efi, then
# systemctl kexec; the system-shutdown hook commits after systemd's last PCR 11 phases), sd2 (report), rs1
# (resume mode: boot memtest86+ --full-emulation, then exec), rs-sb1 (resume mode refused under lockdown).
# A stage seen twice (after that reboot) only marks the time and powers off.
set -u
stage=$1
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export TPM2TOOLS_TCTI=device:/dev/tpmrm0
km="$PROJECT/target/kexec-measured"
out="$RUN/out/$stage"
mark() { echo "KM-MARK $*"; }
[ -e "$out/.done" ] && { mark "reboot-init $stage"; sync; exit 0; }
mkdir -p "$out"
mark "stage $stage"
. "$RUN/scenario"     # QUICK=0|1

pcrs() {  # pcrs FILE: every PCR of both banks, as "bank pcr hex" lines
  for bank in sha1 sha256; do
    for i in $(seq 0 23); do
      echo "$bank $i $(cat /sys/class/tpm/tpm0/pcr-$bank/$i)"
    done
  done > "$1"
}

report() {  # what every generation reports
  cat /proc/cmdline > "$out/cmdline"
  cat /run/km-uki > "$out/uki" 2>/dev/null
  pcrs "$out/pcrs.txt"
  cat /sys/kernel/security/tpm0/binary_bios_measurements > "$out/securityfs-log.bin" 2>/dev/null
  cat /sys/kernel/security/ima/binary_runtime_measurements > "$out/ima.bin" 2>/dev/null
  cat /sys/kernel/security/lockdown > "$out/lockdown" 2>/dev/null
  for f in kexec_loaded kexec_crash_loaded kexec_crash_size; do cat /sys/kernel/$f > "$out/$f" 2>/dev/null; done
  if [ -d /run/kexec-measured ]; then
    mkdir -p "$out/sidecar"
    for f in /run/kexec-measured/*; do [ -f "$f" ] && cat "$f" > "$out/sidecar/${f##*/}"; done
    # what the tool reads by default in a kexec'd generation, and that it says which log it read
    "$km" eventlog verify --tpm device:/dev/tpmrm0 > "$out/verify.txt" 2>&1; echo $? > "$out/verify.rc"
  fi
}

boot() {  # boot NAME PAYLOAD ARGS…: kexec-measured boot with timing marks; exit code in NAME.rc
  name=$1; payload=$2; shift 2
  mark "tool-start $name"
  "$km" boot "$payload" --tpm device:/dev/tpmrm0 --state-dir "/run/km-state-$name" --json "$@" \
      > "$out/$name.json" 2> "$out/$name.err"
  rc=$?
  echo "$rc" > "$out/$name.rc"
  mark "tool-end $name rc=$rc"
  for f in /run/km-state-$name/*; do [ -f "$f" ] && cat "$f" > "$out/$name.state.${f##*/}"; done
  return $rc
}

seal() {  # seal NAME PCR: a secret sealed to the current value of sha256 PCR
  d="$out/seal"; mkdir -p "$d"
  tpm2_createprimary -Q -C o -c "$d/primary.ctx" || return 1
  tpm2_pcrread -Q "sha256:$2" -o "$d/$1.pcr" || return 1
  tpm2_createpolicy -Q --policy-pcr -l "sha256:$2" -f "$d/$1.pcr" -L "$d/$1.policy" || return 1
  echo "secret-$1" | tpm2_create -Q -C "$d/primary.ctx" -L "$d/$1.policy" -i - -u "$d/$1.pub" -r "$d/$1.priv"
  rm -f "$d/primary.ctx"
}

unseal() {  # unseal NAME PCR FROM: try the secret sealed in stage FROM; output and exit code to files
  d="$RUN/out/$3/seal"
  tpm2_createprimary -Q -C o -c /tmp/primary.ctx &&
  tpm2_load -Q -C /tmp/primary.ctx -u "$d/$1.pub" -r "$d/$1.priv" -c "/tmp/$1.ctx" &&
  tpm2_unseal -c "/tmp/$1.ctx" -p "pcr:sha256:$2" > "$out/unseal-$1.out" 2> "$out/unseal-$1.err"
  echo $? > "$out/unseal-$1.rc"
  rm -f /tmp/primary.ctx "/tmp/$1.ctx"
}

finish() { touch "$out/.done"; sync; }

case "$stage" in
  gen1)
    report
    seal pcr11 11; echo $? > "$out/seal.rc"
    seal pcr0 0; echo $? >> "$out/seal.rc"
    finish
    boot boot "$RUN/gen2.efi" --exec
    ;;
  gen2)
    report
    unseal pcr11 11 gen1
    unseal pcr0 0 gen1
    finish
    if [ "$QUICK" = 1 ]; then exit 0; fi
    boot boot "$RUN/gen3.efi" --exec
    ;;
  gen3)
    report
    pcrs "$out/pcrs-before-crash-load.txt"
    boot crash-load "$RUN/crash.efi" --crash
    pcrs "$out/pcrs-after-crash-load.txt"
    cat /sys/kernel/kexec_crash_loaded > "$out/kexec_crash_loaded-after" 2>/dev/null
    finish
    mark "sysrq-crash"
    echo c > /proc/sysrq-trigger
    ;;
  crash)
    report
    finish
    ;;
  bench1)
    finish
    boot boot "$RUN/bench2.efi" --exec
    ;;
  bench2)
    finish
    mark "reboot-start"
    sync
    reboot -f
    ;;
  sb1)
    report
    pcrs "$out/pcrs-before-unsigned.txt"
    boot unsigned "$RUN/sb-unsigned.efi"
    pcrs "$out/pcrs-after-unsigned.txt"
    finish
    boot boot "$RUN/sb2.efi" --exec
    ;;
  sb2)
    report
    finish
    ;;
  sd1)
    # systemd as init: prepare now, commit at the last moment (the system-shutdown hook)
    report
    pcrs "$out/pcrs-before-load.txt"
    boot boot "$RUN/sd2.efi" --at-shutdown
    pcrs "$out/pcrs-after-load.txt"
    finish
    touch "$out/.kexec-requested"
    mark "systemctl-kexec"
    systemctl --no-block kexec || rm -f "$out/.kexec-requested"
    ;;
  sd2)
    report
    finish
    ;;
  rs1)
    # resume mode (tests/e2e/run-resume resume): memtest86+ emulated to the return of its ExitBootServices,
    # loaded with kexec_load, committed, then started; memtest writes to the second serial port (COM2) itself
    report
    pcrs "$out/pcrs-before.txt"
    boot resume /boot/memtest86+x64.efi --full-emulation --load-options "console=ttyS1,115200" --time-budget 900s
    cat /sys/kernel/kexec_loaded > "$out/kexec_loaded-after" 2>/dev/null
    pcrs "$out/pcrs-after.txt"
    finish
    mark "exec rs1"
    "$km" exec > "$out/exec.out" 2>&1
    echo $? > "$out/exec.rc"
    ;;
  rs-sb1)
    # resume mode under Secure Boot lockdown (run-resume resume-sb): refused before anything runs
    report
    pcrs "$out/pcrs-before.txt"
    boot resume /boot/memtest86+x64.efi --full-emulation --load-options "console=ttyS1,115200"
    pcrs "$out/pcrs-after.txt"
    cat /sys/kernel/kexec_loaded > "$out/kexec_loaded-after" 2>/dev/null
    finish
    ;;
  *)
    mark "FAIL unknown stage $stage"
    ;;
esac
exit 0
