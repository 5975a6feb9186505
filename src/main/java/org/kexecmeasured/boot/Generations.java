package org.kexecmeasured.boot;

import org.kexecmeasured.util.BoundedFiles;

import org.kexecmeasured.util.AtomicFiles;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The evidence of finished boots, one directory per generation: {@code STATE/generations/<n>-<nonce>/}
 * ({@code n} = 1, 2, … in the order the boots finished, {@code nonce} = the boundary event's nonce in
 * hex) holding the journal, the firmware log it continued and a copy of the continued log. Archiving
 * is what lets the next boot use the same state directory: a journal left in {@code STATE} is one
 * whose run did not finish, and it blocks the next boot until {@code eventlog recover} settles it.
 *
 * <p>Archiving is idempotent: a crash in the middle leaves a finished journal in {@code STATE}, which
 * the next boot archives (into the same directory, found by its nonce) before it starts.
 */
public final class Generations {

    /** Under the state directory. */
    public static final String DIR = "generations";
    /** The continued log's copy in a generation. */
    public static final String LOG_FILE = "eventlog.bin";

    private static final Pattern NAME = Pattern.compile("([0-9]{1,9})-([0-9a-f]*)");

    private Generations() {
    }

    /**
     * Moves a finished journal (and its firmware log copy) into a new generation directory, with a copy
     * of {@code log} (may be null) beside it; returns that directory.
     */
    public static Path archive(Path stateDir, Journal.Contents journal, Path log) throws IOException {
        return archive(stateDir, journal.origin(), log);
    }

    /**
     * As above, for the journal whose header holds {@code origin} (the boot that wrote it knows it without
     * reading it again). Durability: the log's copy is forced before its rename; the firmware log's copy
     * and the journal were forced when written and are only renamed; one fsync of the generation's
     * directory after all three (and of {@code generations/} when the generation is new), then one of the
     * state directory, make the moves durable — the journal
     * moves last, so a crash before the state directory's fsync leaves it (finished) in {@code STATE},
     * and the next boot archives it again into the same generation.
     */
    public static Path archive(Path stateDir, Journal.Origin origin, Path log) throws IOException {
        String nonce = origin.nonce() == null ? "" : Hex.of(origin.nonce());
        Path gens = stateDir.resolve(DIR);
        Files.createDirectories(gens);
        Path target = existing(gens, nonce);
        boolean created = target == null;
        if (created) target = gens.resolve((highest(gens) + 1) + "-" + nonce);
        Files.createDirectories(target);
        if (log != null && Files.isRegularFile(log)) {
            // its directory entry is made durable by the generation's fsync below
            AtomicFiles.writeDirectoryUnsynced(target.resolve(LOG_FILE), BoundedFiles.read(log, BoundedFiles.EVENTLOG));
        }
        String fw = origin.firmwareLogFile();
        if (fw != null && Files.exists(stateDir.resolve(fw))) {
            Files.move(stateDir.resolve(fw), target.resolve(fw), StandardCopyOption.REPLACE_EXISTING);
        }
        // the journal goes last: while it is in STATE, the generation is not complete
        Files.move(stateDir.resolve(Journal.FILE_NAME), target.resolve(Journal.FILE_NAME),
                StandardCopyOption.REPLACE_EXISTING);
        AtomicFiles.syncDirectory(target);
        // a new generation's own entry is in generations/: durable before the state directory's fsync makes the
        // journal's leaving STATE durable, or a power cut could keep the move and lose the directory it went to
        if (created) AtomicFiles.syncDirectory(gens);
        AtomicFiles.syncDirectory(stateDir);
        return target;
    }

    /** The generation of this nonce, when a crash interrupted its archiving. */
    private static Path existing(Path gens, String nonce) throws IOException {
        if (nonce.isEmpty()) return null;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(gens)) {
            for (Path p : ds) {
                Matcher m = NAME.matcher(p.getFileName().toString());
                if (m.matches() && m.group(2).equals(nonce)) return p;
            }
        }
        return null;
    }

    private static long highest(Path gens) throws IOException {
        long n = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(gens)) {
            for (Path p : ds) {
                Matcher m = NAME.matcher(p.getFileName().toString());
                if (m.matches()) n = Math.max(n, Long.parseLong(m.group(1)));
            }
        }
        return n;
    }
}
