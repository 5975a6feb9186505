/**
 * The byte pipes to a TPM, one class per kind of endpoint: the kernel character devices
 * ({@code /dev/tpmrm0}, {@code /dev/tpm0}), swtpm's socket interface with its control channel, and the
 * Microsoft simulator protocol (mssim); {@link org.kexecmeasured.tpm.transport.TpmTransport} is what
 * the TSS layer above sends whole command buffers through. A TCTI string chooses one
 * ({@link org.kexecmeasured.tpm.Tcti}).
 */
package org.kexecmeasured.tpm.transport;
