/**
 * The contracts between the firmware core ({@code uefi}) and its plug-ins: the protocols
 * ({@code uefi.protocol}) and the CPU engine ({@code uefi.unicorn}). Plug-ins depend on this package only,
 * never on the core, so the package graph has no cycle; the core implements these interfaces and
 * {@code uefi.Platform} wires them together.
 *
 * <ul>
 *   <li>The guest ABI: {@link org.kexecmeasured.uefi.spi.GuestMemory} (typed little-endian reads and writes,
 *   device paths, ranges checked against mapped RAM before the host allocates, writes only into guest-writable
 *   RAM),
 *   {@link org.kexecmeasured.uefi.spi.Call} (MS x64 arguments) and
 *   {@link org.kexecmeasured.uefi.spi.Service} (a firmware function), spec types
 *   {@link org.kexecmeasured.uefi.spi.EfiStatus}, {@link org.kexecmeasured.uefi.spi.MemoryType},
 *   {@link org.kexecmeasured.uefi.spi.EfiTime}.</li>
 *   <li>The engine: {@link org.kexecmeasured.uefi.spi.Cpu} (with its {@code Factory}) and
 *   {@link org.kexecmeasured.uefi.spi.RunResult} (how a run ended: stopped, timed out, halted, faulted …).</li>
 *   <li>The views protocols get: {@link org.kexecmeasured.uefi.spi.ProtocolContext} (memory,
 *   {@link org.kexecmeasured.uefi.spi.Allocator}, {@link org.kexecmeasured.uefi.spi.ServiceSlots},
 *   {@link org.kexecmeasured.uefi.spi.HandleDatabase}) and, where a protocol needs them,
 *   {@link org.kexecmeasured.uefi.spi.Console}, {@link org.kexecmeasured.uefi.spi.Events},
 *   {@link org.kexecmeasured.uefi.spi.ConfigurationTables}, {@link org.kexecmeasured.uefi.spi.Tcg2Measurer},
 *   {@link org.kexecmeasured.uefi.spi.RandomSource}, {@link org.kexecmeasured.uefi.spi.HostFileSystem}.</li>
 *   <li>Failures: {@link org.kexecmeasured.uefi.spi.GuestMemoryException} (a guest pointer outside RAM, or a write
 *   into memory the guest cannot write) and
 *   {@link org.kexecmeasured.uefi.spi.ServiceException} (a service cannot go on); either ends the run with a
 *   message naming the service.</li>
 * </ul>
 */
package org.kexecmeasured.uefi.spi;
