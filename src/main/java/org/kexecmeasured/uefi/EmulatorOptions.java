package org.kexecmeasured.uefi;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/** Settings of one emulation run; build with {@link #builder()}. */
public record EmulatorOptions(java.util.List<RamRange> ram, long timeBudgetMillis, CpuModel cpuModel, Path esp, byte[] initrd,
                              String append, boolean fullEmulation, Map<String, byte[]> globalVariables,
                              Measurer measurer, Consumer<TraceEntry> liveTrace, Consumer<String> liveConsole,
                              HostRandom rng, String payloadName) {

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private java.util.List<RamRange> ram = java.util.List.of(new RamRange(0, 1L << 30));
        private long timeBudgetMillis = 120_000;
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

        private Builder() {
            vars.put("SecureBoot", new byte[]{0});
        }

        /** One RAM range [0, v) (the default is 1 GiB). */
        public Builder ramSize(long v) { ram = java.util.List.of(new RamRange(0, v)); return this; }
        /** A RAM layout of several ranges (e.g. mirrored from the host's e820); sorted, non-overlapping. */
        public Builder ram(java.util.List<RamRange> v) { ram = java.util.List.copyOf(v); return this; }
        public Builder timeBudgetMillis(long v) { timeBudgetMillis = v; return this; }
        public Builder cpuModel(CpuModel v) { cpuModel = v; return this; }
        public Builder esp(Path v) { esp = v; return this; }
        public Builder initrd(byte[] v) { initrd = v; return this; }
        public Builder append(String v) { append = v; return this; }
        public Builder fullEmulation(boolean v) { fullEmulation = v; return this; }
        /** A variable under EFI_GLOBAL_VARIABLE (boot-service + runtime access). */
        public Builder globalVariable(String name, byte[] value) { vars.put(name, value); return this; }
        public Builder measurer(Measurer v) { measurer = v; return this; }
        public Builder liveTrace(Consumer<TraceEntry> v) { liveTrace = v; return this; }
        public Builder liveConsole(Consumer<String> v) { liveConsole = v; return this; }
        /** Offer EFI_RNG_PROTOCOL backed by {@code v} (null: no RNG protocol, payloads fall back to RDTSC/RDRAND). */
        public Builder rng(HostRandom v) { rng = v; return this; }
        public Builder payloadName(String v) { payloadName = v; return this; }

        public EmulatorOptions build() {
            return new EmulatorOptions(ram, timeBudgetMillis, cpuModel, esp, initrd, append, fullEmulation,
                    Map.copyOf(vars), measurer == null ? new RecordingMeasurer() : measurer, liveTrace, liveConsole,
                    rng, payloadName);
        }
    }
}
