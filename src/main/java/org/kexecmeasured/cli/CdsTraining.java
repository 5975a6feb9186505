package org.kexecmeasured.cli;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.util.HashAlg;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Build step only (the pom's class-data-sharing training, and the package's build-cds): runs several commands in one
 * JVM, so that {@code -XX:ArchiveClassesAtExit} archives the classes of each — JDK 17 dumps one run's classes, and a
 * run of one command leaves the others' (the emulator, JNA, PE/COFF, the policy engine, Jackson) to be
 * parsed and verified at every start. Commands are separated by {@code --then}; their output is discarded and their
 * exit codes do not matter (a training input that is missing on the build machine only makes the archive smaller).
 *
 * <p>Four steps of its own, after the commands: {@code predict}'s path ({@link #trainPredict}: a policy file, a PCR
 * snapshot, the newest kernel of {@code /boot} planned in the emulator and judged — the emulator's service tables,
 * the Linux stub, the policy engine, YAML; the lambdas of that path exist only once run), with {@code --boot PAYLOAD}
 * first among the arguments a measured {@code boot --no-load} of it against a TPM held in this process
 * ({@link #trainBoot}, {@link TrainingTpm}: the plan, the hashing threads, the sidecar, the extend pipeline, the
 * journal, and the TPM path itself: {@code TssTpm} and TSS.Java's marshalling over {@link TrainingTpm}, an in-process
 * transport), every command's model (the lambdas that bind its options to its fields), and the classes a measured
 * {@code boot --no-load} and a {@code predict} with sealed secrets and re-authorization load beyond that
 * ({@code cds-classes.txt} beside this class: loaded by name, unrun; made by {@code tests/bin/cds-classlist}).
 */
public final class CdsTraining {

    /** The class list resource (one binary class name a line, # comments). */
    static final String CLASS_LIST = "cds-classes.txt";

    /** The --tpm of the training boot: well-formed (the command checks it), never opened (the training's opener ignores it). */
    private static final String TRAINING_TCTI = "swtpm:path=/nonexistent/kexec-measured-cds-training";

    private CdsTraining() {
    }

    public static void main(String[] args) {
        // as Main.main: JNA finds its libraries without running ldconfig, so the archive holds the classes of that path
        System.setProperty("jna.platform.library.path", Main.jnaPlatformLibraryPath());
        try {
            // what boot and predict load on their second thread (TSS.Java, JNA, libcrypto, Unicorn, predict's Jackson
            // mapper), started as they start it, so that the thread's lambda is archived too
            Warmup.start(true).join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // the archive is only smaller
        }
        PrintWriter nowhere = new PrintWriter(OutputStream.nullOutputStream());
        List<String> command = new ArrayList<>();
        String log = null;
        Path bootPayload = null;
        List<String> rest = new ArrayList<>(Arrays.asList(args));
        if (rest.size() >= 2 && rest.get(0).equals("--boot")) {
            bootPayload = Path.of(rest.get(1));
            rest = rest.subList(2, rest.size());
        }
        for (String a : rest) {
            if (a.equals("--then")) {
                log = run(command, nowhere, log);
                command.clear();
            } else {
                command.add(a);
            }
        }
        log = run(command, nowhere, log);
        if (log != null) trainPredict(Path.of(log), nowhere);
        if (bootPayload != null) trainBoot(bootPayload, nowhere, tpm -> { });
        // every command's model: its options' getter and setter lambdas are classes the JVM spins at run time unless
        // they are archived, and no training run builds boot's (~30 of them)
        Main.commandLine(Services.DEFAULT);
        loadClassList();
        System.exit(0);
    }

    /** Runs one command; returns the event log it showed (the predict step's firmware log) or the one before. */
    private static String run(List<String> command, PrintWriter nowhere, String log) {
        if (command.isEmpty()) return log;
        Main.execute(command.toArray(String[]::new), nowhere, nowhere);
        if (command.size() >= 3 && command.get(0).equals("eventlog") && command.get(1).equals("show")) {
            return command.get(command.size() - 1);
        }
        return log;
    }

    /**
     * {@code predict} of the newest kernel in /boot (an EFI-stub kernel: the emulator runs its stub) against a
     * snapshot of zero PCRs, with the training firmware log and a policy that tolerates every divergence: every step
     * of a prediction runs (policy file, plan, evaluation, report), and nothing outside a temporary directory is read
     * or written. Without a readable kernel the step is skipped.
     */
    static void trainPredict(Path firmwareLog, PrintWriter nowhere) {
        Path kernel = newestKernel();
        if (kernel == null) return;
        Path dir = null;
        try {
            dir = Files.createTempDirectory("kexec-measured-cds");
            StringBuilder pcrs = new StringBuilder("{\"banks\": {\"sha256\": {");
            for (int i = 0; i < 24; i++) pcrs.append(i == 0 ? "" : ", ").append('"').append(i).append("\": \"").append("00".repeat(32)).append('"');
            pcrs.append("}}}\n");
            Path snapshot = Files.writeString(dir.resolve("pcrs.json"), pcrs);
            Path policy = Files.writeString(dir.resolve("policy.yaml"), "version: 1\nmeasurement:\n  tolerate-divergent: ["
                    + String.join(", ", java.util.stream.IntStream.range(0, 24).mapToObj(Integer::toString).toList()) + "]\n");
            Main.execute(new String[]{"predict", "--policy", policy.toString(), "--pcrs", snapshot.toString(), "--firmware-log",
                    firmwareLog.toString(), "--json", kernel.toString()}, nowhere, nowhere);
        } catch (IOException | RuntimeException e) {
            // the archive is only smaller
        } finally {
            deleteTree(dir);
        }
    }

    /**
     * {@code boot --no-load} of {@code payload} (the pom passes a UKI that tests/bin/make-uki builds from Debian's
     * systemd-stub and kernel; without one, the newest kernel in /boot) against a {@link TrainingTpm} (through {@code TssTpm}, as a real TPM) of three banks and a
     * firmware log of only its Spec ID record (what such a TPM's PCRs replay to), its state directory in a temporary
     * directory: the boot's whole flow runs — the plan (the emulator running systemd-stub and the Linux stub, the
     * payload hashed on the hashing threads), the decision, the sidecar, the commit through the extend pipeline and the
     * journal, the outputs — so the lambdas of that flow (the JVM spins one class for each at its first run unless the
     * archive holds it) are archived. No kexec: the training's kexec supplier fails, and {@code --no-load} never asks.
     * Only with {@code --boot PAYLOAD} (the pom's training; an unreadable one: the newest /boot kernel instead, none: the
     * step is skipped); a failing boot only leaves the archive smaller (its exit code is printed into the training's
     * output, target/cds/train-payload.out). The boot takes its TPM lock as every boot does: the pom points
     * KEXEC_MEASURED_LOCK_DIR into target/ for it.
     *
     * @param opened gets each training TPM the boot opens (tests look at what was extended)
     * @return the boot's exit code, -1 when there was no payload to boot
     */
    static int trainBoot(Path payload, PrintWriter nowhere, java.util.function.Consumer<TrainingTpm> opened) {
        if (payload == null || !Files.isReadable(payload)) payload = newestKernel();
        if (payload == null) return -1;
        List<HashAlg> banks = List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384);
        Services training = Services.DEFAULT.withTpm(tcti -> {
            TrainingTpm tpm = new TrainingTpm(tcti, banks);
            opened.accept(tpm);
            return tpm.open();
        }).withKexec(() -> {
            throw new IllegalStateException("the class-data-sharing training loads no kernel");
        });
        Path dir = null;
        try {
            dir = Files.createTempDirectory("kexec-measured-cds");
            Path log = Files.write(dir.resolve("firmware.log"), EventLog.newCryptoAgile(banks).build().toBytes());
            java.io.StringWriter err = new java.io.StringWriter();
            int exit = Main.execute(new String[]{"boot", payload.toString(), "--tpm", TRAINING_TCTI, "--firmware-log", log.toString(),
                    "--state-dir", dir.resolve("state").toString(), "--no-load", "--json"}, nowhere, new PrintWriter(err), training);
            System.out.println("cds training: boot --no-load " + payload + ": exit " + exit + (exit == 0 ? "" : ": " + err));
            return exit;
        } catch (IOException | RuntimeException e) {
            System.out.println("cds training: boot --no-load " + payload + ": " + e);
            return 70;
        } finally {
            deleteTree(dir);
        }
    }

    /** The newest readable {@code /boot/vmlinuz-*} (an EFI-stub kernel the emulator runs), or null. */
    private static Path newestKernel() {
        try (Stream<Path> s = Files.list(Path.of("/boot"))) {
            return s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-") && Files.isReadable(p))
                    .max(Comparator.comparing(p -> p.getFileName().toString())).orElse(null);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static void deleteTree(Path dir) {
        if (dir == null) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            // a temporary directory left behind
        }
    }

    /** Loads (without initializing) every class of {@link #CLASS_LIST} that exists here; others are skipped. */
    static void loadClassList() {
        ClassLoader cl = CdsTraining.class.getClassLoader();
        try (InputStream in = CdsTraining.class.getResourceAsStream(CLASS_LIST)) {
            if (in == null) return;
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line; (line = r.readLine()) != null; ) {
                line = line.strip();
                if (line.isEmpty() || line.startsWith("#")) continue;
                try {
                    Class.forName(line, false, cl);
                } catch (ClassNotFoundException | LinkageError e) {
                    // a class of another version of a library or the JDK: only not archived
                }
            }
        } catch (IOException e) {
            // the archive is only smaller
        }
    }
}
