package org.kexecmeasured.boot;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Decides whether a {@link Plan} may be carried out: between {@code plan} and {@code load}/{@code
 * commit} in {@link MeasuredBoot}. It sees everything the boot would do (payload digest, records,
 * predicted PCRs and log, divergences) and changes nothing; a denial stops the boot before anything
 * is loaded or extended (exit 3). The policy engine implements it from policy files (its
 * {@code measurement} section feeds {@link #divergentPcrs}); until then {@link #builtin} is the policy.
 */
@FunctionalInterface
public interface Decider {

    Decision decide(Plan plan);

    /** The built-in policy with no PCR tolerated to diverge: {@link #builtin builtin(Set.of())}. */
    Decider BUILTIN = builtin(Set.of());

    /**
     * The built-in policy ({@link BootPolicy#BUILTIN_DEFAULT}, no policy file): every payload is allowed,
     * but a firmware log that does not explain the TPM's PCRs is refused ({@link #divergentPcrs}) unless
     * each divergent PCR is in {@code tolerated} ({@code boot --tolerate-divergent}).
     */
    static Decider builtin(Set<Integer> tolerated) {
        SortedSet<Integer> tol = new TreeSet<>(tolerated);
        return plan -> {
            List<String> refused = divergentPcrs(plan, tol);
            if (!refused.isEmpty()) return Decision.deny(refused.toArray(String[]::new));
            return Decision.allow("built-in policy " + plan.policy().id() + ": no policy file; every payload is allowed"
                    + (plan.divergences().isEmpty() ? "" : "; divergent PCRs tolerated: " + tol));
        };
    }

    /**
     * Divergent PCRs are a policy decision: a PCR whose TPM value the firmware log does not explain
     * makes the continued log unverifiable there, so it is refused unless tolerated. One reason per
     * refused bank and PCR; empty when the plan may go on.
     */
    static List<String> divergentPcrs(Plan plan, Set<Integer> tolerated) {
        List<String> out = new ArrayList<>();
        for (Divergence d : plan.divergences()) {
            if (tolerated.contains(d.pcr())) continue;
            out.add("refused: the firmware log does not explain " + d.bank().tpmName + " PCR " + d.pcr()
                    + " (extended without a log entry" + (d.explanation() == null ? "" : ": " + d.explanation())
                    + "); the continued log would not verify there (tolerate it with --tolerate-divergent " + d.pcr() + ")");
        }
        return out;
    }
}
