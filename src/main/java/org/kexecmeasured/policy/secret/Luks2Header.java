package org.kexecmeasured.policy.secret;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.BeReader;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A LUKS2 header (cryptsetup's "LUKS2 On-Disk Format Specification"): two copies of a 4096-byte
 * binary header, each followed by its JSON metadata area. Both copies are read; each must carry its
 * magic, version 2, an allowed header size, its own offset and a valid checksum (the header hash
 * over binary header and JSON area with the checksum field zeroed). The copy with the higher
 * sequence id wins, as in cryptsetup; a damaged copy is reported, never silently used.
 *
 * <p>Binary header layout (big-endian): magic[6] @0, version u16 @6, hdr_size u64 @8, seqid u64 @16,
 * label[48] @24, checksum_alg[32] @72, salt[64] @104, uuid[40] @168, subsystem[48] @208,
 * hdr_offset u64 @256, padding[184] @264, csum[64] @448, padding to 4096.
 */
public final class Luks2Header {
    public static final int BINARY_SIZE = 4096;
    static final byte[] MAGIC_PRIMARY = {'L', 'U', 'K', 'S', (byte) 0xBA, (byte) 0xBE};
    static final byte[] MAGIC_SECONDARY = {'S', 'K', 'U', 'L', (byte) 0xBA, (byte) 0xBE};
    static final int CSUM_OFFSET = 448;
    static final int CSUM_SIZE = 64;
    /** The header sizes LUKS2 allows: 16 KiB … 4 MiB, powers of two. */
    static final Set<Long> SIZES = Set.of(0x4000L, 0x8000L, 0x10000L, 0x20000L, 0x40000L, 0x80000L, 0x100000L,
            0x200000L, 0x400000L);

    /** One token of the JSON area's "tokens" object. */
    public record Token(int id, String type, List<Integer> keyslots, JsonNode json) {
    }

    private final String source;
    private final long seqid;
    private final String uuid;
    private final JsonNode metadata;
    private final List<Token> tokens;
    private final List<String> notes;

    private Luks2Header(String source, long seqid, String uuid, JsonNode metadata, List<Token> tokens, List<String> notes) {
        this.source = source;
        this.seqid = seqid;
        this.uuid = uuid;
        this.metadata = metadata;
        this.tokens = List.copyOf(tokens);
        this.notes = List.copyOf(notes);
    }

    public String source() {
        return source;
    }

    public long seqid() {
        return seqid;
    }

    public String uuid() {
        return uuid;
    }

    /** The JSON metadata (keyslots, tokens, segments, digests, config). */
    public JsonNode metadata() {
        return metadata;
    }

    public List<Token> tokens() {
        return tokens;
    }

    /** Findings about the header (e.g. one damaged copy). */
    public List<String> notes() {
        return notes;
    }

    /** Reads the header of a block device or image file. */
    public static Luks2Header read(Path device) {
        String name = device.toString();
        try (FileChannel ch = FileChannel.open(device, StandardOpenOption.READ)) {
            return read(name, (pos, len) -> readAt(ch, pos, len));
        } catch (NoSuchFileException e) {
            throw new BadInputException(name + ": no such device or file");
        } catch (IOException e) {
            throw new BadInputException(name + ": cannot read: " + e.getMessage());
        }
    }

    /** Parses the header at the start of {@code device} (the first bytes of a LUKS2 device, both copies). */
    public static Luks2Header parse(String name, byte[] device) {
        try {
            return read(name, (pos, len) -> pos >= device.length ? new byte[0]
                    : Arrays.copyOfRange(device, (int) pos, (int) Math.min(device.length, pos + len)));
        } catch (IOException e) {
            throw new IllegalStateException(e); // arrays do not fail
        }
    }

    /** Random access to the device: up to {@code len} bytes at {@code pos} (fewer at its end). */
    private interface Device {
        byte[] read(long pos, int len) throws IOException;
    }

    private static Luks2Header read(String name, Device dev) throws IOException {
        byte[] first = dev.read(0, BINARY_SIZE);
        if (first.length < BINARY_SIZE) {
            throw new BadInputException(name + ": " + first.length + " bytes, too short for a LUKS2 header (4096-byte binary header)");
        }
        Long size = null;
        try {
            size = headerSize(first, name, "primary header");
        } catch (BadInputException damaged) {
            // the primary's size field is unusable: look for the secondary where LUKS2 may put it, as cryptsetup does
        }
        byte[] primary = size != null ? dev.read(0, (int) (long) size) : first;
        for (long at : size != null ? List.of(size) : SIZES.stream().sorted().toList()) {
            byte[] secondary = dev.read(at, BINARY_SIZE);
            if (secondary.length < BINARY_SIZE || !Arrays.equals(Arrays.copyOf(secondary, 6), MAGIC_SECONDARY)) continue;
            byte[] secondaryFull = secondary;
            try {
                secondaryFull = dev.read(at, (int) headerSize(secondary, name, "secondary header"));
            } catch (BadInputException damaged) {
                // parse() reports the secondary's bad size
            }
            return parse(name, primary, secondaryFull, at);
        }
        return parse(name, primary, null, size != null ? size : SIZES.stream().min(Long::compare).orElseThrow());
    }

    private static byte[] readAt(FileChannel ch, long pos, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len);
        while (b.hasRemaining()) {
            int n = ch.read(b, pos + b.position());
            if (n < 0) break;
        }
        return Arrays.copyOf(b.array(), b.position());
    }

    /** The hdr_size field of a binary header, checked against the allowed sizes before anything is allocated. */
    static long headerSize(byte[] bin, String name, String which) {
        BeReader r = new BeReader(bin, 0, Math.min(bin.length, BINARY_SIZE), name + " " + which);
        r.skip(8, "magic and version");
        long size = r.u64("hdr_size");
        if (!SIZES.contains(size)) {
            throw new BadInputException(name + " " + which + ": hdr_size " + size
                    + " at offset 8 is not a LUKS2 header size (16 KiB … 4 MiB, a power of two)");
        }
        return size;
    }

    /**
     * Parses the two copies (each: binary header + JSON area, as read from the device). The secondary
     * may be null (absent or unreadable); {@code expectedSecondaryOffset} is the primary's hdr_size.
     */
    static Luks2Header parse(String name, byte[] primary, byte[] secondary, long expectedSecondaryOffset) {
        List<String> notes = new ArrayList<>();
        Copy p = null;
        Copy s = null;
        BadInputException pe = null;
        BadInputException se = null;
        try {
            p = copy(name + " primary header", primary, MAGIC_PRIMARY, 0);
        } catch (BadInputException e) {
            pe = e;
        }
        if (secondary == null) {
            se = new BadInputException(name + " secondary header: no LUKS2 secondary header at offset " + expectedSecondaryOffset);
        } else {
            try {
                s = copy(name + " secondary header", secondary, MAGIC_SECONDARY, expectedSecondaryOffset);
            } catch (BadInputException e) {
                se = e;
            }
        }
        if (p == null && s == null) {
            throw new BadInputException(pe.getMessage() + "; and " + se.getMessage());
        }
        if (p == null) notes.add("the primary header is damaged (" + pe.getMessage() + "): the secondary copy is used, as cryptsetup would");
        if (s == null) notes.add("the secondary header is damaged (" + se.getMessage() + ")");
        Copy use = p == null ? s : s == null ? p : (s.seqid > p.seqid ? s : p);
        if (p != null && s != null && p.seqid != s.seqid) {
            notes.add("the two header copies have different sequence ids (" + p.seqid + ", " + s.seqid + "): the newer one is used");
        }
        return new Luks2Header(name, use.seqid, use.uuid, use.json, tokens(use.json, use.what), notes);
    }

    private record Copy(String what, long seqid, String uuid, JsonNode json) {
    }

    private static Copy copy(String what, byte[] b, byte[] magic, long expectedOffset) {
        if (b.length < BINARY_SIZE) throw new BadInputException(what + ": truncated (" + b.length + " bytes)");
        BeReader r = new BeReader(b, 0, BINARY_SIZE, what);
        byte[] m = r.bytes(6, "magic");
        if (!Arrays.equals(m, magic)) {
            if (Arrays.equals(m, MAGIC_PRIMARY) || Arrays.equals(m, MAGIC_SECONDARY)) {
                throw new BadInputException(what + ": magic at offset 0 is the other copy's");
            }
            throw new BadInputException(what + ": no LUKS magic at offset 0 (not a LUKS device)");
        }
        int version = r.u16("version");
        if (version == 1) throw new BadInputException(what + ": a LUKS1 header (version 1 at offset 6): LUKS1 has no tokens");
        if (version != 2) throw new BadInputException(what + ": version " + version + " at offset 6, expected 2");
        long size = r.u64("hdr_size");
        if (!SIZES.contains(size)) throw new BadInputException(what + ": hdr_size " + size + " at offset 8 is not a LUKS2 header size");
        if (size != b.length) throw new BadInputException(what + ": truncated: hdr_size " + size + ", " + b.length + " bytes read");
        long seqid = r.u64("seqid");
        r.skip(48, "label");
        String alg = cString(r.bytes(32, "checksum_alg"));
        r.skip(64, "salt");
        String uuid = cString(r.bytes(40, "uuid"));
        r.skip(48, "subsystem");
        long offset = r.u64("hdr_offset");
        if (offset != expectedOffset) {
            throw new BadInputException(what + ": hdr_offset " + offset + " at offset 256, expected " + expectedOffset);
        }
        HashAlg h = checksumAlg(alg, what);
        byte[] stored = Arrays.copyOfRange(b, CSUM_OFFSET, CSUM_OFFSET + h.size);
        MessageDigest md = h.newDigest();
        md.update(b, 0, CSUM_OFFSET);
        md.update(new byte[CSUM_SIZE]);
        md.update(b, CSUM_OFFSET + CSUM_SIZE, b.length - CSUM_OFFSET - CSUM_SIZE);
        byte[] computed = md.digest();
        if (!MessageDigest.isEqual(stored, computed)) {
            throw new BadInputException(what + ": checksum mismatch (" + alg + " at offset " + CSUM_OFFSET + " says "
                    + Hex.of(stored) + ", the header hashes to " + Hex.of(computed) + ")");
        }
        int jsonEnd = BINARY_SIZE;
        while (jsonEnd < b.length && b[jsonEnd] != 0) jsonEnd++;
        String text = new String(b, BINARY_SIZE, jsonEnd - BINARY_SIZE, StandardCharsets.UTF_8);
        JsonNode json;
        try {
            json = Json.MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            long line = e.getLocation() == null ? 0 : e.getLocation().getLineNr();
            long col = e.getLocation() == null ? 0 : e.getLocation().getColumnNr();
            throw new BadInputException(what + ": the JSON area (offset " + BINARY_SIZE + ") is not JSON: line " + line
                    + " column " + col + ": " + e.getOriginalMessage());
        }
        if (json == null || !json.isObject()) throw new BadInputException(what + ": the JSON area (offset " + BINARY_SIZE + ") is not a JSON object");
        return new Copy(what, seqid, uuid, json);
    }

    private static HashAlg checksumAlg(String alg, String what) {
        return switch (alg) {
            case "sha1" -> HashAlg.SHA1;
            case "sha256" -> HashAlg.SHA256;
            case "sha384" -> HashAlg.SHA384;
            case "sha512" -> HashAlg.SHA512;
            default -> throw new BadInputException(what + ": checksum_alg '" + alg + "' at offset 72 is not supported (sha1, sha256, sha384, sha512)");
        };
    }

    private static String cString(byte[] b) {
        int n = 0;
        while (n < b.length && b[n] != 0) n++;
        return new String(b, 0, n, StandardCharsets.US_ASCII);
    }

    private static List<Token> tokens(JsonNode json, String what) {
        List<Token> out = new ArrayList<>();
        JsonNode tokens = json.get("tokens");
        if (tokens == null) return out;
        if (!tokens.isObject()) throw new BadInputException(what + ": JSON 'tokens' is not an object");
        for (Iterator<Map.Entry<String, JsonNode>> it = tokens.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String where = what + ": tokens." + e.getKey();
            int id;
            try {
                id = Integer.parseInt(e.getKey());
                if (id < 0 || id > 31 || !e.getKey().equals(Integer.toString(id))) throw new NumberFormatException();
            } catch (NumberFormatException x) {
                throw new BadInputException(where + ": a token id is a number 0..31");
            }
            JsonNode t = e.getValue();
            if (!t.isObject()) throw new BadInputException(where + ": a token is a JSON object");
            JsonNode type = t.get("type");
            if (type == null || !type.isTextual()) throw new BadInputException(where + ": 'type' is missing or not a string");
            List<Integer> slots = new ArrayList<>();
            JsonNode ks = t.get("keyslots");
            if (ks == null || !ks.isArray()) throw new BadInputException(where + ": 'keyslots' is missing or not an array");
            for (JsonNode k : ks) {
                try {
                    if (!k.isTextual()) throw new NumberFormatException();
                    slots.add(Integer.parseInt(k.asText()));
                } catch (NumberFormatException x) {
                    throw new BadInputException(where + ": keyslots holds " + k + ", not a keyslot number as a string");
                }
            }
            out.add(new Token(id, type.asText(), slots, t));
        }
        out.sort(java.util.Comparator.comparingInt(Token::id));
        return out;
    }
}
