package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.error.TpmTransportException;

import org.kexecmeasured.tpm.error.TpmException;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.tpm.transport.TpmTransport;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A TPM (or something posing as one) that answers garbage: every outcome must be a value or a
 * TpmException/BadInputException, never another exception, a hang or a huge allocation. The fake
 * sits at the transport seam, which the swtpm tests exercise with real TPMs.
 */
class HostileResponseTest {
    static final class Scripted extends TpmTransport {
        private final Function<byte[], byte[]> answer;

        Scripted(Function<byte[], byte[]> answer) {
            super("fake:");
            this.answer = answer;
        }

        @Override
        protected byte[] exchange(byte[] command) {
            return answer.apply(command);
        }

        @Override
        public void close() {
        }
    }

    static byte[] response(int tag, int rc, byte[] body) {
        return ByteBuffer.allocate(10 + body.length).putShort((short) tag).putInt(10 + body.length).putInt(rc).put(body).array();
    }

    @Test
    void pcrReadClaimingHugeCounts() {
        // pcrUpdateCounter, TPML_PCR_SELECTION count = 0x7fffffff
        byte[] body = ByteBuffer.allocate(8).putInt(1).putInt(0x7FFFFFFF).array();
        TssTpm tpm = new TssTpm(new Scripted(c -> response(0x8001, 0, body)));
        TpmTransportException e = assertThrows(TpmTransportException.class, () -> tpm.readPcrs(PcrSelection.of(HashAlg.SHA256, 0)));
        assertTrue(e.getMessage().startsWith("malformed TPM response to TPM2_PCR_Read: TPML_PCR_SELECTION count 2147483647"), e.getMessage());
    }

    @Test
    void sizeFieldDisagreeingWithLength() {
        TssTpm tpm = new TssTpm(new Scripted(c -> ByteBuffer.allocate(12).putShort((short) 0x8001).putInt(99).putInt(0).array()));
        TpmTransportException e = assertThrows(TpmTransportException.class, tpm::info);
        assertTrue(e.getMessage().contains("says 99 bytes but 12 arrived"), e.getMessage());
    }

    @Test
    void randomBodiesNeverEscapeAsOtherExceptions() {
        Random rnd = new Random(4);
        for (int i = 0; i < 20000; i++) {
            byte[] body = new byte[rnd.nextInt(64)];
            rnd.nextBytes(body);
            // bias the first words towards small counts so parsing goes deeper
            if (body.length >= 8 && rnd.nextBoolean()) ByteBuffer.wrap(body).putInt(0, rnd.nextInt(4)).putInt(4, rnd.nextInt(4));
            int rc = rnd.nextInt(8) == 0 ? rnd.nextInt() : 0;
            byte[] resp = response(0x8001, rc, body);
            TssTpm tpm = new TssTpm(new Scripted(c -> resp));
            List<Runnable> ops = List.of(
                    () -> tpm.readPcrs(PcrSelection.of(HashAlg.SHA256, 0, 1, 2)),
                    tpm::info,
                    tpm::banks,
                    () -> tpm.startPolicySession(HashAlg.SHA256, true));
            Runnable op = ops.get(i % ops.size());
            try {
                op.run();
            } catch (TpmException | BadInputException expected) {
                // fine: a clear error
            } catch (RuntimeException e) {
                fail("round " + i + ": " + e, e);
            }
        }
    }
}
