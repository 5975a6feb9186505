package org.kexecmeasured.util;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * The one configured Jackson mapper. Every JSON the tool reads goes through it, so parser limits are decided in one
 * place, and so does what the commands other than {@code boot} write. What a boot writes (journal, sidecar, pending
 * file, {@code --json}) goes through {@link JsonOut}'s streaming writers instead, to the same bytes (the same
 * indentation and member order; tests compare the two), so a boot never creates this mapper unless it reads JSON.
 */
public final class Json {
    /** Compact; also the reader for every JSON input. */
    public static final ObjectMapper MAPPER = new ObjectMapper();
    /** Indented output for humans ({@code --json}, manifests). */
    public static final ObjectWriter PRETTY = MAPPER.writer().with(SerializationFeature.INDENT_OUTPUT);

    private Json() {
    }
}
