package org.kexecmeasured.cli;

import org.bouncycastle.cert.X509CertificateHolder;
import org.kexecmeasured.payload.Inspector;
import org.kexecmeasured.payload.ReportText;
import org.kexecmeasured.payload.sig.Certificates;
import org.kexecmeasured.prediction.EmulatedStub;
import org.kexecmeasured.util.BadInputException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code kexec-measured inspect FILE [--json] [--trust CERT]...}: what a payload is and what it measures. */
@Command(name = "inspect",
        description = {
                "Describe a UEFI payload: PE/COFF headers, sections, relocations, Authenticode digests (sha1, sha256, "
                        + "sha384, sha512), embedded signatures, UKI sections and their content, the nested .linux kernel, "
                        + "bzImage/arm64/zboot headers.",
                "For a UKI: its stub's version, its profiles, and PCR 11 (per profile) with the stub's other measurements, "
                        + "from running the UKI's own stub in the emulator; a static model of the known stub versions is "
                        + "shown beside it as a cross-check.",
                "With --trust, exits 1 unless some embedded signature verifies against one of the given certificates."},
        mixinStandardHelpOptions = true)
public final class InspectCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "payload to inspect (PE, UKI, bzImage, arm64 Image, zboot, plain file)")
    Path file;

    @Option(names = "--json", description = "print the report as JSON")
    boolean json;

    @Option(names = "--profile", paramLabel = "N", description = "the profile of a multi-profile UKI (systemd-stub 257+) "
            + "whose measurements to show in full (default 0, as the stub boots without an @N first word on its command line)")
    Integer profile;

    @Option(names = "--no-emulation", description = "predict PCR 11 with the static model only (no emulator run)")
    boolean noEmulation;

    @Option(names = "--trust", paramLabel = "CERT", description = "trusted CA certificate (PEM or DER); repeatable. "
            + "Signatures must chain to one of them (any certificate on the chain may be the anchor, validity dates ignored, as UEFI does).")
    List<Path> trust = new ArrayList<>();

    /**
     * Wall-time budget of one stub run. Each known stub reaches the kernel in well under a second on a quiet
     * machine, and a stuck stub is ended within about a second by the emulator's idle watch, so the budget only
     * bounds busy loops; 5 s was exceeded by a cold JVM on a loaded 2-core machine (load 21).
     */
    static final long STUB_BUDGET_MILLIS = 30_000;

    /** Files beyond this are refused: a Java array holds at most 2 GiB and UEFI payloads are far smaller. */
    static final long MAX_FILE = Integer.MAX_VALUE - 64;

    @Override
    public Integer call() throws IOException {
        org.kexecmeasured.payload.hash.MultiHasher.preload();
        List<X509CertificateHolder> anchors = new ArrayList<>();
        for (Path t : trust) anchors.addAll(Certificates.load(t));
        byte[] data = read(file);
        if (profile != null && profile < 0) throw new BadInputException("--profile must be 0 or more");
        Inspector.Result res = Inspector.inspect(data, new Inspector.Options(anchors,
                noEmulation ? null : new EmulatedStub(STUB_BUDGET_MILLIS), profile));
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("file", file.toString());
        report.putAll(res.report());
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(org.kexecmeasured.util.Json.PRETTY.writeValueAsString(report));
        } else {
            out.print(ReportText.render(report));
        }
        out.flush();
        if (!anchors.isEmpty() && !res.anySignerVerified()) {
            throw new CheckFailedException(res.signatures().isEmpty()
                    ? file + ": not signed, so nothing verifies against --trust"
                    : file + ": no embedded signature verifies against the --trust certificates");
        }
        return 0;
    }

    static byte[] read(Path file) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r"); FileChannel ch = raf.getChannel()) {
            long size = ch.size();
            if (size > MAX_FILE) throw new BadInputException(file + ": " + size + " bytes is larger than the 2 GiB inspect handles");
            byte[] b = new byte[(int) size];
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(b);
            while (buf.hasRemaining()) {
                if (ch.read(buf) < 0) throw new BadInputException(file + ": file shrank while being read");
            }
            return b;
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            throw new BadInputException("cannot open " + file + ": " + e.getMessage());
        }
    }
}
