package org.kexecmeasured.boot;

import org.kexecmeasured.eventlog.Pcr;
import org.kexecmeasured.uefi.HandOff;
import org.kexecmeasured.uefi.Measurer;
import org.kexecmeasured.uefi.protocol.Tcg2Protocol;
import org.kexecmeasured.uefi.spi.GuestBytes;
import org.kexecmeasured.util.HashAlg;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Turns what happens in the emulator into {@link Measurement}s, in order, for a {@link Sink}:
 * the payload's HashLogExtendEvent calls, and the measurements the firmware itself makes
 * (PCR 4 "Calling EFI Application from Boot Option" once, a PCR 4 EV_EFI_BOOT_SERVICES_APPLICATION
 * for every LoadImage, the PCR 5 ExitBootServices actions) and, at the Linux cut-over, the PCR 9
 * tagged events of the kernel's EFI stub.
 *
 * <p>When the sink fails (the TPM vanished) the failure is kept and every later call fails too, so
 * the payload cannot continue past a measurement that was not made.
 */
public final class ChainMeasurer implements Measurer {

    public static final int EV_EVENT_TAG = 0x6;
    public static final int EV_EFI_BOOT_SERVICES_APPLICATION = 0x80000003;
    public static final int EV_EFI_ACTION = 0x80000007;

    public static final String CALLING_EFI_APPLICATION = "Calling EFI Application from Boot Option";
    public static final String EBS_INVOCATION = "Exit Boot Services Invocation";
    public static final String EBS_SUCCESS = "Exit Boot Services Returned with Success";
    public static final String EBS_FAILURE = "Exit Boot Services Returned with Failure";

    /** Linux EFI stub tagged events (drivers/firmware/efi/libstub, PCR 9). */
    public static final int LINUX_TAG_INITRD = 0x8F3B22EC;
    public static final int LINUX_TAG_LOAD_OPTIONS = 0x8F3B22ED;
    public static final String LINUX_INITRD_DESCRIPTION = "Linux initrd\0";
    public static final String LINUX_LOAD_OPTIONS_DESCRIPTION = "LOADED_IMAGE::LoadOptions\0";

    /**
     * Receives each measurement in order; may throw to stop the run. A sink that keeps the log the
     * run is writing also serves the guest's view of it (GetEventLog and the final-events table).
     */
    public interface Sink {
        void accept(Measurement m, Origin origin);

        /** The log as it stands now (crypto-agile bytes), or null when the sink keeps none. */
        default byte[] logBytes() {
            return null;
        }

        /** Registers a listener called with each record's bytes as it is appended to that log. */
        default void onAppend(java.util.function.Consumer<byte[]> listener) {
        }

        /** An image the run started (after its measurement was accepted): for the policy's payload trust. */
        default void image(LoadedImage image) {
        }
    }

    private final Hashing hashing;
    private final Sink sink;
    private final List<HashAlg> activeBanks;
    private boolean calledBootOption;
    private RuntimeException failure;

    public ChainMeasurer(Hashing hashing, Sink sink) {
        this(hashing, sink, List.copyOf(hashing.banks()));
    }

    /** @param activeBanks the TPM's active banks, reported to the guest by GetCapability / GetActivePcrBanks */
    public ChainMeasurer(Hashing hashing, Sink sink, List<HashAlg> activeBanks) {
        this.hashing = hashing;
        this.sink = sink;
        this.activeBanks = List.copyOf(activeBanks);
    }

    /** The log the guest's GetEventLog returns: the synthesized log so far (firmware + boundary + run). */
    @Override
    public byte[] guestEventLog() {
        return sink.logBytes();
    }

    @Override
    public void onLogAppend(java.util.function.Consumer<byte[]> listener) {
        sink.onAppend(listener);
    }

    /** The first sink failure, or null. */
    public RuntimeException failure() {
        return failure;
    }

    private void emit(Measurement m, Origin o) {
        if (failure != null) {
            throw new IllegalStateException("measurement refused after an earlier failure: " + failure.getMessage());
        }
        try {
            sink.accept(m, o);
        } catch (RuntimeException e) {
            failure = e;
            throw e;
        }
    }

    @Override
    public void measure(int pcr, int eventType, byte[] eventData, byte[] dataToHash, long flags) {
        // PE_COFF_IMAGE: the digest is the image's Authenticode hash, as EDK2's Tcg2Dxe computes it
        boolean image = (flags & Tcg2Protocol.PE_COFF_IMAGE) != 0;
        Map<HashAlg, byte[]> d = image ? hashing.authenticode(dataToHash) : hashing.digest(dataToHash);
        emit(new Measurement(pcr, eventType, d, eventData), Origin.PAYLOAD);
        if (image) {
            // an image the chain loads with its own PE loader (shim starting GRUB): firmware never saw it
            sink.image(new LoadedImage(imageName(eventData, "a PE image the chain measured into PCR " + pcr),
                    LoadedImage.Kind.MEASURED_PE, d.get(HashAlg.SHA256), dataToHash));
        }
    }

    /** Plain data is hashed piece by piece out of guest memory ({@link Hashing#digest(GuestBytes)}); an image whole. */
    @Override
    public void measure(int pcr, int eventType, byte[] eventData, GuestBytes dataToHash, long flags) {
        if ((flags & Tcg2Protocol.PE_COFF_IMAGE) != 0) {
            measure(pcr, eventType, eventData, dataToHash.toArray(), flags);
            return;
        }
        emit(new Measurement(pcr, eventType, hashing.digest(dataToHash), eventData), Origin.PAYLOAD);
    }

    /**
     * An image loaded through LoadImage (or the payload itself, the first image): its PE/COFF digest into PCR 4 as
     * firmware logs it, and the image for the policy's payload trust. The image may be the payload's file mapping,
     * which the emulator passes through: no array of it is made; the payload's digests computed before the emulation
     * are reused when the bytes are the same.
     */
    @Override
    public void imageLoaded(java.nio.ByteBuffer file, long address, long size, long linkTimeAddress, byte[] devicePath,
                            boolean firstImage) {
        if (firstImage && !calledBootOption) {
            // EDK2 BDS signals ReadyToBoot (Tcg2Dxe: this action, once) before it loads the boot option
            calledBootOption = true;
            emit(action(Pcr.BOOT_LOADER_CODE, CALLING_EFI_APPLICATION), Origin.FIRMWARE);
        }
        java.nio.ByteBuffer view = file.duplicate().clear();
        Map<HashAlg, byte[]> d = hashing.authenticode(view);
        emit(new Measurement(Pcr.BOOT_LOADER_CODE, EV_EFI_BOOT_SERVICES_APPLICATION, d,
                imageLoadEvent(address, size, linkTimeAddress, devicePath)), Origin.FIRMWARE);
        sink.image(new LoadedImage(devicePathText(devicePath, firstImage ? "the first image" : "an image at 0x" + Long.toHexString(address)),
                firstImage ? LoadedImage.Kind.PAYLOAD : LoadedImage.Kind.LOAD_IMAGE, d.get(HashAlg.SHA256), view));
    }

    /** The device path as UEFI text (the ESP path of a file), or {@code otherwise} when there is none or it does not parse. */
    static String devicePathText(byte[] devicePath, String otherwise) {
        if (devicePath == null || devicePath.length == 0) return otherwise;
        try {
            String t = org.kexecmeasured.efi.DevicePath.parse(devicePath).toText();
            return t == null || t.isBlank() ? otherwise : t;
        } catch (RuntimeException e) {
            return otherwise; // the name is for the reader; a damaged path must not hide the image
        }
    }

    /** The device path of a UEFI_IMAGE_LOAD_EVENT a payload logged with its image, as text. */
    static String imageName(byte[] eventData, String otherwise) {
        if (eventData == null || eventData.length < 32) return otherwise;
        long len = org.kexecmeasured.util.Le.u64(eventData, 24);
        if (len <= 0 || len > eventData.length - 32) return otherwise;
        return devicePathText(java.util.Arrays.copyOfRange(eventData, 32, 32 + (int) len), otherwise);
    }

    @Override
    public void exitBootServices(boolean success) {
        if (success) {
            emit(action(Pcr.BOOT_LOADER_CONFIG, EBS_INVOCATION), Origin.FIRMWARE);
            emit(action(Pcr.BOOT_LOADER_CONFIG, EBS_SUCCESS), Origin.FIRMWARE);
        } else {
            // EDK2 signals ExitBootServicesFailed on a stale map key; the retry then logs Invocation, Success
            emit(action(Pcr.BOOT_LOADER_CONFIG, EBS_FAILURE), Origin.FIRMWARE);
        }
    }

    @Override
    public int activePcrBanks() {
        int bits = 0;
        for (HashAlg a : activeBanks) bits |= a.tcg2Bit;
        return bits;
    }

    /**
     * What the kernel's EFI stub measures before ExitBootServices, done natively at the cut-over:
     * LoadOptions (when there are any), then the initrd served by LoadFile2 (when there is one). Nothing for a
     * kernel entered through the boot protocol ({@link HandOff.Entry#BOOT_PROTOCOL}): its EFI stub never runs
     * on real firmware either; nor through the EFI handover entry ({@link HandOff.Entry#EFI_HANDOVER}).
     */
    public void linuxStub(HandOff h) {
        for (Measurement m : linuxStubMeasurements(h, hashing)) emit(m, Origin.LINUX_STUB);
    }

    public static List<Measurement> linuxStubMeasurements(HandOff h, Hashing hashing) {
        List<Measurement> out = new java.util.ArrayList<>();
        if (h.entry() != HandOff.Entry.EFI_STUB) {
            return out; // boot protocol: the stub never runs; EFI handover: it runs but measures neither (HandOff.Entry)
        }
        if (h.loadOptions().length > 0) {
            out.add(new Measurement(Pcr.KERNEL_INITRD, EV_EVENT_TAG, hashing.digest(h.loadOptions()),
                    BoundaryEvent.taggedEvent(LINUX_TAG_LOAD_OPTIONS,
                            LINUX_LOAD_OPTIONS_DESCRIPTION.getBytes(StandardCharsets.US_ASCII))));
        }
        if (h.initrdSize() > 0) {
            out.add(new Measurement(Pcr.KERNEL_INITRD, EV_EVENT_TAG, hashing.digest(h.initrdView()),
                    BoundaryEvent.taggedEvent(LINUX_TAG_INITRD,
                            LINUX_INITRD_DESCRIPTION.getBytes(StandardCharsets.US_ASCII))));
        }
        return out;
    }

    /** EV_EFI_ACTION: the ASCII string without NUL is both the event and the hashed data. */
    public Measurement action(int pcr, String text) {
        byte[] b = text.getBytes(StandardCharsets.US_ASCII);
        return new Measurement(pcr, EV_EFI_ACTION, hashing.digest(b), b);
    }

    /** UEFI_IMAGE_LOAD_EVENT: location, length, link-time address, device path length, device path. */
    public static byte[] imageLoadEvent(long address, long size, long linkTimeAddress, byte[] devicePath) {
        ByteBuffer bb = ByteBuffer.allocate(32 + devicePath.length).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(address).putLong(size).putLong(linkTimeAddress).putLong(devicePath.length).put(devicePath);
        return bb.array();
    }
}
