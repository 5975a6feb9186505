package org.kexecmeasured.uefi;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** A {@link Measurer} that keeps every measurement in order (dry runs, tests). */
public final class RecordingMeasurer implements Measurer {

    /** One recorded HashLogExtendEvent. */
    public record Measurement(int pcr, int eventType, byte[] eventData, byte[] dataToHash, long flags) {
    }

    private final List<Measurement> list = new ArrayList<>();

    @Override
    public synchronized void measure(int pcr, int eventType, byte[] eventData, byte[] dataToHash, long flags) {
        list.add(new Measurement(pcr, eventType, eventData.clone(), dataToHash.clone(), flags));
    }

    public synchronized List<Measurement> measurements() {
        return Collections.unmodifiableList(new ArrayList<>(list));
    }
}
