package org.kexecmeasured.eventlog;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Zero-filled input is refused at record 0, from its first 32 bytes, so that a caller reading a
 * device can stop there (/dev/zero used to be read until the heap ran out).
 */
class ZeroStartTest {

    static byte[] realLog() {
        return EventLog.newCryptoAgile(List.of(HashAlg.SHA256))
                .appendMeasured(9, EventType.EV_IPL, "data".getBytes(StandardCharsets.US_ASCII), "data".getBytes(StandardCharsets.US_ASCII))
                .build().toBytes();
    }

    @Test
    void zeroHeaderBeforeARealLogIsRefusedAtRecordZero() {
        byte[] log = realLog();
        byte[] b = new byte[32 + log.length];
        System.arraycopy(log, 0, b, 32, log.length);
        BadInputException e = assertThrows(BadInputException.class, () -> EventLog.parse(b));
        assertTrue(e.getMessage().startsWith("record 0 at byte offset 0 (0x0): the first 32 bytes are all zero"), e.getMessage());
        // the same words from the first bytes alone, as a stream reader checks them
        BadInputException h = assertThrows(BadInputException.class, () -> EventLogParser.checkStart(Arrays.copyOf(b, 32)));
        assertEquals(e.getMessage(), h.getMessage());
    }

    @Test
    void realLogsAndShortHeadsPass() {
        byte[] log = realLog();
        EventLogParser.checkStart(log);
        EventLogParser.checkStart(new byte[31]); // too short to judge: the parse decides
        assertEquals(2, EventLog.parse(log).events().size());
        // all zeros keeps its own message
        BadInputException z = assertThrows(BadInputException.class, () -> EventLog.parse(new byte[4096]));
        assertTrue(z.getMessage().contains("only zero bytes"), z.getMessage());
    }
}
