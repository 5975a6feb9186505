package org.kexecmeasured.prediction;

import org.kexecmeasured.payload.hash.MultiHasher;
import org.kexecmeasured.payload.pe.Authenticode;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.uki.StubMeasurements;
import org.kexecmeasured.uefi.EmulationException;
import org.kexecmeasured.uefi.EmulationResult;
import org.kexecmeasured.uefi.Emulator;
import org.kexecmeasured.uefi.EmulatorOptions;
import org.kexecmeasured.uefi.Measurer;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs a UKI's systemd-stub in the emulator (no TPM, no ESP, SecureBoot off, the default command line or
 * {@code @N} for profile N) to the kernel hand-off and records every measurement in every bank requested:
 * the stub's own HashLogExtendEvent calls (PCR 11, 12, 13) and the PCR 4 image events firmware logs for
 * images the stub loads through LoadImage (the kernel on 252–257, addons). PCR values are computed from
 * zero for the stub's PCRs 11, 12 and 13 (PCR 4 holds firmware events before the stub, so only its events
 * are listed).
 */
public final class EmulatedStub implements StubMeasurements.Runner {

    /** EV_EFI_BOOT_SERVICES_APPLICATION (TCG PC Client PFP). */
    static final int EV_EFI_BOOT_SERVICES_APPLICATION = 0x80000003;
    /** EFI_TCG2 HashLogExtendEvent flag: hash the PE/COFF image's Authenticode digest. */
    static final long PE_COFF_IMAGE = 0x10;
    static final List<Integer> STUB_PCRS = List.of(11, 12, 13);

    private final long timeBudgetMillis;

    /** @param timeBudgetMillis wall-time budget of one run (the 252–262 stubs need well under a second) */
    public EmulatedStub(long timeBudgetMillis) {
        this.timeBudgetMillis = timeBudgetMillis;
    }

    @Override
    public StubMeasurements run(byte[] uki, Integer profile, Collection<HashAlg> banks) {
        EnumSet<HashAlg> algs = EnumSet.copyOf(banks);
        Recorder rec = new Recorder(algs);
        EmulatorOptions.Builder b = EmulatorOptions.builder().measurer(rec).timeBudgetMillis(timeBudgetMillis)
                .payloadName("uki.efi");
        if (profile != null) b.append("@" + profile);
        EmulationResult r;
        try {
            r = Emulator.run(uki, b.build());
        } catch (EmulationException e) {
            throw new BadInputException("the UKI's stub did not reach the kernel in the emulator: " + e.getMessage(), e);
        }
        Map<Integer, Map<HashAlg, byte[]>> pcrs = new TreeMap<>();
        for (StubMeasurements.Event e : rec.events) {
            if (!STUB_PCRS.contains(e.pcr())) continue;
            Map<HashAlg, byte[]> v = pcrs.computeIfAbsent(e.pcr(), k -> zeros(algs));
            for (HashAlg a : algs) v.put(a, a.extend(v.get(a), e.digests().get(a)));
        }
        if (!pcrs.containsKey(11)) pcrs.put(11, zeros(algs));
        return new StubMeasurements(profile, List.copyOf(rec.events), pcrs, r.handOff() != null);
    }

    private static Map<HashAlg, byte[]> zeros(EnumSet<HashAlg> algs) {
        Map<HashAlg, byte[]> m = new EnumMap<>(HashAlg.class);
        for (HashAlg a : algs) m.put(a, new byte[a.size]);
        return m;
    }

    /** Digests every measurement in every bank as it happens (the data itself is not kept). */
    private static final class Recorder implements Measurer {
        private final EnumSet<HashAlg> algs;
        final List<StubMeasurements.Event> events = new ArrayList<>();

        Recorder(EnumSet<HashAlg> algs) {
            this.algs = algs;
        }

        @Override
        public int activePcrBanks() {
            int bits = 0;
            for (HashAlg a : algs) bits |= a.tcg2Bit;
            return bits;
        }

        @Override
        public void measure(int pcr, int eventType, byte[] eventData, byte[] dataToHash, long flags) {
            Map<HashAlg, byte[]> d;
            if ((flags & PE_COFF_IMAGE) != 0) {
                d = Authenticode.digests(PeFile.parse(dataToHash), algs);
            } else {
                try (MultiHasher h = MultiHasher.create(algs)) {
                    h.update(dataToHash, 0, dataToHash.length);
                    d = h.finish();
                }
            }
            events.add(new StubMeasurements.Event(pcr, eventType, describe(eventData), d));
        }

        @Override
        public void imageLoaded(java.nio.ByteBuffer file, long address, long size, long linkTimeAddress, byte[] devicePath,
                                boolean firstImage) {
            if (firstImage) return; // the UKI itself (a mapping, often 60 MB): firmware measured it before the stub ran
            events.add(new StubMeasurements.Event(4, EV_EFI_BOOT_SERVICES_APPLICATION,
                    "image loaded by the stub (" + file.capacity() + " bytes)", Authenticode.digests(PeFile.parse(file.duplicate()), algs)));
        }
    }

    /** Event data as text: UCS-2 (the stub's descriptions) or ASCII, else its length. */
    static String describe(byte[] d) {
        if (d.length >= 2 && d.length % 2 == 0 && d[1] == 0) {
            String s = new String(d, StandardCharsets.UTF_16LE).replace("\0", "");
            if (s.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) return s;
        }
        String s = new String(d, StandardCharsets.ISO_8859_1).replace("\0", "");
        if (!s.isEmpty() && s.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) return s;
        return d.length + " bytes of event data";
    }
}
