package org.kexecmeasured.boot;

import org.kexecmeasured.util.BoundedFiles;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import org.kexecmeasured.util.AtomicFiles;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;
import org.kexecmeasured.util.JsonOut;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Write-ahead journal of one commit. Every extend is preceded by an {@code intent} line that is
 * fsync'ed, and followed by a {@code done} (or {@code failed}) line, so that after a crash the
 * journal and the TPM's PCRs together tell exactly which extends happened (see {@link JournalRecovery}).
 * With the copy of the firmware log its header names, the journal holds everything needed to rebuild
 * the whole continued log ({@link JournalRecovery#rebuildLog}): every record that may have reached the
 * TPM, and the log-only records ({@code logged}) in their place.
 *
 * <p>Format {@value #FORMAT} (specified in {@code tcg2/journal.md}): JSON lines, each a typed record
 * ({@link Header}, {@link Line}) in its one canonical serialization, each carrying {@code check}: the
 * SHA-256 over the previous line's check and this line's bytes without the check, so a damaged byte
 * anywhere is found and named by its line ({@link #read} never returns a damaged journal). The chain
 * detects damage, not forgery: anyone who can write the file can recompute it.
 */
public final class Journal implements Closeable {

    public static final String FORMAT = "kexec-measured-journal/2";

    /** The journal's file name in the state directory. */
    public static final String FILE_NAME = "journal.jsonl";

    /** Beside the journal: the firmware log the commit continued, byte for byte (its header holds the SHA-256). */
    public static final String FIRMWARE_LOG_FILE = "firmware-log.bin";

    /**
     * A journal larger than this is refused before it is read (a real one is a few hundred KiB):
     * {@link BoundedFiles#JOURNAL}'s default; the state directory's space check counts with it.
     */
    public static final long MAX_BYTES = BoundedFiles.JOURNAL.defaultBytes();

    /**
     * INTENT, DONE, FAILED: an extend and what became of it. LOGGED: a record appended to the log and
     * never extended (EV_NO_ACTION in an extended PCR; its log digests are all zero).
     */
    public enum State { INTENT, DONE, FAILED, LOGGED }

    /**
     * The journal has no complete line: the run died while creating it (the header is forced to disk
     * with the first intent, before its extend is sent, and every later line is appended after it), so
     * nothing was extended.
     */
    public static final class UnstartedException extends BadInputException {
        UnstartedException(String name) {
            super(name + ": the journal has no complete header: its run died while creating it, before any extend");
        }
    }

    /** One journal record; {@code state} is the last state line seen for its sequence number. */
    public record Entry(long seq, Measurement measurement, State state, String failure) {
        public boolean isExtend() {
            return state != State.LOGGED;
        }
    }

    /**
     * What the header says besides the PCRs: the boundary nonce of the run, the copy of the firmware
     * log the commit continued (file name beside the journal, its SHA-256 and size) and where the boot
     * meant to write the continued log. Each may be null (a journal written without a boot, in tests).
     */
    public record Origin(byte[] nonce, String firmwareLogFile, byte[] firmwareLogSha256, long firmwareLogSize,
                         String eventlogOut) {
        public static final Origin NONE = new Origin(null, null, null, 0, null);
    }

    /**
     * Everything a journal file says.
     *
     * @param finished true once the run (or its recovery) ended with every record where it belongs
     */
    public record Contents(Origin origin, Map<HashAlg, Map<Integer, byte[]>> start, List<Entry> entries,
                           boolean finished, int lines, byte[] lastCheck) {
        public Contents {
            entries = List.copyOf(entries);
        }

        /** The extends (every entry but the log-only ones), in journal order. */
        public List<Entry> extendEntries() {
            return entries.stream().filter(Entry::isExtend).toList();
        }
    }

    /** {@code firmwareLog} of the header. */
    @JsonPropertyOrder({"file", "sha256", "size"})
    public record FirmwareLogRef(String file, String sha256, long size) implements JsonOut.Writable {
        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            JsonOut.field(g, "file", file);
            JsonOut.field(g, "sha256", sha256);
            g.writeNumberField("size", size);
            g.writeEndObject();
        }
    }

    /**
     * Line 1: {@code {"format":…,"nonce":…,"firmwareLog":{…},"eventlogOut":…,"start":{"sha256":{"4":"<hex>",…},…},"check":…}}.
     */
    @JsonPropertyOrder({"format", "nonce", "firmwareLog", "eventlogOut", "start", "check"})
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Header(String format, String nonce, FirmwareLogRef firmwareLog, String eventlogOut,
                         Map<String, Map<String, String>> start, String check) implements JsonOut.Writable {
        Header withCheck(String c) {
            return new Header(format, nonce, firmwareLog, eventlogOut, start, c);
        }

        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            JsonOut.optional(g, "format", format);
            JsonOut.optional(g, "nonce", nonce);
            JsonOut.optional(g, "firmwareLog", firmwareLog);
            JsonOut.optional(g, "eventlogOut", eventlogOut);
            JsonOut.optional(g, "start", start);
            JsonOut.optional(g, "check", check);
            g.writeEndObject();
        }
    }

    /**
     * Every later line. {@code intent}: seq, state, pcr, type (u32), digests (bank → hex), data
     * (base64 event data); {@code logged}: seq, state, pcr, type, data; {@code done}: seq, state;
     * {@code failed}: seq, state, reason; {@code finished}: state. Each with its {@code check}.
     */
    @JsonPropertyOrder({"seq", "state", "pcr", "type", "digests", "data", "reason", "check"})
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Line(Long seq, String state, Integer pcr, Long type, Map<String, String> digests, String data,
                       String reason, String check) implements JsonOut.Writable {
        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            JsonOut.optional(g, "seq", seq);
            JsonOut.optional(g, "state", state);
            JsonOut.optional(g, "pcr", pcr);
            JsonOut.optional(g, "type", type);
            JsonOut.optional(g, "digests", digests);
            JsonOut.optional(g, "data", data);
            JsonOut.optional(g, "reason", reason);
            JsonOut.optional(g, "check", check);
            g.writeEndObject();
        }

        static Line intent(long seq, Measurement m) {
            Map<String, String> d = new LinkedHashMap<>();
            for (Map.Entry<HashAlg, byte[]> e : m.digests().entrySet()) d.put(e.getKey().tpmName, Hex.of(e.getValue()));
            return new Line(seq, "intent", m.pcr(), m.eventType() & 0xffffffffL, d,
                    Base64.getEncoder().encodeToString(m.eventData()), null, null);
        }

        static Line logged(long seq, Measurement m) {
            return new Line(seq, "logged", m.pcr(), m.eventType() & 0xffffffffL, null,
                    Base64.getEncoder().encodeToString(m.eventData()), null, null);
        }

        static Line done(long seq) {
            return new Line(seq, "done", null, null, null, null, null, null);
        }

        static Line failed(long seq, String reason) {
            return new Line(seq, "failed", null, null, null, null, reason, null);
        }

        static Line finished() {
            return new Line(null, "finished", null, null, null, null, null, null);
        }

        Line withCheck(String c) {
            return new Line(seq, state, pcr, type, digests, data, reason, c);
        }
    }

    /**
     * Where a journal this process wrote ends: its size and the SHA-256 of every byte it holds, the last
     * line's check, and its header's origin. With it {@link #finish(Path, Tail)} appends {@code finished}
     * without reading and parsing the journal again: the file is compared byte for byte (size and
     * SHA-256) with what was written instead, a check at least as strict as re-reading it.
     */
    public record Tail(Origin origin, long size, byte[] sha256, byte[] lastCheck) {
    }

    private final FileChannel ch;
    private long nextSeq = 1;
    private byte[] lastCheck = new byte[0];
    /** The header's origin (null: a resumed journal, whose header was not written here). */
    private Origin origin;
    /** Bytes in the file; and the SHA-256 of all of them (null: a resumed journal, not hashed here). */
    private long size;
    private MessageDigest content;
    /** Lines written but not yet forced to disk (the header, until the first intent forces it). */
    private boolean unforced;

    private Journal(FileChannel ch) {
        this.ch = ch;
    }

    /** A journal without an origin (tests of the line format and of recovery's analysis). */
    public static Journal create(Path file, Map<HashAlg, Map<Integer, byte[]>> startPcrs) throws IOException {
        return create(file, Origin.NONE, startPcrs);
    }

    /**
     * Creates a new journal (exclusively: an existing file is evidence, never overwritten, and of two
     * runs racing for it exactly one wins) with the PCR values read before any extend.
     */
    public static Journal create(Path file, Origin origin, Map<HashAlg, Map<Integer, byte[]>> startPcrs)
            throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        Journal j = new Journal(ch);
        j.origin = origin;
        j.content = sha256();
        Map<String, Map<String, String>> start = new LinkedHashMap<>();
        for (Map.Entry<HashAlg, Map<Integer, byte[]>> bank : new TreeMap<>(startPcrs).entrySet()) {
            Map<String, String> b = new LinkedHashMap<>();
            for (Map.Entry<Integer, byte[]> p : new TreeMap<>(bank.getValue()).entrySet()) {
                b.put(Integer.toString(p.getKey()), Hex.of(p.getValue()));
            }
            start.put(bank.getKey().tpmName, b);
        }
        FirmwareLogRef fw = origin.firmwareLogFile() == null ? null
                : new FirmwareLogRef(origin.firmwareLogFile(), Hex.of(origin.firmwareLogSha256()), origin.firmwareLogSize());
        try {
            j.writeHeader(new Header(FORMAT, origin.nonce() == null ? null : Hex.of(origin.nonce()), fw,
                    origin.eventlogOut(), start, null));
        } catch (IOException e) {
            j.close();
            throw e;
        }
        // the new file's directory entry must be durable too, or a crash could lose the whole journal; the
        // header's bytes are forced with the first intent, before the first extend is sent (a crash before
        // that leaves a journal without a complete header: unstarted, nothing was extended)
        AtomicFiles.syncDirectory(file.toAbsolutePath().getParent());
        return j;
    }

    /**
     * Opens an existing journal to append to it (recovery): new extends continue its sequence
     * numbers, and {@code done} lines may close intents written by the crashed run. The caller holds
     * the state directory's lock, so no one else appends meanwhile.
     */
    public static Journal resume(Path file) throws IOException {
        Contents c = read(file);
        if (c.finished()) throw new BadInputException(file + ": the journal is finished; nothing may be appended");
        long max = 0;
        for (Entry e : c.entries()) max = Math.max(max, e.seq());
        FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        Journal j = new Journal(ch);
        j.nextSeq = max + 1;
        j.lastCheck = c.lastCheck();
        long size = ch.size();
        j.size = size;
        byte[] tail = new byte[(int) Math.min(size, 1)];
        if (size > 0) {
            try (FileChannel r = FileChannel.open(file, StandardOpenOption.READ)) {
                r.read(ByteBuffer.wrap(tail), size - 1);
            }
        }
        if (size > 0 && tail[0] != '\n') {
            // a torn last line was never durable (read() ignores it): cut it so appended lines stay parseable
            byte[] all = BoundedFiles.read(file, BoundedFiles.JOURNAL);
            int cut = all.length;
            while (cut > 0 && all[cut - 1] != '\n') cut--;
            ch.truncate(cut);
            ch.force(false);
            j.size = cut;
        }
        return j;
    }

    /*
     * Which lines are forced to disk when written, and why. One file, appended
     * to in order: fdatasync of it makes every byte written before durable, so a line forced makes every
     * earlier line durable too. What must be durable, and when:
     *  - an intent, before its extend is sent (recovery must know of every extend that may have reached
     *    the TPM): forced, and with it the header;
     *  - failed: forced, because recovery's supersede (new intent, then the old one failed, then the
     *    extend) must never leave two open intents for one event on disk;
     *  - finished: forced before the journal is archived (it is what lets the next boot start);
     *  - done and logged: forced too (~0.3 ms each on this project's machine). Left to the next forced line they
     *    would be durable in order only where the file system persists appended pages in order: a power cut
     *    after a later unforced line reached the disk and an earlier one did not (out-of-order writeback, a
     *    hole read as zeros) leaves a journal damaged in the middle, which the strict reader refuses and no
     *    recovery completes: the log of that boot would be lost. Forced one by one, a power cut can only cut
     *    the tail. The header alone waits for the first intent (lost with it, the journal is unstarted:
     *    nothing was extended).
     */

    /** Records the intent to extend; durable (with every earlier line) when this returns. */
    public long intent(Measurement m) throws IOException {
        long seq = nextSeq;
        writeLine(Line.intent(seq, m));
        nextSeq++;
        return seq;
    }

    /** Records a log-only record (never extended) in its place among the extends; durable when this returns. */
    public long logged(Measurement m) throws IOException {
        long seq = nextSeq;
        writeLine(Line.logged(seq, m));
        nextSeq++;
        return seq;
    }

    /** Records that the TPM acknowledged the extend; durable when this returns (see above). */
    public void done(long seq) throws IOException {
        writeLine(Line.done(seq));
    }

    /** Records that the TPM returned an error (the extend did not happen) or did not answer; durable when this returns. */
    public void failed(long seq, String reason) throws IOException {
        writeLine(Line.failed(seq, reason));
    }

    /** The run ended with every record where it belongs: the journal no longer blocks a next boot. Durable when this returns. */
    public void finish() throws IOException {
        writeLine(Line.finished());
    }

    /** Forces every line written so far to disk (a no-op when nothing is pending). */
    private void sync() throws IOException {
        if (unforced) {
            ch.force(false);
            unforced = false;
        }
    }

    /** True while a written line is not yet forced to disk (tests of the forcing rule above). */
    boolean hasUnforcedLines() {
        return unforced;
    }

    /** Where this journal ends now (only for a journal this process created: {@link #create}). */
    public Tail tail() {
        if (content == null) throw new IllegalStateException("not a journal created by this run");
        try {
            return new Tail(origin, size, ((MessageDigest) content.clone()).digest(), lastCheck.clone());
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Appends {@code finished} to the journal this run created and ended at {@code tail}. The file must
     * still be exactly what was written (size and SHA-256, read back); otherwise it is read strictly
     * like any journal ({@link #resume}: a damaged line is named, a finished one refused) and
     * {@code finished} follows its last line.
     */
    public static void finish(Path file, Tail tail) throws IOException {
        byte[] now = BoundedFiles.read(file, BoundedFiles.JOURNAL);
        boolean asWritten = now.length == tail.size() && MessageDigest.isEqual(sha256().digest(now), tail.sha256());
        Journal j;
        if (asWritten) {
            j = new Journal(FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND));
            j.lastCheck = tail.lastCheck().clone();
            j.size = tail.size();
        } else {
            j = resume(file);
        }
        try (j) {
            j.finish();
        }
    }

    private void writeHeader(Header h) throws IOException {
        writeBody(JsonOut.compact(h), false);
    }

    /** Every line but the header is forced when written (the forcing rule above). */
    private void writeLine(Line line) throws IOException {
        writeBody(JsonOut.compact(line), true);
    }

    /** The line is its canonical body (serialized once) with its check spliced in as the last member. */
    private void writeBody(byte[] body, boolean force) throws IOException {
        byte[] check = check(lastCheck, body);
        append(withCheck(body, Hex.of(check)), force);
        lastCheck = check;
    }

    /**
     * A line as written: the body's canonical serialization with {@code ,"check":"…"} before its closing
     * brace — what serializing the record with its check gives ({@code check} is the last property), and
     * what reading requires.
     */
    static byte[] withCheck(byte[] body, String check) {
        byte[] tail = (",\"check\":\"" + check + "\"}").getBytes(StandardCharsets.US_ASCII);
        byte[] line = java.util.Arrays.copyOf(body, body.length - 1 + tail.length);
        System.arraycopy(tail, 0, line, body.length - 1, tail.length);
        return line;
    }

    private void append(byte[] json, boolean force) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(json.length + 1).put(json).put((byte) '\n').flip();
        unforced = true;
        while (buf.hasRemaining()) ch.write(buf);
        size += json.length + 1;
        if (content != null) {
            content.update(json);
            content.update((byte) '\n');
        }
        if (force) sync();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** SHA-256(previous check ‖ this line's canonical bytes without its check). */
    static byte[] check(byte[] previous, byte[] body) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(previous);
            md.update(body);
            return md.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Forces the lines not yet forced, then closes (the file is closed even when forcing fails). */
    @Override
    public void close() throws IOException {
        try {
            sync();
        } finally {
            ch.close();
        }
    }

    // ------------------------------------------------------------------ reading

    /**
     * Reads a journal and checks every byte of it: the chained check of each line, its canonical form,
     * strict types (sequence numbers in order, known states and banks, PCR 0–23, u32 event types,
     * digest sizes per bank, strict base64) and a consistent history (a {@code done}/{@code failed}
     * closes an open intent; nothing follows {@code finished}). A damaged journal is a
     * {@link BadInputException} naming the line; it is never replayed. A torn last line (no newline:
     * the crash came during that write) is ignored: it was never durable, so the extend it announced
     * was never sent.
     */
    public static Contents read(Path file) throws IOException {
        // a missing journal stays an I/O error here: callers say "no such journal" or treat it as no run
        if (Files.notExists(file)) throw new java.nio.file.NoSuchFileException(file.toString());
        return parse(file.toString(), BoundedFiles.read(file, BoundedFiles.JOURNAL));
    }

    /** {@link #read} with I/O errors as bad input naming the file. */
    public static Contents load(Path file) {
        try {
            return read(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new BadInputException(file + ": no such journal");
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot read the journal: " + e.getMessage());
        }
    }

    /** {@link #read} of bytes already in memory; {@code name} names the journal in errors. */
    public static Contents parse(String name, byte[] bytes) {
        List<byte[]> lines = splitLines(bytes);
        if (lines.isEmpty()) throw new UnstartedException(name);
        Reader r = new Reader(name);
        r.header(lines.get(0));
        for (int i = 1; i < lines.size(); i++) r.line(i + 1, lines.get(i));
        return new Contents(r.origin, r.start, new ArrayList<>(r.entries.values()), r.finished, lines.size(), r.check);
    }

    /** The complete lines (each ended by a newline); bytes after the last newline are a torn write. */
    private static List<byte[]> splitLines(byte[] b) {
        List<byte[]> out = new ArrayList<>();
        int from = 0;
        for (int i = 0; i < b.length; i++) {
            if (b[i] == '\n') {
                out.add(java.util.Arrays.copyOfRange(b, from, i));
                from = i + 1;
            }
        }
        return out;
    }

    /** The state of a read in progress: what the lines so far established. */
    private static final class Reader {
        final String name;
        byte[] check = new byte[0];
        Origin origin;
        Map<HashAlg, Map<Integer, byte[]>> start;
        final Map<Long, Entry> entries = new LinkedHashMap<>();
        long nextSeq = 1;
        boolean finished;

        Reader(String name) {
            this.name = name;
        }

        BadInputException bad(int lineNo, String what) {
            return new BadInputException(name + ": line " + lineNo + ": " + what + " (the journal is damaged; nothing "
                    + "in it is replayed)");
        }

        void header(byte[] raw) {
            Header h = parse(raw, 1, Header.class);
            if (h.format() == null || !h.format().startsWith("kexec-measured-journal/")) {
                throw new BadInputException(name + ": not a kexec-measured journal (line 1)");
            }
            if (!FORMAT.equals(h.format())) {
                throw new BadInputException(name + ": journal format " + h.format() + " is not " + FORMAT
                        + " (written by another version of kexec-measured: recover it with that version)");
            }
            verify(raw, 1, h.check(), field(1, () -> JsonOut.compact(h.withCheck(null))));
            if (h.start() == null || h.start().isEmpty()) throw bad(1, "no start PCRs");
            start = new EnumMap<>(HashAlg.class);
            for (Map.Entry<String, Map<String, String>> bank : h.start().entrySet()) {
                HashAlg alg = bank(1, bank.getKey());
                Map<Integer, byte[]> pcrs = new TreeMap<>();
                if (bank.getValue() == null || bank.getValue().isEmpty()) throw bad(1, "no PCRs for bank " + alg.tpmName);
                for (Map.Entry<String, String> p : bank.getValue().entrySet()) {
                    pcrs.put(pcrIndex(1, p.getKey()), digest(1, alg, p.getValue()));
                }
                start.put(alg, Collections.unmodifiableMap(pcrs));
            }
            byte[] nonce = h.nonce() == null ? null : hex(1, "nonce", h.nonce());
            FirmwareLogRef fw = h.firmwareLog();
            if (fw != null) {
                if (fw.file() == null || fw.file().isEmpty() || fw.file().contains("/") || fw.file().equals("..")
                        || fw.file().equals(".")) {
                    throw bad(1, "firmwareLog.file must be a plain file name beside the journal");
                }
                if (fw.size() < 0) throw bad(1, "firmwareLog.size is negative");
                byte[] sha = digest(1, HashAlg.SHA256, fw.sha256());
                origin = new Origin(nonce, fw.file(), sha, fw.size(), h.eventlogOut());
            } else {
                origin = new Origin(nonce, null, null, 0, h.eventlogOut());
            }
        }

        void line(int lineNo, byte[] raw) {
            Line n = parse(raw, lineNo, Line.class);
            verify(raw, lineNo, n.check(), field(lineNo, () -> JsonOut.compact(n.withCheck(null))));
            if (finished) throw bad(lineNo, "a line after 'finished'");
            if (n.state() == null) throw bad(lineNo, "no state");
            switch (n.state()) {
                case "intent", "logged" -> {
                    boolean intent = n.state().equals("intent");
                    only(lineNo, n, true, true, true, intent, true, false);
                    if (n.seq() != nextSeq) {
                        throw bad(lineNo, n.state() + " #" + n.seq() + " out of sequence (expected #" + nextSeq + ")");
                    }
                    nextSeq++;
                    entries.put(n.seq(), new Entry(n.seq(), measurement(lineNo, n, intent),
                            intent ? State.INTENT : State.LOGGED, null));
                }
                case "done", "failed" -> {
                    boolean done = n.state().equals("done");
                    only(lineNo, n, true, false, false, false, false, !done);
                    Entry e = entries.get(n.seq());
                    if (e == null || e.state() != State.INTENT) {
                        throw bad(lineNo, n.state() + " for #" + n.seq() + ", which is not an open intent");
                    }
                    entries.put(n.seq(), new Entry(e.seq(), e.measurement(), done ? State.DONE : State.FAILED, n.reason()));
                }
                case "finished" -> {
                    only(lineNo, n, false, false, false, false, false, false);
                    for (Entry e : entries.values()) {
                        if (e.state() == State.INTENT) throw bad(lineNo, "'finished' with intent #" + e.seq() + " still open");
                    }
                    finished = true;
                }
                default -> throw bad(lineNo, "unknown state '" + n.state() + "'");
            }
        }

        /** Exactly the keys a state has: any other key present is damage. */
        private void only(int lineNo, Line n, boolean seq, boolean pcr, boolean type, boolean digests, boolean data,
                          boolean reason) {
            if ((n.seq() != null) != seq || (n.pcr() != null) != pcr || (n.type() != null) != type
                    || (n.digests() != null) != digests || (n.data() != null) != data || (n.reason() != null) != reason) {
                throw bad(lineNo, "the keys of a '" + n.state() + "' line are seq" + (pcr ? ", pcr, type" : "")
                        + (digests ? ", digests" : "") + (data ? ", data" : "") + (reason ? ", reason" : ""));
            }
            if (seq && n.seq() < 1) throw bad(lineNo, "sequence number " + n.seq() + " is not positive");
        }

        private void verify(byte[] raw, int lineNo, String given, byte[] body) {
            if (given == null) throw bad(lineNo, "no integrity check");
            byte[] expect = check(check, body);
            if (!given.equals(Hex.of(expect))) {
                throw bad(lineNo, "integrity check failed (the line or one before it was changed)");
            }
            check = expect;
            // the check covers the canonical form: a line that is not exactly it was changed after writing
            if (!canonicalMatches(raw, body, given)) throw bad(lineNo, "not in the journal's canonical form");
        }

        /** The line as written is the body with {@code ,"check":"…"} before its closing brace. */
        private static boolean canonicalMatches(byte[] raw, byte[] body, String check) {
            return java.util.Arrays.equals(raw, withCheck(body, check));
        }

        private <T> T parse(byte[] raw, int lineNo, Class<T> type) {
            try {
                T t = Json.MAPPER.readValue(raw, type);
                if (t == null) throw bad(lineNo, "not a journal line");
                return t;
            } catch (IOException e) {
                if (lineNo == 1) throw new BadInputException(name + ": not a kexec-measured journal (line 1)");
                throw bad(lineNo, "not a valid journal line");
            }
        }

        private <T> T field(int lineNo, IoSupplier<T> s) {
            try {
                return s.get();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (IllegalArgumentException e) {
                throw bad(lineNo, e.getMessage());
            }
        }

        private Measurement measurement(int lineNo, Line n, boolean withDigests) {
            if (n.pcr() < 0 || n.pcr() > 23) throw bad(lineNo, "PCR index " + n.pcr() + " outside 0–23");
            if (n.type() < 0 || n.type() > 0xffffffffL) throw bad(lineNo, "event type " + n.type() + " is not a u32");
            Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
            if (withDigests) {
                if (n.digests().isEmpty()) throw bad(lineNo, "an intent without digests");
                for (Map.Entry<String, String> e : n.digests().entrySet()) {
                    HashAlg alg = bank(lineNo, e.getKey());
                    d.put(alg, digest(lineNo, alg, e.getValue()));
                }
            }
            byte[] data;
            try {
                data = Base64.getDecoder().decode(n.data());
            } catch (IllegalArgumentException e) {
                throw bad(lineNo, "data is not base64");
            }
            if (!Base64.getEncoder().encodeToString(data).equals(n.data())) throw bad(lineNo, "data is not canonical base64");
            return new Measurement(n.pcr(), (int) (long) n.type(), d, data);
        }

        private HashAlg bank(int lineNo, String tpmName) {
            for (HashAlg a : HashAlg.values()) if (a.tpmName.equals(tpmName)) return a;
            throw bad(lineNo, "unknown bank '" + tpmName + "'");
        }

        private int pcrIndex(int lineNo, String key) {
            for (int i = 0; i < 24; i++) if (Integer.toString(i).equals(key)) return i;
            throw bad(lineNo, "'" + key + "' is not a PCR index 0–23");
        }

        /** Lower-case hex of exactly the bank's digest size: a short one must never reach a TPM extend. */
        private byte[] digest(int lineNo, HashAlg alg, String hex) {
            byte[] d = hex(lineNo, alg.tpmName + " digest", hex);
            if (d.length != alg.size) {
                throw bad(lineNo, alg.tpmName + " digest has " + d.length + " bytes, not " + alg.size);
            }
            return d;
        }

        private byte[] hex(int lineNo, String what, String hex) {
            if (hex == null || !hex.matches("([0-9a-f]{2})*")) throw bad(lineNo, what + " is not lower-case hex");
            return Hex.parse(hex);
        }
    }

    @FunctionalInterface
    private interface IoSupplier<T> {
        T get() throws IOException;
    }
}
