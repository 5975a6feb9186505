/**
 * PE/COFF as the UEFI loader and Authenticode read it (Microsoft PE/COFF specification): headers, sections,
 * data directories, base relocations, and the Authenticode digest (the file hashed without the checksum,
 * the certificate-table entry and the certificate table), each length checked against the file before use.
 */
package org.kexecmeasured.payload.pe;
