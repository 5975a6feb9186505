/**
 * The command line: one class per subcommand, which declares its picocli model in a static {@code model(…)} method
 * next to its fields through picocli's programmatic API ({@link org.kexecmeasured.cli.CliModel}: no annotation is
 * read at run time; shared option groups — {@code PayloadOptions}, {@code EventlogInput}, {@code ExpectedPcrs},
 * {@code TpmCommand.TctiOption} — add theirs once), registered lazily in
 * {@link org.kexecmeasured.cli.Main}, which also maps exceptions to the documented exit codes (0 ok,
 * 1 a check failed, 2 bad input, 3 refused by policy, 4 stopped after the TPM was changed, 70 internal).
 * What a command needs from outside (the TPM opener, the kexec system calls) comes through
 * {@link org.kexecmeasured.cli.Services}; the commands hold no logic of their own beyond options and output.
 */
package org.kexecmeasured.cli;
