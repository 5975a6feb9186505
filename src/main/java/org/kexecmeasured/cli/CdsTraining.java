package org.kexecmeasured.cli;

import java.io.OutputStream;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Build step only (the pom's class-data-sharing training): runs several commands in one JVM, so that
 * {@code -XX:ArchiveClassesAtExit} archives the classes of each — JDK 17 dumps one run's classes, and a run of
 * one command leaves the others' (the emulator, JNA, PE/COFF, Jackson's writers) to be parsed and verified at
 * every start. Commands are separated by {@code --then}; their output is discarded and their exit codes do not
 * matter (a training input that is missing on the build machine only makes the archive smaller).
 */
public final class CdsTraining {

    private CdsTraining() {
    }

    public static void main(String[] args) {
        try {
            Warmup.run(); // what boot and predict load on their second thread (TSS.Java, JNA, Jackson's writers)
        } catch (Exception e) {
            // the archive is only smaller
        }
        PrintWriter nowhere = new PrintWriter(OutputStream.nullOutputStream());
        List<String> command = new ArrayList<>();
        for (String a : Arrays.asList(args)) {
            if (a.equals("--then")) {
                Main.execute(command.toArray(String[]::new), nowhere, nowhere);
                command.clear();
            } else {
                command.add(a);
            }
        }
        if (!command.isEmpty()) Main.execute(command.toArray(String[]::new), nowhere, nowhere);
        System.exit(0);
    }
}
