package org.kexecmeasured.payload;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The real binaries and tools the payload tests run against. A missing one fails the test with
 * the Debian package that provides it (tests/bin/install-deps installs them all).
 */
public final class RealParts {
    public static final Path SYSTEMD_BOOT = Paths.get("/usr/lib/systemd/boot/efi/systemd-bootx64.efi");
    public static final Path LINUX_STUB = Paths.get("/usr/lib/systemd/boot/efi/linuxx64.efi.stub");
    public static final Path SHIM_SIGNED = Paths.get("/usr/lib/shim/shimx64.efi.signed");
    public static final Path GRUB_SIGNED = Paths.get("/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed");
    public static final Path SYSTEMD_MEASURE = Paths.get("/lib/systemd/systemd-measure");
    /** memtest86+ (Debian package memtest86+): an EFI payload that is no Linux kernel (resume mode). */
    public static final Path MEMTEST = Paths.get("/boot/memtest86+x64.efi");

    private RealParts() {
    }

    public static Path require(Path p, String pkg) {
        if (!Files.isRegularFile(p)) {
            fail(p + " is missing: install the Debian package " + pkg + " (tests/bin/install-deps)");
        }
        return p;
    }

    /** The newest /boot/vmlinuz-* (linux-image-amd64). */
    public static Path kernel() {
        try (Stream<Path> s = Files.list(Paths.get("/boot"))) {
            List<Path> k = s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-"))
                    .sorted(Comparator.comparing(p -> versionKey(p.getFileName().toString()))).toList();
            if (k.isEmpty()) fail("no /boot/vmlinuz-*: install the Debian package linux-image-amd64");
            return k.get(k.size() - 1);
        } catch (IOException e) {
            throw new AssertionError("cannot list /boot: install linux-image-amd64", e);
        }
    }

    private static String versionKey(String name) {
        // zero-pad numbers so that 6.10 sorts after 6.9
        StringBuilder sb = new StringBuilder();
        for (String part : name.split("(?<=\\D)(?=\\d)|(?<=\\d)(?=\\D)")) {
            sb.append(part.chars().allMatch(Character::isDigit) ? String.format("%08d", Long.parseLong(part)) : part);
        }
        return sb.toString();
    }

    public static Path repoRoot() {
        Path p = Paths.get("").toAbsolutePath();
        while (p != null && !Files.isRegularFile(p.resolve("pom.xml"))) p = p.getParent();
        if (p == null) throw new AssertionError("repository root (pom.xml) not found");
        return p;
    }

    /** Builds the test UKI with tests/bin/make-uki into dir; returns dir/demo.efi. */
    public static Path makeUki(Path dir) {
        run(List.of(repoRoot().resolve("tests/bin/make-uki").toString(), dir.toString()), "binutils (objcopy), cpio, systemd-boot-efi");
        Path uki = dir.resolve("demo.efi");
        if (!Files.isRegularFile(uki)) fail("tests/bin/make-uki did not produce " + uki);
        return uki;
    }

    /**
     * Builds the shim → GRUB → kernel test disk with tests/bin/make-disk into dir; returns dir/disk.img
     * (dir/expected.env names the kernel, initrd and cmdline its grub.cfg boots).
     */
    public static Path makeDisk(Path dir) {
        return makeDisk(dir, java.util.Map.of());
    }

    /** {@link #makeDisk(Path)} with make-disk's environment settings (INITRD_ROOT, REMOVABLE: see the script). */
    public static Path makeDisk(Path dir, java.util.Map<String, String> env) {
        require(SHIM_SIGNED, "shim-signed");
        require(GRUB_SIGNED, "grub-efi-amd64-signed");
        List<String> cmd = new ArrayList<>(List.of("env"));
        new java.util.TreeMap<>(env).forEach((k, v) -> cmd.add(k + "=" + v));
        cmd.add(repoRoot().resolve("tests/bin/make-disk").toString());
        cmd.add(dir.toString());
        run(cmd, "fdisk (sfdisk), dosfstools, mtools, e2fsprogs, cpio");
        Path img = dir.resolve("disk.img");
        if (!Files.isRegularFile(img)) fail("tests/bin/make-disk did not produce " + img);
        return img;
    }

    /** Runs a command, returns stdout; fails the test on a non-zero exit. */
    public static String run(List<String> cmd, String pkg) {
        Result r = runAny(cmd, pkg);
        if (r.exit != 0) fail(String.join(" ", cmd) + " exited " + r.exit + ": " + r.stderr + r.stdout);
        return r.stdout;
    }

    /** Runs a command, returns raw stdout bytes; fails the test on a non-zero exit. */
    public static byte[] runBytes(List<String> cmd, String pkg) {
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(cmd)).redirectError(ProcessBuilder.Redirect.DISCARD);
        try {
            Process p = pb.start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (p.waitFor() != 0) fail(String.join(" ", cmd) + " exited " + p.exitValue());
            return out;
        } catch (IOException e) {
            fail("cannot run " + cmd.get(0) + ": install the Debian package " + pkg + " (" + e.getMessage() + ")");
            return null;
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    public record Result(int exit, String stdout, String stderr) {
    }

    public static Result runAny(List<String> cmd, String pkg) {
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(cmd));
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            fail("cannot run " + cmd.get(0) + ": install the Debian package " + pkg + " (" + e.getMessage() + ")");
            return null;
        }
        try {
            p.getOutputStream().close();
            byte[][] outs = new byte[2][];
            Thread t = new Thread(() -> outs[1] = readAll(p.getErrorStream()));
            t.start();
            outs[0] = readAll(p.getInputStream());
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail(cmd + " timed out");
            }
            t.join();
            return new Result(p.exitValue(), new String(outs[0], StandardCharsets.UTF_8), new String(outs[1], StandardCharsets.UTF_8));
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] readAll(InputStream in) {
        try {
            return in.readAllBytes();
        } catch (IOException e) {
            return ("<" + e + ">").getBytes(StandardCharsets.UTF_8);
        }
    }

    /** sha256 Authenticode hash as printed by `pesign -h -i FILE` ("hash: <hex>"). */
    public static String pesignHash(Path file) {
        return pesignHash(file, "sha256");
    }

    /** The Authenticode hash with {@code digest} (sha1, sha256, …) as printed by `pesign -h -d DIGEST -i FILE`, lower-case hex. */
    public static String pesignHash(Path file, String digest) {
        String out = run(List.of("pesign", "-h", "-d", digest, "-i", file.toString()), "pesign");
        for (String line : out.split("\n")) {
            String l = line.strip();
            if (l.startsWith("hash:")) return l.substring(5).strip().toLowerCase();
        }
        fail("pesign -h -d " + digest + " printed no hash line: " + out);
        return null;
    }

    public static byte[] read(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new AssertionError("cannot read " + p, e);
        }
    }

    public static String[] args(String... a) {
        return Arrays.copyOf(a, a.length);
    }
}
