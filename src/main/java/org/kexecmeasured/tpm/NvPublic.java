package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.policy.TpmNames;
import org.kexecmeasured.util.BeReader;
import org.kexecmeasured.util.HashAlg;

/**
 * A TPMS_NV_PUBLIC (TPM 2.0 Part 2, 13.5): nvIndex, nameAlg, attributes, authPolicy, dataSize.
 * Its marshalled bytes hash to the index's Name, which PolicyAuthorizeNV uses.
 */
public record NvPublic(int nvIndex, HashAlg nameAlg, int attributes, byte[] authPolicy, int dataSize, byte[] area) {
    /** TPMA_NV bits (Part 2, 13.4). */
    public static final int POLICY_WRITE = 0x00000008;
    public static final int POLICY_READ = 0x00080000;
    public static final int AUTH_READ = 0x00040000;
    public static final int OWNER_READ = 0x00020000;
    public static final int PPREAD = 0x00010000;
    public static final int WRITTEN = 0x20000000;
    public static final int READ_LOCKED = 0x00001000;

    public NvPublic {
        authPolicy = authPolicy.clone();
        area = area.clone();
    }

    @Override
    public byte[] authPolicy() {
        return authPolicy.clone();
    }

    public byte[] name() {
        return TpmNames.name(nameAlg, area);
    }

    /** Reads a TPM2B_NV_PUBLIC at the reader's position. */
    public static NvPublic read(BeReader outer) {
        int size = outer.u16("TPM2B_NV_PUBLIC size");
        byte[] area = outer.bytes(size, "TPMS_NV_PUBLIC");
        BeReader r = new BeReader(area, outer.what() + " TPMS_NV_PUBLIC");
        int index = r.u32("nvIndex");
        int alg = r.u16("nameAlg");
        HashAlg nameAlg = HashAlg.fromAlgId(alg);
        if (nameAlg == null) throw r.error(String.format("nameAlg 0x%04x is not a hash this tool knows", alg));
        int attrs = r.u32("attributes");
        byte[] policy = r.sized("authPolicy", 64);
        if (policy.length != 0 && policy.length != nameAlg.size) {
            throw r.error("authPolicy has " + policy.length + " bytes, the nameAlg " + nameAlg.tpmName + " digest has " + nameAlg.size);
        }
        int dataSize = r.u16("dataSize");
        r.expectEnd();
        return new NvPublic(index, nameAlg, attrs, policy, dataSize, area);
    }

    /** A TPM2B_NV_PUBLIC blob (e.g. systemd's tpm2_pcrlock_nv), consumed exactly. */
    public static NvPublic fromTpm2b(byte[] b, String what) {
        BeReader r = new BeReader(b, what);
        NvPublic p = read(r);
        r.expectEnd();
        return p;
    }

    /** Reading needs a policy session (TPMA_NV_POLICYREAD) and nothing else grants it. */
    public boolean policyReadOnly() {
        return (attributes & POLICY_READ) != 0 && (attributes & (AUTH_READ | OWNER_READ | PPREAD)) == 0;
    }
}
