/**
 * The {@link org.kexecmeasured.uefi.spi.Cpu} on the Unicorn engine through JNA: the only package that sees
 * libunicorn.
 *
 * <ul>
 *   <li>{@link org.kexecmeasured.uefi.unicorn.EngineLibrary}: which libunicorn runs — the build of
 *   {@code native/unicorn} (store fast path, bounded translation cache) when present, else Debian's
 *   {@code libunicorn2} 2.0.1; {@code describe()} says which, for the command output.</li>
 *   <li>{@link org.kexecmeasured.uefi.unicorn.UnicornLib}: the part of the C API used, constants from the
 *   2.0.1 headers. {@code UnicornDirect}: the same functions bound by JNA's direct mapping, which {@code UnicornCpu}
 *   calls (registers and guest memory thousands of times per run): no reflective proxy per call, and hooks
 *   registered through it are called back by JNI directly.</li>
 *   <li>{@link org.kexecmeasured.uefi.unicorn.UnicornCpu}: the engine with its hooks — trap range, CPUID,
 *   interrupts, invalid memory (which also materializes deferred RAM), block translation, and the heads of
 *   recognized copy loops (nothing runs on ordinary guest code). Its host writes check
 *   {@code isGuestWritable} first ({@code uc_mem_write} ignores page protections); the read-execute mapping gets
 *   its content when it is mapped. Guest RAM is one host mapping given to the engine in 32 MiB regions: a partial
 *   unmap (a deferral) costs the engine a TLB page flush per page of every region it meets, so small regions keep
 *   it to the deferred range and its neighbours.</li>
 *   <li>{@code DeferredRam}: guest RAM whose content is still only in a host buffer — large sections an image
 *   {@code place}s (a UKI's {@code .linux} and {@code .initrd}) and large buffers the host zeroes for the guest to
 *   fill. The engine has those pages unmapped: the guest's first access maps the 2 MiB chunk around it (copied
 *   from the buffer), host reads take the buffer's bytes, host writes map first. Fresh memory is the largest
 *   per-MiB cost of a run on a virtual machine (~2 ms/MiB for the kernel to zero each new page).
 *   {@code placedContent} hands the host a view of the placed buffer for a range whose every byte is still the
 *   placement's (deferred pages by memory identity, RAM pages the guest touched by comparison, in place with
 *   {@code memcmp}): LoadImage of a
 *   stub's own {@code .linux} and the measured-kernel candidates then take the payload's bytes, no copy.</li>
 *   <li>{@code CopyLoop}: a compiled byte-by-byte copy loop (systemd-stub 252's {@code memcpy}), recognized when
 *   the engine translates its head and from then on done by the host in one step, with the loop's registers and
 *   flags; a copy of deferred content into deferred zeros (the stub's LoadFile2 serving its {@code .initrd} at
 *   the cut-over) is then bookkeeping only.</li>
 *   <li>{@code TranslationGuard}: ends runs of code the engine would translate without end (zeroed memory,
 *   self-modifying loops, runaway code) as {@code RunResult.End.RUNAWAY_CODE}, with a message naming it.</li>
 * </ul>
 *
 * <p>Depends on {@code uefi.spi} only; {@code uefi.Platform} chooses it as the production CPU, and {@code cli}
 * prints {@code EngineLibrary}'s description.
 */
package org.kexecmeasured.uefi.unicorn;
