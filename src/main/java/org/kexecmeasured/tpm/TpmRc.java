package org.kexecmeasured.tpm;

import java.util.HashMap;
import java.util.Map;

/**
 * Decodes a TPM 2.0 response code (TPM 2.0 Part 2, TPM_RC) into its name and, for format-1 codes,
 * the handle, session or parameter the TPM complained about.
 */
public final class TpmRc {
    public static final int SUCCESS = 0;
    public static final int RC_VER1 = 0x100;
    public static final int RC_FMT1 = 0x080;
    public static final int RC_WARN = 0x900;

    // format-1 error numbers (rc & 0x3F)
    public static final int POLICY_FAIL = 0x1D;
    public static final int VALUE = 0x04;
    public static final int SIGNATURE = 0x1B;
    public static final int AUTH_FAIL = 0x0E;
    public static final int BAD_AUTH = 0x22;

    private static final Map<Integer, String[]> FMT0 = new HashMap<>();
    private static final Map<Integer, String[]> FMT1 = new HashMap<>();
    private static final Map<Integer, String[]> WARN = new HashMap<>();

    private static void f0(int n, String name, String text) {
        FMT0.put(n, new String[]{name, text});
    }

    private static void f1(int n, String name, String text) {
        FMT1.put(n, new String[]{name, text});
    }

    private static void w(int n, String name, String text) {
        WARN.put(n, new String[]{name, text});
    }

    static {
        f0(0x000, "TPM_RC_INITIALIZE", "TPM not initialized by TPM2_Startup or already initialized");
        f0(0x001, "TPM_RC_FAILURE", "commands not being accepted because of a TPM failure");
        f0(0x003, "TPM_RC_SEQUENCE", "improper use of a sequence handle");
        f0(0x00B, "TPM_RC_PRIVATE", "not currently used");
        f0(0x019, "TPM_RC_HMAC", "not currently used");
        f0(0x020, "TPM_RC_DISABLED", "the command is disabled");
        f0(0x021, "TPM_RC_EXCLUSIVE", "command failed because audit sequence required exclusivity");
        f0(0x024, "TPM_RC_AUTH_TYPE", "authorization handle is not correct for command");
        f0(0x025, "TPM_RC_AUTH_MISSING", "command requires an authorization session for handle and it is not present");
        f0(0x026, "TPM_RC_POLICY", "policy failure in math operation or an invalid authPolicy value");
        f0(0x027, "TPM_RC_PCR", "PCR check fail");
        f0(0x028, "TPM_RC_PCR_CHANGED", "PCR have changed since checked");
        f0(0x02D, "TPM_RC_UPGRADE", "TPM is in field upgrade mode");
        f0(0x02E, "TPM_RC_TOO_MANY_CONTEXTS", "context ID counter is at maximum");
        f0(0x02F, "TPM_RC_AUTH_UNAVAILABLE", "authValue or authPolicy is not available for selected entity");
        f0(0x030, "TPM_RC_REBOOT", "a _TPM_Init and Startup(CLEAR) is required before the TPM can resume operation");
        f0(0x031, "TPM_RC_UNBALANCED", "the protection algorithms (hash and symmetric) are not reasonably balanced");
        f0(0x042, "TPM_RC_COMMAND_SIZE", "command commandSize value is inconsistent with contents of the command buffer");
        f0(0x043, "TPM_RC_COMMAND_CODE", "command code not supported");
        f0(0x044, "TPM_RC_AUTHSIZE", "the value of authorizationSize is out of range or the number of octets in the Authorization Area is greater than required");
        f0(0x045, "TPM_RC_AUTH_CONTEXT", "use of an authorization session with a context command or another command that cannot have an authorization session");
        f0(0x046, "TPM_RC_NV_RANGE", "NV offset+size is out of range");
        f0(0x047, "TPM_RC_NV_SIZE", "requested allocation size is larger than allowed");
        f0(0x048, "TPM_RC_NV_LOCKED", "NV access locked");
        f0(0x049, "TPM_RC_NV_AUTHORIZATION", "NV access authorization fails in command actions");
        f0(0x04A, "TPM_RC_NV_UNINITIALIZED", "an NV Index is used before being initialized or the state saved by TPM2_Shutdown(STATE) could not be restored");
        f0(0x04B, "TPM_RC_NV_SPACE", "insufficient space for NV allocation");
        f0(0x04C, "TPM_RC_NV_DEFINED", "NV Index or persistent object already defined");
        f0(0x050, "TPM_RC_BAD_CONTEXT", "context in TPM2_ContextLoad is not valid");
        f0(0x051, "TPM_RC_CPHASH", "cpHash value already set or not correct for use");
        f0(0x052, "TPM_RC_PARENT", "handle for parent is not a valid parent");
        f0(0x053, "TPM_RC_NEEDS_TEST", "some function needs testing");
        f0(0x054, "TPM_RC_NO_RESULT", "an internal function cannot process a request due to an unspecified problem");
        f0(0x055, "TPM_RC_SENSITIVE", "the sensitive area did not unmarshal correctly after decryption");

        f1(0x01, "TPM_RC_ASYMMETRIC", "asymmetric algorithm not supported or not correct");
        f1(0x02, "TPM_RC_ATTRIBUTES", "inconsistent attributes");
        f1(0x03, "TPM_RC_HASH", "hash algorithm not supported or not appropriate");
        f1(0x04, "TPM_RC_VALUE", "value is out of range or is not correct for the context");
        f1(0x05, "TPM_RC_HIERARCHY", "hierarchy is not enabled or is not correct for the use");
        f1(0x07, "TPM_RC_KEY_SIZE", "key size is not supported");
        f1(0x08, "TPM_RC_MGF", "mask generation function not supported");
        f1(0x09, "TPM_RC_MODE", "mode of operation not supported");
        f1(0x0A, "TPM_RC_TYPE", "the type of the value is not appropriate for the use");
        f1(0x0B, "TPM_RC_HANDLE", "the handle is not correct for the use");
        f1(0x0C, "TPM_RC_KDF", "unsupported key derivation function or function not appropriate for use");
        f1(0x0D, "TPM_RC_RANGE", "value was out of allowed range");
        f1(0x0E, "TPM_RC_AUTH_FAIL", "the authorization HMAC check failed and DA counter incremented");
        f1(0x0F, "TPM_RC_NONCE", "invalid nonce size or nonce value mismatch");
        f1(0x10, "TPM_RC_PP", "authorization requires assertion of PP");
        f1(0x12, "TPM_RC_SCHEME", "unsupported or incompatible scheme");
        f1(0x15, "TPM_RC_SIZE", "structure is the wrong size");
        f1(0x16, "TPM_RC_SYMMETRIC", "unsupported symmetric algorithm or key size, or not appropriate for instance");
        f1(0x17, "TPM_RC_TAG", "incorrect structure tag");
        f1(0x18, "TPM_RC_SELECTOR", "union selector is incorrect");
        f1(0x1A, "TPM_RC_INSUFFICIENT", "the TPM was unable to unmarshal a value because there were not enough octets in the input buffer");
        f1(0x1B, "TPM_RC_SIGNATURE", "the signature is not valid");
        f1(0x1C, "TPM_RC_KEY", "key fields are not compatible with the selected use");
        f1(0x1D, "TPM_RC_POLICY_FAIL", "a policy check failed: the policy session digest does not match the object's authPolicy (e.g. PCR values changed since sealing)");
        f1(0x1F, "TPM_RC_INTEGRITY", "integrity check failed");
        f1(0x20, "TPM_RC_TICKET", "invalid ticket");
        f1(0x21, "TPM_RC_RESERVED_BITS", "reserved bits not set to zero as required");
        f1(0x22, "TPM_RC_BAD_AUTH", "authorization failure without DA implications");
        f1(0x23, "TPM_RC_EXPIRED", "the policy has expired");
        f1(0x24, "TPM_RC_POLICY_CC", "the commandCode in the policy is not the commandCode of the command or the command code in a policy command references a command that is not implemented");
        f1(0x25, "TPM_RC_BINDING", "public and sensitive portions of an object are not cryptographically bound");
        f1(0x26, "TPM_RC_CURVE", "curve not supported");
        f1(0x27, "TPM_RC_ECC_POINT", "point is not on the required curve");
        f1(0x28, "TPM_RC_FW_LIMITED", "the hierarchy is firmware-limited");
        f1(0x29, "TPM_RC_SVN_LIMITED", "the hierarchy is SVN-limited");

        w(0x001, "TPM_RC_CONTEXT_GAP", "gap for context ID is too large");
        w(0x002, "TPM_RC_OBJECT_MEMORY", "out of memory for object contexts");
        w(0x003, "TPM_RC_SESSION_MEMORY", "out of memory for session contexts");
        w(0x004, "TPM_RC_MEMORY", "out of shared object/session memory or need space for internal operations");
        w(0x005, "TPM_RC_SESSION_HANDLES", "out of session handles; a session must be flushed before a new session may be created");
        w(0x006, "TPM_RC_OBJECT_HANDLES", "out of object handles; a reboot or a flush is required");
        w(0x007, "TPM_RC_LOCALITY", "bad locality");
        w(0x008, "TPM_RC_YIELDED", "the TPM has suspended operation on the command");
        w(0x009, "TPM_RC_CANCELED", "the command was canceled");
        w(0x00A, "TPM_RC_TESTING", "TPM is performing self-tests");
        for (int i = 0; i <= 6; i++) {
            w(0x010 + i, "TPM_RC_REFERENCE_H" + i, "the " + ordinal(i) + " handle in the handle area references a transient object or session that is not loaded");
            w(0x018 + i, "TPM_RC_REFERENCE_S" + i, "the " + ordinal(i) + " authorization session handle references a session that is not loaded");
        }
        w(0x020, "TPM_RC_NV_RATE", "the TPM is rate-limiting accesses to prevent wearout of NV");
        w(0x021, "TPM_RC_LOCKOUT", "authorizations for objects subject to DA protection are not allowed at this time because the TPM is in DA lockout mode");
        w(0x022, "TPM_RC_RETRY", "the TPM was not able to start the command");
        w(0x023, "TPM_RC_NV_UNAVAILABLE", "the command may require writing of NV and NV is not current accessible");
        w(0x07F, "TPM_RC_NOT_USED", "this value is reserved and shall not be returned by the TPM");
    }

    private static String ordinal(int i) {
        return switch (i) {
            case 0 -> "1st";
            case 1 -> "2nd";
            case 2 -> "3rd";
            default -> (i + 1) + "th";
        };
    }

    /** Where a format-1 error points. */
    public enum Subject { NONE, HANDLE, SESSION, PARAMETER }

    private final int raw;
    private final String name;
    private final String text;
    private final Subject subject;
    private final int index;
    private final int base;

    private TpmRc(int raw) {
        this.raw = raw;
        String[] nt;
        if ((raw & RC_FMT1) != 0) {
            int e = raw & 0x3F;
            base = RC_FMT1 | e;
            nt = FMT1.get(e);
            int n = (raw >>> 8) & 0xF;
            if ((raw & 0x40) != 0) {
                subject = Subject.PARAMETER;
                index = n;
            } else if ((n & 0x8) != 0) {
                subject = Subject.SESSION;
                index = n & 0x7;
            } else {
                subject = n == 0 ? Subject.NONE : Subject.HANDLE;
                index = n;
            }
        } else {
            subject = Subject.NONE;
            index = 0;
            if ((raw & 0xF00) == RC_WARN) {
                base = raw & 0xFFF;
                nt = WARN.get(raw & 0x7F);
            } else if ((raw & RC_VER1) != 0 && (raw & 0x400) == 0) {
                base = raw & 0xFFF;
                nt = FMT0.get(raw & 0x7F);
            } else if ((raw & 0x400) != 0) {
                base = raw;
                nt = new String[]{"TPM_RC_VENDOR(0x" + Integer.toHexString(raw) + ")", "vendor-defined response code"};
            } else {
                base = raw;
                nt = raw == 0 ? new String[]{"TPM_RC_SUCCESS", "success"}
                        : new String[]{"TPM 1.2 response code 0x" + Integer.toHexString(raw), "not a TPM 2.0 response"};
            }
        }
        if (nt == null) nt = new String[]{"TPM_RC_0x" + Integer.toHexString(base), "unknown response code"};
        this.name = nt[0];
        this.text = nt[1];
    }

    public static TpmRc decode(int raw) {
        return new TpmRc(raw);
    }

    public int raw() {
        return raw;
    }

    /** The code without handle/session/parameter number (e.g. 0x09D → 0x09D, 0x99D → 0x09D). */
    public int base() {
        return base;
    }

    public String name() {
        return name;
    }

    public String text() {
        return text;
    }

    public Subject subject() {
        return subject;
    }

    /** 1-based handle/session/parameter number, 0 when none. */
    public int index() {
        return index;
    }

    public boolean isFormat1(int errorNumber) {
        return (raw & RC_FMT1) != 0 && (raw & 0x3F) == errorNumber;
    }

    /** E.g. "TPM_RC_POLICY_FAIL (0x99d) on session 1: a policy check failed …". */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(name).append(" (0x").append(Integer.toHexString(raw)).append(')');
        switch (subject) {
            case HANDLE -> sb.append(" on handle ").append(index);
            case SESSION -> sb.append(" on session ").append(index);
            case PARAMETER -> sb.append(" on parameter ").append(index);
            default -> { }
        }
        return sb.append(": ").append(text).toString();
    }
}
