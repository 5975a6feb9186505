package org.kexecmeasured.uefi;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.spi.Allocator;
import org.kexecmeasured.uefi.spi.Call;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.HandleDatabase;
import org.kexecmeasured.uefi.spi.MemoryType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Handles and the protocol interfaces installed on them, and the Protocol Handler Services over them
 * (UEFI 2.10 §7.3), one method per service in the order of EFI_BOOT_SERVICES. Drivers are not modelled:
 * ConnectController finds nothing to connect, OpenProtocol keeps no open-information, notifications never
 * fire.
 */
public final class ProtocolDatabase implements HandleDatabase {

    public static final int MAX_HANDLES = 10_000;
    /** EFI_OPEN_PROTOCOL_TEST_PROTOCOL: OpenProtocol only tests, Interface is not written. */
    private static final long OPEN_TEST_PROTOCOL = 0x4;
    /** Most GUID/interface pairs read from one (Un)InstallMultipleProtocolInterfaces call. */
    private static final int MAX_PAIRS = 100;

    /** LocateHandle's EFI_LOCATE_SEARCH_TYPE. */
    private static final long ALL_HANDLES = 0;
    private static final long BY_REGISTER_NOTIFY = 1;
    private static final long BY_PROTOCOL = 2;

    private final GuestMemory mem;
    private final Allocator allocator;
    private final Map<Long, Map<Guid, Long>> handles = new LinkedHashMap<>();

    ProtocolDatabase(GuestMemory mem, Allocator allocator) {
        this.mem = mem;
        this.allocator = allocator;
    }

    // ---------------------------------------------------------------- the database

    /** A new handle without protocols (its address is firmware memory, so it is unique and never 0). */
    public long newHandle() {
        if (handles.size() >= MAX_HANDLES) {
            throw new EmulationException("more than " + MAX_HANDLES + " handles");
        }
        long h = allocator.firmwareAlloc(16);
        handles.put(h, new LinkedHashMap<>());
        return h;
    }

    @Override
    public long install(long handle, Guid protocol, long iface) {
        if (handle == 0) {
            handle = newHandle();
        }
        Map<Guid, Long> p = handles.get(handle);
        if (p == null) {
            throw new IllegalArgumentException("no such handle 0x" + Long.toHexString(handle));
        }
        p.put(protocol, iface);
        return handle;
    }

    /** Removes a handle with all its protocols (UnloadImage). */
    public void removeHandle(long handle) {
        handles.remove(handle);
    }

    public boolean exists(long handle) {
        return handles.containsKey(handle);
    }

    @Override
    public Long get(long handle, Guid protocol) {
        Map<Guid, Long> p = handles.get(handle);
        return p == null ? null : p.get(protocol);
    }

    @Override
    public List<Long> handlesWith(Guid protocol) {
        List<Long> l = new ArrayList<>();
        for (Map.Entry<Long, Map<Guid, Long>> e : handles.entrySet()) {
            if (protocol == null || e.getValue().containsKey(protocol)) {
                l.add(e.getKey());
            }
        }
        return l;
    }

    /** The device path bytes (without the end node) installed on {@code handle}, or null. */
    public byte[] devicePathOf(long handle) {
        Long dp = get(handle, DEVICE_PATH);
        if (dp == null || dp == 0) {
            return null;
        }
        byte[] b = mem.devicePath(dp);
        return Arrays.copyOf(b, b.length - 4);
    }

    /**
     * LocateDevicePath: the handle with {@code protocol} whose device path is the longest node-wise prefix of
     * {@code path} (bytes incl. end node); returns {handle, matched length} or null.
     */
    public long[] locateDevicePath(Guid protocol, byte[] path) {
        long best = 0;
        int bestLen = -1;
        for (long h : handlesWith(protocol)) {
            byte[] hp = devicePathOf(h);
            if (hp == null || hp.length > path.length - 4) {
                continue;
            }
            if (!Arrays.equals(hp, 0, hp.length, path, 0, hp.length)) {
                continue;
            }
            if (!nodeBoundary(path, hp.length)) { // a prefix must end where a node of path ends
                continue;
            }
            if (hp.length > bestLen) {
                best = h;
                bestLen = hp.length;
            }
        }
        return bestLen < 0 ? null : new long[]{best, bestLen};
    }

    private static boolean nodeBoundary(byte[] path, int at) {
        int p = 0;
        while (p < at) {
            int len = (path[p + 2] & 0xff) | (path[p + 3] & 0xff) << 8;
            if (len < 4) {
                return false;
            }
            p += len;
        }
        return p == at;
    }

    // ---------------------------------------------------------------- Protocol Handler Services

    /** InstallProtocolInterface(*Handle, *Protocol, InterfaceType, Interface); *Handle 0 creates a handle. */
    long installProtocolInterface(Call c) {
        long handlePtr = c.arg(0);
        long protocolPtr = c.arg(1);
        long interfaceType = c.arg(2);
        long iface = c.arg(3);
        if (handlePtr == 0 || protocolPtr == 0 || interfaceType != 0) { // EFI_NATIVE_INTERFACE only
            return EfiStatus.INVALID_PARAMETER;
        }
        long h = mem.u64(handlePtr);
        if (h != 0 && !exists(h)) {
            return EfiStatus.INVALID_PARAMETER;
        }
        Guid g = mem.guid(protocolPtr);
        if (h != 0 && get(h, g) != null) {
            return EfiStatus.INVALID_PARAMETER;
        }
        mem.putU64(handlePtr, install(h, g, iface));
        return EfiStatus.SUCCESS;
    }

    /** ReinstallProtocolInterface(Handle, *Protocol, OldInterface, NewInterface). */
    long reinstallProtocolInterface(Call c) {
        long h = c.arg(0);
        long protocolPtr = c.arg(1);
        long oldInterface = c.arg(2);
        long newInterface = c.arg(3);
        if (!exists(h) || protocolPtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        Guid g = mem.guid(protocolPtr);
        Long cur = get(h, g);
        if (cur == null || cur != oldInterface) {
            return EfiStatus.NOT_FOUND;
        }
        handles.get(h).put(g, newInterface);
        return EfiStatus.SUCCESS;
    }

    /** UninstallProtocolInterface(Handle, *Protocol, Interface); the last protocol gone removes the handle. */
    long uninstallProtocolInterface(Call c) {
        return uninstall(c.arg(0), c.arg(1), c.arg(2));
    }

    private long uninstall(long h, long protocolPtr, long iface) {
        if (!exists(h) || protocolPtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        Guid g = mem.guid(protocolPtr);
        Long cur = get(h, g);
        if (cur == null || cur != iface) {
            return EfiStatus.NOT_FOUND;
        }
        handles.get(h).remove(g);
        if (handles.get(h).isEmpty()) {
            handles.remove(h);
        }
        return EfiStatus.SUCCESS;
    }

    /** HandleProtocol(Handle, *Protocol, **Interface). */
    long handleProtocol(Call c) {
        long h = c.arg(0);
        long protocolPtr = c.arg(1);
        long interfacePtr = c.arg(2);
        if (protocolPtr == 0 || interfacePtr == 0 || !exists(h)) {
            return EfiStatus.INVALID_PARAMETER;
        }
        Long i = get(h, mem.guid(protocolPtr));
        if (i == null) {
            mem.putU64(interfacePtr, 0);
            return EfiStatus.UNSUPPORTED;
        }
        mem.putU64(interfacePtr, i);
        return EfiStatus.SUCCESS;
    }

    /** RegisterProtocolNotify(*Protocol, Event, **Registration): accepted; the notification never fires. */
    long registerProtocolNotify(Call c) {
        long protocolPtr = c.arg(0);
        long registrationPtr = c.arg(2);
        if (protocolPtr == 0 || registrationPtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        mem.putU64(registrationPtr, allocator.firmwareAlloc(16));
        return EfiStatus.SUCCESS;
    }

    /** LocateHandle(SearchType, *Protocol, *SearchKey, *BufferSize, *Buffer). */
    long locateHandle(Call c) {
        long sizePtr = c.arg(3);
        long buffer = c.arg(4);
        List<Long> found = search(c.arg(0), c.arg(1));
        if (found == null || sizePtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        if (found.isEmpty()) {
            return EfiStatus.NOT_FOUND;
        }
        long need = 8L * found.size();
        long have = mem.u64(sizePtr);
        mem.putU64(sizePtr, need);
        if (have < need) {
            return EfiStatus.BUFFER_TOO_SMALL;
        }
        if (buffer == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        for (int i = 0; i < found.size(); i++) {
            mem.putU64(buffer + 8L * i, found.get(i));
        }
        return EfiStatus.SUCCESS;
    }

    /** LocateDevicePath(*Protocol, **DevicePath, *Device): advances *DevicePath past the matched prefix. */
    long locateDevicePath(Call c) {
        long protocolPtr = c.arg(0);
        long devicePathPtr = c.arg(1);
        long devicePtr = c.arg(2);
        if (protocolPtr == 0 || devicePathPtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        long dpp = mem.u64(devicePathPtr);
        if (dpp == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        long[] r = locateDevicePath(mem.guid(protocolPtr), mem.devicePath(dpp));
        if (r == null) {
            return EfiStatus.NOT_FOUND;
        }
        if (devicePtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        mem.putU64(devicePtr, r[0]);
        mem.putU64(devicePathPtr, dpp + r[1]);
        return EfiStatus.SUCCESS;
    }

    /** ConnectController(…): no drivers are modelled, so no driver manages any controller. */
    long connectController(Call c) {
        return EfiStatus.NOT_FOUND;
    }

    /** DisconnectController(…): nothing is ever connected. */
    long disconnectController(Call c) {
        return EfiStatus.NOT_FOUND;
    }

    /** OpenProtocol(Handle, *Protocol, **Interface, AgentHandle, ControllerHandle, Attributes). */
    long openProtocol(Call c) {
        long h = c.arg(0);
        long protocolPtr = c.arg(1);
        long interfacePtr = c.arg(2);
        long attributes = c.arg(5);
        boolean test = (attributes & OPEN_TEST_PROTOCOL) != 0;
        if (protocolPtr == 0 || !exists(h)) {
            return EfiStatus.INVALID_PARAMETER;
        }
        Long i = get(h, mem.guid(protocolPtr));
        if (i == null) {
            if (interfacePtr != 0 && !test) {
                mem.putU64(interfacePtr, 0);
            }
            return EfiStatus.UNSUPPORTED;
        }
        if (!test) {
            if (interfacePtr == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            mem.putU64(interfacePtr, i);
        }
        return EfiStatus.SUCCESS;
    }

    /** CloseProtocol(Handle, *Protocol, AgentHandle, ControllerHandle). */
    long closeProtocol(Call c) {
        long h = c.arg(0);
        long protocolPtr = c.arg(1);
        if (protocolPtr == 0 || !exists(h)) {
            return EfiStatus.INVALID_PARAMETER;
        }
        return get(h, mem.guid(protocolPtr)) == null ? EfiStatus.NOT_FOUND : EfiStatus.SUCCESS;
    }

    /** OpenProtocolInformation(…): no open-information is kept. */
    long openProtocolInformation(Call c) {
        return EfiStatus.UNSUPPORTED;
    }

    /** ProtocolsPerHandle(Handle, ***ProtocolBuffer, *ProtocolBufferCount): the array is pool memory. */
    long protocolsPerHandle(Call c) {
        Map<Guid, Long> p = handles.get(c.arg(0));
        long bufferPtr = c.arg(1);
        long countPtr = c.arg(2);
        if (p == null || bufferPtr == 0 || countPtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        List<Guid> gs = new ArrayList<>(p.keySet());
        long array = allocator.allocatePool(MemoryType.BootServicesData, 8L * Math.max(1, gs.size()));
        long guids = allocator.firmwareAlloc(16L * Math.max(1, gs.size()));
        if (array < 0) {
            return EfiStatus.OUT_OF_RESOURCES;
        }
        for (int i = 0; i < gs.size(); i++) {
            mem.putGuid(guids + 16L * i, gs.get(i));
            mem.putU64(array + 8L * i, guids + 16L * i);
        }
        mem.putU64(bufferPtr, array);
        mem.putU64(countPtr, gs.size());
        return EfiStatus.SUCCESS;
    }

    /** LocateHandleBuffer(SearchType, *Protocol, *SearchKey, *NoHandles, **Buffer): the array is pool memory. */
    long locateHandleBuffer(Call c) {
        long countPtr = c.arg(3);
        long bufferPtr = c.arg(4);
        if (countPtr == 0 || bufferPtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        List<Long> found = search(c.arg(0), c.arg(1));
        if (found == null) {
            return EfiStatus.INVALID_PARAMETER;
        }
        mem.putU64(countPtr, found.size());
        if (found.isEmpty()) {
            mem.putU64(bufferPtr, 0);
            return EfiStatus.NOT_FOUND;
        }
        long buf = allocator.allocatePool(MemoryType.BootServicesData, 8L * found.size());
        if (buf < 0) {
            return EfiStatus.OUT_OF_RESOURCES;
        }
        for (int i = 0; i < found.size(); i++) {
            mem.putU64(buf + 8L * i, found.get(i));
        }
        mem.putU64(bufferPtr, buf);
        return EfiStatus.SUCCESS;
    }

    /** LocateProtocol(*Protocol, *Registration, **Interface): the first handle's interface. */
    long locateProtocol(Call c) {
        long protocolPtr = c.arg(0);
        long interfacePtr = c.arg(2);
        if (protocolPtr == 0 || interfacePtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        Guid g = mem.guid(protocolPtr);
        for (long h : handlesWith(g)) {
            mem.putU64(interfacePtr, get(h, g));
            return EfiStatus.SUCCESS;
        }
        mem.putU64(interfacePtr, 0);
        return EfiStatus.NOT_FOUND;
    }

    /**
     * InstallMultipleProtocolInterfaces(*Handle, {*Protocol, Interface}…, NULL): all or nothing; a device path
     * already installed on another handle is ALREADY_STARTED (UEFI 2.10 §7.3).
     */
    long installMultipleProtocolInterfaces(Call c) {
        long handlePtr = c.arg(0);
        if (handlePtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        long h = mem.u64(handlePtr);
        if (h != 0 && !exists(h)) {
            return EfiStatus.INVALID_PARAMETER;
        }
        List<Guid> gs = new ArrayList<>();
        List<Long> is = new ArrayList<>();
        for (int a = 1; a < 2 * MAX_PAIRS; a += 2) {
            long gp = c.arg(a);
            if (gp == 0) {
                break;
            }
            gs.add(mem.guid(gp));
            is.add(c.arg(a + 1));
        }
        for (int i = 0; i < gs.size(); i++) {
            if (gs.get(i).equals(DEVICE_PATH) && is.get(i) != 0) {
                byte[] dp = mem.devicePath(is.get(i));
                long[] r = locateDevicePath(DEVICE_PATH, dp);
                if (r != null && r[1] == dp.length - 4) {
                    return EfiStatus.ALREADY_STARTED;
                }
            }
            if (h != 0 && get(h, gs.get(i)) != null) {
                return EfiStatus.INVALID_PARAMETER;
            }
        }
        if (h == 0) {
            h = newHandle();
        }
        for (int i = 0; i < gs.size(); i++) {
            install(h, gs.get(i), is.get(i));
        }
        mem.putU64(handlePtr, h);
        return EfiStatus.SUCCESS;
    }

    /** UninstallMultipleProtocolInterfaces(Handle, {*Protocol, Interface}…, NULL). */
    long uninstallMultipleProtocolInterfaces(Call c) {
        long h = c.arg(0);
        if (!exists(h)) {
            return EfiStatus.INVALID_PARAMETER;
        }
        for (int a = 1; a < 2 * MAX_PAIRS; a += 2) {
            long gp = c.arg(a);
            if (gp == 0) {
                break;
            }
            if (uninstall(h, gp, c.arg(a + 1)) != EfiStatus.SUCCESS) {
                return EfiStatus.INVALID_PARAMETER;
            }
        }
        return EfiStatus.SUCCESS;
    }

    /** The handles LocateHandle(Buffer) finds: AllHandles, ByRegisterNotify (nothing is ever pending), ByProtocol. */
    private List<Long> search(long type, long protocolPtr) {
        if (type == ALL_HANDLES) {
            return handlesWith(null);
        }
        if (type == BY_REGISTER_NOTIFY) {
            return new ArrayList<>();
        }
        if (type == BY_PROTOCOL) {
            return protocolPtr == 0 ? null : handlesWith(mem.guid(protocolPtr));
        }
        return null;
    }
}
