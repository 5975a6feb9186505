package org.kexecmeasured.eventlog;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.kexecmeasured.eventlog.decode.DecodedEvent;
import org.kexecmeasured.eventlog.export.CelJson;
import org.kexecmeasured.eventlog.export.TpmEventlogYaml;
import org.kexecmeasured.util.BadInputException;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * Coverage-guided fuzz target (Jazzer) for the event-log parser and everything downstream of it.
 * The fuzzer picks one of the real logs, patches bytes (biased to the first 4 KiB, where the Spec
 * ID header and record headers are), may cut or extend it; only success or BadInputException may
 * leave the parser, a parsed log must write back byte-identically, and replay (every input),
 * decoding, quirk detection and CEL (one in four) and the YAML view (one in sixteen) must not throw.
 * The default test run replays the stored inputs only; a 10-minute fuzzing run: {@code mvn -B -ntp test -Pslow -Dfuzz=1 -Dtest='EventlogJazzerFuzzTest'}.
 * {@link ParserFuzzTest} is the seeded, always-on mutation fuzzer over the same inputs.
 */
class EventlogJazzerFuzzTest {
    private static List<byte[]> logs;

    @FuzzTest(maxDuration = "10m")
    void parsePatchedLog(FuzzedDataProvider data) {
        if (logs == null) logs = Fixtures.allLogs().stream().map(Fixtures::read).toList();
        byte[] b = logs.get(data.consumeInt(0, logs.size() - 1)).clone();
        int patches = data.consumeInt(0, 12);
        for (int i = 0; i < patches && b.length > 0; i++) {
            int off = data.consumeBoolean() ? data.consumeInt(0, Math.min(4095, b.length - 1)) : data.consumeInt(0, b.length - 1);
            b[off] = data.consumeByte();
        }
        int tail = data.consumeInt(0, 2);
        if (tail == 1) b = Arrays.copyOf(b, data.consumeInt(0, b.length));
        if (tail == 2) {
            byte[] extra = data.consumeBytes(64);
            byte[] c = Arrays.copyOf(b, b.length + extra.length);
            System.arraycopy(extra, 0, c, b.length, extra.length);
            b = c;
        }
        EventLog log;
        try {
            log = EventLog.parse(b);
            assertArrayEquals(b, log.toBytes());
        } catch (BadInputException expected) {
            log = EventLogParser.parseLenient(b).log();
        }
        Replay.replay(log);
        // downstream of the parser on a share of the inputs: decoding and the exports cost ~50 times the
        // parse under instrumentation (21 inputs/s when every input went through all of them)
        // (an input whose bytes ran out reads 0 here: the cheap path)
        int depth = data.consumeInt(0, 15);
        if (depth % 4 == 3) {
            Quirks.find(log);
            for (Event e : log.events()) {
                DecodedEvent d = e.decoded();
                d.summary();
                d.fields();
            }
            CelJson.records(log).forEach(x -> { }); // built as read
        }
        if (depth == 15) TpmEventlogYaml.render(log, null);
    }
}
