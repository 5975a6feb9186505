package org.kexecmeasured.cli;

import org.kexecmeasured.tpm.CommandCode;
import org.kexecmeasured.tpm.TssTpm;
import org.kexecmeasured.tpm.transport.TpmTransport;
import org.kexecmeasured.util.HashAlg;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Build step only: a TPM held in this process, for {@link CdsTraining}'s {@code boot --no-load}, so that the
 * class-data-sharing archive's training runs the measured boot's whole flow (plan, decide, sidecar, commit through the
 * extend pipeline, journal, outputs) on a build machine that has no TPM and must not need swtpm. It is a
 * {@link TpmTransport}: the boot talks to it through {@link TssTpm} and TSS.Java's marshalling, as to a real TPM, so
 * the TPM path's own run-time classes (TssTpm's and the transport's lambdas, the method handles of its record
 * comparisons) are made in the training and archived instead of at every boot.
 *
 * <p>It answers the four commands a boot without a policy sends, in their TPM 2.0 Part 3 wire format: TPM2_GetCapability
 * (TPM_CAP_PCRS: the given banks, all 24 PCRs; TPM_CAP_TPM_PROPERTIES: a few fixed properties), TPM2_PCR_Read (at most 8
 * digests, as a TPM returns), TPM2_PCR_Extend (a password session's response area) and TPM2_GetRandom. It holds the 24
 * PCRs of the given banks at their reset values (0…0; PCRs 17-22 F…F, as a TPM after a locality-0 start) and extends them
 * as a TPM does. Any other command gets TPM_RC_COMMAND_CODE (sealing fails: a boot without a policy never asks for it).
 * Never reachable from a command line: only the training passes it, through {@link Services#withTpm}.
 */
final class TrainingTpm extends TpmTransport {

    private static final int PCRS = 24;
    private static final short ST_NO_SESSIONS = (short) 0x8001;
    private static final short ST_SESSIONS = (short) 0x8002;
    private static final int RC_SUCCESS = 0;
    private static final int RC_COMMAND_CODE = 0x143;
    private static final int RC_VALUE = 0x084;
    private static final int TPM_CAP_PCRS = 5;
    private static final int TPM_CAP_TPM_PROPERTIES = 6;
    /** TPML_DIGEST holds at most 8 digests (TPM 2.0 Part 2). */
    private static final int MAX_READ = 8;

    private final List<HashAlg> banks;
    private final Map<HashAlg, byte[][]> pcrs = new EnumMap<>(HashAlg.class);
    private final SecureRandom random = new SecureRandom();

    TrainingTpm(String tcti, List<HashAlg> banks) {
        super(tcti);
        this.banks = List.copyOf(banks);
        for (HashAlg bank : banks) {
            byte[][] values = new byte[PCRS][];
            for (int i = 0; i < PCRS; i++) {
                values[i] = new byte[bank.size];
                if (i >= 17 && i <= 22) Arrays.fill(values[i], (byte) 0xFF);
            }
            pcrs.put(bank, values);
        }
    }

    /** The banks it holds. */
    List<HashAlg> banks() {
        return banks;
    }

    /** The value of one PCR now (a copy). */
    byte[] pcr(HashAlg bank, int index) {
        return pcrs.get(bank)[index].clone();
    }

    /** This TPM as the boot opens one: TSS.Java's marshalling over it. */
    TssTpm open() {
        return new TssTpm(this);
    }

    @Override
    protected synchronized byte[] exchange(byte[] command) {
        ByteBuffer in = ByteBuffer.wrap(command);
        in.position(HEADER);
        try {
            return switch (u32(command, 6)) {
                case CommandCode.GET_CAPABILITY -> getCapability(in);
                case CommandCode.PCR_READ -> pcrRead(in);
                case CommandCode.PCR_EXTEND -> pcrExtend(in);
                case CommandCode.GET_RANDOM -> getRandom(in);
                default -> response(ST_NO_SESSIONS, RC_COMMAND_CODE, new byte[0]);
            };
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            return response(ST_NO_SESSIONS, RC_VALUE, new byte[0]);
        }
    }

    private byte[] getCapability(ByteBuffer in) {
        int capability = in.getInt();
        int property = in.getInt();
        ByteBuffer out = ByteBuffer.allocate(1024);
        out.put((byte) 0); // moreData: NO
        out.putInt(capability);
        if (capability == TPM_CAP_PCRS) {
            out.putInt(banks.size());
            for (HashAlg bank : banks) {
                out.putShort((short) bank.algId).put((byte) 3).put(new byte[]{(byte) 0xFF, (byte) 0xFF, (byte) 0xFF});
            }
        } else if (capability == TPM_CAP_TPM_PROPERTIES) {
            // TPM_PT_FAMILY_INDICATOR "2.0", LEVEL 0, REVISION 1.64, MANUFACTURER "KXMT", VENDOR_STRING_1 "cds ",
            // PCR_COUNT, MAX_COMMAND_SIZE, MAX_RESPONSE_SIZE, MAX_DIGEST (TPM 2.0 Part 2, TPM_PT)
            int[][] fixed = {{0x100, 0x322E3000}, {0x101, 0}, {0x102, 164}, {0x105, 0x4B584D54}, {0x106, 0x63647320},
                    {0x112, PCRS}, {0x11E, 4096}, {0x11F, 4096}, {0x120, 64}};
            List<int[]> asked = Arrays.stream(fixed).filter(p -> p[0] >= property).toList();
            out.putInt(asked.size());
            for (int[] p : asked) out.putInt(p[0]).putInt(p[1]);
        } else {
            return response(ST_NO_SESSIONS, RC_VALUE, new byte[0]);
        }
        return response(ST_NO_SESSIONS, RC_SUCCESS, Arrays.copyOf(out.array(), out.position()));
    }

    private byte[] pcrRead(ByteBuffer in) {
        // TPML_PCR_SELECTION in; the PCRs returned (at most 8, in selection order) and their values out
        Map<HashAlg, byte[]> returned = new LinkedHashMap<>();
        ByteBuffer values = ByteBuffer.allocate(MAX_READ * (2 + 64));
        int n = 0;
        int count = in.getInt();
        if (count < 0 || count > 16) throw new IllegalArgumentException("TPML_PCR_SELECTION count " + count);
        for (int i = 0; i < count; i++) {
            HashAlg bank = HashAlg.fromAlgId(in.getShort() & 0xFFFF);
            byte[] select = new byte[in.get() & 0xFF];
            in.get(select);
            if (bank == null || !pcrs.containsKey(bank)) continue;
            byte[] got = new byte[select.length];
            for (int p = 0; p < select.length * 8 && p < PCRS; p++) {
                if ((select[p / 8] & (1 << (p % 8))) == 0 || n == MAX_READ) continue;
                got[p / 8] |= (byte) (1 << (p % 8));
                values.putShort((short) bank.size).put(pcrs.get(bank)[p]);
                n++;
            }
            returned.put(bank, got);
        }
        ByteBuffer out = ByteBuffer.allocate(4 + 4 + returned.size() * 8 + 4 + values.position());
        out.putInt(0); // pcrUpdateCounter
        out.putInt(returned.size());
        returned.forEach((bank, select) -> out.putShort((short) bank.algId).put((byte) select.length).put(select));
        out.putInt(n).put(values.array(), 0, values.position());
        return response(ST_NO_SESSIONS, RC_SUCCESS, Arrays.copyOf(out.array(), out.position()));
    }

    private byte[] pcrExtend(ByteBuffer in) {
        int pcr = in.getInt() & 0xFF;
        int authSize = in.getInt();
        if (authSize < 0 || authSize > in.remaining()) throw new IllegalArgumentException("authorizationSize " + authSize);
        in.position(in.position() + authSize);
        int count = in.getInt();
        if (count < 0 || count > 16 || pcr >= PCRS) throw new IllegalArgumentException("TPML_DIGEST_VALUES");
        for (int i = 0; i < count; i++) {
            HashAlg bank = HashAlg.fromAlgId(in.getShort() & 0xFFFF);
            if (bank == null) throw new IllegalArgumentException("hash algorithm");
            byte[] digest = new byte[bank.size];
            in.get(digest);
            byte[][] bankPcrs = pcrs.get(bank);
            if (bankPcrs != null) bankPcrs[pcr] = bank.extend(bankPcrs[pcr], digest);
        }
        // parameterSize 0, then the password session's response: nonce (empty), continueSession, hmac (empty)
        return response(ST_SESSIONS, RC_SUCCESS, new byte[]{0, 0, 0, 0, 0, 0, 1, 0, 0});
    }

    private byte[] getRandom(ByteBuffer in) {
        int want = Math.min(in.getShort() & 0xFFFF, 64);
        byte[] r = new byte[want];
        random.nextBytes(r);
        return response(ST_NO_SESSIONS, RC_SUCCESS, ByteBuffer.allocate(2 + want).putShort((short) want).put(r).array());
    }

    private static byte[] response(short tag, int rc, byte[] body) {
        if (rc != RC_SUCCESS) tag = ST_NO_SESSIONS;
        return ByteBuffer.allocate(HEADER + body.length).putShort(tag).putInt(HEADER + body.length).putInt(rc).put(body).array();
    }

    @Override
    public void close() {
    }
}
