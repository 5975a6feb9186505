package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.efi.Guid;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * {@link VariableStore.Key}'s written-out {@code equals}/{@code hashCode} must be a record's: the oracle is a record
 * of the same components with the generated ones, over every pair of keys below (names equal as strings but not as
 * objects, another name, another vendor); a variable set under one key is found under an equal key only.
 */
class VariableStoreKeyTest {

    private record Generated(String name, Guid vendor) {
    }

    @Test
    void keysCompareAsTheGeneratedRecordDoes() {
        Guid g = VariableStore.EFI_GLOBAL_VARIABLE;
        Guid other = Guid.parse("8be4df61-93ca-11d2-aa0d-00e098032b8d");
        String[] names = {"BootOrder", new String("BootOrder".toCharArray()), "BootOrdeR", ""};
        Guid[] vendors = {g, Guid.parse(g.toString()), other};
        for (String n1 : names) {
            for (Guid v1 : vendors) {
                for (String n2 : names) {
                    for (Guid v2 : vendors) {
                        boolean want = new Generated(n1, v1).equals(new Generated(n2, v2));
                        VariableStore.Key a = new VariableStore.Key(n1, v1);
                        VariableStore.Key b = new VariableStore.Key(n2, v2);
                        assertEquals(want, a.equals(b), n1 + "/" + v1 + " vs " + n2 + "/" + v2);
                        if (want) {
                            assertEquals(a.hashCode(), b.hashCode());
                        }
                    }
                }
            }
        }
        assertEquals(false, new VariableStore.Key("x", g).equals(null));
        assertEquals(false, new VariableStore.Key("x", g).equals(new Generated("x", g)));
    }

    @Test
    void aVariableIsFoundUnderAnEqualKeyOnly() {
        VariableStore s = new VariableStore();
        Guid g = VariableStore.EFI_GLOBAL_VARIABLE;
        s.set("Timeout", g, 7, new byte[]{5, 0});
        assertArrayEquals(new byte[]{5, 0}, s.get(new String("Timeout".toCharArray()), Guid.parse(g.toString())).data());
        assertNull(s.get("timeout", g));
        assertNull(s.get("Timeout", Guid.parse("8be4df61-93ca-11d2-aa0d-00e098032b8d")));
    }
}
