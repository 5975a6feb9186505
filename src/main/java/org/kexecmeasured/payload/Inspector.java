package org.kexecmeasured.payload;

import org.kexecmeasured.util.Le;
import org.bouncycastle.cert.X509CertificateHolder;
import org.kexecmeasured.payload.hash.MultiHasher;
import org.kexecmeasured.payload.linux.Arm64Image;
import org.kexecmeasured.payload.linux.Magic;
import org.kexecmeasured.payload.linux.BzImage;
import org.kexecmeasured.payload.linux.ZbootHeader;
import org.kexecmeasured.payload.pe.Authenticode;
import org.kexecmeasured.payload.pe.BaseRelocation;
import org.kexecmeasured.payload.pe.DataDirectory;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.pe.Section;
import org.kexecmeasured.payload.sig.AuthenticodeSignatures;
import org.kexecmeasured.payload.uki.Pcr11;
import org.kexecmeasured.payload.uki.StubMeasurements;
import org.kexecmeasured.payload.uki.StubVersion;
import org.kexecmeasured.payload.uki.Uki;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Detects what a payload file is and describes it as an ordered tree of maps, lists and scalars
 * (rendered as text by {@link ReportText} or as JSON by Jackson).
 *
 * <p>Kinds: PE/COFF images (any machine; UKI when a .linux section is present; x86 bzImage and
 * arm64 Image headers and EFI zboot are reported beside the PE view when present), bzImage and arm64
 * Image without a PE header, and plain files of a known kind (ELF, cpio, compressed streams,
 * devicetree, BMP, PEM, text). Anything else is bad input.
 */
public final class Inspector {

    public static final Set<HashAlg> BANKS = EnumSet.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512);
    private static final int MAX_NESTING = 2;

    /**
     * What to check while inspecting.
     *
     * @param trust      trust anchors for the signatures
     * @param stubRunner runs a UKI's own stub (the emulator) for its measurements; null: the static PCR 11
     *                   model alone, which says so
     * @param profile    the profile of a multi-profile UKI whose measurements to show in full (null: 0)
     */
    public record Options(List<X509CertificateHolder> trust, StubMeasurements.Runner stubRunner, Integer profile) {
        public Options(List<X509CertificateHolder> trust) {
            this(trust, null, null);
        }

        public static Options defaults() {
            return new Options(List.of());
        }
    }

    /** The report and the verdict inputs the CLI needs. */
    public record Result(Map<String, Object> report, List<AuthenticodeSignatures.Entry> signatures) {
        /**
         * Some WIN_CERTIFICATE verifies as EDK2 would accept it: every signer's signature, the image
         * digest and, with trust anchors, the chain.
         */
        public boolean anySignatureVerified() {
            for (AuthenticodeSignatures.Entry e : signatures) if (e.verified()) return true;
            return false;
        }
    }

    /** One helper thread (daemon, so a one-shot command never waits for it at exit). */
    private static final java.util.concurrent.ExecutorService WORKERS = java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "inspect-hash");
        t.setDaemon(true);
        return t;
    });

    private Inspector() {
    }

    private static <T> T join(java.util.concurrent.CompletableFuture<T> f) {
        try {
            return f.join();
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            if (e.getCause() instanceof Error err) throw err;
            throw e;
        }
    }

    public static Result inspect(byte[] data, Options opts) {
        return inspect(ByteBuffer.wrap(data), opts);
    }

    /**
     * Inspects the file held in the buffer (bytes 0 to its limit; a mapped file needs no heap:
     * hashing reads it in place). The buffer must not change meanwhile.
     */
    public static Result inspect(ByteBuffer data, Options opts) {
        List<AuthenticodeSignatures.Entry> sigs = new ArrayList<>();
        Map<String, Object> r = describe(data.duplicate().position(0), opts, 0, sigs);
        return new Result(r, sigs);
    }

    /** How many leading bytes {@link #checkHeader} needs to tell a payload from anything else. */
    public static final int HEADER_BYTES = 64 << 10;

    /**
     * Refuses, from the first bytes alone, what inspect would refuse anyway: no PE/COFF ("MZ"),
     * bzImage or arm64 Image header and no known plain format. {@code fileSize} is -1 when unknown
     * (a pipe). Lets a caller stop before it reads the rest of a large or endless input.
     */
    public static void checkHeader(byte[] head, long fileSize) {
        if (head.length == 0) throw new BadInputException("empty file (0 bytes)");
        ByteBuffer b = ByteBuffer.wrap(head);
        if (head.length >= 2 && Le.u16(b, 0) == 0x5a4d) return;
        if (BzImage.looksLikeBzImage(b) || Arm64Image.looksLikeArm64Image(b)) return;
        if (plainKind(b, fileSize) != null) return;
        throw new BadInputException(String.format(
                "not a recognised payload: no PE/COFF, bzImage or arm64 Image header and not a known plain format in the first %d bytes (first bytes %s)",
                head.length, Hex.of(head, 0, Math.min(8, head.length))));
    }

    private static Map<String, Object> describe(ByteBuffer b, Options given, int depth, List<AuthenticodeSignatures.Entry> sigsOut) {
        Options opts = depth > 0 ? new Options(given.trust()) : given; // a nested kernel is no UKI the stub would run
        Map<String, Object> r = new LinkedHashMap<>();
        int size = b.limit();
        r.put("size", (long) size);
        if (size == 0) throw new BadInputException("empty file (0 bytes)");
        boolean mz = size >= 2 && Le.u16(b, 0) == 0x5a4d;
        if (mz) {
            PeFile pe = PeFile.parse(b);
            boolean uki = Uki.isUki(pe);
            boolean zboot = ZbootHeader.looksLikeZboot(b);
            boolean bz = BzImage.looksLikeBzImage(b);
            boolean arm64 = Arm64Image.looksLikeArm64Image(b);
            String kind = uki ? "UKI" : zboot ? "EFI zboot image" : bz ? "bzImage with EFI stub"
                    : arm64 ? "arm64 Image with EFI stub" : "PE/COFF image";
            r.put("type", kind);
            r.put("pe", peReport(pe));
            // the stub runs (PCR 11 and the rest) while this thread computes the Authenticode digests
            if (uki) Uki.requireUnambiguous(pe);
            java.util.concurrent.CompletableFuture<Map<String, Object>> stub = uki
                    ? java.util.concurrent.CompletableFuture.supplyAsync(() -> UkiMeasured.report(pe, opts.stubRunner() != null ? pe.bytes() : null, opts, BANKS), WORKERS)
                    : null;
            // so does the inspection of the UKI's nested kernel
            java.util.concurrent.CompletableFuture<Map<String, Object>> nested = uki && depth < MAX_NESTING
                    ? java.util.concurrent.CompletableFuture.supplyAsync(() -> nestedLinux(pe, opts, depth), WORKERS)
                    : null;
            Map<HashAlg, byte[]> dig = Authenticode.digests(pe, BANKS);
            Map<String, Object> ac = new LinkedHashMap<>();
            for (HashAlg a : BANKS) ac.put(a.tpmName, Hex.of(dig.get(a)));
            r.put("authenticode", ac);
            List<AuthenticodeSignatures.Entry> sigs = AuthenticodeSignatures.check(pe, dig, opts.trust());
            if (depth == 0) sigsOut.addAll(sigs);
            r.put("signatures", signatureReport(sigs, !opts.trust().isEmpty()));
            if (zboot) r.put("zboot", zbootReport(ZbootHeader.parse(b)));
            if (bz) r.put("bzImage", bzReport(BzImage.parse(b)));
            if (arm64) r.put("arm64Image", arm64Report(Arm64Image.parse(b), b));
            if (uki) {
                Map<String, Object> u = ukiReport(Uki.of(pe), join(stub));
                // the nested kernel's signatures are shown but do not count for --trust: that is about this file
                if (nested != null) u.put("linux", join(nested));
                r.put("uki", u);
            }
            return r;
        }
        if (BzImage.looksLikeBzImage(b)) {
            r.put("type", "bzImage (no PE header)");
            r.put("bzImage", bzReport(BzImage.parse(b)));
            return r;
        }
        if (Arm64Image.looksLikeArm64Image(b)) {
            r.put("type", "arm64 Image (no EFI stub)");
            r.put("arm64Image", arm64Report(Arm64Image.parse(b), b));
            return r;
        }
        String plain = plainKind(b, size);
        if (plain == null) {
            throw new BadInputException(String.format(
                    "not a recognised payload: no PE/COFF, bzImage or arm64 Image header and not a known plain format (first bytes %s)",
                    Hex.of(Le.copy(b, 0, Math.min(8, size)))));
        }
        r.put("type", "plain file");
        r.put("format", plain);
        try (MultiHasher h = MultiHasher.create(List.of(HashAlg.SHA256))) {
            h.update(b, 0, size);
            r.put("sha256", Hex.of(h.finish().get(HashAlg.SHA256)));
        }
        return r;
    }

    private static Map<String, Object> peReport(PeFile pe) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("machine", pe.machineName());
        m.put("format", pe.isPe32Plus() ? "PE32+" : "PE32");
        m.put("subsystem", PeFile.subsystemName(pe.subsystem()));
        m.put("entryPoint", hex(pe.addressOfEntryPoint()));
        m.put("imageBase", hex(pe.imageBase()));
        m.put("sizeOfImage", hex(pe.sizeOfImage()));
        m.put("sizeOfHeaders", hex(pe.sizeOfHeaders()));
        m.put("sectionAlignment", hex(pe.sectionAlignment()));
        m.put("fileAlignment", hex(pe.fileAlignment()));
        m.put("dllCharacteristics", hex(pe.dllCharacteristics()));
        m.put("checkSum", hex(pe.checkSum()));
        List<Object> secs = new ArrayList<>();
        for (Section s : pe.sections()) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("name", s.name());
            e.put("va", hex(s.virtualAddress()));
            e.put("virtualSize", s.virtualSize());
            e.put("rawOffset", hex(s.pointerToRawData()));
            e.put("rawSize", s.sizeOfRawData());
            e.put("flags", s.flagsText());
            secs.add(e);
        }
        m.put("sections", secs);
        List<Object> dirs = new ArrayList<>();
        for (DataDirectory d : pe.dataDirectories()) {
            if (d.isEmpty()) continue;
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("index", d.index());
            // the certificate table's address is a file offset, every other one an RVA
            e.put("name", d.index() == DataDirectory.SECURITY ? d.name() + " (file offset)" : d.name());
            e.put("address", hex(d.virtualAddress()));
            e.put("size", d.size());
            dirs.add(e);
        }
        m.put("dataDirectories", dirs);
        Map<String, Object> rel = new LinkedHashMap<>();
        List<BaseRelocation> rs = pe.baseRelocations();
        rel.put("count", rs.size());
        Map<String, Integer> byType = new TreeMap<>();
        long pages = rs.stream().mapToLong(x -> x.rva() >>> 12).distinct().count();
        for (BaseRelocation x : rs) byType.merge(BaseRelocation.typeName(x.type()), 1, Integer::sum);
        rel.put("pages", pages);
        rel.put("byType", new LinkedHashMap<>(byType));
        m.put("relocations", rel);
        return m;
    }

    private static List<Object> signatureReport(List<AuthenticodeSignatures.Entry> sigs, boolean trustGiven) {
        List<Object> out = new ArrayList<>();
        for (AuthenticodeSignatures.Entry e : sigs) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("index", e.index());
            m.put("offset", hex(e.offset()));
            m.put("length", e.length());
            m.put("revision", hex(e.revision()));
            m.put("type", e.typeName());
            List<Object> ss = new ArrayList<>();
            for (AuthenticodeSignatures.Signer s : e.signers()) {
                Map<String, Object> x = new LinkedHashMap<>();
                x.put("subject", s.subject());
                x.put("issuer", s.issuer());
                x.put("serial", s.serial());
                x.put("digestAlgorithm", s.digestAlgorithm());
                x.put("signedDigest", s.signedImageDigest());
                x.put("digestMatches", s.digestMatches());
                x.put("signatureValid", s.signatureValid());
                x.put("chain", s.chain());
                if (trustGiven) {
                    x.put("trusted", s.trusted());
                    if (s.trustAnchor() != null) x.put("trustAnchor", s.trustAnchor());
                }
                x.put("verified", s.verified());
                if (s.problem() != null) x.put("problem", s.problem());
                ss.add(x);
            }
            m.put("signers", ss);
            if (e.trailingBytes() > 0) m.put("bytesAfterSignature", e.trailingBytes());
            m.put("verified", e.verified());
            if (e.problem() != null) m.put("problem", e.problem());
            out.add(m);
        }
        return out;
    }

    private static Map<String, Object> bzReport(BzImage h) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("protocol", h.versionText());
        if (h.kernelVersion() != null) m.put("kernelVersion", h.kernelVersion());
        m.put("setupSects", h.setupSects());
        m.put("sysSize", hex(h.sysSize()));
        m.put("loadFlags", hex(h.loadFlags()) + " " + h.loadFlagsText());
        m.put("xloadFlags", hex(h.xloadFlags()) + " " + h.xloadFlagsText());
        m.put("code32Start", hex(h.code32Start()));
        m.put("initrdAddrMax", hex(h.initrdAddrMax()));
        m.put("kernelAlignment", hex(h.kernelAlignment()));
        m.put("relocatableKernel", h.relocatableKernel());
        m.put("minAlignment", h.minAlignment());
        m.put("cmdlineSize", h.cmdlineSize());
        m.put("prefAddress", hex(h.prefAddress()));
        m.put("initSize", hex(h.initSize()));
        m.put("handoverOffset", hex(h.handoverOffset()));
        m.put("kernelInfoOffset", hex(h.kernelInfoOffset()));
        if (h.kernelInfo() != null) {
            Map<String, Object> ki = new LinkedHashMap<>();
            ki.put("size", h.kernelInfo().size());
            ki.put("sizeTotal", h.kernelInfo().sizeTotal());
            ki.put("setupTypeMax", hex(h.kernelInfo().setupTypeMax()));
            m.put("kernelInfo", ki);
        }
        m.put("payloadOffset", hex(h.payloadFileOffset()));
        m.put("payloadLength", h.payloadLength());
        if (h.payloadCompression() != null) m.put("payloadCompression", h.payloadCompression());
        return m;
    }

    private static Map<String, Object> arm64Report(Arm64Image a, ByteBuffer b) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("textOffset", hex(a.textOffset()));
        m.put("imageSize", hex(a.imageSize()));
        m.put("flags", hex(a.flags()));
        m.put("endianness", a.bigEndian() ? "big" : "little");
        m.put("pageSize", a.pageSize());
        m.put("physPlacement", a.physPlacementAnywhere() ? "anywhere" : "2MB-aligned base near DRAM start");
        m.put("efiStub", a.hasEfiStub(b));
        if (a.hasEfiStub(b)) m.put("peHeaderOffset", hex(a.peHeaderOffset()));
        return m;
    }

    private static Map<String, Object> zbootReport(ZbootHeader z) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("compressionType", z.compressionType());
        m.put("payloadOffset", hex(z.payloadOffset()));
        m.put("payloadSize", z.payloadSize());
        if (z.detectedCompression() != null) m.put("payloadMagic", z.detectedCompression());
        return m;
    }

    private static Map<String, Object> ukiReport(Uki u, Map<String, Object> measured) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("stub", StubVersion.of(u.pe()).map(StubVersion::toString).orElse("unknown (no .sdmagic or .sbat version)"));
        Pcr11.Rules rules = StubVersion.of(u.pe()).flatMap(Pcr11::rulesFor).orElse(null);
        List<Object> secs = new ArrayList<>();
        for (String name : Uki.KNOWN_SECTIONS) {
            u.section(name).ifPresent(s -> {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("name", name);
                e.put("size", s.virtualSize());
                e.put("measured", rules == null ? "unknown" : rules.order.contains(name) && s.virtualSize() > 0 ? "yes" : "no");
                secs.add(e);
            });
        }
        m.put("sections", secs);
        String pretty = u.prettyName();
        if (pretty != null) m.put("prettyName", pretty);
        putIfNotNull(m, "osrel", u.osRelease());
        putIfNotNull(m, "uname", u.uname());
        putIfNotNull(m, "cmdline", u.cmdline());
        putIfNotNull(m, "sbat", u.sbat());
        var sig = u.pcrSignature();
        if (sig != null) m.put("pcrsig", sig);
        Uki.PcrPublicKey pk = u.pcrPublicKey();
        if (pk != null) {
            Map<String, Object> k = new LinkedHashMap<>();
            k.put("algorithm", pk.algorithm());
            k.put("fingerprint", pk.fingerprintSha256());
            k.put("pem", pk.pem());
            m.put("pcrpkey", k);
        }
        m.putAll(measured);
        return m;
    }

    /** The UKI's .linux as a payload of its own (its raw bytes up to VirtualSize: the original kernel file). */
    private static Map<String, Object> nestedLinux(PeFile pe, Options opts, int depth) {
        var linux = pe.section(".linux").orElseThrow();
        if (linux.sizeOfRawData() == 0 || linux.virtualSize() == 0) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("error", ".linux has no data in the file");
            return r;
        }
        // a view, not a copy: a mapped UKI's kernel stays in the page cache
        ByteBuffer inner = pe.slice(linux.pointerToRawData(), Math.min(linux.virtualSize(), linux.sizeOfRawData()));
        try {
            return describe(inner, opts, depth + 1, new ArrayList<>());
        } catch (BadInputException e) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("error", e.getMessage());
            return r;
        }
    }

    private static void putIfNotNull(Map<String, Object> m, String k, Object v) {
        if (v != null) m.put(k, v);
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    /**
     * A name for files that are not payloads but are of a kind worth naming, or null. {@code b}
     * holds the file or its first bytes; {@code fileSize} is -1 when unknown.
     */
    static String plainKind(ByteBuffer b, long fileSize) {
        int n = b.limit();
        if (Le.startsWith(b, 0, new byte[]{0x7f, 'E', 'L', 'F'})) {
            if (n < 20) return "ELF (truncated)";
            String cls = b.get(4) == 2 ? "64-bit" : b.get(4) == 1 ? "32-bit" : "?";
            int machine = b.get(5) == 2 ? (b.get(18) & 0xff) << 8 | (b.get(19) & 0xff) : Le.u16(b, 18);
            String mach = switch (machine) {
                case 0x3e -> "x86_64";
                case 0xb7 -> "aarch64";
                case 0x03 -> "i386";
                case 0xf3 -> "riscv";
                default -> "machine " + machine;
            };
            return "ELF " + cls + " " + mach;
        }
        if (Le.startsWith(b, 0, "070701".getBytes(StandardCharsets.US_ASCII))
                || Le.startsWith(b, 0, "070702".getBytes(StandardCharsets.US_ASCII))) return "cpio (newc) archive";
        if (Le.startsWith(b, 0, new byte[]{(byte) 0xd0, 0x0d, (byte) 0xfe, (byte) 0xed})) return "devicetree blob";
        if (n >= 6 && b.get(0) == 'B' && b.get(1) == 'M' && (fileSize < 0 || Le.u32(b, 2) == fileSize)) return "BMP image";
        if (Le.startsWith(b, 0, "-----BEGIN ".getBytes(StandardCharsets.US_ASCII))) return "PEM";
        String comp = Magic.compression(b, 0);
        if (comp != null && !comp.equals("lzma") && !comp.startsWith("none")) return comp + " compressed data";
        if (isText(b, fileSize)) return "text";
        return null;
    }

    private static boolean isText(ByteBuffer b, long fileSize) {
        int n = Math.min(b.limit(), 1 << 16);
        for (int i = 0; i < n; i++) {
            int c = b.get(i) & 0xff;
            if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') return false;
            if (c == 0x7f) return false;
        }
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(b.duplicate().position(0).limit(n));
            return true;
        } catch (CharacterCodingException e) {
            return fileSize < 0 || n < fileSize; // a multi-byte char cut at the sample boundary is fine
        }
    }
}
