/**
 * How a TPM operation fails, shared by every TPM layer: {@link org.kexecmeasured.tpm.error.TpmException} (the TPM
 * returned an error, or could not be reached) and {@link org.kexecmeasured.tpm.error.TpmTransportException} (not
 * reached, stopped answering, malformed response). Below {@code tpm} and {@code tpm.transport}, which both throw
 * them: the transports need nothing else of {@code tpm}, so {@code tpm} → {@code tpm.transport} is one way.
 */
package org.kexecmeasured.tpm.error;
