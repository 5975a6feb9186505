package org.kexecmeasured.cli;

import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.error.TpmException;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Json;
import org.kexecmeasured.util.Hex;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code kexec-measured tpm pcrs}: PCR values, like tpm2_pcrread. */
@Command(name = "pcrs", mixinStandardHelpOptions = true,
        description = "Print PCR values of the active banks (fewest TPM2_PCR_Read commands).")
public final class TpmPcrsCommand implements Callable<Integer> {
    @CommandLine.Mixin
    TpmCommand.TctiOption tpmOption;

    @CommandLine.Option(names = "--bank", paramLabel = "BANK", split = ",",
            description = "PCR bank(s), e.g. sha256 (repeatable or comma-separated). Default: all active banks.")
    List<String> banks = new ArrayList<>();

    @CommandLine.Parameters(index = "0", arity = "0..1", paramLabel = "PCRS",
            description = "PCRs, e.g. 0-7,11 or all (default: all = 0-23).")
    String pcrs = "all";

    @CommandLine.Option(names = "--json", description = "JSON output: {\"tcti\":…, \"banks\":{\"sha256\":{\"0\":\"hex\",…}}}.")
    boolean json;

    @CommandLine.Option(names = "--stats", description = "Print the number of TPM commands and the time spent to stderr.")
    boolean stats;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

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
