package org.kexecmeasured.uefi;

import org.kexecmeasured.util.HashAlg;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A {@link Measurer} that keeps every measurement in order (dry runs, tests). Each measurement keeps the
 * length and SHA-256 of the hashed data; the data itself only while the bytes kept stay within
 * {@link #MAX_KEPT_DATA} (a payload may hash up to 512 MiB per call, and calls are unbounded).
 */
public final class RecordingMeasurer implements Measurer {

    /** Total bytes of hashed data kept as copies; later measurements keep length and digest only. */
    public static final long MAX_KEPT_DATA = 128L << 20;

    /**
     * One recorded HashLogExtendEvent.
     *
     * @param dataToHash a copy of the hashed data, or null when it was not kept (see {@link #MAX_KEPT_DATA})
     */
    public record Measurement(int pcr, int eventType, byte[] eventData, long dataLength, byte[] dataSha256,
                              byte[] dataToHash, long flags) {
    }

    /** One image load (see {@link Measurer#imageLoaded}); the file itself is not kept, only its size. */
    public record ImageLoad(int fileSize, long address, long size, long linkTimeAddress, byte[] devicePath,
                            boolean firstImage) {
    }

    private final List<Measurement> list = new ArrayList<>();
    private final List<ImageLoad> images = new ArrayList<>();
    private long kept;

    /** Only the file's length is kept: a mapped payload is not copied. */
    @Override
    public synchronized void imageLoaded(java.nio.ByteBuffer file, long address, long size, long linkTimeAddress,
                                         byte[] devicePath, boolean firstImage) {
        images.add(new ImageLoad(file.limit(), address, size, linkTimeAddress, devicePath.clone(), firstImage));
    }

    public synchronized List<ImageLoad> imageLoads() {
        return Collections.unmodifiableList(new ArrayList<>(images));
    }

    @Override
    public synchronized void measure(int pcr, int eventType, byte[] eventData, byte[] dataToHash, long flags) {
        byte[] copy = null;
        if (kept + dataToHash.length <= MAX_KEPT_DATA) {
            copy = dataToHash.clone();
            kept += copy.length;
        }
        list.add(new Measurement(pcr, eventType, eventData.clone(), dataToHash.length,
                HashAlg.SHA256.digest(dataToHash), copy, flags));
    }

    public synchronized List<Measurement> measurements() {
        return Collections.unmodifiableList(new ArrayList<>(list));
    }
}
