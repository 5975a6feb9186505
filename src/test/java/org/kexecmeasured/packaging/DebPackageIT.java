package org.kexecmeasured.packaging;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.util.HashAlg;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The Debian package the build made (packaging/deb/build-deb, package phase) installs on this machine
 * with apt-get, runs from the installed paths, and goes away again with apt-get purge. Oracles: dpkg
 * and apt themselves (install, {@code dpkg -L}, {@code dpkg-query}), bash (the completion registers),
 * lintian (the package's tags), and the installed tool's own demo run verified against the swtpm.
 *
 * <p>Runs in the integration-test phase (failsafe), after {@code mvn package}. Installing needs root;
 * the machine must not have kexec-measured installed already (the test would remove it). A file lock
 * serialises concurrent builds on one machine.
 */
@ExtendWith(SwtpmExtension.class)
@SwtpmExtension.Banks({"sha1", "sha256"})
class DebPackageIT {
    static final Path TARGET = Path.of("target");
    static final String PKG = "kexec-measured";
    static final Path LOCK = Path.of("/run/lock/kexec-measured-deb-test.lock");

    record Run(int rc, String out) {
    }

    static Run run(Path dir, Map<String, String> env, String... cmd) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (dir != null) pb.directory(dir.toFile());
        pb.environment().putAll(env);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new AssertionError(cmd[0] + " not found: " + e.getMessage());
        }
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(15, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            fail(String.join(" ", cmd) + " timed out");
        }
        return new Run(p.exitValue(), out);
    }

    static String ok(String... cmd) throws Exception {
        Run r = run(null, Map.of(), cmd);
        assertEquals(0, r.rc(), String.join(" ", cmd) + ":\n" + r.out());
        return r.out();
    }

    static Path deb() throws IOException {
        try (Stream<Path> s = Files.list(TARGET)) {
            List<Path> l = s.filter(p -> p.getFileName().toString().matches("kexec-measured_.*_amd64\\.deb")).toList();
            assertEquals(1, l.size(), "one package in target/ (built by 'mvn package' via packaging/deb/build-deb): " + l);
            return l.get(0).toAbsolutePath();
        }
    }

    static boolean installed() throws Exception {
        Run r = run(null, Map.of(), "dpkg-query", "-W", "-f=${Status}", PKG);
        return r.rc() == 0 && r.out().contains("install ok installed");
    }

    /** Every installed package with version and state: the machine "as it was" for apt. */
    static String packageSet() throws Exception {
        return ok("dpkg-query", "-W", "-f=${Package}:${Architecture} ${Version} ${db:Status-Abbrev}\\n");
    }

    static final Map<String, String> APT_ENV = Map.of("DEBIAN_FRONTEND", "noninteractive");

    @Test
    void installsRunsFromTheInstalledPathsAndPurges(Swtpm swtpm, @TempDir Path dir) throws Exception {
        Path deb = deb();
        Files.createDirectories(LOCK.getParent());
        try (FileChannel ch = FileChannel.open(LOCK, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock lock = ch.lock()) {
            assertFalse(installed(), PKG + " is already installed on this machine; the test installs and purges it: "
                    + "remove it first (apt-get purge " + PKG + ")");
            assertFalse(Files.exists(Path.of("/usr/bin/kexec-measured")), "/usr/bin/kexec-measured exists without the package");
            String before = packageSet();
            byte[] initramfsConf = holdInitramfs();
            try {
                Run inst = run(null, APT_ENV, "apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q",
                        "--no-install-recommends", deb.toString());
                assertEquals(0, inst.rc(), "apt-get install " + deb + ":\n" + inst.out());
                assertTrue(installed(), "dpkg-query: " + PKG + " installed");
                if (initramfsConf != null && ok("dpkg", "-L", PKG).contains("/usr/share/initramfs-tools/hooks/")) {
                    // the package's trigger asked initramfs-tools to rebuild (held off for the test)
                    assertTrue(inst.out().contains("update-initramfs: Not updating initramfs."), inst.out());
                }
                checkLayout();
                checkClassDataSharing();
                checkJnaNeedsNoWritableDirectory();
                checkVersion();
                checkManPageAndCompletion();
                checkEveryCommandHasAManPageAndCompletion();
                checkExamplePolicies();
                checkSystemdFindsTheUnitAndTheShutdownHook();
                checkDracutListsTheModule(true);
                checkMkinitramfsRunsTheHook(dir);
                demo(swtpm, dir);
                readmeDemo();
            } finally {
                Run purge = run(null, APT_ENV, "apt-get", "-o", "DPkg::Lock::Timeout=600", "purge", "-y", "-q", PKG);
                releaseInitramfs(initramfsConf);
                assertEquals(0, purge.rc(), "apt-get purge " + PKG + ":\n" + purge.out());
            }
            assertFalse(installed(), PKG + " is gone");
            checkDracutListsTheModule(false);
            for (String p : List.of("/usr/bin/kexec-measured", "/usr/share/kexec-measured", "/usr/share/doc/kexec-measured",
                    "/var/cache/kexec-measured",
                    "/usr/share/bash-completion/completions/kexec-measured", "/usr/share/man/man1/kexec-measured.1.gz")) {
                assertFalse(Files.exists(Path.of(p), java.nio.file.LinkOption.NOFOLLOW_LINKS), p + " removed by purge");
            }
            assertEquals(before, packageSet(), "the same packages, versions and states as before the test");
        }
    }

    static final Path INITRAMFS_CONF = Path.of("/etc/initramfs-tools/update-initramfs.conf");

    /**
     * The package's initramfs-tools hook activates the update-initramfs trigger, which would rebuild this
     * machine's /boot/initrd.img (minutes, and a changed machine) on install and again on purge. For the
     * test, initramfs-tools' own switch (update_initramfs=no) holds that off; the file is restored after.
     * Returns the original bytes, or null when initramfs-tools is not installed.
     */
    static byte[] holdInitramfs() throws IOException {
        if (!Files.isRegularFile(INITRAMFS_CONF)) return null;
        byte[] orig = Files.readAllBytes(INITRAMFS_CONF);
        Files.writeString(INITRAMFS_CONF, new String(orig, StandardCharsets.UTF_8)
                + "\n# DebPackageIT: no rebuild while the test installs and purges kexec-measured\nupdate_initramfs=no\n");
        return orig;
    }

    static void releaseInitramfs(byte[] orig) throws IOException {
        if (orig != null) Files.write(INITRAMFS_CONF, orig);
    }

    /** dpkg -L: the layout of packaging/deb/build-deb. */
    static void checkLayout() throws Exception {
        List<String> files = ok("dpkg", "-L", PKG).lines().toList();
        for (String f : List.of("/usr/bin/kexec-measured", "/usr/share/kexec-measured/kexec-measured",
                "/usr/share/kexec-measured/kexec-measured.jar", "/usr/share/man/man1/kexec-measured.1.gz",
                "/usr/share/man/man1/kexec-measured-boot.1.gz", "/usr/share/man/man1/kexec-measured-eventlog-show.1.gz",
                "/usr/share/man/man1/kexec-measured-report.1.gz",
                "/usr/share/bash-completion/completions/kexec-measured", "/usr/share/doc/kexec-measured/copyright",
                "/usr/share/doc/kexec-measured/changelog.gz", "/usr/share/doc/kexec-measured/tcg2/kexec-boundary-event.md",
                "/usr/share/doc/kexec-measured/examples/policy/README.md")) {
            assertTrue(files.contains(f), "dpkg -L lists " + f + ":\n" + String.join("\n", files));
        }
        // the hooks and units of packaging/ land where packaging/README.md says, executables executable
        Map<String, String> conventions = Map.of("initramfs-tools", "/usr/share/initramfs-tools", "dracut",
                "/usr/lib/dracut/modules.d", "initrd", "/usr/lib/kexec-measured", "systemd", "/usr/lib/systemd/system",
                "system-shutdown", "/usr/lib/systemd/system-shutdown");
        for (Map.Entry<String, String> c : conventions.entrySet()) {
            Path src = Path.of("packaging", c.getKey());
            if (!Files.isDirectory(src)) continue;
            try (Stream<Path> s = Files.walk(src)) {
                for (Path f : s.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith("README")).toList()) {
                    Path installed = Path.of(c.getValue()).resolve(src.relativize(f).toString());
                    assertTrue(files.contains(installed.toString()), "dpkg -L lists " + installed + " (from " + f + ")");
                    assertEquals(Files.isExecutable(f) || c.getKey().equals("system-shutdown"), Files.isExecutable(installed),
                            installed + " executable like " + f);
                }
            }
        }
        // every runtime library the jar's manifest names is installed beside it
        String classPath;
        try (java.util.jar.JarFile jar = new java.util.jar.JarFile("/usr/share/kexec-measured/kexec-measured.jar")) {
            classPath = jar.getManifest().getMainAttributes().getValue("Class-Path");
        }
        assertTrue(classPath != null && !classPath.isBlank(), "the jar's manifest has a Class-Path");
        for (String jar : classPath.split(" ")) {
            assertTrue(files.contains("/usr/share/kexec-measured/" + jar), "dpkg -L lists the library " + jar);
        }
        assertEquals("/usr/share/kexec-measured/kexec-measured",
                Path.of("/usr/bin/kexec-measured").toRealPath().toString(), "/usr/bin/kexec-measured is the launcher");
    }

    /**
     * When the launcher uses a class-data-sharing archive, postinst built one for the installed jar and
     * JDK, and the JVM maps it (its own cds log says so) when the installed command starts.
     */
    static void checkClassDataSharing() throws Exception {
        if (!ok("dpkg", "-L", PKG).contains("/usr/share/kexec-measured/cds-train.bin")) return;
        assertTrue(Files.isRegularFile(Path.of("/var/cache/kexec-measured/kexec-measured.jsa")), "postinst built the CDS archive");
        // --help, not --version: the launcher gives --version no archive (it loads fewer classes than mapping one costs)
        Run v = run(Path.of("/"), Map.of("KEXEC_MEASURED_JAVA_OPTS", "-Xlog:cds=info:stderr"), "/usr/bin/kexec-measured", "--help");
        assertEquals(0, v.rc(), v.out());
        assertTrue(v.out().contains("Mapped dynamic region"), "the JVM mapped the installed archive:\n" + v.out());
        // the commands that run a payload get the larger archive, trained on systemd's stub where it is installed
        Path stub = Path.of("/usr/lib/systemd/boot/efi/linuxx64.efi.stub");
        if (Files.isReadable(stub)) {
            assertTrue(Files.isRegularFile(Path.of("/var/cache/kexec-measured/kexec-measured-payload.jsa")),
                    "postinst built the payload commands' CDS archive");
            Run i = run(Path.of("/"), Map.of("KEXEC_MEASURED_JAVA_OPTS", "-Xlog:cds=info:stderr"), "/usr/bin/kexec-measured",
                    "inspect", "--json", stub.toString());
            assertEquals(0, i.rc(), i.out());
            assertTrue(i.out().contains("kexec-measured-payload.jsa") && i.out().contains("Mapped dynamic region"),
                    "inspect mapped the payload archive:\n" + i.out().lines().filter(l -> l.contains("[cds]")).toList());
        }
    }

    /**
     * JNA's native part comes from the package, not unpacked from the jar into a home or temporary directory:
     * with neither writable (as for the system-shutdown hook once the root is read-only) the installed command
     * still makes its system calls — {@code unload} reaches the kernel, whatever the kernel answers.
     */
    static void checkJnaNeedsNoWritableDirectory() throws Exception {
        if (!ok("dpkg", "-L", PKG).contains("/usr/lib/kexec-measured/native/libjnidispatch.so")) return;
        Run u = run(Path.of("/"), Map.of("KEXEC_MEASURED_JAVA_OPTS", "-Duser.home=/proc/none -Djava.io.tmpdir=/proc/none",
                "XDG_CACHE_HOME", "/proc/none"), "/usr/bin/kexec-measured", "unload");
        assertTrue(u.rc() != 70 && u.out().contains("unload") && !u.out().contains("UnsatisfiedLinkError")
                && !u.out().contains("jnidispatch"), "unload made its system call without a writable directory:\n" + u.out());
    }

    /** The installed command reports the version dpkg installed (Maven's -SNAPSHOT is Debian's ~SNAPSHOT). */
    static void checkVersion() throws Exception {
        String debVersion = ok("dpkg-query", "-W", "-f=${Version}", PKG).trim();
        Run v = run(Path.of("/"), Map.of(), "/usr/bin/kexec-measured", "--version");
        assertEquals(0, v.rc(), v.out());
        assertEquals("kexec-measured " + debVersion.replace('~', '-'), v.out().trim());
    }

    static void checkManPageAndCompletion() throws Exception {
        String page;
        try (InputStream in = new GZIPInputStream(Files.newInputStream(Path.of("/usr/share/man/man1/kexec-measured-boot.1.gz")))) {
            page = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertTrue(page.contains(".TH \"KEXEC\\-MEASURED\\-BOOT\" \"1\""), page.substring(0, Math.min(300, page.length())));
        // bash itself loads the completion file and registers a function for the command
        String reg = ok("bash", "-c", "source /usr/share/bash-completion/completions/kexec-measured && complete -p kexec-measured");
        assertTrue(reg.startsWith("complete ") && reg.contains("-F ") && reg.trim().endsWith(" kexec-measured"), reg);
    }

    /** The installed tool's command tree, from its own --help walked down: each command path ("eventlog show", "exec", …) → its help. */
    static Map<List<String>, String> commandTree(List<String> path) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/kexec-measured"));
        cmd.addAll(path);
        cmd.add("--help");
        String help = ok(cmd.toArray(String[]::new));
        Map<List<String>, String> tree = new java.util.LinkedHashMap<>();
        tree.put(path, help);
        int at = help.indexOf("\nCommands:\n");
        if (at < 0) return tree;
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^  ([a-z][a-z0-9-]*)(?:\\s|$)").matcher(help.substring(at));
        while (m.find()) {
            List<String> sub = new ArrayList<>(path);
            sub.add(m.group(1));
            tree.putAll(commandTree(sub));
        }
        return tree;
    }

    /** The long options a command's help lists (picocli: "  -x, --name" or "      --name"; wrapped text is indented further). */
    static List<String> longOptions(String help) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^  (?:-\\w, |    )(--[a-z][a-z0-9-]*)").matcher(help);
        List<String> l = new ArrayList<>();
        while (m.find()) l.add(m.group(1));
        return l;
    }

    /**
     * Every command the installed tool has (its own --help, walked down) has a man page that man's
     * formatter reads (the roff .TH header of its name), and bash completes it: bash-completion's file,
     * sourced by bash, offers every subcommand after "kexec-measured" and every long option of each
     * command after "kexec-measured PATH --".
     */
    static void checkEveryCommandHasAManPageAndCompletion() throws Exception {
        Map<List<String>, String> helps = commandTree(List.of());
        List<List<String>> tree = List.copyOf(helps.keySet());
        assertTrue(tree.contains(List.of("predict")) && tree.contains(List.of("exec")) && tree.contains(List.of("unload"))
                && tree.contains(List.of("commit-pending")) && tree.contains(List.of("eventlog", "show")), "command tree: " + tree);
        for (List<String> path : tree) {
            String name = "kexec-measured" + (path.isEmpty() ? "" : "-" + String.join("-", path));
            Path page = Path.of("/usr/share/man/man1", name + ".1.gz");
            assertTrue(Files.isRegularFile(page), "man page of '" + String.join(" ", path) + "': " + page);
            String roff;
            try (InputStream in = new GZIPInputStream(Files.newInputStream(page))) {
                roff = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            assertTrue(roff.contains(".TH \"" + name.toUpperCase(java.util.Locale.ROOT).replace("-", "\\-") + "\" \"1\""),
                    page + ": " + roff.substring(0, Math.min(300, roff.length())));
            List<String> words = new ArrayList<>(List.of("kexec-measured"));
            words.addAll(path);
            words.add(path.isEmpty() || tree.stream().anyMatch(t -> t.size() > path.size() && t.subList(0, path.size()).equals(path))
                    ? "" : "--");
            String offered = complete(words);
            List<String> expected = new ArrayList<>();
            for (List<String> t : tree) {
                if (t.size() == path.size() + 1 && t.subList(0, path.size()).equals(path)) expected.add(t.get(path.size()));
            }
            if (expected.isEmpty()) expected.addAll(longOptions(helps.get(path)));
            for (String w : expected) {
                assertTrue(List.of(offered.split(" ")).contains(w), "bash completes '" + String.join(" ", words) + "' with " + w
                        + ": " + offered);
            }
        }
    }

    /** What bash's completion function for kexec-measured offers for the command line {@code words} (the last one being completed). */
    static String complete(List<String> words) throws Exception {
        String script = "source /usr/share/bash-completion/completions/kexec-measured 2>/dev/null\n"
                + "f=$(complete -p kexec-measured | sed -n 's/.*-F \\([^ ]*\\) .*/\\1/p')\n"
                + "COMP_WORDS=(\"$@\"); COMP_CWORD=$(( $# - 1 )); COMP_LINE=\"$*\"; COMP_POINT=${#COMP_LINE}\n"
                + "\"$f\" kexec-measured \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\" 2>/dev/null\n"
                + "echo \"${COMPREPLY[*]}\"\n";
        List<String> cmd = new ArrayList<>(List.of("bash", "-c", script, "complete"));
        cmd.addAll(words);
        return ok(cmd.toArray(String[]::new)).trim();
    }

    /** The example policies and their schema are installed as they are in policy/. */
    static void checkExamplePolicies() throws Exception {
        Path examples = Path.of("/usr/share/doc/kexec-measured/examples/policy");
        try (Stream<Path> s = Files.list(Path.of("policy"))) {
            for (Path src : s.filter(Files::isRegularFile).toList()) {
                Path installed = examples.resolve(src.getFileName().toString());
                assertTrue(Files.isRegularFile(installed), installed + " (from " + src + ")");
                assertEquals(-1L, Files.mismatch(src, installed), installed + " is " + src);
            }
        }
        assertTrue(Files.isRegularFile(examples.resolve("kexec-measured-policy.schema.json")), "the policies' JSON Schema");
    }

    /**
     * systemd finds the unit and the shutdown hook: the directories systemd's pkg-config file names
     * (systemdsystemunitdir, systemdshutdowndir) are where they are installed (/lib is /usr/lib on
     * Debian 12), and systemd-analyze verify loads the installed unit (its ExecStart exists and is executable).
     */
    static void checkSystemdFindsTheUnitAndTheShutdownHook() throws Exception {
        Map<String, String> files = Map.of("systemdsystemunitdir", "/usr/lib/systemd/system/kexec-measured-sidecar.service",
                "systemdshutdowndir", "/usr/lib/systemd/system-shutdown/kexec-measured.shutdown");
        for (Map.Entry<String, String> f : files.entrySet()) {
            Run r = run(null, Map.of(), "pkg-config", "--variable=" + f.getKey(), "systemd");
            assertEquals(0, r.rc(), "pkg-config systemd (packages pkg-config, systemd): " + r.out());
            Path dir = Path.of(r.out().trim());
            assertEquals(dir.toRealPath(), Path.of(f.getValue()).getParent().toRealPath(), f.getKey() + " of systemd.pc");
            assertTrue(Files.isRegularFile(dir.resolve(Path.of(f.getValue()).getFileName())), f.getValue() + " seen from " + dir);
        }
        assertTrue(Files.isExecutable(Path.of(files.get("systemdshutdowndir"))), "systemd-shutdown runs only executables");
        Run v = run(null, Map.of(), "systemd-analyze", "verify", "--man=no", files.get("systemdsystemunitdir"));
        assertEquals(0, v.rc(), "systemd-analyze verify:\n" + v.out());
    }

    /** dracut (Debian's dracut-core) lists the package's module among the ones it can include, and only while installed. */
    static void checkDracutListsTheModule(boolean expected) throws Exception {
        Run r = run(null, Map.of(), "dracut", "--list-modules", "--no-kernel");
        if (r.rc() != 0 && r.out().contains("No such file")) fail("dracut not found: install the Debian package dracut-core");
        assertEquals(0, r.rc(), "dracut --list-modules:\n" + r.out());
        assertEquals(expected, r.out().lines().anyMatch(l -> l.equals("kexec-measured")), "dracut lists kexec-measured:\n" + r.out());
    }

    /**
     * initramfs-tools runs the package's hook and takes its boot script: a real mkinitramfs (a private
     * configuration that lists no modules, for speed) builds an initramfs, and lsinitramfs shows the
     * sidecar copier the hook put in and the init-top script.
     */
    static void checkMkinitramfsRunsTheHook(Path dir) throws Exception {
        Path conf = dir.resolve("initramfs-tools");
        Files.createDirectories(conf.resolve("scripts"));
        Files.createDirectories(conf.resolve("hooks"));
        Files.createDirectories(conf.resolve("conf.d"));
        Files.writeString(conf.resolve("initramfs.conf"), "MODULES=list\nBUSYBOX=auto\nCOMPRESS=gzip\n");
        Files.writeString(conf.resolve("modules"), "");
        String kernel;
        try (Stream<Path> s = Files.list(Path.of("/lib/modules"))) {
            kernel = s.map(p -> p.getFileName().toString()).sorted().findFirst()
                    .orElseThrow(() -> new AssertionError("no kernel in /lib/modules: install linux-image-amd64"));
        }
        Path img = dir.resolve("initrd.img");
        ok("mkinitramfs", "-d", conf.toString(), "-o", img.toString(), kernel);
        List<String> content = ok("lsinitramfs", img.toString()).lines().toList();
        for (String f : List.of("usr/lib/kexec-measured/copy-sidecar", "scripts/init-top/kexec-measured")) {
            assertTrue(content.contains(f), "lsinitramfs lists " + f);
        }
    }

    /**
     * tests/demo's main job with the installed command: a UKI built from Debian packages, boot --no-load
     * against a swtpm, then eventlog verify of the continued log against the TPM.
     */
    static void demo(Swtpm swtpm, Path dir) throws Exception {
        Path uki = dir.resolve("uki");
        Run mk = run(null, Map.of(), "sh", Path.of("tests/bin/make-uki").toAbsolutePath().toString(), uki.toString());
        assertEquals(0, mk.rc(), "make-uki (needs systemd-boot-efi, binutils, cpio, linux-image-amd64):\n" + mk.out());
        // a fresh TPM has no firmware history: its log holds only the Spec ID header
        Path firmware = dir.resolve("firmware.bin");
        Files.write(firmware, EventLog.newCryptoAgile(List.of(HashAlg.SHA1, HashAlg.SHA256)).build().toBytes());
        predictWithAnExamplePolicy(swtpm, dir, uki.resolve("demo.efi"), firmware);
        Path state = dir.resolve("state");
        List<String> boot = new ArrayList<>(List.of("/usr/bin/kexec-measured", "boot", uki.resolve("demo.efi").toString(),
                "--tpm", swtpm.tcti(), "--firmware-log", firmware.toString(), "--state-dir", state.toString(), "--no-load"));
        Run b = run(dir, Map.of(), boot.toArray(String[]::new));
        assertEquals(0, b.rc(), String.join(" ", boot) + ":\n" + b.out());
        assertTrue(Files.isRegularFile(state.resolve("eventlog.bin")), b.out());
        if (ok("dpkg", "-L", PKG).contains("/usr/lib/kexec-measured/native/libunicorn.so.2")) {
            // the package's own Unicorn engine is the one the installed tool loads: the dynamic loader says which file
            Run e = run(dir, Map.of("LD_DEBUG", "files"), "/usr/bin/kexec-measured", "emulate",
                    uki.resolve("demo.efi").toString());
            assertEquals(0, e.rc(), "emulate with the packaged engine:\n" + tail(e.out()));
            assertTrue(e.out().lines().anyMatch(l -> l.contains("file=/usr/share/kexec-measured/native/libunicorn.so.2")
                    || l.contains("file=/usr/lib/kexec-measured/native/libunicorn.so.2")), "ld.so loaded the packaged engine:\n"
                    + e.out().lines().filter(l -> l.contains("unicorn")).toList());
        }
        Run v = run(dir, Map.of(), "/usr/bin/kexec-measured", "eventlog", "verify", state.resolve("eventlog.bin").toString(),
                "--tpm", swtpm.tcti());
        assertEquals(0, v.rc(), "eventlog verify of the continued log against the swtpm:\n" + v.out());
        assertTrue(v.out().contains("ok: "), v.out());
    }

    /**
     * predict with the installed example policy (minimal.yaml) against a PCR snapshot tpm2-tools took
     * of the swtpm (--pcrs: no TPM at all): the policy allows the boot, names the installed file by the
     * SHA-256 sha256sum computes, and the payload by the Authenticode SHA-256 pesign computes.
     */
    static void predictWithAnExamplePolicy(Swtpm swtpm, Path dir, Path payload, Path firmware) throws Exception {
        Path policy = Path.of("/usr/share/doc/kexec-measured/examples/policy/minimal.yaml");
        Run snap = run(null, Map.of("TPM2TOOLS_TCTI", swtpm.tcti()), "tpm2_pcrread", "sha1:all+sha256:all");
        assertEquals(0, snap.rc(), "tpm2_pcrread (package tpm2-tools):\n" + snap.out());
        Path pcrs = dir.resolve("pcrs.yaml");
        Files.writeString(pcrs, snap.out());
        Run p = run(dir, Map.of(), "/usr/bin/kexec-measured", "predict", "--policy", policy.toString(), payload.toString(),
                "--pcrs", pcrs.toString(), "--firmware-log", firmware.toString(), "--json");
        assertEquals(0, p.rc(), "predict with the installed example policy:\n" + p.out());
        com.fasterxml.jackson.databind.JsonNode j = org.kexecmeasured.util.Json.MAPPER.readTree(p.out());
        assertTrue(j.path("decision").path("allowed").asBoolean(false), p.out());
        assertEquals(ok("sha256sum", policy.toString()).split(" ")[0], j.path("policy").path("id").asText(), "the policy's id");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("hash: ([0-9a-f]{64})")
                .matcher(ok("pesign", "-h", "-d", "sha256", "-i", payload.toString()));
        assertTrue(m.find(), "pesign printed the payload's hash");
        assertEquals(m.group(1), j.path("payload").path("authenticodeSha256").asText(), "the payload's Authenticode SHA-256");
    }

    /**
     * The README's first command, {@code tests/demo}, run with the installed tool (KEXEC_MEASURED): a UKI
     * from Debian packages booted with --no-load against its own swtpm, the continued log shown and
     * verified against the TPM's PCRs.
     */
    static void readmeDemo() throws Exception {
        Run r = run(null, Map.of("KEXEC_MEASURED", "/usr/bin/kexec-measured"), "sh", "tests/demo");
        assertEquals(0, r.rc(), "tests/demo with /usr/bin/kexec-measured:\n" + tail(r.out()));
        assertTrue(r.out().contains("== kexec-measured eventlog verify"), tail(r.out()));
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("ok: ")), "the continued log verifies against the TPM:\n" + tail(r.out()));
    }

    static String tail(String s) {
        return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
    }

    /** lintian, Debian's package checker, reports no error and no warning beyond packaging/deb's overrides. */
    @Test
    void lintianReportsNoErrorOrWarning() throws Exception {
        Path deb = deb();
        Run r = run(null, Map.of(), "lintian", "--fail-on", "error,warning", "--display-info", deb.toString());
        if (r.rc() != 0 && r.out().contains("not found")) fail("lintian: install the Debian package lintian (tests/bin/install-deps)");
        assertEquals(0, r.rc(), "lintian " + deb + ":\n" + r.out());
        assertFalse(r.out().lines().anyMatch(l -> l.startsWith("E: ") || l.startsWith("W: ")), r.out());
    }
}
