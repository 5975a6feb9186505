package org.kexecmeasured.kexec;

import org.kexecmeasured.payload.RealParts;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The kernel's own definitions of the structures the resume hand-over writes, as C source for the tests' oracle
 * programs: {@code <asm/bootparam.h>} (UAPI, libc6-dev's linux-libc-dev) included as it is, and the internal
 * definitions ({@code efi_system_table_64_t}, {@code efi_config_table_64_t}, {@code efi_memory_desc_t},
 * {@code struct linux_efi_tpm_eventlog}, {@code struct efi_tcg2_final_events_table}, {@code struct efi_setup_data},
 * {@code enum e820_type}, the TPM log GUIDs) cut out of Debian's linux-headers-VERSION-common at test time. The C
 * compiler lays them out; nothing comes from our code.
 */
final class KernelHeaders {
    private KernelHeaders() {
    }

    /** The newest /usr/src/linux-headers-*-common (Debian's package for the installed kernel). */
    static Path headers() throws IOException {
        Path src = Path.of("/usr/src");
        try (Stream<Path> s = Files.isDirectory(src) ? Files.list(src) : Stream.empty()) {
            Path h = s.filter(p -> p.getFileName().toString().matches("linux-headers-.*-common"))
                    .max(Comparator.comparing(p -> p.getFileName().toString())).orElse(null);
            if (h == null) {
                fail("no /usr/src/linux-headers-*-common: install the Debian package linux-headers-VERSION-common of the "
                        + "installed kernel (tests/bin/install-deps does)");
            }
            return h;
        }
    }

    /** {@code typedef struct { … } NAME;} or {@code struct NAME { … };} cut out of a header. */
    static String struct(String header, String name) {
        Matcher td = Pattern.compile("typedef\\s+struct\\s*\\{[^{}]*\\}\\s*" + Pattern.quote(name) + "\\s*;").matcher(header);
        if (td.find()) return td.group();
        Matcher st = Pattern.compile("struct\\s+" + Pattern.quote(name) + "\\s*\\{[^{}]*\\}\\s*;").matcher(header);
        if (st.find()) return st.group();
        throw new AssertionError("no definition of " + name + " in the kernel header");
    }

    /** A #define line (with its continuation lines). */
    static String define(String header, String name) {
        Matcher m = Pattern.compile("#define\\s+" + Pattern.quote(name) + "\\s(?:[^\\n]*\\\\\\n)*[^\\n]*").matcher(header);
        if (!m.find()) throw new AssertionError("no #define " + name + " in the kernel header");
        return m.group();
    }

    /** Includes, the u8…u64 and efi_guid_t types, and the kernel's definitions; EFI_GUID(…) expands to printf arguments. */
    static String prelude() throws IOException {
        Path h = headers();
        String efi = Files.readString(h.resolve("include/linux/efi.h"));
        String asmEfi = Files.readString(h.resolve("arch/x86/include/asm/efi.h"));
        String tpmLog = Files.readString(h.resolve("include/linux/tpm_eventlog.h"));
        String e820 = Files.readString(h.resolve("arch/x86/include/asm/e820/types.h"));
        Matcher en = Pattern.compile("enum e820_type\\s*\\{[^}]*\\}\\s*;").matcher(e820);
        if (!en.find()) throw new AssertionError("no enum e820_type in " + h);
        StringBuilder src = new StringBuilder("""
                #include <stdio.h>
                #include <stdlib.h>
                #include <string.h>
                #include <stddef.h>
                #include <stdint.h>
                #include <asm/bootparam.h>
                typedef uint8_t u8; typedef uint16_t u16; typedef uint32_t u32; typedef uint64_t u64;
                /* include/linux/efi.h: typedef guid_t efi_guid_t __aligned(__alignof__(u32)); guid_t is 16 bytes */
                typedef struct { u8 b[16]; } __attribute__((aligned(4))) efi_guid_t;
                #define EFI_GUID(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7) \\
                  "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", a, b, c, d0, d1, d2, d3, d4, d5, d6, d7
                """);
        for (String s : List.of("efi_table_hdr_t", "efi_system_table_64_t", "efi_config_table_64_t", "efi_memory_desc_t",
                "linux_efi_tpm_eventlog", "efi_tcg2_final_events_table")) {
            src.append(struct(efi, s)).append('\n');
        }
        src.append(struct(asmEfi, "efi_setup_data")).append('\n');
        src.append(en.group()).append('\n');
        for (String d : List.of("LINUX_EFI_TPM_EVENT_LOG_GUID", "LINUX_EFI_TPM_FINAL_LOG_GUID", "EFI_SYSTEM_TABLE_SIGNATURE",
                "EFI_MEMORY_DESCRIPTOR_VERSION")) {
            src.append(define(efi, d)).append('\n');
        }
        src.append(define(tpmLog, "EFI_TCG2_EVENT_LOG_FORMAT_TCG_2")).append('\n');
        return src.toString();
    }

    /** Compiles {@code source} with gcc in {@code dir} and runs it with {@code args}; its stdout. */
    static String compileAndRun(Path dir, String name, String source, String... args) throws IOException {
        Path c = dir.resolve(name + ".c"), exe = dir.resolve(name);
        Files.writeString(c, source);
        RealParts.run(List.of("gcc", "-std=gnu11", "-Wall", "-Werror", "-o", exe.toString(), c.toString()),
                "gcc, libc6-dev (linux-libc-dev)");
        List<String> cmd = new java.util.ArrayList<>(List.of(exe.toString()));
        cmd.addAll(List.of(args));
        return RealParts.run(cmd, "gcc");
    }
}
