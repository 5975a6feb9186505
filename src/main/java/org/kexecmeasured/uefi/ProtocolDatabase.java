package org.kexecmeasured.uefi;

import org.kexecmeasured.efi.Guid;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Handles and the protocol interfaces installed on them, and the boot services over them
 * (Install/Reinstall/Uninstall(Multiple)ProtocolInterface, HandleProtocol, Open/CloseProtocol,
 * LocateHandle(Buffer), LocateProtocol, LocateDevicePath, ProtocolsPerHandle).
 */
public final class ProtocolDatabase {

    public static final Guid DEVICE_PATH = Guid.parse("09576e91-6d3f-11d2-8e39-00a0c969723b");
    public static final int MAX_HANDLES = 10_000;

    private final Firmware fw;
    private final Map<Long, Map<Guid, Long>> handles = new LinkedHashMap<>();

    ProtocolDatabase(Firmware fw) {
        this.fw = fw;
    }

    public long newHandle() {
        if (handles.size() >= MAX_HANDLES) {
            throw new EmulationException("more than " + MAX_HANDLES + " handles");
        }
        long h = fw.machine().fwAlloc(16);
        handles.put(h, new LinkedHashMap<>());
        return h;
    }

    /** Installs {@code iface} for {@code guid} on {@code handle} (0 = a new handle); returns the handle. */
    public long install(long handle, Guid guid, long iface) {
        if (handle == 0) {
            handle = newHandle();
        }
        Map<Guid, Long> p = handles.get(handle);
        if (p == null) {
            throw new IllegalArgumentException("no such handle");
        }
        p.put(guid, iface);
        return handle;
    }

    /** Removes a handle with all its protocols (UnloadImage). */
    public void removeHandle(long handle) {
        handles.remove(handle);
    }

    public boolean exists(long handle) {
        return handles.containsKey(handle);
    }

    /** The interface of {@code guid} on {@code handle}, or null. */
    public Long get(long handle, Guid guid) {
        Map<Guid, Long> p = handles.get(handle);
        return p == null ? null : p.get(guid);
    }

    public List<Long> handlesWith(Guid guid) {
        List<Long> l = new ArrayList<>();
        for (Map.Entry<Long, Map<Guid, Long>> e : handles.entrySet()) {
            if (guid == null || e.getValue().containsKey(guid)) {
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
        byte[] b = fw.readDevicePath(dp);
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
            // must end on a node boundary of path
            if (!nodeBoundary(path, hp.length)) {
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

    // ---------------------------------------------------------------- boot services

    void register(Map<String, Service> bs) {
        GuestMemory m = fw.mem();
        bs.put("InstallProtocolInterface", c -> {
            long hp = c.arg(0);
            if (hp == 0 || c.arg(1) == 0 || c.arg(2) != 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            long h = m.u64(hp);
            if (h != 0 && !exists(h)) {
                return EfiStatus.INVALID_PARAMETER;
            }
            Guid g = m.guid(c.arg(1));
            if (h != 0 && get(h, g) != null) {
                return EfiStatus.INVALID_PARAMETER;
            }
            m.putU64(hp, install(h, g, c.arg(3)));
            return EfiStatus.SUCCESS;
        });
        bs.put("ReinstallProtocolInterface", c -> {
            long h = c.arg(0);
            if (!exists(h) || c.arg(1) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            Guid g = m.guid(c.arg(1));
            Long cur = get(h, g);
            if (cur == null || cur != c.arg(2)) {
                return EfiStatus.NOT_FOUND;
            }
            handles.get(h).put(g, c.arg(3));
            return EfiStatus.SUCCESS;
        });
        bs.put("UninstallProtocolInterface", c -> uninstall(c.arg(0), c.arg(1), c.arg(2)));
        bs.put("HandleProtocol", c -> {
            if (c.arg(1) == 0 || c.arg(2) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            if (!exists(c.arg(0))) {
                return EfiStatus.INVALID_PARAMETER;
            }
            Long i = get(c.arg(0), m.guid(c.arg(1)));
            if (i == null) {
                m.putU64(c.arg(2), 0);
                return EfiStatus.UNSUPPORTED;
            }
            m.putU64(c.arg(2), i);
            return EfiStatus.SUCCESS;
        });
        bs.put("RegisterProtocolNotify", c -> {
            if (c.arg(0) == 0 || c.arg(2) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            m.putU64(c.arg(2), fw.machine().fwAlloc(16));
            return EfiStatus.SUCCESS;
        });
        bs.put("LocateHandle", c -> {
            List<Long> l = search(c.arg(0), c.arg(1));
            if (l == null) {
                return EfiStatus.INVALID_PARAMETER;
            }
            if (c.arg(3) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            if (l.isEmpty()) {
                return EfiStatus.NOT_FOUND;
            }
            long need = 8L * l.size();
            long have = m.u64(c.arg(3));
            m.putU64(c.arg(3), need);
            if (have < need) {
                return EfiStatus.BUFFER_TOO_SMALL;
            }
            if (c.arg(4) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            for (int i = 0; i < l.size(); i++) {
                m.putU64(c.arg(4) + 8L * i, l.get(i));
            }
            return EfiStatus.SUCCESS;
        });
        bs.put("LocateHandleBuffer", c -> {
            if (c.arg(3) == 0 || c.arg(4) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            List<Long> l = search(c.arg(0), c.arg(1));
            if (l == null) {
                return EfiStatus.INVALID_PARAMETER;
            }
            m.putU64(c.arg(3), l.size());
            if (l.isEmpty()) {
                m.putU64(c.arg(4), 0);
                return EfiStatus.NOT_FOUND;
            }
            long buf = fw.allocatePool(MemoryType.BootServicesData, 8L * l.size());
            if (buf < 0) {
                return EfiStatus.OUT_OF_RESOURCES;
            }
            for (int i = 0; i < l.size(); i++) {
                m.putU64(buf + 8L * i, l.get(i));
            }
            m.putU64(c.arg(4), buf);
            return EfiStatus.SUCCESS;
        });
        bs.put("LocateDevicePath", c -> {
            if (c.arg(0) == 0 || c.arg(1) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            long dpp = m.u64(c.arg(1));
            if (dpp == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            byte[] path = fw.readDevicePath(dpp);
            long[] r = locateDevicePath(m.guid(c.arg(0)), path);
            if (r == null) {
                return EfiStatus.NOT_FOUND;
            }
            if (c.arg(2) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            m.putU64(c.arg(2), r[0]);
            m.putU64(c.arg(1), dpp + r[1]);
            return EfiStatus.SUCCESS;
        });
        bs.put("OpenProtocol", c -> {
            long h = c.arg(0);
            if (c.arg(1) == 0 || !exists(h)) {
                return EfiStatus.INVALID_PARAMETER;
            }
            long attrs = c.arg(5);
            Long i = get(h, m.guid(c.arg(1)));
            if (i == null) {
                if (c.arg(2) != 0 && (attrs & 0x4) == 0) {
                    m.putU64(c.arg(2), 0);
                }
                return EfiStatus.UNSUPPORTED;
            }
            if ((attrs & 0x4) == 0) { // not TEST_PROTOCOL
                if (c.arg(2) == 0) {
                    return EfiStatus.INVALID_PARAMETER;
                }
                m.putU64(c.arg(2), i);
            }
            return EfiStatus.SUCCESS;
        });
        bs.put("CloseProtocol", c -> {
            if (c.arg(1) == 0 || !exists(c.arg(0))) {
                return EfiStatus.INVALID_PARAMETER;
            }
            return get(c.arg(0), m.guid(c.arg(1))) == null ? EfiStatus.NOT_FOUND : EfiStatus.SUCCESS;
        });
        bs.put("OpenProtocolInformation", c -> EfiStatus.UNSUPPORTED);
        bs.put("ProtocolsPerHandle", c -> {
            Map<Guid, Long> p = handles.get(c.arg(0));
            if (p == null || c.arg(1) == 0 || c.arg(2) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            List<Guid> gs = new ArrayList<>(p.keySet());
            long arr = fw.allocatePool(MemoryType.BootServicesData, 8L * Math.max(1, gs.size()));
            long gbuf = fw.machine().fwAlloc(16L * Math.max(1, gs.size()));
            if (arr < 0) {
                return EfiStatus.OUT_OF_RESOURCES;
            }
            for (int i = 0; i < gs.size(); i++) {
                m.putGuid(gbuf + 16L * i, gs.get(i));
                m.putU64(arr + 8L * i, gbuf + 16L * i);
            }
            m.putU64(c.arg(1), arr);
            m.putU64(c.arg(2), gs.size());
            return EfiStatus.SUCCESS;
        });
        bs.put("LocateProtocol", c -> {
            if (c.arg(0) == 0 || c.arg(2) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            Guid g = m.guid(c.arg(0));
            for (long h : handlesWith(g)) {
                m.putU64(c.arg(2), get(h, g));
                return EfiStatus.SUCCESS;
            }
            m.putU64(c.arg(2), 0);
            return EfiStatus.NOT_FOUND;
        });
        bs.put("InstallMultipleProtocolInterfaces", c -> {
            long hp = c.arg(0);
            if (hp == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            long h = m.u64(hp);
            if (h != 0 && !exists(h)) {
                return EfiStatus.INVALID_PARAMETER;
            }
            List<Guid> gs = new ArrayList<>();
            List<Long> is = new ArrayList<>();
            for (int a = 1; a < 200; a += 2) {
                long gp = c.arg(a);
                if (gp == 0) {
                    break;
                }
                gs.add(m.guid(gp));
                is.add(c.arg(a + 1));
            }
            // a device path already installed elsewhere is ALREADY_STARTED (UEFI 2.10 §7.3)
            for (int i = 0; i < gs.size(); i++) {
                if (gs.get(i).equals(DEVICE_PATH) && is.get(i) != 0) {
                    byte[] dp = fw.readDevicePath(is.get(i));
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
            m.putU64(hp, h);
            return EfiStatus.SUCCESS;
        });
        bs.put("UninstallMultipleProtocolInterfaces", c -> {
            long h = c.arg(0);
            if (!exists(h)) {
                return EfiStatus.INVALID_PARAMETER;
            }
            for (int a = 1; a < 200; a += 2) {
                long gp = c.arg(a);
                if (gp == 0) {
                    break;
                }
                long st = uninstall(h, gp, c.arg(a + 1));
                if (st != EfiStatus.SUCCESS) {
                    return EfiStatus.INVALID_PARAMETER;
                }
            }
            return EfiStatus.SUCCESS;
        });
    }

    private long uninstall(long h, long guidPtr, long iface) {
        if (!exists(h) || guidPtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        Guid g = fw.mem().guid(guidPtr);
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

    /** AllHandles (0), ByRegisterNotify (1: nothing is ever pending), ByProtocol (2). */
    private List<Long> search(long type, long guidPtr) {
        if (type == 0) {
            return handlesWith(null);
        }
        if (type == 1) {
            return new ArrayList<>();
        }
        if (type == 2) {
            if (guidPtr == 0) {
                return null;
            }
            return handlesWith(fw.mem().guid(guidPtr));
        }
        return null;
    }
}
