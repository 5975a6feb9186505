package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.policy.TpmlPcrSelection;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A TPML_PCR_SELECTION: an ordered list of banks, each with a set of PCR indices. The bank order
 * is kept because it defines the order of PCR values in TPM2_PCR_Read responses and in the
 * PolicyPCR digest. Immutable.
 * <p>
 * Loops, no lambdas or streams: a boot builds and reads selections on its main thread before anything is compiled,
 * and a lambda whose call site the class-data-sharing training did not run is spun into a class at run time (~1
 * CPU-ms each, interpreted).
 */
public final class PcrSelection implements TpmlPcrSelection {
    /** PCR_SELECT_MIN for a PC-client TPM: 24 PCRs → 3 bytes. */
    public static final int MIN_SELECT_BYTES = 3;
    public static final int MAX_PCR = 255;

    private final LinkedHashMap<HashAlg, BitSet> banks;

    private PcrSelection(LinkedHashMap<HashAlg, BitSet> banks) {
        this.banks = banks;
    }

    public static PcrSelection of(HashAlg alg, int... pcrs) {
        return builder().add(alg, pcrs).build();
    }

    public static PcrSelection of(HashAlg alg, Iterable<Integer> pcrs) {
        Builder b = builder();
        for (int p : pcrs) b.add(alg, p);
        return b.build();
    }

    /** The same PCRs in each of the given banks, banks in the given order. */
    public static PcrSelection of(List<HashAlg> algs, Iterable<Integer> pcrs) {
        Builder b = builder();
        for (HashAlg a : algs) {
            b.bank(a);
            for (int p : pcrs) b.add(a, p);
        }
        return b.build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private final LinkedHashMap<HashAlg, BitSet> banks = new LinkedHashMap<>();

        /** Adds a bank (possibly with no PCRs) at the current end of the bank order. */
        public Builder bank(HashAlg alg) {
            bits(alg);
            return this;
        }

        /** The bank's bits, added at the end of the order when new (a loop, not a lambda: see the class comment). */
        private BitSet bits(HashAlg alg) {
            BitSet bs = banks.get(alg);
            if (bs == null) {
                bs = new BitSet();
                banks.put(alg, bs);
            }
            return bs;
        }

        public Builder add(HashAlg alg, int... pcrs) {
            BitSet bs = bits(alg);
            for (int p : pcrs) {
                if (p < 0 || p > MAX_PCR) throw new BadInputException("PCR index " + p + " out of range 0.." + MAX_PCR);
                bs.set(p);
            }
            return this;
        }

        public PcrSelection build() {
            LinkedHashMap<HashAlg, BitSet> copy = new LinkedHashMap<>();
            for (Map.Entry<HashAlg, BitSet> e : banks.entrySet()) {
                copy.put(e.getKey(), (BitSet) e.getValue().clone());
            }
            return new PcrSelection(copy);
        }
    }

    /**
     * Parses a PCR list such as "0-7,11,14" or "all" (0–23); empty string → empty list.
     */
    public static List<Integer> parsePcrList(String s) {
        TreeSet<Integer> out = new TreeSet<>();
        String t = s.strip();
        if (t.isEmpty()) return List.of();
        if (t.equalsIgnoreCase("all")) {
            for (int i = 0; i < 24; i++) out.add(i);
            return new ArrayList<>(out);
        }
        for (String part : t.split(",")) {
            String p = part.strip();
            try {
                int dash = p.indexOf('-');
                if (dash > 0) {
                    int a = Integer.parseInt(p.substring(0, dash).strip());
                    int b = Integer.parseInt(p.substring(dash + 1).strip());
                    if (a > b) throw new BadInputException("PCR range '" + p + "' is reversed");
                    for (int i = a; i <= b; i++) out.add(checkPcr(i));
                } else {
                    out.add(checkPcr(Integer.parseInt(p)));
                }
            } catch (NumberFormatException e) {
                throw new BadInputException("bad PCR list '" + s + "': '" + p + "' is not a PCR index or range");
            }
        }
        return new ArrayList<>(out);
    }

    private static int checkPcr(int i) {
        if (i < 0 || i > MAX_PCR) throw new BadInputException("PCR index " + i + " out of range 0.." + MAX_PCR);
        return i;
    }

    /**
     * Parses the tpm2-tools form "sha1:0,1,2+sha256:7,11" (PCR list per bank as in
     * {@link #parsePcrList}).
     */
    public static PcrSelection parse(String s) {
        Builder b = builder();
        for (String part : s.split("\\+")) {
            int colon = part.indexOf(':');
            if (colon < 0) throw new BadInputException("bad PCR selection '" + s + "': expected BANK:PCRS, e.g. sha256:7,11");
            HashAlg alg = HashAlg.fromName(part.substring(0, colon).strip());
            b.bank(alg);
            for (int p : parsePcrList(part.substring(colon + 1))) b.add(alg, p);
        }
        return b.build();
    }

    /** Banks in selection order. */
    public List<HashAlg> banks() {
        return List.copyOf(banks.keySet());
    }

    /** PCR indices of one bank, ascending (empty when the bank is absent). */
    public List<Integer> pcrs(HashAlg alg) {
        BitSet bs = banks.get(alg);
        if (bs == null) return List.of();
        List<Integer> l = new ArrayList<>();
        for (int p = bs.nextSetBit(0); p >= 0; p = bs.nextSetBit(p + 1)) {
            l.add(p);
        }
        return Collections.unmodifiableList(l);
    }

    public Set<Map.Entry<HashAlg, BitSet>> entries() {
        return Collections.unmodifiableMap(banks).entrySet();
    }

    public boolean contains(HashAlg alg, int pcr) {
        BitSet bs = banks.get(alg);
        return bs != null && bs.get(pcr);
    }

    /** Total number of (bank, PCR) pairs. */
    public int count() {
        int n = 0;
        for (BitSet bs : banks.values()) n += bs.cardinality();
        return n;
    }

    public boolean isEmpty() {
        return count() == 0;
    }

    /** sizeofSelect for a bank: 3 bytes unless a PCR ≥ 24 is selected. */
    static int selectBytes(BitSet bs) {
        return Math.max(MIN_SELECT_BYTES, (bs.length() + 7) / 8);
    }

    /** pcrSelect bytes of one bank: PCR n is bit (n mod 8) of byte n/8. */
    public byte[] selectBits(HashAlg alg) {
        BitSet bs = banks.getOrDefault(alg, new BitSet());
        byte[] out = new byte[selectBytes(bs)];
        for (int p = bs.nextSetBit(0); p >= 0; p = bs.nextSetBit(p + 1)) {
            out[p / 8] |= (byte) (1 << (p % 8));
        }
        return out;
    }

    /** TPML_PCR_SELECTION: u32 count, then per bank {u16 hashAlg, u8 sizeofSelect, pcrSelect[]}. */
    public byte[] toTpml() {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        int n = banks.size();
        o.write(n >>> 24);
        o.write(n >>> 16);
        o.write(n >>> 8);
        o.write(n);
        for (HashAlg a : banks.keySet()) {
            o.write(a.algId >>> 8);
            o.write(a.algId);
            byte[] sel = selectBits(a);
            o.write(sel.length);
            o.writeBytes(sel);
        }
        return o.toByteArray();
    }

    /** "sha1:0,1,2+sha256:7" as tpm2-tools writes it. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<HashAlg, BitSet> e : banks.entrySet()) {
            if (sb.length() > 0) sb.append('+');
            sb.append(e.getKey().tpmName).append(':');
            StringBuilder l = new StringBuilder();
            BitSet bs = e.getValue();
            for (int p = bs.nextSetBit(0); p >= 0; p = bs.nextSetBit(p + 1)) {
                if (l.length() > 0) l.append(',');
                l.append(p);
            }
            sb.append(l);
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PcrSelection other && new ArrayList<>(banks.entrySet()).equals(new ArrayList<>(other.banks.entrySet()));
    }

    @Override
    public int hashCode() {
        return banks.hashCode();
    }
}
