package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.transport.DeviceTransport;
import org.kexecmeasured.tpm.transport.MssimTransport;
import org.kexecmeasured.tpm.transport.SwtpmSocketTransport;
import org.kexecmeasured.tpm.transport.TpmTransport;
import org.kexecmeasured.util.BadInputException;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * TCTI strings as tpm2-tools spells them:
 * <ul>
 *   <li>{@code device:/dev/tpmrm0} (any path; {@code device} alone = /dev/tpmrm0)</li>
 *   <li>{@code swtpm:host=127.0.0.1,port=2321} (defaults localhost, 2321) or {@code swtpm:path=/run/x.sock}</li>
 *   <li>{@code mssim:host=127.0.0.1,port=2321}</li>
 * </ul>
 * All take {@code timeout=MS} per command (sockets: default {@value #DEFAULT_TIMEOUT_MS} ms; devices:
 * {@code device:/dev/tpmrm0,timeout=MS}, default 2 minutes).
 */
public record Tcti(String kind, Map<String, String> options, String text) {
    public static final String DEFAULT = "device:/dev/tpmrm0";
    public static final long DEFAULT_TIMEOUT_MS = 30_000;
    public static final String ENV = "TPM2TOOLS_TCTI";

    public static Tcti parse(String s) {
        if (s == null || s.isBlank()) throw new BadInputException("empty TCTI string");
        String t = s.strip();
        int colon = t.indexOf(':');
        String kind = (colon < 0 ? t : t.substring(0, colon)).toLowerCase(java.util.Locale.ROOT);
        String conf = colon < 0 ? "" : t.substring(colon + 1);
        Map<String, String> opts = new LinkedHashMap<>();
        switch (kind) {
            case "device" -> {
                // "device:PATH" — tpm2-tools takes the whole rest as the path; we also accept a
                // trailing ",timeout=MS"
                String path = conf;
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("^(.*),timeout=([0-9]+)$").matcher(conf);
                if (m.matches()) {
                    path = m.group(1);
                    opts.put("timeout", m.group(2));
                    intOpt(opts, "timeout", s, 1, Integer.MAX_VALUE);
                }
                if (path.isEmpty()) path = "/dev/tpmrm0";
                opts.put("path", path);
            }
            case "swtpm", "mssim" -> {
                if (!conf.isEmpty()) {
                    for (String kv : conf.split(",")) {
                        int eq = kv.indexOf('=');
                        if (eq <= 0) throw new BadInputException("bad TCTI option '" + kv + "' in '" + s + "' (expected key=value)");
                        String k = kv.substring(0, eq).strip().toLowerCase(java.util.Locale.ROOT);
                        if (!k.equals("host") && !k.equals("port") && !k.equals("path") && !k.equals("timeout")
                                && !(kind.equals("mssim") && k.equals("locality"))) {
                            throw new BadInputException("unknown TCTI option '" + k + "' in '" + s + "'");
                        }
                        opts.put(k, kv.substring(eq + 1).strip());
                    }
                }
                if (opts.containsKey("path") && (opts.containsKey("host") || opts.containsKey("port"))) {
                    throw new BadInputException("TCTI '" + s + "': give either path= or host=/port=");
                }
                if (kind.equals("mssim") && opts.containsKey("path")) {
                    throw new BadInputException("TCTI '" + s + "': mssim has no path= (TCP only)");
                }
                if (!opts.containsKey("path")) {
                    opts.putIfAbsent("host", "localhost");
                    opts.putIfAbsent("port", "2321");
                    intOpt(opts, "port", s, 1, 65535);
                }
                if (opts.containsKey("timeout")) intOpt(opts, "timeout", s, 1, Integer.MAX_VALUE);
                if (opts.containsKey("locality")) intOpt(opts, "locality", s, 0, 4);
            }
            case "tabrmd", "libtpms", "cmd", "spi-helper", "pcap" ->
                    throw new BadInputException("TCTI '" + kind + "' is not supported (use device:, swtpm: or mssim:)");
            default -> throw new BadInputException("unknown TCTI '" + s + "' (expected device:PATH, swtpm:host=H,port=P, swtpm:path=SOCKET or mssim:host=H,port=P)");
        }
        return new Tcti(kind, Map.copyOf(opts), t);
    }

    private static int intOpt(Map<String, String> opts, String k, String s, int min, int max) {
        try {
            int v = Integer.parseInt(opts.get(k));
            if (v < min || v > max) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw new BadInputException("TCTI '" + s + "': " + k + " must be a number " + min + ".." + max);
        }
    }

    /** The TCTI to use: the explicit one, else $TPM2TOOLS_TCTI, else {@value #DEFAULT}. */
    public static String resolve(String explicit) {
        if (explicit != null && !explicit.isBlank()) return explicit;
        String env = System.getenv(ENV);
        if (env != null && !env.isBlank()) return env;
        return DEFAULT;
    }

    public long timeoutMs() {
        String t = options.get("timeout");
        if (t != null) return Long.parseLong(t);
        return kind.equals("device") ? DeviceTransport.DEFAULT_TIMEOUT_MS : DEFAULT_TIMEOUT_MS;
    }

    /** Opens the transport (connects sockets, opens the device). */
    public TpmTransport open() {
        return switch (kind) {
            case "device" -> new DeviceTransport(text, Path.of(options.get("path")), timeoutMs());
            case "swtpm" -> options.containsKey("path")
                    ? SwtpmSocketTransport.unix(text, Path.of(options.get("path")), timeoutMs())
                    : SwtpmSocketTransport.tcp(text, address(), Integer.parseInt(options.get("port")), timeoutMs());
            case "mssim" -> new MssimTransport(text, address(), Integer.parseInt(options.get("port")),
                    Integer.parseInt(options.getOrDefault("locality", "0")), timeoutMs());
            default -> throw new IllegalStateException(kind);
        };
    }

    /**
     * host= resolved once, before any socket: a name that does not resolve is a mistake in the TCTI
     * string (exit 2), not an internal error; the transport then connects to the address literal.
     */
    String address() {
        String host = options.get("host");
        try {
            return InetAddress.getByName(host).getHostAddress();
        } catch (UnknownHostException | SecurityException e) {
            throw new BadInputException("TCTI '" + text + "': host '" + host + "' does not resolve");
        }
    }
}
