package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.error.TpmTransportException;

import org.kexecmeasured.tpm.error.TpmException;

import org.kexecmeasured.tpm.policy.ApprovedPolicy;
import org.kexecmeasured.tpm.policy.TpmNames;
import org.kexecmeasured.tpm.transport.TpmTransport;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.BeReader;
import org.kexecmeasured.util.HashAlg;
import tss.tpm.CreatePrimaryResponse;
import tss.tpm.GetCapabilityResponse;
import tss.tpm.PCR_ReadResponse;
import tss.tpm.StartAuthSessionResponse;
import tss.tpm.TPM2B_DIGEST;
import tss.tpm.TPM2B_DIGEST_KEYEDHASH;
import tss.tpm.TPM2B_PRIVATE;
import tss.tpm.TPMA_OBJECT;
import tss.tpm.TPML_PCR_SELECTION;
import tss.tpm.TPML_TAGGED_TPM_PROPERTY;
import tss.tpm.TPMS_ECC_PARMS;
import tss.tpm.TPMS_ECC_POINT;
import tss.tpm.TPMS_KEYEDHASH_PARMS;
import tss.tpm.TPMS_NULL_ASYM_SCHEME;
import tss.tpm.TPMS_NULL_KDF_SCHEME;
import tss.tpm.TPMS_NULL_SCHEME_KEYEDHASH;
import tss.tpm.TPMS_PCR_SELECTION;
import tss.tpm.TPMS_SENSITIVE_CREATE;
import tss.tpm.TPMS_SIGNATURE_ECDSA;
import tss.tpm.TPMS_SIGNATURE_RSASSA;
import tss.tpm.TPMS_TAGGED_PROPERTY;
import tss.tpm.TPMT_HA;
import tss.tpm.TPMT_PUBLIC;
import tss.tpm.TPMT_SYM_DEF;
import tss.tpm.TPMT_SYM_DEF_OBJECT;
import tss.tpm.TPMT_TK_VERIFIED;
import tss.tpm.TPMU_SIGNATURE;
import tss.tpm.TPM_ALG_ID;
import tss.tpm.TPM_CAP;
import tss.tpm.TPM_ECC_CURVE;
import tss.tpm.TPM_HANDLE;
import tss.tpm.TPM_PT;
import tss.tpm.TPM_RH;
import tss.tpm.TPM_SE;
import tss.tpm.TPM_SU;

import java.security.PublicKey;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * {@link Tpm} on TSS.Java's command marshalling over one of our {@link TpmTransport}s. Every TSS
 * call runs with errors allowed (TSS.Java would print to stdout and lose the handle/parameter
 * number); the raw response code is decoded here instead.
 */
public final class TssTpm implements Tpm {
    /** TPML_DIGEST in a TPM2_PCR_Read response holds at most 8 digests (TPM 2.0 Part 2, TPML_DIGEST). */
    public static final int MAX_PCR_READ_DIGESTS = 8;
    private static final int MAX_SEAL = 128;

    private final TpmTransport transport;
    private final tss.Tpm tss;
    /** Nonces and salts of sessions: made at their first use (a boot opens no session; see {@link #random()}). */
    private SecureRandom random;
    private TpmInfo info;

    public TssTpm(TpmTransport transport) {
        this.transport = transport;
        this.tss = new tss.Tpm();
        this.tss._setDevice(transport);
        transport.setResponseCheck(ResponseGuard.CHECK);
    }

    @Override
    public String tcti() {
        return transport.description();
    }

    public TpmTransport transport() {
        return transport;
    }

    @Override
    public long commandCount() {
        return transport.commandCount();
    }

    @Override
    public java.util.SortedMap<Integer, Long> commandCounts() {
        return transport.commandCounts();
    }

    /** Runs one TSS.Java call and turns a TPM error response into a {@link TpmCommandException}. */
    /*
     * The commands of every boot (GetCapability, PCR_Read, PCR_Extend, GetRandom) call TSS.Java inline, with the
     * wrapping of run() written out (catch -> malformed, then checkRc), not through run(() -> ...): the
     * class-data-sharing training opens no TSS.Java TPM, so each of those lambdas' classes would be spun at run time
     * on the boot's main thread (~1 CPU-ms each, interpreted). The other commands keep run().
     */
    private <T> T run(Supplier<T> op) {
        T r;
        try {
            r = op.get();
        } catch (RuntimeException e) {
            throw malformed(e);
        }
        checkRc();
        return r;
    }

    /** What a failure of TSS.Java while sending a command and parsing its response is thrown as. */
    private RuntimeException malformed(RuntimeException e) {
        if (e instanceof TpmException) {
            return e; // ours: transport failures
        }
        // TSS.Java unmarshalling a response it cannot parse (tss.TpmException, index/size errors)
        return new TpmTransportException("malformed TPM response to " + TpmTransport.commandName(transport.lastCommand())
                + " from " + transport.description() + ": " + e, e);
    }

    private void runVoid(Runnable op) {
        run(() -> {
            op.run();
            return null;
        });
    }

    private void checkRc() {
        byte[] resp = transport.lastResponse();
        if (resp == null) throw new TpmTransportException("no response from " + transport.description());
        int rc = TpmTransport.u32(resp, 6);
        if (rc != 0) throw new TpmCommandException(TpmTransport.commandName(transport.lastCommand()), TpmRc.decode(rc));
    }

    private tss.Tpm t() {
        return tss._allowErrors();
    }

    static TPM_ALG_ID alg(HashAlg a) {
        return TPM_ALG_ID.fromInt(a.algId);
    }

    // ---------------------------------------------------------------- capabilities

    @Override
    public TpmInfo info() {
        if (info != null) return info;
        Map<Integer, Integer> props = new HashMap<>();
        int next = TPM_PT.PT_FIXED.toInt();
        for (int round = 0; round < 16; round++) {
            final int start = next;
            GetCapabilityResponse r = getCapability(TPM_CAP.TPM_PROPERTIES, start, 64);
            TPMS_TAGGED_PROPERTY[] list = capability(r, TPML_TAGGED_TPM_PROPERTY.class).tpmProperty;
            int last = start;
            for (TPMS_TAGGED_PROPERTY p : list) {
                props.put(p.property.toInt(), p.value);
                last = p.property.toInt();
            }
            // fixed properties are 0x100..0x1FF; stop when the TPM has no more, we left the group,
            // or the TPM does not make progress
            if (r.moreData == 0 || list.length == 0 || last >= TPM_PT.PT_VAR.toInt() - 1 || last < start) break;
            next = last + 1;
        }
        GetCapabilityResponse pr = getCapability(TPM_CAP.PCRS, 0, 16);
        List<HashAlg> active = new ArrayList<>();
        List<HashAlg> allocated = new ArrayList<>();
        for (TPMS_PCR_SELECTION s : capability(pr, TPML_PCR_SELECTION.class).pcrSelections) {
            HashAlg a = HashAlg.fromAlgId(s.hash.toInt());
            if (a == null) continue;
            allocated.add(a);
            boolean any = false;
            for (byte b : s.pcrSelect) any |= b != 0;
            if (any) active.add(a);
        }
        info = new TpmInfo(ascii(props, TPM_PT.MANUFACTURER.toInt(), 1),
                ascii(props, TPM_PT.VENDOR_STRING_1.toInt(), 4),
                props.getOrDefault(TPM_PT.FIRMWARE_VERSION_1.toInt(), 0),
                props.getOrDefault(TPM_PT.FIRMWARE_VERSION_2.toInt(), 0),
                ascii(props, TPM_PT.FAMILY_INDICATOR.toInt(), 1),
                revision(props.getOrDefault(TPM_PT.REVISION.toInt(), 0)),
                props.getOrDefault(TPM_PT.MAX_COMMAND_SIZE.toInt(), 0),
                props.getOrDefault(TPM_PT.MAX_RESPONSE_SIZE.toInt(), 0),
                props.getOrDefault(TPM_PT.MAX_DIGEST.toInt(), 0),
                props.getOrDefault(TPM_PT.PCR_COUNT.toInt(), 0),
                List.copyOf(active), List.copyOf(allocated));
        return info;
    }

    /** TPM2_GetCapability (inline: see run). */
    private GetCapabilityResponse getCapability(TPM_CAP cap, int property, int count) {
        GetCapabilityResponse r;
        try {
            r = t().GetCapability(cap, property, count);
        } catch (RuntimeException e) {
            throw malformed(e);
        }
        checkRc();
        return r;
    }

    /** The capability data, if the TPM answered with the kind asked for. */
    private static <T> T capability(GetCapabilityResponse r, Class<T> kind) {
        if (!kind.isInstance(r.capabilityData)) {
            throw new TpmTransportException("TPM2_GetCapability answered with "
                    + (r.capabilityData == null ? "nothing" : r.capabilityData.getClass().getSimpleName()) + " instead of " + kind.getSimpleName());
        }
        return kind.cast(r.capabilityData);
    }

    private static String revision(int r) {
        return (r / 100) + "." + String.format("%02d", r % 100);
    }

    /** Properties holding up to 4 ASCII characters each, NULs dropped. */
    private static String ascii(Map<Integer, Integer> props, int first, int count) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < count; i++) {
            Integer v = props.get(first + i);
            if (v == null) continue;
            for (int sh = 24; sh >= 0; sh -= 8) {
                int c = (v >>> sh) & 0xFF;
                if (c != 0) sb.append((char) c);
            }
        }
        return sb.toString().strip();
    }

    @Override
    public List<HashAlg> banks() {
        if (info != null) return info.activeBanks();
        if (cachedBanks != null) return cachedBanks;
        // only TPM_CAP_PCRS: one command
        GetCapabilityResponse pr = getCapability(TPM_CAP.PCRS, 0, 16);
        List<HashAlg> active = new ArrayList<>();
        for (TPMS_PCR_SELECTION s : capability(pr, TPML_PCR_SELECTION.class).pcrSelections) {
            HashAlg a = HashAlg.fromAlgId(s.hash.toInt());
            boolean any = false;
            for (byte b : s.pcrSelect) any |= b != 0;
            if (a != null && any) active.add(a);
        }
        cachedBanks = List.copyOf(active);
        return cachedBanks;
    }

    private List<HashAlg> cachedBanks;

    private List<HashAlg> activeBanks() {
        if (info != null) return info.activeBanks();
        if (cachedBanks != null) return cachedBanks;
        return banks();
    }

    // ---------------------------------------------------------------- PCRs

    /**
     * A bank's PCR. {@code equals} and {@code hashCode} written out: a record's own are bootstrapped through
     * {@code java.lang.runtime.ObjectMethods} at their first call, method-handle classes spun at run time (the
     * boot's first record comparison was this one, in {@link #readPcrs}).
     */
    private record Slot(HashAlg bank, int pcr) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Slot s && s.bank == bank && s.pcr == pcr;
        }

        @Override
        public int hashCode() {
            return bank.hashCode() * 31 + pcr;
        }
    }

    @Override
    public Map<HashAlg, byte[][]> readPcrs(PcrSelection selection) {
        for (int attempt = 0; ; attempt++) {
            Map<HashAlg, byte[][]> out = new LinkedHashMap<>();
            Integer counter = null;
            boolean consistent = true;
            Deque<Slot> pending = new ArrayDeque<>();
            for (HashAlg bank : selection.banks()) {
                List<Integer> pcrs = selection.pcrs(bank);
                int max = pcrs.isEmpty() ? -1 : pcrs.get(pcrs.size() - 1);
                out.put(bank, new byte[max + 1][]);
                for (int p : pcrs) pending.add(new Slot(bank, p));
            }
            while (!pending.isEmpty()) {
                // next ≤ 8 slots in selection order, grouped by bank in the same order
                LinkedHashMap<HashAlg, List<Integer>> batch = new LinkedHashMap<>();
                int n = 0;
                for (Slot s : pending) {
                    if (n == MAX_PCR_READ_DIGESTS) break;
                    List<Integer> l = batch.get(s.bank()); // loops, no lambdas: see run
                    if (l == null) {
                        l = new ArrayList<>();
                        batch.put(s.bank(), l);
                    }
                    l.add(s.pcr());
                    n++;
                }
                PcrSelection.Builder sb = PcrSelection.builder();
                for (Map.Entry<HashAlg, List<Integer>> e : batch.entrySet()) {
                    for (int p : e.getValue()) {
                        sb.add(e.getKey(), p);
                    }
                }
                PcrSelection req = sb.build();
                TPMS_PCR_SELECTION[] sel = toTss(req);
                PCR_ReadResponse r;
                try {
                    r = t().PCR_Read(sel);
                } catch (RuntimeException e) {
                    throw malformed(e);
                }
                checkRc();
                if (counter != null && counter != r.pcrUpdateCounter) consistent = false;
                counter = r.pcrUpdateCounter;
                // the TPM says which PCRs it returned (in selection order), values follow in that order
                int vi = 0;
                int got = 0;
                for (TPMS_PCR_SELECTION s : r.pcrSelectionOut) {
                    HashAlg bank = HashAlg.fromAlgId(s.hash.toInt());
                    for (int i = 0; i < s.pcrSelect.length * 8; i++) {
                        if ((s.pcrSelect[i / 8] & (1 << (i % 8))) == 0) continue;
                        if (vi >= r.pcrValues.length) {
                            throw new TpmTransportException("TPM2_PCR_Read response lists more PCRs than values");
                        }
                        byte[] v = r.pcrValues[vi++].buffer;
                        if (bank == null || !req.contains(bank, i)) {
                            throw new TpmTransportException("TPM2_PCR_Read returned PCR " + i + " of a bank/PCR not asked for");
                        }
                        if (v.length != bank.size) {
                            throw new TpmTransportException("TPM2_PCR_Read returned a " + v.length + "-byte value for "
                                    + bank.tpmName + ":" + i);
                        }
                        out.get(bank)[i] = v;
                        pending.remove(new Slot(bank, i));
                        got++;
                    }
                }
                if (got == 0) {
                    List<HashAlg> active = activeBanks();
                    for (HashAlg b : batch.keySet()) {
                        if (!active.contains(b)) {
                            throw new BadInputException("PCR bank " + b.tpmName + " is not active on the TPM at "
                                    + tcti() + " (active: " + names(active) + ")");
                        }
                    }
                    throw new TpmTransportException("TPM2_PCR_Read returned no values for " + req);
                }
            }
            if (consistent || attempt >= 2) {
                if (!consistent) {
                    throw new TpmException("PCRs kept changing while being read (pcrUpdateCounter moved during 3 attempts)");
                }
                return out;
            }
        }
    }

    static String names(List<HashAlg> banks) {
        StringBuilder sb = new StringBuilder();
        for (HashAlg a : banks) {
            if (sb.length() > 0) sb.append(',');
            sb.append(a.tpmName);
        }
        return sb.toString();
    }

    static TPMS_PCR_SELECTION[] toTss(PcrSelection sel) {
        List<HashAlg> banks = sel.banks();
        TPMS_PCR_SELECTION[] out = new TPMS_PCR_SELECTION[banks.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = new TPMS_PCR_SELECTION(alg(banks.get(i)), sel.selectBits(banks.get(i)));
        }
        return out;
    }

    @Override
    public void extend(int pcr, Map<HashAlg, byte[]> digests) {
        if (pcr < 0 || pcr > 23) throw new BadInputException("PCR index " + pcr + " out of range 0..23");
        List<HashAlg> active = activeBanks();
        for (HashAlg a : active) {
            if (!digests.containsKey(a)) {
                throw new BadInputException("extend of PCR " + pcr + " lacks a digest for active bank " + a.tpmName
                        + " (every active bank must be extended: " + names(active) + ")");
            }
        }
        List<TPMT_HA> has = new ArrayList<>();
        for (HashAlg a : active) {
            byte[] d = digests.get(a);
            if (d.length != a.size) {
                throw new BadInputException(a.tpmName + " digest for PCR " + pcr + " has " + d.length + " bytes, expected " + a.size);
            }
            has.add(new TPMT_HA(alg(a), d));
        }
        for (HashAlg a : digests.keySet()) {
            if (!active.contains(a)) {
                throw new BadInputException("bank " + a.tpmName + " is not active on the TPM (active: " + names(active) + ")");
            }
        }
        TPMT_HA[] arr = has.toArray(new TPMT_HA[0]);
        try { // inline: see run
            t().PCR_Extend(TPM_HANDLE.pcr(pcr), arr);
        } catch (RuntimeException e) {
            throw malformed(e);
        }
        checkRc();
    }

    /**
     * The host's generator for session nonces and salts, made at the first session: {@code new SecureRandom()} looks up
     * the default provider's generator (a few main-thread ms before anything is compiled), which a boot that opens no
     * session never needs.
     */
    private synchronized SecureRandom random() {
        if (random == null) {
            random = new SecureRandom();
        }
        return random;
    }

    /** Largest request: a boundary nonce needs 16 bytes; this only bounds a caller's mistake. */
    private static final int MAX_RANDOM = 1024;

    /**
     * TPM2_GetRandom until {@code n} bytes arrived: a TPM returns at most its largest digest size
     * per command (TPM 2.0 Part 3, 16.1), so 16 bytes take one command.
     */
    @Override
    public byte[] random(int n) {
        if (n < 0 || n > MAX_RANDOM) throw new IllegalArgumentException("random bytes requested: " + n);
        byte[] out = new byte[n];
        int got = 0;
        while (got < n) {
            int want = Math.min(n - got, 64);
            byte[] r;
            try { // inline: see run
                r = t().GetRandom(want);
            } catch (RuntimeException e) {
                throw malformed(e);
            }
            checkRc();
            if (r == null || r.length == 0 || r.length > want) {
                throw new TpmTransportException("TPM2_GetRandom returned " + (r == null ? 0 : r.length) + " bytes for "
                        + want + " requested");
            }
            System.arraycopy(r, 0, out, got, r.length);
            got += r.length;
        }
        return out;
    }

    /** TPM2_Startup(CLEAR), after a swtpm control-channel INIT. */
    public void startupClear() {
        runVoid(() -> t().Startup(TPM_SU.CLEAR));
        info = null;
        cachedBanks = null;
    }

    // ---------------------------------------------------------------- sessions

    @Override
    public PolicySession startPolicySession(HashAlg a, boolean trial) {
        byte[] nonce = new byte[Math.max(16, a.size)];
        random().nextBytes(nonce);
        StartAuthSessionResponse r = run(() -> t().StartAuthSession(TPM_HANDLE.NULL, TPM_HANDLE.NULL, nonce, new byte[0],
                trial ? TPM_SE.TRIAL : TPM_SE.POLICY, new TPMT_SYM_DEF(TPM_ALG_ID.NULL, 0, TPM_ALG_ID.NULL), alg(a)));
        return new Session(r.handle, a, trial, r.nonceTPM);
    }

    private final class Session implements PolicySession {
        private final TPM_HANDLE handle;
        private final HashAlg alg;
        private final boolean trial;
        private byte[] nonceTpm;
        /** PolicyAuthValue ran: the authorizing command needs an HMAC keyed with the object's authValue. */
        private boolean authValueBound;
        private boolean closed;

        Session(TPM_HANDLE handle, HashAlg alg, boolean trial, byte[] nonceTpm) {
            this.handle = handle;
            this.alg = alg;
            this.trial = trial;
            this.nonceTpm = nonceTpm;
        }

        @Override
        public HashAlg alg() {
            return alg;
        }

        @Override
        public boolean trial() {
            return trial;
        }

        @Override
        public int handle() {
            return handle.handle;
        }

        @Override
        public void policyPcr(PcrSelection selection) {
            runVoid(() -> t().PolicyPCR(handle, new byte[0], toTss(selection)));
        }

        @Override
        public void policyPcr(PcrSelection selection, byte[] pcrDigest) {
            runVoid(() -> t().PolicyPCR(handle, pcrDigest, toTss(selection)));
        }

        @Override
        public void policyAuthValue() {
            runVoid(() -> t().PolicyAuthValue(handle));
            authValueBound = true;
        }

        @Override
        public void policyOr(List<byte[]> branches) {
            TPM2B_DIGEST[] d = new TPM2B_DIGEST[branches.size()];
            for (int i = 0; i < d.length; i++) d[i] = new TPM2B_DIGEST(branches.get(i));
            runVoid(() -> t().PolicyOR(handle, d));
        }

        @Override
        public void policyAuthorize(ApprovedPolicy approved, PublicKey key, HashAlg keyNameAlg) {
            // the key is loaded with the nameAlg its owner chose (systemd: sha256); its Name, and so the
            // authorized policy, depends on it; the signature's own hash (approved.sigHash) goes to VerifySignature
            byte[] area = TpmNames.publicArea(key, keyNameAlg, TpmNames.EXTERNAL_KEY_ATTRIBUTES);
            TPMT_PUBLIC pub = TPMT_PUBLIC.fromBytes(area);
            TPM_HANDLE kh = run(() -> t().LoadExternal(null, pub, TPM_HANDLE.from(TPM_RH.OWNER)));
            try {
                byte[] name = TpmNames.name(keyNameAlg, area);
                TPMU_SIGNATURE sig;
                if (ApprovedPolicy.isEc(key)) {
                    byte[] s = approved.signature();
                    int half = s.length / 2;
                    sig = new TPMS_SIGNATURE_ECDSA(TssTpm.alg(approved.sigHash()), Arrays.copyOfRange(s, 0, half),
                            Arrays.copyOfRange(s, half, s.length));
                } else {
                    sig = new TPMS_SIGNATURE_RSASSA(TssTpm.alg(approved.sigHash()), approved.signature());
                }
                TPMT_TK_VERIFIED ticket = run(() -> t().VerifySignature(kh, approved.aHash(), sig));
                runVoid(() -> t().PolicyAuthorize(handle, approved.approvedPolicy(), approved.policyRef(), name, ticket));
            } finally {
                flushQuietly(kh);
            }
        }

        @Override
        public void policyAuthorizeTrial(byte[] keyName, byte[] policyRef) {
            TPMT_TK_VERIFIED nullTicket = new TPMT_TK_VERIFIED(TPM_HANDLE.from(TPM_RH.NULL), new byte[0]);
            runVoid(() -> t().PolicyAuthorize(handle, new byte[0], policyRef == null ? new byte[0] : policyRef, keyName, nullTicket));
        }

        @Override
        public byte[] digest() {
            return run(() -> t().PolicyGetDigest(handle));
        }

        @Override
        public void restart() {
            runVoid(() -> t().PolicyRestart(handle));
            authValueBound = false;
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            flushQuietly(handle);
        }
    }

    /** Best-effort flush in cleanup paths: never hides the error that got us there. */
    private void flushQuietly(TPM_HANDLE h) {
        try {
            runVoid(() -> t().FlushContext(h));
        } catch (TpmException ignored) {
            // the handle dies with the connection or the next TPM reset anyway
        }
    }

    // ---------------------------------------------------------------- seal / unseal

    private static final int TPM_CC_CREATE = 0x00000153;
    private static final int TPM_CC_UNSEAL = 0x0000015E;
    private static final int TPM_CC_READ_PUBLIC = 0x00000173;
    private static final int TPM_CC_NV_READ_PUBLIC = 0x00000169;
    private static final int TPM_CC_NV_READ = 0x0000014E;
    private static final int TPM_RH_OWNER = 0x40000001;
    /** TPM_RC_RETRY (warning 0x22). */
    private static final int RC_RETRY = TpmRc.RC_WARN | 0x22;

    /** The standard ECC P-256 storage primary key template (TCG EK/SRK profile, as tpm2-tools/systemd). */
    private static TPMT_PUBLIC srkTemplate() {
        return new TPMT_PUBLIC(TPM_ALG_ID.SHA256,
                new TPMA_OBJECT(TPMA_OBJECT.fixedTPM, TPMA_OBJECT.fixedParent, TPMA_OBJECT.sensitiveDataOrigin,
                        TPMA_OBJECT.userWithAuth, TPMA_OBJECT.noDA, TPMA_OBJECT.restricted, TPMA_OBJECT.decrypt),
                new byte[0],
                new TPMS_ECC_PARMS(new TPMT_SYM_DEF_OBJECT(TPM_ALG_ID.AES, 128, TPM_ALG_ID.CFB), new TPMS_NULL_ASYM_SCHEME(),
                        TPM_ECC_CURVE.NIST_P256, new TPMS_NULL_KDF_SCHEME()),
                new TPMS_ECC_POINT(new byte[0], new byte[0]));
    }

    /** The storage primary key: its handle, public area (the ECC point salts sessions) and Name. */
    private CreatePrimaryResponse createPrimary() {
        return run(() -> t().CreatePrimary(TPM_HANDLE.from(TPM_RH.OWNER),
                new TPMS_SENSITIVE_CREATE(new byte[0], new byte[0]), srkTemplate(), new byte[0], new TPMS_PCR_SELECTION[0]));
    }

    /**
     * A salted, unbound HMAC session whose only job is parameter encryption: the salt is sent
     * encrypted to the storage primary key (ECDH, Part 1 Annex C.6.1), so only that TPM learns the
     * session key = KDFa(sha256, salt, "ATH", nonceTPM, nonceCaller). A bus observer sees neither the
     * salt nor, therefore, the secret the session encrypts.
     */
    private final class EncryptSession implements SessionCommand.Session, AutoCloseable {
        private final TPM_HANDLE handle;
        private final int attributes;
        private byte[] sessionKey;
        private byte[] nonceTpm;

        EncryptSession(CreatePrimaryResponse saltKey, int attributes) {
            this.attributes = attributes;
            if (!(saltKey.outPublic.unique instanceof TPMS_ECC_POINT q)) {
                throw new TpmTransportException("the storage primary key has no ECC point to salt a session with");
            }
            SessionCrypto.EccSalt salt = SessionCrypto.eccSalt(HashAlg.SHA256, q.x, q.y, random());
            byte[] nonceCaller = new byte[HashAlg.SHA256.size];
            random().nextBytes(nonceCaller);
            try {
                StartAuthSessionResponse r = run(() -> t().StartAuthSession(saltKey.handle, TPM_HANDLE.NULL, nonceCaller,
                        salt.encryptedSalt(), TPM_SE.HMAC, new TPMT_SYM_DEF(TPM_ALG_ID.AES, 128, TPM_ALG_ID.CFB), TPM_ALG_ID.SHA256));
                this.handle = r.handle;
                this.nonceTpm = r.nonceTPM;
                this.sessionKey = SessionCrypto.kdfa(HashAlg.SHA256, salt.salt(), "ATH", r.nonceTPM, nonceCaller, 256);
            } finally {
                Arrays.fill(salt.salt(), (byte) 0);
            }
        }

        @Override
        public int handle() {
            return handle.handle;
        }

        @Override
        public HashAlg alg() {
            return HashAlg.SHA256;
        }

        @Override
        public int attributes() {
            return attributes;
        }

        @Override
        public byte[] hmacKey() {
            return sessionKey;
        }

        @Override
        public byte[] cfbKey() {
            return sessionKey;
        }

        @Override
        public byte[] nonceTpm() {
            return nonceTpm;
        }

        @Override
        public void nonceTpm(byte[] n) {
            nonceTpm = n;
        }

        @Override
        public void close() {
            Arrays.fill(sessionKey, (byte) 0);
            flushQuietly(handle);
        }
    }

    /** A policy session as the authorization of one command (HMAC only after PolicyAuthValue). */
    private static final class PolicyAuth implements SessionCommand.Session {
        private final Session s;
        private final byte[] key;

        PolicyAuth(Session s, byte[] authValue) {
            this.s = s;
            this.key = s.authValueBound ? trimTrailingZeros(authValue) : null;
        }

        @Override
        public int handle() {
            return s.handle.handle;
        }

        @Override
        public HashAlg alg() {
            return s.alg;
        }

        @Override
        public int attributes() {
            return SessionCommand.ATTR_CONTINUE;
        }

        @Override
        public byte[] hmacKey() {
            return key;
        }

        @Override
        public byte[] nonceTpm() {
            return s.nonceTpm;
        }

        @Override
        public void nonceTpm(byte[] n) {
            s.nonceTpm = n;
        }
    }

    /** Sends a marshalled command; a TPM error becomes a {@link TpmCommandException}. */
    private byte[] send(byte[] command) {
        byte[] r = transport.transact(command);
        checkRc();
        return r;
    }

    /** Clears the transport's copies of the last command and response (they may have held secret material). */
    private void forgetLastExchange() {
        byte[] c = transport.lastCommand();
        if (c != null) Arrays.fill(c, (byte) 0);
        byte[] r = transport.lastResponse();
        if (r != null) Arrays.fill(r, (byte) 0);
    }

    @Override
    public SealedObject seal(byte[] secret, byte[] authPolicy) {
        return seal(secret, authPolicy, new byte[0]);
    }

    /**
     * TPM2_Create of a sealed data object under the storage primary key. The sensitive part (secret
     * and authValue) is the command's first parameter and travels encrypted by a salted session.
     */
    @Override
    public SealedObject seal(byte[] secret, byte[] authPolicy, byte[] authValue) {
        if (authValue.length > HashAlg.SHA256.size) {
            throw new BadInputException("authValue longer than the sealed object's name hash (32 bytes)");
        }
        if (secret.length == 0 || secret.length > MAX_SEAL) {
            throw new BadInputException("a sealed secret must be 1.." + MAX_SEAL + " bytes, got " + secret.length);
        }
        if (authPolicy.length != HashAlg.SHA256.size) {
            throw new BadInputException("authPolicy must be a sha256 policy digest (32 bytes), got " + authPolicy.length);
        }
        TPMT_PUBLIC tmpl = new TPMT_PUBLIC(TPM_ALG_ID.SHA256,
                new TPMA_OBJECT(TPMA_OBJECT.fixedTPM, TPMA_OBJECT.fixedParent),
                authPolicy,
                new TPMS_KEYEDHASH_PARMS(new TPMS_NULL_SCHEME_KEYEDHASH()),
                new TPM2B_DIGEST_KEYEDHASH(new byte[0]));
        // inSensitive = TPM2B(TPMS_SENSITIVE_CREATE{TPM2B userAuth, TPM2B data}), then inPublic, outsideInfo, creationPCR
        byte[] sensitive = SessionCrypto.concat(SessionCommand.sized(authValue), SessionCommand.sized(secret));
        byte[] params = SessionCrypto.concat(SessionCommand.sized(sensitive), SessionCommand.sized(tmpl.toBytes()),
                SessionCommand.sized(new byte[0]), SessionCrypto.be32(0));
        Arrays.fill(sensitive, (byte) 0);
        CreatePrimaryResponse parent = createPrimary();
        try (EncryptSession enc = new EncryptSession(parent, SessionCommand.ATTR_CONTINUE | SessionCommand.ATTR_DECRYPT)) {
            SessionCommand cmd = new SessionCommand(TPM_CC_CREATE, new int[]{parent.handle.handle}, List.of(parent.name),
                    params, List.of(new SessionCommand.Password(new byte[0]), enc), random());
            SessionCommand.Response r = cmd.run(this::send, 0);
            BeReader b = new BeReader(r.parameters(), "TPM2_Create response");
            byte[] priv = b.sized("outPrivate", 4096);
            TpmPublic pub = TpmPublic.read(b);
            return new SealedObject(pub.area(), priv);
        } finally {
            Arrays.fill(params, (byte) 0);
            forgetLastExchange();
            flushQuietly(parent.handle);
        }
    }

    @Override
    public byte[] unseal(SealedObject sealed, PolicySession session) {
        return unseal(sealed, session, new byte[0]);
    }

    /**
     * TPM2_Unseal: loads the object under the storage primary key and unseals it with the policy
     * session as its authorization (with an HMAC keyed with {@code authValue} when the session ran
     * PolicyAuthValue). A second, salted session encrypts the response, so the secret never crosses
     * the TPM bus in clear; both response HMACs are checked before the data is decrypted, and the
     * transport's copy of the response is cleared.
     */
    @Override
    public byte[] unseal(SealedObject sealed, PolicySession session, byte[] authValue) {
        if (!(session instanceof Session s) || s.closed) throw new IllegalArgumentException("not an open session of this TPM");
        if (s.trial) throw new IllegalArgumentException("a trial session cannot authorize TPM2_Unseal");
        TPMT_PUBLIC pub = TPMT_PUBLIC.fromBytes(sealed.publicArea());
        TpmPublic area = TpmPublic.parseArea(sealed.publicArea(), "sealed object");
        CreatePrimaryResponse parent = createPrimary();
        try {
            TPM_HANDLE obj = run(() -> t().Load(parent.handle, new TPM2B_PRIVATE(sealed.privateArea()), pub));
            try (EncryptSession enc = new EncryptSession(parent, SessionCommand.ATTR_CONTINUE | SessionCommand.ATTR_ENCRYPT)) {
                for (int attempt = 0; ; attempt++) {
                    try {
                        SessionCommand cmd = new SessionCommand(TPM_CC_UNSEAL, new int[]{obj.handle}, List.of(area.name()),
                                new byte[0], List.of(new PolicyAuth(s, authValue), enc), random());
                        SessionCommand.Response r = cmd.run(this::send, 0);
                        BeReader b = new BeReader(r.parameters(), "TPM2_Unseal response");
                        byte[] out = b.sized("outData", MAX_SEAL);
                        b.expectEnd();
                        Arrays.fill(r.parameters(), (byte) 0);
                        return out;
                    } catch (TpmCommandException e) {
                        // TPM_RC_RETRY: e.g. the TPM first had to record a non-orderly state in NV; retry as the spec asks
                        if (e.rc().raw() != RC_RETRY || attempt >= 3) throw e;
                    }
                }
            } finally {
                forgetLastExchange();
                flushQuietly(obj);
            }
        } finally {
            flushQuietly(parent.handle);
        }
    }

    private static byte[] trimTrailingZeros(byte[] v) {
        int n = v.length;
        while (n > 0 && v[n - 1] == 0) n--;
        return Arrays.copyOf(v, n);
    }

    // ---------------------------------------------------------------- public areas (read-only)

    /** A command without sessions (tag TPM_ST_NO_SESSIONS), marshalled here so the raw response can be parsed. */
    private byte[] plainCommand(int cc, int... handles) {
        byte[] c = new byte[10 + 4 * handles.length];
        c[0] = (byte) 0x80;
        c[1] = 0x01;
        System.arraycopy(SessionCrypto.be32(c.length), 0, c, 2, 4);
        System.arraycopy(SessionCrypto.be32(cc), 0, c, 6, 4);
        for (int i = 0; i < handles.length; i++) System.arraycopy(SessionCrypto.be32(handles[i]), 0, c, 10 + 4 * i, 4);
        return send(c);
    }

    @Override
    public TpmPublic readPublic(int handle) {
        byte[] r = plainCommand(TPM_CC_READ_PUBLIC, handle);
        String what = String.format("TPM2_ReadPublic(0x%08x) response", handle);
        BeReader b = new BeReader(r, 10, r.length - 10, what);
        TpmPublic p = TpmPublic.read(b);
        byte[] name = b.sized("name", 2 + 64);
        b.sized("qualifiedName", 2 + 64);
        b.expectEnd();
        if (!Arrays.equals(name, p.name())) {
            throw new TpmTransportException(what + ": the Name the TPM gives does not hash from the public area it gives");
        }
        return p;
    }

    @Override
    public NvPublic nvReadPublic(int nvIndex) {
        byte[] r = plainCommand(TPM_CC_NV_READ_PUBLIC, nvIndex);
        String what = String.format("TPM2_NV_ReadPublic(0x%08x) response", nvIndex);
        BeReader b = new BeReader(r, 10, r.length - 10, what);
        NvPublic p = NvPublic.read(b);
        byte[] name = b.sized("nvName", 2 + 64);
        b.expectEnd();
        if (p.nvIndex() != nvIndex) throw new TpmTransportException(what + String.format(": describes index 0x%08x", p.nvIndex()));
        if (!Arrays.equals(name, p.name())) {
            throw new TpmTransportException(what + ": the Name the TPM gives does not hash from the public area it gives");
        }
        return p;
    }

    @Override
    public byte[] nvReadAsOwner(int nvIndex, int size) {
        if (size < 0 || size > 1024) throw new BadInputException("NV read of " + size + " bytes refused (0..1024)");
        NvPublic p = nvReadPublic(nvIndex);
        // handles: authHandle = TPM_RH_OWNER (password session, empty), nvIndex; parameters: u16 size, u16 offset
        byte[] params = SessionCrypto.concat(new byte[]{(byte) (size >>> 8), (byte) size}, new byte[]{0, 0});
        byte[] ownerName = SessionCrypto.be32(TPM_RH_OWNER);
        SessionCommand cmd = new SessionCommand(TPM_CC_NV_READ, new int[]{TPM_RH_OWNER, nvIndex}, List.of(ownerName, p.name()),
                params, List.of(new SessionCommand.Password(new byte[0])), random());
        SessionCommand.Response r = cmd.run(this::send, 0);
        BeReader b = new BeReader(r.parameters(), String.format("TPM2_NV_Read(0x%08x) response", nvIndex));
        byte[] data = b.sized("data", 1024);
        b.expectEnd();
        return data;
    }

    @Override
    public void close() {
        transport.close();
    }
}
