package org.kexecmeasured.uefi.spi;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;

/** EFI_TIME (UEFI spec 8.3), 16 bytes, always UTC with TimeZone = EFI_UNSPECIFIED_TIMEZONE. */
public final class EfiTime {
    private EfiTime() {
    }

    public static byte[] encode(Instant instant) {
        ZonedDateTime t = ZonedDateTime.ofInstant(instant, ZoneOffset.UTC);
        byte[] b = new byte[16];
        b[0] = (byte) t.getYear();
        b[1] = (byte) (t.getYear() >> 8);
        b[2] = (byte) t.getMonthValue();
        b[3] = (byte) t.getDayOfMonth();
        b[4] = (byte) t.getHour();
        b[5] = (byte) t.getMinute();
        b[6] = (byte) t.getSecond();
        // Pad1, Nanosecond (u32 at 8), TimeZone i16 at 12 = 0x07FF (unspecified), Daylight, Pad2
        b[12] = (byte) 0xFF;
        b[13] = 0x07;
        return b;
    }
}
