package org.kexecmeasured.uefi.unicorn;

import com.sun.jna.Callback;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * The engine calls {@link UnicornCpu} makes — by the thousand per run for registers, guest memory and dropping
 * translated blocks — bound by JNA's direct mapping ({@link Native#register}): a JNI call into JNA's native
 * dispatch, with the arguments converted there. Through the {@link UnicornLib} proxy each call is a reflective proxy
 * invocation (arguments boxed into an Object[], a method lookup, the conversions in Java, and a first call per
 * method that builds its invocation), which C1 compiles late in a one-shot run and the interpreter runs in the
 * meantime. A 60 MiB UKI's boot makes ~2,700 of these calls.
 * Hooks are added here too: JNA then calls a callback passed to a direct-mapped function directly (its Java method
 * by JNI with the arguments converted natively) instead of through its reflective callback proxy, once per service
 * call (the trap hook) and per translated block (the translation hook).
 * Same C functions and signatures as in {@link UnicornLib}; {@link EngineLibrary} registers them on the library it
 * loaded, before any engine exists.
 */
final class UnicornDirect {

    private UnicornDirect() {
    }

    private static volatile NativeLibrary registered;

    /** Binds the methods below to {@code lib}'s functions (once per process: the library never changes). */
    static synchronized void register(NativeLibrary lib) {
        if (registered == null) {
            Native.register(UnicornDirect.class, lib);
            registered = lib;
        } else if (registered != lib) {
            throw new IllegalStateException("the direct Unicorn binding is already on " + registered.getName());
        }
    }

    static native int uc_open(int arch, int mode, PointerByReference uc);

    static native int uc_close(Pointer uc);

    static native String uc_strerror(int code);

    static native int uc_mem_map(Pointer uc, long address, long size, int perms);

    static native int uc_mem_map_ptr(Pointer uc, long address, long size, int perms, Pointer ptr);

    static native int uc_mem_unmap(Pointer uc, long address, long size);

    static native int uc_emu_start(Pointer uc, long begin, long until, long timeoutMicros, long count);

    static native int uc_emu_stop(Pointer uc);

    static native int uc_query(Pointer uc, int type, LongByReference result);

    static native int uc_hook_del(Pointer uc, long hh);

    static native int uc_mem_read(Pointer uc, long address, Pointer bytes, long size);

    static native int uc_mem_write(Pointer uc, long address, Pointer bytes, long size);

    static native int uc_reg_read(Pointer uc, int regid, Pointer value);

    static native int uc_reg_write(Pointer uc, int regid, Pointer value);

    static native int uc_hook_add(Pointer uc, LongByReference hh, int type, Callback cb, Pointer user, long begin,
                                  long end);

    /** The variadic form for UC_HOOK_INSN (one extra int: the instruction id), as in {@link UnicornLib}. */
    static native int uc_hook_add(Pointer uc, LongByReference hh, int type, Callback cb, Pointer user, long begin,
                                  long end, int insn);

    /** uc_ctl(uc, control, uint64 begin, uint64 end): the variadic call's fixed form, as in {@link UnicornLib#uc_ctl}. */
    static native int uc_ctl(Pointer uc, int control, long begin, long end);
}
