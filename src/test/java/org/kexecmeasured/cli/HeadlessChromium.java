package org.kexecmeasured.cli;

import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Debian's chromium, headless, as the browser that renders the HTML view: {@code --dump-dom} gives the
 * DOM after parsing and layout (parsed here with jsoup for assertions), {@code --screenshot} a picture.
 * Each run gets a fresh profile directory and no network features.
 */
final class HeadlessChromium {
    static final Path BINARY = Path.of("/usr/bin/chromium");

    private HeadlessChromium() {
    }

    private static List<String> command(Path profile) {
        assertTrue(Files.isExecutable(BINARY), BINARY + " is missing: install the Debian package chromium (tests/bin/install-deps)");
        return new ArrayList<>(List.of(BINARY.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + profile));
    }

    /** The DOM Chromium built from the file, serialised by Chromium and parsed by jsoup. */
    static Document dumpDom(Path html, Path work) throws Exception {
        List<String> cmd = command(Files.createTempDirectory(work, "chromium-profile"));
        cmd.add("--dump-dom");
        cmd.add(html.toUri().toString());
        Path out = Files.createTempFile(work, "dom", ".html");
        run(cmd, out);
        String dom = Files.readString(out, StandardCharsets.UTF_8);
        assertTrue(dom.contains("<html"), "chromium --dump-dom printed no document for " + html + ":\n" + dom);
        return Jsoup.parse(dom);
    }

    /** A PNG of the page at the given window size. */
    static void screenshot(Path html, Path png, int width, int height, Path work) throws Exception {
        List<String> cmd = command(Files.createTempDirectory(work, "chromium-profile"));
        cmd.add("--window-size=" + width + "," + height);
        cmd.add("--hide-scrollbars");
        cmd.add("--screenshot=" + png.toAbsolutePath());
        cmd.add(html.toUri().toString());
        Files.createDirectories(png.toAbsolutePath().getParent());
        run(cmd, Files.createTempFile(work, "screenshot", ".out"));
        assertTrue(Files.size(png) > 1000, "chromium wrote no screenshot to " + png);
    }

    private static void run(List<String> cmd, Path stdout) throws IOException, InterruptedException {
        Path err = Files.createTempFile(stdout.getParent(), "chromium", ".err");
        Process p = new ProcessBuilder(cmd).redirectOutput(stdout.toFile()).redirectError(err.toFile()).start();
        p.getOutputStream().close();
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            fail("chromium timed out: " + String.join(" ", cmd));
        }
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + Files.readString(err, StandardCharsets.ISO_8859_1));
    }
}
