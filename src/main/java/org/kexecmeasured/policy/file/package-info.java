/**
 * The policy file: {@link org.kexecmeasured.policy.file.PolicyParser} reads YAML (SnakeYAML's node
 * tree, so every error names file, line and key path) into the typed
 * {@link org.kexecmeasured.policy.file.PolicyFile}; its identity is the SHA-256 of the file's bytes,
 * which the kexec boundary event records. The JSON Schema and commented examples are in the
 * top-level {@code policy/} folder.
 */
package org.kexecmeasured.policy.file;
