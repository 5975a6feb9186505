package org.kexecmeasured.uefi.unicorn;

import com.sun.jna.Callback;
import com.sun.jna.Library;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * The part of libunicorn 2.0.1's C API the emulator uses: constants, the hooks' callback types, and the functions
 * as a JNA Library proxy. Constant values checked against Debian's libunicorn-dev 2.0.1.post1 headers (unicorn.h,
 * x86.h). {@link EngineLibrary} loads it; {@link UnicornCpu} calls the engine through {@link UnicornDirect} (the
 * same functions, direct-mapped), the proxy serves the rest of the process (the version for reports).
 */
public interface UnicornLib extends Library {

    int UC_ARCH_X86 = 4;
    int UC_MODE_64 = 1 << 3;
    int UC_PROT_READ = 1;
    int UC_PROT_EXEC = 4;
    int UC_PROT_ALL = 7;

    int UC_ERR_OK = 0;
    int UC_ERR_READ_UNMAPPED = 6;
    int UC_ERR_WRITE_UNMAPPED = 7;
    int UC_ERR_FETCH_UNMAPPED = 8;
    int UC_ERR_INSN_INVALID = 10;
    int UC_ERR_EXCEPTION = 21;

    int UC_HOOK_INTR = 1;
    int UC_HOOK_INSN = 1 << 1;
    int UC_HOOK_CODE = 1 << 2;
    int UC_HOOK_BLOCK = 1 << 3;
    /** Called when a translation block is generated (not when it runs): the translation guard's signal. */
    int UC_HOOK_EDGE_GENERATED = 1 << 15;
    /** READ/WRITE/FETCH _UNMAPPED and _PROT (UC_HOOK_MEM_INVALID). */
    int UC_HOOK_MEM_INVALID = (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9);

    int UC_MEM_READ_UNMAPPED = 19;
    int UC_MEM_WRITE_UNMAPPED = 20;
    int UC_MEM_FETCH_UNMAPPED = 21;
    int UC_MEM_WRITE_PROT = 22;
    int UC_MEM_READ_PROT = 23;
    int UC_MEM_FETCH_PROT = 24;

    int UC_X86_INS_CPUID = 113;
    int UC_X86_INS_IN = 218;
    int UC_X86_INS_OUT = 500;

    /** uc_query_type: did the last uc_emu_start end by its timeout. */
    int UC_QUERY_TIMEOUT = 4;

    /** uc_ctl control codes: UC_CTL(type, nr, rw) = type | nr << 26 | rw << 30 (rw 1 = write). */
    int UC_CTL_TB_REMOVE_CACHE_WRITE = 9 | (2 << 26) | (1 << 30);

    // uc_x86_reg
    int REG_RAX = 35, REG_RBX = 37, REG_RCX = 38, REG_RDX = 40, REG_RSI = 43, REG_RDI = 39, REG_RBP = 36,
            REG_RSP = 44, REG_RIP = 41, REG_R8 = 106, REG_R9 = 107, REG_R10 = 108, REG_R11 = 109, REG_R12 = 110,
            REG_R13 = 111, REG_R14 = 112, REG_R15 = 113, REG_EFLAGS = 25, REG_CR0 = 50, REG_CR3 = 53,
            REG_CR4 = 54, REG_CS = 11, REG_DS = 17, REG_ES = 28, REG_SS = 49, REG_FS = 32, REG_GS = 33,
            REG_XMM0 = 122, REG_IDTR = 242, REG_GDTR = 243, REG_MSR = 248;

    /** void (*uc_cb_hookcode_t)(uc_engine*, uint64_t address, uint32_t size, void*). */
    interface CodeHook extends Callback {
        void invoke(Pointer uc, long address, int size, Pointer user);
    }

    /** void (*uc_cb_hookintr_t)(uc_engine*, uint32_t intno, void*). */
    interface IntrHook extends Callback {
        void invoke(Pointer uc, int intno, Pointer user);
    }

    /** bool (*uc_cb_eventmem_t)(uc_engine*, uc_mem_type, uint64_t address, int size, int64_t value, void*). */
    interface EventMemHook extends Callback {
        boolean invoke(Pointer uc, int type, long address, int size, long value, Pointer user);
    }

    /**
     * void (*uc_hook_edge_gen_t)(uc_engine*, uc_tb *cur_tb, uc_tb *prev_tb, void*); uc_tb is
     * {u64 pc; u16 icount; u16 size}. prev_tb may describe a block that no longer exists.
     */
    interface EdgeGeneratedHook extends Callback {
        void invoke(Pointer uc, Pointer curTb, Pointer prevTb, Pointer user);
    }

    /** int (*uc_cb_insn_cpuid_t)(uc_engine*, void*): nonzero = the hook executed the instruction. */
    interface CpuidHook extends Callback {
        int invoke(Pointer uc, Pointer user);
    }

    /** uint32_t (*uc_cb_insn_in_t)(uc_engine*, uint32_t port, int size, void*): the value read. */
    interface InHook extends Callback {
        int invoke(Pointer uc, int port, int size, Pointer user);
    }

    /** void (*uc_cb_insn_out_t)(uc_engine*, uint32_t port, int size, uint32_t value, void*). */
    interface OutHook extends Callback {
        void invoke(Pointer uc, int port, int size, int value, Pointer user);
    }

    /** major << 24 | minor << 16 | patch << 8 | extra (Unicorn 2.x). */
    int uc_version(Pointer major, Pointer minor);

    int uc_open(int arch, int mode, PointerByReference uc);

    int uc_close(Pointer uc);

    String uc_strerror(int code);

    int uc_mem_map(Pointer uc, long address, long size, int perms);

    /** Maps guest memory backed by host memory the caller owns (and frees after uc_close). */
    int uc_mem_map_ptr(Pointer uc, long address, long size, int perms, Pointer ptr);

    /** Unmaps [address, address + size) (page-aligned; may cut a mapped region in parts). */
    int uc_mem_unmap(Pointer uc, long address, long size);

    int uc_mem_read(Pointer uc, long address, Pointer bytes, long size);

    int uc_mem_write(Pointer uc, long address, Pointer bytes, long size);

    int uc_reg_read(Pointer uc, int regid, Pointer value);

    int uc_reg_write(Pointer uc, int regid, Pointer value);

    int uc_emu_start(Pointer uc, long begin, long until, long timeoutMicros, long count);

    int uc_emu_stop(Pointer uc);

    /** uc_err uc_query(uc_engine*, uc_query_type, size_t *result). */
    int uc_query(Pointer uc, int type, LongByReference result);

    int uc_hook_add(Pointer uc, LongByReference hh, int type, Callback cb, Pointer user, long begin, long end);

    /** The variadic form for UC_HOOK_INSN (one extra int: the instruction id). */
    int uc_hook_add(Pointer uc, LongByReference hh, int type, Callback cb, Pointer user, long begin, long end,
                    int insn);

    int uc_hook_del(Pointer uc, long hh);

    /**
     * uc_ctl(uc, UC_CTL_TB_REMOVE_CACHE write, uint64 begin, uint64 end): drops the translated blocks of
     * [begin, end). Unicorn 2.0.1's uc_mem_write does not invalidate translated code; host writes do it with this.
     */
    int uc_ctl(Pointer uc, int control, long begin, long end);

}
