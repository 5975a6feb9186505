package org.kexecmeasured.uefi.spi;

/** The firmware's events (UEFI 2.10 §7.1), as protocols need them. */
@FunctionalInterface
public interface Events {
    /** A firmware-owned EFI_EVENT that nothing signals (e.g. SimpleTextInput.WaitForKey: no keys arrive). */
    long newEvent();
}
