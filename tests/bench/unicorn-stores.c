/*
 * Guest memory bandwidth of a Unicorn library, the engine alone (no JVM): 48 MiB of guest RAM in a
 * 1 GiB mapping, the emulator's CPU state (long mode, CR0/CR3/CR4 as uefi.Machine sets them, 2 MiB
 * identity pages) and optionally the emulator's hook set (a UC_HOOK_CODE limited to the trap page,
 * the CPUID UC_HOOK_INSN, UC_HOOK_INTR, UC_HOOK_MEM_INVALID). Each kernel runs twice; the second pass
 * (every page already touched, every block translated) is reported.
 *
 * The library is dlopen()ed by path, so one binary compares Debian's libunicorn2 with the build of
 * native/unicorn/build.sh side by side. Constants are Unicorn 2.0.1's (unicorn.h, x86.h).
 *
 * Usage: unicorn-stores LIBRARY [hooks:0|1] [map_ptr:0|1]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

enum { UC_ARCH_X86 = 4, UC_MODE_64 = 8, UC_PROT_READ = 1, UC_PROT_EXEC = 4, UC_PROT_ALL = 7 };
enum { UC_HOOK_INTR = 1, UC_HOOK_INSN = 2, UC_HOOK_CODE = 4, UC_HOOK_MEM_INVALID = 0x3f0 };
enum { REG_RAX = 35, REG_RCX = 38, REG_RDI = 39, REG_RSI = 43, REG_CR0 = 50, REG_CR3 = 53, REG_CR4 = 54 };
enum { INS_CPUID = 113 };

typedef void uc_engine;
static int (*uc_open)(int, int, uc_engine **);
static int (*uc_close)(uc_engine *);
static const char *(*uc_strerror)(int);
static int (*uc_mem_map)(uc_engine *, uint64_t, size_t, uint32_t);
static int (*uc_mem_map_ptr)(uc_engine *, uint64_t, size_t, uint32_t, void *);
static int (*uc_mem_write)(uc_engine *, uint64_t, const void *, size_t);
static int (*uc_reg_write)(uc_engine *, int, const void *);
static int (*uc_reg_read)(uc_engine *, int, void *);
static int (*uc_emu_start)(uc_engine *, uint64_t, uint64_t, uint64_t, size_t);
static int (*uc_emu_stop)(uc_engine *);
static int (*uc_hook_add)(uc_engine *, size_t *, int, void *, void *, uint64_t, uint64_t, ...);

#define RAM_END (1ULL << 30)
#define SRC 0x10000000ULL
#define DST 0x13005000ULL /* not a multiple of the TLB size away from SRC: no aliasing in QEMU's TLB */
#define LEN (48ULL << 20)
#define CODE 0x100000ULL
#define TRAP 0xFFE00000ULL

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void trap_hook(uc_engine *uc, uint64_t a, uint32_t s, void *u) { (void)uc; (void)a; (void)s; (void)u; }
static int cpuid_hook(uc_engine *uc, void *u) { (void)uc; (void)u; return 0; }
static void intr_hook(uc_engine *uc, uint32_t n, void *u) { (void)n; (void)u; uc_emu_stop(uc); }
static bool invalid_hook(uc_engine *uc, int t, uint64_t a, int s, int64_t v, void *u) {
    (void)uc; (void)t; (void)a; (void)s; (void)v; (void)u;
    return false;
}

struct kernel {
    const char *name;
    unsigned char code[16];
    size_t len;
    int elem;      /* bytes per element: RCX = LEN / elem */
    bool copy;     /* RSI = SRC, RDI = DST; else RDI = SRC */
};

static const struct kernel KERNELS[] = {
    /* 1: mov rax,[rdi]; add rdi,8; dec rcx; jnz 1; hlt */
    {"load  mov 8B", {0x48, 0x8b, 0x07, 0x48, 0x83, 0xc7, 0x08, 0x48, 0xff, 0xc9, 0x75, 0xf4, 0xf4}, 13, 8, false},
    /* 1: mov [rdi],rax; add rdi,8; dec rcx; jnz 1; hlt */
    {"store mov 8B", {0x48, 0x89, 0x07, 0x48, 0x83, 0xc7, 0x08, 0x48, 0xff, 0xc9, 0x75, 0xf4, 0xf4}, 13, 8, false},
    /* 1: mov al,[rsi]; mov [rdi],al; inc rsi; inc rdi; dec rcx; jnz 1; hlt (a byte-wise memcpy) */
    {"memcpy bytes", {0x8a, 0x06, 0x88, 0x07, 0x48, 0xff, 0xc6, 0x48, 0xff, 0xc7, 0x48, 0xff, 0xc9, 0x75, 0xf1, 0xf4}, 16, 1, true},
    {"rep stosq", {0xf3, 0x48, 0xab, 0xf4}, 4, 8, false},
    {"rep movsq", {0xf3, 0x48, 0xa5, 0xf4}, 4, 8, true},
    {"rep stosb", {0xf3, 0xaa, 0xf4}, 3, 1, false},
    {"rep movsb", {0xf3, 0xa4, 0xf4}, 3, 1, true},
};

static void *sym(void *lib, const char *name) {
    void *p = dlsym(lib, name);
    if (!p) {
        fprintf(stderr, "%s: %s\n", name, dlerror());
        exit(2);
    }
    return p;
}

static void check(int err, const char *what) {
    if (err) {
        fprintf(stderr, "%s: %s\n", what, uc_strerror(err));
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s LIBRARY [hooks:0|1] [map_ptr:0|1]\n", argv[0]);
        return 2;
    }
    int hooks = argc > 2 ? atoi(argv[2]) : 1;
    int map_ptr = argc > 3 ? atoi(argv[3]) : 0;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "%s\n", dlerror());
        return 2;
    }
    uc_open = sym(lib, "uc_open");
    uc_close = sym(lib, "uc_close");
    uc_strerror = sym(lib, "uc_strerror");
    uc_mem_map = sym(lib, "uc_mem_map");
    uc_mem_map_ptr = sym(lib, "uc_mem_map_ptr");
    uc_mem_write = sym(lib, "uc_mem_write");
    uc_reg_write = sym(lib, "uc_reg_write");
    uc_reg_read = sym(lib, "uc_reg_read");
    uc_emu_start = sym(lib, "uc_emu_start");
    uc_emu_stop = sym(lib, "uc_emu_stop");
    uc_hook_add = sym(lib, "uc_hook_add");

    uc_engine *uc;
    check(uc_open(UC_ARCH_X86, UC_MODE_64, &uc), "uc_open");
    if (map_ptr) {
        void *host = mmap(NULL, RAM_END - 0x1000, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (host == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        check(uc_mem_map_ptr(uc, 0x1000, RAM_END - 0x1000, UC_PROT_ALL, host), "uc_mem_map_ptr");
    } else {
        check(uc_mem_map(uc, 0x1000, RAM_END - 0x1000, UC_PROT_ALL), "uc_mem_map");
    }
    check(uc_mem_map(uc, TRAP, 0x10000, UC_PROT_READ | UC_PROT_EXEC), "uc_mem_map trap page");

    /* long mode as uefi.Machine sets it up: 2 MiB identity pages over 0-4 GiB */
    uint64_t pml4 = 0x2000, pdpt = 0x3000, pd = 0x4000, v;
    for (int i = 0; i < 2048; i++) {
        v = ((uint64_t)i << 21) | 0x83;
        uc_mem_write(uc, pd + 8 * i, &v, 8);
    }
    for (int j = 0; j < 4; j++) {
        v = (pd + 0x1000 * j) | 3;
        uc_mem_write(uc, pdpt + 8 * j, &v, 8);
    }
    v = pdpt | 3;
    uc_mem_write(uc, pml4, &v, 8);
    uint64_t cr4 = 0x620, cr0 = 0x80010033;
    uc_reg_write(uc, REG_CR4, &cr4);
    uc_reg_write(uc, REG_CR3, &pml4);
    uc_reg_write(uc, REG_CR0, &cr0);

    size_t h;
    if (hooks) {
        check(uc_hook_add(uc, &h, UC_HOOK_CODE, (void *)trap_hook, NULL, TRAP, TRAP + 0xffff), "code hook");
        check(uc_hook_add(uc, &h, UC_HOOK_INSN, (void *)cpuid_hook, NULL, 1, 0, INS_CPUID), "cpuid hook");
        check(uc_hook_add(uc, &h, UC_HOOK_INTR, (void *)intr_hook, NULL, 1, 0), "intr hook");
        check(uc_hook_add(uc, &h, UC_HOOK_MEM_INVALID, (void *)invalid_hook, NULL, 1, 0), "mem hook");
    }

    for (unsigned i = 0; i < sizeof KERNELS / sizeof *KERNELS; i++) {
        const struct kernel *k = &KERNELS[i];
        uint64_t code = CODE + 0x1000 * i;
        check(uc_mem_write(uc, code, k->code, k->len), "uc_mem_write code");
        double dt = 0;
        for (int pass = 0; pass < 2; pass++) {
            uint64_t rdi = k->copy ? DST : SRC, rsi = SRC, rcx = LEN / k->elem, rax = 0x1122334455667788ULL;
            uc_reg_write(uc, REG_RDI, &rdi);
            uc_reg_write(uc, REG_RSI, &rsi);
            uc_reg_write(uc, REG_RCX, &rcx);
            uc_reg_write(uc, REG_RAX, &rax);
            double t0 = now();
            check(uc_emu_start(uc, code, code + k->len - 1, 0, 0), k->name);
            dt = now() - t0;
            uc_reg_read(uc, REG_RCX, &rcx);
            if (rcx != 0) {
                fprintf(stderr, "%s: stopped with RCX=%llu\n", k->name, (unsigned long long)rcx);
                return 1;
            }
        }
        /* name|seconds|MB/s|ns per element (tests/bench/unicorn-stores.sh lays two runs side by side) */
        printf("%s|%.4f|%.1f|%.1f\n", k->name, dt, LEN / dt / 1e6, dt * 1e9 / (double)(LEN / k->elem));
    }
    uc_close(uc);
    return 0;
}
