package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.boot.BootPolicy;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.OsLogs;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * {@code boot} and {@code predict} take the payload and how it runs through one {@link PayloadOptions} mixin: the
 * same options in picocli's model (names, labels, descriptions, defaults) and, for the same arguments, the same
 * {@link MeasuredBoot.Request}.
 */
class PayloadOptionsTest {

    static final List<String> SHARED = List.of("--esp", "--disk", "--boot-path", "--firmware-log", "--time-budget");

    @Test
    void bootAndPredictDeclareThePayloadOptionsOnce() {
        CommandLine cli = Main.commandLine(Services.DEFAULT);
        CommandSpec boot = cli.getSubcommands().get("boot").getCommandSpec();
        CommandSpec predict = cli.getSubcommands().get("predict").getCommandSpec();
        for (String name : SHARED) {
            OptionSpec b = boot.findOption(name);
            OptionSpec p = predict.findOption(name);
            assertNotNull(b, "boot " + name);
            assertNotNull(p, "predict " + name);
            assertEquals(b.paramLabel(), p.paramLabel(), name);
            assertEquals(Arrays.asList(b.description()), Arrays.asList(p.description()), name + "'s description");
            assertEquals(b.defaultValue(), p.defaultValue(), name + "'s default");
        }
        assertEquals(boot.positionalParameters().get(0).paramLabel(), predict.positionalParameters().get(0).paramLabel());
        assertEquals(Arrays.asList(boot.positionalParameters().get(0).description()),
                Arrays.asList(predict.positionalParameters().get(0).description()));
    }

    @Test
    void theSameArgumentsMakeTheSameRequest() {
        String[] shared = {"uki.efi", "--esp", "/esp", "--disk", "/disk.img", "--boot-path", "\\EFI\\debian\\shimx64.efi",
                "--firmware-log", "/log.bin", "--time-budget", "7s"};
        PayloadOptions b = parse("boot", shared, "--tpm", "swtpm:");
        PayloadOptions p = parse("predict", shared, "--policy", "/p.yaml", "--pcrs", "/pcrs.yaml");
        org.kexecmeasured.payload.PayloadFile bytes = org.kexecmeasured.payload.PayloadFile.of(new byte[]{1, 2, 3});
        MeasuredBoot.Request rb = b.request(bytes, b.log().path(), null, null, BootPolicy.BUILTIN_DEFAULT, Duration.ZERO, OsLogs.NONE);
        MeasuredBoot.Request rp = p.request(bytes, p.log().path(), null, null, BootPolicy.BUILTIN_DEFAULT, Duration.ZERO, OsLogs.NONE);
        assertSame(rb.payload(), rp.payload());
        assertEquals(List.of(rb.payloadName(), rb.esp(), rb.firmwareLog(), rb.timeBudgetMillis(), rb.disk(), rb.bootPath(), rb.toolVersion()),
                List.of(rp.payloadName(), rp.esp(), rp.firmwareLog(), rp.timeBudgetMillis(), rp.disk(), rp.bootPath(), rp.toolVersion()));
        assertEquals(List.of("uki.efi", Path.of("/esp"), Path.of("/log.bin"), 7000L, Path.of("/disk.img"), "\\EFI\\debian\\shimx64.efi"),
                List.of(rp.payloadName(), rp.esp(), rp.firmwareLog(), rp.timeBudgetMillis(), rp.disk(), rp.bootPath()));
    }

    private static PayloadOptions parse(String command, String[] shared, String... more) {
        CommandLine cli = Main.commandLine(Services.DEFAULT);
        String[] args = new String[shared.length + more.length + 1];
        args[0] = command;
        System.arraycopy(shared, 0, args, 1, shared.length);
        System.arraycopy(more, 0, args, 1 + shared.length, more.length);
        CommandLine.ParseResult r = cli.parseArgs(args);
        Object c = r.subcommand().commandSpec().userObject();
        return c instanceof BootCommand bc ? bc.run : ((PredictCommand) c).run;
    }
}
