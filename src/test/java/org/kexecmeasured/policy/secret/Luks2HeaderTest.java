package org.kexecmeasured.policy.secret;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.policy.testing.SecretClients;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The LUKS2 header reader against cryptsetup: the JSON metadata and every token equal what
 * {@code cryptsetup luksDump --dump-json-metadata} and {@code cryptsetup token export} print; a
 * damaged copy is handled as cryptsetup handles it (the other copy is used), two damaged copies
 * and other damage are refused by both, with the place named.
 */
@ExtendWith(SwtpmExtension.class)
class Luks2HeaderTest {

    @TempDir
    static Path dir;
    static Path image;
    static SecretClients clients;

    @BeforeAll
    static void image(Swtpm swtpm) throws Exception {
        clients = new SecretClients(swtpm, dir);
        image = clients.luksImage("tokens");
        clients.cryptenroll(image, "--tpm2-pcrs=7");
        // a token of another kind, as a tool of its own would add one
        clients.run("{\"type\":\"example-pin\",\"keyslots\":[],\"payload\":{\"a\":[1,2,3]}}".getBytes(StandardCharsets.UTF_8),
                Map.of(), "cryptsetup", "token", "import", "--token-id", "3", image.toString());
    }

    static Path copy(String name) throws Exception {
        Path p = dir.resolve(name);
        Files.copy(image, p, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return p;
    }

    static void flip(Path p, long offset) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.seek(offset);
            int b = f.read();
            f.seek(offset);
            f.write(b ^ 0x20);
        }
    }

    static JsonNode json(String s) throws Exception {
        return Json.MAPPER.readTree(s);
    }

    @Test
    void metadataAndTokensEqualCryptsetups() throws Exception {
        Luks2Header h = Luks2Header.read(image);
        assertTrue(h.notes().isEmpty(), h.notes().toString());
        assertEquals(json(clients.ok("cryptsetup", "luksDump", "--dump-json-metadata", image.toString())), h.metadata());
        assertEquals(List.of(0, 3), h.tokens().stream().map(Luks2Header.Token::id).toList());
        for (Luks2Header.Token t : h.tokens()) {
            assertEquals(json(clients.exportToken(image, t.id())), t.json(), "token " + t.id());
        }
        assertEquals("systemd-tpm2", h.tokens().get(0).type());
        assertEquals(List.of(1), h.tokens().get(0).keyslots());
        assertEquals(clients.ok("cryptsetup", "luksUUID", image.toString()).strip(), h.uuid());

        // the systemd token: its blob splits into TPM2B_PRIVATE ‖ TPM2B_PUBLIC, whose authPolicy is tpm2-policy-hash
        SystemdTpm2Token t = SystemdTpm2Token.parse(h.tokens().get(0), image.toString());
        assertEquals(List.of(7), t.pcrs());
        assertEquals(HashAlg.SHA256, t.bank());
        assertArrayEquals(Hex.parse(h.tokens().get(0).json().get("tpm2-policy-hash").asText()), t.object().authPolicy());
        assertTrue(t.object().isSealedData() && t.object().policyOnly(), t.object().toString());
        UnlockRoute r = t.route(null);
        assertEquals(1, r.steps().size());
        assertTrue(r.notes().isEmpty(), r.notes().toString());
    }

    /** A damaged primary copy: cryptsetup falls back to the secondary, so do we — and say so. */
    @Test
    void damagedPrimaryFallsBackToTheSecondaryLikeCryptsetup() throws Exception {
        Path p = copy("primary-damaged.img");
        flip(p, 4096 + 10); // a byte of the primary's JSON area
        // ours first: cryptsetup repairs the primary copy from the secondary when it reads the header
        Luks2Header h = Luks2Header.read(p);
        SecretClients.Run dump = clients.run("cryptsetup", "luksDump", "--dump-json-metadata", p.toString());
        assertEquals(0, dump.exit(), "cryptsetup reads the secondary copy: " + dump.all());
        assertEquals(json(dump.out()), h.metadata());
        assertTrue(h.notes().stream().anyMatch(n -> n.contains("primary header is damaged") && n.contains("checksum mismatch")),
                h.notes().toString());
    }

    @Test
    void twoDamagedCopiesAreRefusedByBoth() throws Exception {
        Path p = copy("both-damaged.img");
        flip(p, 4096 + 10);
        flip(p, 16384 + 4096 + 10);
        SecretClients.Run dump = clients.run("cryptsetup", "luksDump", p.toString());
        assertTrue(dump.exit() != 0, "cryptsetup refuses too: " + dump.all());
        BadInputException e = assertThrows(BadInputException.class, () -> Luks2Header.read(p));
        assertTrue(e.getMessage().contains("primary header: checksum mismatch") && e.getMessage().contains("secondary header: checksum mismatch"),
                e.getMessage());
    }

    @Test
    void otherDamageIsNamed() throws Exception {
        Path trunc = dir.resolve("truncated.img");
        Files.write(trunc, java.util.Arrays.copyOf(Files.readAllBytes(image), 5000));
        assertTrue(clients.run("cryptsetup", "luksDump", trunc.toString()).exit() != 0);
        BadInputException e = assertThrows(BadInputException.class, () -> Luks2Header.read(trunc));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());

        Path notLuks = dir.resolve("zeros.img");
        Files.write(notLuks, new byte[8192]);
        assertTrue(clients.run("cryptsetup", "isLuks", notLuks.toString()).exit() != 0);
        e = assertThrows(BadInputException.class, () -> Luks2Header.read(notLuks));
        assertTrue(e.getMessage().contains("no LUKS magic at offset 0"), e.getMessage());

        Path luks1 = dir.resolve("luks1.img");
        clients.ok("truncate", "-s", "4M", luks1.toString());
        clients.ok("cryptsetup", "luksFormat", "--type", "luks1", "--batch-mode", "--pbkdf-force-iterations", "1000",
                "--key-file", clients.passphraseFile().toString(), luks1.toString());
        e = assertThrows(BadInputException.class, () -> Luks2Header.read(luks1));
        assertTrue(e.getMessage().contains("LUKS1 header") && e.getMessage().contains("no tokens"), e.getMessage());

        Path size = copy("bad-size.img");
        try (RandomAccessFile f = new RandomAccessFile(size.toFile(), "rw")) {
            f.seek(8);
            f.writeLong(0x7000_0000_0000L);
        }
        // the primary's size field is garbage: the secondary (found where LUKS2 puts it) is used
        Luks2Header h = Luks2Header.read(size);
        assertFalse(h.tokens().isEmpty());
        assertTrue(h.notes().get(0).contains("hdr_size"), h.notes().toString());
    }
}
