package org.kexecmeasured.policy.engine;

import org.kexecmeasured.policy.file.PolicyFile.Intent;

import java.util.List;

/**
 * The verdict on one secret, with the reason in words, per route as well.
 *
 * @param meetsIntent the verdict is what the policy's {@code must-remain} asks ("any" always is)
 */
public record SecretVerdict(String name, String source, Intent intent, Verdict verdict, String reason,
                            List<RouteVerdict> routes, List<String> notes, boolean meetsIntent) {

    /** One route (token, pin, object) and the moments of the next boot at which it unseals. */
    public record RouteVerdict(String route, Verdict verdict, String reason, List<String> reachableAt, List<String> notes) {
    }

    public SecretVerdict {
        routes = List.copyOf(routes);
        notes = List.copyOf(notes);
    }
}
