// TLS settings for the listener: Mozilla's "intermediate" profile (TLS 1.2 and 1.3,
// forward-secret ECDHE key exchange with AEAD ciphers only). TLS 1.3 suites are all AEAD
// and fixed by the TLS library; this list picks the TLS 1.2 ones.

import { constants } from "node:crypto";

/** TLS 1.2 suites: ECDHE key exchange, AES-GCM or ChaCha20-Poly1305. No RSA key exchange, no CBC, no SHA-1 MACs. */
export const TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/** Minimum TLS 1.2: SSLv3, TLS 1.0 and 1.1 are switched off. */
export const TLS_SECURE_OPTIONS =
  constants.SSL_OP_NO_SSLv3 | constants.SSL_OP_NO_TLSv1 | constants.SSL_OP_NO_TLSv1_1;

export function serverTls(t: { cert: string; key: string }) {
  return { cert: t.cert, key: t.key, ciphers: TLS12_CIPHERS, secureOptions: TLS_SECURE_OPTIONS };
}
