package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The warm-up's late phase at a lower priority: checked against the kernel's own account (/proc). */
class WarmupTest {

    /** The nice value of the calling thread, as the kernel reports it (proc(5): field 19 of /proc/thread-self/stat). */
    private static int niceOfCallingThread() throws IOException {
        String stat = Files.readString(Path.of("/proc/thread-self/stat"));
        return Integer.parseInt(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[19 - 3]);
    }

    @Test
    void lowPriorityIsTheCallingThreadsOnly() throws Exception {
        int before = niceOfCallingThread();
        assertTrue(before < Warmup.LowPriority.NICE, "the test JVM already runs at nice " + before);
        AtomicInteger lowered = new AtomicInteger(Integer.MIN_VALUE);
        AtomicBoolean accepted = new AtomicBoolean();
        Thread t = new Thread(() -> {
            try {
                accepted.set(Warmup.LowPriority.lowerCallingThread());
                lowered.set(niceOfCallingThread());
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }, "lowered");
        t.start();
        t.join();
        assertTrue(accepted.get(), "setpriority refused");
        assertEquals(Warmup.LowPriority.NICE, lowered.get(), "the lowered thread's nice value");
        // the process's other threads (here the test's) keep theirs: on Linux the nice value is a thread's
        assertEquals(before, niceOfCallingThread(), "the calling process's other threads");
    }

    /** The late phase runs at the lower priority, and a thread inherits its creator's: it must start none. */
    @Test
    void latePhaseStartsNoThread() throws Exception {
        Set<String> before = tasks();
        Warmup.late();
        Set<String> started = tasks();
        started.removeAll(before);
        assertEquals(Set.of(), started, "threads started by the late phase (/proc/self/task)");
    }

    private static Set<String> tasks() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/task"))) {
            return new HashSet<>(s.map(p -> p.getFileName().toString()).toList());
        }
    }
}
