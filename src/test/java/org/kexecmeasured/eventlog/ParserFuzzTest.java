package org.kexecmeasured.eventlog;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.eventlog.decode.DecodedEvent;
import org.kexecmeasured.eventlog.export.CelJson;
import org.kexecmeasured.eventlog.export.JsonView;
import org.kexecmeasured.eventlog.export.TpmEventlogYaml;
import org.kexecmeasured.util.BadInputException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A seeded mutation fuzzer over the real logs: only success or {@link BadInputException} may leave
 * the parser, and whatever parses must also decode, replay, export and round-trip without any other
 * exception. Default run is bounded ({@code eventlog.fuzz.iterations}, 3000); the slow-tagged run
 * takes {@code eventlog.fuzz.slowIterations} (default 200000). A failure prints the seed and iteration.
 *
 * <p>This one always mutates and runs in the default suite; {@link EventlogJazzerFuzzTest} is the
 * coverage-guided (Jazzer) target, which the default run only replays stored findings for.
 */
class ParserFuzzTest {
    private static final long[] INTERESTING = {0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000,
            0x7fffffffL, 0x80000000L, 0xfffffffeL, 0xffffffffL};

    @Test
    void boundedFuzzRun() {
        fuzz(Long.getLong("eventlog.fuzz.seed", 20261126L), Integer.getInteger("eventlog.fuzz.iterations", 3000));
    }

    @Test
    @Tag("slow")
    void longFuzzRun() {
        fuzz(Long.getLong("eventlog.fuzz.seed", System.nanoTime()), Integer.getInteger("eventlog.fuzz.slowIterations", 200_000));
    }

    private static void fuzz(long seed, int iterations) {
        List<byte[]> corpus = new ArrayList<>();
        for (Path p : Fixtures.allLogs()) corpus.add(Fixtures.read(p));
        Random rnd = new Random(seed);
        int parsed = 0;
        int rejected = 0;
        for (int it = 0; it < iterations; it++) {
            byte[] input = mutate(corpus.get(rnd.nextInt(corpus.size())), rnd);
            try {
                EventLog log;
                try {
                    log = EventLog.parse(input);
                } catch (BadInputException e) {
                    rejected++;
                    EventLogParser.Result r = EventLogParser.parseLenient(input);
                    if (r.error() == null) fail("lenient parse succeeded where strict failed");
                    log = r.log();
                    exercise(log, input, false);
                    continue;
                }
                parsed++;
                exercise(log, input, true);
            } catch (BadInputException e) {
                fail("BadInputException escaped from a step after parsing (seed " + seed + ", iteration " + it + "): " + e.getMessage(), e);
            } catch (Throwable t) {
                fail("unexpected " + t + " (seed " + seed + ", iteration " + it + ")", t);
            }
        }
        assertEquals(iterations, parsed + rejected);
        // the mutator must reach both outcomes, or the fuzzing is pointless
        if (iterations >= 1000 && (parsed < iterations / 50 || rejected < iterations / 50)) {
            fail("mutations too mild or too harsh: " + parsed + " parsed, " + rejected + " rejected");
        }
    }

    /** Every consumer of a parsed log must cope with whatever the parser accepted. */
    private static void exercise(EventLog log, byte[] input, boolean complete) {
        if (complete) assertArrayEquals(input, log.toBytes(), "a parsed log must round-trip");
        Replay.replay(log);
        Quirks.find(log);
        for (Event e : log.events()) {
            DecodedEvent d = e.decoded();
            d.summary();
            d.fields();
        }
        // the views build their records as they are read
        ((java.util.List<?>) JsonView.log(log, null).get("events")).forEach(x -> { });
        CelJson.records(log).forEach(x -> { });
        TpmEventlogYaml.render(log, null);
        if (log.format() == LogFormat.CRYPTO_AGILE && log.banks().size() == log.specId().algorithms().size()) {
            byte[] data = {1, 2, 3};
            log.toBuilder().appendMeasured(11, EventType.EV_IPL, data, data).build().toBytes();
        }
    }

    static byte[] mutate(byte[] src, Random rnd) {
        byte[] b = src.clone();
        int n = 1 + rnd.nextInt(6);
        for (int i = 0; i < n && b.length > 0; i++) {
            int op = rnd.nextInt(8);
            int at = rnd.nextInt(b.length);
            switch (op) {
                case 0 -> b[at] ^= (byte) (1 << rnd.nextInt(8));
                case 1 -> b[at] = (byte) rnd.nextInt(256);
                case 2 -> {
                    if (at + 4 <= b.length) {
                        long v = INTERESTING[rnd.nextInt(INTERESTING.length)];
                        for (int k = 0; k < 4; k++) b[at + k] = (byte) (v >>> (8 * k));
                    }
                }
                case 3 -> b = Arrays.copyOf(b, at); // truncate
                case 4 -> { // duplicate a chunk
                    int len = Math.min(b.length - at, 1 + rnd.nextInt(64));
                    byte[] c = new byte[b.length + len];
                    System.arraycopy(b, 0, c, 0, at + len);
                    System.arraycopy(b, at, c, at + len, b.length - at);
                    b = c;
                }
                case 5 -> { // delete a chunk
                    int len = Math.min(b.length - at, 1 + rnd.nextInt(16));
                    byte[] c = new byte[b.length - len];
                    System.arraycopy(b, 0, c, 0, at);
                    System.arraycopy(b, at + len, c, at, b.length - at - len);
                    b = c;
                }
                case 6 -> { // small delta on a 32-bit little-endian field
                    if (at + 4 <= b.length) {
                        int v = (b[at] & 0xff) | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16 | (b[at + 3] & 0xff) << 24;
                        v += rnd.nextInt(9) - 4;
                        for (int k = 0; k < 4; k++) b[at + k] = (byte) (v >>> (8 * k));
                    }
                }
                default -> { // append random bytes
                    byte[] tail = new byte[1 + rnd.nextInt(40)];
                    rnd.nextBytes(tail);
                    byte[] c = Arrays.copyOf(b, b.length + tail.length);
                    System.arraycopy(tail, 0, c, b.length, tail.length);
                    b = c;
                }
            }
        }
        return b;
    }
}
