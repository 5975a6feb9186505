package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.eventlog.Pcr;
import org.kexecmeasured.uefi.spi.ConfigurationTables;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestBytes;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.ProtocolContext;
import org.kexecmeasured.uefi.spi.Service;
import org.kexecmeasured.uefi.spi.Tcg2Measurer;

/**
 * EFI_TCG2_PROTOCOL (TCG EFI Protocol Specification 1.22): HashLogExtendEvent passes each measurement to
 * the {@link Tcg2Measurer}; GetCapability and GetActivePcrBanks report the measurer's banks (the real TPM's in a
 * measured boot); GetEventLog returns a TCG2-format log: the measurer's (see Tcg2EventLogArea), or an empty
 * one when the measurer keeps none; TCG_1_2 is not offered (SupportedEventLogs = TCG_2), so such a request gets
 * INVALID_PARAMETER as from EDK2 when it exposes no 1.2 log; SubmitCommand is unsupported.
 */
public final class Tcg2Protocol {

    public static final Guid GUID = Guid.parse("607f766c-7455-42be-930b-e4d76db2720f");
    public static final long PE_COFF_IMAGE = 0x10;
    public static final long EXTEND_ONLY = 0x1;
    private static final String[] NAMES = {"GetCapability", "GetEventLog", "HashLogExtendEvent", "SubmitCommand",
        "GetActivePcrBanks", "SetActivePcrBanks", "GetResultOfSetActivePcrBanks"};
    /** EFI_TCG2_BOOT_HASH_ALG_SHA1 | SHA256: the default when no TPM is behind the measurer. */
    public static final int BANKS = 0x1 | 0x2;
    /** Largest DataToHash accepted (the kernel of a UKI is ~8-30 MB). */
    public static final long MAX_HASH_LEN = 512L << 20;

    /** sizeof(EFI_TCG2_BOOT_SERVICE_CAPABILITY): the structure is not packed (EDK2, Linux, systemd). */
    public static final int CAPABILITY_SIZE = 36;
    /** sizeof(TREE_BOOT_SERVICE_CAPABILITY_1_0), naturally aligned (ends with ManufacturerID at 24). */
    public static final int CAPABILITY_1_0_SIZE = 28;

    private final long address;

    /** Builds the protocol over {@code measurer} and installs it on a new handle. */
    public Tcg2Protocol(ProtocolContext ctx, ConfigurationTables tables, Tcg2Measurer measurer) {
        GuestMemory m = ctx.mem();
        int banks = measurer.activePcrBanks(); // the real TPM's banks when a TPM is behind the measurer
        // a real log for GetEventLog and the final events table, when the measurer keeps one
        Tcg2EventLogArea area = measurer.guestEventLog() == null ? null
                : new Tcg2EventLogArea(m, ctx.allocator(), tables, measurer);
        Service[] fns = {
            c -> { // GetCapability: EFI_TCG2_BOOT_SERVICE_CAPABILITY 1.1, naturally aligned (36 bytes)
                long p = c.arg(1);
                if (p == 0) {
                    return EfiStatus.INVALID_PARAMETER;
                }
                int size = m.u8(p);
                if (size < CAPABILITY_1_0_SIZE) {
                    m.putU8(p, CAPABILITY_SIZE); // EDK2 Tcg2GetCapability: the size it needs
                    return EfiStatus.BUFFER_TOO_SMALL;
                }
                byte[] cap = new byte[CAPABILITY_SIZE];
                cap[0] = CAPABILITY_SIZE;
                cap[1] = 1; // StructureVersion 1.1
                cap[2] = 1;
                cap[3] = 1; // ProtocolVersion 1.1
                cap[4] = 1;
                cap[8] = (byte) banks; // HashAlgorithmBitmap (u32 at 8)
                cap[12] = 0x2; // SupportedEventLogs: TCG_2 only (no SHA-1 format log is kept) (u32 at 12)
                cap[16] = 1; // TPMPresentFlag
                cap[19] = 0x10; // MaxCommandSize 4096 (u16 at 18)
                cap[21] = 0x10; // MaxResponseSize 4096 (u16 at 20)
                cap[28] = (byte) Integer.bitCount(banks); // NumberOfPCRBanks (u32 at 28)
                cap[32] = (byte) banks; // ActivePcrBanks (u32 at 32)
                if (size < CAPABILITY_SIZE) {
                    // a 1.0 (TrEE) caller: the 1.0 structure is the first 28 bytes of 1.1, labelled 1.0 (EDK2)
                    cap[0] = CAPABILITY_1_0_SIZE;
                    cap[2] = 0;
                    cap[4] = 0;
                    m.write(p, cap, 0, CAPABILITY_1_0_SIZE);
                    return EfiStatus.SUCCESS;
                }
                m.write(p, cap);
                return EfiStatus.SUCCESS;
            },
            c -> { // GetEventLog(This, Format, *Location, *LastEntry, *Truncated)
                if (c.arg(1) != 2) {
                    return EfiStatus.INVALID_PARAMETER; // only TCG_2 is advertised in SupportedEventLogs
                }
                long[] r = area == null ? new long[3] : area.getEventLog();
                if (c.arg(2) != 0) m.putU64(c.arg(2), r[0]);
                if (c.arg(3) != 0) m.putU64(c.arg(3), r[1]);
                if (c.arg(4) != 0) m.putU8(c.arg(4), (int) r[2]);
                return EfiStatus.SUCCESS;
            },
            c -> { // HashLogExtendEvent(This, Flags, DataToHash, DataToHashLen, Event)
                long flags = c.arg(1);
                long data = c.arg(2);
                long len = c.arg(3);
                long ev = c.arg(4);
                if (ev == 0 || (len != 0 && data == 0) || Long.compareUnsigned(len, MAX_HASH_LEN) > 0) { // UINT64
                    return EfiStatus.INVALID_PARAMETER;
                }
                long size = m.u32(ev);
                long headerSize = m.u32(ev + 4);
                if (headerSize < 14 || size < 4 + headerSize || size > (16 << 20)) {
                    return EfiStatus.INVALID_PARAMETER;
                }
                long pcr = m.u32(ev + 10);
                int type = (int) m.u32(ev + 14);
                if (pcr > Pcr.APPLICATION_SUPPORT) { // PCR 23 is the last of the PC Client platform's 24
                    return EfiStatus.INVALID_PARAMETER;
                }
                byte[] eventData = m.read(ev + 4 + headerSize, size - 4 - headerSize);
                // read by the measurer when it hashes (in pieces: no host copy of a 50 MiB initrd)
                GuestBytes toHash = m.bytes(data, len);
                measurer.measure((int) pcr, type, eventData, toHash, flags);
                return EfiStatus.SUCCESS;
            },
            c -> EfiStatus.UNSUPPORTED,
            c -> {
                if (c.arg(1) == 0) {
                    return EfiStatus.INVALID_PARAMETER;
                }
                m.putU32(c.arg(1), banks);
                return EfiStatus.SUCCESS;
            },
            c -> EfiStatus.UNSUPPORTED,
            c -> EfiStatus.UNSUPPORTED,
        };
        address = ProtocolTable.build(ctx, "Tcg2", NAMES, fns, 8 * NAMES.length);
        ctx.handles().install(0, GUID, address);
    }

    public long address() {
        return address;
    }
}
