package org.kexecmeasured.kexec;

/**
 * One {@code struct kexec_segment} of {@code kexec_load} (include/uapi/linux/kexec.h): {@code buf} is copied to
 * physical address {@code mem} at kexec time, and the rest of {@code memsz} is zero-filled. The kernel wants
 * {@code mem} and {@code memsz} page aligned, {@code buf.length <= memsz} and no two segments overlapping; this
 * record checks the same so a bad segment list is caught before the system call.
 */
public record KexecSegment(byte[] buf, long mem, long memsz) {
    public static final long PAGE = 4096;

    public KexecSegment {
        if (mem < 0 || mem % PAGE != 0 || memsz <= 0 || memsz % PAGE != 0 || buf.length > memsz
                || mem + memsz < mem) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                    "kexec segment at 0x%x, %d bytes of %d: must be page aligned, non-empty, buf <= memsz",
                    mem, buf.length, memsz));
        }
    }

    public long end() {
        return mem + memsz;
    }
}
