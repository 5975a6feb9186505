package org.kexecmeasured.uefi.spi;

/**
 * What every protocol implementation uses to exist in the guest: guest memory for its arguments and
 * results, the allocator for its interface structure, trap slots for its functions, and the handle
 * database to install itself. Protocols needing more (console, events, configuration tables, the
 * measurer, randomness) take those views as well, and nothing else of the firmware.
 */
public record ProtocolContext(GuestMemory mem, Allocator allocator, ServiceSlots slots, HandleDatabase handles) {
}
