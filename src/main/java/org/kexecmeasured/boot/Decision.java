package org.kexecmeasured.boot;

import com.fasterxml.jackson.databind.JsonNode;

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
 *                     plain file name; never the sidecar's own {@code tpm2-event-log.bin} or {@code manifest.json}
 * @param extraFiles   files for {@code /.extra/} itself, by plain file name, where other tools of the next
 *                     system look for them (a re-authorization's {@code tpm2-pcr-signature.json}, as
 *                     systemd-stub would place a UKI's .pcrsig); never {@code kexec-measured}
 * @param record       the decider's account for the manifest ({@code policyDecision}), or null
 * @param verdicts     the decider's verdict per sealed secret, for the manifest's {@code verdicts} (what
 *                     {@code report} shows); empty when the decider has no secrets to judge
 */
public record Decision(boolean allowed, List<String> reasons, SortedMap<String, byte[]> sidecarFiles,
                       SortedMap<String, byte[]> extraFiles, JsonNode record, List<Manifest.Verdict> verdicts) {

    public Decision {
        reasons = List.copyOf(reasons);
        SortedMap<String, byte[]> files = new TreeMap<>();
        for (Map.Entry<String, byte[]> e : sidecarFiles.entrySet()) {
            Sidecar.checkExtraName(e.getKey());
            files.put(e.getKey(), e.getValue().clone());
        }
        sidecarFiles = Collections.unmodifiableSortedMap(files);
        SortedMap<String, byte[]> root = new TreeMap<>();
        for (Map.Entry<String, byte[]> e : extraFiles.entrySet()) {
            Sidecar.checkRootName(e.getKey());
            root.put(e.getKey(), e.getValue().clone());
        }
        extraFiles = Collections.unmodifiableSortedMap(root);
        record = record == null ? null : record.deepCopy();
        verdicts = verdicts == null ? List.of() : List.copyOf(verdicts);
    }

    public Decision(boolean allowed, List<String> reasons, SortedMap<String, byte[]> sidecarFiles,
                    SortedMap<String, byte[]> extraFiles, JsonNode record) {
        this(allowed, reasons, sidecarFiles, extraFiles, record, List.of());
    }

    public Decision(boolean allowed, List<String> reasons, SortedMap<String, byte[]> sidecarFiles) {
        this(allowed, reasons, sidecarFiles, new TreeMap<>(), null);
    }

    public static Decision allow(String... reasons) {
        return new Decision(true, List.of(reasons), new TreeMap<>());
    }

    public static Decision deny(String... reasons) {
        return new Decision(false, List.of(reasons), new TreeMap<>());
    }
}
