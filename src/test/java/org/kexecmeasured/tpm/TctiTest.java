package org.kexecmeasured.tpm;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.util.BadInputException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TctiTest {
    @Test
    void parsesTpm2ToolsForms() {
        assertEquals("/dev/tpmrm1", Tcti.parse("device:/dev/tpmrm1").options().get("path"));
        assertEquals("/dev/tpmrm0", Tcti.parse("device").options().get("path"));
        Tcti d = Tcti.parse("device:/dev/tpmrm2,timeout=500");
        assertEquals("/dev/tpmrm2", d.options().get("path"));
        assertEquals(500, d.timeoutMs());
        assertEquals(120_000, Tcti.parse("device:/dev/tpm0").timeoutMs());
        Tcti s = Tcti.parse("swtpm:host=127.0.0.1,port=2400");
        assertEquals("127.0.0.1", s.options().get("host"));
        assertEquals("2400", s.options().get("port"));
        assertEquals(Tcti.DEFAULT_TIMEOUT_MS, s.timeoutMs());
        assertEquals("2321", Tcti.parse("mssim:").options().get("port"));
        assertEquals(1500, Tcti.parse("swtpm:path=/run/x.sock,timeout=1500").timeoutMs());
    }

    @Test
    void rejectsWhatItCannotHonour() {
        assertThrows(BadInputException.class, () -> Tcti.parse("swtpm:port=99999"));
        assertThrows(BadInputException.class, () -> Tcti.parse("swtpm:hots=x"));
        assertThrows(BadInputException.class, () -> Tcti.parse("swtpm:path=/x,port=1"));
        assertThrows(BadInputException.class, () -> Tcti.parse("mssim:path=/x"));
        assertThrows(BadInputException.class, () -> Tcti.parse("tabrmd:bus_type=session"));
        assertThrows(BadInputException.class, () -> Tcti.parse("bogus:"));
        assertThrows(BadInputException.class, () -> Tcti.parse(" "));
    }

    @Test
    void explicitWinsOverEnvironment() {
        assertEquals("swtpm:port=1", Tcti.resolve("swtpm:port=1"));
    }
}
