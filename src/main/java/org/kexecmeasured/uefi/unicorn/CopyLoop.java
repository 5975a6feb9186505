package org.kexecmeasured.uefi.unicorn;

import org.kexecmeasured.uefi.spi.Cpu.Reg;

/**
 * A compiled byte-by-byte copy loop, which the engine runs at a few hundred MB/s and the host at memory speed:
 * <pre>
 *   head: movzx T, byte [S + I]      ; [REX] 0F B6 /r, SIB scale 1
 *         mov   byte [D + I], T8     ; [REX] 88 /r, SIB scale 1, same index
 *         add   I, 1                 ; REX.W 83 /0 ib 01   (or inc I: REX.W FF /0)
 *         cmp   I, N  (or N, I)      ; REX.W 39 /r or 3B /r, registers only
 *         jne   head                 ; 75 rel8
 * </pre>
 * systemd-stub 252's {@code memcpy} is exactly this (gcc at -O2 with SSE off), and it is how the stub's LoadFile2
 * hands over its 50 MiB {@code .initrd}. At the head, with {@code c = N - I} iterations left (unsigned), the loop
 * leaves memory as memmove(D + I, S + I, c) does — unless the destination starts inside the source above it
 * (the forward byte loop then repeats a pattern; the engine runs those itself) — and the registers as
 * {@code T = zero-extended S[I + c - 1]} (each read sees the source's original byte: writes land below it),
 * {@code I = N}, flags of a compare of equal values, RIP after the {@code jne}.
 */
record CopyLoop(long head, long exit, int t, int s, int d, int i, int n) {

    /** Bytes read at a block's start to recognize the loop (its longest encoding is 24 bytes). */
    static final int MAX_LENGTH = 24;

    /** x86 register numbers (ModRM/SIB encoding with REX extension) in the order of {@link Reg}'s GPRs. */
    private static final Reg[] GPR = {Reg.RAX, Reg.RCX, Reg.RDX, Reg.RBX, Reg.RSP, Reg.RBP, Reg.RSI, Reg.RDI,
            Reg.R8, Reg.R9, Reg.R10, Reg.R11, Reg.R12, Reg.R13, Reg.R14, Reg.R15};

    static Reg reg(int n) {
        return GPR[n];
    }

    /** The loop whose head is at {@code pc} and whose first bytes are {@code b} (at least MAX_LENGTH), or null. */
    static CopyLoop match(long pc, byte[] b) {
        int p = 0;
        // movzx T, byte [S + I*1]
        int rex = rex(b[p]);
        if (rex >= 0) {
            p++;
        }
        if (u(b[p]) != 0x0F || u(b[p + 1]) != 0xB6) {
            return null;
        }
        p += 2;
        int[] m1 = sibOperand(b, p, rex);
        if (m1 == null) {
            return null;
        }
        int t = m1[0];
        int s = m1[1];
        int i = m1[2];
        p += 2;
        // mov byte [D + I*1], T8
        int rex2 = rex(b[p]);
        if (rex2 >= 0) {
            p++;
        }
        if (u(b[p]) != 0x88) {
            return null;
        }
        p++;
        int[] m2 = sibOperand(b, p, rex2);
        if (m2 == null || m2[0] != t || m2[2] != i || (rex2 < 0 && t >= 4)) { // without REX, 4-7 are AH..BH
            return null;
        }
        int d = m2[1];
        p += 2;
        if (t == i || t == s || t == d || i == s || i == d) {
            return null; // the loop's addresses would change under it
        }
        // add I, 1  |  inc I
        int rex3 = rex(b[p]);
        if (rex3 < 0 || (rex3 & 8) == 0) {
            return null; // a 64-bit count only
        }
        p++;
        int op = u(b[p]);
        int modrm = u(b[p + 1]);
        if ((modrm >> 6) != 3 || ((modrm >> 3) & 7) != 0 || ((modrm & 7) | (rex3 & 1) << 3) != i) {
            return null;
        }
        if (op == 0x83 && u(b[p + 2]) == 1) {
            p += 3;
        } else if (op == 0xFF) {
            p += 2;
        } else {
            return null;
        }
        // cmp I, N  |  cmp N, I (registers)
        int rex4 = rex(b[p]);
        if (rex4 < 0 || (rex4 & 8) == 0) {
            return null;
        }
        p++;
        op = u(b[p]);
        modrm = u(b[p + 1]);
        if ((op != 0x39 && op != 0x3B) || (modrm >> 6) != 3) {
            return null;
        }
        int r = ((modrm >> 3) & 7) | (rex4 & 4) << 1;
        int rm = (modrm & 7) | (rex4 & 1) << 3;
        int n;
        if (r == i) {
            n = rm;
        } else if (rm == i) {
            n = r;
        } else {
            return null;
        }
        if (n == i || n == t) {
            return null;
        }
        p += 2;
        // jne head
        if (u(b[p]) != 0x75 || p + 2 + b[p + 1] != 0) {
            return null;
        }
        p += 2;
        return new CopyLoop(pc, pc + p, t, s, d, i, n);
    }

    /** The REX prefix's low bits (W R X B), or -1 when {@code x} is no REX prefix. */
    private static int rex(byte x) {
        return (u(x) & 0xF0) == 0x40 ? u(x) & 0x0F : -1;
    }

    /** ModRM mod=00 rm=100 with SIB scale 1, a base (not RBP/R13 without displacement) and an index: {reg, base, index}. */
    private static int[] sibOperand(byte[] b, int p, int rex) {
        int modrm = u(b[p]);
        int sib = u(b[p + 1]);
        if ((modrm >> 6) != 0 || (modrm & 7) != 4 || (sib >> 6) != 0 || (sib & 7) == 5) {
            return null;
        }
        int x = rex < 0 ? 0 : rex;
        int reg = ((modrm >> 3) & 7) | (x & 4) << 1;
        int index = ((sib >> 3) & 7) | (x & 2) << 2;
        int base = (sib & 7) | (x & 1) << 3;
        if (index == 4) {
            return null; // no index
        }
        return new int[]{reg, base, index};
    }

    private static int u(byte x) {
        return x & 0xff;
    }
}
