/**
 * IKEv2 numbers: RFC 7296 and the IANA "Internet Key Exchange Version 2 (IKEv2) Parameters"
 * registry. Encryption and integrity transform IDs are shared with ESP and live in
 * `../crypto/transformIds.ts` (`ENCR`, `INTEG`); everything else IKE-specific is here.
 */

/** RFC 7296 §3.1: the fixed IKE header is 28 octets (two SPIs, five one-octet fields, ID, Length). */
export const IKE_HEADER_LENGTH = 28;
/** RFC 7296 §3.2: Next Payload, C bit + RESERVED, Payload Length. */
export const GENERIC_PAYLOAD_HEADER_LENGTH = 4;
/** RFC 7296 §3.1: "Implementations based on this version of IKE MUST set the major version to 2". */
export const IKE_MAJOR_VERSION = 2;
/** RFC 7296 §3.1: IKE SPIs are 8 octets each. */
export const IKE_SPI_LENGTH = 8;
/** RFC 7296 §3.9: "The size of the Nonce Data MUST be between 16 and 256 octets, inclusive." */
export const NONCE_MIN_LENGTH = 16;
/** RFC 7296 §3.9. */
export const NONCE_MAX_LENGTH = 256;
/** RFC 7296 §2.6: COOKIE notification data "MUST be between 1 and 64 octets in length (inclusive)". */
export const COOKIE_MAX_LENGTH = 64;
/** RFC 7296 §2.15: the 17 ASCII characters of the PSK key pad, no NUL terminator. */
export const KEY_PAD_FOR_IKEV2 = 'Key Pad for IKEv2';

/** RFC 7296 §3.1 Exchange Type. */
export const IKE_EXCHANGE = {
  IKE_SA_INIT: 34,
  IKE_AUTH: 35,
  CREATE_CHILD_SA: 36,
  INFORMATIONAL: 37,
} as const;

/** RFC 7296 §3.1 Flags: `|X|X|R|V|I|X|X|X|`; X bits are sent clear and ignored on receipt. */
export const IKE_FLAG = {
  INITIATOR: 0x08,
  /** V: "MUST clear this bit when sending and MUST ignore it in incoming messages". */
  VERSION: 0x10,
  RESPONSE: 0x20,
} as const;

/** RFC 7296 §3.2 Next Payload types; SKF from RFC 7383 §2.5. */
export const IKE_PAYLOAD = {
  NONE: 0,
  SA: 33,
  KE: 34,
  IDi: 35,
  IDr: 36,
  CERT: 37,
  CERTREQ: 38,
  AUTH: 39,
  NONCE: 40,
  NOTIFY: 41,
  DELETE: 42,
  VENDOR_ID: 43,
  TSi: 44,
  TSr: 45,
  SK: 46,
  CP: 47,
  EAP: 48,
  SKF: 53,
} as const;

/** RFC 7296 §3.2: the C bit is the top bit of the second octet of the generic payload header. */
export const CRITICAL_BIT = 0x80;

/** RFC 7296 §3.3.1 Protocol ID (also used by Notify §3.10 and Delete §3.11). */
export const IKE_PROTOCOL = { IKE: 1, AH: 2, ESP: 3 } as const;

/** RFC 7296 §3.3.2 Transform Type. */
export const TRANSFORM_TYPE = { ENCR: 1, PRF: 2, INTEG: 3, DH: 4, ESN: 5 } as const;

/** RFC 7296 §3.3.1 Last Substruc values: 0 = last; 2 = more proposals; 3 = more transforms. */
export const LAST_SUBSTRUC = { LAST: 0, MORE_PROPOSALS: 2, MORE_TRANSFORMS: 3 } as const;

/** IANA Transform Type 2 (PRF); RFC 7296 §3.3.2, RFC 4868 §2.4 for the SHA-2 PRFs. */
export const PRF_ID = {
  HMAC_SHA1: 2,
  HMAC_SHA2_256: 5,
  HMAC_SHA2_384: 6,
  HMAC_SHA2_512: 7,
} as const;
/** A supported PRF transform ID. */
export type PrfId = (typeof PRF_ID)[keyof typeof PRF_ID];

/** IANA Transform Type 4 (Diffie-Hellman group): RFC 3526 §3 (14), RFC 5903 §3.1 (19), RFC 8031 §2 (31). */
export const DH_GROUP = { NONE: 0, MODP_2048: 14, ECP_256: 19, CURVE25519: 31 } as const;
/** A supported Diffie-Hellman group (not NONE). */
export type DhGroupId = Exclude<(typeof DH_GROUP)[keyof typeof DH_GROUP], 0>;

/** RFC 7296 §3.3.2 Transform Type 5. */
export const ESN_ID = { NONE: 0, ESN: 1 } as const;

/** RFC 7296 §3.3.5: Key Length is attribute type 14, TV format. */
export const TRANSFORM_ATTRIBUTE = { KEY_LENGTH: 14 } as const;
/** RFC 7296 §3.3.5: the AF bit; set = TV (two-octet value), clear = TLV. */
export const ATTRIBUTE_FORMAT_TV = 0x8000;

/** RFC 7296 §3.5 ID Type. */
export const ID_TYPE = {
  IPV4_ADDR: 1,
  FQDN: 2,
  RFC822_ADDR: 3,
  IPV6_ADDR: 5,
  DER_ASN1_DN: 9,
  DER_ASN1_GN: 10,
  KEY_ID: 11,
} as const;

/** RFC 7296 §3.8 Auth Method; 9-11 from RFC 4754, 13 from RFC 7619, 14 from RFC 7427. */
export const AUTH_METHOD = {
  RSA_SIG: 1,
  SHARED_KEY_MIC: 2,
  DSS_SIG: 3,
  ECDSA_256: 9,
  ECDSA_384: 10,
  ECDSA_521: 11,
  NULL: 13,
  DIGITAL_SIGNATURE: 14,
} as const;

/** RFC 7296 §3.6 Certificate Encoding (the ones RFC 7296 specifies). */
export const CERT_ENCODING = {
  X509_SIGNATURE: 4,
  CRL: 7,
  RAW_RSA_KEY: 11,
  HASH_URL_X509: 12,
  HASH_URL_X509_BUNDLE: 13,
} as const;

/** RFC 7296 §3.13.1 TS Type. */
export const TS_TYPE = { IPV4_ADDR_RANGE: 7, IPV6_ADDR_RANGE: 8 } as const;

/** RFC 7296 §3.15 CFG Type. */
export const CFG_TYPE = { REQUEST: 1, REPLY: 2, SET: 3, ACK: 4 } as const;

/** RFC 7296 §3.15.1 Configuration Attribute types. */
export const CFG_ATTRIBUTE = {
  INTERNAL_IP4_ADDRESS: 1,
  INTERNAL_IP4_NETMASK: 2,
  INTERNAL_IP4_DNS: 3,
  INTERNAL_IP4_NBNS: 4,
  INTERNAL_IP4_DHCP: 6,
  APPLICATION_VERSION: 7,
  INTERNAL_IP6_ADDRESS: 8,
  INTERNAL_IP6_DNS: 10,
  INTERNAL_IP6_DHCP: 12,
  INTERNAL_IP4_SUBNET: 13,
  SUPPORTED_ATTRIBUTES: 14,
  INTERNAL_IP6_SUBNET: 15,
} as const;

/**
 * RFC 7296 §3.10.1 Notify Message Types (error types 0-16383, status types from 16384);
 * IKEV2_FRAGMENTATION_SUPPORTED from RFC 7383 §2.3, SIGNATURE_HASH_ALGORITHMS from RFC 7427 §4.
 */
export const NOTIFY_TYPE = {
  UNSUPPORTED_CRITICAL_PAYLOAD: 1,
  INVALID_IKE_SPI: 4,
  INVALID_MAJOR_VERSION: 5,
  INVALID_SYNTAX: 7,
  INVALID_MESSAGE_ID: 9,
  INVALID_SPI: 11,
  NO_PROPOSAL_CHOSEN: 14,
  INVALID_KE_PAYLOAD: 17,
  AUTHENTICATION_FAILED: 24,
  SINGLE_PAIR_REQUIRED: 34,
  NO_ADDITIONAL_SAS: 35,
  INTERNAL_ADDRESS_FAILURE: 36,
  FAILED_CP_REQUIRED: 37,
  TS_UNACCEPTABLE: 38,
  INVALID_SELECTORS: 39,
  TEMPORARY_FAILURE: 43,
  CHILD_SA_NOT_FOUND: 44,
  INITIAL_CONTACT: 16384,
  SET_WINDOW_SIZE: 16385,
  ADDITIONAL_TS_POSSIBLE: 16386,
  IPCOMP_SUPPORTED: 16387,
  NAT_DETECTION_SOURCE_IP: 16388,
  NAT_DETECTION_DESTINATION_IP: 16389,
  COOKIE: 16390,
  USE_TRANSPORT_MODE: 16391,
  HTTP_CERT_LOOKUP_SUPPORTED: 16392,
  REKEY_SA: 16393,
  ESP_TFC_PADDING_NOT_SUPPORTED: 16394,
  NON_FIRST_FRAGMENTS_ALSO: 16395,
  MOBIKE_SUPPORTED: 16396,
  IKEV2_FRAGMENTATION_SUPPORTED: 16430,
  SIGNATURE_HASH_ALGORITHMS: 16431,
} as const;

/** RFC 7296 §3.10.1: "Types in the range 0 - 16383 are intended for reporting errors." */
export const NOTIFY_ERROR_MAX = 16383;

/**
 * True for a Notify type in the error range (RFC 7296 §3.10.1: an unrecognized error type in a
 * response means the request failed; in a request it is ignored).
 *
 * @example
 * isNotifyError(NOTIFY_TYPE.NO_PROPOSAL_CHOSEN) // true
 */
export function isNotifyError(notifyType: number): boolean {
  return notifyType <= NOTIFY_ERROR_MAX;
}

const NOTIFY_NAMES = new Map<number, string>(Object.entries(NOTIFY_TYPE).map(([name, n]) => [n, name]));

/**
 * The registry name of a Notify type, or `NOTIFY(<n>)` for one this table lacks (for logs).
 *
 * @example
 * notifyTypeName(16390) // 'COOKIE'
 */
export function notifyTypeName(notifyType: number): string {
  return NOTIFY_NAMES.get(notifyType) ?? `NOTIFY(${notifyType})`;
}
