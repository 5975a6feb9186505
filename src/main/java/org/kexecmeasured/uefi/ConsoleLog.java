package org.kexecmeasured.uefi;

import org.kexecmeasured.uefi.spi.Console;

import java.util.function.Consumer;

/** The text the payload wrote to ConOut: kept (up to 4 MiB) for the result and reports, and shown live. */
final class ConsoleLog implements Console {

    /** Characters kept; a payload printing forever must not fill the host heap. */
    static final int LIMIT = 4 << 20;
    /** Characters of the console shown in an error report. */
    static final int TAIL = 300;

    private final StringBuilder text = new StringBuilder();
    private final Consumer<String> live;

    ConsoleLog(Consumer<String> live) {
        this.live = live;
    }

    @Override
    public void write(String s) {
        if (text.length() < LIMIT) {
            text.append(s);
        }
        if (live != null) {
            live.accept(s);
        }
    }

    String text() {
        return text.toString();
    }

    /** "; console: <the last lines, on one line>" for an error report, or "" when nothing was written. */
    String reportTail() {
        String c = text.toString().strip();
        if (c.isEmpty()) {
            return "";
        }
        return "; console: " + (c.length() > TAIL ? "…" + c.substring(c.length() - TAIL) : c)
                .replace('\n', ' ').replace('\r', ' ');
    }
}
