/**
 * Typed event data of TCG PC Client PFP events ({@link org.kexecmeasured.eventlog.EventDecoder}, beside the event types,
 * picks the decoder by event type): UEFI variables and signature lists, image loads with device paths,
 * GPT tables, firmware blobs, hand-off tables, separators, tagged events, text. Decoding never throws:
 * damaged data becomes a {@link org.kexecmeasured.eventlog.decode.DecodedEvent} marked malformed, so a
 * hostile log can be shown and verified all the same.
 */
package org.kexecmeasured.eventlog.decode;
