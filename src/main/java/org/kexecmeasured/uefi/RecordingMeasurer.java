package org.kexecmeasured.uefi;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** A {@link Measurer} that keeps every measurement in order (dry runs, tests). */
public final class RecordingMeasurer implements Measurer {

    /** One recorded HashLogExtendEvent. */
    public record Measurement(int pcr, int eventType, byte[] eventData, byte[] dataToHash, long flags) {
    }

    /** One image load (see {@link Measurer#imageLoaded}); the file itself is not kept, only its size. */
    public record ImageLoad(int fileSize, long address, long size, long linkTimeAddress, byte[] devicePath,
                            boolean firstImage) {
    }

    private final List<Measurement> list = new ArrayList<>();
    private final List<ImageLoad> images = new ArrayList<>();

    @Override
    public synchronized void imageLoaded(byte[] file, long address, long size, long linkTimeAddress, byte[] devicePath,
                                         boolean firstImage) {
        images.add(new ImageLoad(file.length, address, size, linkTimeAddress, devicePath.clone(), firstImage));
    }

    public synchronized List<ImageLoad> imageLoads() {
        return Collections.unmodifiableList(new ArrayList<>(images));
    }

    @Override
    public synchronized void measure(int pcr, int eventType, byte[] eventData, byte[] dataToHash, long flags) {
        list.add(new Measurement(pcr, eventType, eventData.clone(), dataToHash.clone(), flags));
    }

    public synchronized List<Measurement> measurements() {
        return Collections.unmodifiableList(new ArrayList<>(list));
    }
}
