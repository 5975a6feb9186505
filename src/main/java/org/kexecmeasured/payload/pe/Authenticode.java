package org.kexecmeasured.payload.pe;

import org.kexecmeasured.payload.hash.MultiHasher;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The Authenticode image hash ("Calculating the PE Image Hash", Windows Authenticode Portable
 * Executable Signature Format), computed the way EDK2 (DxeImageVerificationLib, and Tcg2Dxe's
 * PE measurement for PCR 4) and pesign compute it, so that the digest equals what firmware
 * checks against db/dbx and what it extends into PCR 4:
 * <ol>
 *   <li>the headers from offset 0 up to the CheckSum field; skip the 4-byte CheckSum;</li>
 *   <li>up to the certificate table directory entry; skip that 8-byte entry (when the image has
 *       fewer than five data directories there is no entry to skip);</li>
 *   <li>the rest of the headers up to SizeOfHeaders;</li>
 *   <li>every section with SizeOfRawData &gt; 0, in ascending PointerToRawData order,
 *       SizeOfRawData bytes each; SUM_OF_BYTES_HASHED = SizeOfHeaders + those sizes;</li>
 *   <li>if the file is longer than SUM_OF_BYTES_HASHED: FileSize - CertTableSize -
 *       SUM_OF_BYTES_HASHED bytes starting at <em>offset SUM_OF_BYTES_HASHED</em>.</li>
 * </ol>
 * Step 5 starts at the byte count, not at the end of the last section: for an image with gaps
 * between sections (objcopy-built UKIs warn "gaps between PE/COFF sections") EDK2 and pesign
 * hash the gaps' worth of bytes from there, which is what firmware measures, so we do the same.
 * Bytes in the gaps themselves are not covered. A certificate table that is larger than the
 * unhashed remainder of the file makes EDK2 reject the image; we throw BadInputException.
 */
public final class Authenticode {

    /** A file range [offset, offset+length) that the image hash covers, in hashing order. */
    public record Range(long offset, long length) {
    }

    private Authenticode() {
    }

    public static byte[] digest(PeFile pe, HashAlg alg) {
        return digests(pe, Set.of(alg)).get(alg);
    }

    /** All requested digests in one pass over the hashed ranges (each byte read once for all algorithms). */
    public static Map<HashAlg, byte[]> digests(PeFile pe, Set<HashAlg> algs) {
        List<Range> ranges = hashedRanges(pe);
        try (MultiHasher h = MultiHasher.create(algs)) {
            for (Range r : ranges) pe.update(h, r.offset(), r.length());
            return h.finish();
        }
    }

    /** The ranges of the file the image hash covers, in order (see the class comment). */
    public static List<Range> hashedRanges(PeFile pe) {
        long fileSize = pe.fileSize();
        long sizeOfHeaders = pe.sizeOfHeaders();
        int checkSum = pe.checkSumOffset();
        boolean hasCertEntry = pe.numberOfRvaAndSizes() > DataDirectory.SECURITY;
        int certEntry = pe.certificateTableDirOffset();
        long headerMin = hasCertEntry ? certEntry + 8L : checkSum + 4L;
        if (sizeOfHeaders < headerMin || sizeOfHeaders > fileSize) {
            throw new BadInputException(String.format(
                    "Authenticode: SizeOfHeaders 0x%x does not cover the optional header up to 0x%x (file %d bytes)",
                    sizeOfHeaders, headerMin, fileSize));
        }
        List<Range> ranges = new ArrayList<>();
        ranges.add(new Range(0, checkSum));
        if (hasCertEntry) {
            ranges.add(new Range(checkSum + 4L, certEntry - (checkSum + 4L)));
            ranges.add(new Range(certEntry + 8L, sizeOfHeaders - (certEntry + 8L)));
        } else {
            ranges.add(new Range(checkSum + 4L, sizeOfHeaders - (checkSum + 4L)));
        }
        long sum = sizeOfHeaders;
        List<Section> sorted = new ArrayList<>();
        for (Section s : pe.sections()) if (s.sizeOfRawData() != 0) sorted.add(s);
        sorted.sort(Comparator.comparingLong(Section::pointerToRawData)); // stable, as EDK2's insertion sort
        for (Section s : sorted) {
            if (s.pointerToRawData() + s.sizeOfRawData() > fileSize) {
                throw new BadInputException(String.format(
                        "Authenticode: section '%s' raw data [0x%x, 0x%x) is past the end of the file (%d bytes)",
                        s.name(), s.pointerToRawData(), s.pointerToRawData() + s.sizeOfRawData(), fileSize));
            }
            ranges.add(new Range(s.pointerToRawData(), s.sizeOfRawData()));
            sum += s.sizeOfRawData();
        }
        if (fileSize > sum) {
            DataDirectory cert = hasCertEntry ? pe.dataDirectory(DataDirectory.SECURITY) : null;
            long certSize = cert == null ? 0 : cert.size();
            if (fileSize < sum + certSize) {
                throw new BadInputException(String.format(
                        "Authenticode: certificate table (offset 0x%x, size 0x%x) does not fit after the %d hashed bytes of a %d-byte file",
                        cert.virtualAddress(), certSize, sum, fileSize));
            }
            if (fileSize > sum + certSize) {
                ranges.add(new Range(sum, fileSize - certSize - sum));
            }
        }
        return ranges;
    }
}
