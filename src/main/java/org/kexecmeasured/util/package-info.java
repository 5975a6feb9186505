/**
 * The shared pieces every layer uses, each the one copy of its concern: {@link org.kexecmeasured.util.BoundedFiles}
 * (the capped reader for every whole file or stream, with the named {@code KEXEC_MEASURED_MAX_*} limits),
 * {@link org.kexecmeasured.util.AtomicFiles} (write to a temporary file, fsync, rename, fsync the directory),
 * {@link org.kexecmeasured.util.Json} (the one configured Jackson mapper), {@link org.kexecmeasured.util.JsonOut} (the
 * streaming writer of what a boot writes: the same bytes as the mapper, without building its serializers),
 * {@link org.kexecmeasured.util.HashAlg} (TPM_ALG_ID, digest, extend; small inputs by OpenSSL's one-shot
 * {@code EVP_Digest} in {@code NativeDigest}, the JDK's code without it), {@link org.kexecmeasured.util.ByteViews}
 * (same memory, same content: {@code memcmp} for native memory), {@link org.kexecmeasured.util.Hex},
 * {@link org.kexecmeasured.util.Le} and
 * {@link org.kexecmeasured.util.BeReader} (bounded little- and big-endian reads), {@link org.kexecmeasured.util.StepClock}
 * (the wall times of a flow's named steps for {@code --json} stats), and
 * {@link org.kexecmeasured.util.BadInputException}, which the CLI turns into one line and exit code 2.
 * Nothing here depends on another package of the tool.
 */
package org.kexecmeasured.util;
