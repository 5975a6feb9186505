package org.kexecmeasured.payload.fuzz;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.Inspector;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.linux.Arm64Image;
import org.kexecmeasured.payload.linux.BzImage;
import org.kexecmeasured.payload.linux.ZbootHeader;
import org.kexecmeasured.util.BadInputException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Seeded mutation fuzzer for the payload parsers: bit flips, interesting integers written over
 * header fields, truncations and splices of real Debian binaries and a small UKI built here.
 * The only outcomes allowed are success and BadInputException; anything else (an unchecked
 * exception, an OutOfMemoryError, a StackOverflowError) fails with the seed and iteration and
 * leaves the input under target/fuzz-failures/ for replay.
 *
 * <p>Default run: a few hundred iterations (seconds). Longer run, e.g. 20000 iterations with a
 * new seed: {@code mvn -B -ntp test -Dtest=PayloadMutationFuzzTest -Dkexec.fuzz.iterations=20000 -Dkexec.fuzz.seed=$RANDOM}
 */
class PayloadMutationFuzzTest {

    static final long SEED = Long.getLong("kexec.fuzz.seed", 0x6b657865L);
    static final int ITERATIONS = Integer.getInteger("kexec.fuzz.iterations", 300);

    @TempDir
    static Path tmp;
    static List<byte[]> corpus = new ArrayList<>();
    static byte[] kernel;

    @BeforeAll
    static void corpus() throws IOException {
        corpus.add(RealParts.read(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi")));
        corpus.add(RealParts.read(RealParts.require(RealParts.LINUX_STUB, "systemd-boot-efi")));
        corpus.add(RealParts.read(RealParts.require(RealParts.SHIM_SIGNED, "shim-signed")));
        // a small UKI: the stub with systemd-boot as ".linux", text sections, .pcrsig and .pcrpkey
        Path d = tmp;
        Files.writeString(d.resolve("osrel"), "ID=fuzz\nPRETTY_NAME=\"Fuzz\"\n");
        Files.writeString(d.resolve("cmdline"), "quiet");
        Files.writeString(d.resolve("pcrsig"), "{\"sha256\":[{\"pcrs\":[11],\"pkfp\":\"00\",\"pol\":\"00\",\"sig\":\"AA==\"}]}");
        RealParts.run(List.of("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", d.resolve("k").toString()), "openssl");
        RealParts.run(List.of("openssl", "pkey", "-in", d.resolve("k").toString(), "-pubout", "-out", d.resolve("pub").toString()), "openssl");
        Path uki = d.resolve("mini.efi");
        RealParts.run(List.of("objcopy",
                "--add-section", ".osrel=" + d.resolve("osrel"), "--change-section-vma", ".osrel=0x20000",
                "--add-section", ".cmdline=" + d.resolve("cmdline"), "--change-section-vma", ".cmdline=0x30000",
                "--add-section", ".pcrsig=" + d.resolve("pcrsig"), "--change-section-vma", ".pcrsig=0x40000",
                "--add-section", ".pcrpkey=" + d.resolve("pub"), "--change-section-vma", ".pcrpkey=0x50000",
                "--add-section", ".linux=" + RealParts.SYSTEMD_BOOT, "--change-section-vma", ".linux=0x100000",
                RealParts.LINUX_STUB.toString(), uki.toString()), "binutils");
        corpus.add(Files.readAllBytes(uki));
        kernel = RealParts.read(RealParts.kernel());
    }

    private static final long[] INTERESTING = {0, 1, 2, 7, 8, 0x40, 0x200, 0x1000, 0x7fff, 0x8000, 0xffff,
            0x7fffffffL, 0x80000000L, 0xfffffff8L, 0xffffffffL};

    static byte[] mutate(Random r, byte[] in, List<byte[]> others, int hot) {
        byte[] b = in.clone();
        int n = 1 + r.nextInt(6);
        for (int i = 0; i < n && b.length > 0; i++) {
            int op = r.nextInt(10);
            // most mutations hit the header area where the parsers make their decisions
            int pos = r.nextInt(4) != 0 ? r.nextInt(Math.min(hot, b.length)) : r.nextInt(b.length);
            switch (op) {
                case 0, 1, 2 -> b[pos] ^= (byte) (1 << r.nextInt(8));
                case 3 -> b[pos] = (byte) r.nextInt(256);
                case 4, 5, 6 -> {
                    int at = Math.min(pos & ~1, b.length - 4);
                    if (at >= 0) {
                        long v = INTERESTING[r.nextInt(INTERESTING.length)];
                        if (r.nextBoolean()) v = (v + b.length + r.nextInt(64) - 32) & 0xffffffffL;
                        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
                        if (r.nextBoolean()) bb.putInt(at, (int) v);
                        else bb.putShort(at, (short) v);
                    }
                }
                case 7 -> b = Arrays.copyOf(b, r.nextInt(b.length + 1));
                case 8 -> {
                    byte[] o = others.get(r.nextInt(others.size()));
                    int from = r.nextInt(o.length);
                    int len = Math.min(Math.min(1 + r.nextInt(512), o.length - from), b.length - pos);
                    System.arraycopy(o, from, b, pos, len);
                }
                default -> {
                    int len = Math.min(1 + r.nextInt(80), b.length - pos);
                    int to = r.nextInt(Math.min(hot, b.length));
                    len = Math.min(len, b.length - to);
                    System.arraycopy(b, pos, b, to, len);
                }
            }
        }
        return b;
    }

    static void fuzz(String what, List<byte[]> seeds, int hot, int iterations, Consumer<byte[]> target) {
        Random r = new Random(SEED ^ what.hashCode());
        for (int it = 0; it < iterations; it++) {
            byte[] in = mutate(r, seeds.get(r.nextInt(seeds.size())), seeds, hot);
            try {
                target.accept(in);
            } catch (BadInputException expected) {
                // the one allowed failure
            } catch (Throwable t) {
                Path dir = Paths.get("target", "fuzz-failures");
                String name = what + "-seed" + SEED + "-it" + it + ".bin";
                try {
                    Files.createDirectories(dir);
                    Files.write(dir.resolve(name), in);
                } catch (IOException ignored) {
                    // the failure message still carries seed and iteration
                }
                fail(what + ": iteration " + it + " (seed " + SEED + ") escaped with " + t + "; input saved as target/fuzz-failures/" + name, t);
            }
        }
    }

    @Test
    void inspectorOnMutatedPeImages() {
        fuzz("inspect", corpus, 4096, ITERATIONS,
                b -> Inspector.inspect(b, Inspector.Options.defaults()));
    }

    @Test
    void linuxHeaderParsersOnMutatedKernelHeaders() {
        // only the first 64 KiB of the kernel matter to these parsers, plus its kernel_info
        BzImage h = BzImage.parse(kernel);
        int end = (int) Math.min(kernel.length, h.protectedModeOffset() + h.kernelInfoOffset() + 64);
        byte[] head = Arrays.copyOf(kernel, 0x10000);
        byte[] withInfo = Arrays.copyOf(kernel, end);
        fuzz("linux-headers", List.of(head, withInfo), 0x300, ITERATIONS * 10, b -> {
            if (BzImage.looksLikeBzImage(b)) BzImage.parse(b);
            if (ZbootHeader.looksLikeZboot(b)) ZbootHeader.parse(b);
            if (Arm64Image.looksLikeArm64Image(b)) Arm64Image.parse(b);
        });
    }
}
