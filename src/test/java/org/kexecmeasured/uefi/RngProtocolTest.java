package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.protocol.RngProtocol;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.MemoryType;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

/** EFI_RNG_PROTOCOL called through its guest function pointers (host→guest calls into the trap page). */
class RngProtocolTest {

    private static byte[] getRng(Long seed) {
        EmulatorOptions.Builder b = EmulatorOptions.builder().ramSize(64L << 20);
        if (seed != null) {
            b.rng(HostRandom.seeded(seed));
        }
        try (Platform p = Platform.create(b.build())) {
            Firmware fw = p.firmware();
            var handles = fw.protocols().handlesWith(RngProtocol.GUID);
            if (handles.isEmpty()) {
                return null;
            }
            long iface = fw.protocols().get(handles.get(0), RngProtocol.GUID);
            GuestMemory m = fw.mem();
            fw.machine().cpu().setReg(Cpu.Reg.RSP, fw.machine().stackTop() - 0x1000);
            long buf = fw.allocator().allocatePool(MemoryType.BootServicesData, 64);
            m.putU64(buf, 4); // list size too small
            assertEquals(EfiStatus.BUFFER_TOO_SMALL, fw.images().hostCall(m.u64(iface), iface, buf, buf + 16));
            assertEquals(16, m.u64(buf));
            assertEquals(EfiStatus.SUCCESS, fw.images().hostCall(m.u64(iface), iface, buf, buf + 16));
            assertEquals(RngProtocol.ALGORITHM_RAW, m.guid(buf + 16));
            assertEquals(EfiStatus.SUCCESS, fw.images().hostCall(m.u64(iface + 8), iface, 0, 32, buf + 32));
            return m.read(buf + 32, 32);
        }
    }

    @Test
    void seededRngIsReproducible() {
        byte[] a = getRng(42L);
        assertArrayEquals(a, getRng(42L));
        assertFalse(java.util.Arrays.equals(a, getRng(43L)));
    }

    @Test
    void noRngProtocolUnlessAsked() {
        assertNull(getRng(null));
    }
}
