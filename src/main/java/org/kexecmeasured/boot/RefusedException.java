package org.kexecmeasured.boot;

import java.util.List;

/**
 * The {@link Decider} denied the plan: nothing was loaded and nothing was extended. The CLI exits 3
 * ({@code Main.EXIT_POLICY_DENIED}) and prints the reasons on one line.
 */
public final class RefusedException extends RuntimeException {
    private final List<String> reasons;

    public RefusedException(List<String> reasons) {
        super("refused by policy: " + (reasons.isEmpty() ? "(no reason given)" : String.join("; ", reasons))
                + " (nothing was loaded or extended)");
        this.reasons = List.copyOf(reasons);
    }

    public List<String> reasons() {
        return reasons;
    }
}
