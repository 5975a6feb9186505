package org.kexecmeasured.policy.file;

import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.util.HashAlg;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;

/**
 * A parsed, validated policy file (schema: {@code policy/kexec-measured-policy.schema.json}).
 * Every path is absolute (relative paths are resolved against the policy file's directory).
 *
 * @param id          hex SHA-256 of the file's bytes: the policy's identity in the boundary event
 * @param signatures  tpm2-pcr-signature.json files the next system will find (besides the payload's .pcrsig)
 * @param reauthorize null when the owner did not opt in
 */
public record PolicyFile(Path source, String id, PayloadTrust payload, Measurement measurement, List<Secret> secrets,
                         List<Path> signatures, Reauthorize reauthorize, Decision decision) {

    public static final int VERSION = 1;

    public PolicyFile {
        secrets = List.copyOf(secrets);
        signatures = List.copyOf(signatures);
    }

    /**
     * Which payloads may run. {@code requireSignature}: an Authenticode signature must chain to one
     * of {@code trustedCertificates} (as {@code inspect --trust}); {@code deniedDigests}: SHA-256
     * Authenticode digests of images that must not run, like dbx (the payload and every image it
     * loads); {@code minimumSbat}: component → lowest generation allowed in a .sbat section.
     */
    public record PayloadTrust(boolean requireSignature, List<Path> trustedCertificates, List<byte[]> deniedDigests,
                               Map<String, Integer> minimumSbat) {
        public PayloadTrust {
            trustedCertificates = List.copyOf(trustedCertificates);
            deniedDigests = List.copyOf(deniedDigests);
            minimumSbat = Map.copyOf(minimumSbat);
        }
    }

    /**
     * What the boot measures. {@code banks}: banks the TPM must have active (every active bank is
     * extended in any case, a TPM requires it); null = whatever the TPM has. {@code tolerateDivergent}:
     * PCRs whose TPM value may already disagree with the firmware log (e.g. 10 for IMA); any other
     * divergent PCR denies the boot. {@code shimMayExtend}: the PCRs the chain's own code (shim, GRUB,
     * systemd-boot, systemd-stub: every measurement it makes through EFI_TCG2_PROTOCOL) may extend; a chain
     * measurement into another PCR is a finding ({@link Decision#chainExtends}); null = not restricted. {@code nextBootPhases}: the phase paths (colon-separated words)
     * systemd-pcrphase extends into PCR 11 in the next system, the states at which sealed secrets are
     * evaluated besides the kernel's start.
     */
    public record Measurement(List<HashAlg> banks, SortedSet<Integer> extendSet, SortedSet<Integer> boundarySet,
                              SortedSet<Integer> shimMayExtend, SortedSet<Integer> tolerateDivergent,
                              List<String> nextBootPhases) {
        public Measurement {
            banks = banks == null ? null : List.copyOf(banks);
            nextBootPhases = List.copyOf(nextBootPhases);
        }
    }

    /** What the owner wants of a sealed secret after the kexec. */
    public enum Intent {
        REACHABLE, UNREACHABLE, ANY;

        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public enum Action { DENY, WARN }

    /** A sealed secret: where to read it and what must remain true of it. {@code line}: where it is declared. */
    public record Secret(String name, Source source, Intent mustRemain, int line) {
    }

    /** Where a secret is read from. */
    public sealed interface Source {
        /** A human description, e.g. "LUKS2 header of /dev/vda2". */
        String describe();
    }

    /**
     * A LUKS2 header on a block device or image file; {@code token} null = every token.
     * {@code pcrlockPolicy}: systemd-pcrlock's metadata (pcrlock.json) for tokens bound with
     * --tpm2-pcrlock, null when not given (such tokens are then evaluated as unknown).
     */
    public record Luks2Source(Path device, Integer token, Path pcrlockPolicy) implements Source {
        @Override
        public String describe() {
            return "LUKS2 header of " + device + (token == null ? "" : " (token " + token + ")");
        }
    }

    /**
     * An object sealed by tpm2-tools (TPM2B_PUBLIC and TPM2B_PRIVATE files, as tpm2_create -u/-r
     * writes them) with the PCR policy it was sealed under ({@code pcrs}: bank and PCRs of its
     * PolicyPCR; {@code authValue}: PolicyAuthValue follows).
     */
    public record Tpm2ObjectSource(Path publicFile, Path privateFile, PcrSelection pcrs, boolean authValue) implements Source {
        @Override
        public String describe() {
            return "TPM object " + publicFile.getFileName() + " (PolicyPCR " + pcrs + (authValue ? " + PolicyAuthValue" : "") + ")";
        }
    }

    /** A persistent sealed object in the TPM (its public area is read from the TPM). */
    public record Tpm2HandleSource(int handle, PcrSelection pcrs, boolean authValue) implements Source {
        @Override
        public String describe() {
            return String.format("TPM persistent object 0x%08x (PolicyPCR %s%s)", handle, pcrs, authValue ? " + PolicyAuthValue" : "");
        }
    }

    /** An NV index whose read policy is a PCR policy (its public area is read with TPM2_NV_ReadPublic). */
    public record Tpm2NvSource(int index, PcrSelection pcrs, boolean authValue) implements Source {
        @Override
        public String describe() {
            return String.format("TPM NV index 0x%08x (PolicyPCR %s%s)", index, pcrs, authValue ? " + PolicyAuthValue" : "");
        }
    }

    /** A Clevis JWE (compact or JSON serialization) with a tpm2 pin, e.g. from clevis encrypt tpm2. */
    public record ClevisJweSource(Path file) implements Source {
        @Override
        public String describe() {
            return "Clevis JWE " + file;
        }
    }

    /**
     * Opt-in re-authorization: sign the predicted post-kexec PCR values with {@code signingKey}
     * (PEM private key) in systemd's tpm2-pcr-signature.json format, for these phases and banks,
     * so that tokens of the named secrets bound to that key unlock after the kexec.
     */
    public record Reauthorize(Path signingKey, List<String> secrets, List<String> phases, List<HashAlg> banks) {
        public Reauthorize {
            secrets = List.copyOf(secrets);
            phases = List.copyOf(phases);
            banks = List.copyOf(banks);
        }
    }

    /**
     * What happens when a secret's verdict does not meet its intent (including a verdict of
     * "unknown"): per intent, deny the boot (default) or only warn; {@code chainExtends}: when the chain
     * measures into a PCR outside {@code measurement.shim-may-extend} (default deny).
     */
    public record Decision(Action reachable, Action unreachable, Action chainExtends) {
        public static final Decision DEFAULT = new Decision(Action.DENY, Action.DENY, Action.DENY);

        public Decision(Action reachable, Action unreachable) {
            this(reachable, unreachable, Action.DENY);
        }

        public Action forIntent(Intent i) {
            return i == Intent.UNREACHABLE ? unreachable : reachable;
        }
    }
}
