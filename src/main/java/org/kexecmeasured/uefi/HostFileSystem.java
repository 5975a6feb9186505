package org.kexecmeasured.uefi;

/** A read-only host file tree served to the guest (the ESP); paths use UEFI '\' separators. */
public interface HostFileSystem {
    /** The file's bytes, or null if it does not exist or is not a regular file inside the tree. */
    byte[] readFile(String efiPath);
}
