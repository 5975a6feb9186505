package org.kexecmeasured.util;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * The one configured Jackson mapper. Every JSON the tool reads or writes goes through it, so
 * output settings (indentation, ordering) and parser limits are decided in one place.
 */
public final class Json {
    /** Compact; also the reader for every JSON input. */
    public static final ObjectMapper MAPPER = new ObjectMapper();
    /** Indented output for humans ({@code --json}, manifests). */
    public static final ObjectWriter PRETTY = MAPPER.writer().with(SerializationFeature.INDENT_OUTPUT);

    private Json() {
    }
}
