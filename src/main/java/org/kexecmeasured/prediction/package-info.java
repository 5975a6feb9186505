/**
 * Predictions from the payload's own code: a payload's loader (systemd-stub of any version) is run in the
 * emulator ({@code uefi}) with a measurer that records, in every bank, what it measures up to the kernel
 * hand-off. {@code inspect} uses it for PCR 11 (per profile) and the other stub PCRs; the static model in
 * {@code payload.uki.Pcr11} stays as a cross-check that names the stub version it models. The boot plan
 * records through the emulator in the same way. Sits above {@code payload} and {@code uefi}; the
 * {@code payload} package reaches it only through {@link org.kexecmeasured.payload.uki.StubMeasurements.Runner}.
 */
package org.kexecmeasured.prediction;
