package org.kexecmeasured.boot;

/**
 * Decides whether a {@link Plan} may be carried out: between {@code plan} and {@code load}/{@code
 * commit} in {@link MeasuredBoot}. It sees everything the boot would do (payload digest, records,
 * predicted PCRs and log, divergences) and changes nothing; a denial stops the boot before anything
 * is loaded or extended (exit 3). The policy engine implements it from policy files; until then the
 * built-in {@link #BUILTIN} allows.
 */
@FunctionalInterface
public interface Decider {

    Decision decide(Plan plan);

    /** The built-in policy ({@link BootPolicy#BUILTIN_DEFAULT}): no policy file, every payload allowed. */
    Decider BUILTIN = plan -> Decision.allow("built-in policy " + plan.policy().id()
            + ": no policy file; every payload is allowed");
}
