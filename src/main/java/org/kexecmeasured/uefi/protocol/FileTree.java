package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.uefi.spi.GuestMemory;

import java.io.IOException;
import java.time.Instant;
import java.util.List;

/**
 * The read-only tree of directories and files that {@link SimpleFileSystemProtocol} serves: a host directory
 * ({@link HostDirectoryTree}) or files held in memory ({@link MemoryFileTree}: the synthesized ESP serves the
 * payload from its own bytes). The protocol owns every guest-visible rule (path syntax, modes, EFI_FILE_INFO's
 * layout, buffer sizes, the guest-write check before a read); a tree answers only what is there.
 */
public interface FileTree {

    /** The root directory (its name is empty). */
    Entry root();

    /** What EFI_FILE_INFO reports of an entry: a directory's size is 0. */
    record Info(boolean directory, long size, Instant modified) {
    }

    /** A directory or a file of the tree, as found by a lookup (it may be gone by the time it is used). */
    interface Entry {

        /** Its name in its directory; empty for the root. */
        String name();

        /** Whether it is a directory. */
        boolean isDirectory();

        /** Whether the guest may open it: a directory or a regular file (not a device, FIFO or socket). */
        boolean isOpenable();

        /**
         * The entry of this directory named {@code name}, ignoring case as FAT does; null when there is none, when
         * this is no directory, or when the entry is a symbolic link (never followed).
         */
        Entry child(String name);

        /** The entries of this directory (no symbolic links), in name order. */
        List<Entry> list() throws IOException;

        /** Its size, time and kind now. */
        Info info() throws IOException;

        /**
         * Copies up to {@code n} bytes of this file from {@code position} into guest memory at {@code dst}, which the
         * caller has checked is {@linkplain GuestMemory#isGuestWritable guest-writable} for all {@code n} bytes and
         * which lie within the size {@link #info()} gave; returns how many were copied (fewer only when the file
         * shrank meanwhile).
         */
        long read(long position, long n, GuestMemory m, long dst) throws IOException;

        /**
         * The whole file, for LoadImage; its size is checked against {@code maxSize} before anything is allocated.
         *
         * @throws org.kexecmeasured.util.BadInputException if it is larger than {@code maxSize}, naming {@code efiPath}
         */
        byte[] readAll(String efiPath, long maxSize) throws IOException;
    }
}
