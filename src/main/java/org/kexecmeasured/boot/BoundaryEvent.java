package org.kexecmeasured.boot;

import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedSet;
import java.util.stream.Collectors;

/** The kexec boundary event, as specified in {@code tcg2/kexec-boundary-event.md} (version 1). */
public final class BoundaryEvent {

    public static final int EV_EVENT_TAG = 0x00000006;
    public static final int TAG_ID = 0x4B584D42;
    public static final int VERSION = 1;

    private final byte[] data;
    private final byte[] nonce;
    private final SortedSet<Integer> pcrs;

    /**
     * @param nonce   16 bytes, ideally from the TPM's RNG
     * @param payload SHA-256 Authenticode digest of the first payload
     * @param policy  hex SHA-256 of the policy bytes, or the built-in policy's name
     */
    public BoundaryEvent(String toolVersion, Instant time, byte[] nonce, byte[] payload, String policy,
                         SortedSet<Integer> pcrs) {
        if (nonce.length != 16) throw new IllegalArgumentException("nonce must be 16 bytes");
        if (pcrs.isEmpty()) throw new IllegalArgumentException("empty boundary set");
        this.pcrs = pcrs;
        this.nonce = nonce.clone();
        String text = "kexec-measured-boundary=" + VERSION + "\n"
                + "tool=kexec-measured " + toolVersion + "\n"
                + "time=" + time.truncatedTo(ChronoUnit.SECONDS) + "\n"
                + "nonce=" + Hex.of(nonce) + "\n"
                + "payload=" + Hex.of(payload) + "\n"
                + "policy=" + policy + "\n"
                + "pcrs=" + pcrs.stream().map(String::valueOf).collect(Collectors.joining(",")) + "\n";
        this.data = text.getBytes(StandardCharsets.UTF_8);
    }

    /** The run's 16-byte nonce (it also names the run's generation in the state directory). */
    public byte[] nonce() {
        return nonce.clone();
    }

    /** taggedEventData. */
    public byte[] data() {
        return data.clone();
    }

    /** The TCG_PCClientTaggedEvent logged as the event. */
    public byte[] taggedEvent() {
        return taggedEvent(TAG_ID, data);
    }

    /** One record per boundary PCR, ascending; digest = H(taggedEventData) in each bank. */
    public List<Measurement> measurements(Iterable<HashAlg> banks) {
        List<Measurement> out = new ArrayList<>();
        byte[] ev = taggedEvent();
        Measurement first = null;
        for (int pcr : pcrs) {
            if (first == null) {
                first = Measurement.of(pcr, EV_EVENT_TAG, banks, data, ev);
                out.add(first);
            } else {
                out.add(new Measurement(pcr, EV_EVENT_TAG, first.digests(), ev)); // hash once
            }
        }
        return out;
    }

    /** TCG_PCClientTaggedEvent: u32 id, u32 size, data (little-endian). */
    public static byte[] taggedEvent(int id, byte[] data) {
        ByteBuffer bb = ByteBuffer.allocate(8 + data.length).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(id).putInt(data.length).put(data);
        return bb.array();
    }
}
