package org.kexecmeasured.uefi;

import java.util.List;
import java.util.Map;

/**
 * The outcome of one emulation: exactly one of {@code handOff} (cut-over at StartImage of the Linux kernel)
 * and {@code postEbs} (full emulation to the post-ExitBootServices jump) is set.
 */
public record EmulationResult(HandOff handOff, PostEbsState postEbs, String console, List<TraceEntry> trace,
                              List<RecordingMeasurer.Measurement> measurements,
                              Map<VariableStore.Key, VariableStore.Variable> variables, long emulationMicros) {
}
