package org.kexecmeasured.tpm.testing;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.util.Arrays;
import java.util.List;

/**
 * Gives each test class a fresh swtpm (own state, own free loopback ports) and injects it as a
 * {@link Swtpm} parameter into constructors, {@code @BeforeAll}/{@code @BeforeEach} and test methods.
 * The swtpm is stopped and its state deleted after the class, also when tests fail (and by a
 * shutdown hook if the JVM dies).
 *
 * <pre>
 * &#64;ExtendWith(SwtpmExtension.class) &#64;SwtpmExtension.Banks({"sha1", "sha256"})
 * class MyTest { &#64;Test void t(Swtpm swtpm) { try (Tpm tpm = swtpm.open()) { … } } }
 *
 * // or, without annotations:
 * &#64;RegisterExtension static SwtpmExtension SWTPM = SwtpmExtension.withBanks("sha256");
 * … SWTPM.swtpm().tcti() …
 * </pre>
 */
public final class SwtpmExtension implements BeforeAllCallback, AfterAllCallback, ParameterResolver {
    /** PCR banks to activate (default sha256, as swtpm_setup). */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    public @interface Banks {
        String[] value();
    }

    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(SwtpmExtension.class);
    private final List<String> banks;
    private Swtpm current;

    public SwtpmExtension() {
        this.banks = null;
    }

    private SwtpmExtension(List<String> banks) {
        this.banks = banks;
    }

    public static SwtpmExtension withBanks(String... banks) {
        return new SwtpmExtension(List.of(banks));
    }

    /** The swtpm of the running class (for @RegisterExtension users). */
    public Swtpm swtpm() {
        if (current == null) throw new IllegalStateException("swtpm not started yet (use a static @RegisterExtension field)");
        return current;
    }

    @Override
    public void beforeAll(ExtensionContext ctx) {
        List<String> b = banks;
        if (b == null) {
            Banks ann = ctx.getRequiredTestClass().getAnnotation(Banks.class);
            b = ann != null ? Arrays.asList(ann.value()) : List.of("sha256");
        }
        Swtpm s = Swtpm.start(b);
        current = s;
        // the store closes AutoCloseable values when the class context ends, even after failures
        ctx.getStore(NS).put(Swtpm.class, s);
    }

    @Override
    public void afterAll(ExtensionContext ctx) {
        Swtpm s = ctx.getStore(NS).remove(Swtpm.class, Swtpm.class);
        if (s != null) s.close();
        current = null;
    }

    @Override
    public boolean supportsParameter(ParameterContext pc, ExtensionContext ec) {
        return pc.getParameter().getType() == Swtpm.class;
    }

    @Override
    public Object resolveParameter(ParameterContext pc, ExtensionContext ec) {
        Swtpm s = ec.getStore(NS).get(Swtpm.class, Swtpm.class);
        if (s == null) throw new IllegalStateException("no swtpm for " + ec.getRequiredTestClass().getName());
        return s;
    }
}
