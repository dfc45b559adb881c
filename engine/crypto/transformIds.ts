/**
 * IKEv2 transform IDs (IANA "Internet Key Exchange Version 2 (IKEv2) Parameters",
 * Transform Type 1 and 3; RFC 7296 §3.3.2). Suites are registered by these numbers so an
 * IKE proposal maps straight onto an ESP/AH transform.
 */
export const ENCR = {
  /** RFC 2410: no confidentiality; needs integrity. */
  NULL: 11,
  /** RFC 3602 */
  AES_CBC: 12,
  /** RFC 3686 */
  AES_CTR: 13,
  /** RFC 4106, 16-octet ICV */
  AES_GCM_16: 20,
  /** RFC 4543: integrity only, payload in the clear */
  NULL_AUTH_AES_GMAC: 21,
  /** RFC 7634 */
  CHACHA20_POLY1305: 28,
} as const;
export type EncrId = (typeof ENCR)[keyof typeof ENCR];

export const INTEG = {
  NONE: 0,
  /** RFC 2403 */
  HMAC_MD5_96: 1,
  /** RFC 2404 */
  HMAC_SHA1_96: 2,
  /** RFC 4868 */
  HMAC_SHA2_256_128: 12,
  HMAC_SHA2_384_192: 13,
  HMAC_SHA2_512_256: 14,
} as const;
export type IntegId = (typeof INTEG)[keyof typeof INTEG];
