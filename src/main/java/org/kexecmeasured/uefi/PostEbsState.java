package org.kexecmeasured.uefi;

import org.kexecmeasured.uefi.spi.MemoryType;

import java.util.List;
import java.util.Map;

/**
 * The state at the first control transfer out of the payload after ExitBootServices (full emulation), or, in
 * resume capture ({@link EmulatorOptions#stopAtExitBootServices()}), at the instruction ExitBootServices returned to
 * &mdash; except when the image that called ExitBootServices is a Linux kernel that supports EFI kexec (XLF_EFI_KEXEC,
 * {@link ImageServices#acceptsEfiKexec}: its EFI stub): then resume capture
 * too stops at the stub's jump into the kernel ({@link Point#KERNEL_ENTRY}), because the stub fills boot_params
 * after ExitBootServices returns (the e820 table from the EFI memory map) and a resumed stub would overwrite what
 * the hand-over puts there (the real firmware's system table and memory map).
 *
 * @param point        where the state was captured
 * @param entry        RIP of the transfer (the kernel entry), or of the return from ExitBootServices
 * @param bootParams   RSI (x86 boot protocol: boot_params; meaningless at the return from ExitBootServices)
 * @param registers    general registers and CR0/CR3/CR4 at the transfer
 * @param segments     allocated memory as a segment list (every range that is neither free nor firmware-owned; in
 *                     resume capture boot services memory too)
 * @param memoryMap    the EFI memory map at ExitBootServices
 */
public record PostEbsState(Point point, long entry, long bootParams, Map<String, Long> registers,
                           List<Segment> segments, List<MemoryMap.Region> memoryMap) {

    /** Where the state was captured. */
    public enum Point {
        /** The instruction ExitBootServices returned to (resume capture of any payload but a Linux kernel). */
        EXIT_BOOT_SERVICES_RETURN,
        /** The first block outside the image that called ExitBootServices: a Linux stub's jump into its kernel. */
        KERNEL_ENTRY
    }

    /** The same state with other segments (the hand-over's rewritten boot_params and added data). */
    public PostEbsState withSegments(List<Segment> replaced) {
        return new PostEbsState(point, entry, bootParams, registers, List.copyOf(replaced), memoryMap);
    }

    /** One allocated range and its content at the transfer. */
    public record Segment(long start, MemoryType type, byte[] data) {
    }
}
