package org.kexecmeasured.payload.uki;

import org.kexecmeasured.eventlog.Pcr;
import org.kexecmeasured.payload.hash.MultiHasher;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.pe.Section;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * PCR 11 as systemd-stub 252 leaves it (Debian 12), and optionally after systemd-pcrphase words.
 *
 * <p>For each section present and non-empty, in the order {@link #ORDER_V252}, the stub logs two
 * EV_IPL events into PCR 11: the digest of the section name including its terminating NUL, then the
 * digest of the section as loaded in memory (VirtualSize bytes; zero-filled past the raw data).
 * .pcrsig is never measured. A PCR starts at all zeros; extend is H(pcr || digest).
 */
public final class Pcr11 {

    public static final int PCR = Pcr.KERNEL_BOOT;
    public static final List<String> ORDER_V252 = List.of(".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".pcrpkey");

    /** One measured event: what was hashed and its digest per bank. */
    public record Event(String description, Map<HashAlg, byte[]> digests) {
    }

    public record Prediction(List<Event> events, Map<HashAlg, byte[]> pcr) {
    }

    /** Zero-fill beyond this is refused: real sections pad by kilobytes (kernel .bss by tens of MiB at most). */
    static final long MAX_ZERO_FILL = 256L << 20;

    private Pcr11() {
    }

    public static Prediction predict(PeFile pe, Collection<HashAlg> banks) {
        return predict(pe, banks, List.of());
    }

    /** Prediction after the stub, then extending each phase word (systemd-pcrphase: H(word), no NUL). */
    public static Prediction predict(PeFile pe, Collection<HashAlg> banks, List<String> phaseWords) {
        Uki.requireUnambiguous(pe);
        List<HashAlg> algs = new ArrayList<>(banks);
        List<Event> events = new ArrayList<>();
        for (String name : ORDER_V252) {
            Section s = pe.section(name).orElse(null);
            if (s == null || s.virtualSize() == 0) continue;
            byte[] nameBytes = (name + "\0").getBytes(StandardCharsets.US_ASCII);
            events.add(new Event(name + " (name)", hashAll(algs, nameBytes)));
            events.add(new Event(name + " (" + s.virtualSize() + " bytes)", hashLoaded(algs, pe, s)));
        }
        for (String w : phaseWords) {
            events.add(new Event("phase " + w, hashAll(algs, w.getBytes(StandardCharsets.UTF_8))));
        }
        Map<HashAlg, byte[]> pcr = new EnumMap<>(HashAlg.class);
        for (HashAlg a : algs) {
            byte[] v = new byte[a.size];
            for (Event e : events) v = a.extend(v, e.digests().get(a));
            pcr.put(a, v);
        }
        return new Prediction(events, pcr);
    }

    private static Map<HashAlg, byte[]> hashAll(List<HashAlg> algs, byte[] data) {
        Map<HashAlg, byte[]> m = new EnumMap<>(HashAlg.class);
        for (HashAlg a : algs) m.put(a, a.digest(data));
        return m;
    }

    private static Map<HashAlg, byte[]> hashLoaded(List<HashAlg> algs, PeFile pe, Section s) {
        long vs = s.virtualSize();
        long raw = Math.min(vs, s.sizeOfRawData());
        if (vs - raw > MAX_ZERO_FILL) {
            throw new BadInputException(String.format("UKI: section %s virtual size 0x%x exceeds its raw data (0x%x) by more than %d MiB",
                    s.name(), vs, s.sizeOfRawData(), MAX_ZERO_FILL >> 20));
        }
        try (MultiHasher h = MultiHasher.create(algs)) {
            if (raw > 0) h.update(pe.bytes(), (int) s.pointerToRawData(), (int) raw);
            h.updateZeros(vs - raw);
            return h.finish();
        }
    }
}
