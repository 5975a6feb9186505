package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.error.TpmTransportException;

import org.kexecmeasured.tpm.transport.TpmTransport;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;

/**
 * Bounds-checks the list counts in successful responses before TSS.Java unmarshals them: TSS.Java
 * allocates an array of whatever u32 count a TPML carries, so a garbled or hostile response could
 * otherwise exhaust the heap. Only responses that contain TPMLs are checked (TPM2B sizes are u16 and
 * harmless); the others are left to TSS.Java, whose failures {@link TssTpm} reports as malformed.
 */
final class ResponseGuard implements java.util.function.BiConsumer<Integer, byte[]> {
    static final int CC_CREATE_PRIMARY = 0x131;
    static final int CC_CREATE = 0x153;
    static final int CC_GET_CAPABILITY = 0x17A;
    static final int CC_PCR_READ = 0x17E;
    static final int TPM_CAP_PCRS = 5;
    static final int TPM_CAP_TPM_PROPERTIES = 6;
    /** HASH_COUNT on any real TPM is far below this. */
    static final int MAX_BANKS = 16;

    /**
     * The check as a {@link TpmTransport#setResponseCheck} argument: an instance of this class, not a method
     * reference, whose class would be spun at run time on the boot's main thread (the class-data-sharing training
     * opens no TSS.Java TPM, so it never archives one).
     */
    static final ResponseGuard CHECK = new ResponseGuard();

    private ResponseGuard() {
    }

    @Override
    public void accept(Integer commandCode, byte[] r) {
        check(commandCode, r);
    }

    static void check(int commandCode, byte[] r) {
        if (r.length < TpmTransport.HEADER || TpmTransport.u32(r, 6) != 0) return;
        ByteBuffer b = ByteBuffer.wrap(r);
        b.position(TpmTransport.HEADER);
        try {
            switch (commandCode) {
                case CC_PCR_READ -> {
                    b.getInt(); // pcrUpdateCounter
                    pcrSelection(b, commandCode);
                    int n = count(b, 8, "TPML_DIGEST", commandCode);
                    for (int i = 0; i < n; i++) skip(b, b.getShort() & 0xFFFF);
                }
                case CC_GET_CAPABILITY -> {
                    b.get(); // moreData
                    int cap = b.getInt();
                    if (cap == TPM_CAP_PCRS) {
                        pcrSelection(b, commandCode);
                    } else if (cap == TPM_CAP_TPM_PROPERTIES) {
                        int n = count(b, b.remaining() / 8, "TPML_TAGGED_TPM_PROPERTY", commandCode);
                        skip(b, 8 * n);
                    } else {
                        count(b, b.remaining(), "capability list", commandCode); // every element takes ≥ 1 byte
                    }
                }
                case CC_CREATE_PRIMARY, CC_CREATE -> {
                    if (commandCode == CC_CREATE_PRIMARY) b.getInt(); // objectHandle
                    b.getInt(); // parameterSize
                    if (commandCode == CC_CREATE) skip(b, b.getShort() & 0xFFFF); // outPrivate
                    skip(b, b.getShort() & 0xFFFF); // outPublic
                    int size = b.getShort() & 0xFFFF; // creationData
                    if (size > b.remaining()) throw new BufferUnderflowException();
                    ByteBuffer cd = b.slice(b.position(), size);
                    pcrSelection(cd, commandCode);
                }
                default -> {
                    // no TPML in the responses of the other commands this tool sends
                }
            }
        } catch (BufferUnderflowException e) {
            throw new TpmTransportException("malformed TPM response to " + TpmTransport.commandName(commandCode) + ": truncated");
        }
    }

    private static void pcrSelection(ByteBuffer b, int cc) {
        int n = count(b, MAX_BANKS, "TPML_PCR_SELECTION", cc);
        for (int i = 0; i < n; i++) {
            b.getShort();
            skip(b, b.get() & 0xFF);
        }
    }

    private static int count(ByteBuffer b, int max, String what, int cc) {
        int n = b.getInt();
        if (n < 0 || n > max) {
            throw new TpmTransportException("malformed TPM response to " + TpmTransport.commandName(cc) + ": " + what + " count "
                    + Integer.toUnsignedString(n) + " exceeds " + max);
        }
        return n;
    }

    private static void skip(ByteBuffer b, int n) {
        if (n > b.remaining()) throw new BufferUnderflowException();
        b.position(b.position() + n);
    }
}
