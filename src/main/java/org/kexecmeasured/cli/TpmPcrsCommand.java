package org.kexecmeasured.cli;

import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.error.TpmException;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Json;
import org.kexecmeasured.util.Hex;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code kexec-measured tpm pcrs}: PCR values, like tpm2_pcrread. */
public final class TpmPcrsCommand implements Callable<Integer> {
    final TpmCommand.TctiOption tpmOption = new TpmCommand.TctiOption();
    List<String> banks = new ArrayList<>();
    String pcrs = "all";
    boolean json;
    boolean stats;
    CommandSpec spec;

    static CommandSpec model(Services services) {
        TpmPcrsCommand c = new TpmPcrsCommand(services);
        CommandSpec s = CliModel.command(c, "pcrs", "Print PCR values of the active banks (fewest TPM2_PCR_Read commands).");
        c.tpmOption.addTo(s);
        s.addOption(CliModel.option("--bank", List.class, () -> c.banks, v -> c.banks = v).auxiliaryTypes(String.class)
                .paramLabel("BANK").splitRegex(",")
                .description("PCR bank(s), e.g. sha256 (repeatable or comma-separated). Default: all active banks.").build());
        s.addPositional(CliModel.positional("PCRS", String.class, () -> c.pcrs, v -> c.pcrs = v).index("0").arity("0..1")
                .description("PCRs, e.g. 0-7,11 or all (default: all = 0-23).").build());
        s.addOption(CliModel.option("--json", boolean.class, () -> c.json, v -> c.json = v)
                .description("JSON output: {\"tcti\":…, \"banks\":{\"sha256\":{\"0\":\"hex\",…}}}.").build());
        s.addOption(CliModel.option("--stats", boolean.class, () -> c.stats, v -> c.stats = v)
                .description("Print the number of TPM commands and the time spent to stderr.").build());
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

    private final Services services;

    TpmPcrsCommand(Services services) {
        this.services = services;
    }

    @Override
    public Integer call() throws Exception {
        List<Integer> list = PcrSelection.parsePcrList(pcrs);
        if (list.isEmpty()) throw new BadInputException("no PCRs selected");
        for (int p : list) {
            if (p > 23) throw new BadInputException("PCR " + p + " does not exist on a PC-client TPM (0-23)");
        }
        List<HashAlg> wanted = new ArrayList<>();
        for (String b : banks) {
            HashAlg a = HashAlg.fromName(b.strip());
            if (!wanted.contains(a)) wanted.add(a);
        }
        Map<HashAlg, byte[][]> values;
        String tcti;
        List<HashAlg> order;
        try (Tpm tpm = services.tpm().open(tpmOption.tcti)) {
            tcti = tpm.tcti();
            List<HashAlg> active = tpm.banks();
            for (HashAlg a : wanted) {
                if (!active.contains(a)) {
                    throw new BadInputException("PCR bank " + a.tpmName + " is not active on this TPM (active: "
                            + String.join(", ", TpmInfoCommand.names(active)) + ")");
                }
            }
            order = wanted.isEmpty() ? active : wanted;
            long c0 = tpm.commandCount();
            long t0 = System.nanoTime();
            values = tpm.readPcrs(PcrSelection.of(order, list));
            if (stats) {
                spec.commandLine().getErr().printf("read %d PCR values: %d TPM2_PCR_Read commands, %.2f ms%n",
                        list.size() * order.size(), tpm.commandCount() - c0, (System.nanoTime() - t0) / 1e6);
                spec.commandLine().getErr().flush();
            }
        } catch (TpmException e) {
            throw TpmCommand.asIo(e);
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> banksJson = new LinkedHashMap<>();
            for (HashAlg a : order) {
                Map<String, String> m = new LinkedHashMap<>();
                for (int p : list) m.put(Integer.toString(p), Hex.of(values.get(a)[p]));
                banksJson.put(a.tpmName, m);
            }
            Map<String, Object> root = new LinkedHashMap<>();
            root.put("tcti", tcti);
            root.put("banks", banksJson);
            out.println(Json.PRETTY.writeValueAsString(root));
        } else {
            for (HashAlg a : order) {
                out.println("  " + a.tpmName + ":");
                for (int p : list) {
                    out.printf("    %-2d: 0x%s%n", p, Hex.of(values.get(a)[p]).toUpperCase(Locale.ROOT));
                }
            }
        }
        out.flush();
        return 0;
    }
}
