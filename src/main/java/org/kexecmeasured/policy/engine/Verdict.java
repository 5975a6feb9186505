package org.kexecmeasured.policy.engine;

/** Whether a sealed secret can be unsealed after the kexec. */
public enum Verdict {
    /** Some route's policy is satisfied at some moment of the next boot. */
    REACHABLE,
    /** No route's policy can be satisfied: the predicted PCRs (or the available signatures) do not fit. */
    UNREACHABLE,
    /** The tool cannot tell (a policy it cannot evaluate, an object it cannot read); never a guess. */
    UNKNOWN;

    public String word() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
