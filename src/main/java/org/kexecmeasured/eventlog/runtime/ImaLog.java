package org.kexecmeasured.eventlog.runtime;

import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Le;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * IMA's binary measurement list ({@code binary_runtime_measurements}; Linux security/integrity/ima/ima_fs.c),
 * little-endian, one entry after the other:
 * <pre>
 *   u32 pcr | u8 template_digest[20] (SHA-1) | u32 name_len | name | [u32 data_len] | template data
 * </pre>
 * {@code data_len} is absent for the legacy "ima" template. What IMA extended into each bank
 * ({@code ima_calc_field_array_hash}): that bank's hash over the template data as the list shows it
 * (every field as u32 length + bytes); for the legacy "ima" template over the 20-byte file digest and
 * the file name zero-padded to 256 bytes. A violation entry lists a zero digest and extended all-ones.
 * Each entry's listed SHA-1 is checked against its data, so a list that does not match itself is refused.
 */
public final class ImaLog {
    /** The default file. */
    public static final String PATH = "/sys/kernel/security/ima/binary_runtime_measurements";
    /** IMA_TEMPLATE_NAME_LEN_MAX. */
    private static final int MAX_NAME = 255;
    /** IMA_EVENT_NAME_LEN_MAX + 1: the legacy template hashes the file name padded to this. */
    private static final int LEGACY_NAME_HASHED = 256;
    private static final int SHA1_SIZE = 20;

    private ImaLog() {
    }

    /** Every entry, with what it extended in each of {@code banks}. */
    public static List<RuntimeRecord> parse(byte[] b, List<HashAlg> banks) {
        List<RuntimeRecord> out = new ArrayList<>();
        int off = 0;
        while (off < b.length) {
            int start = off;
            int n = out.size();
            need(b, off, 4 + SHA1_SIZE + 4, n, "header");
            long pcr = Le.u32(b, off);
            if (pcr > 23) throw bad(n, start, "PCR " + pcr + " is out of range");
            byte[] listed = Arrays.copyOfRange(b, off + 4, off + 4 + SHA1_SIZE);
            off += 4 + SHA1_SIZE;
            long nameLen = Le.u32(b, off);
            off += 4;
            if (nameLen == 0 || nameLen > MAX_NAME) throw bad(n, start, "template name length " + nameLen);
            need(b, off, (int) nameLen, n, "template name");
            String name = new String(b, off, (int) nameLen, StandardCharsets.US_ASCII);
            off += (int) nameLen;
            byte[] hashed;
            String file;
            if (name.equals("ima")) {
                need(b, off, SHA1_SIZE + 4, n, "legacy template data");
                byte[] fileDigest = Arrays.copyOfRange(b, off, off + SHA1_SIZE);
                long fnLen = Le.u32(b, off + SHA1_SIZE);
                off += SHA1_SIZE + 4;
                if (fnLen > LEGACY_NAME_HASHED - 1) throw bad(n, start, "legacy file name length " + fnLen);
                need(b, off, (int) fnLen, n, "legacy file name");
                hashed = new byte[SHA1_SIZE + LEGACY_NAME_HASHED];
                System.arraycopy(fileDigest, 0, hashed, 0, SHA1_SIZE);
                System.arraycopy(b, off, hashed, SHA1_SIZE, (int) fnLen);
                file = new String(b, off, (int) fnLen, StandardCharsets.UTF_8);
                off += (int) fnLen;
            } else {
                need(b, off, 4, n, "template data length");
                long dataLen = Le.u32(b, off);
                off += 4;
                if (dataLen > b.length - off) throw bad(n, start, "template data length " + dataLen
                        + " runs past the end (" + (b.length - off) + " bytes left)");
                hashed = Arrays.copyOfRange(b, off, off + (int) dataLen);
                file = fileName(hashed);
                off += (int) dataLen;
            }
            boolean violation = isZero(listed);
            if (!violation && !Arrays.equals(listed, HashAlg.SHA1.digest(hashed))) {
                throw bad(n, start, "the listed template digest " + Hex.of(listed) + " is not the SHA-1 of its data");
            }
            Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
            for (HashAlg a : banks) {
                if (violation) {
                    byte[] ones = new byte[a.size];
                    Arrays.fill(ones, (byte) 0xff);
                    d.put(a, ones);
                } else {
                    d.put(a, a == HashAlg.SHA1 ? listed : a.digest(hashed));
                }
            }
            String desc = (violation ? "violation " : "") + name + " " + (file == null ? "" : file);
            out.add(new RuntimeRecord(RuntimeRecord.Source.IMA, n, (int) pcr, d, Arrays.copyOfRange(b, start, off),
                    desc.strip()));
        }
        return out;
    }

    /** The file-name field ("n-ng", the second field of ima-ng/ima-sig/ima-buf) when the data has that shape. */
    private static String fileName(byte[] data) {
        if (data.length < 4) return null;
        long l0 = Le.u32(data, 0);
        if (l0 > data.length - 8L) return null;
        int p = 4 + (int) l0;
        long l1 = Le.u32(data, p);
        if (l1 == 0 || l1 > data.length - p - 4L) return null;
        int end = p + 4 + (int) l1;
        if (data[end - 1] == 0) end--;
        return new String(data, p + 4, end - p - 4, StandardCharsets.UTF_8);
    }

    private static boolean isZero(byte[] b) {
        for (byte x : b) if (x != 0) return false;
        return true;
    }

    private static void need(byte[] b, int off, int len, int record, String what) {
        if (len < 0 || off > b.length - len) {
            throw new BadInputException("IMA measurement list: record " + record + " at offset " + off + ": " + what
                    + " needs " + len + " bytes, " + Math.max(0, b.length - off) + " left");
        }
    }

    private static BadInputException bad(int record, int offset, String msg) {
        return new BadInputException("IMA measurement list: record " + record + " at offset " + offset + ": " + msg);
    }
}
