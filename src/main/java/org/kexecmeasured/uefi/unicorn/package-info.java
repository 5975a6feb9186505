/**
 * The {@link org.kexecmeasured.uefi.spi.Cpu} on the Unicorn engine through JNA: the only package that sees
 * libunicorn.
 *
 * <ul>
 *   <li>{@link org.kexecmeasured.uefi.unicorn.EngineLibrary}: which libunicorn runs — the build of
 *   {@code native/unicorn} (store fast path, bounded translation cache) when present, else Debian's
 *   {@code libunicorn2} 2.0.1; {@code describe()} says which, for the command output.</li>
 *   <li>{@link org.kexecmeasured.uefi.unicorn.UnicornLib}: the part of the C API used, constants from the
 *   2.0.1 headers.</li>
 *   <li>{@link org.kexecmeasured.uefi.unicorn.UnicornCpu}: the engine with its hooks — trap range, CPUID,
 *   interrupts, invalid memory, and block translation (nothing runs on ordinary guest code).</li>
 *   <li>{@code TranslationGuard}: ends runs of code the engine would translate without end (zeroed memory,
 *   self-modifying loops, runaway code) as {@code RunResult.End.RUNAWAY_CODE}, with a message naming it.</li>
 * </ul>
 *
 * <p>Depends on {@code uefi.spi} only; {@code uefi.Platform} chooses it as the production CPU, and {@code cli}
 * prints {@code EngineLibrary}'s description.
 */
package org.kexecmeasured.uefi.unicorn;
