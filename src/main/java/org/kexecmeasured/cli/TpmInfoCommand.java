package org.kexecmeasured.cli;

import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.error.TpmException;
import org.kexecmeasured.tpm.TpmInfo;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Json;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code kexec-measured tpm info}: manufacturer, firmware, PCR banks, buffer sizes. */
public final class TpmInfoCommand implements Callable<Integer> {
    final TpmCommand.TctiOption tpmOption = new TpmCommand.TctiOption();
    boolean json;
    CommandSpec spec;

    static CommandSpec model(Services services) {
        TpmInfoCommand c = new TpmInfoCommand(services);
        CommandSpec s = CliModel.command(c, "info",
                "Show TPM manufacturer, firmware version, active PCR banks and maximum command size.");
        c.tpmOption.addTo(s);
        s.addOption(CliModel.option("--json", boolean.class, () -> c.json, v -> c.json = v).description("JSON output.").build());
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

    private final Services services;

    TpmInfoCommand(Services services) {
        this.services = services;
    }

    @Override
    public Integer call() throws Exception {
        TpmInfo info;
        String tcti;
        try (Tpm tpm = services.tpm().open(tpmOption.tcti)) {
            tcti = tpm.tcti();
            info = tpm.info();
        } catch (TpmException e) {
            throw TpmCommand.asIo(e);
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("tcti", tcti);
            m.put("manufacturer", info.manufacturer());
            m.put("vendorString", info.vendorString());
            m.put("firmwareVersion", info.firmwareVersion());
            m.put("firmwareVersion1", String.format("0x%08x", info.firmwareVersion1()));
            m.put("firmwareVersion2", String.format("0x%08x", info.firmwareVersion2()));
            m.put("family", info.family());
            m.put("revision", info.revision());
            m.put("activeBanks", names(info.activeBanks()));
            m.put("allocatedBanks", names(info.allocatedBanks()));
            m.put("pcrCount", info.pcrCount());
            m.put("maxCommandSize", info.maxCommandSize());
            m.put("maxResponseSize", info.maxResponseSize());
            m.put("maxDigestSize", info.maxDigestSize());
            out.println(Json.PRETTY.writeValueAsString(m));
        } else {
            out.printf("TPM:               %s%n", tcti);
            out.printf("Manufacturer:      %s%s%n", info.manufacturer(),
                    info.vendorString().isEmpty() ? "" : " (" + info.vendorString() + ")");
            out.printf("Firmware version:  %s (0x%08x 0x%08x)%n", info.firmwareVersion(), info.firmwareVersion1(), info.firmwareVersion2());
            out.printf("Specification:     TPM %s revision %s%n", info.family(), info.revision());
            out.printf("Active PCR banks:  %s%n", String.join(", ", names(info.activeBanks())));
            out.printf("PCRs:              %d%n", info.pcrCount());
            out.printf("Max command size:  %d%n", info.maxCommandSize());
            out.printf("Max response size: %d%n", info.maxResponseSize());
        }
        out.flush();
        return 0;
    }

    static List<String> names(List<HashAlg> banks) {
        return banks.stream().map(a -> a.tpmName).toList();
    }
}
