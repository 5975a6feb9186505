package org.kexecmeasured.efi;

import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Hex;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * An EFI device path: a sequence of nodes {u8 type, u8 subType, u16 length, data}, closed by an
 * end node (0x7F/0xFF). Immutable; {@link #toText()} follows the UEFI spec's text forms for the
 * nodes boot paths use and falls back to the generic {@code Path(type,subtype,hex)}.
 */
public final class DevicePath {

    public static final int TYPE_HARDWARE = 0x01;
    public static final int TYPE_ACPI = 0x02;
    public static final int TYPE_MESSAGING = 0x03;
    public static final int TYPE_MEDIA = 0x04;
    public static final int TYPE_BBS = 0x05;
    public static final int TYPE_END = 0x7F;

    public static final int MEDIA_HARD_DRIVE = 0x01;
    public static final int MEDIA_VENDOR = 0x03;
    public static final int MEDIA_FILE_PATH = 0x04;

    /** One node; {@code data} excludes the 4-byte header. */
    public record Node(int type, int subType, byte[] data) {
        public boolean isEnd() {
            return type == TYPE_END;
        }
    }

    private final List<Node> nodes;

    private DevicePath(List<Node> nodes) {
        this.nodes = Collections.unmodifiableList(nodes);
    }

    /** Nodes without the final end node. */
    public List<Node> nodes() {
        return nodes;
    }

    /**
     * Parses a device path from {@code len} bytes at {@code off}; stops at the first end-entire node.
     * Node lengths below 4 or past the buffer are errors (hostile input must not loop).
     */
    public static DevicePath parse(byte[] b, int off, int len) {
        if (off < 0 || len < 0 || off + len > b.length) {
            throw new BadInputException("device path range outside the data");
        }
        List<Node> list = new ArrayList<>();
        int p = off;
        int end = off + len;
        while (p < end) {
            if (end - p < 4) {
                throw new BadInputException("device path truncated at byte " + (p - off));
            }
            int type = b[p] & 0xff;
            int sub = b[p + 1] & 0xff;
            int nlen = (b[p + 2] & 0xff) | (b[p + 3] & 0xff) << 8;
            if (nlen < 4 || p + nlen > end) {
                throw new BadInputException("device path node at byte " + (p - off) + " has bad length " + nlen);
            }
            if (type == TYPE_END && sub == 0xFF) {
                return new DevicePath(list);
            }
            byte[] data = new byte[nlen - 4];
            System.arraycopy(b, p + 4, data, 0, data.length);
            list.add(new Node(type, sub, data));
            p += nlen;
        }
        // No end node: tolerated (some logs cut it), the nodes read so far are the path.
        return new DevicePath(list);
    }

    public static DevicePath parse(byte[] b) {
        return parse(b, 0, b.length);
    }

    public static DevicePath of(List<Node> nodes) {
        return new DevicePath(new ArrayList<>(nodes));
    }

    /** Appends the nodes of {@code other} (its own end node dropped). */
    public DevicePath append(DevicePath other) {
        List<Node> l = new ArrayList<>(nodes);
        l.addAll(other.nodes);
        return new DevicePath(l);
    }

    public DevicePath append(Node node) {
        List<Node> l = new ArrayList<>(nodes);
        l.add(node);
        return new DevicePath(l);
    }

    /** Serialized form including the end node. */
    public byte[] toBytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Node n : nodes) {
            writeNode(out, n.type, n.subType, n.data);
        }
        writeNode(out, TYPE_END, 0xFF, new byte[0]);
        return out.toByteArray();
    }

    private static void writeNode(ByteArrayOutputStream out, int type, int sub, byte[] data) {
        int len = data.length + 4;
        out.write(type);
        out.write(sub);
        out.write(len & 0xff);
        out.write(len >>> 8);
        out.writeBytes(data);
    }

    // ---- builders for the nodes the emulator creates ----

    /** Media/Vendor node (e.g. LINUX_EFI_INITRD_MEDIA, systemd-stub's kernel VenMedia). */
    public static Node vendorMedia(Guid guid) {
        return new Node(TYPE_MEDIA, MEDIA_VENDOR, guid.toBytes());
    }

    /** Media/FilePath node: UTF-16LE, NUL-terminated. */
    public static Node filePath(String path) {
        byte[] s = (path + "\0").getBytes(StandardCharsets.UTF_16LE);
        return new Node(TYPE_MEDIA, MEDIA_FILE_PATH, s);
    }

    /** ACPI node of a PCI root bridge (_HID PNP0A03): PciRoot(uid). */
    public static Node pciRoot(int uid) {
        ByteBuffer bb = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(0x0A0341D0).putInt(uid); // EISA ID of PNP0A03
        return new Node(TYPE_ACPI, 0x01, bb.array());
    }

    /** Hardware/PCI node: Pci(device, function). */
    public static Node pci(int device, int function) {
        return new Node(TYPE_HARDWARE, 0x01, new byte[]{(byte) function, (byte) device});
    }

    /** Media/HardDrive node with a GPT signature. */
    public static Node hardDriveGpt(int partition, long startLba, long sizeLba, Guid partGuid) {
        ByteBuffer bb = ByteBuffer.allocate(38).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(partition).putLong(startLba).putLong(sizeLba);
        bb.put(partGuid.toBytes());
        bb.put((byte) 0x02); // MBRType: GPT
        bb.put((byte) 0x02); // SignatureType: GUID
        return new Node(TYPE_MEDIA, MEDIA_HARD_DRIVE, bb.array());
    }

    /** The FilePath text of the last file node, or null. */
    public String filePathText() {
        StringBuilder sb = null;
        for (Node n : nodes) {
            if (n.type == TYPE_MEDIA && n.subType == MEDIA_FILE_PATH) {
                if (sb == null) sb = new StringBuilder();
                String part = utf16z(n.data);
                if (sb.length() > 0 && !sb.toString().endsWith("\\") && !part.startsWith("\\")) sb.append('\\');
                sb.append(part);
            }
        }
        return sb == null ? null : sb.toString();
    }

    // ---- text form ----

    public String toText() {
        if (nodes.isEmpty()) return "";
        StringBuilder sb = new StringBuilder();
        for (Node n : nodes) {
            if (sb.length() > 0) sb.append('/');
            sb.append(nodeText(n));
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return toText();
    }

    static String nodeText(Node n) {
        byte[] d = n.data;
        ByteBuffer bb = ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN);
        try {
            switch (n.type) {
                case TYPE_HARDWARE:
                    if (n.subType == 0x01 && d.length >= 2) return "Pci(0x" + hx(d[1]) + ",0x" + hx(d[0]) + ")";
                    if (n.subType == 0x03 && d.length >= 20) return String.format(Locale.ROOT,
                            "MemoryMapped(0x%x,0x%x,0x%x)", bb.getInt(0), bb.getLong(4), bb.getLong(12));
                    if (n.subType == 0x04 && d.length >= 16) return vendor("VenHw", d);
                    break;
                case TYPE_ACPI:
                    if (n.subType == 0x01 && d.length >= 8) {
                        int hid = bb.getInt(0);
                        int uid = bb.getInt(4);
                        if ((hid & 0xffff) == 0x41d0) {
                            int id = hid >>> 16;
                            switch (id) {
                                case 0x0a03: return "PciRoot(0x" + Integer.toHexString(uid) + ")";
                                case 0x0a08: return "PcieRoot(0x" + Integer.toHexString(uid) + ")";
                                default:
                                    return String.format(Locale.ROOT, "Acpi(PNP%04X,0x%x)", id, uid);
                            }
                        }
                        return String.format(Locale.ROOT, "Acpi(0x%08x,0x%x)", hid, uid);
                    }
                    break;
                case TYPE_MESSAGING:
                    switch (n.subType) {
                        case 0x02: if (d.length >= 4) return "Scsi(0x" + Integer.toHexString(bb.getShort(0) & 0xffff)
                                + ",0x" + Integer.toHexString(bb.getShort(2) & 0xffff) + ")"; break;
                        case 0x05: if (d.length >= 2) return "USB(0x" + hx(d[0]) + ",0x" + hx(d[1]) + ")"; break;
                        case 0x0a: if (d.length >= 16) return vendor("VenMsg", d); break;
                        case 0x0b: if (d.length >= 33) return "MAC(" + Hex.of(d, 0, 6) + ",0x" + hx(d[32]) + ")"; break;
                        case 0x0c: if (d.length >= 19) return ipv4(d, bb); break;
                        case 0x0d: if (d.length >= 40) return ipv6(d, bb); break;
                        case 0x12: if (d.length >= 6) return "Sata(0x" + Integer.toHexString(bb.getShort(0) & 0xffff)
                                + ",0x" + Integer.toHexString(bb.getShort(2) & 0xffff)
                                + ",0x" + Integer.toHexString(bb.getShort(4) & 0xffff) + ")"; break;
                        case 0x17: if (d.length >= 12) return "NVMe(0x" + Integer.toHexString(bb.getInt(0))
                                + "," + eui(d, 4) + ")"; break;
                        case 0x18: return "Uri(" + new String(d, StandardCharsets.US_ASCII) + ")";
                        default: break;
                    }
                    break;
                case TYPE_MEDIA:
                    switch (n.subType) {
                        case MEDIA_HARD_DRIVE:
                            if (d.length >= 38) {
                                int part = bb.getInt(0);
                                long start = bb.getLong(4);
                                long size = bb.getLong(12);
                                int sigType = d[37] & 0xff;
                                String sig = sigType == 2 ? "GPT," + Guid.read(d, 20)
                                        : sigType == 1 ? "MBR,0x" + Integer.toHexString(bb.getInt(20)) : "0x" + hx(d[37]) + ",0";
                                // concatenated, not formatted: a %d would load the locale data (start-up of eventlog show)
                                return "HD(" + part + "," + sig + ",0x" + Long.toHexString(start) + ",0x" + Long.toHexString(size) + ")";
                            }
                            break;
                        case 0x02: if (d.length >= 20) return String.format(Locale.ROOT, "CDROM(0x%x,0x%x,0x%x)",
                                bb.getInt(0), bb.getLong(4), bb.getLong(12)); break;
                        case MEDIA_VENDOR: if (d.length >= 16) return vendor("VenMedia", d); break;
                        case MEDIA_FILE_PATH: return utf16z(d);
                        case 0x05: if (d.length >= 16) return "Media(" + Guid.read(d, 0) + ")"; break;
                        case 0x06: if (d.length >= 16) return "FvFile(" + Guid.read(d, 0) + ")"; break;
                        case 0x07: if (d.length >= 16) return "Fv(" + Guid.read(d, 0) + ")"; break;
                        case 0x08: if (d.length >= 20) return String.format(Locale.ROOT, "Offset(0x%x,0x%x)",
                                bb.getLong(4), bb.getLong(12)); break;
                        default: break;
                    }
                    break;
                case TYPE_BBS:
                    if (n.subType == 0x01 && d.length >= 4) return "BBS(0x" + Integer.toHexString(bb.getShort(0) & 0xffff) + ")";
                    break;
                case TYPE_END:
                    if (n.subType == 0x01) return ",";
                    break;
                default:
                    break;
            }
        } catch (RuntimeException e) {
            // fall through to the generic form for any node whose data does not fit its type
        }
        return String.format(Locale.ROOT, "Path(%d,%d,%s)", n.type, n.subType, Hex.of(d));
    }

    /** IPv4(remote,protocol,DHCP|Static,local[,gateway,subnet]) as the UEFI spec's text form. */
    private static String ipv4(byte[] d, ByteBuffer bb) {
        StringBuilder sb = new StringBuilder("IPv4(").append(ip4(d, 4)).append(',').append(protocol(bb.getShort(12) & 0xffff))
                .append(',').append(d[14] != 0 ? "Static" : "DHCP").append(',').append(ip4(d, 0));
        if (d.length >= 23) sb.append(',').append(ip4(d, 15)).append(',').append(ip4(d, 19));
        return sb.append(')').toString();
    }

    /** IPv6(remote,protocol,origin,local[,gateway,prefix]). */
    private static String ipv6(byte[] d, ByteBuffer bb) {
        int origin = d[38] & 0xff;
        String o = origin == 0 ? "Static" : origin == 1 ? "StatelessAutoConfigure" : "StatefulAutoConfigure";
        StringBuilder sb = new StringBuilder("IPv6(").append(ip6(d, 16)).append(',').append(protocol(bb.getShort(36) & 0xffff))
                .append(',').append(o).append(',').append(ip6(d, 0));
        if (d.length >= 56) sb.append(',').append(ip6(d, 40)).append(',').append(d[39] & 0xff);
        return sb.append(')').toString();
    }

    private static String protocol(int p) {
        return p == 6 ? "TCP" : p == 17 ? "UDP" : "0x" + Integer.toHexString(p);
    }

    private static String ip4(byte[] d, int off) {
        return (d[off] & 0xff) + "." + (d[off + 1] & 0xff) + "." + (d[off + 2] & 0xff) + "." + (d[off + 3] & 0xff);
    }

    private static String ip6(byte[] d, int off) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i > 0) sb.append(':');
            sb.append(Integer.toHexString((d[off + 2 * i] & 0xff) << 8 | (d[off + 2 * i + 1] & 0xff)));
        }
        return sb.toString();
    }

    private static String vendor(String kind, byte[] d) {
        Guid g = Guid.read(d, 0);
        if (d.length == 16) return kind + "(" + g + ")";
        return kind + "(" + g + "," + Hex.of(d, 16, d.length - 16) + ")";
    }

    private static String eui(byte[] d, int off) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i > 0) sb.append('-');
            sb.append(hx(d[off + 7 - i]).toUpperCase(Locale.ROOT));
        }
        return sb.toString();
    }

    private static String hx(byte b) {
        return Integer.toHexString(b & 0xff);
    }

    private static String utf16z(byte[] d) {
        String s = new String(d, 0, d.length & ~1, StandardCharsets.UTF_16LE);
        int z = s.indexOf('\0');
        return z >= 0 ? s.substring(0, z) : s;
    }
}
