package org.kexecmeasured.boot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Write-ahead journal of TPM extends. Every extend is preceded by an {@code intent} line that is
 * fsync'ed, and followed by a {@code done} (or {@code failed}) line, so that after a crash the
 * journal and the TPM's PCRs together tell exactly which extends happened (see {@link JournalRecovery}).
 *
 * <p>Format: JSON lines. The first line is the header with the PCR values read before the first
 * extend ({@code "start"}); it lets recovery work without the event log.
 */
public final class Journal implements Closeable {

    public static final String FORMAT = "kexec-measured-journal/1";

    public enum State { INTENT, DONE, FAILED }

    /** One extend as recorded; {@code state} is the last state line seen for its sequence number. */
    public record Entry(long seq, Measurement measurement, State state, String failure) {
    }

    /** Everything a journal file says. */
    public record Contents(Map<HashAlg, Map<Integer, byte[]>> start, List<Entry> entries) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final FileChannel ch;
    private long nextSeq = 1;

    private Journal(FileChannel ch) {
        this.ch = ch;
    }

    /**
     * Creates a new journal (the file must not exist: an old journal is evidence, never overwritten)
     * with the PCR values read before any extend.
     */
    public static Journal create(Path file, Map<HashAlg, Map<Integer, byte[]>> startPcrs) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        Journal j = new Journal(ch);
        ObjectNode h = JSON.createObjectNode();
        h.put("format", FORMAT);
        ObjectNode start = h.putObject("start");
        for (Map.Entry<HashAlg, Map<Integer, byte[]>> bank : startPcrs.entrySet()) {
            ObjectNode b = start.putObject(bank.getKey().tpmName);
            for (Map.Entry<Integer, byte[]> p : new TreeMap<>(bank.getValue()).entrySet()) {
                b.put(Integer.toString(p.getKey()), Hex.of(p.getValue()));
            }
        }
        j.writeLine(h);
        syncDirectory(file);
        return j;
    }

    /** The new file's directory entry must be durable too, or a crash could lose the whole journal. */
    private static void syncDirectory(Path file) {
        Path dir = file.toAbsolutePath().getParent();
        if (dir == null) return;
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // some file systems refuse fsync on a directory; the file's own data is already forced
        }
    }

    /**
     * Opens an existing journal to append to it (recovery): new extends continue its sequence
     * numbers, and {@code done} lines may close intents written by the crashed run.
     */
    public static Journal resume(Path file) throws IOException {
        Contents c = read(file);
        long max = 0;
        for (Entry e : c.entries()) max = Math.max(max, e.seq());
        FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        Journal j = new Journal(ch);
        j.nextSeq = max + 1;
        byte[] all = Files.readAllBytes(file);
        if (all.length > 0 && all[all.length - 1] != '\n') {
            // a torn last line was never durable (read() ignores it): cut it so appended lines stay parseable
            int cut = all.length;
            while (cut > 0 && all[cut - 1] != '\n') cut--;
            ch.truncate(cut);
            ch.force(false);
        }
        return j;
    }

    /** Records the intent to extend; durable when this returns. */
    public long intent(Measurement m) throws IOException {
        long seq = nextSeq++;
        ObjectNode n = JSON.createObjectNode();
        n.put("seq", seq);
        n.put("state", "intent");
        n.put("pcr", m.pcr());
        n.put("type", m.eventType() & 0xffffffffL);
        ObjectNode d = n.putObject("digests");
        for (Map.Entry<HashAlg, byte[]> e : m.digests().entrySet()) {
            d.put(e.getKey().tpmName, Hex.of(e.getValue()));
        }
        n.put("data", Base64.getEncoder().encodeToString(m.eventData()));
        writeLine(n);
        return seq;
    }

    /** Records that the TPM acknowledged the extend. */
    public void done(long seq) throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("seq", seq);
        n.put("state", "done");
        writeLine(n);
    }

    /** Records that the TPM returned an error (the extend did not happen) or did not answer. */
    public void failed(long seq, String reason) throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("seq", seq);
        n.put("state", "failed");
        n.put("reason", reason);
        writeLine(n);
    }

    private void writeLine(JsonNode n) throws IOException {
        byte[] b = (JSON.writeValueAsString(n) + "\n").getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.wrap(b);
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
        ch.force(false);
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }

    /**
     * Reads a journal. A torn last line (crash during a write) is ignored: its intent was never
     * durable, so the extend it announced was never sent.
     */
    public static Contents read(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        if (lines.isEmpty()) {
            throw new BadInputException(file + ": empty journal");
        }
        Map<HashAlg, Map<Integer, byte[]>> start = new EnumMap<>(HashAlg.class);
        JsonNode h = parseLine(file, lines.get(0), 1, false);
        if (h == null || !FORMAT.equals(h.path("format").asText())) {
            throw new BadInputException(file + ": not a kexec-measured journal (line 1)");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = h.path("start").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> bank = it.next();
            Map<Integer, byte[]> pcrs = new TreeMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> pit = bank.getValue().fields(); pit.hasNext(); ) {
                Map.Entry<String, JsonNode> p = pit.next();
                pcrs.put(field(file, 1, () -> Integer.parseInt(p.getKey())),
                        digest(file, 1, HashAlg.fromName(bank.getKey()), p.getValue().asText()));
            }
            start.put(HashAlg.fromName(bank.getKey()), pcrs);
        }
        Map<Long, Entry> entries = new LinkedHashMap<>();
        for (int i = 1; i < lines.size(); i++) {
            boolean last = i == lines.size() - 1;
            JsonNode n = parseLine(file, lines.get(i), i + 1, last);
            if (n == null) {
                continue;
            }
            long seq = n.path("seq").asLong(-1);
            String state = n.path("state").asText();
            switch (state) {
                case "intent" -> {
                    int lineNo = i + 1;
                    Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
                    for (Iterator<Map.Entry<String, JsonNode>> it = n.path("digests").fields(); it.hasNext(); ) {
                        Map.Entry<String, JsonNode> e = it.next();
                        HashAlg alg = HashAlg.fromName(e.getKey());
                        d.put(alg, digest(file, lineNo, alg, e.getValue().asText()));
                    }
                    Measurement m = field(file, lineNo, () -> new Measurement(n.path("pcr").asInt(),
                            (int) n.path("type").asLong(), d, Base64.getDecoder().decode(n.path("data").asText())));
                    entries.put(seq, new Entry(seq, m, State.INTENT, null));
                }
                case "done", "failed" -> {
                    Entry e = entries.get(seq);
                    if (e == null) {
                        throw new BadInputException(file + ": line " + (i + 1) + " closes unknown extend #" + seq);
                    }
                    entries.put(seq, new Entry(seq, e.measurement(),
                            state.equals("done") ? State.DONE : State.FAILED, n.path("reason").asText(null)));
                }
                default -> throw new BadInputException(file + ": line " + (i + 1) + ": unknown state '" + state + "'");
            }
        }
        return new Contents(start, new ArrayList<>(entries.values()));
    }

    /** A field that does not parse (PCR index out of range, bad base64 …) is bad input, named by its line. */
    private static <T> T field(Path file, int lineNo, java.util.function.Supplier<T> parse) {
        try {
            return parse.get();
        } catch (IllegalArgumentException e) {
            throw new BadInputException(file + ": line " + lineNo + ": " + e.getMessage(), e);
        }
    }

    /** A digest must have its algorithm's size: a short one must never reach a TPM extend. */
    private static byte[] digest(Path file, int lineNo, HashAlg alg, String hex) {
        byte[] d = Hex.parse(hex);
        if (d.length != alg.size) {
            throw new BadInputException(file + ": line " + lineNo + ": " + alg.tpmName + " digest has " + d.length
                    + " bytes, not " + alg.size);
        }
        return d;
    }

    private static JsonNode parseLine(Path file, String line, int lineNo, boolean mayBeTorn) {
        try {
            return JSON.readTree(line);
        } catch (IOException e) {
            if (mayBeTorn) {
                return null;
            }
            throw new BadInputException(file + ": line " + lineNo + " is not valid JSON");
        }
    }
}
