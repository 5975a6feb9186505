package org.kexecmeasured.payload.pe;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.kexecmeasured.payload.RealParts;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Header fields, section table and base relocations against binutils' objdump on Debian's binaries. */
class PeFileTest {

    static Stream<Path> binaries() {
        return Stream.of(
                RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi"),
                RealParts.require(RealParts.LINUX_STUB, "systemd-boot-efi"),
                RealParts.kernel(),
                RealParts.require(RealParts.SHIM_SIGNED, "shim-signed"),
                RealParts.require(RealParts.GRUB_SIGNED, "grub-efi-amd64-signed"));
    }

    private static long field(String objdumpP, String name) {
        Matcher m = Pattern.compile("(?m)^" + name + "\\s+([0-9a-fA-F]+)").matcher(objdumpP);
        assertTrue(m.find(), "objdump -p prints " + name);
        return Long.parseUnsignedLong(m.group(1), 16);
    }

    @ParameterizedTest
    @MethodSource("binaries")
    void headerMatchesObjdump(Path file) {
        PeFile pe = PeFile.parse(RealParts.read(file));
        String p = RealParts.run(List.of("objdump", "-p", file.toString()), "binutils");
        assertEquals(field(p, "AddressOfEntryPoint"), pe.addressOfEntryPoint(), "entry point");
        assertEquals(field(p, "ImageBase"), pe.imageBase(), "ImageBase");
        assertEquals(field(p, "SectionAlignment"), pe.sectionAlignment());
        assertEquals(field(p, "FileAlignment"), pe.fileAlignment());
        assertEquals(field(p, "SizeOfImage"), pe.sizeOfImage());
        assertEquals(field(p, "SizeOfHeaders"), pe.sizeOfHeaders());
        assertEquals(field(p, "CheckSum"), pe.checkSum());
        assertEquals(field(p, "Subsystem"), pe.subsystem());
        assertEquals(field(p, "DllCharacteristics"), pe.dllCharacteristics());
        assertEquals(field(p, "NumberOfRvaAndSizes"), pe.numberOfRvaAndSizes());
        assertEquals(field(p, "Magic") == 0x20b, pe.isPe32Plus());
        assertEquals(PeFile.IMAGE_FILE_MACHINE_AMD64, pe.machine());
        assertEquals("x86_64", pe.machineName());

        // base relocations: every interpreted entry objdump prints, ABSOLUTE padding excluded
        Matcher m = Pattern.compile("(?m)^\\s+reloc\\s+\\d+\\s+offset\\s+[0-9a-f]+\\s+\\[\\s*([0-9a-f]+)\\]\\s+(\\w+)").matcher(p);
        List<String> expected = new ArrayList<>();
        while (m.find()) {
            if (!m.group(2).equals("ABSOLUTE")) expected.add(Long.parseLong(m.group(1), 16) + ":" + m.group(2));
        }
        List<String> ours = pe.baseRelocations().stream()
                .map(r -> r.rva() + ":" + BaseRelocation.typeName(r.type())).toList();
        assertEquals(expected, ours, "base relocations of " + file);
    }

    @ParameterizedTest
    @MethodSource("binaries")
    void sectionsMatchObjdump(Path file) {
        PeFile pe = PeFile.parse(RealParts.read(file));
        String h = RealParts.run(List.of("objdump", "-h", file.toString()), "binutils");
        Matcher m = Pattern.compile("(?m)^\\s*\\d+\\s+(\\S+)\\s+([0-9a-f]+)\\s+([0-9a-f]+)\\s+([0-9a-f]+)\\s+([0-9a-f]+)").matcher(h);
        List<String> expected = new ArrayList<>();
        while (m.find()) {
            expected.add(m.group(1) + " vma=" + Long.parseUnsignedLong(m.group(3), 16) + " off=" + Long.parseLong(m.group(5), 16));
        }
        List<String> ours = new ArrayList<>();
        for (Section s : pe.sections()) {
            ours.add(s.name() + " vma=" + (pe.imageBase() + s.virtualAddress()) + " off=" + s.pointerToRawData());
        }
        assertEquals(expected, ours, "sections of " + file);
        for (Section s : pe.sections()) {
            byte[] data = pe.sectionData(s);
            assertEquals(s.sizeOfRawData(), data.length, s.name());
        }
        assertTrue(pe.section(pe.sections().get(0).name()).isPresent());
        assertTrue(pe.section(".nonexistent-" + Locale.ROOT).isEmpty());
    }
}
