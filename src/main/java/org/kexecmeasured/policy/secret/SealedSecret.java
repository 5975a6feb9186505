package org.kexecmeasured.policy.secret;

import java.util.List;

/**
 * A secret named in the policy, as read from its source: every route that can unseal it (a LUKS2
 * header with several TPM tokens has several). The secret stays reachable if any route does.
 */
public record SealedSecret(String name, String source, List<UnlockRoute> routes, List<String> notes) {
    public SealedSecret {
        routes = List.copyOf(routes);
        notes = List.copyOf(notes);
    }
}
