/**
 * Unified kernel images (UAPI UKI specification): the sections systemd-stub measures, the stub's version
 * and profiles, and the PCR 11 value the stub will produce, computed as systemd-measure does.
 */
package org.kexecmeasured.payload.uki;
