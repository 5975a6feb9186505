package org.kexecmeasured.uefi.spi;

/**
 * A read-only host file tree served to the guest (the ESP); paths use UEFI '\' separators. LoadImage reads
 * files from a device's tree through this.
 */
public interface HostFileSystem {
    /**
     * The file's bytes, or null if it does not exist or is not a regular file inside the tree.
     *
     * @throws org.kexecmeasured.util.BadInputException if the file is larger than {@code maxSize} (checked
     *                                                  before reading)
     */
    byte[] readFile(String efiPath, long maxSize);
}
