package org.kexecmeasured.systemd;

import org.kexecmeasured.payload.RealParts;

import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * UKIs built with a systemd version's own ukify (objcopy for 252, which has no ukify, as its documentation
 * does), in the variants of issue 13, with the section files systemd-measure needs for each profile.
 */
public final class UkiVariants {

    public enum Variant {
        PLAIN, UCODE, PCRSIG, ADDONS, PROFILES, CREDENTIALS_SYSEXT;

        /** Null when the version supports the variant, else why not. */
        public String unsupported(SystemdVersions.Version v) {
            return switch (this) {
                case UCODE -> v.major() < 256 ? ".ucode came with systemd 256" : null;
                case ADDONS -> v.addonStub() == null ? "addons came with systemd 254" : null;
                case PROFILES -> v.major() < 257 ? "multi-profile UKIs came with systemd 257" : null;
                default -> null;
            };
        }
    }

    /**
     * A built UKI.
     *
     * @param esp       a directory ESP holding the UKI as \EFI\BOOT\BOOTX64.EFI with its .extra.d (addons, credentials, sysext)
     * @param profiles  per profile (one entry, index 0 meaning "no profiles", for UKIs without .profile sections):
     *                  section name → file with that section's bytes, as the stub sees them for that profile
     * @param addonCmdline the addon's command line (ADDONS), else null
     */
    public record Built(Path uki, Path esp, List<Map<String, Path>> profiles, String addonCmdline, Path addon) {
    }

    static final String CMDLINE = "console=ttyS0 root=/dev/vda ro quiet";
    static final String ADDON_CMDLINE = "systemd.addon=yes";
    static final String PROFILE1_CMDLINE = "console=ttyS0 root=/dev/vda ro profile=alt";

    private UkiVariants() {
    }

    /** Where built UKIs are kept between test classes and runs: {@code target/uki-cache/<key>/}. */
    static Path cacheRoot() {
        return RealParts.repoRoot().resolve("target/uki-cache");
    }

    /** A {@link Built} as cached: paths relative to its cache directory. */
    record Cached(String uki, String esp, List<Map<String, String>> profiles, String addonCmdline, String addon) {
    }

    /**
     * The UKI of {@code variant} built with {@code v}'s own tools, once per set of inputs: the first caller builds it
     * into {@code target/uki-cache/<key>/} and every later one (this run's other test classes, later runs until
     * {@code mvn clean}) reuses it. The key is the SHA-256 of everything the build reads: this class's bytecode (the
     * recipe), the suite and its Debian version (stub, ukify, systemd-measure and pefile come from that version's
     * packages), the variant, and the kernel's and the stub's bytes. Built in a private directory and renamed into
     * place, so concurrent test JVMs never see half a UKI. Callers must treat the files as read-only.
     */
    public static synchronized Built build(SystemdVersions.Version v, Variant variant) throws IOException {
        Path dir = cacheRoot().resolve(cacheKey(v, variant));
        Path index = dir.resolve("built.json");
        if (!Files.isRegularFile(index)) {
            Files.createDirectories(cacheRoot());
            Path work = Files.createTempDirectory(cacheRoot(), dir.getFileName() + ".building-");
            Built b = buildInto(v, variant, work);
            Cached c = new Cached(rel(work, b.uki()), rel(work, b.esp()), b.profiles().stream().map(m -> {
                Map<String, String> r = new LinkedHashMap<>();
                m.forEach((k, p) -> r.put(k, rel(work, p)));
                return r;
            }).toList(), b.addonCmdline(), b.addon() == null ? null : rel(work, b.addon()));
            Files.write(work.resolve("built.json"), Json.PRETTY.writeValueAsBytes(c));
            try {
                Files.move(work, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException raced) {
                if (!Files.isRegularFile(index)) throw raced; // not another JVM's finished build: a real failure
                deleteTree(work);
            }
        }
        Cached c = Json.MAPPER.readValue(index.toFile(), Cached.class);
        List<Map<String, Path>> profiles = new ArrayList<>();
        for (Map<String, String> m : c.profiles()) {
            Map<String, Path> r = new LinkedHashMap<>();
            m.forEach((k, p) -> r.put(k, dir.resolve(p)));
            profiles.add(r);
        }
        return new Built(dir.resolve(c.uki()), dir.resolve(c.esp()), List.copyOf(profiles), c.addonCmdline(),
                c.addon() == null ? null : dir.resolve(c.addon()));
    }

    static String cacheKey(SystemdVersions.Version v, Variant variant) throws IOException {
        MessageDigest md = sha256();
        try (var recipe = UkiVariants.class.getResourceAsStream("UkiVariants.class")) {
            md.update(recipe.readAllBytes());
        }
        for (String s : List.of(v.suite(), v.version(), variant.name())) md.update((s + "\n").getBytes(StandardCharsets.UTF_8));
        for (Path p : new Path[]{RealParts.kernel(), v.stub()}) md.update(sha256().digest(Files.readAllBytes(p)));
        return v.suite() + "-" + variant.name().toLowerCase() + "-" + Hex.of(md.digest()).substring(0, 16);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String rel(Path base, Path p) {
        return base.relativize(p).toString();
    }

    private static void deleteTree(Path p) throws IOException {
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }

    /** Builds the UKI of {@code variant} with {@code v}'s tools in {@code dir} (no cache). */
    static Built buildInto(SystemdVersions.Version v, Variant variant, Path dir) throws IOException {
        Files.createDirectories(dir);
        Path kernel = RealParts.kernel();
        Path initrd = dir.resolve("initrd.cpio");
        Path root = dir.resolve("initrd-root");
        Files.createDirectories(root);
        Files.writeString(root.resolve("init"), "#!/bin/sh\necho " + variant + "\n");
        RealParts.run(List.of("sh", "-c", "cd '" + root + "' && find . | LC_ALL=C sort | cpio --quiet -o -H newc --reproducible > '"
                + initrd + "'"), "cpio");
        Path cmdline = dir.resolve("cmdline.txt");
        Files.writeString(cmdline, CMDLINE);
        Path osrel = dir.resolve("os-release");
        Files.writeString(osrel, "ID=debian\nPRETTY_NAME=\"kexec-measured " + variant + " test\"\n");
        Path esp = dir.resolve("esp");
        Path boot = esp.resolve("EFI/BOOT");
        Files.createDirectories(boot);
        Path uki = boot.resolve("BOOTX64.EFI");
        Path extra = boot.resolve("BOOTX64.EFI.extra.d");
        List<String> extraArgs = new ArrayList<>();
        List<Path> profilePes = new ArrayList<>();
        String addonCmdline = null;
        Path addon = null;
        Path priv = null;
        Path pub = null;
        if (variant == Variant.PCRSIG) {
            priv = dir.resolve("pcr-priv.pem");
            pub = dir.resolve("pcr-pub.pem");
            RealParts.run(List.of("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", priv.toString()), "openssl");
            RealParts.run(List.of("openssl", "pkey", "-in", priv.toString(), "-pubout", "-out", pub.toString()), "openssl");
        }
        if (v.ukify() == null) {
            // systemd 252: objcopy, as make-uki and systemd 252's documentation do
            List<String> cmd = new ArrayList<>(List.of("objcopy",
                    "--add-section", ".osrel=" + osrel, "--change-section-vma", ".osrel=0x20000",
                    "--add-section", ".cmdline=" + cmdline, "--change-section-vma", ".cmdline=0x30000"));
            if (variant == Variant.PCRSIG) {
                // systemd-measure 252's `sign` needs a TPM to compute the policy; the stub never measures
                // .pcrsig (it only passes it on in /.extra), so a well-formed signature document serves here
                Path sig = dir.resolve("pcrsig.json");
                Files.writeString(sig, "{\"sha256\":[{\"pcrs\":[11],\"pkfp\":\"00\",\"pol\":\"00\",\"sig\":\"AA==\"}]}");
                cmd.addAll(List.of("--add-section", ".pcrsig=" + sig, "--change-section-vma", ".pcrsig=0x40000",
                        "--add-section", ".pcrpkey=" + pub, "--change-section-vma", ".pcrpkey=0x50000"));
            }
            cmd.addAll(List.of("--add-section", ".linux=" + kernel, "--change-section-vma", ".linux=0x2000000",
                    "--add-section", ".initrd=" + initrd, "--change-section-vma", ".initrd=0x3000000",
                    v.stub().toString(), uki.toString()));
            RealParts.run(cmd, "binutils");
        } else {
            if (variant == Variant.UCODE) {
                Path ucode = dir.resolve("ucode.cpio");
                Path ur = dir.resolve("ucode-root/kernel/x86/microcode");
                Files.createDirectories(ur);
                Files.write(ur.resolve("GenuineIntel.bin"), "not really microcode".getBytes(StandardCharsets.US_ASCII));
                RealParts.run(List.of("sh", "-c", "cd '" + dir.resolve("ucode-root") + "' && find . | LC_ALL=C sort | cpio --quiet -o -H newc --reproducible > '"
                        + ucode + "'"), "cpio");
                extraArgs.add("--microcode=" + ucode);
            }
            if (variant == Variant.PCRSIG) {
                extraArgs.addAll(List.of("--pcr-private-key=" + priv, "--pcr-public-key=" + pub, "--pcr-banks=sha256"));
            }
            if (variant == Variant.PROFILES) {
                Path p0 = dir.resolve("profile0.efi");
                Path p1 = dir.resolve("profile1.efi");
                RealParts.run(List.of(v.ukify().toString(), "build", "--stub=" + v.addonStub(), "--profile=ID=default\nTITLE=Default",
                        "--output=" + p0), "systemd-ukify " + v);
                RealParts.run(List.of(v.ukify().toString(), "build", "--stub=" + v.addonStub(), "--profile=ID=alt\nTITLE=Alternative",
                        "--cmdline=" + PROFILE1_CMDLINE, "--output=" + p1), "systemd-ukify " + v);
                profilePes.add(p0);
                profilePes.add(p1);
                for (Path p : profilePes) extraArgs.add("--join-profile=" + p);
            }
            List<String> cmd = new ArrayList<>(List.of(v.ukify().toString(), "build", "--linux=" + kernel, "--initrd=" + initrd,
                    "--cmdline=@" + cmdline, "--os-release=@" + osrel, "--stub=" + v.stub(), "--output=" + uki));
            cmd.addAll(extraArgs);
            RealParts.run(cmd, "systemd-ukify " + v);
        }
        if (variant == Variant.ADDONS) {
            Files.createDirectories(extra);
            addon = extra.resolve("test.addon.efi");
            addonCmdline = ADDON_CMDLINE;
            RealParts.run(List.of(v.ukify().toString(), "build", "--stub=" + v.addonStub(), "--cmdline=" + ADDON_CMDLINE,
                    "--output=" + addon), "systemd-ukify " + v);
        }
        if (variant == Variant.CREDENTIALS_SYSEXT) {
            Files.createDirectories(extra);
            Files.writeString(extra.resolve("test.cred"), "kexec-measured test credential\n");
            Files.write(extra.resolve("test.raw"), new byte[4096]); // a sysext image; the stub only packs it
        }
        return new Built(uki, esp, sectionFiles(v, uki, dir.resolve("sections")), addonCmdline, addon);
    }

    /**
     * Section files per profile as the stub sees them (UAPI.5: the base is every header before the first
     * .profile; profile N is the N-th .profile up to the next, its headers replacing the base's of the same
     * name), each VirtualSize bytes, cut by the suite's own python3-pefile (not this project's PE parser).
     * Only the sections that version's systemd-measure takes (its --help) are kept.
     */
    private static List<Map<String, Path>> sectionFiles(SystemdVersions.Version v, Path uki, Path dir) throws IOException {
        Files.createDirectories(dir);
        String py = String.join("\n",
                "import sys, pefile",
                "pe = pefile.PE(sys.argv[1], fast_load=True)",
                "for i, s in enumerate(pe.sections):",
                "    name = s.Name.rstrip(b'\\0').decode()",
                "    data = s.get_data()[:s.Misc_VirtualSize].ljust(s.Misc_VirtualSize, b'\\0')",
                "    open('%s/%03d%s' % (sys.argv[2], i, name), 'wb').write(data)",
                "    print('%03d%s' % (i, name))");
        Path script = dir.resolve("sections.py");
        Files.writeString(script, py);
        String listing = RealParts.run(List.of("env", "PYTHONPATH=" + v.root().resolve("usr/lib/python3/dist-packages"),
                "python3", script.toString(), uki.toString(), dir.toString()), "python3 (and the suite's python3-pefile)");
        String help = RealParts.run(List.of(v.measure().toString(), "--help"), "systemd " + v);
        List<Map<String, Path>> scopes = new ArrayList<>();
        scopes.add(new LinkedHashMap<>());
        for (String f : listing.strip().split("\n")) {
            String name = f.substring(3);
            if (name.equals(".profile")) scopes.add(new LinkedHashMap<>());
            if (!help.contains("--" + name.substring(1) + "=PATH")) continue; // not measured by this version
            if (Files.size(dir.resolve(f)) == 0) continue;
            scopes.get(scopes.size() - 1).put(name, dir.resolve(f));
        }
        if (scopes.size() == 1) return List.of(scopes.get(0));
        List<Map<String, Path>> out = new ArrayList<>();
        for (int i = 1; i < scopes.size(); i++) {
            Map<String, Path> m = new LinkedHashMap<>(scopes.get(0));
            m.putAll(scopes.get(i));
            out.add(m);
        }
        return out;
    }
}
