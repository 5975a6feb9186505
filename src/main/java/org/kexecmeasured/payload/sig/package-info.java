/**
 * Authenticode signatures embedded in PE/COFF images, judged as the firmware judges them.
 *
 * <p>The reference is EDK2's image verification (SecurityPkg DxeImageVerificationLib, CryptoPkg
 * AuthenticodeVerify and Pkcs7Verify over OpenSSL), not a general CMS library: a blob is parsed
 * whole and strictly first ({@link org.kexecmeasured.payload.sig.AuthenticodePkcs7}: one DER object,
 * outer signedData, SpcIndirectDataContent, certificate names as d2i_X509 takes them), so damage is
 * bad input named by WIN_CERTIFICATE and never a half-parsed object failing later; then
 * {@link org.kexecmeasured.payload.sig.AuthenticodeSignatures} checks each entry: the hash algorithm
 * EDK2 picks (the OID at byte 32), the signed digest against the computed Authenticode digest, every
 * SignerInfo's signature as PKCS7_signatureVerify checks it, and the chain to the given anchors
 * (any certificate may be the anchor, no validity dates, issuers must be CAs).
 *
 * <p>Where this is stricter than EDK2 it is on purpose and tested against OpenSSL as the oracle
 * (SignatureMutationTest): the whole blob must be DER, including unsigned attributes EDK2 keeps
 * opaque, and wRevision must be 0x0200. Nothing EDK2 or OpenSSL rejects is accepted here.
 */
package org.kexecmeasured.payload.sig;
