package org.kexecmeasured.eventlog;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A deliberately separate, minimal reader of crypto-agile logs (Spec ID + TCG_PCR_EVENT2) that
 * replays PCRs straight from the PC Client spec, sharing no code with the production classes.
 * Handles well-formed logs with vendorInfo inside the Spec ID event only.
 */
final class IndependentAgileReader {
    private IndependentAgileReader() {
    }

    /**
     * Bank name ("sha256") → 24 PCRs. {@code asTpm2Tools54}: imitate tpm2_eventlog 5.4, which extends the
     * (zero) digests of EV_NO_ACTION records after the Spec ID one and ignores StartupLocality;
     * otherwise follow the spec (EV_NO_ACTION never extended, PCR 0 starts at the locality).
     */
    static Map<String, byte[][]> replay(byte[] log, boolean asTpm2Tools54) throws Exception {
        boolean honourLocality = !asTpm2Tools54;
        ByteBuffer bb = ByteBuffer.wrap(log).order(ByteOrder.LITTLE_ENDIAN);
        bb.position(28);
        int specSize = bb.getInt();
        int specStart = bb.position();
        bb.position(specStart + 24);
        int n = bb.getInt();
        Map<Integer, Integer> sizes = new LinkedHashMap<>();
        Map<Integer, String> names = Map.of(4, "SHA-1", 11, "SHA-256", 12, "SHA-384", 13, "SHA-512");
        Map<Integer, String> tpm = Map.of(4, "sha1", 11, "sha256", 12, "sha384", 13, "sha512");
        for (int i = 0; i < n; i++) sizes.put((int) bb.getShort(), (int) bb.getShort());
        bb.position(specStart + specSize);
        Map<Integer, byte[][]> pcrs = new LinkedHashMap<>();
        for (Map.Entry<Integer, Integer> e : sizes.entrySet()) pcrs.put(e.getKey(), new byte[24][e.getValue()]);
        byte[] locality = "StartupLocality\0".getBytes(StandardCharsets.US_ASCII);
        while (bb.remaining() > 0) {
            int index = bb.getInt();
            int type = bb.getInt();
            int count = bb.getInt();
            Map<Integer, byte[]> digests = new LinkedHashMap<>();
            for (int i = 0; i < count; i++) {
                int alg = bb.getShort();
                byte[] d = new byte[sizes.get(alg)];
                bb.get(d);
                digests.put(alg, d);
            }
            byte[] data = new byte[bb.getInt()];
            bb.get(data);
            if (type == 3) {
                if (honourLocality && index == 0 && data.length == 17 && Arrays.equals(Arrays.copyOf(data, 16), locality)) {
                    for (byte[][] p : pcrs.values()) p[0][p[0].length - 1] = data[16];
                }
                if (!asTpm2Tools54) continue;
            }
            if (index < 0 || index >= 24) continue;
            for (Map.Entry<Integer, byte[]> d : digests.entrySet()) {
                MessageDigest md = MessageDigest.getInstance(names.get(d.getKey()));
                byte[][] p = pcrs.get(d.getKey());
                md.update(p[index]);
                md.update(d.getValue());
                p[index] = md.digest();
            }
        }
        Map<String, byte[][]> out = new LinkedHashMap<>();
        pcrs.forEach((k, v) -> out.put(tpm.get(k), v));
        return out;
    }
}
