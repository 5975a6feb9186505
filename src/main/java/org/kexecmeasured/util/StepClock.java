package org.kexecmeasured.util;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Wall times of a flow's named steps, in their order, for {@code --json} stats: each step is the time since
 * the previous one ended (or since the clock was made), so the steps add up to the whole.
 */
public final class StepClock {
    private final Map<String, Long> micros = new LinkedHashMap<>();
    private long last = System.nanoTime();

    /** Runs {@code body} as the step {@code step}. */
    public <T> T time(String step, Supplier<T> body) {
        T r = body.get();
        mark(step);
        return r;
    }

    /** Ends the step {@code step} now (a step named twice adds up). */
    public void mark(String step) {
        long now = System.nanoTime();
        micros.merge(step, (now - last) / 1000, Long::sum);
        last = now;
    }

    /** The steps so far, in their order, in microseconds. */
    public Map<String, Long> micros() {
        return Collections.unmodifiableMap(new LinkedHashMap<>(micros));
    }
}
