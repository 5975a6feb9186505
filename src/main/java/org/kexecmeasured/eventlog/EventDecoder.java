package org.kexecmeasured.eventlog;

import org.kexecmeasured.eventlog.decode.DecodedEvent;
import org.kexecmeasured.eventlog.decode.EfiVariable;
import org.kexecmeasured.eventlog.decode.FirmwareBlob;
import org.kexecmeasured.eventlog.decode.GptEvent;
import org.kexecmeasured.eventlog.decode.HandoffTables;
import org.kexecmeasured.eventlog.decode.ImageLoad;
import org.kexecmeasured.eventlog.decode.NoActionEvent;
import org.kexecmeasured.eventlog.decode.Separator;
import org.kexecmeasured.eventlog.decode.TaggedEvent;
import org.kexecmeasured.eventlog.decode.TextEvent;

import static org.kexecmeasured.eventlog.EventType.*;

/**
 * Chooses the decoder of {@link org.kexecmeasured.eventlog.decode} for an event type (here, beside
 * {@link EventType}, so the decoders depend on nothing of this package). Never throws: unexpected failures become {@link DecodedEvent.Malformed}. */
public final class EventDecoder {
    private EventDecoder() {
    }

    public static DecodedEvent decode(int type, byte[] data) {
        try {
            return decodeUnchecked(type, data);
        } catch (RuntimeException e) {
            // hostile data that slipped past a bounds check must not escape as an exception
            return new DecodedEvent.Malformed("cannot decode: " + e.getMessage(), data);
        }
    }

    private static DecodedEvent decodeUnchecked(int type, byte[] d) {
        switch (type) {
            case EV_EFI_VARIABLE_DRIVER_CONFIG:
            case EV_EFI_VARIABLE_BOOT:
            case EV_EFI_VARIABLE_BOOT2:
                return EfiVariable.decode(d);
            case EV_EFI_VARIABLE_AUTHORITY:
                return EfiVariable.decode(d, true);
            case EV_EFI_BOOT_SERVICES_APPLICATION:
            case EV_EFI_BOOT_SERVICES_DRIVER:
            case EV_EFI_RUNTIME_SERVICES_DRIVER:
                return ImageLoad.decode(d);
            case EV_EFI_ACTION:
            case EV_ACTION:
            case EV_IPL:
            case EV_S_CRTM_VERSION:
            case EV_COMPACT_HASH:
            case EV_OMIT_BOOT_DEVICE_EVENTS:
            case EV_PLATFORM_CONFIG_FLAGS:   // QEMU/OVMF: "ACPI DATA"; others: free text or binary
            case EV_EFI_HCRTM_EVENT: {
                if (d.length == 0) return new DecodedEvent.Raw(d);
                TextEvent t = TextEvent.of(d);
                return t != null ? t : new DecodedEvent.Raw(d);
            }
            case EV_SEPARATOR:
                return Separator.decode(d);
            case EV_EVENT_TAG:
                return TaggedEvent.decode(d);
            case EV_EFI_GPT_EVENT:
            case EV_EFI_GPT_EVENT2:
                return GptEvent.decode(d);
            case EV_EFI_PLATFORM_FIRMWARE_BLOB:
                return FirmwareBlob.decode(d);
            case EV_EFI_PLATFORM_FIRMWARE_BLOB2:
                return FirmwareBlob.decode2(d);
            case EV_S_CRTM_CONTENTS:
            case EV_POST_CODE:
            case EV_POST_CODE2: {
                // PFP: either a UEFI_PLATFORM_FIRMWARE_BLOB or a descriptive string ("ACPI DATA", "SMM CODE"…)
                TextEvent t = d.length == 0 ? null : TextEvent.of(d);
                if (t != null) return t;
                if (d.length == 16) return FirmwareBlob.decode(d);
                return new DecodedEvent.Raw(d);
            }
            case EV_EFI_HANDOFF_TABLES:
                return HandoffTables.decode(d, false);
            case EV_EFI_HANDOFF_TABLES2:
                return HandoffTables.decode(d, true);
            case EV_NO_ACTION:
            case EV_NONHOST_CODE:
            case EV_NONHOST_CONFIG:
            case EV_NONHOST_INFO:            // e.g. "GCE NonHostInfo", "IntelCSxEEvent01": a 16-byte signature, then data
                return NoActionEvent.decode(d);
            default:
                return new DecodedEvent.Raw(d);
        }
    }
}
