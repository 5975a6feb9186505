package org.kexecmeasured.cli;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.eventlog.PcrSource;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.eventlog.export.HtmlChain;

/** Glue between the HTML view and its inputs on the command line (the expected PCRs, when given). */
final class HtmlReport {
    private HtmlReport() {
    }

    /** {@code eventlog show --format html}: the log, marked against {@code source} when there is one. */
    static String eventlog(EventLog log, String logName, PcrSource source) {
        HtmlChain.Options o = HtmlChain.Options.of("Event log " + logName, logName);
        return HtmlChain.render(log, withExpected(o, log, source));
    }

    static HtmlChain.Options withExpected(HtmlChain.Options o, EventLog log, PcrSource source) {
        if (source == null) return o;
        PcrSet expected = source.read(log.banks(), Replay.extendedPcrs(log));
        return o.withExpected(expected, source.describe());
    }
}
