package org.kexecmeasured.policy;

import com.fasterxml.jackson.databind.JsonNode;
import org.kexecmeasured.boot.Decider;
import org.kexecmeasured.boot.PendingBoot;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.uki.Uki;
import org.kexecmeasured.policy.file.PolicyFile;
import org.kexecmeasured.policy.file.PolicyParser;
import org.kexecmeasured.tpm.PublicAreaReader;
import org.kexecmeasured.util.AtomicFiles;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.BoundedFiles;
import org.kexecmeasured.util.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashSet;
import java.util.Set;

/**
 * The policy a boot prepared with {@code --at-shutdown} is decided under <em>again</em> when the system-shutdown
 * hook commits it ({@code commit-pending}): the file {@value #FILE} beside {@code pending.json}. The commit reads
 * the PCRs after systemd's last phases ({@code shutdown}, {@code final}) and loads the kernel again with the final
 * sidecar, so the same policy file is run once more on the plan moved onto those PCRs: every secret's verdict, and a
 * re-authorization signed over what the next system's TPM will really hold, which goes into the sidecar of that
 * second load. The payload's trust was decided at preparation (the images do not change: the plan's records and
 * the saved kernel are checked byte for byte), so only the payload's {@code .pcrsig} is kept here for the verdicts.
 *
 * <p>The policy file must still be the one the boot was prepared with: its SHA-256 is the policy id in
 * {@code pending.json} and in the boundary event; a changed or missing file refuses the commit (exit 2; the hook
 * then unloads the kernel and the system reboots through the firmware).
 *
 * @param policyFile    the policy file, absolute
 * @param policyId      its SHA-256 when the boot was prepared
 * @param payloadPcrsig the payload's {@code .pcrsig} section (systemd's tpm2-pcr-signature.json), or null
 */
public record PolicyAtCommit(String format, String policyFile, String policyId, JsonNode payloadPcrsig) {

    public static final String FORMAT = "kexec-measured-policy-at-commit/1";
    public static final String FILE = "policy.json";

    /**
     * Before {@code boot --at-shutdown} prepares into {@code pendingDir}: removes what an earlier preparation left
     * here, and with a policy writes this file (the directory created mode 0700, as the pending boot's).
     */
    public static void prepare(Path pendingDir, PolicyFile policy, byte[] payload) throws IOException {
        prepare(pendingDir, policy, java.nio.ByteBuffer.wrap(payload));
    }

    /** As {@link #prepare(Path, PolicyFile, byte[])}, the payload read-only (a mapped file). */
    public static void prepare(Path pendingDir, PolicyFile policy, java.nio.ByteBuffer payload) throws IOException {
        Files.deleteIfExists(pendingDir.resolve(FILE));
        if (policy == null) return;
        Files.createDirectories(pendingDir);
        try {
            Files.setPosixFilePermissions(pendingDir, PosixFilePermissions.fromString("rwx------"));
        } catch (UnsupportedOperationException ignored) {
            // not a POSIX file system: nothing to tighten
        }
        JsonNode pcrsig = null;
        PeFile pe = PeFile.parse(payload.duplicate());
        if (Uki.isUki(pe)) {
            try {
                pcrsig = Uki.of(pe).pcrSignature();
            } catch (BadInputException e) {
                pcrsig = null; // not JSON: systemd would not use it, and the preparation's decision did not either
            }
        }
        PolicyAtCommit p = new PolicyAtCommit(FORMAT, policy.source().toAbsolutePath().toString(), policy.id(), pcrsig);
        AtomicFiles.write(pendingDir.resolve(FILE), Json.PRETTY.writeValueAsBytes(p));
    }

    /**
     * The decider for the commit of {@code pending}: the policy file again when the boot was prepared under one,
     * else the built-in divergence check with the preparation's tolerance.
     */
    public static Decider decider(Path pendingDir, PendingBoot pending, PublicAreaReader tpm) {
        Path f = pendingDir.resolve(FILE);
        if (!Files.exists(f, LinkOption.NOFOLLOW_LINKS)) {
            if (!pending.policy().id().equals(org.kexecmeasured.boot.BootPolicy.BUILTIN_DEFAULT.id())) {
                throw new BadInputException(f + " is missing: the pending boot was prepared under policy " + pending.policy().id()
                        + " and is committed only under it again (nothing was extended)");
            }
            return Decider.builtin(new HashSet<>(pending.policy().tolerateDivergent()));
        }
        PolicyAtCommit p = read(f);
        if (!p.policyId().equals(pending.policy().id())) {
            throw new BadInputException(f + ": policy " + p.policyId() + " is not the one the pending boot was prepared under ("
                    + pending.policy().id() + "; nothing was extended)");
        }
        Path policyFile = Path.of(p.policyFile());
        PolicyFile policy = PolicyParser.read(policyFile);
        if (!policy.id().equals(p.policyId())) {
            throw new BadInputException(policyFile + ": changed since the boot was prepared (SHA-256 " + policy.id() + ", was "
                    + p.policyId() + "); the commit decides under the same policy only (nothing was extended)");
        }
        return PolicyDecider.atCommit(policy, p.payloadPcrsig(), tpm);
    }

    static PolicyAtCommit read(Path f) {
        if (Files.isSymbolicLink(f)) throw new BadInputException(f + ": a symbolic link; a pending boot's files never are");
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(f, LinkOption.NOFOLLOW_LINKS);
            if (perms.contains(PosixFilePermission.GROUP_WRITE) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
                throw new BadInputException(f + ": writable by group or others (" + PosixFilePermissions.toString(perms)
                        + "); a pending boot is written by root only");
            }
        } catch (UnsupportedOperationException | IOException e) {
            // no POSIX permissions, or no file: the read below says what is wrong
        }
        PolicyAtCommit p;
        try {
            p = Json.MAPPER.readValue(BoundedFiles.read(f, BoundedFiles.TEXT), PolicyAtCommit.class);
        } catch (IOException e) {
            throw new BadInputException(f + ": not a policy-at-commit file: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (p == null) throw new BadInputException(f + ": not a policy-at-commit file: JSON null");
        if (!FORMAT.equals(p.format())) throw new BadInputException(f + ": format '" + p.format() + "', expected " + FORMAT);
        try {
            if (p.policyFile() == null || !Path.of(p.policyFile()).isAbsolute()) throw new BadInputException(f + ": policyFile must be an absolute path");
        } catch (java.nio.file.InvalidPathException e) {
            throw new BadInputException(f + ": policyFile: not a path: " + e.getReason());
        }
        if (p.policyId() == null || !p.policyId().matches("[0-9a-f]{64}")) throw new BadInputException(f + ": policyId is not a SHA-256");
        return p;
    }
}
