package org.kexecmeasured.eventlog.decode;

import java.util.Map;

/**
 * The typed view of one record's event data. Decoding never throws: data that does not fit its
 * type yields {@link Malformed} (the raw bytes stay in the record).
 */
public sealed interface DecodedEvent permits DecodedEvent.Malformed, DecodedEvent.Raw, EfiVariable, ImageLoad,
        TextEvent, Separator, TaggedEvent, GptEvent, FirmwareBlob, NoActionEvent, HandoffTables {

    /** Fields in spec order with spec names (as tpm2_eventlog prints them where it does). */
    Map<String, Object> fields();

    /** One line for the text view. */
    String summary();

    default boolean malformed() {
        return false;
    }

    /** Data this tool does not decode further: shown as hex. */
    record Raw(byte[] data) implements DecodedEvent {
        @Override
        public Map<String, Object> fields() {
            return Map.of();
        }

        @Override
        public String summary() {
            return Text.hexPreview(data);
        }
    }

    /** Data that does not fit the structure its event type promises. */
    record Malformed(String reason, byte[] data) implements DecodedEvent {
        @Override
        public Map<String, Object> fields() {
            return Map.of("malformed", reason);
        }

        @Override
        public String summary() {
            return "malformed: " + reason + " [" + Text.hexPreview(data) + "]";
        }

        @Override
        public boolean malformed() {
            return true;
        }
    }
}
