package org.kexecmeasured.boot;

/**
 * Loads the plan's kernel for the hand-over, between the decision and the commit in {@link
 * MeasuredBoot}: a load is reversible (nothing runs until the hand-over), a commit is not, so the
 * kernel is loaded first and unloaded again if the commit fails. The sidecar is computed from the plan
 * alone, so the initrd the loader builds already carries the log the commit will produce. The kexec
 * package implements it with kexec_file_load; {@link #NONE} is {@code --no-load}.
 */
@FunctionalInterface
public interface Loader {

    /** Loads the plan's hand-off (kernel, initrd with the sidecar appended, cmdline). */
    Loaded load(Plan plan, Sidecar sidecar);

    /**
     * Loads the plan's hand-off with other sidecar files, for a load that does not commit
     * ({@link LoadOnly}: a crash kernel, or a boot whose commit waits for the system-shutdown hook).
     */
    default Loaded loadUncommitted(Plan plan, java.util.SortedMap<String, byte[]> sidecarFiles) {
        throw new UnsupportedOperationException("this loader loads committed boots only");
    }

    /** A loaded (or, for {@link #NONE}, not loaded) kernel. */
    interface Loaded {
        /** Undoes the load; called when the commit fails. Must not throw for a load that did nothing. */
        void unload();

        /** For the output: "not loaded (--no-load)", "loaded with kexec_file_load …". */
        String describe();

        /** True when a kernel is loaded and waits for the hand-over. */
        boolean loaded();

        /** Microseconds the load system call took (the kernel reads, verifies and places the image); 0 when nothing was loaded. */
        default long loadMicros() {
            return 0;
        }
    }

    /** {@code --no-load}: nothing is loaded (and so nothing needs unloading). */
    Loader NONE = (plan, sidecar) -> new Loaded() {
        @Override
        public void unload() {
        }

        @Override
        public String describe() {
            return "not loaded (--no-load)";
        }

        @Override
        public boolean loaded() {
            return false;
        }
    };
}
