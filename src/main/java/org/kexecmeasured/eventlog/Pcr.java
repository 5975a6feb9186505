package org.kexecmeasured.eventlog;

/**
 * PCR indices by role, named as the Linux TPM PCR Registry (UAPI group) and systemd name them.
 * Code uses these names instead of bare numbers; the roles are those of the TCG PC Client
 * Platform Firmware Profile for PCRs 0–7 and the OS conventions for 8–15.
 */
public final class Pcr {
    /** SRTM, firmware code, embedded option ROMs. */
    public static final int PLATFORM_CODE = 0;
    /** Platform configuration: Boot####, BootOrder, SMBIOS. */
    public static final int PLATFORM_CONFIG = 1;
    /** UEFI drivers and applications from option ROMs. */
    public static final int EXTERNAL_CODE = 2;
    public static final int EXTERNAL_CONFIG = 3;
    /** Boot manager code: "Calling EFI Application", every LoadImage'd application. */
    public static final int BOOT_LOADER_CODE = 4;
    /** Boot manager configuration: GPT, ExitBootServices actions, loader.conf. */
    public static final int BOOT_LOADER_CONFIG = 5;
    public static final int HOST_PLATFORM = 6;
    /** Secure Boot policy: SecureBoot, PK, KEK, db, dbx, authorities, shim's SbatLevel. */
    public static final int SECURE_BOOT_POLICY = 7;
    /** GRUB commands and kernel command line (older systemd-stub too). */
    public static final int KERNEL_CMDLINE_GRUB = 8;
    /** Linux EFI stub: initrd and LoadOptions; GRUB's files. */
    public static final int KERNEL_INITRD = 9;
    /** IMA. */
    public static final int IMA = 10;
    /** systemd-stub: UKI sections; systemd boot phases. */
    public static final int KERNEL_BOOT = 11;
    /** systemd-stub / systemd-boot: command line, credentials, addons, confexts. */
    public static final int KERNEL_CONFIG = 12;
    /** systemd-stub: system extension images. */
    public static final int SYSEXTS = 13;
    /** shim: MokList, MokListX, MokListTrusted. */
    public static final int SHIM_POLICY = 14;
    /** machine-id, file-system identity, volume keys. */
    public static final int SYSTEM_IDENTITY = 15;
    /** Resettable debug PCR. */
    public static final int DEBUG = 16;
    /** Resettable application PCR. */
    public static final int APPLICATION_SUPPORT = 23;

    private Pcr() {
    }
}
