package org.kexecmeasured.cli;

import org.kexecmeasured.util.BoundedFiles;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.kexecmeasured.uefi.EmulationException;
import org.kexecmeasured.uefi.unicorn.EngineLibrary;
import org.kexecmeasured.uefi.EmulationResult;
import org.kexecmeasured.uefi.Emulator;
import org.kexecmeasured.uefi.EmulatorOptions;
import org.kexecmeasured.uefi.HandOff;
import org.kexecmeasured.uefi.HostRandom;
import org.kexecmeasured.util.Json;
import org.kexecmeasured.uefi.PostEbsState;
import org.kexecmeasured.uefi.RamRange;
import org.kexecmeasured.uefi.RecordingMeasurer;
import org.kexecmeasured.uefi.TraceEntry;
import org.kexecmeasured.uefi.VariableStore;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code kexec-measured emulate}: runs a UEFI payload in the emulator and prints what it hands to Linux. */
public final class EmulateCommand implements Callable<Integer> {

    CommandSpec spec;
    Path payload;
    Path esp;
    Path disk;
    String bootPath;
    boolean secureBoot;
    Path initrd;
    String append;
    boolean fullEmulation;
    String rng;
    boolean trace;
    boolean verbose;
    boolean json;
    Path out;
    java.time.Duration timeBudget;
    long ramMiB;
    String ramLayout;

    static CommandSpec model() {
        EmulateCommand c = new EmulateCommand();
        CommandSpec s = CliModel.command(c, "emulate",
                "Run a UEFI payload (UKI, systemd-boot, Linux EFI stub) in the user-space UEFI emulator "
                        + "and print the hand-off: kernel, command line, initrd, measurements.",
                "Stops at StartImage of the Linux kernel, or with --full-emulation runs the kernel's EFI stub to "
                        + "ExitBootServices and prints the post-ExitBootServices jump.");
        s.addPositional(CliModel.positional("PAYLOAD", Path.class, () -> c.payload, v -> c.payload = v).index("0").required(true)
                .description("EFI image to run (with --esp: the first image, usually ESP/EFI/BOOT/BOOTX64.EFI)").build());
        s.addOption(CliModel.option("--esp", Path.class, () -> c.esp, v -> c.esp = v).paramLabel("DIR")
                .description("directory served read-only as the ESP (SimpleFileSystem)").build());
        s.addOption(CliModel.option("--disk", Path.class, () -> c.disk, v -> c.disk = v).paramLabel("IMAGE")
                .description("GPT disk image or block device, opened read-only, "
                        + "served through BlockIo/DiskIo with a handle per partition (GRUB reads /boot from it)").build());
        s.addOption(CliModel.option("--boot-path", String.class, () -> c.bootPath, v -> c.bootPath = v).paramLabel("PATH")
                .description("PAYLOAD's path on the ESP as a boot option "
                        + "names it, e.g. \\EFI\\debian\\shimx64.efi (shim starts grubx64.efi beside itself); default: its "
                        + "place under --esp, else \\EFI\\BOOT\\BOOTX64.EFI").build());
        s.addOption(CliModel.option("--secure-boot", boolean.class, () -> c.secureBoot, v -> c.secureBoot = v)
                .description("the payload sees Secure Boot on (SecureBoot = 1, SetupMode = 0): shim "
                        + "verifies GRUB, GRUB has shim verify the kernel and enters its EFI handover entry").build());
        s.addOption(CliModel.option("--initrd", Path.class, () -> c.initrd, v -> c.initrd = v).paramLabel("FILE")
                .description("initrd served through LoadFile2 (LINUX_EFI_INITRD_MEDIA)").build());
        s.addOption(CliModel.option("--append", String.class, () -> c.append, v -> c.append = v).paramLabel("CMDLINE")
                .description("LoadOptions of the first image").build());
        s.addOption(CliModel.option("--full-emulation", boolean.class, () -> c.fullEmulation, v -> c.fullEmulation = v)
                .description("run the Linux EFI stub to ExitBootServices").build());
        s.addOption(CliModel.option("--rng", String.class, () -> c.rng, v -> c.rng = v).paramLabel("host|SEED")
                .description("offer EFI_RNG_PROTOCOL: the host's SecureRandom, "
                        + "or a reproducible stream from a numeric seed (default: no RNG protocol)").build());
        s.addOption(CliModel.option("--trace", boolean.class, () -> c.trace, v -> c.trace = v)
                .description("print every firmware service call").build());
        s.addOption(CliModel.option("--verbose", boolean.class, () -> c.verbose, v -> c.verbose = v)
                .description("show the payload's console output live on stderr").build());
        s.addOption(CliModel.option("--json", boolean.class, () -> c.json, v -> c.json = v).description("JSON output").build());
        s.addOption(CliModel.option("--out", Path.class, () -> c.out, v -> c.out = v).paramLabel("DIR")
                .description("write kernel, initrd and cmdline of the hand-off to DIR").build());
        s.addOption(CliModel.option("--time-budget", java.time.Duration.class, () -> c.timeBudget, v -> c.timeBudget = v)
                .paramLabel("DURATION").defaultValue("120s").converters(new DurationConverter.Positive())
                .description("wall-time budget of the emulation, with a unit: 500ms, 30s, 2m (default ${DEFAULT-VALUE})").build());
        s.addOption(CliModel.option("--ram", long.class, () -> c.ramMiB, v -> c.ramMiB = v).paramLabel("MIB")
                .defaultValue("1024").description("emulated RAM in MiB (default ${DEFAULT-VALUE})").build());
        s.addOption(CliModel.option("--ram-layout", String.class, () -> c.ramLayout, v -> c.ramLayout = v)
                .paramLabel("START-END[,START-END...]")
                .description("emulated RAM as ranges (hex 0x… or decimal, page aligned, below 0xffe00000), e.g. a copy "
                        + "of the host's e820 RAM ranges; overrides --ram").build());
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

    static List<RamRange> parseRamLayout(String s) {
        List<RamRange> l = new ArrayList<>();
        for (String part : s.split(",")) {
            String[] se = part.trim().split("-");
            if (se.length != 2) {
                throw new BadInputException("--ram-layout: '" + part + "' is not START-END");
            }
            try {
                l.add(new RamRange(Long.decode(se[0].trim()), Long.decode(se[1].trim())));
            } catch (NumberFormatException e) {
                throw new BadInputException("--ram-layout: '" + part + "' is not START-END");
            } catch (IllegalArgumentException e) {
                throw new BadInputException("--ram-layout: " + e.getMessage());
            }
        }
        return l;
    }

    /**
     * The payload's path on the ESP when it lies inside the ESP directory (so shim finds grubx64.efi beside
     * itself, as under a boot option naming \EFI\debian\shimx64.efi); null otherwise.
     */
    static String espPath(Path esp, Path payload) {
        Path root = esp.toAbsolutePath().normalize();
        Path p = payload.toAbsolutePath().normalize();
        if (!p.startsWith(root) || p.equals(root)) {
            return null;
        }
        StringBuilder sb = new StringBuilder();
        for (Path c : root.relativize(p)) {
            sb.append('\\').append(c);
        }
        return sb.toString();
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter o = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        byte[] bytes = readInput(payload);
        RecordingMeasurer measurer = new RecordingMeasurer();
        if (ramMiB < 64 || ramMiB > 4000 || ramMiB % 2 != 0) {
            throw new BadInputException("--ram must be an even number of MiB between 64 and 4000");
        }
        EmulatorOptions.Builder b = EmulatorOptions.builder().measurer(measurer).payloadName(payload.getFileName().toString())
                .fullEmulation(fullEmulation).timeBudget(timeBudget).ramSize(ramMiB << 20);
        if (ramLayout != null) {
            b.ram(parseRamLayout(ramLayout));
        }
        if (rng != null) {
            if (rng.equals("host")) {
                b.rng(HostRandom.secure());
            } else {
                try {
                    b.rng(HostRandom.seeded(Long.parseLong(rng)));
                } catch (NumberFormatException e) {
                    throw new BadInputException("--rng must be 'host' or a number, not '" + rng + "'");
                }
            }
        }
        if (esp != null) {
            if (!Files.isDirectory(esp)) {
                throw new BadInputException("--esp " + esp + " is not a directory");
            }
            b.esp(esp);
            b.bootPath(espPath(esp, payload));
        }
        if (disk != null) {
            b.disk(disk);
        }
        b.secureBoot(secureBoot);
        if (bootPath != null) {
            if (!bootPath.startsWith("\\")) {
                throw new BadInputException("--boot-path must start with \\, not '" + bootPath + "'");
            }
            b.bootPath(bootPath);
        }
        if (initrd != null) {
            b.initrd(readInput(initrd));
        }
        if (append != null) {
            b.append(append);
        }
        // a progress line on the terminal, unless the run prints its own stream (--trace, --verbose) or JSON
        ProgressLine progress = ProgressLine.open(err, json || trace || verbose, timeBudget.toMillis());
        String start = fullEmulation ? "boot services, to ExitBootServices" : "boot services, to the kernel cut-over";
        progress.update(start, 0);
        if (trace && !json) {
            b.liveTrace(t -> {
                o.println("trace: " + t);
                o.flush();
            });
        } else if (progress.enabled()) {
            b.liveTrace(t -> progress.call(t.service(), t.index() + 1L));
        }
        if (verbose) {
            b.liveConsole(s -> {
                err.print(s);
                err.flush();
            });
        }
        EmulationResult r;
        try (progress) {
            r = Emulator.run(bytes, b.build());
        } catch (EmulationException e) {
            throw new BadInputException("emulation of " + payload + " failed: " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new BadInputException("emulated machine: " + e.getMessage(), e);
        }
        if (out != null && r.handOff() != null) {
            Files.createDirectories(out);
            Files.write(out.resolve("kernel"), r.handOff().kernel());
            Files.write(out.resolve("initrd"), r.handOff().initrd());
            Files.writeString(out.resolve("cmdline"), r.handOff().cmdline(), StandardCharsets.UTF_8);
        }
        if (json) {
            o.println(Json.PRETTY.writeValueAsString(toJson(Json.MAPPER, r)));
        } else {
            printText(o, r);
        }
        o.flush();
        return 0;
    }

    private static byte[] readInput(Path p) throws IOException {
        // names a directory, a missing file and one over KEXEC_MEASURED_MAX_PAYLOAD before reading
        return BoundedFiles.read(p, BoundedFiles.PAYLOAD);
    }

    private static String sha256(byte[] b) {
        return Hex.of(HashAlg.SHA256.digest(b));
    }

    private static void printText(PrintWriter o, EmulationResult r) {
        HandOff h = r.handOff();
        if (h != null) {
            o.println(switch (h.entry()) {
                case BOOT_PROTOCOL -> "cut-over: the payload's jump into a Linux kernel through the boot protocol, after its own ExitBootServices";
                case EFI_HANDOVER -> "cut-over: the payload's call of a Linux kernel's EFI handover entry";
                case EFI_STUB -> "cut-over: StartImage of a Linux kernel";
            });
            o.println("kernel: " + h.kernel().length + " bytes, sha256 " + sha256(h.kernel()));
            o.println("kernel device path: " + h.devicePath());
            o.println("cmdline: " + h.cmdline());
            o.println("initrd: " + h.initrd().length + " bytes, sha256 " + sha256(h.initrd()));
        }
        PostEbsState p = r.postEbs();
        if (p != null) {
            o.println("ExitBootServices reached; jump to 0x" + Long.toHexString(p.entry()) + " with RSI (boot_params) = 0x"
                    + Long.toHexString(p.bootParams()) + ", CR3 = 0x" + Long.toHexString(p.registers().get("CR3")));
            for (PostEbsState.Segment s : p.segments()) {
                o.printf(Locale.ROOT, "segment: 0x%x-0x%x %s%n", s.start(), s.start() + s.data().length, s.type());
            }
        }
        for (RecordingMeasurer.Measurement m : r.measurements()) {
            o.printf(Locale.ROOT, "measurement: PCR %d type 0x%x %d bytes sha256 %s event %s%n", m.pcr(), m.eventType(),
                    m.dataLength(), Hex.of(m.dataSha256()), describe(m.eventData()));
        }
        if (!r.console().isEmpty()) {
            o.println("console:");
            o.println(r.console().strip());
        }
        o.printf(Locale.ROOT, "emulation: %d service calls, %.3f s%n", r.trace().size(), r.emulationMicros() / 1e6);
        o.println("engine: " + EngineLibrary.get().describe());
    }

    /** Event data as text when it is UCS-2 or ASCII, else hex (truncated). */
    static String describe(byte[] d) {
        if (d.length >= 2 && d.length % 2 == 0 && d[1] == 0) {
            String s = new String(d, StandardCharsets.UTF_16LE).replace("\0", "");
            if (s.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
                return "\"" + s + "\"";
            }
        }
        String s = new String(d, StandardCharsets.ISO_8859_1).replace("\0", "");
        if (!s.isEmpty() && s.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
            return "\"" + s + "\"";
        }
        return Hex.of(d, 0, Math.min(d.length, 64)) + (d.length > 64 ? "…" : "");
    }

    private static ObjectNode toJson(ObjectMapper om, EmulationResult r) {
        ObjectNode root = om.createObjectNode();
        HandOff h = r.handOff();
        if (h != null) {
            ObjectNode n = root.putObject("handOff");
            n.put("entry", h.entry().name());
            n.put("kernelSize", h.kernel().length).put("kernelSha256", sha256(h.kernel()));
            n.put("kernelDevicePath", h.devicePath());
            n.put("cmdline", h.cmdline());
            n.put("initrdSize", h.initrd().length).put("initrdSha256", sha256(h.initrd()));
        }
        PostEbsState p = r.postEbs();
        if (p != null) {
            ObjectNode n = root.putObject("postExitBootServices");
            n.put("entry", p.entry()).put("bootParams", p.bootParams());
            ObjectNode regs = n.putObject("registers");
            for (Map.Entry<String, Long> e : p.registers().entrySet()) {
                regs.put(e.getKey(), e.getValue());
            }
            ArrayNode segs = n.putArray("segments");
            for (PostEbsState.Segment s : p.segments()) {
                segs.addObject().put("start", s.start()).put("size", s.data().length).put("type", s.type().name())
                        .put("sha256", sha256(s.data()));
            }
        }
        ArrayNode ms = root.putArray("measurements");
        for (RecordingMeasurer.Measurement m : r.measurements()) {
            ms.addObject().put("pcr", m.pcr()).put("eventType", m.eventType()).put("flags", m.flags())
                    .put("eventData", Hex.of(m.eventData())).put("dataSize", m.dataLength())
                    .put("dataSha256", Hex.of(m.dataSha256()));
        }
        ArrayNode vars = root.putArray("variables");
        for (Map.Entry<VariableStore.Key, VariableStore.Variable> e : r.variables().entrySet()) {
            vars.addObject().put("name", e.getKey().name()).put("vendor", e.getKey().vendor().toString())
                    .put("attributes", e.getValue().attributes()).put("data", Hex.of(e.getValue().data()));
        }
        root.put("console", r.console());
        ArrayNode tr = root.putArray("trace");
        for (TraceEntry t : r.trace()) {
            tr.add(t.toString());
        }
        root.put("emulationMicros", r.emulationMicros());
        root.put("engine", EngineLibrary.get().describe());
        return root;
    }
}
