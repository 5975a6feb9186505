package org.kexecmeasured.uefi;

/** A read-only host file tree served to the guest (the ESP); paths use UEFI '\' separators. */
public interface HostFileSystem {
    /**
     * The file's bytes, or null if it does not exist or is not a regular file inside the tree.
     *
     * @throws org.kexecmeasured.util.BadInputException if the file is larger than {@code maxSize} (checked
     *                                                  before reading)
     */
    byte[] readFile(String efiPath, long maxSize);

    /** {@link #readFile(String, long)} with the image limit {@link ImageServices#MAX_IMAGE}. */
    default byte[] readFile(String efiPath) {
        return readFile(efiPath, ImageServices.MAX_IMAGE);
    }
}
