package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.error.TpmTransportException;

import org.kexecmeasured.util.HashAlg;

import java.io.ByteArrayOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One TPM command with authorization sessions, marshalled and checked here because TSS.Java
 * computes no session HMACs and encrypts no parameters (TPM 2.0 Part 1, 19 "Authorizations and
 * Acknowledgments", 21 "Session-based encryption"). The command's sessions are given in order:
 * the authorization sessions of its handles first, then an extra session that only encrypts.
 *
 * <p>Every session's HMAC covers cpHash = H(commandCode ‖ Names of the handles ‖ parameters as
 * sent, i.e. after encryption); the response's HMACs cover rpHash = H(0 ‖ commandCode ‖ response
 * parameters as received) and are checked before anything of the response is used.
 */
final class SessionCommand {
    static final int TPM_ST_SESSIONS = 0x8002;
    static final int TPM_RS_PW = 0x40000009;
    static final int ATTR_CONTINUE = 0x01;
    static final int ATTR_DECRYPT = 0x20;
    static final int ATTR_ENCRYPT = 0x40;
    /** AES-128 key and IV for CFB parameter encryption. */
    private static final int CFB_BITS = 128 + 128;

    /** A session taking part in one command. */
    interface Session {
        int handle();

        HashAlg alg();

        int attributes();

        /** The HMAC key: sessionKey ‖ authValue of the entity (empty for a policy session without PolicyAuthValue, null = no HMAC). */
        byte[] hmacKey();

        byte[] nonceTpm();

        void nonceTpm(byte[] n);

        /** Key material for parameter encryption (sessionKey ‖ authValue), null when the session has no session key. */
        default byte[] cfbKey() {
            return null;
        }
    }

    /** The password session (TPM_RS_PW): the authValue travels in the HMAC field. */
    record Password(byte[] authValue) implements Session {
        @Override
        public int handle() {
            return TPM_RS_PW;
        }

        @Override
        public HashAlg alg() {
            return HashAlg.SHA256;
        }

        @Override
        public int attributes() {
            return 0;
        }

        @Override
        public byte[] hmacKey() {
            return null;
        }

        @Override
        public byte[] nonceTpm() {
            return new byte[0];
        }

        @Override
        public void nonceTpm(byte[] n) {
        }
    }

    /** The decoded response: the parameter area (decrypted when a session encrypted it). */
    record Response(byte[] handles, byte[] parameters) {
    }

    private final int commandCode;
    private final int[] handles;
    private final List<byte[]> names;
    private final List<Session> sessions;
    private byte[] parameters;
    private final java.security.SecureRandom random;

    SessionCommand(int commandCode, int[] handles, List<byte[]> names, byte[] parameters, List<Session> sessions,
                   java.security.SecureRandom random) {
        this.commandCode = commandCode;
        this.handles = handles.clone();
        this.names = names;
        this.parameters = parameters.clone();
        this.sessions = sessions;
        this.random = random;
    }

    /**
     * Sends the command on {@code transport}-like {@code send}, checks the response HMACs and returns
     * the (decrypted) parameters. {@code responseHandles}: how many handles the response carries.
     */
    Response run(java.util.function.Function<byte[], byte[]> send, int responseHandles) {
        List<byte[]> callerNonces = new ArrayList<>();
        Session decrypt = null;
        Session encrypt = null;
        for (Session s : sessions) {
            if ((s.attributes() & ATTR_DECRYPT) != 0) decrypt = s;
            if ((s.attributes() & ATTR_ENCRYPT) != 0) encrypt = s;
            callerNonces.add(s instanceof Password ? new byte[0] : random(s.alg().size));
        }
        byte[] sentParams = parameters;
        if (decrypt != null) {
            int i = sessions.indexOf(decrypt);
            sentParams = cryptFirstParameter(true, decrypt, sentParams, callerNonces.get(i), decrypt.nonceTpm());
        }
        MessageDigest cp = null;
        ByteArrayOutputStream auth = new ByteArrayOutputStream();
        byte[] cpHashCache = null;
        HashAlg cpAlg = null;
        for (int i = 0; i < sessions.size(); i++) {
            Session s = sessions.get(i);
            byte[] hmac;
            if (s instanceof Password p) {
                hmac = p.authValue();
            } else if (s.hmacKey() == null) {
                hmac = new byte[0];
            } else {
                if (cpAlg != s.alg()) {
                    cpAlg = s.alg();
                    cpHashCache = cpHash(s.alg(), sentParams);
                }
                byte[] extra = new byte[0];
                // the first authorization session also covers the nonces of other decrypt/encrypt sessions (Part 1, 19.6.5)
                if (i == 0) {
                    if (decrypt != null && decrypt != s) extra = SessionCrypto.concat(extra, decrypt.nonceTpm());
                    if (encrypt != null && encrypt != s && encrypt != decrypt) extra = SessionCrypto.concat(extra, encrypt.nonceTpm());
                }
                hmac = SessionCrypto.hmac(s.alg(), s.hmacKey(), cpHashCache, callerNonces.get(i), s.nonceTpm(), extra,
                        new byte[]{(byte) s.attributes()});
            }
            auth.writeBytes(SessionCrypto.be32(s.handle()));
            auth.writeBytes(sized(callerNonces.get(i)));
            auth.write(s.attributes());
            auth.writeBytes(sized(hmac));
        }
        byte[] authArea = auth.toByteArray();
        ByteArrayOutputStream cmd = new ByteArrayOutputStream();
        int size = 10 + 4 * handles.length + 4 + authArea.length + sentParams.length;
        cmd.write(TPM_ST_SESSIONS >>> 8);
        cmd.write(TPM_ST_SESSIONS & 0xFF);
        cmd.writeBytes(SessionCrypto.be32(size));
        cmd.writeBytes(SessionCrypto.be32(commandCode));
        for (int h : handles) cmd.writeBytes(SessionCrypto.be32(h));
        cmd.writeBytes(SessionCrypto.be32(authArea.length));
        cmd.writeBytes(authArea);
        cmd.writeBytes(sentParams);
        byte[] command = cmd.toByteArray();
        byte[] r = send.apply(command);
        Arrays.fill(command, (byte) 0);
        return decode(r, responseHandles, callerNonces, encrypt);
    }

    private Response decode(byte[] r, int responseHandles, List<byte[]> callerNonces, Session encrypt) {
        try {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(r);
            b.position(10);
            byte[] rh = new byte[4 * responseHandles];
            b.get(rh);
            int paramSize = b.getInt();
            if (paramSize < 0 || paramSize > b.remaining()) throw new TpmTransportException(name() + " response: bad parameterSize " + paramSize);
            byte[] params = new byte[paramSize];
            b.get(params);
            byte[] rpHash = null;
            HashAlg rpAlg = null;
            for (int i = 0; i < sessions.size(); i++) {
                Session s = sessions.get(i);
                byte[] nonce = new byte[b.getShort() & 0xFFFF];
                b.get(nonce);
                int attrs = b.get() & 0xFF;
                byte[] hmac = new byte[b.getShort() & 0xFFFF];
                b.get(hmac);
                if (s instanceof Password) continue;
                s.nonceTpm(nonce);
                if (s.hmacKey() == null) continue;
                if (rpAlg != s.alg()) {
                    rpAlg = s.alg();
                    MessageDigest md = s.alg().newDigest();
                    md.update(SessionCrypto.be32(0));
                    md.update(SessionCrypto.be32(commandCode));
                    md.update(params);
                    rpHash = md.digest();
                }
                byte[] expect = SessionCrypto.hmac(s.alg(), s.hmacKey(), rpHash, nonce, callerNonces.get(i), new byte[]{(byte) attrs});
                if (!MessageDigest.isEqual(expect, hmac)) {
                    throw new TpmTransportException(name() + " response HMAC of session " + (i + 1)
                            + " does not verify (the response was altered on its way, or the session key is wrong)");
                }
            }
            if (b.hasRemaining()) throw new TpmTransportException(name() + " response: " + b.remaining() + " trailing bytes");
            if (encrypt != null) {
                int i = sessions.indexOf(encrypt);
                byte[] plain = cryptFirstParameter(false, encrypt, params, encrypt.nonceTpm(), callerNonces.get(i));
                Arrays.fill(params, (byte) 0);
                params = plain;
            }
            return new Response(rh, params);
        } catch (java.nio.BufferUnderflowException e) {
            throw new TpmTransportException(name() + " response truncated", e);
        }
    }

    /**
     * En-/decrypts the data of the first parameter when it is a TPM2B (Part 1, 21.3: AES-CFB with
     * KDFa(sessionAlg, sessionKey ‖ authValue, "CFB", nonceNewer, nonceOlder, keyBits + blockBits)).
     */
    private byte[] cryptFirstParameter(boolean encrypt, Session s, byte[] params, byte[] nonceNewer, byte[] nonceOlder) {
        if (params.length < 2) throw new TpmTransportException(name() + ": no TPM2B parameter to " + (encrypt ? "encrypt" : "decrypt"));
        int n = ((params[0] & 0xFF) << 8) | (params[1] & 0xFF);
        if (n > params.length - 2) throw new TpmTransportException(name() + ": first parameter overruns the parameter area");
        byte[] key = s.cfbKey();
        if (key == null) throw new IllegalStateException("session without a session key cannot encrypt parameters");
        byte[] km = SessionCrypto.kdfa(s.alg(), key, "CFB", nonceNewer, nonceOlder, CFB_BITS);
        byte[] data = Arrays.copyOfRange(params, 2, 2 + n);
        byte[] out = SessionCrypto.aesCfb(encrypt, Arrays.copyOfRange(km, 0, 16), Arrays.copyOfRange(km, 16, 32), data);
        Arrays.fill(km, (byte) 0);
        Arrays.fill(data, (byte) 0);
        byte[] result = params.clone();
        System.arraycopy(out, 0, result, 2, n);
        Arrays.fill(out, (byte) 0);
        return result;
    }

    private byte[] cpHash(HashAlg alg, byte[] sentParams) {
        MessageDigest md = alg.newDigest();
        md.update(SessionCrypto.be32(commandCode));
        for (byte[] n : names) md.update(n);
        md.update(sentParams);
        return md.digest();
    }

    private byte[] random(int n) {
        byte[] b = new byte[Math.max(16, n)];
        random.nextBytes(b);
        return b;
    }

    private String name() {
        return org.kexecmeasured.tpm.transport.TpmTransport.commandName(commandCode);
    }

    static byte[] sized(byte[] b) {
        byte[] o = new byte[b.length + 2];
        o[0] = (byte) (b.length >>> 8);
        o[1] = (byte) b.length;
        System.arraycopy(b, 0, o, 2, b.length);
        return o;
    }
}
