package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.kexecmeasured.tcg2.BootPolicy;
import org.kexecmeasured.tcg2.ExtendPipeline;
import org.kexecmeasured.tcg2.MeasuredBoot;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.TpmException;
import org.kexecmeasured.tpm.TpmFactory;
import org.kexecmeasured.uefi.EmulationException;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Hex;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.function.Function;

/**
 * {@code boot}: a measured boot of a payload up to the kexec hand-over. The hand-over itself is a
 * later feature: without {@code --no-load} the command refuses (exit 2) and touches nothing.
 */
@Command(name = "boot", mixinStandardHelpOptions = true,
        description = {"Measured boot of PAYLOAD: extend a kexec boundary, then every",
                "measurement the payload makes in the emulator; write the continued",
                "event log and the /.extra/ sidecar. Built-in policy: extend and bound",
                "PCRs 4, 5, 9, 11, 12, 13. Requires --no-load for now."})
public final class BootCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "PAYLOAD", description = "UKI, EFI application (e.g. systemd-boot with --esp) or EFI-stub kernel")
    Path payload;

    @Option(names = "--tpm", paramLabel = "TCTI", required = true, description = "TPM to extend (device:/dev/tpmrm0, swtpm:host=…,port=…)")
    String tcti;

    @Option(names = "--esp", paramLabel = "DIR", description = "directory served as the ESP; PAYLOAD starts as \\EFI\\BOOT\\BOOTX64.EFI")
    Path esp;

    @Option(names = "--firmware-log", paramLabel = "FILE", description = "firmware event log to continue (default: " + MeasuredBoot.DEFAULT_FIRMWARE_LOG + ")")
    Path firmwareLog;

    @Option(names = "--eventlog-out", paramLabel = "FILE", description = "where to write the continued binary log (default: STATE/eventlog.bin)")
    Path eventlogOut;

    @Option(names = "--state-dir", paramLabel = "DIR", defaultValue = "/run/kexec-measured",
            description = "journal, CEL-JSON, side record and sidecar (default: ${DEFAULT-VALUE})")
    Path stateDir;

    @Option(names = "--no-load", description = "stop before any kexec syscall (required: the hand-over is not implemented yet)")
    boolean noLoad;

    @Option(names = "--time-budget", paramLabel = "MS", defaultValue = "120000", description = "emulation time budget (default: ${DEFAULT-VALUE})")
    long timeBudget;

    @Option(names = "--json", description = "JSON result")
    boolean json;

    @Spec
    CommandSpec spec;

    /** Opens the TPM; a seam for tests that wrap the real TPM (e.g. to kill it mid-run). */
    static Function<String, Tpm> tpmOpener = TpmFactory::open;

    @Override
    public Integer call() throws IOException {
        if (!noLoad) {
            throw new BadInputException("boot would kexec the payload, and the kexec hand-over is not implemented yet: "
                    + "run with --no-load (measures, extends and writes the log; loads nothing)");
        }
        if (esp != null && !Files.isDirectory(esp)) {
            throw new BadInputException("--esp " + esp + " is not a directory");
        }
        if (!Files.isRegularFile(payload)) {
            throw new BadInputException(payload + ": no such file");
        }
        if (Files.size(payload) > (512L << 20)) {
            throw new BadInputException(payload + ": larger than 512 MiB");
        }
        byte[] bytes = Files.readAllBytes(payload);
        MeasuredBoot.Request req = new MeasuredBoot.Request(bytes, payload.getFileName().toString(), esp, firmwareLog,
                stateDir, eventlogOut, BootPolicy.BUILTIN_DEFAULT, Main.version(), timeBudget);
        MeasuredBoot.Result r;
        try (Tpm tpm = tpmOpener.apply(tcti)) {
            r = MeasuredBoot.run(req, tpm);
        } catch (MeasuredBoot.BootFailedException e) {
            throw new IOException(e.getMessage(), e);
        } catch (TpmException e) {
            throw new IOException("TPM " + tcti + ": " + e.getMessage() + " (nothing was extended)", e);
        } catch (EmulationException e) {
            throw new BadInputException("emulation of " + payload + " failed: " + e.getMessage(), e);
        }
        JournalLog.fromEnvironment(System.getenv(), spec.commandLine().getErr()).bootMeasured(r, payload.getFileName().toString());
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(toJson(r)));
        } else {
            printText(out, r);
        }
        out.flush();
        return 0;
    }

    private void printText(PrintWriter o, MeasuredBoot.Result r) {
        o.printf("firmware log: %d records; TPM banks: %s%n", r.firmwareRecords(),
                r.banks().stream().map(a -> a.tpmName).toList());
        if (r.divergent().isEmpty()) {
            o.println("firmware log: replays to the TPM's PCRs");
        } else {
            for (MeasuredBoot.Divergence d : r.divergent()) {
                o.printf("WARNING: %s PCR %d already disagrees with the firmware log (extended without a log entry): "
                        + "TPM %s, log %s%n", d.bank().tpmName, d.pcr(), Hex.of(d.tpm()), Hex.of(d.logReplay()));
                if (d.explanation() != null) o.println("  note: " + d.explanation());
            }
        }
        o.printf("boundary: PCRs %s%n", BootPolicy.BUILTIN_DEFAULT.boundarySet());
        Map<Integer, Integer> perPcr = new TreeMap<>();
        for (ExtendPipeline.Extended e : r.extended()) perPcr.merge(e.measurement().pcr(), 1, Integer::sum);
        o.printf("extended: %d event(s) %s; not extended (side record): %d%n", r.extended().size(), perPcr,
                r.notExtended().size());
        if (r.handOff() != null) {
            o.printf("hand-off: kernel %d bytes, initrd %d bytes, cmdline \"%s\"%n", r.handOff().kernel().length,
                    r.handOff().initrd().length, r.handOff().cmdline());
        }
        MeasuredBoot.Stats s = r.stats();
        o.printf("TPM commands: %d (%d bank query, %d PCR read, %d extend)%n", s.tpmCommands(),
                s.tpmCommands() - s.pcrReadCommands() - s.extends_(), s.pcrReadCommands(), s.extends_());
        for (String n : r.notes()) o.println("note: " + n);
        MeasuredBoot.Outputs out = r.outputs();
        o.printf("event log: %s%ncel-json: %s%nside record: %s%njournal: %s%nsidecar: %s%n", out.eventlog(), out.celJson(),
                out.notExtended(), out.journal(), out.manifest().getParent());
        o.println("not loaded (--no-load)");
    }

    private Map<String, Object> toJson(MeasuredBoot.Result r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("banks", r.banks().stream().map(a -> a.tpmName).toList());
        m.put("firmwareRecords", r.firmwareRecords());
        m.put("divergent", r.divergent().stream().map(d -> Map.of("bank", d.bank().tpmName, "pcr", d.pcr(),
                "tpm", Hex.of(d.tpm()), "logReplay", Hex.of(d.logReplay()))).toList());
        m.put("extended", r.extended().stream().map(e -> Map.of("seq", e.seq(), "pcr", e.measurement().pcr(),
                "eventType", e.measurement().eventType() & 0xffffffffL, "origin", e.origin().name().toLowerCase())).toList());
        m.put("notExtended", r.notExtended().size());
        Map<String, Object> s = new LinkedHashMap<>();
        MeasuredBoot.Stats st = r.stats();
        s.put("tpmCommands", st.tpmCommands());
        s.put("pcrReadCommands", st.pcrReadCommands());
        s.put("extendCommands", st.extends_());
        s.put("wallMicros", st.wallMicros());
        s.put("emulationMicros", st.emulationMicros());
        s.put("hashMicros", st.hashMicros());
        s.put("hashBytes", st.hashBytes());
        s.put("largeHashMicros", st.largeHashMicros());
        s.put("largeHashBytes", st.largeHashBytes());
        m.put("stats", s);
        MeasuredBoot.Outputs o = r.outputs();
        m.put("outputs", Map.of("eventlog", o.eventlog().toString(), "celJson", o.celJson().toString(),
                "notExtended", o.notExtended().toString(), "journal", o.journal().toString(),
                "sidecarLog", o.sidecarLog().toString(), "manifest", o.manifest().toString()));
        m.put("notes", r.notes());
        m.put("loaded", false);
        return m;
    }
}
