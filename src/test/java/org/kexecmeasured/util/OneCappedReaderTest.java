package org.kexecmeasured.util;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 10 item 7 and issue 9 ("one capped file reader"): every whole-file or whole-stream read in
 * the main sources goes through {@link BoundedFiles}. The oracle is the source itself: no call of the
 * JDK's uncapped whole-file readers (or a hand-made cap with {@code readNBytes}) outside
 * {@code BoundedFiles.java}. A new one fails here naming file and line, so it is moved to
 * {@code BoundedFiles.read/open} with a named limit instead.
 */
class OneCappedReaderTest {

    /** The JDK calls that read a whole file or stream into memory, or open one for a hand-made capped read. */
    static final Pattern UNCAPPED = Pattern.compile(
            "Files\\.(readAllBytes|readString|readAllLines|lines|newInputStream|newBufferedReader)\\s*\\("
                    + "|new\\s+(FileInputStream|FileReader)\\s*\\("
                    + "|\\.readNBytes\\s*\\(|\\.readAllBytes\\s*\\(");

    @Test
    void noWholeFileReadBypassesBoundedFiles() throws IOException {
        Path main = Path.of("src", "main", "java");
        assertTrue(Files.isDirectory(main), "run from the project directory: " + Path.of("").toAbsolutePath());
        List<String> found = new ArrayList<>();
        int scanned = 0;
        try (Stream<Path> files = Files.walk(main)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                scanned++;
                if (f.getFileName().toString().equals("BoundedFiles.java")) continue;
                List<String> lines = Files.readAllLines(f);
                for (int i = 0; i < lines.size(); i++) {
                    String code = lines.get(i).replaceAll("//.*$", "");
                    if (code.strip().startsWith("*")) continue; // Javadoc prose
                    if (UNCAPPED.matcher(code).find()) found.add(main.relativize(f) + ":" + (i + 1) + ": " + code.strip());
                }
            }
        }
        assertTrue(scanned > 100, "scanned only " + scanned + " source files");
        assertEquals(List.of(), found, "read these through util.BoundedFiles with a named limit");
    }

    @Test
    void thePatternCatchesEachKindOfBypass() {
        // the scan above is only as good as its pattern: each form it must catch, and a capped read it must not
        for (String bad : List.of("byte[] b = Files.readAllBytes(p);", "Files.readString(file, UTF_8)",
                "for (String l : Files.readAllLines(status))", "try (var in = Files.newInputStream(p))",
                "in.readNBytes(MAX + 1)", "new FileInputStream(f)", "System.in.readAllBytes()")) {
            assertTrue(UNCAPPED.matcher(bad).find(), bad);
        }
        assertTrue(!UNCAPPED.matcher("BoundedFiles.read(p, BoundedFiles.TEXT)").find());
    }
}
