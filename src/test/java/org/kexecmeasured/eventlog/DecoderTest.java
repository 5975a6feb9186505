package org.kexecmeasured.eventlog;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.eventlog.decode.DecodedEvent;
import org.kexecmeasured.eventlog.decode.EfiVariable;
import org.kexecmeasured.eventlog.decode.GptEvent;
import org.kexecmeasured.eventlog.decode.ImageLoad;
import org.kexecmeasured.eventlog.decode.NoActionEvent;
import org.kexecmeasured.eventlog.decode.Separator;
import org.kexecmeasured.eventlog.decode.TaggedEvent;
import org.kexecmeasured.eventlog.decode.TextEvent;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Typed decoders on facts stated in the PC Client spec / measurements.md and on hostile data. */
class DecoderTest {

    private static List<Event> events(String name) {
        return EventLog.parse(Fixtures.read(name)).events();
    }

    @Test
    void linuxStubTagsInPcr9() {
        List<TaggedEvent> tags = events("server-startuploc3-kernel-tags.bin").stream()
                .filter(e -> e.eventType() == EventType.EV_EVENT_TAG).map(e -> (TaggedEvent) e.decoded()).toList();
        assertEquals(2, tags.size());
        assertEquals(0x8F3B22EDL, tags.get(0).taggedEventId());
        assertEquals("LOADED_IMAGE::LoadOptions", tags.get(0).text());
        assertEquals(26, tags.get(0).taggedEventData().length);
        assertEquals(0x8F3B22ECL, tags.get(1).taggedEventId());
        assertEquals("Linux initrd", tags.get(1).tagName());
        assertEquals(13, tags.get(1).taggedEventData().length);
    }

    @Test
    void systemdCmdlineIsUtf16WithNulAndHashedWithIt() throws Exception {
        List<Event> pcr12 = events("ovmf-sdboot-fedora37.bin").stream().filter(e -> e.pcrIndex() == 12).toList();
        assertEquals(2, pcr12.size());
        Event e = pcr12.get(0);
        TextEvent t = assertInstanceOf(TextEvent.class, e.decoded());
        assertEquals("utf-16le", t.encoding());
        assertTrue(t.nulTerminated());
        assertEquals(78, e.dataSize());
        assertTrue(t.text().contains("console=ttyS0"), t.text());
        assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(e.data()), e.digest(HashAlg.SHA256));
    }

    @Test
    void shimImageLoadDevicePathAsText() {
        ImageLoad il = events("ovmf-rhel9-secureboot.bin").stream()
                .filter(e -> e.eventType() == EventType.EV_EFI_BOOT_SERVICES_APPLICATION)
                .map(e -> (ImageLoad) e.decoded()).findFirst().orElseThrow();
        assertTrue(il.devicePath().startsWith("PciRoot(0x0)/Pci("), il.devicePath());
        assertTrue(il.devicePath().endsWith("/HD(1,GPT,a88ed452-9a52-45c4-91ce-3da7707caaab,0x800,0x12c000)/\\EFI\\redhat\\shimx64.efi"),
                il.devicePath());
        assertEquals(959848, il.imageLengthInMemory());
    }

    @Test
    void gptEventListsPartitions() {
        GptEvent g = events("ovmf-rhel9-secureboot.bin").stream().filter(e -> e.eventType() == EventType.EV_EFI_GPT_EVENT)
                .map(e -> assertInstanceOf(GptEvent.class, e.decoded())).findFirst().orElseThrow();
        assertEquals(3, g.partitions().size());
        assertEquals("EFI System Partition", g.partitions().get(0).name());
        assertEquals(128, g.sizeOfPartitionEntry());
    }

    @Test
    void separatorsAndSecureBoot() {
        Separator s = (Separator) events("ovmf-sdboot-fedora37.bin").get(9).decoded();
        assertEquals("normal", s.meaning());
        long wbcl = events("windows-gce-sha1-wbcl.bin").stream().filter(e -> e.eventType() == EventType.EV_SEPARATOR)
                .filter(e -> ((Separator) e.decoded()).meaning().equals("WBCL")).count();
        assertEquals(3, wbcl);
        EfiVariable sb = (EfiVariable) events("ovmf-rhel9-secureboot.bin").stream()
                .filter(e -> e.decoded() instanceof EfiVariable v && v.unicodeName().equals("SecureBoot")).findFirst().orElseThrow().decoded();
        assertEquals(EfiVariable.EFI_GLOBAL_VARIABLE, sb.variableName());
        assertArrayEquals(new byte[]{1}, sb.variableData());
        assertTrue(sb.summary().endsWith("= enabled"), sb.summary());
    }

    @Test
    void bootOptionsDecodeWithNetworkDevicePaths() {
        List<String> paths = events("windows-option-rom-sha1.bin").stream()
                .filter(e -> e.decoded() instanceof EfiVariable v && v.loadOption() != null)
                .map(e -> ((EfiVariable) e.decoded()).loadOption().devicePath()).toList();
        assertTrue(paths.stream().anyMatch(p -> p.endsWith("/IPv4(0.0.0.0,0x0,DHCP,0.0.0.0,0.0.0.0,0.0.0.0)")), paths.toString());
        assertTrue(paths.stream().anyMatch(p -> p.contains("/IPv6(0:0:0:0:0:0:0:0,0x0,Static,")), paths.toString());
        assertTrue(paths.stream().noneMatch(p -> p.contains("Path(")), paths.toString());
    }

    @Test
    void noActionVariants() {
        NoActionEvent loc = assertInstanceOf(NoActionEvent.class, events("lenovo-n40et41w-startuploc3.bin").get(1).decoded());
        assertEquals("StartupLocality", loc.signature());
        assertEquals(3, loc.details().get("StartupLocality"));
        NoActionEvent sid = assertInstanceOf(NoActionEvent.class, events("gce-v2-sevsnp-ebs-failure.bin").get(0).decoded());
        assertEquals("Spec ID Event03", sid.signature());
        // SP800-155 reference-manifest event built per the PFP layout
        ByteBuffer bb = ByteBuffer.allocate(80).order(ByteOrder.LITTLE_ENDIAN);
        bb.put("SP800-155 Event\0".getBytes(StandardCharsets.US_ASCII)).putInt(0x1234).put(new byte[16]);
        for (String s : new String[]{"ACME", "Model 1", "v2", "FW Inc"}) {
            bb.put((byte) s.length()).put(s.getBytes(StandardCharsets.US_ASCII));
        }
        bb.putInt(7).put((byte) 3).put("1.0".getBytes(StandardCharsets.US_ASCII));
        byte[] d = java.util.Arrays.copyOf(bb.array(), bb.position());
        NoActionEvent sp = assertInstanceOf(NoActionEvent.class, EventDecoder.decode(EventType.EV_NO_ACTION, d));
        assertEquals("ACME", sp.details().get("PlatformManufacturerStr"));
        assertEquals("1.0", sp.details().get("FirmwareVersion"));
    }

    @Test
    void firmwareTextsBlob2AndHandoffTables() {
        List<Event> ev = events("lenovo-n40et41w-startuploc3.bin");
        assertEquals("Boot Guard Measured S-CRTM", assertInstanceOf(TextEvent.class, ev.get(2).decoded()).text());
        assertEquals("ACPI DATA", assertInstanceOf(TextEvent.class, ev.get(10).decoded()).text());
        assertEquals("IntelCSxEEvent01", assertInstanceOf(NoActionEvent.class, ev.get(21).decoded()).signature());
        org.kexecmeasured.eventlog.decode.HandoffTables h = assertInstanceOf(org.kexecmeasured.eventlog.decode.HandoffTables.class,
                ev.get(49).decoded());
        assertEquals("f2fd1544-9794-4a2c-992e-e5bbcf20e394", h.tables().get(0).vendorGuid().toString()); // SMBIOS 3 table
        TextEvent flags = assertInstanceOf(TextEvent.class, events("ovmf-rhel9-secureboot.bin").get(10).decoded());
        assertEquals("ACPI DATA", flags.text());
        // UEFI_PLATFORM_FIRMWARE_BLOB2: u8 size, description, u64 base, u64 length
        ByteBuffer bb = ByteBuffer.allocate(1 + 8 + 16).order(ByteOrder.LITTLE_ENDIAN);
        bb.put((byte) 8).put("POST CODE".substring(0, 8).getBytes(StandardCharsets.US_ASCII)).putLong(0xffe00000L).putLong(0x200000L);
        org.kexecmeasured.eventlog.decode.FirmwareBlob b2 = assertInstanceOf(org.kexecmeasured.eventlog.decode.FirmwareBlob.class,
                EventDecoder.decode(EventType.EV_EFI_PLATFORM_FIRMWARE_BLOB2, bb.array()));
        assertEquals("POST COD", b2.description());
        assertEquals(0xffe00000L, b2.blobBase());
        assertEquals(0x200000L, b2.blobLength());
    }

    @Test
    void secureBootSignatureListsAndAuthorities() {
        List<Event> ev = events("ovmf-rhel9-secureboot.bin");
        EfiVariable kek = (EfiVariable) ev.get(6).decoded();
        assertEquals("KEK", kek.unicodeName());
        assertEquals(3, kek.signatures().size());
        assertTrue(kek.summary().contains("Microsoft Corporation KEK CA 2011"), kek.summary());
        EfiVariable dbx = (EfiVariable) ev.get(8).decoded();
        assertEquals(371, dbx.signatures().size());
        assertTrue(dbx.summary().endsWith("dbx: 371 hash(es)"), dbx.summary());
        // 371 SHA-256 entries of 16 + 32 bytes in one list: 28 + 371 * 48 bytes of data
        assertEquals(28 + 371 * 48, dbx.variableData().length);
        EfiVariable auth = (EfiVariable) ev.get(27).decoded();
        assertTrue(auth.summary().contains("Microsoft Corporation UEFI CA 2011"), auth.summary());
        EfiVariable sbat = (EfiVariable) ev.get(32).decoded();
        assertTrue(sbat.summary().contains("SbatLevel = \"sbat,1,"), sbat.summary());
        // a truncated signature list keeps the raw data and no signature view
        byte[] raw = ev.get(6).data();
        byte[] cut = java.util.Arrays.copyOf(raw, raw.length - 100);
        long len = (cut.length - 32 - 6) & 0xffffffffL; // VariableDataLength for "KEK" (3 UTF-16 chars)
        for (int i = 0; i < 8; i++) cut[24 + i] = (byte) (len >>> (8 * i));
        EfiVariable broken = assertInstanceOf(EfiVariable.class, EventDecoder.decode(EventType.EV_EFI_VARIABLE_DRIVER_CONFIG, cut));
        assertNull(broken.signatures());
    }

    @Test
    void hostileLengthsGiveMalformedViews() {
        byte[] var = new byte[40];
        var[16] = (byte) 0xff; // UnicodeNameLength huge
        for (int i = 17; i < 24; i++) var[i] = (byte) 0xff;
        assertTrue(EventDecoder.decode(EventType.EV_EFI_VARIABLE_DRIVER_CONFIG, var).malformed());
        byte[] img = new byte[40];
        img[24] = (byte) 0xf0; // LengthOfDevicePath 240 > 8 left
        assertTrue(EventDecoder.decode(EventType.EV_EFI_BOOT_SERVICES_APPLICATION, img).malformed());
        byte[] badNode = new byte[40];
        badNode[24] = 8;
        badNode[32] = 4; badNode[33] = 4; badNode[34] = (byte) 0xff; // node length 255 past the path
        ImageLoad il = assertInstanceOf(ImageLoad.class, EventDecoder.decode(EventType.EV_EFI_BOOT_SERVICES_APPLICATION, badNode));
        assertNull(il.devicePath());
        byte[] tag = {1, 0, 0, 0, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff};
        assertTrue(EventDecoder.decode(EventType.EV_EVENT_TAG, tag).malformed());
        assertTrue(EventDecoder.decode(EventType.EV_SEPARATOR, new byte[3]).malformed());
        DecodedEvent m = EventDecoder.decode(EventType.EV_EFI_PLATFORM_FIRMWARE_BLOB2, new byte[]{(byte) 200, 1, 2});
        assertTrue(m.malformed());
        assertFalse(m.summary().isEmpty());
    }

    @Test
    void noDecoderThrowsOnRandomData() {
        Random r = new Random(42);
        int[] types = {0, 1, 3, 4, 5, 6, 7, 8, 0xd, 0x80000001, 0x80000002, 0x80000003, 0x80000004, 0x80000005,
                0x80000006, 0x80000007, 0x80000008, 0x80000009, 0x8000000a, 0x8000000b, 0x8000000c, 0x800000e0, 0x12345};
        for (int i = 0; i < 20000; i++) {
            byte[] d = new byte[r.nextInt(i % 7 == 0 ? 600 : 48)];
            r.nextBytes(d);
            if (d.length >= 32 && r.nextBoolean()) { // plausible small lengths reach deeper code
                d[16] = (byte) r.nextInt(8);
                for (int k = 17; k < 32; k++) d[k] = 0;
                d[24] = (byte) r.nextInt(40);
            }
            DecodedEvent e = EventDecoder.decode(types[i % types.length], d);
            e.summary();
            e.fields();
        }
    }

    @Test
    void tpm2ToolsAgreesOnTheSeparatorDigestsOfMeasurementsMd() {
        // sha256(00000000) from measurements.md §3, against the fixture's separator digest
        Event sep = events("ovmf-sdboot-fedora37.bin").get(9);
        assertEquals("df3f619804a92fdb4057192dc43dd748ea778adc52bc498ce80524c014b81119", Hex.of(sep.digest(HashAlg.SHA256)));
    }
}
