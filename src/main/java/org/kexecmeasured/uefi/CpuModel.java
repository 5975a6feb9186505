package org.kexecmeasured.uefi;

import java.nio.charset.StandardCharsets;

/**
 * The CPUID answers of the emulated CPU (Unicorn 2.0.1's own leaf 1 lacks FPU/TSC/PAE/MSR/PGE/APIC,
 * see uefi-subset §6, so every CPUID is answered here).
 *
 * @param vendor      12-character vendor string
 * @param signature   leaf 1 EAX (family/model/stepping)
 * @param leaf1Ebx    leaf 1 EBX
 * @param leaf1Ecx    leaf 1 ECX feature flags
 * @param leaf1Edx    leaf 1 EDX feature flags
 * @param leaf7Ebx    leaf 7 sub-leaf 0 EBX
 * @param maxLeaf     leaf 0 EAX
 * @param maxExtLeaf  leaf 0x80000000 EAX
 * @param ext1Ecx     leaf 0x80000001 ECX
 * @param ext1Edx     leaf 0x80000001 EDX
 * @param addressSizes leaf 0x80000008 EAX (physical | virtual << 8)
 * @param brand       brand string (at most 48 characters)
 */
public record CpuModel(String vendor, int signature, int leaf1Ebx, int leaf1Ecx, int leaf1Edx, int leaf7Ebx,
                       int maxLeaf, int maxExtLeaf, int ext1Ecx, int ext1Edx, int addressSizes, String brand) {

    /**
     * A family-6 Intel CPU with the features Unicorn's TCG really executes: FPU…SSE2 (EDX 0x078BFBFF),
     * SSE3/SSSE3/CX16/SSE4.1/SSE4.2/POPCNT; no AVX, no RDRAND, no hypervisor bit; SYSCALL/NX/LM.
     */
    public static final CpuModel DEFAULT = new CpuModel("GenuineIntel", 0x000306C3, 0x00010800,
            (1) | (1 << 9) | (1 << 13) | (1 << 19) | (1 << 20) | (1 << 23), 0x078BFBFF, 0,
            0xD, 0x80000008, 1, (1 << 11) | (1 << 20) | (1 << 29), 0x3028, "kexec-measured emulated x86_64 CPU");

    /** Fills {@code out} = {EAX, EBX, ECX, EDX} for {@code leaf}/{@code subLeaf}. */
    public void answer(int leaf, int subLeaf, int[] out) {
        out[0] = out[1] = out[2] = out[3] = 0;
        byte[] v = vendor.getBytes(StandardCharsets.US_ASCII);
        switch (leaf) {
            case 0 -> {
                out[0] = maxLeaf;
                vendorRegisters(out, v);
            }
            case 1 -> {
                out[0] = signature;
                out[1] = leaf1Ebx;
                out[2] = leaf1Ecx;
                out[3] = leaf1Edx;
            }
            case 7 -> {
                if (subLeaf == 0) {
                    out[1] = leaf7Ebx;
                }
            }
            case 0x80000000 -> {
                out[0] = maxExtLeaf;
                vendorRegisters(out, v);
            }
            case 0x80000001 -> {
                out[2] = ext1Ecx;
                out[3] = ext1Edx;
            }
            case 0x80000002, 0x80000003, 0x80000004 -> {
                byte[] b = new byte[48];
                byte[] s = brand.getBytes(StandardCharsets.US_ASCII);
                System.arraycopy(s, 0, b, 0, Math.min(47, s.length));
                int base = (leaf - 0x80000002) * 16;
                for (int i = 0; i < 4; i++) {
                    out[i] = le(b, base + 4 * i);
                }
            }
            case 0x80000008 -> out[0] = addressSizes;
            default -> {
                // leaves above the maxima and unlisted leaves read as zero
            }
        }
    }

    /** The 12-character vendor string in EBX, EDX, ECX (leaves 0 and 0x80000000). */
    private static void vendorRegisters(int[] out, byte[] v) {
        out[1] = le(v, 0);
        out[3] = le(v, 4);
        out[2] = le(v, 8);
    }

    private static int le(byte[] b, int o) {
        return (b[o] & 0xff) | (b[o + 1] & 0xff) << 8 | (b[o + 2] & 0xff) << 16 | (b[o + 3] & 0xff) << 24;
    }
}
