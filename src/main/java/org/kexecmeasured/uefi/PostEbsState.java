package org.kexecmeasured.uefi;

import org.kexecmeasured.uefi.spi.MemoryType;

import java.util.List;
import java.util.Map;

/**
 * The state at the first control transfer out of the payload after ExitBootServices (full emulation), or, in
 * resume capture ({@link EmulatorOptions#stopAtExitBootServices()}), at the instruction ExitBootServices returned to.
 *
 * @param entry        RIP of the transfer (the kernel entry), or of the return from ExitBootServices
 * @param bootParams   RSI (x86 boot protocol: boot_params; meaningless at the return from ExitBootServices)
 * @param registers    general registers and CR0/CR3/CR4 at the transfer
 * @param segments     allocated memory as a segment list (every range that is neither free nor firmware-owned; in
 *                     resume capture boot services memory too)
 * @param memoryMap    the EFI memory map at ExitBootServices
 */
public record PostEbsState(long entry, long bootParams, Map<String, Long> registers, List<Segment> segments,
                           List<MemoryMap.Region> memoryMap) {

    /** One allocated range and its content at the transfer. */
    public record Segment(long start, MemoryType type, byte[] data) {
    }
}
