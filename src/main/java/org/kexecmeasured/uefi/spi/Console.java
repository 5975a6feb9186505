package org.kexecmeasured.uefi.spi;

/** The firmware console: what the payload writes to ConOut (captured for reports and shown live). */
@FunctionalInterface
public interface Console {
    void write(String text);
}
