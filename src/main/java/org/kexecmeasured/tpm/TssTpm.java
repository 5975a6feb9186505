package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.policy.ApprovedPolicy;
import org.kexecmeasured.tpm.policy.TpmNames;
import org.kexecmeasured.tpm.transport.TpmTransport;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import tss.tpm.CreatePrimaryResponse;
import tss.tpm.CreateResponse;
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
    private final SecureRandom random = new SecureRandom();
    private TpmInfo info;

    public TssTpm(TpmTransport transport) {
        this.transport = transport;
        this.tss = new tss.Tpm();
        this.tss._setDevice(transport);
        transport.setResponseCheck(ResponseGuard::check);
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
    private <T> T run(Supplier<T> op) {
        T r;
        try {
            r = op.get();
        } catch (TpmException e) {
            throw e; // ours: transport failures
        } catch (RuntimeException e) {
            // TSS.Java unmarshalling a response it cannot parse (tss.TpmException, index/size errors)
            throw new TpmTransportException("malformed TPM response to " + TpmTransport.commandName(transport.lastCommand())
                    + " from " + transport.description() + ": " + e, e);
        }
        checkRc();
        return r;
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
            GetCapabilityResponse r = run(() -> t().GetCapability(TPM_CAP.TPM_PROPERTIES, start, 64));
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
        GetCapabilityResponse pr = run(() -> t().GetCapability(TPM_CAP.PCRS, 0, 16));
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
        GetCapabilityResponse pr = run(() -> t().GetCapability(TPM_CAP.PCRS, 0, 16));
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

    private record Slot(HashAlg bank, int pcr) {
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
                    batch.computeIfAbsent(s.bank(), b -> new ArrayList<>()).add(s.pcr());
                    n++;
                }
                PcrSelection.Builder sb = PcrSelection.builder();
                batch.forEach((b, l) -> l.forEach(p -> sb.add(b, p)));
                PcrSelection req = sb.build();
                TPMS_PCR_SELECTION[] sel = toTss(req);
                PCR_ReadResponse r = run(() -> t().PCR_Read(sel));
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
        runVoid(() -> t().PCR_Extend(TPM_HANDLE.pcr(pcr), arr));
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
            byte[] r = run(() -> t().GetRandom(want));
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
        random.nextBytes(nonce);
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
        public void policyAuthorize(ApprovedPolicy approved, PublicKey key) {
            byte[] area = TpmNames.publicArea(key, HashAlg.SHA256, TpmNames.EXTERNAL_KEY_ATTRIBUTES);
            TPMT_PUBLIC pub = TPMT_PUBLIC.fromBytes(area);
            TPM_HANDLE kh = run(() -> t().LoadExternal(null, pub, TPM_HANDLE.from(TPM_RH.OWNER)));
            try {
                byte[] name = TpmNames.name(HashAlg.SHA256, area);
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

    private TPM_HANDLE createPrimary() {
        CreatePrimaryResponse r = run(() -> t().CreatePrimary(TPM_HANDLE.from(TPM_RH.OWNER),
                new TPMS_SENSITIVE_CREATE(new byte[0], new byte[0]), srkTemplate(), new byte[0], new TPMS_PCR_SELECTION[0]));
        return r.handle;
    }

    @Override
    public SealedObject seal(byte[] secret, byte[] authPolicy) {
        return seal(secret, authPolicy, new byte[0]);
    }

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
        TPM_HANDLE parent = createPrimary();
        try {
            CreateResponse r = run(() -> t().Create(parent, new TPMS_SENSITIVE_CREATE(authValue, secret), tmpl,
                    new byte[0], new TPMS_PCR_SELECTION[0]));
            return new SealedObject(r.outPublic.toBytes(), r.outPrivate.buffer);
        } finally {
            flushQuietly(parent);
        }
    }

    @Override
    public byte[] unseal(SealedObject sealed, PolicySession session) {
        return unseal(sealed, session, new byte[0]);
    }

    @Override
    public byte[] unseal(SealedObject sealed, PolicySession session, byte[] authValue) {
        if (!(session instanceof Session s) || s.closed) throw new IllegalArgumentException("not an open session of this TPM");
        if (s.trial) throw new IllegalArgumentException("a trial session cannot authorize TPM2_Unseal");
        TPMT_PUBLIC pub = TPMT_PUBLIC.fromBytes(sealed.publicArea());
        TPM_HANDLE parent = createPrimary();
        try {
            TPM_HANDLE obj = run(() -> t().Load(parent, new TPM2B_PRIVATE(sealed.privateArea()), pub));
            try {
                if (s.authValueBound) return unsealWithHmac(obj, sealed, s, authValue);
                return run(() -> tss._withSession(s.handle)._allowErrors().Unseal(obj));
            } finally {
                flushQuietly(obj);
            }
        } finally {
            flushQuietly(parent);
        }
    }

    private static final int TPM_CC_UNSEAL = 0x0000015E;
    private static final int TPM_ST_SESSIONS = 0x8002;
    private static final byte CONTINUE_SESSION = 0x01;

    /**
     * TPM2_Unseal authorized by a policy session that ran PolicyAuthValue: TSS.Java sends policy
     * sessions without an HMAC, so this one command is marshalled here. Unbound, unsalted session:
     * HMAC key = authValue (trailing zeros removed); hmac = HMAC(key, cpHash ‖ nonceCaller ‖ nonceTPM ‖ attrs),
     * cpHash = H(commandCode ‖ object Name). The response HMAC is checked the same way with rpHash.
     */
    private byte[] unsealWithHmac(TPM_HANDLE obj, SealedObject sealed, Session s, byte[] authValue) {
        HashAlg h = s.alg;
        byte[] pub = sealed.publicArea();
        HashAlg nameAlg = HashAlg.fromAlgId(((pub[2] & 0xFF) << 8) | (pub[3] & 0xFF));
        if (nameAlg == null) throw new BadInputException("sealed object has an unknown name algorithm");
        byte[] name = TpmNames.name(nameAlg, pub);
        byte[] key = trimTrailingZeros(authValue);
        for (int attempt = 0; ; attempt++) {
            try {
                return unsealWithHmacOnce(obj, name, s, key);
            } catch (TpmCommandException e) {
                // TPM_RC_RETRY: e.g. the TPM first had to record a non-orderly state in NV; retry as the spec asks
                if (e.rc().raw() != (TpmRc.RC_WARN | 0x22) || attempt >= 3) throw e;
            }
        }
    }

    private byte[] unsealWithHmacOnce(TPM_HANDLE obj, byte[] name, Session s, byte[] key) {
        HashAlg h = s.alg;
        byte[] nonceCaller = new byte[h.size];
        random.nextBytes(nonceCaller);
        var cp = h.newDigest();
        cp.update(be32(TPM_CC_UNSEAL));
        cp.update(name);
        byte[] cpHash = cp.digest();
        byte[] hmac = hmac(h, key, cpHash, nonceCaller, s.nonceTpm, new byte[]{CONTINUE_SESSION});

        java.io.ByteArrayOutputStream auth = new java.io.ByteArrayOutputStream();
        auth.writeBytes(be32(s.handle.handle));
        auth.writeBytes(sized(nonceCaller));
        auth.write(CONTINUE_SESSION);
        auth.writeBytes(sized(hmac));
        byte[] authArea = auth.toByteArray();
        java.io.ByteArrayOutputStream cmd = new java.io.ByteArrayOutputStream();
        int size = 10 + 4 + 4 + authArea.length;
        cmd.write(TPM_ST_SESSIONS >>> 8);
        cmd.write(TPM_ST_SESSIONS & 0xFF);
        cmd.writeBytes(be32(size));
        cmd.writeBytes(be32(TPM_CC_UNSEAL));
        cmd.writeBytes(be32(obj.handle));
        cmd.writeBytes(be32(authArea.length));
        cmd.writeBytes(authArea);
        byte[] r = transport.transact(cmd.toByteArray());
        checkRc();
        // {tag, size, rc, u32 parameterSize, TPM2B outData, session: TPM2B nonceTPM, attrs, TPM2B hmac}
        try {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(r);
            b.position(10);
            int paramSize = b.getInt();
            int paramStart = b.position();
            byte[] outData = new byte[b.getShort() & 0xFFFF];
            b.get(outData);
            if (b.position() != paramStart + paramSize) throw new TpmTransportException("TPM2_Unseal response: bad parameter size");
            byte[] params = java.util.Arrays.copyOfRange(r, paramStart, paramStart + paramSize);
            byte[] newNonceTpm = new byte[b.getShort() & 0xFFFF];
            b.get(newNonceTpm);
            byte attrs = b.get();
            byte[] rHmac = new byte[b.getShort() & 0xFFFF];
            b.get(rHmac);
            var rp = h.newDigest();
            rp.update(be32(0));
            rp.update(be32(TPM_CC_UNSEAL));
            rp.update(params);
            byte[] expect = hmac(h, key, rp.digest(), newNonceTpm, nonceCaller, new byte[]{attrs});
            if (!java.security.MessageDigest.isEqual(expect, rHmac)) {
                throw new TpmTransportException("TPM2_Unseal response HMAC does not verify (response tampered with?)");
            }
            s.nonceTpm = newNonceTpm;
            return outData;
        } catch (java.nio.BufferUnderflowException e) {
            throw new TpmTransportException("TPM2_Unseal response truncated", e);
        }
    }

    private static byte[] trimTrailingZeros(byte[] v) {
        int n = v.length;
        while (n > 0 && v[n - 1] == 0) n--;
        return Arrays.copyOf(v, n);
    }

    private static byte[] hmac(HashAlg h, byte[] key, byte[]... parts) {
        try {
            String name = "Hmac" + h.jcaName.replace("-", "");
            javax.crypto.Mac mac = javax.crypto.Mac.getInstance(name);
            // an empty key is legal for the TPM; JCA refuses zero-length keys, and HMAC pads keys with zeros anyway
            mac.init(new javax.crypto.spec.SecretKeySpec(key.length == 0 ? new byte[1] : key, name));
            for (byte[] p : parts) mac.update(p);
            return mac.doFinal();
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-" + h.tpmName + " unavailable", e);
        }
    }

    private static byte[] be32(int v) {
        return new byte[]{(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }

    private static byte[] sized(byte[] b) {
        byte[] o = new byte[b.length + 2];
        o[0] = (byte) (b.length >>> 8);
        o[1] = (byte) b.length;
        System.arraycopy(b, 0, o, 2, b.length);
        return o;
    }

    @Override
    public void close() {
        transport.close();
    }
}
