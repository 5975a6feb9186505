package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Man pages and bash completion come from the command model; asciidoctor (Debian) renders the pages. */
class DocsTest {

    @Test
    void manPagesForEveryCommandRenderWithAsciidoctor(@TempDir Path dir) throws Exception {
        StringWriter err = new StringWriter();
        int rc = Main.execute(new String[]{"gen-manpage", "-d", dir.toString()}, new PrintWriter(new StringWriter()),
                new PrintWriter(err));
        assertEquals(0, rc, err.toString());
        for (String cmd : List.of("kexec-measured", "kexec-measured-inspect", "kexec-measured-eventlog-verify",
                "kexec-measured-tpm-pcrs", "kexec-measured-emulate", "kexec-measured-boot")) {
            assertTrue(Files.isRegularFile(dir.resolve(cmd + ".adoc")), cmd + ".adoc");
        }
        Path roff = dir.resolve("roff");
        Process p;
        try {
            p = new ProcessBuilder("asciidoctor", "-b", "manpage", "-D", roff.toString(),
                    dir.resolve("kexec-measured-inspect.adoc").toString(), dir.resolve("kexec-measured-boot.adoc").toString())
                    .redirectErrorStream(true).start();
        } catch (IOException e) {
            fail("asciidoctor not found: install the Debian package asciidoctor (tests/bin/install-deps)");
            return;
        }
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
        String inspect = Files.readString(roff.resolve("kexec-measured-inspect.1"));
        assertTrue(inspect.contains(".TH \"KEXEC\\-MEASURED\\-INSPECT\" \"1\""), inspect.substring(0, Math.min(400, inspect.length())));
        assertTrue(inspect.contains("\\-\\-trust"), "the --trust option is documented");
        String boot = Files.readString(roff.resolve("kexec-measured-boot.1"));
        assertTrue(boot.contains("\\-\\-no\\-load"));
        // exit 4 (the TPM changed) is documented apart from 2 (bad input, nothing changed)
        assertTrue(boot.contains("stopped after the TPM was changed"), boot);
        assertTrue(boot.contains("nothing was extended"), boot);
    }

    @Test
    void bashCompletionKnowsTheSubcommandsAndTheirOptions() {
        StringWriter out = new StringWriter();
        assertEquals(0, Main.execute(new String[]{"generate-completion"}, new PrintWriter(out), new PrintWriter(new StringWriter())));
        String script = out.toString();
        assertTrue(script.contains("complete -F"), "a bash completion script");
        for (String s : List.of("inspect", "eventlog", "tpm", "emulate", "boot", "--trust", "--no-load", "--firmware-log")) {
            assertTrue(script.contains(s), s);
        }
    }
}
