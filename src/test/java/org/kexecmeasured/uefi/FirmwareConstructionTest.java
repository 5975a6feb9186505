package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A Platform whose construction fails after the Unicorn instance exists closes it (native memory). */
class FirmwareConstructionTest {

    /** VmSize of this process in KiB (Linux /proc): each Unicorn instance maps its RAM and code buffer. */
    private static long vmSizeKiB() throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("VmSize:")) {
                return Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        throw new AssertionError("no VmSize in /proc/self/status");
    }

    @Test
    void aFailureAfterTheMachineExistsClosesTheUnicornInstance() throws Exception {
        Measurer failing = new Measurer() {
            @Override
            public void measure(int pcr, int eventType, byte[] eventData, byte[] dataToHash, long flags) {
            }

            @Override
            public int activePcrBanks() { // asked while the firmware builds its Tcg2 protocol
                throw new IllegalStateException("TPM gone");
            }
        };
        EmulatorOptions o = EmulatorOptions.builder().ramSize(256L << 20).measurer(failing).build();
        assertThrows(IllegalStateException.class, () -> Platform.create(o)); // warm-up: libraries, JIT
        long before = vmSizeKiB();
        int n = 20;
        for (int i = 0; i < n; i++) {
            assertThrows(IllegalStateException.class, () -> Platform.create(o));
        }
        long grownMiB = (vmSizeKiB() - before) >> 10;
        // a leaked instance keeps at least its 256 MiB RAM mapping: 20 of them would be 5 GiB
        assertTrue(grownMiB < 256, "address space grew by " + grownMiB + " MiB over " + n + " failed constructions");
    }
}
