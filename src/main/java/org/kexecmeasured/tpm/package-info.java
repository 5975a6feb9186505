/**
 * TPM 2.0 access on TSS.Java's command marshalling and our own transports ({@code transport}: a
 * character device, swtpm's and the MS simulator's sockets). The interfaces are split by what a caller
 * may do:
 * <ul>
 *   <li>{@link org.kexecmeasured.tpm.PcrReader}: banks, PCR reads, random bytes, command counts: all a
 *       plan needs. {@link org.kexecmeasured.tpm.PcrSnapshot} implements it from a PCR file, for
 *       predictions without a TPM.</li>
 *   <li>{@link org.kexecmeasured.tpm.PcrTpm}: adds extend, capabilities and the connection; the measured
 *       boot depends on this part only.</li>
 *   <li>{@link org.kexecmeasured.tpm.SealingTpm}: policy sessions, seal and unseal.</li>
 *   <li>{@link org.kexecmeasured.tpm.Tpm} is both; {@link org.kexecmeasured.tpm.TssTpm} implements it and
 *       {@link org.kexecmeasured.tpm.TpmFactory} (or an injected {@link org.kexecmeasured.tpm.TpmOpener})
 *       opens one from a TCTI string ({@link org.kexecmeasured.tpm.Tcti}).</li>
 * </ul>
 * Every command is counted by its TPM_CC ({@link org.kexecmeasured.tpm.CommandCode}), so tests can show
 * which commands a step sent. TPM error responses become {@link org.kexecmeasured.tpm.TpmCommandException}
 * (decoded response code), transport failures {@link org.kexecmeasured.tpm.error.TpmTransportException}.
 * Policy digests computed without a TPM are in {@code policy}. The layers go one way: {@code tpm} uses
 * {@code transport} and {@code policy}; those two use neither {@code tpm} nor each other, only {@code error} (the
 * exceptions) and, for {@code policy}, its own {@code TpmlPcrSelection} view of a {@code PcrSelection}.
 */
package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.error.TpmTransportException;
