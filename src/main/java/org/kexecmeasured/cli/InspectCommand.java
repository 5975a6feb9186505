package org.kexecmeasured.cli;

import org.bouncycastle.cert.X509CertificateHolder;
import org.kexecmeasured.payload.Inspector;
import org.kexecmeasured.payload.ReportText;
import org.kexecmeasured.payload.sig.Certificates;
import org.kexecmeasured.prediction.EmulatedStub;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.BoundedFiles;
import org.kexecmeasured.util.Json;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code kexec-measured inspect FILE [--json] [--trust CERT]...}: what a payload is and what it measures. */
public final class InspectCommand implements Callable<Integer> {

    CommandSpec spec;
    Path file;
    boolean json;
    Integer profile;
    boolean noEmulation;
    List<Path> trust = new ArrayList<>();

    static CommandSpec model() {
        InspectCommand c = new InspectCommand();
        CommandSpec s = CliModel.command(c, "inspect",
                "Describe a UEFI payload: PE/COFF headers, sections, relocations, Authenticode digests (sha1, sha256, "
                        + "sha384, sha512), embedded signatures, UKI sections and their content, the nested .linux kernel, "
                        + "bzImage/arm64/zboot headers.",
                "For a UKI: its stub's version, its profiles, and PCR 11 (per profile) with the stub's other measurements, "
                        + "from running the UKI's own stub in the emulator; a static model of the known stub versions is "
                        + "shown beside it as a cross-check.",
                "With --trust, exits 1 unless some embedded signature verifies against one of the given certificates.");
        s.usageMessage().footer("", BoundedFiles.HELP_LIMITS);
        s.addPositional(CliModel.positional("FILE", Path.class, () -> c.file, v -> c.file = v).index("0").required(true)
                .description("payload to inspect (PE, UKI, bzImage, arm64 Image, zboot, plain file); - for standard input").build());
        s.addOption(CliModel.option("--json", boolean.class, () -> c.json, v -> c.json = v)
                .description("print the report as JSON").build());
        s.addOption(CliModel.option("--profile", Integer.class, () -> c.profile, v -> c.profile = v).paramLabel("N")
                .description("the profile of a multi-profile UKI (systemd-stub 257+) whose measurements to show in full "
                        + "(default 0, as the stub boots without an @N first word on its command line)").build());
        s.addOption(CliModel.option("--no-emulation", boolean.class, () -> c.noEmulation, v -> c.noEmulation = v)
                .description("predict PCR 11 with the static model only (no emulator run)").build());
        s.addOption(CliModel.option("--trust", List.class, () -> c.trust, v -> c.trust = v).auxiliaryTypes(Path.class)
                .paramLabel("CERT").description("trusted CA certificate (PEM or DER); repeatable. Signatures must chain to "
                        + "one of them (any certificate on the chain may be the anchor, validity dates ignored, as UEFI does).").build());
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

    /**
     * Wall-time budget of one stub run. Each known stub reaches the kernel in well under a second on a quiet
     * machine, and a stuck stub is ended within about a second by the emulator's idle watch, so the budget only
     * bounds busy loops; 5 s was exceeded by a cold JVM on a loaded 2-core machine (load 21).
     */
    static final long STUB_BUDGET_MILLIS = 30_000;

    @Override
    public Integer call() throws java.io.IOException {
        org.kexecmeasured.payload.hash.MultiHasher.preload();
        List<X509CertificateHolder> anchors = new ArrayList<>();
        for (Path t : trust) anchors.addAll(Certificates.load(t));
        if (profile != null && profile < 0) throw new BadInputException("--profile must be 0 or more");
        Inspector.Result res;
        try (BoundedFiles.Input in = BoundedFiles.open(file, BoundedFiles.PAYLOAD)) {
            res = Inspector.inspect(open(in), new Inspector.Options(anchors,
                    noEmulation ? null : new EmulatedStub(STUB_BUDGET_MILLIS), profile));
        }
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("file", file.toString());
        report.putAll(res.report());
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.PRETTY.writeValueAsString(report));
        } else {
            out.print(ReportText.render(report));
        }
        out.flush();
        if (!anchors.isEmpty() && !res.anySignatureVerified()) {
            throw new CheckFailedException(res.signatures().isEmpty()
                    ? file + ": not signed, so nothing verifies against --trust"
                    : file + ": no embedded signature verifies against the --trust certificates");
        }
        return 0;
    }

    /**
     * The payload's bytes, after its first bytes passed {@link Inspector#checkHeader}: a regular file
     * is mapped (no heap, nothing read yet beyond the header); a device, pipe or standard input is
     * refused from its first bytes when they are no payload, else read up to the payload limit.
     */
    static ByteBuffer open(BoundedFiles.Input in) {
        byte[] head = in.head(Inspector.HEADER_BYTES);
        boolean complete = head.length < Inspector.HEADER_BYTES;
        try {
            Inspector.checkHeader(head, in.hasKnownSize() ? in.size() : complete ? head.length : -1);
        } catch (BadInputException e) {
            if (in.isRegularFile()) throw e;
            throw new BadInputException(in.name() + ": not a regular file (" + in.kind() + "): " + e.getMessage());
        }
        return in.map();
    }
}
