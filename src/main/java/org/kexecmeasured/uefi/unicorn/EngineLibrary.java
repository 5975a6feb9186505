package org.kexecmeasured.uefi.unicorn;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;

import java.io.File;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Which libunicorn the emulator runs on, and where it came from. Preferred: the build of
 * {@code native/unicorn/build.sh} (Debian's 2.0.1.post1 source with the store fast path and a bounded
 * translation cache); else Debian 12's {@code libunicorn2}, which works but sends every guest store
 * through Unicorn's slow path.
 *
 * <p>Search order: the system property {@value #PROPERTY} (a library file, or {@code system} for Debian's);
 * {@code libunicorn.so.2} in a directory of {@code jna.library.path} (the launcher and the tests put
 * {@code target/native} there); {@code native/libunicorn.so.2} beside the jar or the classes directory;
 * Debian's {@code libunicorn.so.2}.
 *
 * @param lib     the loaded API
 * @param file    the library file, or null if JNA cannot tell
 * @param patched true if the library carries native/unicorn's store fast path (probed by its symbol)
 */
public record EngineLibrary(UnicornLib lib, Path file, boolean patched) {

    /** System property naming the library file to load, or {@code system} for Debian's libunicorn2. */
    public static final String PROPERTY = "kexecmeasured.unicorn";
    static final String SONAME = "libunicorn.so.2";
    /** Exported only by the native/unicorn build (patch 0001). */
    static final String PATCH_SYMBOL = "tb_page_has_code_x86_64";

    private static volatile EngineLibrary loaded;

    /** The library of this process, loaded on first use. */
    public static EngineLibrary get() {
        EngineLibrary e = loaded;
        if (e == null) {
            synchronized (EngineLibrary.class) {
                e = loaded;
                if (e == null) {
                    e = load();
                    loaded = e;
                }
            }
        }
        return e;
    }

    /** One line for reports: which engine runs the payload. */
    public String describe() {
        int[] v = version();
        String ver = v[0] + "." + v[1] + "." + v[2];
        if (patched) {
            return "Unicorn " + ver + ", native/unicorn build (" + file + ")";
        }
        return "Unicorn " + ver + ", unpatched (" + (file == null ? "libunicorn2" : file) + "): guest stores take the"
                + " engine's slow path; native/unicorn/build.sh builds the fast one";
    }

    /** Major, minor and patch version (uc_version returns major << 24 | minor << 16 | patch << 8 | extra). */
    public int[] version() {
        int packed = lib.uc_version(null, null);
        return new int[]{(packed >>> 24) & 0xff, (packed >>> 16) & 0xff, (packed >>> 8) & 0xff};
    }

    private static EngineLibrary load() {
        String wanted = System.getProperty(PROPERTY, "").strip();
        if (wanted.equals("system")) {
            return system();
        }
        if (!wanted.isEmpty()) {
            Path p = Path.of(wanted);
            if (!Files.isRegularFile(p)) {
                throw new IllegalStateException(PROPERTY + "=" + wanted + ": no such library file");
            }
            return fromFile(p.toAbsolutePath());
        }
        for (Path p : candidates()) {
            if (Files.isRegularFile(p)) {
                return fromFile(p.toAbsolutePath());
            }
        }
        return system();
    }

    /** Where a native/unicorn build may be: jna.library.path entries, then native/ beside the code. */
    public static List<Path> candidates() {
        List<Path> out = new ArrayList<>();
        String jnaPath = System.getProperty("jna.library.path", "");
        for (String dir : jnaPath.split(File.pathSeparator)) {
            if (!dir.isBlank()) {
                out.add(Path.of(dir, SONAME));
            }
        }
        try {
            var src = EngineLibrary.class.getProtectionDomain().getCodeSource();
            if (src != null && src.getLocation() != null) {
                Path code = Path.of(src.getLocation().toURI());
                // the jar (target/kexec-measured.jar) or the classes directory (target/classes)
                out.add(code.getParent().resolve("native").resolve(SONAME));
            }
        } catch (URISyntaxException | RuntimeException e) {
            // no code source on the file system: only the other places
        }
        return out;
    }

    private static EngineLibrary fromFile(Path p) {
        try {
            return of(p.toString());
        } catch (UnsatisfiedLinkError e) {
            throw new IllegalStateException("cannot load " + p + ": " + e.getMessage(), e);
        }
    }

    /** Debian's libunicorn2, by absolute path where it is found, so jna.library.path cannot substitute ours. */
    private static EngineLibrary system() {
        String name = SONAME;
        for (String dir : SYSTEM_DIRS) {
            if (Files.isRegularFile(Path.of(dir, SONAME))) {
                name = Path.of(dir, SONAME).toString();
                break;
            }
        }
        try {
            return of(name);
        } catch (UnsatisfiedLinkError e) {
            throw new IllegalStateException(SONAME + " not found (install the Debian package libunicorn2, or build"
                    + " native/unicorn/build.sh): " + e.getMessage(), e);
        }
    }

    /** Where Debian and other distributions install shared libraries (multiarch first). */
    private static final List<String> SYSTEM_DIRS = List.of("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/local/lib", "/usr/lib");

    private static EngineLibrary of(String nameOrPath) {
        NativeLibrary nl = NativeLibrary.getInstance(nameOrPath);
        UnicornLib lib = Native.load(nameOrPath, UnicornLib.class);
        UnicornDirect.register(nl);
        boolean patched;
        try {
            nl.getFunction(PATCH_SYMBOL);
            patched = true;
        } catch (UnsatisfiedLinkError e) {
            patched = false;
        }
        File f = nl.getFile();
        return new EngineLibrary(lib, f == null ? null : f.toPath(), patched);
    }
}
