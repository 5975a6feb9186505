package org.kexecmeasured.tpm;

import org.kexecmeasured.util.BoundedFiles;

import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PCR values of a TPM taken elsewhere (a file as {@code tpm2_pcrread} or {@code kexec-measured tpm
 * pcrs --json} writes it), standing in for the TPM when a plan is made offline. The banks are the
 * file's banks in its order; random bytes come from the host RNG. Nothing here can extend.
 */
public final class PcrSnapshot implements PcrReader {
    /** PCR files are a few KiB; anything far larger is not one. */
    public static final long MAX_FILE = 1 << 20;

    private final PcrSet values;
    private final String source;
    private final SecureRandom rng = new SecureRandom();

    public PcrSnapshot(PcrSet values, String source) {
        if (values.values().isEmpty()) throw new BadInputException(source + ": no PCR bank");
        this.values = values;
        this.source = source;
    }

    /** Reads a PCR file (YAML or JSON, see {@link PcrSet#parse}). */
    public static PcrSnapshot read(Path file) {
        try (BoundedFiles.Input in = BoundedFiles.open(file, BoundedFiles.TEXT)) {
            // the format's own bound (24 PCRs × a few banks) inside the text-file limit
            if (in.size() > MAX_FILE) throw new BadInputException(file + ": " + in.size() + " bytes is too large for a PCR file");
            byte[] b = in.readAll();
            if (b.length > MAX_FILE) throw new BadInputException(file + ": " + b.length + " bytes is too large for a PCR file");
            return new PcrSnapshot(PcrSet.parse(new String(b, StandardCharsets.UTF_8), file.toString()), "file " + file);
        }
    }

    @Override
    public String source() {
        return source;
    }

    @Override
    public List<HashAlg> banks() {
        return List.copyOf(values.values().keySet());
    }

    /** Every selected PCR must be in the file: a missing value is never invented. */
    @Override
    public Map<HashAlg, byte[][]> readPcrs(PcrSelection selection) {
        Map<HashAlg, byte[][]> out = new LinkedHashMap<>();
        for (HashAlg bank : selection.banks()) {
            Map<Integer, byte[]> have = values.values().get(bank);
            if (have == null) throw new BadInputException(source + " has no " + bank.tpmName + " bank");
            List<Integer> pcrs = selection.pcrs(bank);
            byte[][] v = new byte[pcrs.isEmpty() ? 0 : pcrs.get(pcrs.size() - 1) + 1][];
            for (int p : pcrs) {
                byte[] x = have.get(p);
                if (x == null) throw new BadInputException(source + " has no value for " + bank.tpmName + " PCR " + p);
                v[p] = x.clone();
            }
            out.put(bank, v);
        }
        return out;
    }

    @Override
    public byte[] random(int n) {
        byte[] b = new byte[n];
        rng.nextBytes(b);
        return b;
    }
}
