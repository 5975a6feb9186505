package org.kexecmeasured.eventlog;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.eventlog.decode.TextEvent;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Named quirk findings on the logs whose quirks SOURCES.md documents. */
class QuirksTest {

    private static Set<String> ids(String log) {
        return Quirks.find(EventLog.parse(Fixtures.read(log))).stream().map(Finding::id).collect(Collectors.toSet());
    }

    @Test
    void documentedQuirksAreNamed() {
        assertTrue(ids("quirk-ebs-events-missing-sha1.bin").contains(Quirks.EBS_EVENTS_MISSING));
        assertTrue(ids("lenovo-n1eet86w-sha1-grub.bin").containsAll(List.of(Quirks.EBS_EVENTS_MISSING, Quirks.CALLING_EFI_APPLICATION_IN_PCR5)));
        assertTrue(ids("windows-option-rom-sha1.bin").containsAll(List.of(Quirks.PCR_INDEX_FFFFFFFF_TRAILER, Quirks.CALLING_EFI_APPLICATION_IN_PCR5)));
        assertTrue(ids("lenovo-n40et41w-startuploc3.bin").contains(Quirks.STARTUP_LOCALITY));
        assertTrue(ids("server-startuploc3-kernel-tags.bin").contains(Quirks.STARTUP_LOCALITY));
        assertTrue(ids("quirk-startuplocality-no-specid.bin").contains(Quirks.STARTUP_LOCALITY_WITHOUT_SPEC_ID));
        assertTrue(ids("quirk-specid-vendorinfo4.bin").contains(Quirks.SPEC_ID_VENDOR_INFO_OUTSIDE_EVENT));
        for (String clean : List.of("ovmf-rhel9-secureboot.bin", "ovmf-sdboot-fedora37.bin", "server-startuploc3-kernel-tags.bin",
                "gce-v2-sevsnp-ebs-failure.bin", "windows-option-rom-sha1.bin")) {
            Set<String> s = ids(clean);
            assertFalse(s.contains(Quirks.EBS_EVENTS_MISSING), clean + " has its EBS events: " + s);
            assertFalse(s.contains(Quirks.MALFORMED_EVENT_DATA), clean + ": " + s);
        }
    }

    @Test
    void ebsFailureInvocationSuccessOrder() {
        EventLog log = EventLog.parse(Fixtures.read("gce-v2-sevsnp-ebs-failure.bin"));
        Finding f = Quirks.find(log).stream().filter(x -> x.id().equals(Quirks.EBS_FAILURE_THEN_RETRY)).findFirst().orElseThrow();
        List<String> texts = f.records().stream().map(i -> ((TextEvent) log.events().get(i).decoded()).text()).toList();
        assertEquals(List.of(Quirks.EBS_FAILURE, Quirks.EBS_INVOCATION, Quirks.EBS_SUCCESS), texts);
        for (int i : f.records()) assertEquals(5, log.events().get(i).pcrIndex());
        assertFalse(Quirks.find(log).stream().anyMatch(x -> x.id().equals(Quirks.EBS_FAILURE_WITHOUT_SUCCESS)));
    }

    @Test
    void kexecBoundaryRecordsAreNamedAndTheirDigestChecked() {
        // a boundary record as tcg2/kexec-boundary-event.md defines it, appended to a firmware log
        byte[] text = ("kexec-measured-boundary=1\ntool=kexec-measured test\ntime=2026-01-01T00:00:00Z\n"
                + "nonce=00112233445566778899aabbccddeeff\npayload=" + "ab".repeat(32) + "\npolicy=builtin-default-1\npcrs=9,11\n")
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.allocate(8 + text.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        bb.putInt(0x4B584D42).putInt(text.length).put(text);
        byte[] b = Fixtures.read("ovmf-sdboot-fedora37.bin");
        EventLog.Builder builder = EventLog.parse(b).toBuilder();
        builder.appendMeasured(9, EventType.EV_EVENT_TAG, text, bb.array());
        builder.appendMeasured(11, EventType.EV_EVENT_TAG, text, bb.array());
        EventLog log = EventLog.parse(builder.build().toBytes());
        List<Finding> f = Quirks.find(log);
        Finding k = f.stream().filter(x -> x.id().equals(Quirks.KEXEC_BOUNDARY)).findFirst().orElseThrow();
        assertEquals(List.of(28, 29), k.records());
        assertTrue(k.message().contains("PCR 9, 11"), k.message());
        assertFalse(f.stream().anyMatch(x -> x.id().equals(Quirks.DIGEST_NOT_HASH_OF_DATA)), f.toString());
        assertTrue(log.events().get(28).decoded().summary().contains("kexec-measured boundary"));
        // a boundary whose digest covers the structure instead of its data is flagged
        EventLog wrong = EventLog.parse(b).toBuilder().appendMeasured(9, EventType.EV_EVENT_TAG, bb.array(), bb.array()).build();
        assertTrue(Quirks.find(wrong).stream().anyMatch(x -> x.id().equals(Quirks.DIGEST_NOT_HASH_OF_DATA)));
    }

    @Test
    void tamperedVariableDigestIsFound() {
        byte[] b = Fixtures.read("ovmf-rhel9-secureboot.bin");
        EventLog log = EventLog.parse(b);
        Event sbVar = log.events().stream().filter(e -> e.eventType() == EventType.EV_EFI_VARIABLE_DRIVER_CONFIG).findFirst().orElseThrow();
        Event bootVar = log.events().stream().filter(e -> e.eventType() == EventType.EV_EFI_VARIABLE_BOOT).findFirst().orElseThrow();
        for (Event e : List.of(sbVar, bootVar)) {
            byte[] c = b.clone();
            c[(int) e.offset() + EventLogWriter.recordSize(e) - 1] ^= 1; // last data byte: variable data changes
            Set<Integer> flagged = Quirks.find(EventLog.parse(c)).stream().filter(f -> f.id().equals(Quirks.DIGEST_NOT_HASH_OF_DATA))
                    .flatMap(f -> f.records().stream()).collect(Collectors.toSet());
            assertEquals(Set.of(e.index()), flagged, e.eventTypeName());
        }
    }

    @Test
    void digestMismatchesAgreeWithTpm2EventlogWarnings() {
        Pattern warn = Pattern.compile("WARN: Event (\\d+)'s digest does not match its payload");
        int withWarnings = 0;
        for (Path p : Fixtures.goodLogs()) {
            Fixtures.Run run = Fixtures.tpm2Eventlog(p);
            if (run.exit() != 0) continue;
            EventLog log = EventLog.parse(Fixtures.read(p));
            if (log.format() != LogFormat.CRYPTO_AGILE) continue; // tpm2_eventlog numbers SHA-1 logs differently
            Set<Integer> theirs = new TreeSet<>();
            Matcher m = warn.matcher(run.err());
            while (m.find()) theirs.add(Integer.parseInt(m.group(1)));
            Set<Integer> ours = new TreeSet<>();
            for (Finding f : Quirks.find(log)) if (f.id().equals(Quirks.DIGEST_NOT_HASH_OF_DATA)) ours.addAll(f.records());
            assertEquals(theirs, ours, p.getFileName().toString());
            if (!theirs.isEmpty()) withWarnings++;
        }
        assertEquals(1, withWarnings, "server-startuploc3-kernel-tags.bin carries the one S-CRTM version mismatch");
    }
}
