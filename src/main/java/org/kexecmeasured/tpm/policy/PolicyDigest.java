package org.kexecmeasured.tpm.policy;

import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.security.MessageDigest;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Computes TPM 2.0 policy digests (TPM 2.0 Part 3, the policy commands) the way the TPM updates
 * policySession→policyDigest, without a TPM. Immutable: each step returns a new value.
 *
 * <pre>
 *   PolicyDigest.start(SHA256).policyPcr(sel, pcrValues).policyAuthValue().digest()
 * </pre>
 */
public final class PolicyDigest {
    public static final int TPM_CC_POLICY_AUTHORIZE = 0x0000016A;
    public static final int TPM_CC_POLICY_AUTH_VALUE = 0x0000016B;
    public static final int TPM_CC_POLICY_OR = 0x00000171;
    public static final int TPM_CC_POLICY_PCR = 0x0000017F;
    public static final int TPM_CC_POLICY_AUTHORIZE_NV = 0x00000192;
    /** PolicyOR accepts 2..8 branches (TPML_DIGEST). */
    public static final int MAX_OR_BRANCHES = 8;

    private final HashAlg alg;
    private final byte[] digest;

    private PolicyDigest(HashAlg alg, byte[] digest) {
        this.alg = alg;
        this.digest = digest;
    }

    /** A fresh session: all-zero digest of the session hash size. */
    public static PolicyDigest start(HashAlg alg) {
        return new PolicyDigest(alg, new byte[alg.size]);
    }

    /** Continues from a known digest (e.g. one branch of an OR computed elsewhere). */
    public static PolicyDigest of(HashAlg alg, byte[] digest) {
        if (digest.length != alg.size) {
            throw new BadInputException("policy digest has " + digest.length + " bytes, " + alg.tpmName + " needs " + alg.size);
        }
        return new PolicyDigest(alg, digest.clone());
    }

    public HashAlg alg() {
        return alg;
    }

    public byte[] digest() {
        return digest.clone();
    }

    private static byte[] u32(int v) {
        return new byte[]{(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }

    private PolicyDigest extend(byte[]... parts) {
        MessageDigest md = alg.newDigest();
        md.update(digest);
        for (byte[] p : parts) md.update(p);
        return new PolicyDigest(alg, md.digest());
    }

    /**
     * pcrDigest for PolicyPCR: H_session(values concatenated in selection order — banks in the
     * selection's order, PCRs ascending within a bank).
     *
     * @param values per bank, PCR values indexed by PCR number
     */
    public static byte[] pcrDigest(HashAlg sessionAlg, TpmlPcrSelection sel, Map<HashAlg, byte[][]> values) {
        MessageDigest md = sessionAlg.newDigest();
        for (HashAlg bank : sel.banks()) {
            byte[][] v = values.get(bank);
            for (int pcr : sel.pcrs(bank)) {
                if (v == null || pcr >= v.length || v[pcr] == null) {
                    throw new BadInputException("no value for PCR " + bank.tpmName + ":" + pcr);
                }
                if (v[pcr].length != bank.size) {
                    throw new BadInputException("PCR " + bank.tpmName + ":" + pcr + " value has " + v[pcr].length
                            + " bytes, expected " + bank.size);
                }
                md.update(v[pcr]);
            }
        }
        return md.digest();
    }

    /** TPM2_PolicyPCR with the PCR values it must match. */
    public PolicyDigest policyPcr(TpmlPcrSelection sel, Map<HashAlg, byte[][]> values) {
        return policyPcrDigest(sel, pcrDigest(alg, sel, values));
    }

    /** TPM2_PolicyPCR with a precomputed pcrDigest (see {@link #pcrDigest}). */
    public PolicyDigest policyPcrDigest(TpmlPcrSelection sel, byte[] pcrDigest) {
        if (pcrDigest.length != alg.size) {
            throw new BadInputException("pcrDigest has " + pcrDigest.length + " bytes, expected " + alg.size);
        }
        return extend(u32(TPM_CC_POLICY_PCR), sel.toTpml(), pcrDigest);
    }

    /** TPM2_PolicyAuthValue (TPM2_PolicyPassword gives the same digest). */
    public PolicyDigest policyAuthValue() {
        return extend(u32(TPM_CC_POLICY_AUTH_VALUE));
    }

    /**
     * TPM2_PolicyAuthorize: the digest is reset and becomes H(H(0… ‖ CC ‖ keySign.Name) ‖ policyRef).
     * The result does not depend on the current digest (which the TPM checks against the approved
     * policy).
     */
    public PolicyDigest policyAuthorize(byte[] keyName, byte[] policyRef) {
        PolicyDigest zero = start(alg);
        PolicyDigest mid = zero.extend(u32(TPM_CC_POLICY_AUTHORIZE), keyName);
        return mid.extend(policyRef == null ? new byte[0] : policyRef);
    }

    /** TPM2_PolicyAuthorizeNV: reset, then H(0… ‖ CC ‖ nvIndex.Name). */
    public PolicyDigest policyAuthorizeNv(byte[] nvIndexName) {
        return start(alg).extend(u32(TPM_CC_POLICY_AUTHORIZE_NV), nvIndexName);
    }

    /**
     * TPM2_PolicyOR from this session state: the TPM requires the current digest to be one of the
     * branches; the result is H(0… ‖ CC ‖ d1 ‖ … ‖ dn).
     */
    public PolicyDigest policyOr(List<byte[]> branches) {
        boolean member = false;
        for (byte[] b : branches) member |= Arrays.equals(b, digest);
        if (!member) {
            throw new BadInputException("PolicyOR: the current policy digest is not one of the " + branches.size() + " branches");
        }
        return or(alg, branches);
    }

    /** The digest a PolicyOR over these branches yields (2..8 branches, each of the session hash size). */
    public static PolicyDigest or(HashAlg alg, List<byte[]> branches) {
        if (branches.size() < 2 || branches.size() > MAX_OR_BRANCHES) {
            throw new BadInputException("PolicyOR takes 2.." + MAX_OR_BRANCHES + " branches, got " + branches.size());
        }
        byte[][] parts = new byte[branches.size() + 1][];
        parts[0] = u32(TPM_CC_POLICY_OR);
        for (int i = 0; i < branches.size(); i++) {
            byte[] b = branches.get(i);
            if (b.length != alg.size) {
                throw new BadInputException("PolicyOR branch " + i + " has " + b.length + " bytes, expected " + alg.size);
            }
            parts[i + 1] = b;
        }
        return start(alg).extend(parts);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PolicyDigest p && p.alg == alg && Arrays.equals(p.digest, digest);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(digest) * 31 + alg.hashCode();
    }

    @Override
    public String toString() {
        return alg.tpmName + ":" + org.kexecmeasured.util.Hex.of(digest);
    }
}
