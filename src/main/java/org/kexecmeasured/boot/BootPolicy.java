package org.kexecmeasured.boot;

import org.kexecmeasured.eventlog.Pcr;

import java.util.Collections;
import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * What a measured boot may extend: the extend set (PCRs whose payload events go to the TPM and the
 * replayable log) and the boundary set (PCRs that get the kexec boundary event first). Every PCR
 * of the extend set is also a boundary PCR (boundary spec, rule 3).
 *
 * @param id the policy's name or hex SHA-256 of its file, as written in the boundary event
 */
public record BootPolicy(SortedSet<Integer> extendSet, SortedSet<Integer> boundarySet, String id) {

    /**
     * The PCRs a boot chain started by kexec measures into: the boot loader's code and configuration
     * and the kernel's PCRs (initrd and LoadOptions, UKI sections, kernel configuration, sysexts).
     */
    private static final List<Integer> KEXEC_CHAIN_PCRS = List.of(Pcr.BOOT_LOADER_CODE, Pcr.BOOT_LOADER_CONFIG,
            Pcr.KERNEL_INITRD, Pcr.KERNEL_BOOT, Pcr.KERNEL_CONFIG, Pcr.SYSEXTS);

    /** The built-in policy (no policy file): extend and bound PCRs 4, 5, 9, 11, 12, 13. */
    public static final BootPolicy BUILTIN_DEFAULT = new BootPolicy(new TreeSet<>(KEXEC_CHAIN_PCRS),
            new TreeSet<>(KEXEC_CHAIN_PCRS), "builtin-default-1");

    public BootPolicy {
        if (!boundarySet.containsAll(extendSet)) {
            throw new IllegalArgumentException("extend set " + extendSet + " not within boundary set " + boundarySet);
        }
        extendSet = Collections.unmodifiableSortedSet(new TreeSet<>(extendSet));
        boundarySet = Collections.unmodifiableSortedSet(new TreeSet<>(boundarySet));
    }

    public boolean extendsPcr(int pcr) {
        return extendSet.contains(pcr);
    }
}
