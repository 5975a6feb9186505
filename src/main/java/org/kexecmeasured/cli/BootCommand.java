package org.kexecmeasured.cli;

import org.kexecmeasured.boot.BootPolicy;
import org.kexecmeasured.boot.Decider;
import org.kexecmeasured.boot.Divergence;
import org.kexecmeasured.boot.ExtendPipeline;
import org.kexecmeasured.boot.Loader;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.Plan;
import org.kexecmeasured.tpm.CommandCode;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.TpmException;
import org.kexecmeasured.uefi.EmulationException;
import org.kexecmeasured.uefi.spi.GuestMemoryException;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.FileBytes;
import org.kexecmeasured.util.Json;
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
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * {@code boot}: a measured boot of a payload up to the kexec hand-over ({@link MeasuredBoot}: plan →
 * decide → load → commit → outputs). The hand-over itself is a later feature: without {@code
 * --no-load} the command refuses (exit 2) and touches nothing.
 */
@Command(name = "boot", mixinStandardHelpOptions = true,
        description = {"Measured boot of PAYLOAD: plan the run in the emulator (the TPM is only",
                "read), then commit it: extend a kexec boundary and every measurement the",
                "payload made, in order; write the continued event log and the /.extra/",
                "sidecar. Built-in policy: extend and bound PCRs 4, 5, 9, 11, 12, 13.",
                "Requires --no-load for now."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:done", "2:bad input or unusable TPM; nothing was extended",
                "4:stopped after the TPM was changed (journal and 'eventlog recover' name what reached it)",
                "70:internal error"})
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

    private final Services services;

    BootCommand(Services services) {
        this.services = services;
    }

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
        byte[] bytes = FileBytes.read(payload, 512L << 20, "payload");
        MeasuredBoot.Request req = new MeasuredBoot.Request(bytes, payload.getFileName().toString(), esp, firmwareLog,
                stateDir, eventlogOut, BootPolicy.BUILTIN_DEFAULT, Main.version(), timeBudget);
        MeasuredBoot.Result r;
        // a TpmChangedException (exit 4) and a RefusedException (exit 3) pass through to Main as they are
        try (Tpm tpm = services.tpm().open(tcti)) {
            r = MeasuredBoot.run(req, tpm, Decider.BUILTIN, Loader.NONE);
        } catch (TpmException e) {
            throw new IOException("TPM " + tcti + ": " + e.getMessage() + " (nothing was extended)", e);
        } catch (ExtendPipeline.ExtendFailedException e) {
            throw new IOException(e.getMessage() + " (nothing was extended)", e);
        } catch (EmulationException | GuestMemoryException e) {
            throw new BadInputException("emulation of " + payload + " failed: " + e.getMessage() + " (nothing was extended)", e);
        }
        JournalLog.fromEnvironment(System.getenv(), spec.commandLine().getErr()).bootMeasured(r, payload.getFileName().toString());
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.PRETTY.writeValueAsString(toJson(r)));
        } else {
            printText(out, r);
        }
        out.flush();
        return 0;
    }

    private void printText(PrintWriter o, MeasuredBoot.Result r) {
        Plan p = r.plan();
        o.printf("firmware log: %d records; TPM banks: %s%n", p.firmwareRecords(), p.tpmBanks().stream().map(a -> a.tpmName).toList());
        if (p.divergences().isEmpty()) {
            o.println("firmware log: replays to the TPM's PCRs");
        } else {
            for (Divergence d : p.divergences()) {
                o.printf("WARNING: %s PCR %d already disagrees with the firmware log (extended without a log entry): "
                        + "TPM %s, log %s%n", d.bank().tpmName, d.pcr(), Hex.of(d.tpm()), Hex.of(d.logReplay()));
                if (d.explanation() != null) o.println("  note: " + d.explanation());
            }
        }
        o.printf("boundary: PCRs %s%n", p.policy().boundarySet());
        for (String reason : r.decision().reasons()) o.println("decision: " + reason);
        Map<Integer, Integer> perPcr = new TreeMap<>();
        for (ExtendPipeline.Extended e : r.commit().extended()) perPcr.merge(e.measurement().pcr(), 1, Integer::sum);
        o.printf("extended: %d event(s) %s; not extended (side record): %d%n", r.commit().extended().size(), perPcr,
                p.sideRecords().size());
        if (p.handOff() != null) {
            o.printf("hand-off: kernel %d bytes, initrd %d bytes, cmdline \"%s\"%n", p.handOff().kernel().length,
                    p.handOff().initrdSize(), p.handOff().cmdline());
        }
        StringBuilder by = new StringBuilder();
        r.stats().tpmCommands().forEach((cc, n) -> by.append(by.length() == 0 ? "" : ", ").append(n).append(' ')
                .append(CommandCode.name(cc).replaceFirst("^TPM2_", "")));
        o.printf("TPM commands: %d (%s)%n", total(r.stats().tpmCommands()), by);
        for (String n : p.notes()) o.println("note: " + n);
        MeasuredBoot.Outputs out = r.outputs();
        o.printf("event log: %s%ncel-json: %s%nside record: %s%njournal: %s%nsidecar: %s%n", out.eventlog(), out.celJson(),
                out.notExtended(), out.journal(), out.manifest().getParent());
        o.println(r.loaded().describe());
    }

    private Map<String, Object> toJson(MeasuredBoot.Result r) {
        Plan p = r.plan();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("banks", p.tpmBanks().stream().map(a -> a.tpmName).toList());
        m.put("firmwareRecords", p.firmwareRecords());
        m.put("divergent", p.divergences().stream().map(d -> Map.of("bank", d.bank().tpmName, "pcr", d.pcr(),
                "tpm", Hex.of(d.tpm()), "logReplay", Hex.of(d.logReplay()))).toList());
        m.put("decision", Map.of("allowed", r.decision().allowed(), "reasons", r.decision().reasons()));
        m.put("extended", r.commit().extended().stream().map(e -> Map.of("seq", e.seq(), "pcr", e.measurement().pcr(),
                "eventType", e.measurement().eventType() & 0xffffffffL, "origin", e.origin().id())).toList());
        m.put("notExtended", p.sideRecords().size());
        Map<String, Object> s = new LinkedHashMap<>();
        SortedMap<Integer, Long> all = r.stats().tpmCommands();
        s.put("tpmCommands", total(all));
        s.put("pcrReadCommands", all.getOrDefault(CommandCode.PCR_READ, 0L));
        s.put("extendCommands", all.getOrDefault(CommandCode.PCR_EXTEND, 0L));
        s.put("tpmCommandsByName", byName(all));
        s.put("planTpmCommandsByName", byName(p.stats().tpmCommands()));
        s.put("wallMicros", r.stats().wallMicros());
        s.put("planMicros", p.stats().planMicros());
        s.put("commitMicros", r.commit().micros());
        s.put("emulationMicros", p.stats().emulationMicros());
        s.put("hashMicros", p.stats().hashMicros());
        s.put("hashBytes", p.stats().hashBytes());
        s.put("largeHashMicros", p.stats().largeHashMicros());
        s.put("largeHashBytes", p.stats().largeHashBytes());
        m.put("stats", s);
        MeasuredBoot.Outputs o = r.outputs();
        Map<String, Object> files = new LinkedHashMap<>();
        files.put("eventlog", o.eventlog().toString());
        files.put("celJson", o.celJson().toString());
        files.put("notExtended", o.notExtended().toString());
        files.put("journal", o.journal().toString());
        files.put("sidecarLog", o.sidecarLog().toString());
        files.put("manifest", o.manifest().toString());
        m.put("outputs", files);
        m.put("notes", p.notes());
        m.put("loaded", r.loaded().loaded());
        return m;
    }

    private static long total(Map<Integer, Long> byCode) {
        return byCode.values().stream().mapToLong(Long::longValue).sum();
    }

    /** {"TPM2_GetCapability": 1, …}, ordered by command code. */
    private static Map<String, Long> byName(SortedMap<Integer, Long> byCode) {
        Map<String, Long> m = new LinkedHashMap<>();
        byCode.forEach((cc, n) -> m.put(CommandCode.name(cc), n));
        return m;
    }
}
