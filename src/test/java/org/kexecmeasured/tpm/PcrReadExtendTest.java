package org.kexecmeasured.tpm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@ExtendWith(SwtpmExtension.class)
@SwtpmExtension.Banks({"sha1", "sha256", "sha384"})
class PcrReadExtendTest {
    private static final List<HashAlg> BANKS = List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384);

    @Test
    void banksAreTheOnesSwtpmSetupActivated(Swtpm swtpm) {
        try (Tpm tpm = swtpm.open()) {
            assertEquals(BANKS, tpm.banks());
            TpmInfo info = tpm.info();
            assertEquals("IBM", info.manufacturer());
            assertEquals("2.0", info.family());
            assertTrue(info.maxCommandSize() >= 1024, "max command size " + info.maxCommandSize());
            assertEquals(24, info.pcrCount());
        }
        // tpm2-tools must see the same fixed properties
        String caps = Tpm2Tools.run(swtpm.tcti(), "tpm2_getcap", "properties-fixed");
        try (Tpm tpm = swtpm.open()) {
            TpmInfo info = tpm.info();
            assertTrue(caps.contains(String.format("TPM2_PT_FIRMWARE_VERSION_1:%n  raw: 0x%X", info.firmwareVersion1())), caps);
            assertTrue(caps.contains(String.format("TPM2_PT_MAX_COMMAND_SIZE:%n  raw: 0x%X", info.maxCommandSize())), caps);
        }
    }

    /**
     * Reading PCRs 0–23 of 3 banks = 72 digests. A TPM2_PCR_Read response carries them in one
     * TPML_DIGEST, which holds at most 8 digests (TPM 2.0 Part 2, TPML_DIGEST: count ≤ 8) whatever
     * the banks — so at least ⌈72 / 8⌉ = 9 commands are needed, and 9 is what we must send.
     * (Selecting 8 PCRs in each of the 3 banks in one command returns only the first 8 digests;
     * the test below checks that swtpm behaves so.)
     */
    @Test
    void readAllPcrsOfThreeBanksInMinimalCommands(Swtpm swtpm) {
        try (TssTpm tpm = swtpm.open()) {
            tpm.banks(); // one GetCapability, not counted below
            long before = tpm.commandCount();
            Map<HashAlg, byte[][]> v = tpm.readPcrs(PcrSelection.of(BANKS, range(0, 23)));
            long used = tpm.commandCount() - before;
            assertEquals(9, used, "commands for 72 PCR values");
            for (HashAlg a : BANKS) {
                assertEquals(24, v.get(a).length);
                for (int i = 0; i < 24; i++) assertEquals(a.size, v.get(a)[i].length, a + ":" + i);
            }
        }
    }

    @Test
    void swtpmReturnsAtMostEightDigestsPerRead(Swtpm swtpm) {
        try (TssTpm tpm = swtpm.open()) {
            tss.Tpm raw = new tss.Tpm();
            raw._setDevice(tpm.transport());
            tss.tpm.PCR_ReadResponse r = raw.PCR_Read(TssTpm.toTss(PcrSelection.of(BANKS, range(0, 7))));
            assertEquals(8, r.pcrValues.length, "digests in one response");
            // what it returned: all of sha1 0-7, nothing of the other banks
            int selected = 0;
            for (tss.tpm.TPMS_PCR_SELECTION s : r.pcrSelectionOut) {
                for (byte b : s.pcrSelect) selected += Integer.bitCount(b & 0xFF);
            }
            assertEquals(8, selected);
            assertEquals(HashAlg.SHA1.algId, r.pcrSelectionOut[0].hash.toInt());
        }
    }

    @Test
    void extendsAllBanksInOneCommandAndTpm2PcrreadAgrees(Swtpm swtpm) {
        Map<HashAlg, byte[]> expect16 = new EnumMap<>(HashAlg.class);
        try (TssTpm tpm = swtpm.open()) {
            tpm.banks();
            Map<HashAlg, byte[][]> before = tpm.readPcrs(PcrSelection.of(BANKS, List.of(16)));
            Map<HashAlg, byte[]> digests = new EnumMap<>(HashAlg.class);
            byte[] event = "kexec-measured test event".getBytes(StandardCharsets.UTF_8);
            for (HashAlg a : BANKS) digests.put(a, a.digest(event));
            long c0 = tpm.commandCount();
            tpm.extend(16, digests);
            assertEquals(1, tpm.commandCount() - c0, "one TPM2_PCR_Extend for all banks");
            for (HashAlg a : BANKS) expect16.put(a, a.extend(before.get(a)[16], digests.get(a)));
            Map<HashAlg, byte[][]> after = tpm.readPcrs(PcrSelection.of(BANKS, List.of(16)));
            for (HashAlg a : BANKS) assertArrayEquals(expect16.get(a), after.get(a)[16], a.tpmName);
        }
        // the oracle: tpm2_pcrread on the same swtpm (our connection closed: swtpm serves one at a time)
        Map<String, Map<Integer, String>> tools = Tpm2Tools.pcrread(swtpm.tcti(), "sha1:16+sha256:16+sha384:16");
        for (HashAlg a : BANKS) {
            assertEquals(Hex.of(expect16.get(a)), tools.get(a.tpmName).get(16), a.tpmName + " PCR 16 per tpm2_pcrread");
        }
    }

    @Test
    void extendRefusesToSkipAnActiveBank(Swtpm swtpm) {
        try (TssTpm tpm = swtpm.open()) {
            Map<HashAlg, byte[]> only256 = Map.of(HashAlg.SHA256, new byte[32]);
            tpm.banks();
            long c0 = tpm.commandCount();
            var e = assertThrows(org.kexecmeasured.util.BadInputException.class, () -> tpm.extend(16, only256));
            assertTrue(e.getMessage().contains("sha1"), e.getMessage());
            assertEquals(c0, tpm.commandCount(), "no extend sent");
        }
    }

    @Test
    void inactiveBankIsAClearError(Swtpm swtpm) {
        try (TssTpm tpm = swtpm.open()) {
            var e = assertThrows(org.kexecmeasured.util.BadInputException.class,
                    () -> tpm.readPcrs(PcrSelection.of(HashAlg.SHA512, 0)));
            assertTrue(e.getMessage().contains("sha512 is not active"), e.getMessage());
        }
    }

    @Test
    void rebootClearsPcrs(Swtpm swtpm) {
        try (TssTpm tpm = swtpm.open()) {
            Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
            for (HashAlg a : BANKS) d.put(a, a.digest(new byte[]{1}));
            tpm.extend(23, d);
            assertTrue(!java.util.Arrays.equals(new byte[32], tpm.readPcrs(PcrSelection.of(HashAlg.SHA256, 23)).get(HashAlg.SHA256)[23]));
        }
        swtpm.reboot();
        try (TssTpm tpm = swtpm.open()) {
            assertArrayEquals(new byte[32], tpm.readPcrs(PcrSelection.of(HashAlg.SHA256, 23)).get(HashAlg.SHA256)[23]);
        }
    }

    static List<Integer> range(int a, int b) {
        List<Integer> l = new ArrayList<>();
        for (int i = a; i <= b; i++) l.add(i);
        return l;
    }
}
