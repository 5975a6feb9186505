package org.kexecmeasured.tpm.transport;

import org.kexecmeasured.tpm.error.TpmTransportException;
import tss.TpmDevice;

import java.util.Collections;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A byte pipe to a TPM: one marshalled command in, one response out. Extends TSS.Java's
 * {@link TpmDevice} so TSS.Java's command marshalling can use it, but never offers TSS.Java's
 * power or locality control (those speak the MS-simulator platform protocol, which swtpm does not).
 * Counts commands, in all and by command code, so tests can assert how many (and which) a job needs.
 */
public abstract class TpmTransport extends TpmDevice {
    /** Largest response accepted (TPM2 responses are far smaller; guards against garbage sizes). */
    public static final int MAX_RESPONSE = 1 << 16;
    public static final int HEADER = 10;

    private final String description;
    private final AtomicLong commands = new AtomicLong();
    /** Commands by TPM_CC; guarded by {@code this} (transact is synchronized). */
    private final TreeMap<Integer, Long> byCode = new TreeMap<>();
    private byte[] pendingCommand;
    private byte[] lastResponse;
    private byte[] lastCommand;
    private static final int TPM_RC_RETRY = 0x922;
    private static final int MAX_RETRIES = 100;
    private int retries;
    /** See {@link #setResponseCheck}; none until set (null, not an empty lambda: no class spun at run time). */
    private java.util.function.BiConsumer<Integer, byte[]> responseCheck;

    protected TpmTransport(String description) {
        this.description = description;
    }

    /** The TCTI string this transport was opened with. */
    public String description() {
        return description;
    }

    /** Number of TPM commands sent so far. */
    public long commandCount() {
        return commands.get();
    }

    /** Commands sent so far by TPM_CC (a copy). */
    public synchronized SortedMap<Integer, Long> commandCounts() {
        return Collections.unmodifiableSortedMap(new TreeMap<>(byCode));
    }

    public byte[] lastResponse() {
        return lastResponse;
    }

    public byte[] lastCommand() {
        return lastCommand;
    }

    /** Sends one command and returns the response (validated header). */
    public final synchronized byte[] transact(byte[] command) {
        if (command.length < HEADER) throw new IllegalArgumentException("TPM command shorter than its header");
        commands.incrementAndGet();
        Long sent = byCode.get(u32(command, 6)); // not merge(…, Long::sum): a lambda's class spun at run time
        byCode.put(u32(command, 6), sent == null ? 1L : sent + 1);
        lastCommand = command;
        lastResponse = null;
        byte[] r = exchange(command);
        if (r.length < HEADER) {
            throw new TpmTransportException(description + ": short response (" + r.length + " bytes) to " + commandName(command));
        }
        int size = u32(r, 2);
        if (size != r.length) {
            throw new TpmTransportException(description + ": response to " + commandName(command) + " says " + size
                    + " bytes but " + r.length + " arrived");
        }
        // TSS.Java resends on TPM_RC_RETRY without limit: bound it here
        int rc = u32(r, 6);
        // the mask TSS.Java applies before comparing with TPM_RC_RETRY (format-0 codes)
        if ((rc & 0x80) == 0 && (rc & 0x97F) == TPM_RC_RETRY) {
            if (++retries > MAX_RETRIES) {
                retries = 0;
                throw new TpmTransportException(description + ": the TPM answered " + commandName(command) + " with TPM_RC_RETRY "
                        + MAX_RETRIES + " times in a row");
            }
        } else {
            retries = 0;
        }
        if (responseCheck != null) {
            responseCheck.accept(u32(command, 6), r);
        }
        lastResponse = r;
        return r;
    }

    /** A check run on every well-formed response before it is handed on (e.g. list-count bounds). */
    public void setResponseCheck(java.util.function.BiConsumer<Integer, byte[]> check) {
        this.responseCheck = check;
    }

    /** Writes the command and reads the whole response; throws TpmTransportException on failure or timeout. */
    protected abstract byte[] exchange(byte[] command);

    public static int u32(byte[] b, int off) {
        return ((b[off] & 0xFF) << 24) | ((b[off + 1] & 0xFF) << 16) | ((b[off + 2] & 0xFF) << 8) | (b[off + 3] & 0xFF);
    }

    /** "TPM2_PCR_Read" for a marshalled command. */
    public static String commandName(byte[] command) {
        if (command == null || command.length < HEADER) return "TPM command";
        return commandName(u32(command, 6));
    }

    public static String commandName(int cc) {
        try {
            tss.tpm.TPM_CC c = tss.tpm.TPM_CC.fromInt(cc);
            String n = c.name();
            if (n != null && !n.isEmpty() && !n.startsWith("0x") && !Character.isDigit(n.charAt(0))) return "TPM2_" + n;
        } catch (RuntimeException e) {
            // fall through to the numeric form
        }
        return "TPM command 0x" + Integer.toHexString(cc);
    }

    // --- tss.TpmDevice ---

    @Override
    public boolean connect() {
        return true;
    }

    @Override
    public void dispatchCommand(byte[] command) {
        pendingCommand = command;
    }

    @Override
    public byte[] getResponse() {
        byte[] c = pendingCommand;
        pendingCommand = null;
        if (c == null) throw new IllegalStateException("no command dispatched");
        return transact(c);
    }

    @Override
    public boolean responseReady() {
        return pendingCommand != null;
    }

    @Override
    public void powerCtl(boolean on) {
        throw new UnsupportedOperationException("power control is not available on " + description
                + " (use the swtpm control channel)");
    }

    @Override
    public void setLocality(int locality) {
        throw new UnsupportedOperationException("locality control is not available on " + description);
    }

    @Override
    public boolean platformAvailable() {
        return false;
    }

    @Override
    public boolean powerCtlAvailable() {
        return false;
    }

    @Override
    public boolean localityCtlAvailable() {
        return false;
    }

    @Override
    public abstract void close();
}
