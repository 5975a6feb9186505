#!/bin/sh
# Bench of `kexec-measured predict` (issue 11: a 60 MB UKI in <= 0.75 s wall and <= 3x a JVM hello-world
# + `sha256sum` of the UKI, measured side by side; only the banks the TPM has are hashed).
# The UKI: Debian's systemd-stub + kernel + an initrd of incompressible data, about SIZE_MIB. The policy:
# a secret sealed by tpm2-tools to PCR 7+11, a LUKS2 image with a systemd-cryptenroll token (PCR 7+11)
# and re-authorization with an RSA key — so the run reads, emulates, hashes, evaluates and signs.
# Each bank set runs against its own fresh swtpm with a Spec-ID-only firmware log of the same banks,
# so the hashing cost shows per bank (one pass over each byte for all banks).
# Prints per bank set the median of RUNS runs: process wall, predict's own plan / emulation / hashing
# time (from --json), its TPM commands (reads only), then the baseline and the ratio; below each row the wall time
# of each step of predict's main thread in its last run, as stats.stepMicros names them (e.g. payload, pcrSource,
# policy, sources, plan, sourcesWait, decide and decide.*, report; the output and the JVM's exit come after them).
# BEFORE=LAUNCHER adds another build's launcher (e.g. main's target/kexec-measured in a second worktree), run
# against the same TPM and policy in the same run, as a "(before)" row above each bank set.
# Usage: [BEFORE=LAUNCHER] tests/bench/predict.sh [RUNS] [SIZE_MIB]   (after `mvn -B -ntp -q package -DskipTests`)
set -eu
cd "$(dirname "$0")/../.."
km=target/kexec-measured
[ -x "$km" ] || { echo "build first: mvn -B -ntp -q package -DskipTests" >&2; exit 2; }
for t in jq tpm2_createprimary cryptsetup systemd-cryptenroll openssl; do
  command -v "$t" >/dev/null || { echo "$t missing (tests/bin/install-deps)" >&2; exit 2; }
done
runs=${1:-5}
size=${2:-60}
tmp=$(mktemp -d)
cleanup() {
  for d in "$tmp"/tpm-*; do [ -d "$d" ] && swtpm-fixtures/stop.sh "$d" >/dev/null 2>&1; done
  rm -rf "$tmp"
}
trap cleanup EXIT

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# the UKI of about $size MiB
tests/bin/make-uki "$tmp/base" >/dev/null
pad=$(( size * 1048576 - $(stat -c %s "$tmp/base/demo.efi") ))
[ "$pad" -gt 4096 ] || pad=4096
head -c "$pad" /dev/urandom > "$tmp/initrd"
objcopy \
  --add-section .osrel="$tmp/base/os-release" --change-section-vma .osrel=0x20000 \
  --add-section .cmdline="$tmp/base/cmdline.txt" --change-section-vma .cmdline=0x30000 \
  --add-section .linux="$tmp/base/vmlinuz" --change-section-vma .linux=0x2000000 \
  --add-section .initrd="$tmp/initrd" --change-section-vma .initrd=0x3000000 \
  /usr/lib/systemd/boot/efi/linuxx64.efi.stub "$tmp/uki.efi"
uki=$tmp/uki.efi
mib=$(awk -v b="$(stat -c %s "$uki")" 'BEGIN { printf "%.1f", b / 1048576 }')

# the baseline: a JVM hello-world under the launcher's flags, then sha256sum of the UKI
mkdir "$tmp/hello"
printf 'public class Hello { public static void main(String[] a) { System.out.println("hello"); } }\n' > "$tmp/hello/Hello.java"
javac -d "$tmp/hello" "$tmp/hello/Hello.java"
base=""
i=0
while [ "$i" -lt "$runs" ]; do
  t0=$(now)
  java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -cp "$tmp/hello" Hello >/dev/null
  sha256sum "$uki" >/dev/null
  t1=$(now)
  base="$base $(sub "$t1" "$t0")"
  i=$((i + 1))
done
base=$(echo "$base" | tr ' ' '\n' | grep . | median)

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/sign.pem" 2>/dev/null
openssl pkey -in "$tmp/sign.pem" -pubout -out "$tmp/sign.pub.pem"
printf 'bench' > "$tmp/pass"

echo "machine load: $(cut -d' ' -f1-3 /proc/loadavg) (timings on a shared machine are noisy: compare within the table)"
echo "UKI: $mib MiB; baseline (JVM hello-world + sha256sum of the UKI), median of $runs: $base s"
printf '%-22s | %-8s | %-46s | %-7s | %s\n' "TPM / log banks" "wall" "predict: sources + plan (emulation, hashing) + verdicts" "x base" "TPM commands"
port=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) * 2 }')
for banks in sha256 sha1,sha256,sha384; do
  d="$tmp/tpm-$(echo "$banks" | tr , -)"   # no comma: swtpm's option syntax would split the path
  mkdir "$d"
  swtpm-fixtures/create-state.sh "$d" --pcr-banks "$banks" >/dev/null
  swtpm-fixtures/start.sh "$d" "$port" $((port + 1)) >/dev/null
  tcti="swtpm:host=127.0.0.1,port=$port"
  tests/bin/synth-eventlog --events 0 --banks "$banks" -o "$d/fw.bin" >/dev/null
  # the secrets, sealed to this TPM's current PCRs by their own tools
  export TPM2TOOLS_TCTI="$tcti"
  tpm2_createprimary -Q -C o -g sha256 -G ecc256:aes128cfb -c "$d/prim.ctx"
  tpm2_createpolicy -Q --policy-pcr -l sha256:7,11 -L "$d/pol"
  printf 'secret' | tpm2_create -Q -C "$d/prim.ctx" -a 'fixedtpm|fixedparent' -L "$d/pol" -i- -u "$d/obj.pub" -r "$d/obj.priv"
  tpm2_flushcontext -t
  truncate -s 32M "$d/disk.img"
  cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$tmp/pass" "$d/disk.img"
  PASSWORD=bench systemd-cryptenroll --tpm2-device="$tcti" --tpm2-public-key="$tmp/sign.pub.pem" --tpm2-public-key-pcrs=11 \
    --tpm2-pcrs=7 "$d/disk.img" >/dev/null 2>&1
  tpm2_flushcontext -t; tpm2_flushcontext -l
  cat > "$d/policy.yaml" <<EOF
version: 1
secrets:
  - {name: object, must-remain: any, source: {tpm2-object: {public: obj.pub, private: obj.priv, pcrs: 'sha256:7,11'}}}
  - {name: disk, must-remain: any, source: {luks2: disk.img}}
reauthorize: {signing-key: $tmp/sign.pem, secrets: [disk]}
EOF
  for launcher in ${BEFORE:+"$BEFORE"} "$km"; do
    walls=""
    i=0
    while [ "$i" -lt "$runs" ]; do
      t0=$(now)
      "$launcher" predict --policy "$d/policy.yaml" "$uki" --tpm "$tcti" --firmware-log "$d/fw.bin" --json > "$d/out.json"
      t1=$(now)
      walls="$walls $(sub "$t1" "$t0")"
      i=$((i + 1))
    done
    wall=$(echo "$walls" | tr ' ' '\n' | grep . | median)
    stats=$(jq -r '.stats | def s(x): x / 1e6 * 1000 | floor / 1000; "\(s(.prepareMicros)) + \(s(.planMicros)) (\(s(.emulationMicros)), \(s(.hashMicros)) for \(.hashBytes / 1048576 | floor) MiB) + \(s(.evaluateMicros))"' "$d/out.json")
    cmds=$(jq -r '.tpmCommands | to_entries | map("\(.value) \(.key | sub("^TPM2_"; ""))") | join(", ")' "$d/out.json")
    # the step times of the last run (builds before stats.stepMicros print none)
    steps=$(jq -r '.stats.stepMicros // empty | "steps (ms, last run): " + (to_entries | map("\(.key) \(.value / 1000 | floor)") | join(", "))' "$d/out.json")
    ratio=$(awk -v a="$wall" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
    label=$banks
    [ "$launcher" = "$km" ] || label="$banks (before)"
    printf '%-22s | %6s s | %-46s | %7s | %s\n' "$label" "$wall" "$stats" "$ratio" "$cmds"
    [ -z "$steps" ] || printf '%-22s   %s\n' "" "$steps"
  done
  swtpm-fixtures/stop.sh "$d" >/dev/null 2>&1 || true
  port=$((port + 2))
done
echo "goal (issue 11): the sha256 row <= 0.75 s and <= 3x the baseline"
