package org.kexecmeasured.policy.testing;

import org.kexecmeasured.tpm.testing.PtyTpmBridge;
import org.kexecmeasured.tpm.testing.Swtpm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The real clients that seal and open secrets, run against a swtpm: tpm2-tools, cryptsetup,
 * systemd-cryptenroll, systemd's LUKS2 token plugin (through cryptsetup), clevis, systemd-measure.
 * None of them is ours; they are the oracles the policy engine's verdicts are checked against.
 *
 * <p>systemd's token plugin and systemd-measure --current only talk to a TPM device node and
 * sysfs: they run in a private mount namespace ({@code unshare -m}, root) in which a tmpfs on
 * /sys/class holds {@code tpmrm/tpmrm0} (or {@code tpm/tpm0/pcr-BANK/11}) and /dev/tpmrm0 is a
 * pseudo-terminal relayed to the swtpm ({@link PtyTpmBridge}). Nothing outside the namespace changes.
 * Clients that leave sessions or objects loaded (a TPM without resource manager keeps them) are
 * followed by a flush of all transient handles.
 */
public final class SecretClients {
    public static final String PASSPHRASE = "hunter2-kexec";

    private final Swtpm swtpm;
    private final Path dir;
    private String lastOutput = "";

    /** What the last client printed (stdout and stderr), for failure messages. */
    public String lastOutput() {
        return lastOutput;
    }

    public SecretClients(Swtpm swtpm, Path dir) {
        this.swtpm = swtpm;
        this.dir = dir;
    }

    /** Exit code, stdout, stderr. */
    public record Run(int exit, String out, String err) {
        public String all() {
            return out + err;
        }
    }

    /** Runs a command with TPM2TOOLS_TCTI pointing at the swtpm; stdin from {@code input} when given. */
    public Run run(byte[] input, Map<String, String> env, String... cmd) {
        require(cmd[0]);
        try {
            Path errFile = Files.createTempFile(dir, "stderr", ".txt");
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(errFile.toFile());
            pb.environment().put("TPM2TOOLS_TCTI", swtpm.tcti());
            pb.environment().putAll(env);
            Process p = pb.start();
            if (input != null) p.getOutputStream().write(input);
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail(String.join(" ", cmd) + ": timed out");
            }
            String err = Files.readString(errFile);
            Files.delete(errFile);
            lastOutput = new String(out, StandardCharsets.UTF_8) + err;
            return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8), err);
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + cmd[0] + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public Run run(String... cmd) {
        return run(null, Map.of(), cmd);
    }

    public String ok(String... cmd) {
        Run r = run(cmd);
        assertTrue(r.exit() == 0, String.join(" ", cmd) + " exited " + r.exit() + ":\n" + r.all());
        return r.out();
    }

    private static final Map<String, String> PACKAGES = Map.ofEntries(
            Map.entry("tpm2_create", "tpm2-tools"), Map.entry("tpm2_createprimary", "tpm2-tools"),
            Map.entry("tpm2_unseal", "tpm2-tools"), Map.entry("tpm2_flushcontext", "tpm2-tools"),
            Map.entry("cryptsetup", "cryptsetup-bin"), Map.entry("systemd-cryptenroll", "systemd"),
            Map.entry("clevis", "clevis, clevis-luks and clevis-tpm2"), Map.entry("unshare", "util-linux"),
            Map.entry("openssl", "openssl"), Map.entry("truncate", "coreutils"), Map.entry("sh", "dash"));

    static void require(String tool) {
        if (tool.startsWith("/")) {
            if (!Files.isExecutable(Path.of(tool))) fail(tool + " is missing: install the Debian package systemd (tests/bin/install-deps)");
            return;
        }
        for (String d : List.of("/usr/bin", "/usr/sbin", "/bin", "/sbin")) if (Files.isExecutable(Path.of(d, tool))) return;
        fail(tool + " not found: install the Debian package " + PACKAGES.getOrDefault(tool, "providing it") + " (tests/bin/install-deps)");
    }

    /** Flushes every transient object and session (clients without a resource manager leave some behind). */
    public void flush() {
        for (String f : List.of("-t", "-l", "-s")) run("tpm2_flushcontext", f);
    }

    // ------------------------------------------------------------------ tpm2-tools

    /** The storage primary key as systemd, clevis and kexec-measured create it (ECC P-256, AES-128-CFB). */
    private String primary(String attributes) {
        String ctx = dir.resolve("primary.ctx").toString();
        ok("tpm2_createprimary", "-Q", "-C", "o", "-g", "sha256", "-G", "ecc256:aes128cfb", "-a", attributes, "-c", ctx);
        // without a resource manager the tool leaves the key loaded; its saved context is enough
        ok("tpm2_flushcontext", "-t");
        return ctx;
    }

    private static final String SRK_ATTRIBUTES = "restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda";

    /** tpm2_createpolicy --policy-pcr + tpm2_create: a sealed object bound to the PCRs' current values. Returns {pub, priv}. */
    public Path[] tpm2Seal(String name, String pcrs, byte[] secret) throws IOException {
        flush();
        String prim = primary(SRK_ATTRIBUTES);
        Path pol = dir.resolve(name + ".policy");
        ok("tpm2_createpolicy", "-Q", "--policy-pcr", "-l", pcrs, "-L", pol.toString());
        Path pub = dir.resolve(name + ".pub");
        Path priv = dir.resolve(name + ".priv");
        Path in = dir.resolve(name + ".secret");
        Files.write(in, secret);
        ok("tpm2_create", "-Q", "-C", prim, "-g", "sha256", "-a", "fixedtpm|fixedparent", "-L", pol.toString(),
                "-i", in.toString(), "-u", pub.toString(), "-r", priv.toString());
        Files.delete(in);
        flush();
        return new Path[]{pub, priv};
    }

    /** tpm2_load + tpm2_evictcontrol: the object made persistent at {@code handle} (e.g. 0x81000042). */
    public void tpm2Persist(Path[] obj, String handle) {
        flush();
        String prim = primary(SRK_ATTRIBUTES);
        String ctx = dir.resolve("persist.ctx").toString();
        ok("tpm2_load", "-Q", "-C", prim, "-u", obj[0].toString(), "-r", obj[1].toString(), "-c", ctx);
        ok("tpm2_flushcontext", "-t");
        ok("tpm2_evictcontrol", "-Q", "-C", "o", "-c", ctx, handle);
        flush();
    }

    /** tpm2_nvdefine with a PolicyPCR read policy (owner writes), then tpm2_nvwrite of {@code data}. */
    public void nvDefine(String index, String pcrs, byte[] data) throws IOException {
        flush();
        Path pol = dir.resolve("nv-" + index + ".policy");
        ok("tpm2_createpolicy", "-Q", "--policy-pcr", "-l", pcrs, "-L", pol.toString());
        ok("tpm2_nvdefine", index, "-C", "o", "-s", Integer.toString(data.length), "-a", "ownerwrite|policyread", "-L", pol.toString());
        Path in = dir.resolve("nv-" + index + ".data");
        Files.write(in, data);
        ok("tpm2_nvwrite", index, "-C", "o", "-i", in.toString());
        flush();
    }

    /** tpm2_nvread through a PolicyPCR session; null when the TPM refuses. */
    public byte[] nvReadWithPolicy(String index, String pcrs) throws IOException {
        flush();
        String ses = dir.resolve("nvsession.ctx").toString();
        ok("tpm2_startauthsession", "--policy-session", "-S", ses);
        ok("tpm2_policypcr", "-Q", "-S", ses, "-l", pcrs);
        Path out = dir.resolve("nv.out");
        Files.deleteIfExists(out);
        Run r = run("tpm2_nvread", index, "-C", index, "-P", "session:" + ses, "-o", out.toString());
        flush();
        return r.exit() == 0 ? Files.readAllBytes(out) : null;
    }

    /** tpm2_unseal through a PolicyPCR session; null when the TPM refuses. */
    public byte[] tpm2Unseal(Path[] obj, String pcrs) throws IOException {
        flush();
        String prim = primary(SRK_ATTRIBUTES);
        String ctx = dir.resolve("obj.ctx").toString();
        ok("tpm2_load", "-Q", "-C", prim, "-u", obj[0].toString(), "-r", obj[1].toString(), "-c", ctx);
        ok("tpm2_flushcontext", "-t");
        String ses = dir.resolve("session.ctx").toString();
        ok("tpm2_startauthsession", "--policy-session", "-S", ses);
        ok("tpm2_policypcr", "-Q", "-S", ses, "-l", pcrs);
        Path out = dir.resolve("unsealed");
        Files.deleteIfExists(out);
        Run r = run("tpm2_unseal", "-c", ctx, "-p", "session:" + ses, "-o", out.toString());
        flush();
        return r.exit() == 0 ? Files.readAllBytes(out) : null;
    }

    // ------------------------------------------------------------------ LUKS2, systemd

    /** A 32 MiB LUKS2 image file (cryptsetup luksFormat, fast PBKDF) with {@link #PASSPHRASE} in key slot 0. */
    public Path luksImage(String name) throws IOException {
        Path img = dir.resolve(name + ".img");
        Path key = passphraseFile();
        ok("truncate", "-s", "32M", img.toString());
        ok("cryptsetup", "luksFormat", "--type", "luks2", "--batch-mode", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
                "--key-file", key.toString(), img.toString());
        return img;
    }

    public Path passphraseFile() throws IOException {
        Path key = dir.resolve("passphrase");
        if (!Files.exists(key)) Files.writeString(key, PASSPHRASE);
        return key;
    }

    /** systemd-cryptenroll --tpm2-device=swtpm:… ARGS IMG, unlocking with the passphrase (PASSWORD=). */
    public String cryptenroll(Path img, String... args) {
        flush();
        List<String> cmd = new ArrayList<>(List.of("systemd-cryptenroll", "--tpm2-device=" + swtpm.tcti()));
        cmd.addAll(List.of(args));
        cmd.add(img.toString());
        Run r = run(null, Map.of("PASSWORD", PASSPHRASE), cmd.toArray(new String[0]));
        assertTrue(r.exit() == 0, String.join(" ", cmd) + " exited " + r.exit() + ":\n" + r.all());
        flush();
        return r.out();
    }

    /** The LUKS2 token as cryptsetup exports it (oracle for our header parser). */
    public String exportToken(Path img, int id) {
        return ok("cryptsetup", "token", "export", "--token-id", Integer.toString(id), img.toString());
    }

    /** Whether a passphrase opens a key slot of the image (cryptsetup open --test-passphrase, no device-mapper). */
    public boolean passphraseOpens(Path img, byte[] passphrase) {
        Run r = run(passphrase, Map.of(), "cryptsetup", "open", "--test-passphrase", "--key-file=-", img.toString());
        return r.exit() == 0;
    }

    /**
     * systemd's LUKS2 token plugin unlocks the image: {@code cryptsetup open --test-passphrase
     * --token-only} with /dev/tpmrm0 relayed to the swtpm, and {@code signature} (if given) where
     * systemd 252 looks for it (/run/systemd/tpm2-pcr-signature.json).
     */
    public boolean tokenPluginOpens(Path img, Path signature) throws IOException {
        flush();
        Path mnt = Files.createTempDirectory(dir, "ns");
        String script = String.join("\n",
                "set -e",
                "PTY=$1; IMG=$2; SIG=$3; OLD=$4",
                "mount -t tmpfs none /sys/class",
                "mkdir -p /sys/class/tpmrm/tpmrm0",
                "mount --rbind /dev \"$OLD\"",
                "mount -t tmpfs none /dev",
                "for n in null zero urandom random full tty; do touch /dev/$n; mount --bind \"$OLD/$n\" /dev/$n; done",
                "touch /dev/tpmrm0; mount --bind \"$OLD/${PTY#/dev/}\" /dev/tpmrm0",
                "mkdir -p /run/systemd; mount -t tmpfs none /run/systemd",
                "if [ -n \"$SIG\" ]; then cp \"$SIG\" /run/systemd/tpm2-pcr-signature.json; fi",
                "set +e",
                "cryptsetup --debug open --test-passphrase --token-only \"$IMG\" > /run/systemd/cryptsetup.log 2>&1",
                "rc=$?",
                "grep -iE 'token|unlock|fail|error' /run/systemd/cryptsetup.log",
                "echo \"exit=$rc\"",
                "");
        Run r;
        try (PtyTpmBridge bridge = new PtyTpmBridge(swtpm.port())) {
            r = run(null, Map.of(), "unshare", "-m", "sh", "-c", script, "sh", bridge.path().toString(), img.toString(),
                    signature == null ? "" : signature.toString(), mnt.toString());
        }
        String pluginOutput = r.all();
        flush();
        lastOutput = pluginOutput;
        assertTrue(r.out().contains("exit="), "the namespace script did not reach cryptsetup (root and unshare needed):\n" + r.all());
        if (r.out().contains("exit=0")) return true;
        assertTrue(r.out().contains("exit=1") || r.out().contains("exit=2"), "cryptsetup failed oddly:\n" + r.all());
        return false;
    }

    /**
     * systemd-measure sign --current: signs the PCR 11 value given (as the TPM's sysfs file shows
     * it) for the given phases, with the TPM's trial session on the swtpm. The JSON it prints.
     */
    public String systemdMeasureSign(String bank, String pcr11Hex, Path privateKey, Path publicKey, List<String> phases)
            throws IOException {
        flush();
        require("/lib/systemd/systemd-measure");
        List<String> args = new ArrayList<>(List.of("/lib/systemd/systemd-measure", "sign", "--current", "--bank=" + bank,
                "--private-key=" + privateKey, "--public-key=" + publicKey, "--tpm2-device=" + swtpm.tcti(), "--json=short"));
        for (String p : phases) args.add("--phase=" + p);
        String script = "set -e\nmount -t tmpfs none /sys/class\nmkdir -p /sys/class/tpm/tpm0/pcr-" + bank
                + "\necho \"$1\" > /sys/class/tpm/tpm0/pcr-" + bank + "/11\nshift\nexec \"$@\"";
        List<String> cmd = new ArrayList<>(List.of("unshare", "-m", "sh", "-c", script, "sh", pcr11Hex.toUpperCase()));
        cmd.addAll(args);
        Run r = run(null, Map.of(), cmd.toArray(new String[0]));
        flush();
        assertTrue(r.exit() == 0, "systemd-measure sign failed:\n" + r.all());
        return r.out().lines().filter(l -> l.startsWith("{")).findFirst().orElseThrow(() -> new AssertionError("no JSON from systemd-measure:\n" + r.all()));
    }

    // ------------------------------------------------------------------ clevis

    /** clevis luks bind -d IMG tpm2 CONFIG (the existing passphrase from a key file). */
    public void clevisBind(Path img, String config) throws IOException {
        flush();
        ok("clevis", "luks", "bind", "-y", "-d", img.toString(), "-k", passphraseFile().toString(), "tpm2", config);
        flush();
    }

    /** clevis luks pass: the passphrase the clevis token recovers through the TPM, null when it cannot. */
    public byte[] clevisPass(Path img, int slot) {
        flush();
        Run r = run("clevis", "luks", "pass", "-d", img.toString(), "-s", Integer.toString(slot));
        flush();
        // the passphrase clevis generated (base64url) is printed as is, maybe with a line end
        return r.exit() == 0 ? r.out().stripTrailing().getBytes(StandardCharsets.UTF_8) : null;
    }

    /** clevis encrypt tpm2 CONFIG < plaintext: the compact JWE. */
    public String clevisEncrypt(String config, byte[] plaintext) {
        flush();
        Run r = run(plaintext, Map.of(), "clevis", "encrypt", "tpm2", config);
        flush();
        assertTrue(r.exit() == 0, "clevis encrypt failed:\n" + r.all());
        return r.out().lines().filter(l -> l.startsWith("ey")).findFirst().orElseThrow();
    }

    /** clevis decrypt < JWE; null when the TPM refuses. */
    public byte[] clevisDecrypt(String jwe) {
        flush();
        Run r = run(jwe.getBytes(StandardCharsets.US_ASCII), Map.of(), "clevis", "decrypt");
        flush();
        return r.exit() == 0 ? r.out().getBytes(StandardCharsets.UTF_8) : null;
    }

    /** An RSA key pair for signed PCR policies, made by openssl: {@code pcr-signing.pem} and {@code pcr-signing.pub.pem}. */
    public record SigningKey(Path key, Path pub) {
    }

    /** Makes the {@link SigningKey} in the directory with openssl genpkey (RSA 2048) and openssl pkey -pubout. */
    public SigningKey pcrSigningKey() {
        Path key = dir.resolve("pcr-signing.pem");
        Path pub = dir.resolve("pcr-signing.pub.pem");
        ok("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key.toString());
        ok("openssl", "pkey", "-in", key.toString(), "-pubout", "-out", pub.toString());
        return new SigningKey(key, pub);
    }

    /**
     * The six secrets of the policy acceptance tests, each sealed by its own client, in this order: (a) tpm2-tools
     * to sha256 PCR 7 and (b) to sha256 PCR 7+11 ({@code a.pub}/{@code a.priv}, …), (c) a LUKS2 image with
     * systemd-cryptenroll --tpm2-pcrs=7+11 ({@code c.img}), (d) one with --tpm2-public-key (the {@link SigningKey}),
     * signed PCR 11 ({@code d.img}), (e) a clevis luks bind tpm2 pin on sha256 PCR 7 ({@code e.img}), (f) a clevis
     * encrypt tpm2 JWE on sha1 PCR 7+11 ({@code f.jwe}).
     */
    public record SixSecrets(Path[] a, Path[] b, Path imgC, SigningKey signing, Path imgD, Path imgE, Path jweF) {
    }

    /** Seals {@link SixSecrets} against the swtpm's PCRs as they are now; a, b and f hold these plaintexts. */
    public SixSecrets sealSix(byte[] secretA, byte[] secretB, byte[] secretF) throws IOException {
        Path[] a = tpm2Seal("a", "sha256:7", secretA);
        Path[] b = tpm2Seal("b", "sha256:7,11", secretB);
        Path imgC = luksImage("c");
        cryptenroll(imgC, "--tpm2-pcrs=7+11");
        SigningKey signing = pcrSigningKey();
        Path imgD = luksImage("d");
        cryptenroll(imgD, "--tpm2-public-key=" + signing.pub(), "--tpm2-public-key-pcrs=11");
        Path imgE = luksImage("e");
        clevisBind(imgE, "{\"pcr_bank\":\"sha256\",\"pcr_ids\":\"7\"}");
        Path jweF = dir.resolve("f.jwe");
        Files.writeString(jweF, clevisEncrypt("{\"pcr_bank\":\"sha1\",\"pcr_ids\":\"7,11\"}", secretF));
        return new SixSecrets(a, b, imgC, signing, imgD, imgE, jweF);
    }
}
