/**
 * PF_KEY v2 numbers, transcribed from Linux `include/uapi/linux/pfkeyv2.h` and
 * `include/uapi/linux/ipsec.h` (RFC 2367 §2.3, §2.4 and the KAME/Linux `SADB_X_*` extensions).
 */

/** RFC 2367 §2.2: `sadb_msg_version`. */
export const PF_KEY_V2 = 2;

/** Message types (`SADB_*`, pfkeyv2.h "Message types"). */
export const SADB_MSG = {
  RESERVED: 0,
  GETSPI: 1,
  UPDATE: 2,
  ADD: 3,
  DELETE: 4,
  GET: 5,
  ACQUIRE: 6,
  REGISTER: 7,
  EXPIRE: 8,
  FLUSH: 9,
  DUMP: 10,
  X_PROMISC: 11,
  X_PCHANGE: 12,
  X_SPDUPDATE: 13,
  X_SPDADD: 14,
  X_SPDDELETE: 15,
  X_SPDGET: 16,
  X_SPDACQUIRE: 17,
  X_SPDDUMP: 18,
  X_SPDFLUSH: 19,
  X_SPDSETIDX: 20,
  X_SPDEXPIRE: 21,
  X_SPDDELETE2: 22,
  X_NAT_T_NEW_MAPPING: 23,
  X_MIGRATE: 24,
} as const;
/** `SADB_MAX`. */
export const SADB_MAX = 24;

/**
 * Every message type that can appear on the wire. `RESERVED` (0) is not one: Linux
 * `pfkey_get_base_msg` rejects `sadb_msg_type <= SADB_RESERVED` with EINVAL.
 */
export type PfKeyMsgType = Exclude<keyof typeof SADB_MSG, 'RESERVED'>;
export const PFKEY_MSG_TYPES = (Object.keys(SADB_MSG) as (keyof typeof SADB_MSG)[]).filter(
  (t): t is PfKeyMsgType => t !== 'RESERVED',
);
const MSG_NAME_BY_NUMBER: readonly (PfKeyMsgType | undefined)[] = (() => {
  const names: (PfKeyMsgType | undefined)[] = [];
  for (const t of PFKEY_MSG_TYPES) names[SADB_MSG[t]] = t;
  return names;
})();

/** The name of a message type number, or `undefined` for 0 and anything past `SADB_MAX`. */
export function msgTypeName(n: number): PfKeyMsgType | undefined {
  return MSG_NAME_BY_NUMBER[n];
}

/** Extension header types (`SADB_EXT_*`, `SADB_X_EXT_*`). */
export const SADB_EXT = {
  RESERVED: 0,
  SA: 1,
  LIFETIME_CURRENT: 2,
  LIFETIME_HARD: 3,
  LIFETIME_SOFT: 4,
  ADDRESS_SRC: 5,
  ADDRESS_DST: 6,
  ADDRESS_PROXY: 7,
  KEY_AUTH: 8,
  KEY_ENCRYPT: 9,
  IDENTITY_SRC: 10,
  IDENTITY_DST: 11,
  SENSITIVITY: 12,
  PROPOSAL: 13,
  SUPPORTED_AUTH: 14,
  SUPPORTED_ENCRYPT: 15,
  SPIRANGE: 16,
  X_KMPRIVATE: 17,
  X_POLICY: 18,
  X_SA2: 19,
  X_NAT_T_TYPE: 20,
  X_NAT_T_SPORT: 21,
  X_NAT_T_DPORT: 22,
  X_NAT_T_OA: 23,
  X_SEC_CTX: 24,
  X_KMADDRESS: 25,
  X_FILTER: 26,
} as const;
/** `SADB_EXT_MAX`. */
export const SADB_EXT_MAX = 26;

/** Security association types (`SADB_SATYPE_*`). */
export const SADB_SATYPE = {
  UNSPEC: 0,
  AH: 2,
  ESP: 3,
  RSVP: 5,
  OSPFV2: 6,
  RIPV2: 7,
  MIP: 8,
  X_IPCOMP: 9,
} as const;
export const SADB_SATYPE_MAX = 9;

/** SA states (`SADB_SASTATE_*`, RFC 2367 §2.3.1). */
export const SADB_SASTATE = { LARVAL: 0, MATURE: 1, DYING: 2, DEAD: 3 } as const;

/** SA flags (`SADB_SAFLAGS_*`). */
export const SADB_SAFLAGS = {
  PFS: 1,
  NOPMTUDISC: 0x20000000,
  DECAP_DSCP: 0x40000000,
  NOECN: 0x80000000,
} as const;

/** Authentication algorithms (`SADB_AALG_*`, `SADB_X_AALG_*`). */
export const SADB_AALG = {
  NONE: 0,
  MD5HMAC: 2,
  SHA1HMAC: 3,
  X_SHA2_256HMAC: 5,
  X_SHA2_384HMAC: 6,
  X_SHA2_512HMAC: 7,
  X_RIPEMD160HMAC: 8,
  X_AES_XCBC_MAC: 9,
  X_NULL: 251,
} as const;
export const SADB_AALG_MAX = 251;

/** Encryption algorithms (`SADB_EALG_*`, `SADB_X_EALG_*`). */
export const SADB_EALG = {
  NONE: 0,
  DESCBC: 2,
  '3DESCBC': 3,
  X_CASTCBC: 6,
  X_BLOWFISHCBC: 7,
  NULL: 11,
  X_AESCBC: 12,
  X_AESCTR: 13,
  X_AES_CCM_ICV8: 14,
  X_AES_CCM_ICV12: 15,
  X_AES_CCM_ICV16: 16,
  X_AES_GCM_ICV8: 18,
  X_AES_GCM_ICV12: 19,
  X_AES_GCM_ICV16: 20,
  X_CAMELLIACBC: 22,
  X_NULL_AES_GMAC: 23,
  X_SERPENTCBC: 252,
  X_TWOFISHCBC: 253,
} as const;
export const SADB_EALG_MAX = 253;

/** Compression algorithms (`SADB_X_CALG_*`). */
export const SADB_X_CALG = { NONE: 0, OUI: 1, DEFLATE: 2, LZS: 3, LZJH: 4 } as const;

/** Identity types (`SADB_IDENTTYPE_*`, RFC 2367 §2.3.5). */
export const SADB_IDENTTYPE = { RESERVED: 0, PREFIX: 1, FQDN: 2, USERFQDN: 3 } as const;

/** ipsec.h: `IPSEC_MODE_*` (sadb_x_sa2_mode, sadb_x_ipsecrequest_mode). */
export const IPSEC_MODE = { ANY: 0, TRANSPORT: 1, TUNNEL: 2, BEET: 3, IPTFS: 4 } as const;
/** ipsec.h: `IPSEC_DIR_*` (sadb_x_policy_dir). */
export const IPSEC_DIR = { ANY: 0, INBOUND: 1, OUTBOUND: 2, FWD: 3, MAX: 4, INVALID: 5 } as const;
/** ipsec.h: `IPSEC_POLICY_*` (sadb_x_policy_type). */
export const IPSEC_POLICY = { DISCARD: 0, NONE: 1, IPSEC: 2, ENTRUST: 3, BYPASS: 4 } as const;
/** ipsec.h: `IPSEC_LEVEL_*` (sadb_x_ipsecrequest_level). */
export const IPSEC_LEVEL = { DEFAULT: 0, USE: 1, REQUIRE: 2, UNIQUE: 3 } as const;
/** ipsec.h: upper-layer protocol "any" in sadb_address_proto. */
export const IPSEC_ULPROTO_ANY = 255;
export const IPSEC_PROTO_ANY = 255;
export const IPSEC_MANUAL_REQID_MAX = 0x3fff;

/** Linux `include/linux/socket.h` address families (`sa_family`, host byte order). */
export const AF_INET = 2;
export const AF_INET6 = 10;

/**
 * Linux errno values (`include/uapi/asm-generic/errno-base.h`, `errno.h`) that PF_KEY replies
 * carry in `sadb_msg_errno` (RFC 2367 §1.8: "the errno value").
 */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  ENOMEM: 12,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  ENOSYS: 38,
  EMSGSIZE: 90,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  ENOBUFS: 105,
} as const;
