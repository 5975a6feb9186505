package org.kexecmeasured.uefi;

import org.kexecmeasured.efi.Guid;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The emulator's volatile UEFI variable store (nothing reaches the host's efivarfs). */
public final class VariableStore {

    public static final Guid EFI_GLOBAL_VARIABLE = Guid.parse("8be4df61-93ca-11d2-aa0d-00e098032b8c");
    public static final int MAX_VARIABLE_SIZE = 64 * 1024;
    public static final int MAX_TOTAL_SIZE = 1 << 20;

    /** A variable's identity. */
    public record Key(String name, Guid vendor) {
        // equals and hashCode written out: a record's own are bootstrapped through java.lang.runtime.ObjectMethods
        // at their first call (method-handle classes spun at run time on the boot's main thread)
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.name.equals(name) && k.vendor.equals(vendor);
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + vendor.hashCode();
        }
    }

    /** A variable's value. */
    public record Variable(long attributes, byte[] data) {
    }

    private final Map<Key, Variable> vars = new LinkedHashMap<>();
    private int total;

    public Variable get(String name, Guid vendor) {
        return vars.get(new Key(name, vendor));
    }

    /** SetVariable semantics: empty data deletes; returns false when the store would exceed its limits. */
    public boolean set(String name, Guid vendor, long attributes, byte[] data) {
        Key k = new Key(name, vendor);
        Variable old = vars.remove(k);
        if (old != null) {
            total -= old.data().length + name.length() * 2;
        }
        if (data.length == 0) {
            return true;
        }
        if (data.length > MAX_VARIABLE_SIZE || total + data.length + name.length() * 2 > MAX_TOTAL_SIZE) {
            if (old != null) {
                vars.put(k, old);
                total += old.data().length + name.length() * 2;
            }
            return false;
        }
        vars.put(k, new Variable(attributes, data.clone()));
        total += data.length + name.length() * 2;
        return true;
    }

    public List<Key> keys() {
        return new ArrayList<>(vars.keySet());
    }

    public Map<Key, Variable> snapshot() {
        return new LinkedHashMap<>(vars);
    }
}
