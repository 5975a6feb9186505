package org.kexecmeasured.cli;

import picocli.CommandLine;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one way a duration is written on the command line: a whole number with its unit, {@code 500ms},
 * {@code 30s}, {@code 2m} or {@code 1h}. A bare number is refused (the unit is never guessed: the same
 * option once meant seconds in one command and milliseconds in another). Checked at parse time, before
 * anything is read or touches a TPM; {@link Positive} also refuses zero.
 */
class DurationConverter implements CommandLine.ITypeConverter<Duration> {

    private static final Pattern FORM = Pattern.compile("([0-9]{1,9})(ms|s|m|h)");

    @Override
    public Duration convert(String value) {
        Matcher m = FORM.matcher(value.strip());
        if (!m.matches()) {
            throw new CommandLine.TypeConversionException("'" + value + "' is not a duration: a whole number with a unit, "
                    + "e.g. 500ms, 30s, 2m, 1h");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            default -> Duration.ofHours(n);
        };
    }

    /** A duration that must be more than zero (a time budget). */
    static final class Positive extends DurationConverter {
        @Override
        public Duration convert(String value) {
            Duration d = super.convert(value);
            if (d.isZero()) throw new CommandLine.TypeConversionException("'" + value + "': must be more than zero");
            return d;
        }
    }
}
