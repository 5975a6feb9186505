/**
 * The {@link org.kexecmeasured.uefi.spi.Cpu} on Unicorn 2.0.1 (Debian's libunicorn2) through JNA:
 * {@link org.kexecmeasured.uefi.unicorn.UnicornLib} is the part of the C API used,
 * {@link org.kexecmeasured.uefi.unicorn.UnicornCpu} the engine with its hooks (trap range, CPUID, interrupts,
 * invalid memory). Depends on {@code uefi.spi} only; {@code uefi.Platform} chooses it as the production CPU.
 */
package org.kexecmeasured.uefi.unicorn;
