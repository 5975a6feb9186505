package org.kexecmeasured.boot;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JsonProcessingException;
import org.kexecmeasured.util.AtomicFiles;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Write-ahead journal of TPM extends. Every extend is preceded by an {@code intent} line that is
 * fsync'ed, and followed by a {@code done} (or {@code failed}) line, so that after a crash the
 * journal and the TPM's PCRs together tell exactly which extends happened (see {@link JournalRecovery}).
 *
 * <p>Format {@value #FORMAT} (specified in {@code tcg2/journal.md}): JSON lines, each a typed record
 * ({@link Header}, {@link Line}). The first line is the header with the PCR values read before the
 * first extend ({@code "start"}); it lets recovery work without the event log.
 */
public final class Journal implements Closeable {

    public static final String FORMAT = "kexec-measured-journal/1";

    /** The journal's file name in the state directory. */
    public static final String FILE_NAME = "journal.jsonl";

    public enum State { INTENT, DONE, FAILED }

    /** One extend as recorded; {@code state} is the last state line seen for its sequence number. */
    public record Entry(long seq, Measurement measurement, State state, String failure) {
    }

    /** Everything a journal file says. */
    public record Contents(Map<HashAlg, Map<Integer, byte[]>> start, List<Entry> entries) {
    }

    /**
     * Line 1: {@code {"format":"kexec-measured-journal/1","start":{"sha256":{"4":"<hex>",…},…}}}: per
     * bank, the boundary-set PCRs before the first extend (PCRs ascending).
     */
    @JsonPropertyOrder({"format", "start"})
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Header(String format, Map<String, Map<String, String>> start) {
    }

    /**
     * Every later line. {@code intent}: seq, state, pcr, type (u32), digests (bank → hex), data
     * (base64 event data); {@code done}: seq, state; {@code failed}: seq, state, reason.
     */
    @JsonPropertyOrder({"seq", "state", "pcr", "type", "digests", "data", "reason"})
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Line(Long seq, String state, Integer pcr, Long type, Map<String, String> digests, String data,
                       String reason) {
        static Line intent(long seq, Measurement m) {
            Map<String, String> d = new LinkedHashMap<>();
            for (Map.Entry<HashAlg, byte[]> e : m.digests().entrySet()) d.put(e.getKey().tpmName, Hex.of(e.getValue()));
            return new Line(seq, "intent", m.pcr(), m.eventType() & 0xffffffffL, d,
                    Base64.getEncoder().encodeToString(m.eventData()), null);
        }

        static Line done(long seq) {
            return new Line(seq, "done", null, null, null, null, null);
        }

        static Line failed(long seq, String reason) {
            return new Line(seq, "failed", null, null, null, null, reason);
        }
    }

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
        Map<String, Map<String, String>> start = new LinkedHashMap<>();
        for (Map.Entry<HashAlg, Map<Integer, byte[]>> bank : startPcrs.entrySet()) {
            Map<String, String> b = new LinkedHashMap<>();
            for (Map.Entry<Integer, byte[]> p : new TreeMap<>(bank.getValue()).entrySet()) {
                b.put(Integer.toString(p.getKey()), Hex.of(p.getValue()));
            }
            start.put(bank.getKey().tpmName, b);
        }
        j.writeLine(new Header(FORMAT, start));
        // the new file's directory entry must be durable too, or a crash could lose the whole journal
        AtomicFiles.syncDirectory(file.toAbsolutePath().getParent());
        return j;
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
        writeLine(Line.intent(seq, m));
        return seq;
    }

    /** Records that the TPM acknowledged the extend. */
    public void done(long seq) throws IOException {
        writeLine(Line.done(seq));
    }

    /** Records that the TPM returned an error (the extend did not happen) or did not answer. */
    public void failed(long seq, String reason) throws IOException {
        writeLine(Line.failed(seq, reason));
    }

    private void writeLine(Object line) throws IOException {
        byte[] b = (Json.MAPPER.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8);
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
        Header h = parseLine(file, lines.get(0), 1, false, Header.class);
        if (h == null || !FORMAT.equals(h.format())) {
            throw new BadInputException(file + ": not a kexec-measured journal (line 1)");
        }
        Map<HashAlg, Map<Integer, byte[]>> start = new EnumMap<>(HashAlg.class);
        if (h.start() != null) {
            for (Map.Entry<String, Map<String, String>> bank : h.start().entrySet()) {
                HashAlg alg = HashAlg.fromName(bank.getKey());
                Map<Integer, byte[]> pcrs = new TreeMap<>();
                if (bank.getValue() != null) {
                    for (Map.Entry<String, String> p : bank.getValue().entrySet()) {
                        pcrs.put(field(file, 1, () -> Integer.parseInt(p.getKey())), digest(file, 1, alg, p.getValue()));
                    }
                }
                start.put(alg, pcrs);
            }
        }
        Map<Long, Entry> entries = new LinkedHashMap<>();
        for (int i = 1; i < lines.size(); i++) {
            int lineNo = i + 1;
            Line n = parseLine(file, lines.get(i), lineNo, i == lines.size() - 1, Line.class);
            if (n == null) {
                continue;
            }
            long seq = n.seq() == null ? -1 : n.seq();
            String state = String.valueOf(n.state());
            switch (state) {
                case "intent" -> entries.put(seq, new Entry(seq, measurement(file, lineNo, n), State.INTENT, null));
                case "done", "failed" -> {
                    Entry e = entries.get(seq);
                    if (e == null) {
                        throw new BadInputException(file + ": line " + lineNo + " closes unknown extend #" + seq);
                    }
                    entries.put(seq, new Entry(seq, e.measurement(),
                            state.equals("done") ? State.DONE : State.FAILED, n.reason()));
                }
                default -> throw new BadInputException(file + ": line " + lineNo + ": unknown state '" + state + "'");
            }
        }
        return new Contents(start, new ArrayList<>(entries.values()));
    }

    private static Measurement measurement(Path file, int lineNo, Line n) {
        Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
        if (n.digests() != null) {
            for (Map.Entry<String, String> e : n.digests().entrySet()) {
                HashAlg alg = HashAlg.fromName(e.getKey());
                d.put(alg, digest(file, lineNo, alg, e.getValue()));
            }
        }
        return field(file, lineNo, () -> new Measurement(n.pcr() == null ? -1 : n.pcr(),
                (int) (n.type() == null ? 0 : n.type()), d, Base64.getDecoder().decode(String.valueOf(n.data()))));
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
        byte[] d = Hex.parse(String.valueOf(hex));
        if (d.length != alg.size) {
            throw new BadInputException(file + ": line " + lineNo + ": " + alg.tpmName + " digest has " + d.length
                    + " bytes, not " + alg.size);
        }
        return d;
    }

    private static <T> T parseLine(Path file, String line, int lineNo, boolean mayBeTorn, Class<T> type) {
        try {
            return Json.MAPPER.readValue(line, type);
        } catch (JsonProcessingException e) {
            if (mayBeTorn) {
                return null;
            }
            throw new BadInputException(file + ": line " + lineNo + " is not a valid journal line");
        }
    }
}
