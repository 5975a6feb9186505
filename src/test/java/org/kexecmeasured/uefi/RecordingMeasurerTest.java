package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;

import java.security.MessageDigest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The recorder keeps length and SHA-256 of every measurement, copies of the data only up to a total cap. */
class RecordingMeasurerTest {

    @Test
    void dataBeyondTheCapIsKeptAsLengthAndDigestOnly() throws Exception {
        RecordingMeasurer r = new RecordingMeasurer();
        byte[] small = "hello".getBytes();
        byte[] large = new byte[(int) (RecordingMeasurer.MAX_KEPT_DATA / 2 + 1)];
        large[7] = 42;
        r.measure(9, 0xD, new byte[]{1}, small, 0);
        r.measure(9, 0xD, new byte[]{2}, large, 0);
        r.measure(9, 0xD, new byte[]{3}, large, 0); // would pass the cap
        var ms = r.measurements();
        assertEquals(3, ms.size());
        assertArrayEquals(small, ms.get(0).dataToHash());
        assertArrayEquals(large, ms.get(1).dataToHash());
        assertNull(ms.get(2).dataToHash(), "a copy past the cap is not kept");
        MessageDigest sha = MessageDigest.getInstance("SHA-256"); // the JDK as an independent oracle
        assertEquals(large.length, ms.get(2).dataLength());
        assertArrayEquals(sha.digest(large), ms.get(2).dataSha256());
        assertArrayEquals(sha.digest(small), ms.get(0).dataSha256());
    }
}
