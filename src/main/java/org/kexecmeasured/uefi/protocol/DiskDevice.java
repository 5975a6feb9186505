package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.DevicePath;
import org.kexecmeasured.efi.disk.BlockDevice;
import org.kexecmeasured.efi.disk.Gpt;
import org.kexecmeasured.uefi.spi.HandleDatabase;
import org.kexecmeasured.uefi.spi.ProtocolContext;

import java.util.ArrayList;
import java.util.List;

/**
 * A disk as EDK2's drivers present one: a handle for the whole disk ({@code PciRoot(0x0)/Pci(dev,0x0)}, the
 * virtio-blk controller's place) and, as PartitionDxe does, a child handle per GPT partition (the disk's path
 * plus {@code HD(n,GPT,guid,start,size)}), each with a device path, BlockIo and DiskIo. The EFI system
 * partition also carries EFI_PART_TYPE_EFI_SYSTEM_PART_GUID (a NULL interface), as in EDK2.
 */
public final class DiskDevice {

    private final long diskHandle;
    private final List<Long> partitionHandles = new ArrayList<>();
    private final long espHandle;
    private final Gpt.Partition esp;
    private final DevicePath diskPath;

    /** Installs {@code disk} (with the partitions of {@code gpt}) as PCI device {@code pciDevice}. */
    public DiskDevice(ProtocolContext ctx, BlockDevice disk, Gpt gpt, int pciDevice) {
        diskPath = DevicePath.of(List.of(DevicePath.pciRoot(0), DevicePath.pci(pciDevice, 0)));
        diskHandle = ctx.handles().install(0, HandleDatabase.DEVICE_PATH, ctx.allocator().firmwareCopy(diskPath.toBytes()));
        DiskRegion whole = new DiskRegion(disk, 0, disk.blocks());
        new BlockIoProtocol(ctx, diskHandle, whole, false);
        new DiskIoProtocol(ctx, diskHandle, whole);
        long espH = 0;
        Gpt.Partition espP = null;
        for (Gpt.Partition p : gpt.partitions()) {
            DevicePath dp = diskPath.append(DevicePath.hardDriveGpt(p.number(), p.firstLba(), p.blocks(), p.unique()));
            long h = ctx.handles().install(0, HandleDatabase.DEVICE_PATH, ctx.allocator().firmwareCopy(dp.toBytes()));
            DiskRegion r = new DiskRegion(disk, p.firstLba(), p.blocks());
            new BlockIoProtocol(ctx, h, r, true);
            new DiskIoProtocol(ctx, h, r);
            if (p.isEsp()) {
                ctx.handles().install(h, Gpt.ESP_TYPE, 0);
                if (espP == null) {
                    espH = h;
                    espP = p;
                }
            }
            partitionHandles.add(h);
        }
        espHandle = espH;
        esp = espP;
    }

    public long diskHandle() {
        return diskHandle;
    }

    public List<Long> partitionHandles() {
        return List.copyOf(partitionHandles);
    }

    /** The first EFI system partition's handle, or 0. */
    public long espHandle() {
        return espHandle;
    }

    /** The first EFI system partition, or null. */
    public Gpt.Partition esp() {
        return esp;
    }

    public DevicePath diskPath() {
        return diskPath;
    }
}
