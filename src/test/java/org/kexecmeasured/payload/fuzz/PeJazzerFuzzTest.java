package org.kexecmeasured.payload.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.kexecmeasured.payload.Inspector;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.BadInputException;

/**
 * Coverage-guided fuzz target (Jazzer) for the whole inspect pipeline on PE input: the fuzzer
 * patches systemd-boot's headers (offsets and values it chooses) and may append or truncate.
 * The patched file is inspected from a heap array or, as inspect reads a mapped file, from a direct
 * buffer (no backing array: the mapped-file paths of PeFile and the hashers).
 * In the default test run Jazzer replays the stored findings only (regression mode); a 10-minute
 * fuzzing run: {@code mvn -B -ntp test -Pslow -Dfuzz=1 -Dtest='PeJazzerFuzzTest#inspectPatchedPe'} (one target per fuzzing run).
 * Only success or BadInputException may come out; a finding is written as crash-* in the working
 * directory and fails the run. A clean run ends with libFuzzer's "Done N runs in S second(s)"
 * (here: 814,931 runs in 241 s, no finding); surefire 3.5.2 may then wait 30 s for the forked JVM
 * and report that it "did not say goodbye", which is the Jazzer/surefire hand-off, not a finding.
 */
class PeJazzerFuzzTest {

    private static byte[] base;
    private static java.nio.ByteBuffer direct;
    private static byte[] uki;
    private static int[] ukiTextRanges;

    @FuzzTest(maxDuration = "10m")
    void inspectPatchedPe(FuzzedDataProvider data) {
        if (base == null) base = RealParts.read(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi"));
        byte[] b = base.clone();
        int patches = data.consumeInt(0, 16);
        for (int i = 0; i < patches; i++) {
            int off = data.consumeInt(0, 4095);
            b[off] = data.consumeByte();
        }
        if (data.consumeBoolean()) {
            b = java.util.Arrays.copyOf(b, data.consumeInt(0, b.length));
        }
        // last, so that inputs stored before this choice existed keep their meaning (heap)
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(b);
        if (data.consumeBoolean()) {
            // one direct buffer for the run (a new one per input grew the fuzzer's RSS past 3 GB)
            if (direct == null || direct.capacity() < b.length) direct = java.nio.ByteBuffer.allocateDirect(Math.max(b.length, base.length));
            buf = direct.clear().put(b).flip();
        }
        try {
            Inspector.inspect(buf, Inspector.Options.defaults());
        } catch (BadInputException expected) {
            // allowed
        }
    }

    /**
     * A small UKI (built once with objcopy: stub, .osrel, .cmdline, .pcrsig JSON, .pcrpkey PEM,
     * systemd-boot as .linux); the fuzzer patches its headers and the bytes of its text, JSON and
     * PEM sections. Run alone: {@code mvn -B -ntp test -Pslow -Dfuzz=1 -Dtest='PeJazzerFuzzTest#inspectPatchedUki'}.
     */
    @FuzzTest(maxDuration = "10m")
    void inspectPatchedUki(FuzzedDataProvider data) throws java.io.IOException {
        if (uki == null) buildUki();
        byte[] b = uki.clone();
        int patches = data.consumeInt(0, 24);
        for (int i = 0; i < patches; i++) {
            int off;
            if (data.consumeBoolean()) {
                off = data.consumeInt(0, 4095);
            } else {
                int r = data.consumeInt(0, ukiTextRanges.length / 2 - 1);
                off = ukiTextRanges[2 * r] + data.consumeInt(0, ukiTextRanges[2 * r + 1] - 1);
            }
            b[off] = data.consumeByte();
        }
        try {
            Inspector.inspect(b, Inspector.Options.defaults());
        } catch (BadInputException expected) {
            // allowed
        }
    }

    private static void buildUki() throws java.io.IOException {
        java.nio.file.Path d = java.nio.file.Files.createTempDirectory("jazzer-uki");
        java.nio.file.Files.writeString(d.resolve("osrel"), "ID=fuzz\nPRETTY_NAME=\"Fuzz\"\n");
        java.nio.file.Files.writeString(d.resolve("cmdline"), "quiet");
        java.nio.file.Files.writeString(d.resolve("pcrsig"), "{\"sha256\":[{\"pcrs\":[11],\"pkfp\":\"00\",\"pol\":\"00\",\"sig\":\"AA==\"}]}");
        RealParts.run(java.util.List.of("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", d.resolve("k").toString()), "openssl");
        RealParts.run(java.util.List.of("openssl", "pkey", "-in", d.resolve("k").toString(), "-pubout", "-out", d.resolve("pub").toString()), "openssl");
        java.nio.file.Path out = d.resolve("mini.efi");
        RealParts.run(java.util.List.of("objcopy",
                "--add-section", ".osrel=" + d.resolve("osrel"), "--change-section-vma", ".osrel=0x20000",
                "--add-section", ".cmdline=" + d.resolve("cmdline"), "--change-section-vma", ".cmdline=0x30000",
                "--add-section", ".pcrsig=" + d.resolve("pcrsig"), "--change-section-vma", ".pcrsig=0x40000",
                "--add-section", ".pcrpkey=" + d.resolve("pub"), "--change-section-vma", ".pcrpkey=0x50000",
                "--add-section", ".linux=" + RealParts.SYSTEMD_BOOT, "--change-section-vma", ".linux=0x100000",
                RealParts.require(RealParts.LINUX_STUB, "systemd-boot-efi").toString(), out.toString()), "binutils");
        byte[] b = java.nio.file.Files.readAllBytes(out);
        org.kexecmeasured.payload.pe.PeFile pe = org.kexecmeasured.payload.pe.PeFile.parse(b);
        java.util.List<Integer> ranges = new java.util.ArrayList<>();
        for (String n : new String[]{".osrel", ".cmdline", ".pcrsig", ".pcrpkey"}) {
            var s = pe.section(n).orElseThrow();
            ranges.add((int) s.pointerToRawData());
            ranges.add((int) Math.max(1, s.sizeOfRawData()));
        }
        ukiTextRanges = ranges.stream().mapToInt(Integer::intValue).toArray();
        uki = b;
    }
}
