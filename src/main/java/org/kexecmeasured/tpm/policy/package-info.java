/**
 * TPM2 policy digests computed without a TPM (TPM 2.0 Part 1, 19.7: PolicyPCR, PolicyAuthorize,
 * PolicyAuthorizeNV, PolicyOR trees), the names of TPM objects and NV indexes, and approved (signed)
 * policies: what a sealed secret requires, evaluated offline against predicted PCR values.
 */
package org.kexecmeasured.tpm.policy;
