package org.kexecmeasured.boot;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What a {@link Decider} says about a plan.
 *
 * @param allowed      true: the boot goes on to load and commit; false: it stops, nothing changed
 * @param reasons      why, one line each (printed, and in the boot's JSON)
 * @param sidecarFiles extra files for {@code /.extra/kexec-measured/} in the next kernel's initrd, by
 *                     plain file name (e.g. a policy's signed PCR predictions); never the sidecar's own
 *                     {@code tpm2-event-log.bin} or {@code manifest.json}
 */
public record Decision(boolean allowed, List<String> reasons, SortedMap<String, byte[]> sidecarFiles) {

    public Decision {
        reasons = List.copyOf(reasons);
        SortedMap<String, byte[]> files = new TreeMap<>();
        for (Map.Entry<String, byte[]> e : sidecarFiles.entrySet()) {
            Sidecar.checkExtraName(e.getKey());
            files.put(e.getKey(), e.getValue().clone());
        }
        sidecarFiles = Collections.unmodifiableSortedMap(files);
    }

    public static Decision allow(String... reasons) {
        return new Decision(true, List.of(reasons), new TreeMap<>());
    }

    public static Decision deny(String... reasons) {
        return new Decision(false, List.of(reasons), new TreeMap<>());
    }
}
