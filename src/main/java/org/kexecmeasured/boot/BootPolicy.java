package org.kexecmeasured.boot;

import java.util.Collections;
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

    /** The built-in policy until the policy engine lands: extend and bound PCRs 4, 5, 9, 11, 12, 13. */
    public static final BootPolicy BUILTIN_DEFAULT = new BootPolicy(
            new TreeSet<>(java.util.List.of(4, 5, 9, 11, 12, 13)),
            new TreeSet<>(java.util.List.of(4, 5, 9, 11, 12, 13)), "builtin-default-1");

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
