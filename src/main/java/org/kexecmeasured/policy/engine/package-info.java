/**
 * Predictions and verdicts. {@link org.kexecmeasured.policy.engine.Prediction} holds the PCRs before
 * the kexec, the plan's extends and the states of the next boot (kernel start, each boot phase);
 * {@link org.kexecmeasured.policy.engine.SecretEvaluator} replays every unlock route's policy
 * session against each state and compares with the authPolicy (signed policies need a signature,
 * from the {@link org.kexecmeasured.policy.engine.SignatureCatalog}, that covers the state);
 * {@link org.kexecmeasured.policy.engine.PayloadCheck} checks signature, denied digests and SBAT of every
 * image the boot starts; {@link org.kexecmeasured.policy.PolicyEngine} (one level up, beside the
 * re-authorization it calls) puts it together into a decision. Every
 * verdict says why, in words; what cannot be evaluated is "unknown", never a guess.
 */
package org.kexecmeasured.policy.engine;
