/**
 * The measured boot: what happens between "run this payload" and the kexec hand-over, as a plan that
 * touches nothing and a commit that is the only TPM write. {@link org.kexecmeasured.boot.MeasuredBoot}
 * is the flow, top to bottom:
 *
 * <pre>
 *   Locks (state dir, TPM) → checkStateDir → plan (readFirmwareLog → readPcrs → Planner) → decide (Decider)
 *     → Sidecar.from(plan) → checkOutputs → load (Loader, reversible) → commit (Commit, through ExtendPipeline)
 *     → writeOutputs → archive (Generations)
 * </pre>
 *
 * <ul>
 *   <li>{@link org.kexecmeasured.boot.Planner} runs the payload in the emulator ({@link
 *       org.kexecmeasured.boot.ChainMeasurer} turns what happens there into {@link
 *       org.kexecmeasured.boot.Measurement}s) and produces an immutable {@link
 *       org.kexecmeasured.boot.Plan}: the records in order with their disposition (extend, log only,
 *       side record), the predicted PCRs of every bank and the predicted continued log. Its TPM use is
 *       read-only (TPM2_GetCapability, one TPM2_PCR_Read batch, TPM2_GetRandom for the boundary nonce),
 *       through a {@link org.kexecmeasured.tpm.PcrReader}: a live TPM or an offline {@link
 *       org.kexecmeasured.tpm.PcrSnapshot}. {@link org.kexecmeasured.boot.MeasuredBoot#plan} alone is
 *       the coming {@code predict}.</li>
 *   <li>A {@link org.kexecmeasured.boot.Decider} allows or refuses the plan ({@link
 *       org.kexecmeasured.boot.Decider#builtin} allows every payload but refuses PCRs the firmware log does
 *       not explain unless tolerated; the policy engine implements it from policy files). A refusal is a {@link org.kexecmeasured.boot.RefusedException} (exit 3): nothing was
 *       loaded or extended. Its {@link org.kexecmeasured.boot.Decision} may add files to the sidecar.</li>
 *   <li>{@link org.kexecmeasured.boot.Sidecar#from} computes the continued log, CEL-JSON, side record
 *       ({@link org.kexecmeasured.boot.SideRecord}) and manifest ({@link org.kexecmeasured.boot.Manifest})
 *       from the plan alone, because the kexec load comes before the commit.</li>
 *   <li>A {@link org.kexecmeasured.boot.Loader} loads the kernel (the kexec package implements it;
 *       {@link org.kexecmeasured.boot.Loader#NONE} is {@code --no-load}); a failed commit unloads it.</li>
 *   <li>{@link org.kexecmeasured.boot.Commit} refuses a stale plan ({@link
 *       org.kexecmeasured.boot.StalePlanException}, exit 2: the boundary-set PCRs no longer hold the
 *       values the plan started from), copies the firmware log beside the journal, then runs every
 *       record through the {@link org.kexecmeasured.boot.ExtendPipeline}: {@link
 *       org.kexecmeasured.boot.Journal} intent → one TPM2_PCR_Extend with every active bank → journal
 *       done → log, and reads the PCRs back against the prediction. A failure after an extend may have
 *       reached the TPM is a {@link org.kexecmeasured.boot.TpmChangedException} (exit 4).</li>
 *   <li>{@link org.kexecmeasured.boot.Locks}: the state directory's lock and the TPM's machine-wide
 *       lock, held from the PCR read to the end (a second writer waits a bounded time, then is
 *       refused). {@link org.kexecmeasured.boot.Generations} archives a finished boot's journal so the
 *       next boot with the same state directory starts clean.</li>
 *   <li>{@link org.kexecmeasured.boot.JournalRecovery} explains an interrupted run from the journal and
 *       the live PCRs, completes it through the same {@code ExtendPipeline} (there is one TPM-write
 *       path) and rebuilds the whole continued log from the journal and the firmware log's copy.</li>
 * </ul>
 *
 * <p>What a boot forces to disk, and why each is needed (the guarantees: a crash of any part never costs
 * the log; the log and the TPM never disagree silently). One {@code boot --no-load} of a UKI with 19
 * extends forces 54 times (strace: 39 fdatasync, 15 fsync, 7 ms in all here; 59 before this session, 36 while
 * done/logged lines waited for the next intent):
 * <ul>
 *   <li>before the first extend: the firmware log's copy (its bytes, then {@code STATE} for its rename) and
 *       {@code STATE} again for the journal's new entry, so recovery always finds both;</li>
 *   <li>one fdatasync per journal line when it is written: each intent before its extend is sent
 *       (write-ahead), each {@code done}/{@code logged} line too, so a power cut can only cut the journal's
 *       tail (left to the next intent, a file system that persists appended pages out of order could leave a
 *       journal damaged in the middle, which no recovery completes); only the header waits for the first
 *       intent (see {@link org.kexecmeasured.boot.Journal}'s forcing rule and JournalTest);</li>
 *   <li>the outputs: each file's bytes before its rename (never a torn or empty output), then each
 *       directory once, not once per file ({@code AtomicFiles.writeAll});</li>
 *   <li>the archive: {@code finished} (appended after the bytes the commit wrote, checked by size and
 *       SHA-256, without parsing the journal again), the log's copy, then the generation's directory,
 *       {@code generations/} when the generation is new, and {@code STATE} last (the journal leaves it
 *       last).</li>
 * </ul>
 * The TPM is read three times: the plan's 24 PCRs of every bank (the predictions start there), the
 * boundary set again before the first extend (nothing moved them since the plan: else a stale plan,
 * nothing extended) and after the last (nothing else extended them during the commit: else exit 4) —
 * each at the TPM's minimum of commands (eight digests per TPM2_PCR_Read).
 *
 * <p>The formats written here (boundary event, journal, side record, manifest, sidecar tree) are
 * specified in the repository's {@code tcg2/} folder. The TCG2 protocol the payload calls is not here:
 * it is {@code uefi.protocol.Tcg2Protocol}, which hands each measurement to the {@code Measurer} this
 * package provides. The boot path depends on {@link org.kexecmeasured.tpm.PcrTpm} only, never on the
 * sealing part of a TPM.
 */
package org.kexecmeasured.boot;
