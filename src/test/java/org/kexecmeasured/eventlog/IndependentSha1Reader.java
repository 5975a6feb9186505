package org.kexecmeasured.eventlog;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * A deliberately separate, minimal reader of SHA-1 format logs (TCG_PCR_EVENT records) that replays
 * PCRs straight from the PC Client spec, sharing no code with the production parser or replay.
 */
final class IndependentSha1Reader {
    private IndependentSha1Reader() {
    }

    static byte[][] replay(byte[] log) throws Exception {
        byte[][] pcr = new byte[24][20];
        ByteBuffer bb = ByteBuffer.wrap(log).order(ByteOrder.LITTLE_ENDIAN);
        MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
        byte[] locality = "StartupLocality\0".getBytes(StandardCharsets.US_ASCII);
        boolean first = true;
        while (bb.remaining() > 0) {
            int index = bb.getInt();
            int type = bb.getInt();
            byte[] digest = new byte[20];
            bb.get(digest);
            int size = bb.getInt();
            byte[] data = new byte[size];
            bb.get(data);
            if (type == 3) {
                if (index == 0 && data.length == 17 && Arrays.equals(Arrays.copyOf(data, 16), locality) && first) {
                    pcr[0][19] = data[16];
                }
                continue;
            }
            first = false;
            if (index < 0 || index >= 24) continue;
            sha1.update(pcr[index]);
            sha1.update(digest);
            pcr[index] = sha1.digest();
        }
        return pcr;
    }
}
