package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MainTest {
    @Test
    void missingSubcommandIsUsageErrorWithoutTrace() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Main.execute(new String[0], new PrintWriter(out), new PrintWriter(err));
        assertEquals(Main.EXIT_BAD_INPUT, rc);
        assertTrue(err.toString().contains("subcommand is required"), err.toString());
        assertFalse(err.toString().contains("\tat "), "no stack trace: " + err);
    }

    @Test
    void unknownOptionIsUsageError() {
        StringWriter err = new StringWriter();
        int rc = Main.execute(new String[]{"--bogus"}, new PrintWriter(new StringWriter()), new PrintWriter(err));
        assertEquals(Main.EXIT_BAD_INPUT, rc);
        assertTrue(err.toString().contains("--bogus"), err.toString());
    }
}
