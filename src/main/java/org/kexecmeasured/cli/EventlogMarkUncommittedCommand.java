package org.kexecmeasured.cli;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import org.kexecmeasured.boot.UncommittedHandOver;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.error.TpmException;
import org.kexecmeasured.util.BadInputException;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * {@code eventlog mark-uncommitted}: run early in the next system (kexec-measured-uncommitted.service); when the
 * sidecar copied to /run says a pending boot was started without its commit, extends the uncommitted hand-over
 * event ({@link UncommittedHandOver}, tcg2/uncommitted-handover.md) and appends it to the carried log.
 */
public final class EventlogMarkUncommittedCommand implements Runnable {

    Path runDir;
    String tcti;
    boolean json;
    CommandSpec spec;

    static CommandSpec model(Services services) {
        EventlogMarkUncommittedCommand c = new EventlogMarkUncommittedCommand(services);
        CommandSpec s = CliModel.command(c, "mark-uncommitted",
                "In the system a kexec started: if its sidecar says the boot was prepared with",
                "'boot --at-shutdown' and never committed, extend the uncommitted hand-over event into the",
                "plan's boundary PCRs and append it to the carried log (tcg2/uncommitted-handover.md).",
                "A committed sidecar, none, or a crash kernel's: nothing is done.");
        CliModel.exitCodes(s, "0:marked, marked before, or nothing to mark",
                "2:bad input (a damaged manifest or log) or unusable TPM; nothing was extended",
                "4:the TPM was extended but the log could not be rewritten",
                "70:internal error");
        s.addOption(CliModel.option("--run-dir", Path.class, () -> c.runDir, v -> c.runDir = v).paramLabel("DIR")
                .defaultValue("/run/kexec-measured").description("where the initrd copied the sidecar (default: ${DEFAULT-VALUE})").build());
        s.addOption(CliModel.option("--tpm", String.class, () -> c.tcti, v -> c.tcti = v).paramLabel("TCTI")
                .description("the TPM (default: $TPM2TOOLS_TCTI, else device:/dev/tpmrm0)").build());
        s.addOption(CliModel.option("--json", boolean.class, () -> c.json, v -> c.json = v).description("JSON result").build());
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

    /**
     * What {@code --json} prints (tcg2/uncommitted-handover.md): {@code outcome} ({@code committed_or_none},
     * {@code crash_left_alone}, {@code already_marked}, {@code marked}), the boundary {@code pcrs} and {@code nonce}
     * (empty and null when nothing was to mark), {@code agreedBefore}, and the {@code log} marked (or null).
     */
    @JsonPropertyOrder({"outcome", "pcrs", "nonce", "agreedBefore", "log"})
    public record JsonResult(String outcome, List<Integer> pcrs, String nonce, boolean agreedBefore, String log) {
        static JsonResult of(UncommittedHandOver.Result r) {
            return new JsonResult(r.outcome().name().toLowerCase(Locale.ROOT), r.pcrs(), r.nonce(), r.agreedBefore(),
                    r.log() == null ? null : r.log().toString());
        }
    }

    private final Services services;

    EventlogMarkUncommittedCommand(Services services) {
        this.services = services;
    }

    @Override
    public void run() {
        PrintWriter out = spec.commandLine().getOut();
        UncommittedHandOver.Result r;
        Tpm[] opened = new Tpm[1];
        try {
            // the TPM is opened only when there is something to mark (a committed boot's sidecar needs none)
            r = UncommittedHandOver.mark(runDir, () -> opened[0] = services.tpm().open(tcti));
        } catch (TpmException e) {
            throw new BadInputException("TPM " + (tcti == null ? "(default)" : tcti) + ": " + e.getMessage(), e);
        } finally {
            if (opened[0] != null) opened[0].close();
        }
        if (json) {
            out.println(EventlogCommand.json(JsonResult.of(r)));
        } else {
            out.println(switch (r.outcome()) {
                case COMMITTED_OR_NONE -> "no uncommitted sidecar in " + runDir + ": nothing to mark";
                case CRASH_LEFT_ALONE -> "a crash kernel's sidecar: nothing is extended for it (tcg2/uncommitted-handover.md)";
                case ALREADY_MARKED -> "already marked: " + r.log() + " holds the uncommitted hand-over event of nonce " + r.nonce();
                case MARKED -> "kexec-measured: uncommitted hand-over of nonce " + r.nonce() + " extended into PCRs " + r.pcrs()
                        + " and appended to " + r.log() + (r.agreedBefore() ? ""
                        : "; the carried log did not replay to the TPM before it (something else extended those PCRs)");
            });
        }
        out.flush();
    }
}
