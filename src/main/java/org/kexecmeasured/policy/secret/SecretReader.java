package org.kexecmeasured.policy.secret;

import org.kexecmeasured.util.BoundedFiles;

import org.kexecmeasured.policy.file.PolicyFile;
import org.kexecmeasured.policy.file.PolicyFile.ClevisJweSource;
import org.kexecmeasured.policy.file.PolicyFile.Luks2Source;
import org.kexecmeasured.policy.file.PolicyFile.Tpm2HandleSource;
import org.kexecmeasured.policy.file.PolicyFile.Tpm2NvSource;
import org.kexecmeasured.policy.file.PolicyFile.Tpm2ObjectSource;
import org.kexecmeasured.tpm.NvPublic;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.PublicAreaReader;
import org.kexecmeasured.tpm.SealedObject;
import org.kexecmeasured.tpm.TpmCommandException;
import org.kexecmeasured.tpm.TpmPublic;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.BeReader;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads every secret source a policy names — directly, never through cryptsetup or clevis — into
 * {@link SealedSecret}s: LUKS2 headers (systemd-tpm2 tokens, Clevis tpm2 pins in clevis tokens),
 * tpm2-tools object files, persistent objects and NV indexes (read-only TPM look-ups), Clevis JWE
 * files. Bad input names the secret and the place; a source this tool cannot evaluate gives a
 * secret without routes and a note (its verdict is then "unknown").
 */
public final class SecretReader {
    /** Public/private blobs and JWEs are a few KiB. */
    static final int MAX_FILE = 1 << 20;

    private final PublicAreaReader tpm;

    /** @param tpm for persistent objects and NV indexes; null offline (those secrets become "unknown") */
    public SecretReader(PublicAreaReader tpm) {
        this.tpm = tpm;
    }

    public SealedSecret read(PolicyFile.Secret spec) {
        String where = "secret '" + spec.name() + "' (policy line " + spec.line() + ")";
        try {
            PolicyFile.Source src = spec.source();
            if (src instanceof Luks2Source l) return luks2(spec, l, where);
            if (src instanceof Tpm2ObjectSource o) return object(spec, o, where);
            if (src instanceof Tpm2HandleSource h) return handle(spec, h, where);
            if (src instanceof Tpm2NvSource n) return nv(spec, n, where);
            return clevis(spec, (ClevisJweSource) src, where);
        } catch (BadInputException e) {
            throw new BadInputException(where + ": " + e.getMessage(), e);
        }
    }

    private SealedSecret luks2(PolicyFile.Secret spec, Luks2Source l, String where) {
        Luks2Header h = Luks2Header.read(l.device());
        List<UnlockRoute> routes = new ArrayList<>();
        List<String> notes = new ArrayList<>(h.notes());
        PcrlockPolicy pcrlock = l.pcrlockPolicy() == null ? null : PcrlockPolicy.read(l.pcrlockPolicy());
        boolean found = false;
        for (Luks2Header.Token t : h.tokens()) {
            if (l.token() != null && t.id() != l.token()) continue;
            found = true;
            switch (t.type()) {
                case SystemdTpm2Token.TYPE -> {
                    String unsupported = SystemdTpm2Token.unsupported(t);
                    if (unsupported != null) notes.add(unsupported);
                    else routes.add(SystemdTpm2Token.parse(t, l.device().toString()).route(pcrlock));
                }
                case "clevis" -> {
                    ClevisJwe jwe = ClevisJwe.fromJson(t.json().get("jwe"), l.device() + ": token " + t.id() + " (clevis)");
                    if (jwe.pin().equals("tpm2")) {
                        routes.add(jwe.route("token " + t.id() + " (clevis tpm2, keyslot" + (t.keyslots().size() == 1 ? " " : "s ")
                                + t.keyslots() + ")"));
                    } else {
                        notes.add("token " + t.id() + ": clevis pin '" + jwe.pin() + "' does not seal with this TPM; not evaluated");
                    }
                }
                default -> notes.add("token " + t.id() + " (" + t.type() + ") is not a TPM token; not evaluated");
            }
        }
        if (l.token() != null && !found) throw new BadInputException(l.device() + " has no token " + l.token());
        if (h.tokens().isEmpty()) notes.add("the header has no tokens: only passphrases unlock it, which the TPM does not gate");
        return new SealedSecret(spec.name(), l.describe(), routes, notes);
    }

    private SealedSecret object(PolicyFile.Secret spec, Tpm2ObjectSource o, String where) {
        TpmPublic pub = TpmPublic.fromTpm2b(readFile(o.publicFile()), o.publicFile().toString());
        byte[] privBlob = readFile(o.privateFile());
        BeReader r = new BeReader(privBlob, o.privateFile().toString());
        byte[] priv = r.sized("TPM2B_PRIVATE", 4096);
        r.expectEnd();
        if (priv.length == 0) throw new BadInputException(o.privateFile() + ": empty TPM2B_PRIVATE");
        SealedObject sealed = new SealedObject(pub.area(), priv);
        return new SealedSecret(spec.name(), o.describe(), List.of(described(o.publicFile().getFileName().toString(), pub.nameAlg(),
                pub.authPolicy(), sealed, o.pcrs(), o.authValue(), pub.authPolicy().length == 0 && !pub.policyOnly(),
                "the object has no authPolicy and userWithAuth: its authValue alone unseals it")), List.of());
    }

    private SealedSecret handle(PolicyFile.Secret spec, Tpm2HandleSource h, String where) {
        String label = String.format("persistent object 0x%08x", h.handle());
        if (tpm == null) {
            return new SealedSecret(spec.name(), h.describe(), List.of(),
                    List.of(label + " lives in the TPM and cannot be read offline (--pcrs): give --tpm"));
        }
        TpmPublic pub;
        try {
            pub = tpm.readPublic(h.handle());
        } catch (TpmCommandException e) {
            throw new BadInputException("TPM2_ReadPublic of " + label + " failed: " + e.rc());
        }
        return new SealedSecret(spec.name(), h.describe(), List.of(described(label, pub.nameAlg(), pub.authPolicy(), null,
                h.pcrs(), h.authValue(), pub.authPolicy().length == 0 && !pub.policyOnly(),
                "the object has no authPolicy and userWithAuth: its authValue alone unseals it")), List.of());
    }

    private SealedSecret nv(PolicyFile.Secret spec, Tpm2NvSource n, String where) {
        String label = String.format("NV index 0x%08x", n.index());
        if (tpm == null) {
            return new SealedSecret(spec.name(), n.describe(), List.of(),
                    List.of(label + " lives in the TPM and cannot be read offline (--pcrs): give --tpm"));
        }
        NvPublic pub;
        try {
            pub = tpm.nvReadPublic(n.index());
        } catch (TpmCommandException e) {
            throw new BadInputException("TPM2_NV_ReadPublic of " + label + " failed: " + e.rc());
        }
        List<String> notes = new ArrayList<>();
        if ((pub.attributes() & NvPublic.READ_LOCKED) != 0) notes.add(label + " is read-locked until the next TPM reset");
        boolean open = (pub.attributes() & (NvPublic.AUTH_READ | NvPublic.OWNER_READ | NvPublic.PPREAD)) != 0;
        String openWhy = label + " is readable with its own, the owner's or platform authorization (TPMA_NV_AUTHREAD/OWNERREAD/PPREAD): "
                + "no PCR gates it";
        if (!open && (pub.attributes() & NvPublic.POLICY_READ) == 0) {
            throw new BadInputException(label + " cannot be read at all (no read attribute set)");
        }
        return new SealedSecret(spec.name(), n.describe(), List.of(described(label, pub.nameAlg(), pub.authPolicy(), null,
                n.pcrs(), n.authValue(), open, openWhy)), notes);
    }

    private SealedSecret clevis(PolicyFile.Secret spec, ClevisJweSource c, String where) {
        String text = new String(readFile(c.file()), StandardCharsets.UTF_8);
        ClevisJwe jwe = ClevisJwe.parse(text, c.file().toString());
        if (!jwe.pin().equals("tpm2")) {
            return new SealedSecret(spec.name(), c.describe(), List.of(),
                    List.of("clevis pin '" + jwe.pin() + "' does not seal with this TPM; not evaluated"));
        }
        return new SealedSecret(spec.name(), c.describe(), List.of(jwe.route("clevis tpm2 pin")), List.of());
    }

    /** A route whose policy the policy file describes: PolicyPCR(pcrs) [→ PolicyAuthValue]. */
    private static UnlockRoute described(String label, org.kexecmeasured.util.HashAlg nameAlg, byte[] authPolicy, SealedObject sealed,
                                         PcrSelection pcrs, boolean authValue, boolean open, String openWhy) {
        List<PolicyStep> steps = new ArrayList<>();
        steps.add(new PolicyStep.Pcr(pcrs));
        if (authValue) steps.add(new PolicyStep.AuthValue());
        List<String> notes = new ArrayList<>();
        if (open) notes.add(openWhy);
        if (authValue) notes.add("the authValue (password) is needed as well");
        return new UnlockRoute(label, nameAlg, authPolicy, sealed, steps, false, open, notes);
    }

    static byte[] readFile(Path p) {
        // a regular file over the format's bound is refused by its size, a device or pipe after the bound
        try (BoundedFiles.Input in = BoundedFiles.open(p, BoundedFiles.TEXT)) {
            byte[] b = in.head(MAX_FILE + 1);
            if (b.length > MAX_FILE) throw new BadInputException(p + ": larger than " + MAX_FILE + " bytes");
            return b;
        }
    }
}
