package org.kexecmeasured.eventlog;

import org.kexecmeasured.util.Le;
import org.kexecmeasured.util.HashAlg;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * TCG_EfiSpecIDEvent ("Spec ID Event03"): the header of a crypto-agile log. Its algorithm list
 * gives the digest size of every bank, including banks whose algorithm this tool does not know.
 */
public record SpecIdEvent(long platformClass, int specVersionMinor, int specVersionMajor, int specErrata,
                          int uintnSize, List<Algorithm> algorithms, byte[] vendorInfo) {

    public static final String SIGNATURE = "Spec ID Event03";

    /** One TCG_EfiSpecIdEventAlgorithmSize entry. */
    public record Algorithm(int algId, int digestSize) {
        /** The algorithm, or null when the ID is unknown to {@link HashAlg}. */
        public HashAlg hashAlg() {
            return HashAlg.fromAlgId(algId);
        }

        public String name() {
            HashAlg a = hashAlg();
            return a != null ? a.tpmName : String.format("0x%04x", algId);
        }
    }

    public SpecIdEvent {
        algorithms = List.copyOf(algorithms);
        vendorInfo = vendorInfo.clone();
    }

    @Override
    public byte[] vendorInfo() {
        return vendorInfo.clone();
    }

    /** Digest size for the algorithm ID, or -1 when the header does not list it. */
    public int digestSize(int algId) {
        for (Algorithm a : algorithms) {
            if (a.algId == algId) return a.digestSize;
        }
        return -1;
    }

    /** The banks this tool can replay, in header order. */
    public List<HashAlg> knownBanks() {
        List<HashAlg> l = new ArrayList<>();
        for (Algorithm a : algorithms) {
            if (a.hashAlg() != null) l.add(a.hashAlg());
        }
        return l;
    }

    /** A standard header for a PC client log with the given banks (uintnSize 2 = UINT64, errata 0). */
    public static SpecIdEvent standard(List<HashAlg> banks) {
        List<Algorithm> l = new ArrayList<>();
        for (HashAlg a : banks) l.add(new Algorithm(a.algId, a.size));
        return new SpecIdEvent(0, 0, 2, 0, 2, l, new byte[0]);
    }

    /** The event data bytes of this header (what the first record carries). */
    public byte[] encode() {
        int n = algorithms.size();
        byte[] b = new byte[16 + 4 + 4 + 4 + 4 * n + 1 + vendorInfo.length];
        byte[] sig = SIGNATURE.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        System.arraycopy(sig, 0, b, 0, sig.length);
        Le.putInt(b, 16, (int) platformClass);
        b[20] = (byte) specVersionMinor;
        b[21] = (byte) specVersionMajor;
        b[22] = (byte) specErrata;
        b[23] = (byte) uintnSize;
        Le.putInt(b, 24, n);
        int p = 28;
        for (Algorithm a : algorithms) {
            Le.putShort(b, p, a.algId);
            Le.putShort(b, p + 2, a.digestSize);
            p += 4;
        }
        b[p++] = (byte) vendorInfo.length;
        System.arraycopy(vendorInfo, 0, b, p, vendorInfo.length);
        return b;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SpecIdEvent s && s.platformClass == platformClass && s.specVersionMinor == specVersionMinor
                && s.specVersionMajor == specVersionMajor && s.specErrata == specErrata && s.uintnSize == uintnSize
                && s.algorithms.equals(algorithms) && Arrays.equals(s.vendorInfo, vendorInfo);
    }

    @Override
    public int hashCode() {
        return algorithms.hashCode() * 31 + Arrays.hashCode(vendorInfo);
    }
}
