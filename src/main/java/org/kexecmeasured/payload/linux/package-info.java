/**
 * Linux kernel image formats a payload may carry or be: the x86 bzImage setup header (boot protocol,
 * handover and kernel_info), the arm64 Image header, EFI zboot images, and the compression a payload uses
 * ({@link org.kexecmeasured.payload.linux.Magic}).
 */
package org.kexecmeasured.payload.linux;
