package org.kexecmeasured.uefi;

import org.kexecmeasured.util.BadInputException;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Settings of one emulation run; build with {@link #builder()}.
 *
 * @param timeBudget wall time the payload may run (positive; a huge value saturates, it never wraps)
 * @param globalVariables variables seeded under EFI_GLOBAL_VARIABLE (today: SecureBoot = 0)
 * @param bootPath the first image's path on the ESP ('\' separators), as a boot option names it; null for the
 *                 removable-media path \EFI\BOOT\BOOTX64.EFI (with an ESP) or {@code \<payloadName>}
 * @param disk a GPT disk image or block device (read-only) served through BlockIo/DiskIo with a handle per
 *             partition; its EFI system partition's FAT is the ESP unless {@link #esp()} names a directory
 * @param stopAtExitBootServices resume capture (implies full emulation): the run ends where the payload's
 *             ExitBootServices returns to it, and {@link PostEbsState} holds the registers there and every range
 *             that is not free memory (boot services memory included: the payload's stack, the system table) —
 *             what a kexec purgatory needs to let the payload go on natively from that instruction
 */
public record EmulatorOptions(List<RamRange> ram, Duration timeBudget, CpuModel cpuModel, Path esp, byte[] initrd,
                              String append, boolean fullEmulation, Map<String, byte[]> globalVariables,
                              Measurer measurer, Consumer<TraceEntry> liveTrace, Consumer<String> liveConsole,
                              HostRandom rng, String payloadName, String bootPath, Path disk,
                              boolean stopAtExitBootServices) {

    /** The default time budget: two minutes, enough for a full emulation of a Debian kernel's stub. */
    public static final Duration DEFAULT_TIME_BUDGET = Duration.ofMinutes(2);

    public EmulatorOptions {
        checkPositive(timeBudget);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The time budget in milliseconds, saturated at Long.MAX_VALUE. */
    public long timeBudgetMillis() {
        return saturatedMillis(timeBudget);
    }

    private static long saturatedMillis(Duration d) {
        try {
            return d.toMillis();
        } catch (ArithmeticException e) {
            return d.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
    }

    /** A zero or negative budget is an option error, refused before anything runs (not "exhausted" later). */
    private static Duration checkPositive(Duration d) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new BadInputException("time budget must be positive, not "
                    + (d == null ? "missing" : saturatedMillis(d) + " ms"));
        }
        return d;
    }

    public static final class Builder {
        private List<RamRange> ram = List.of(new RamRange(0, 1L << 30));
        private Duration timeBudget = DEFAULT_TIME_BUDGET;
        private CpuModel cpuModel = CpuModel.DEFAULT;
        private Path esp;
        private byte[] initrd;
        private String append;
        private boolean fullEmulation;
        private final Map<String, byte[]> vars = new LinkedHashMap<>();
        private Measurer measurer;
        private Consumer<TraceEntry> liveTrace;
        private Consumer<String> liveConsole;
        private HostRandom rng;
        private String payloadName = "payload.efi";
        private String bootPath;
        private Path disk;
        private boolean stopAtExitBootServices;

        private Builder() {
            vars.put("SecureBoot", new byte[]{0});
        }

        /** One RAM range [0, v) (the default is 1 GiB). */
        public Builder ramSize(long v) { ram = List.of(new RamRange(0, v)); return this; }
        /** A RAM layout of several ranges (e.g. mirrored from the host's e820); sorted, non-overlapping. */
        public Builder ram(List<RamRange> v) { ram = List.copyOf(v); return this; }
        /** The wall-time budget; zero or negative is a {@link BadInputException} here, at once. */
        public Builder timeBudget(Duration v) { timeBudget = checkPositive(v); return this; }
        /** {@link #timeBudget(Duration)} in milliseconds. */
        public Builder timeBudgetMillis(long v) {
            if (v <= 0) {
                throw new BadInputException("time budget must be positive, not " + v + " ms");
            }
            timeBudget = Duration.ofMillis(v);
            return this;
        }
        public Builder cpuModel(CpuModel v) { cpuModel = v; return this; }
        public Builder esp(Path v) { esp = v; return this; }
        public Builder initrd(byte[] v) { initrd = v; return this; }
        public Builder append(String v) { append = v; return this; }
        public Builder fullEmulation(boolean v) { fullEmulation = v; return this; }
        public Builder measurer(Measurer v) { measurer = v; return this; }
        public Builder liveTrace(Consumer<TraceEntry> v) { liveTrace = v; return this; }
        public Builder liveConsole(Consumer<String> v) { liveConsole = v; return this; }
        /** Offer EFI_RNG_PROTOCOL backed by {@code v} (null: no RNG protocol, payloads fall back to RDTSC/RDRAND). */
        public Builder rng(HostRandom v) { rng = v; return this; }
        public Builder payloadName(String v) { payloadName = v; return this; }
        /** The first image's path on the ESP, e.g. {@code \EFI\debian\shimx64.efi} (shim finds GRUB beside it). */
        public Builder bootPath(String v) { bootPath = v; return this; }
        /** A GPT disk image (or block device), opened read-only. */
        public Builder disk(Path v) { disk = v; return this; }
        /** Resume capture: full emulation that stops where ExitBootServices returns (see the record's doc). */
        public Builder stopAtExitBootServices(boolean v) { stopAtExitBootServices = v; return this; }
        /**
         * Secure Boot as the payload reads it: SecureBoot = 1 and SetupMode = 0 (user mode) under
         * EFI_GLOBAL_VARIABLE. The emulator does not verify the first image (it is the payload the policy
         * already judged); shim verifies what it loads itself, against its vendor certificate and MOK.
         */
        public Builder secureBoot(boolean on) {
            vars.put("SecureBoot", new byte[]{(byte) (on ? 1 : 0)});
            if (on) vars.put("SetupMode", new byte[]{0}); else vars.remove("SetupMode");
            return this;
        }

        public EmulatorOptions build() {
            return new EmulatorOptions(ram, timeBudget, cpuModel, esp, initrd, append,
                    fullEmulation || stopAtExitBootServices, Map.copyOf(vars),
                    measurer == null ? new RecordingMeasurer() : measurer, liveTrace, liveConsole,
                    rng, payloadName, bootPath, disk, stopAtExitBootServices);
        }
    }
}
