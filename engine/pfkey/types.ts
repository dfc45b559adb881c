/**
 * Typed PF_KEY v2 messages: one discriminated union over `type`, whose `ext` holds only the
 * extensions that message may carry (RFC 2367 §3.1 request and reply forms, widened by what
 * Linux af_key.c sends and accepts for the KAME `SADB_X_*` messages and extensions).
 *
 * Reserved fields are not modelled: they are written as zero and ignored on input, as
 * af_key.c does — except `sadb_msg_reserved`, which Linux fills with a policy refcount in
 * SPD replies and requires to be 0 in requests, so it is kept (`reserved`, omitted when 0).
 */

import type { PfKeyMsgType } from './constants.js';

/** An IPv4 or IPv6 socket address as it sits inside an address extension (RFC 2367 §2.3.4). */
export type SockAddr =
  | { family: 'inet'; /** 4 octets */ address: Uint8Array; port: number }
  | {
      family: 'inet6';
      /** 16 octets */
      address: Uint8Array;
      port: number;
      /** `sin6_flowinfo`; omitted when 0. */
      flowinfo?: number;
      /** `sin6_scope_id`; omitted when 0. */
      scopeId?: number;
    };

/** `struct sadb_sa` (RFC 2367 §2.3.1). `spi` is the SPI as a number (network order on the wire). */
export interface SaExt {
  spi: number;
  replay: number;
  state: number;
  auth: number;
  encrypt: number;
  flags: number;
}

/** `struct sadb_lifetime` (RFC 2367 §2.3.2). Times are seconds. */
export interface LifetimeExt {
  allocations: number;
  bytes: bigint;
  addtime: bigint;
  usetime: bigint;
}

/** `struct sadb_address` + sockaddr (RFC 2367 §2.3.4); also `SADB_X_EXT_NAT_T_OA`. */
export interface AddressExt {
  /** Upper-layer protocol, `IPSEC_ULPROTO_ANY` (255) or 0 for any. */
  proto: number;
  prefixlen: number;
  addr: SockAddr;
}

/** `struct sadb_key` + key bits padded to 8 (RFC 2367 §2.3.3). `key.length === ceil(bits / 8)`. */
export interface KeyExt {
  bits: number;
  key: Uint8Array;
}

/** `struct sadb_ident` + NUL-terminated identity string (RFC 2367 §2.3.5). */
export interface IdentityExt {
  identType: number;
  id: bigint;
  /** The identity string's octets, without the terminating NUL and padding. */
  identity: Uint8Array;
}

/** `struct sadb_sens` + the two bitmaps (RFC 2367 §2.3.6). */
export interface SensitivityExt {
  dpd: number;
  sensLevel: number;
  integLevel: number;
  /** `sadb_sens_sens_len` 64-bit words. */
  sensBitmap: bigint[];
  /** `sadb_sens_integ_len` 64-bit words. */
  integBitmap: bigint[];
}

/** `struct sadb_comb` (RFC 2367 §2.3.7). */
export interface Comb {
  auth: number;
  encrypt: number;
  flags: number;
  authMinbits: number;
  authMaxbits: number;
  encryptMinbits: number;
  encryptMaxbits: number;
  softAllocations: number;
  hardAllocations: number;
  softBytes: bigint;
  hardBytes: bigint;
  softAddtime: bigint;
  hardAddtime: bigint;
  softUsetime: bigint;
  hardUsetime: bigint;
}

/** `struct sadb_prop` + combs. */
export interface ProposalExt {
  replay: number;
  combs: Comb[];
}

/** `struct sadb_alg` (RFC 2367 §2.3.8). */
export interface SadbAlg {
  id: number;
  ivlen: number;
  minbits: number;
  maxbits: number;
}

/** `struct sadb_supported` + algs. */
export interface SupportedExt {
  algs: SadbAlg[];
}

/** `struct sadb_spirange` (RFC 2367 §2.3.9); host-order bounds, inclusive. */
export interface SpiRangeExt {
  min: number;
  max: number;
}

/** `struct sadb_x_kmprivate` + opaque key-manager data (a multiple of 8 octets). */
export interface KmPrivateExt {
  data: Uint8Array;
}

/** `struct sadb_x_ipsecrequest`: one transform of an IPSEC policy (KAME). */
export interface IpsecRequest {
  /** IPPROTO_ESP (50), IPPROTO_AH (51), IPPROTO_COMP (108). */
  proto: number;
  mode: number;
  level: number;
  reqid: number;
  /** Tunnel endpoints (and MIGRATE locators): the sockaddr pair after the request. */
  addresses?: { src: SockAddr; dst: SockAddr };
}

/** `struct sadb_x_policy` + its ipsecrequest list. */
export interface PolicyExt {
  policyType: number;
  dir: number;
  id: number;
  priority: number;
  requests: IpsecRequest[];
}

/** `struct sadb_x_sa2`. */
export interface Sa2Ext {
  mode: number;
  sequence: number;
  reqid: number;
}

/** `struct sadb_x_nat_t_type`: the UDP encapsulation type (UDP_ENCAP_ESPINUDP = 2). */
export interface NatTTypeExt {
  encapType: number;
}

/** `struct sadb_x_nat_t_port`. */
export interface NatTPortExt {
  port: number;
}

/** `struct sadb_x_sec_ctx` + the LSM context string. */
export interface SecCtxExt {
  alg: number;
  doi: number;
  context: Uint8Array;
}

/** `struct sadb_x_kmaddress` + the (local, remote) sockaddr pair used by MIGRATE. */
export interface KmAddressExt {
  /** `sadb_x_kmaddress_reserved`, which Linux passes through to xfrm_migrate; omitted when 0. */
  reserved?: number;
  local: SockAddr;
  remote: SockAddr;
}

/** `struct sadb_x_filter` (SADB_DUMP filter). Addresses are 16 octets (IPv4 in the first 4). */
export interface FilterExt {
  saddr: Uint8Array;
  daddr: Uint8Array;
  family: number;
  splen: number;
  dplen: number;
}

/** Every extension by its key; the key order of a message's `ext` object is its wire order. */
export interface PfKeyExtensions {
  sa: SaExt;
  lifetimeCurrent: LifetimeExt;
  lifetimeHard: LifetimeExt;
  lifetimeSoft: LifetimeExt;
  addressSrc: AddressExt;
  addressDst: AddressExt;
  addressProxy: AddressExt;
  keyAuth: KeyExt;
  keyEncrypt: KeyExt;
  identitySrc: IdentityExt;
  identityDst: IdentityExt;
  sensitivity: SensitivityExt;
  proposal: ProposalExt;
  supportedAuth: SupportedExt;
  supportedEncrypt: SupportedExt;
  spiRange: SpiRangeExt;
  kmPrivate: KmPrivateExt;
  policy: PolicyExt;
  sa2: Sa2Ext;
  natTType: NatTTypeExt;
  natTSport: NatTPortExt;
  natTDport: NatTPortExt;
  natTOa: AddressExt;
  secCtx: SecCtxExt;
  kmAddress: KmAddressExt;
  filter: FilterExt;
}
export type ExtKey = keyof PfKeyExtensions;

/** Extension key → `SADB_EXT_*` number. */
export const EXT_NUMBER: Readonly<Record<ExtKey, number>> = {
  sa: 1,
  lifetimeCurrent: 2,
  lifetimeHard: 3,
  lifetimeSoft: 4,
  addressSrc: 5,
  addressDst: 6,
  addressProxy: 7,
  keyAuth: 8,
  keyEncrypt: 9,
  identitySrc: 10,
  identityDst: 11,
  sensitivity: 12,
  proposal: 13,
  supportedAuth: 14,
  supportedEncrypt: 15,
  spiRange: 16,
  kmPrivate: 17,
  policy: 18,
  sa2: 19,
  natTType: 20,
  natTSport: 21,
  natTDport: 22,
  natTOa: 23,
  secCtx: 24,
  kmAddress: 25,
  filter: 26,
};
export const EXT_KEYS = Object.keys(EXT_NUMBER) as ExtKey[];
/** `SADB_EXT_*` number → extension key (index 0 unused). */
export const EXT_KEY_BY_NUMBER: readonly (ExtKey | undefined)[] = (() => {
  const keys: (ExtKey | undefined)[] = [undefined];
  for (const k of EXT_KEYS) keys[EXT_NUMBER[k]] = k;
  return keys;
})();

// --- which extensions each message may carry --------------------------------------------------

/**
 * An SA as Linux `__pfkey_xfrm_state2msg` writes it, plus what RFC 2367 §3.1.2/§3.1.3 allow a
 * key manager to send: <base, SA, (lifetime(HSC),) address(SD), (address(P),) key(AE),
 * (identity(SD),) (sensitivity)> and the KAME SA2, NAT-T, security context and KM-private data.
 */
type SaExts =
  | 'sa'
  | 'lifetimeCurrent'
  | 'lifetimeHard'
  | 'lifetimeSoft'
  | 'addressSrc'
  | 'addressDst'
  | 'addressProxy'
  | 'keyAuth'
  | 'keyEncrypt'
  | 'identitySrc'
  | 'identityDst'
  | 'sensitivity'
  | 'kmPrivate'
  | 'sa2'
  | 'natTType'
  | 'natTSport'
  | 'natTDport'
  | 'natTOa'
  | 'secCtx';
/** A policy as Linux `pfkey_xfrm_policy2msg` writes it and `pfkey_spdadd` reads it. */
type PolicyExts = 'addressSrc' | 'addressDst' | 'lifetimeCurrent' | 'lifetimeHard' | 'lifetimeSoft' | 'policy' | 'secCtx';
type NoExts = never;

/** Allowed extensions per message type (request and reply forms together). */
export interface AllowedExtensions {
  /** §3.1.1: <base, address, SPI range> → <base, SA(*), address(SD)>; Linux replies with a full SA. */
  GETSPI: SaExts | 'spiRange';
  UPDATE: SaExts;
  ADD: SaExts;
  /** §3.1.4: <base, SA(*), address(SD)>; Linux notifies with a full SA. */
  DELETE: SaExts;
  GET: SaExts;
  /** §3.1.6: <base, address(SD), (address(P)), (identity(SD),) (sensitivity,) proposal> + X_POLICY, SEC_CTX. */
  ACQUIRE: 'addressSrc' | 'addressDst' | 'addressProxy' | 'identitySrc' | 'identityDst' | 'sensitivity' | 'proposal' | 'policy' | 'secCtx';
  /** §3.1.7: <base> → <base, supported>. */
  REGISTER: 'supportedAuth' | 'supportedEncrypt';
  /** §3.1.8: <base, SA, lifetime(C and one of HS), address(SD)>; never keys (Linux sends none). */
  EXPIRE:
    | 'sa'
    | 'lifetimeCurrent'
    | 'lifetimeHard'
    | 'lifetimeSoft'
    | 'addressSrc'
    | 'addressDst'
    | 'addressProxy'
    | 'sa2'
    | 'natTType'
    | 'natTSport'
    | 'natTDport'
    | 'natTOa'
    | 'secCtx';
  FLUSH: NoExts;
  /** §3.1.10 reply is a full SA; Linux accepts an X_FILTER in the request. */
  DUMP: SaExts | 'filter';
  /** KAME: the payload after the base header is an embedded message, not extensions. */
  X_PROMISC: NoExts;
  X_PCHANGE: PolicyExts;
  X_SPDUPDATE: PolicyExts;
  X_SPDADD: PolicyExts;
  X_SPDDELETE: PolicyExts;
  X_SPDGET: PolicyExts;
  X_SPDACQUIRE: PolicyExts;
  X_SPDDUMP: PolicyExts;
  X_SPDFLUSH: NoExts;
  X_SPDSETIDX: PolicyExts;
  X_SPDEXPIRE: PolicyExts;
  X_SPDDELETE2: PolicyExts;
  /** af_key.c `pfkey_send_new_mapping`: SA | ADDRESS_SRC | NAT_T_SPORT | ADDRESS_DST | NAT_T_DPORT. */
  X_NAT_T_NEW_MAPPING: 'sa' | 'addressSrc' | 'addressDst' | 'natTType' | 'natTSport' | 'natTDport';
  /** af_key.c `pfkey_migrate`: selector addresses, X_POLICY with old/new request pairs, KMADDRESS. */
  X_MIGRATE: 'addressSrc' | 'addressDst' | 'policy' | 'kmAddress';
}

const SA_EXTS: readonly ExtKey[] = [
  'sa', 'lifetimeCurrent', 'lifetimeHard', 'lifetimeSoft', 'addressSrc', 'addressDst', 'addressProxy',
  'keyAuth', 'keyEncrypt', 'identitySrc', 'identityDst', 'sensitivity', 'kmPrivate', 'sa2',
  'natTType', 'natTSport', 'natTDport', 'natTOa', 'secCtx',
];
const POLICY_EXTS: readonly ExtKey[] = ['addressSrc', 'addressDst', 'lifetimeCurrent', 'lifetimeHard', 'lifetimeSoft', 'policy', 'secCtx'];

/** The runtime twin of `AllowedExtensions` (the decoder checks it; the type checker the encoder). */
export const ALLOWED_EXTENSIONS: { readonly [T in PfKeyMsgType]: readonly AllowedExtensions[T][] } = {
  GETSPI: [...SA_EXTS, 'spiRange'] as AllowedExtensions['GETSPI'][],
  UPDATE: SA_EXTS as AllowedExtensions['UPDATE'][],
  ADD: SA_EXTS as AllowedExtensions['ADD'][],
  DELETE: SA_EXTS as AllowedExtensions['DELETE'][],
  GET: SA_EXTS as AllowedExtensions['GET'][],
  ACQUIRE: ['addressSrc', 'addressDst', 'addressProxy', 'identitySrc', 'identityDst', 'sensitivity', 'proposal', 'policy', 'secCtx'],
  REGISTER: ['supportedAuth', 'supportedEncrypt'],
  EXPIRE: ['sa', 'lifetimeCurrent', 'lifetimeHard', 'lifetimeSoft', 'addressSrc', 'addressDst', 'addressProxy', 'sa2', 'natTType', 'natTSport', 'natTDport', 'natTOa', 'secCtx'],
  FLUSH: [],
  DUMP: [...SA_EXTS, 'filter'] as AllowedExtensions['DUMP'][],
  X_PROMISC: [],
  X_PCHANGE: POLICY_EXTS as AllowedExtensions['X_PCHANGE'][],
  X_SPDUPDATE: POLICY_EXTS as AllowedExtensions['X_SPDUPDATE'][],
  X_SPDADD: POLICY_EXTS as AllowedExtensions['X_SPDADD'][],
  X_SPDDELETE: POLICY_EXTS as AllowedExtensions['X_SPDDELETE'][],
  X_SPDGET: POLICY_EXTS as AllowedExtensions['X_SPDGET'][],
  X_SPDACQUIRE: POLICY_EXTS as AllowedExtensions['X_SPDACQUIRE'][],
  X_SPDDUMP: POLICY_EXTS as AllowedExtensions['X_SPDDUMP'][],
  X_SPDFLUSH: [],
  X_SPDSETIDX: POLICY_EXTS as AllowedExtensions['X_SPDSETIDX'][],
  X_SPDEXPIRE: POLICY_EXTS as AllowedExtensions['X_SPDEXPIRE'][],
  X_SPDDELETE2: POLICY_EXTS as AllowedExtensions['X_SPDDELETE2'][],
  X_NAT_T_NEW_MAPPING: ['sa', 'addressSrc', 'addressDst', 'natTType', 'natTSport', 'natTDport'],
  X_MIGRATE: ['addressSrc', 'addressDst', 'policy', 'kmAddress'],
};

/** `sadb_msg` fields other than version (always 2) and length (computed). */
export interface PfKeyHeader {
  satype: number;
  /** 0 in requests; the errno of a failed request in replies (RFC 2367 §1.8). */
  errno: number;
  seq: number;
  pid: number;
  /** `sadb_msg_reserved`; omitted when 0. */
  reserved?: number;
}

/** One message type with the extensions it may carry. */
export type PfKeyMessageOf<T extends PfKeyMsgType> = PfKeyHeader & {
  type: T;
  ext: Partial<Pick<PfKeyExtensions, AllowedExtensions[T]>>;
} & (T extends 'X_PROMISC' ? { /** The embedded message (KAME), a multiple of 8 octets; may be empty. */ payload: Uint8Array } : unknown);

/** Any PF_KEY v2 message. */
export type PfKeyMessage = { [T in PfKeyMsgType]: PfKeyMessageOf<T> }[PfKeyMsgType];

/** Why `decodePfKey` refused some bytes. */
export const PFKEY_ERROR_CODES = [
  /** Fewer than 16 octets: no `sadb_msg`. */
  'truncated',
  /** `sadb_msg_version` ≠ PF_KEY_V2. */
  'badVersion',
  /** `sadb_msg_type` is RESERVED (0) or past SADB_MAX. */
  'badType',
  /** `sadb_msg_len` × 8 ≠ the number of octets given. */
  'lengthMismatch',
  /** An extension header with `sadb_ext_len` 0. */
  'extZeroLength',
  /** An extension running past the end of the message. */
  'extOverrun',
  /** An extension of type SADB_EXT_RESERVED (0). */
  'extReservedType',
  /** An extension type past SADB_EXT_MAX. */
  'unknownExtension',
  /** The same extension type twice (RFC 2367 §2.3: EINVAL). */
  'duplicateExtension',
  /** An extension this message type does not carry (RFC 2367 §3.1). */
  'extNotAllowed',
  /** A fixed-size extension whose length is not its struct size, or a variable one whose length disagrees with its contents. */
  'badExtLength',
  /** A sockaddr of unknown family, truncated, or not the length its family needs. */
  'badSockaddr',
  /** `sadb_address_prefixlen` beyond 32 (IPv4) or 128 (IPv6). */
  'badPrefixLength',
  /** `sadb_key_bits` needs more octets than the extension holds, or fewer than it has. */
  'badKeyLength',
  /** An ipsecrequest list that does not tile its X_POLICY extension. */
  'badPolicy',
] as const;
export type PfKeyErrorCode = (typeof PFKEY_ERROR_CODES)[number];

export interface PfKeyDecodeError {
  code: PfKeyErrorCode;
  message: string;
  /** Octet offset of the offending field in the input. */
  offset: number;
  /** The base header, when the first 16 octets could be read (for building an error reply). */
  header?: { type: number; satype: number; seq: number; pid: number };
}

/** The result of `decodePfKey`: a value, never an exception. */
export type PfKeyDecodeResult = { ok: true; msg: PfKeyMessage } | { ok: false; error: PfKeyDecodeError };
