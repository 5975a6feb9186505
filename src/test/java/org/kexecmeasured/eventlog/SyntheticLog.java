package org.kexecmeasured.eventlog;

import org.kexecmeasured.util.HashAlg;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;

/**
 * A synthetic crypto-agile log with a firmware-like mix of records (variables, image loads, actions,
 * separators, GRUB-style EV_IPL strings, tagged events), each digest H(data). For benchmarks and the
 * demo only, so it lives with the tests; {@code tests/bin/synth-eventlog} runs {@link #main}.
 */
public final class SyntheticLog {
    private SyntheticLog() {
    }

    /**
     * {@code --events N} (records after the Spec ID record, default 100000), {@code --banks
     * sha1,sha256,…} (default sha1,sha256,sha384), {@code --seed S} (default 1), {@code -o FILE}.
     * {@code --events 0} is a log with the Spec ID record only: what a fresh TPM's PCRs replay to.
     */
    public static void main(String[] args) throws java.io.IOException {
        int events = 100_000;
        String banks = "sha1,sha256,sha384";
        long seed = 1;
        java.nio.file.Path out = null;
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--events" -> events = Integer.parseInt(v);
                case "--banks" -> banks = v;
                case "--seed" -> seed = Long.parseLong(v);
                case "-o", "--output" -> out = java.nio.file.Path.of(v);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + " (usage: --events N --banks sha1,sha256 --seed S -o FILE)");
            }
            i++;
        }
        if (out == null) throw new IllegalArgumentException("-o FILE is required");
        if (events < 0 || events > 10_000_000) throw new IllegalArgumentException("--events must be 0…10000000");
        List<HashAlg> algs = new java.util.ArrayList<>();
        for (String b : banks.split(",")) algs.add(HashAlg.fromName(b.strip()));
        byte[] bytes = generate(algs, events, seed).toBytes();
        java.nio.file.Files.write(out, bytes);
        System.out.printf("%s: %d records, %d bytes%n", out, events + 1, bytes.length);
    }

    public static EventLog generate(List<HashAlg> banks, int count, long seed) {
        Random rnd = new Random(seed);
        EventLog.Builder b = EventLog.newCryptoAgile(banks);
        for (int i = 0; i < count; i++) {
            int kind = rnd.nextInt(6);
            int pcr;
            int type;
            byte[] data;
            switch (kind) {
                case 0 -> {
                    pcr = 7;
                    type = EventType.EV_EFI_VARIABLE_DRIVER_CONFIG;
                    byte[] name = ("Var" + i).getBytes(StandardCharsets.UTF_16LE);
                    byte[] val = new byte[8 + rnd.nextInt(64)];
                    rnd.nextBytes(val);
                    ByteBuffer bb = ByteBuffer.allocate(32 + name.length + val.length).order(ByteOrder.LITTLE_ENDIAN);
                    bb.put(new byte[16]).putLong(name.length / 2).putLong(val.length).put(name).put(val);
                    data = bb.array();
                }
                case 1 -> {
                    pcr = 4;
                    type = EventType.EV_EFI_BOOT_SERVICES_APPLICATION;
                    byte[] fp = ("\\EFI\\app" + i + ".efi\0").getBytes(StandardCharsets.UTF_16LE);
                    ByteBuffer bb = ByteBuffer.allocate(32 + 4 + fp.length + 4).order(ByteOrder.LITTLE_ENDIAN);
                    bb.putLong(0x7d000000L + i * 4096L).putLong(65536).putLong(0).putLong(4 + fp.length + 4);
                    bb.put((byte) 4).put((byte) 4).putShort((short) (4 + fp.length)).put(fp);
                    bb.put((byte) 0x7f).put((byte) 0xff).putShort((short) 4);
                    data = bb.array();
                }
                case 2 -> {
                    pcr = 5;
                    type = EventType.EV_EFI_ACTION;
                    data = "Calling EFI Application from Boot Option".getBytes(StandardCharsets.US_ASCII);
                }
                case 3 -> {
                    pcr = rnd.nextInt(8);
                    type = EventType.EV_SEPARATOR;
                    data = new byte[4];
                }
                case 4 -> {
                    pcr = 8;
                    type = EventType.EV_IPL;
                    data = ("grub_cmd: linux /vmlinuz-" + i + " root=/dev/sda1 ro quiet\0").getBytes(StandardCharsets.US_ASCII);
                }
                default -> {
                    pcr = 9;
                    type = EventType.EV_EVENT_TAG;
                    byte[] s = "Linux initrd\0".getBytes(StandardCharsets.US_ASCII);
                    ByteBuffer bb = ByteBuffer.allocate(8 + s.length).order(ByteOrder.LITTLE_ENDIAN);
                    bb.putInt(0x8F3B22EC).putInt(s.length).put(s);
                    data = bb.array();
                }
            }
            b.appendMeasured(pcr, type, data, data);
        }
        return b.build();
    }
}
