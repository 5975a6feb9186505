/**
 * The emulated CPU on the Unicorn engine (JNA): the only package that sees libunicorn.
 *
 * <ul>
 *   <li>{@link org.kexecmeasured.uefi.unicorn.EngineLibrary}: which libunicorn runs — the build of
 *   {@code native/unicorn} (store fast path, bounded translation cache) when present, else Debian's
 *   {@code libunicorn2}; {@code describe()} says which, for the command output.</li>
 *   <li>{@link org.kexecmeasured.uefi.unicorn.UnicornLib}: the part of the C API in use, constants from
 *   the 2.0.1 headers.</li>
 *   <li>{@link org.kexecmeasured.uefi.unicorn.UnicornCpu}: {@link org.kexecmeasured.uefi.Cpu} and
 *   {@link org.kexecmeasured.uefi.GuestMemory} on one engine instance; its hooks run only at the trap page,
 *   on CPUID, on faults, and when a block is translated.</li>
 *   <li>{@code TranslationGuard}: stops payloads that make the engine translate without end (zeroed memory,
 *   self-modifying loops, runaway code) with a message that names what they do.</li>
 * </ul>
 *
 * <p>Arrows: this package implements interfaces of {@code uefi}; {@code uefi} itself names only
 * {@code UnicornCpu} (construction) — nothing else depends on this package except {@code cli}, which prints
 * the engine's description.
 */
package org.kexecmeasured.uefi.unicorn;
