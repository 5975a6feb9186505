package org.kexecmeasured.uefi;

import org.kexecmeasured.efi.Guid;

import java.nio.charset.StandardCharsets;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** EFI_RUNTIME_SERVICES: variables on a volatile {@link VariableStore}, GetTime; the rest UNSUPPORTED. */
public final class RuntimeServices {

    static final String[] NAMES = {"GetTime", "SetTime", "GetWakeupTime", "SetWakeupTime", "SetVirtualAddressMap",
        "ConvertPointer", "GetVariable", "GetNextVariableName", "SetVariable", "GetNextHighMonotonicCount",
        "ResetSystem", "UpdateCapsule", "QueryCapsuleCapabilities", "QueryVariableInfo"};
    public static final long SIGNATURE = 0x56524553544e5552L; // "RUNTSERV"

    private final Firmware fw;
    private final VariableStore store = new VariableStore();
    private final long startEpochSecond = ZonedDateTime.now(ZoneOffset.UTC).toEpochSecond();

    RuntimeServices(Firmware fw) {
        this.fw = fw;
        for (Map.Entry<String, byte[]> e : fw.options().globalVariables().entrySet()) {
            store.set(e.getKey(), VariableStore.EFI_GLOBAL_VARIABLE, 0x6, e.getValue());
        }
    }

    public VariableStore variables() {
        return store;
    }

    long buildTable() {
        Map<String, Service> rs = new HashMap<>();
        GuestMemory m = fw.mem();
        rs.put("GetTime", c -> {
            if (c.arg(0) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            long secs = startEpochSecond + fw.nowNanos() / 1_000_000_000L;
            byte[] b = EfiTime.encode(java.time.Instant.ofEpochSecond(secs));
            m.write(c.arg(0), b);
            if (c.arg(1) != 0) { // capabilities: resolution 1 Hz, accuracy 50 ppm (in 1e-6 ppm), no SetsToZero
                m.putU32(c.arg(1), 1);
                m.putU32(c.arg(1) + 4, 50_000_000);
                m.putU8(c.arg(1) + 8, 0);
            }
            return EfiStatus.SUCCESS;
        });
        rs.put("GetVariable", c -> {
            if (c.arg(0) == 0 || c.arg(1) == 0 || c.arg(3) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            String name = m.utf16z(c.arg(0), 1024);
            VariableStore.Variable v = store.get(name, m.guid(c.arg(1)));
            if (v == null) {
                return EfiStatus.NOT_FOUND;
            }
            long have = m.u64(c.arg(3));
            m.putU64(c.arg(3), v.data().length);
            if (have < v.data().length) {
                return EfiStatus.BUFFER_TOO_SMALL;
            }
            if (c.arg(4) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            m.write(c.arg(4), v.data());
            if (c.arg(2) != 0) {
                m.putU32(c.arg(2), v.attributes());
            }
            return EfiStatus.SUCCESS;
        });
        rs.put("GetNextVariableName", c -> {
            if (c.arg(0) == 0 || c.arg(1) == 0 || c.arg(2) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            String cur = m.utf16z(c.arg(1), 1024);
            Guid g = m.guid(c.arg(2));
            List<VariableStore.Key> keys = store.keys();
            int next = 0;
            if (!cur.isEmpty()) {
                int i = keys.indexOf(new VariableStore.Key(cur, g));
                if (i < 0) {
                    return EfiStatus.INVALID_PARAMETER;
                }
                next = i + 1;
            }
            if (next >= keys.size()) {
                return EfiStatus.NOT_FOUND;
            }
            VariableStore.Key k = keys.get(next);
            byte[] nb = (k.name() + "\0").getBytes(StandardCharsets.UTF_16LE);
            long have = m.u64(c.arg(0));
            m.putU64(c.arg(0), nb.length);
            if (have < nb.length) {
                return EfiStatus.BUFFER_TOO_SMALL;
            }
            m.write(c.arg(1), nb);
            m.putGuid(c.arg(2), k.vendor());
            return EfiStatus.SUCCESS;
        });
        rs.put("SetVariable", c -> {
            if (c.arg(0) == 0 || c.arg(1) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            String name = m.utf16z(c.arg(0), 1024);
            if (name.isEmpty()) {
                return EfiStatus.INVALID_PARAMETER;
            }
            long size = c.arg(3);
            if (Long.compareUnsigned(size, VariableStore.MAX_VARIABLE_SIZE) > 0) { // UINTN: unsigned
                return EfiStatus.OUT_OF_RESOURCES;
            }
            if (size > 0 && c.arg(4) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            Guid g = m.guid(c.arg(1));
            long attrs = c.arg(2) & 0xffffffffL;
            if (size == 0 && store.get(name, g) == null) {
                return EfiStatus.NOT_FOUND;
            }
            byte[] data = size == 0 ? new byte[0] : m.read(c.arg(4), size);
            return store.set(name, g, attrs, data) ? EfiStatus.SUCCESS : EfiStatus.OUT_OF_RESOURCES;
        });
        rs.put("GetNextHighMonotonicCount", c -> {
            if (c.arg(0) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            m.putU32(c.arg(0), 1);
            return EfiStatus.SUCCESS;
        });
        rs.put("ResetSystem", c -> {
            throw new EmulationException("the payload called ResetSystem (type " + c.arg(0) + ", status "
                    + EfiStatus.name(c.arg(1)) + ")");
        });
        long table = fw.machine().fwAlloc(24 + 8L * NAMES.length);
        for (int i = 0; i < NAMES.length; i++) {
            Service s = rs.getOrDefault(NAMES[i], c -> EfiStatus.UNSUPPORTED);
            m.putU64(table + 24 + 8L * i, fw.machine().slot(NAMES[i], s));
        }
        fw.writeTableHeader(table, SIGNATURE, 24 + 8 * NAMES.length);
        return table;
    }
}
