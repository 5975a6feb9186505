package org.kexecmeasured.boot;

/** Where a measurement came from (kept in the side record, the manifest and the boot's JSON). */
public enum Origin {
    /** The payload's own EFI_TCG2 HashLogExtendEvent. */
    PAYLOAD,
    /** The emulated firmware's own measurements (image loads, boot-option and ExitBootServices actions). */
    FIRMWARE,
    /** What the Linux EFI stub measures at the cut-over (PCR 9 tagged events), done natively. */
    LINUX_STUB,
    /** The kexec boundary record. */
    BOUNDARY;

    /** The lower-case name used in files ("linux_stub"). */
    public String id() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
