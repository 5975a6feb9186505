package org.kexecmeasured.uefi;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.cli.Main;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Acceptance: a UKI built with objcopy from Debian's systemd-stub 252, Debian's kernel, a small initrd, a
 * cmdline and os-release runs to the kernel cut-over; the hand-off equals the inputs byte for byte.
 */
class UkiEmulationTest {

    @TempDir
    static Path dir;
    static Path uki;
    static EmulationResult result;

    @BeforeAll
    static void build() throws Exception {
        uki = TestPayloads.makeUki(dir.resolve("uki"));
        result = Emulator.run(Files.readAllBytes(uki.resolve("demo.efi")),
                EmulatorOptions.builder().payloadName("demo.efi").timeBudgetMillis(60_000).build());
    }

    @Test
    void handOffEqualsTheInputs() throws Exception {
        HandOff h = result.handOff();
        assertNotNull(h, "cut-over reached");
        assertArrayEquals(Files.readAllBytes(uki.resolve("vmlinuz")), h.kernel(), "kernel");
        assertEquals(Files.readString(uki.resolve("cmdline.txt")), h.cmdline(), "cmdline");
        assertArrayEquals(Files.readAllBytes(uki.resolve("initrd.cpio")), h.initrd(), "initrd from the stub's LoadFile2");
        // systemd-stub 252 loads the kernel from its .linux section with its own VenMedia device path
        assertEquals("VenMedia(55c5d1f8-04cd-46b5-8a20-e56cbb3052d0)", h.devicePath());
    }

    @Test
    void pcr11HasTheEightIplEventsInSectionOrder() throws Exception {
        List<RecordingMeasurer.Measurement> pcr11 = result.measurements().stream().filter(m -> m.pcr() == 11).toList();
        String[] names = {".linux", ".osrel", ".cmdline", ".initrd"};
        Path[] files = {uki.resolve("vmlinuz"), uki.resolve("os-release"), uki.resolve("cmdline.txt"), uki.resolve("initrd.cpio")};
        assertEquals(8, pcr11.size(), "events: " + pcr11.size());
        for (int i = 0; i < 4; i++) {
            RecordingMeasurer.Measurement name = pcr11.get(2 * i);
            RecordingMeasurer.Measurement content = pcr11.get(2 * i + 1);
            assertEquals(0xD, name.eventType(), "EV_IPL");
            assertEquals(0xD, content.eventType(), "EV_IPL");
            assertArrayEquals((names[i] + "\0").getBytes(StandardCharsets.US_ASCII), name.dataToHash(), "name of " + names[i]);
            assertArrayEquals(Files.readAllBytes(files[i]), content.dataToHash(), "content of " + names[i]);
            assertTrue(new String(name.eventData(), StandardCharsets.UTF_16LE).startsWith(names[i]),
                    "description of " + names[i]);
        }
    }

    /** Independent oracle: systemd-measure's PCR 11 for the same inputs (its first phase, "enter-initrd"). */
    @Test
    void pcr11EventsReplayToSystemdMeasuresValue() throws Exception {
        Path measure = TestPayloads.require(Path.of("/lib/systemd/systemd-measure"), "systemd");
        Process p = new ProcessBuilder(measure.toString(), "calculate", "--linux=" + uki.resolve("vmlinuz"),
                "--osrel=" + uki.resolve("os-release"), "--cmdline=" + uki.resolve("cmdline.txt"),
                "--initrd=" + uki.resolve("initrd.cpio"), "--bank=sha256").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        String expected = out.lines().filter(l -> l.startsWith("11:sha256=")).findFirst().orElseThrow()
                .substring("11:sha256=".length());
        byte[] pcr = new byte[32];
        for (RecordingMeasurer.Measurement m : result.measurements()) {
            if (m.pcr() == 11) {
                pcr = HashAlg.SHA256.extend(pcr, m.dataSha256());
            }
        }
        pcr = HashAlg.SHA256.extend(pcr, HashAlg.SHA256.digest("enter-initrd".getBytes(StandardCharsets.US_ASCII)));
        assertEquals(expected, Hex.of(pcr));
    }

    @Test
    void aBareKernelIsHandedOffWithTheGivenInitrdAndCmdline() throws Exception {
        byte[] kernel = Files.readAllBytes(uki.resolve("vmlinuz"));
        byte[] initrd = Files.readAllBytes(uki.resolve("initrd.cpio"));
        EmulationResult r = Emulator.run(kernel, EmulatorOptions.builder().payloadName("vmlinuz").initrd(initrd)
                .append("root=/dev/vda").build());
        assertArrayEquals(kernel, r.handOff().kernel());
        assertArrayEquals(initrd, r.handOff().initrd());
        assertEquals("root=/dev/vda", r.handOff().cmdline());
        assertTrue(r.trace().isEmpty(), "nothing runs before the cut-over of a bare kernel");
    }

    @Test
    void stubVariablesAreWrittenToTheVolatileStore() {
        boolean stubInfo = result.variables().keySet().stream().anyMatch(k -> k.name().equals("StubInfo"));
        assertTrue(stubInfo, "StubInfo set: " + result.variables().keySet());
    }

    @Test
    void cliPrintsAndWritesTheHandOff() throws Exception {
        Path out = dir.resolve("cli-out");
        StringWriter so = new StringWriter();
        StringWriter se = new StringWriter();
        int rc = Main.execute(new String[]{"emulate", uki.resolve("demo.efi").toString(), "--out", out.toString(), "--json"},
                new PrintWriter(so), new PrintWriter(se));
        assertEquals(0, rc, se.toString());
        assertArrayEquals(Files.readAllBytes(uki.resolve("vmlinuz")), Files.readAllBytes(out.resolve("kernel")));
        assertArrayEquals(Files.readAllBytes(uki.resolve("initrd.cpio")), Files.readAllBytes(out.resolve("initrd")));
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(so.toString());
        assertEquals("console=ttyS0 root=/dev/vda ro quiet", json.get("handOff").get("cmdline").asText());
        assertEquals(8, json.get("measurements").size() - countPcr(json, 12));
        boolean stubInfo = false;
        for (var v : json.get("variables")) {
            stubInfo |= v.get("name").asText().equals("StubInfo");
        }
        assertTrue(stubInfo, "variables written by the stub are listed");
    }

    private static int countPcr(com.fasterxml.jackson.databind.JsonNode json, int pcr) {
        int n = 0;
        for (var m : json.get("measurements")) {
            n += m.get("pcr").asInt() == pcr ? 1 : 0;
        }
        return n;
    }

    @Test
    void cliRunsWithARamLayoutAndRejectsABadOne() {
        StringWriter se = new StringWriter();
        int rc = Main.execute(new String[]{"emulate", uki.resolve("demo.efi").toString(),
            "--ram-layout", "0x0-0x9f000,0x100000-0x20000000"}, new PrintWriter(new StringWriter()), new PrintWriter(se));
        assertEquals(0, rc, se.toString());
        se = new StringWriter();
        rc = Main.execute(new String[]{"emulate", uki.resolve("demo.efi").toString(), "--ram-layout", "0x0-0x100000"},
                new PrintWriter(new StringWriter()), new PrintWriter(se));
        assertEquals(Main.EXIT_BAD_INPUT, rc);
        assertTrue(se.toString().contains("32 MiB"), se.toString());
        se = new StringWriter();
        rc = Main.execute(new String[]{"emulate", uki.resolve("demo.efi").toString(), "--ram-layout", "0x0-0x1234"},
                new PrintWriter(new StringWriter()), new PrintWriter(se));
        assertEquals(Main.EXIT_BAD_INPUT, rc);
        assertTrue(se.toString().contains("page aligned"), se.toString());
    }

    @Test
    void cliReportsAFailingPayloadOnOneLineWithExit2() throws Exception {
        Path bad = dir.resolve("loop.efi");
        Files.write(bad, TestPayloads.tinyEfiApp(TestPayloads.bytes(0xEB, 0xFE)));
        StringWriter se = new StringWriter();
        int rc = Main.execute(new String[]{"emulate", bad.toString(), "--time-budget", "1s", "--ram", "64"},
                new PrintWriter(new StringWriter()), new PrintWriter(se));
        assertEquals(Main.EXIT_BAD_INPUT, rc);
        assertTrue(se.toString().contains("time budget"), se.toString());
        assertEquals(1, se.toString().strip().split("\n").length, se.toString());
    }

    /**
     * A 3 MiB initrd (large enough for the hand-off to share the payload's {@code .initrd} section instead of a
     * copy out of guest memory): the hand-off's initrd still equals the file objcopy put into the UKI, and the
     * section match refuses guest bytes that differ in one byte or in length.
     */
    @Test
    void largeInitrdServedByTheStubIsThePayloadsSectionByteForByte() throws Exception {
        byte[] big = new byte[3 << 20];
        new java.util.Random(14).nextBytes(big);
        Path initrd = dir.resolve("big.initrd.in");
        Files.write(initrd, big);
        Path out = dir.resolve("uki-big");
        Process p = new ProcessBuilder("sh", Path.of("tests/bin/make-uki").toAbsolutePath().toString(), out.toString(),
                "--name", "big", "--initrd", initrd.toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "make-uki: " + log);
        byte[] payload = Files.readAllBytes(out.resolve("big.efi"));
        EmulationResult r = Emulator.run(payload, EmulatorOptions.builder().payloadName("big.efi").timeBudgetMillis(60_000).build());
        assertArrayEquals(big, r.handOff().initrd(), "initrd from the stub's LoadFile2");
        assertEquals(big.length, r.handOff().initrdSize());
        assertTrue(r.handOff().initrdView().isReadOnly());

        java.nio.ByteBuffer shared = Emulator.payloadSectionEqualTo(org.kexecmeasured.uefi.spi.GuestBytes.of(big), payload);
        assertNotNull(shared, "the .initrd section matches");
        assertEquals(java.nio.ByteBuffer.wrap(big), shared);
        byte[] other = big.clone();
        other[other.length - 1] ^= 1;
        org.junit.jupiter.api.Assertions.assertNull(Emulator.payloadSectionEqualTo(org.kexecmeasured.uefi.spi.GuestBytes.of(other), payload));
        org.junit.jupiter.api.Assertions.assertNull(Emulator.payloadSectionEqualTo(
                org.kexecmeasured.uefi.spi.GuestBytes.of(java.util.Arrays.copyOf(big, big.length - 1)), payload));
    }

    /**
     * The payload as a buffer outside the heap and read-only (what a file mapping is): the emulator takes it without
     * a copy — the hand-off's initrd is a view of that very buffer (direct) — and the run is the same as from an
     * array: kernel and initrd equal the files objcopy put in, and every measurement equals the array run's (which
     * the tests above check against the inputs and systemd-measure).
     */
    @Test
    void aPayloadBufferOutsideTheHeapRunsAsTheArrayDoes() throws Exception {
        byte[] big = new byte[(5 << 20) + 1234];
        new java.util.Random(15).nextBytes(big);
        Path initrd = dir.resolve("direct.initrd.in");
        Files.write(initrd, big);
        Path out = dir.resolve("uki-direct");
        Process p = new ProcessBuilder("sh", Path.of("tests/bin/make-uki").toAbsolutePath().toString(), out.toString(),
                "--name", "direct", "--initrd", initrd.toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "make-uki: " + log);
        byte[] payload = Files.readAllBytes(out.resolve("direct.efi"));
        java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(payload.length).put(payload).flip().asReadOnlyBuffer();
        // options per run: each has its own recording measurer
        EmulationResult fromArray = Emulator.run(payload,
                EmulatorOptions.builder().payloadName("direct.efi").timeBudgetMillis(60_000).build());
        EmulationResult fromBuffer = Emulator.run(direct,
                EmulatorOptions.builder().payloadName("direct.efi").timeBudgetMillis(60_000).build());
        assertArrayEquals(big, fromBuffer.handOff().initrd(), "initrd from the stub's LoadFile2");
        assertTrue(fromBuffer.handOff().initrdView().isDirect(), "the initrd is a view of the payload buffer, not a copy");
        assertArrayEquals(Files.readAllBytes(out.resolve("direct.vmlinuz")), fromBuffer.handOff().kernel(), "kernel");
        assertEquals(fromArray.handOff().cmdline(), fromBuffer.handOff().cmdline());
        assertEquals(fromArray.measurements().size(), fromBuffer.measurements().size());
        for (int i = 0; i < fromArray.measurements().size(); i++) {
            RecordingMeasurer.Measurement a = fromArray.measurements().get(i);
            RecordingMeasurer.Measurement b = fromBuffer.measurements().get(i);
            assertEquals(a.pcr(), b.pcr());
            assertArrayEquals(a.eventData(), b.eventData(), "event " + i);
            assertArrayEquals(a.dataSha256(), b.dataSha256(), "event " + i);
        }
    }
}
