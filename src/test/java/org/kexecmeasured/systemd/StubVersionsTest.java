package org.kexecmeasured.systemd;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.cli.Main;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 13's table: every Debian systemd-stub (252, 254, 257, 262, newest) × UKI variant, built with that
 * version's own ukify; each cell asserts against that version's own systemd-measure (run live) and, for
 * the stub's other measurements, against what independent tools (objcopy, GNU cpio) read in the inputs.
 */
class StubVersionsTest {

    @TempDir
    static Path tmp;

    record Run(int rc, String out, String err) {
    }

    static Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Main.execute(args, new PrintWriter(out), new PrintWriter(err));
        return new Run(rc, out.toString(), err.toString());
    }

    @TestFactory
    List<DynamicNode> everyStubVersionAndVariant() {
        List<DynamicNode> rows = new ArrayList<>();
        rows.add(DynamicTest.dynamicTest("versions run: " + SystemdVersions.all(), StubVersionsTest::theNewestIsSids));
        for (SystemdVersions.Version v : SystemdVersions.all()) {
            List<DynamicNode> cells = new ArrayList<>();
            for (UkiVariants.Variant variant : UkiVariants.Variant.values()) {
                String why = variant.unsupported(v);
                if (why != null) {
                    // not a skip: the cell states that this version has no such UKI, and the test checks the version
                    cells.add(DynamicTest.dynamicTest(variant + ": n/a (" + why + ")", () -> assertNotNull(variant.unsupported(v))));
                    continue;
                }
                Path dir = tmp.resolve(v.suite() + "-" + variant.name().toLowerCase());
                cells.add(DynamicContainer.dynamicContainer(variant.toString(), List.of(
                        DynamicTest.dynamicTest("inspect PCR 11 = systemd-measure " + v.version(),
                                () -> inspectMatchesSystemdMeasure(v, UkiVariants.build(v, variant))),
                        DynamicTest.dynamicTest("emulation reaches the kernel",
                                () -> emulationReachesKernel(v, variant, UkiVariants.build(v, variant), dir.resolve("out"))))));
            }
            rows.add(DynamicContainer.dynamicContainer("systemd " + v, cells));
        }
        return rows;
    }

    /**
     * "Whatever Debian ships newest when the tests run": fetch-systemd resolved sid's version from sid's index of
     * today (not a number written down here), and by dpkg's own ordering it is at least every other suite's.
     */
    static void theNewestIsSids() {
        SystemdVersions.Version sid = SystemdVersions.suite("sid");
        for (SystemdVersions.Version v : SystemdVersions.all()) {
            RealParts.Result r = RealParts.runAny(List.of("dpkg", "--compare-versions", sid.version(), "ge", v.version()), "dpkg");
            assertEquals(0, r.exit(), "sid's " + sid.version() + " >= " + v.suite() + "'s " + v.version() + " (dpkg --compare-versions)");
        }
    }

    /** systemd-measure calculate over the section files, every bank; bank → PCR 11 hex. */
    static Map<String, String> systemdMeasure(SystemdVersions.Version v, Map<String, Path> sections) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(v.measure().toString(), "calculate", "--phase=:", "--json=short",
                "--bank=sha1", "--bank=sha256", "--bank=sha384", "--bank=sha512"));
        for (var e : sections.entrySet()) cmd.add("--" + e.getKey().substring(1) + "=" + e.getValue());
        JsonNode j = Json.MAPPER.readTree(RealParts.run(cmd, "systemd " + v));
        Map<String, String> out = new java.util.TreeMap<>();
        j.fields().forEachRemaining(f -> out.put(f.getKey(), f.getValue().get(0).get("hash").asText()));
        assertEquals(4, out.size(), "systemd-measure printed every bank: " + j);
        return out;
    }

    static void inspectMatchesSystemdMeasure(SystemdVersions.Version v, UkiVariants.Built b) throws Exception {
        Run r = cli("inspect", "--json", b.uki().toString());
        assertEquals(0, r.rc(), r.err());
        JsonNode uki = Json.MAPPER.readTree(r.out()).get("uki");
        assertTrue(uki.get("stub").asText().contains(v.version()), "inspect names the stub version: " + uki.get("stub"));
        List<Map<String, Path>> profiles = b.profiles();
        for (int i = 0; i < profiles.size(); i++) {
            Map<String, String> expected = systemdMeasure(v, profiles.get(i));
            JsonNode pcr11 = profiles.size() == 1 || i == 0 ? uki.get("pcr11") : uki.get("profiles").get(i).get("pcr11");
            String where = "profile " + i + " of " + b.uki() + ": " + pcr11;
            for (var e : expected.entrySet()) assertEquals(e.getValue(), pcr11.get(e.getKey()).asText(), "PCR 11 " + e.getKey() + ", " + where);
            assertTrue(pcr11.get("source").asText().startsWith("emulated"), "PCR 11 comes from running the stub: " + where);
            // the static model is a cross-check of the known versions: it must agree too
            assertEquals("true", pcr11.get("model").get("agrees").asText(), "static model, " + where);
        }
        if (profiles.size() > 1) {
            assertEquals(profiles.size(), uki.get("profiles").size(), "inspect lists every profile");
            boolean alt = false;
            for (JsonNode p : uki.get("profiles")) alt |= p.has("id") && p.get("id").asText().equals("alt");
            assertTrue(alt, "inspect shows the profiles' IDs: " + uki.get("profiles"));
        }
    }

    static void emulationReachesKernel(SystemdVersions.Version v, UkiVariants.Variant variant, UkiVariants.Built b, Path out)
            throws Exception {
        Files.createDirectories(out.getParent());
        Run r = cli("emulate", "--json", "--time-budget", "30s", "--esp", b.esp().toString(),
                "--out", out.toString(), b.uki().toString());
        assertEquals(0, r.rc(), "emulate " + b.uki() + ": " + r.err());
        JsonNode j = Json.MAPPER.readTree(r.out());
        JsonNode h = j.get("handOff");
        assertNotNull(h, "a kernel hand-off: " + r.out());
        byte[] linux = Files.readAllBytes(b.profiles().get(0).get(".linux"));
        assertEquals(Hex.of(HashAlg.SHA256.digest(linux)), h.get("kernelSha256").asText(), "the kernel handed over is .linux (objcopy)");
        // PCR 11 events of the run replay to systemd-measure's value (profile 0: what boots without @N)
        byte[] pcr = new byte[32];
        List<String> pcr12 = new ArrayList<>();
        List<String> pcr13 = new ArrayList<>();
        for (JsonNode m : j.get("measurements")) {
            String desc = new String(Hex.parse(m.get("eventData").asText()), StandardCharsets.UTF_16LE);
            if (m.get("pcr").asInt() == 11) pcr = HashAlg.SHA256.extend(pcr, Hex.parse(m.get("dataSha256").asText()));
            if (m.get("pcr").asInt() == 12) pcr12.add(desc);
            if (m.get("pcr").asInt() == 13) pcr13.add(desc);
        }
        assertEquals(systemdMeasure(v, b.profiles().get(0)).get("sha256"), Hex.of(pcr), "PCR 11 events of the emulation");
        if (variant == UkiVariants.Variant.ADDONS) {
            assertTrue(pcr12.stream().anyMatch(d -> d.contains(b.addonCmdline())), "the addon's command line in PCR 12: " + pcr12);
            assertTrue(h.get("cmdline").asText().contains(b.addonCmdline()), "the kernel gets the addon's command line: " + h);
        }
        if (variant == UkiVariants.Variant.CREDENTIALS_SYSEXT) {
            assertTrue(pcr12.stream().anyMatch(d -> d.contains("Credentials initrd")), "PCR 12 credentials: " + pcr12);
            assertTrue(pcr13.stream().anyMatch(d -> d.contains("System extension initrd")), "PCR 13 sysext: " + pcr13);
            String listing = cpioListing(Files.readAllBytes(out.resolve("initrd")), out);
            assertTrue(listing.contains(".extra/credentials/test.cred"), "GNU cpio finds the credential in the initrd: " + listing);
            assertTrue(listing.contains(".extra/sysext/test.raw"), "GNU cpio finds the sysext in the initrd: " + listing);
        }
    }

    /**
     * GNU cpio's listing of every archive in a concatenated initrd (cpio -t stops at the first trailer): the
     * bytes are cut after each TRAILER!!! at the next newc magic, and cpio lists each piece.
     */
    static String cpioListing(byte[] initrd, Path dir) throws Exception {
        String s = new String(initrd, StandardCharsets.ISO_8859_1);
        StringBuilder listing = new StringBuilder();
        int start = 0;
        int n = 0;
        while (start >= 0 && start < s.length()) {
            int trailer = s.indexOf("TRAILER!!!", start);
            int next = trailer < 0 ? -1 : s.indexOf("070701", trailer);
            int end = next < 0 ? s.length() : next;
            Path piece = dir.resolve("initrd-part" + n++);
            Files.write(piece, java.util.Arrays.copyOfRange(initrd, start, end));
            listing.append(RealParts.run(List.of("sh", "-c", "cpio -t --quiet < '" + piece + "'"), "cpio"));
            start = next;
        }
        return listing.toString();
    }
}
