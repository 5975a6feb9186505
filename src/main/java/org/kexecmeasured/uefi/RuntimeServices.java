package org.kexecmeasured.uefi;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.spi.Call;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.EfiTime;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.Service;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * EFI_RUNTIME_SERVICES (UEFI 2.10 §8): variables on a volatile {@link VariableStore}, GetTime on the virtual
 * clock, GetNextHighMonotonicCount; ResetSystem ends the run; the rest UNSUPPORTED.
 */
public final class RuntimeServices {

    /** Longest variable name read from the guest, in characters. */
    static final int MAX_NAME = 1024;

    private final GuestMemory m;
    private final VariableStore store = new VariableStore();
    private final LongSupplier nowNanos;
    private final long startEpochSecond = ZonedDateTime.now(ZoneOffset.UTC).toEpochSecond();
    private final long table;

    /**
     * @param globalVariables variables to seed under EFI_GLOBAL_VARIABLE (boot-service + runtime access)
     * @param nowNanos        the firmware's virtual clock
     */
    RuntimeServices(Machine machine, Map<String, byte[]> globalVariables, LongSupplier nowNanos) {
        this.m = machine.mem();
        this.nowNanos = nowNanos;
        for (Map.Entry<String, byte[]> e : globalVariables.entrySet()) {
            store.set(e.getKey(), VariableStore.EFI_GLOBAL_VARIABLE, 0x6, e.getValue());
        }
        this.table = ServiceTable.write(machine, RuntimeService.SIGNATURE, RuntimeService.values(), this::implementation);
    }

    public VariableStore variables() {
        return store;
    }

    /** The guest address of EFI_RUNTIME_SERVICES. */
    long table() {
        return table;
    }

    /** Every slot of EFI_RUNTIME_SERVICES: implemented or UNSUPPORTED (the switch must cover them all). */
    private Service implementation(RuntimeService s) {
        return switch (s) {
            case GetTime -> this::getTime;
            case SetTime, GetWakeupTime, SetWakeupTime -> Service.UNSUPPORTED;
            case SetVirtualAddressMap, ConvertPointer -> Service.UNSUPPORTED; // the payload never goes virtual here
            case GetVariable -> this::getVariable;
            case GetNextVariableName -> this::getNextVariableName;
            case SetVariable -> this::setVariable;
            case GetNextHighMonotonicCount -> this::getNextHighMonotonicCount;
            case ResetSystem -> this::resetSystem;
            case UpdateCapsule, QueryCapsuleCapabilities, QueryVariableInfo -> Service.UNSUPPORTED;
        };
    }

    /** GetTime(*Time, *Capabilities): the host's start time plus the virtual clock, UTC. */
    private long getTime(Call c) {
        long timePtr = c.arg(0);
        long capabilitiesPtr = c.arg(1);
        if (timePtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        long secs = startEpochSecond + nowNanos.getAsLong() / 1_000_000_000L;
        m.write(timePtr, EfiTime.encode(Instant.ofEpochSecond(secs)));
        if (capabilitiesPtr != 0) { // resolution 1 Hz, accuracy 50 ppm (in 1e-6 ppm), no SetsToZero
            m.putU32(capabilitiesPtr, 1);
            m.putU32(capabilitiesPtr + 4, 50_000_000);
            m.putU8(capabilitiesPtr + 8, 0);
        }
        return EfiStatus.SUCCESS;
    }

    /** GetVariable(*VariableName, *VendorGuid, *Attributes, *DataSize, *Data). */
    private long getVariable(Call c) {
        long namePtr = c.arg(0);
        long vendorPtr = c.arg(1);
        long attributesPtr = c.arg(2);
        long sizePtr = c.arg(3);
        long data = c.arg(4);
        if (namePtr == 0 || vendorPtr == 0 || sizePtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        VariableStore.Variable v = store.get(m.utf16z(namePtr, MAX_NAME), m.guid(vendorPtr));
        if (v == null) {
            return EfiStatus.NOT_FOUND;
        }
        long have = m.u64(sizePtr);
        m.putU64(sizePtr, v.data().length);
        if (have < v.data().length) {
            return EfiStatus.BUFFER_TOO_SMALL;
        }
        if (data == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        m.write(data, v.data());
        if (attributesPtr != 0) {
            m.putU32(attributesPtr, v.attributes());
        }
        return EfiStatus.SUCCESS;
    }

    /** GetNextVariableName(*VariableNameSize, *VariableName, *VendorGuid): store order; "" starts. */
    private long getNextVariableName(Call c) {
        long sizePtr = c.arg(0);
        long namePtr = c.arg(1);
        long vendorPtr = c.arg(2);
        if (sizePtr == 0 || namePtr == 0 || vendorPtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        String cur = m.utf16z(namePtr, MAX_NAME);
        Guid g = m.guid(vendorPtr);
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
        long have = m.u64(sizePtr);
        m.putU64(sizePtr, nb.length);
        if (have < nb.length) {
            return EfiStatus.BUFFER_TOO_SMALL;
        }
        m.write(namePtr, nb);
        m.putGuid(vendorPtr, k.vendor());
        return EfiStatus.SUCCESS;
    }

    /** SetVariable(*VariableName, *VendorGuid, Attributes, DataSize, *Data): DataSize 0 deletes. */
    private long setVariable(Call c) {
        long namePtr = c.arg(0);
        long vendorPtr = c.arg(1);
        long attrs = c.arg(2) & 0xffffffffL;
        long size = c.arg(3);
        long data = c.arg(4);
        if (namePtr == 0 || vendorPtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        String name = m.utf16z(namePtr, MAX_NAME);
        if (name.isEmpty()) {
            return EfiStatus.INVALID_PARAMETER;
        }
        if (Long.compareUnsigned(size, VariableStore.MAX_VARIABLE_SIZE) > 0) { // UINTN: unsigned
            return EfiStatus.OUT_OF_RESOURCES;
        }
        if (size > 0 && data == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        Guid g = m.guid(vendorPtr);
        if (size == 0 && store.get(name, g) == null) {
            return EfiStatus.NOT_FOUND;
        }
        byte[] value = size == 0 ? new byte[0] : m.read(data, size);
        return store.set(name, g, attrs, value) ? EfiStatus.SUCCESS : EfiStatus.OUT_OF_RESOURCES;
    }

    /** GetNextHighMonotonicCount(*HighCount): always 1 (one boot). */
    private long getNextHighMonotonicCount(Call c) {
        if (c.arg(0) == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        m.putU32(c.arg(0), 1);
        return EfiStatus.SUCCESS;
    }

    /** ResetSystem(ResetType, ResetStatus, DataSize, *ResetData): ends the run. */
    private long resetSystem(Call c) {
        throw new EmulationException("the payload called ResetSystem (type " + c.arg(0) + ", status "
                + EfiStatus.name(c.arg(1)) + ")");
    }
}
