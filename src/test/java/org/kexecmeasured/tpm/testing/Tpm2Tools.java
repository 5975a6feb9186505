package org.kexecmeasured.tpm.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Runs tpm2-tools (Debian package tpm2-tools) as an independent oracle. */
public final class Tpm2Tools {
    private Tpm2Tools() {
    }

    /** Runs {@code tool -T tcti args…}; fails with the output when it exits non-zero. */
    public static String run(String tcti, String tool, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(tool);
        if (tcti != null) {
            cmd.add("-T");
            cmd.add(tcti);
        }
        cmd.addAll(List.of(args));
        Path bin = Path.of("/usr/bin", tool);
        if (!Files.isExecutable(bin)) {
            throw new IllegalStateException(tool + " not found: install the Debian package tpm2-tools (tests/bin/install-deps)");
        }
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", cmd) + ": timed out");
            }
            String s = new String(out);
            if (p.exitValue() != 0) throw new IllegalStateException(String.join(" ", cmd) + " exited " + p.exitValue() + ":\n" + s);
            return s;
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + tool + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static final Pattern BANK = Pattern.compile("^\\s*(sha\\w+|sm3_256):\\s*$");
    private static final Pattern VALUE = Pattern.compile("^\\s*(\\d+)\\s*:\\s*0x([0-9A-Fa-f]+)\\s*$");

    /** tpm2_pcrread SELECTION → bank name → PCR → lower-case hex. */
    public static Map<String, Map<Integer, String>> pcrread(String tcti, String selection) {
        String out = run(tcti, "tpm2_pcrread", selection);
        Map<String, Map<Integer, String>> m = new LinkedHashMap<>();
        String bank = null;
        for (String line : out.split("\n")) {
            Matcher b = BANK.matcher(line);
            if (b.matches()) {
                bank = b.group(1);
                m.put(bank, new LinkedHashMap<>());
                continue;
            }
            Matcher v = VALUE.matcher(line);
            if (v.matches() && bank != null) m.get(bank).put(Integer.parseInt(v.group(1)), v.group(2).toLowerCase());
        }
        return m;
    }
}
