/**
 * Byte layout of every PF_KEY v2 structure, as Linux lays it out.
 *
 * Source: Linux `include/uapi/linux/pfkeyv2.h` (torvalds/linux, read at commit
 * 30c0923370175a01a806b23d797f1d9f2f3e4f40): every struct is `__attribute__((packed))`, so each
 * offset is the sum of the widths before it, and each `sizeof` matches the header's
 * `/* sizeof(struct ...) == N *\/` comment. The two sockaddrs come from `include/uapi/linux/in.h`
 * (`struct sockaddr_in`, 16 octets) and `include/uapi/linux/in6.h` (`struct sockaddr_in6`,
 * 28 octets); `sa_family` is host order, ports and addresses network order.
 *
 * Byte order: `__uN` fields are HOST order. The Linux hosts PF_KEY serves (x86_64, aarch64) are
 * little-endian, and so is every `__uN` here (`u16`, `u32`, `u64` below). `__beN` fields
 * (`sadb_sa_spi`, `sadb_x_nat_t_port_port`, `sin_port`, ...) are network order (`be16`, `be32`).
 * The codec reads both through a `DataView` with the endianness spelled at each call, so the
 * mix of orders in one struct is visible where it is used.
 *
 * The codec reads and writes every field through this table; test/engine/pfkey/layout.test.ts
 * re-derives it from a transcription of the header's struct declarations.
 */

/** The C type of a field: host-order ints, network-order ints, or an opaque byte array. */
export type FieldType = 'u8' | 'u16' | 'u32' | 'u64' | 'be16' | 'be32' | `bytes${number}`;
export type Field = readonly [offset: number, type: FieldType];

export interface StructLayout {
  readonly size: number;
  readonly fields: Readonly<Record<string, Field>>;
}

function struct<F extends Record<string, Field>>(size: number, fields: F): { size: number; fields: F } {
  return { size, fields };
}

export const SADB_MSG_L = struct(16, {
  sadb_msg_version: [0, 'u8'],
  sadb_msg_type: [1, 'u8'],
  sadb_msg_errno: [2, 'u8'],
  sadb_msg_satype: [3, 'u8'],
  sadb_msg_len: [4, 'u16'],
  sadb_msg_reserved: [6, 'u16'],
  sadb_msg_seq: [8, 'u32'],
  sadb_msg_pid: [12, 'u32'],
});

export const SADB_EXT_L = struct(4, {
  sadb_ext_len: [0, 'u16'],
  sadb_ext_type: [2, 'u16'],
});

export const SADB_SA_L = struct(16, {
  sadb_sa_len: [0, 'u16'],
  sadb_sa_exttype: [2, 'u16'],
  sadb_sa_spi: [4, 'be32'],
  sadb_sa_replay: [8, 'u8'],
  sadb_sa_state: [9, 'u8'],
  sadb_sa_auth: [10, 'u8'],
  sadb_sa_encrypt: [11, 'u8'],
  sadb_sa_flags: [12, 'u32'],
});

export const SADB_LIFETIME_L = struct(32, {
  sadb_lifetime_len: [0, 'u16'],
  sadb_lifetime_exttype: [2, 'u16'],
  sadb_lifetime_allocations: [4, 'u32'],
  sadb_lifetime_bytes: [8, 'u64'],
  sadb_lifetime_addtime: [16, 'u64'],
  sadb_lifetime_usetime: [24, 'u64'],
});

export const SADB_ADDRESS_L = struct(8, {
  sadb_address_len: [0, 'u16'],
  sadb_address_exttype: [2, 'u16'],
  sadb_address_proto: [4, 'u8'],
  sadb_address_prefixlen: [5, 'u8'],
  sadb_address_reserved: [6, 'u16'],
});

export const SADB_KEY_L = struct(8, {
  sadb_key_len: [0, 'u16'],
  sadb_key_exttype: [2, 'u16'],
  sadb_key_bits: [4, 'u16'],
  sadb_key_reserved: [6, 'u16'],
});

export const SADB_IDENT_L = struct(16, {
  sadb_ident_len: [0, 'u16'],
  sadb_ident_exttype: [2, 'u16'],
  sadb_ident_type: [4, 'u16'],
  sadb_ident_reserved: [6, 'u16'],
  sadb_ident_id: [8, 'u64'],
});

export const SADB_SENS_L = struct(16, {
  sadb_sens_len: [0, 'u16'],
  sadb_sens_exttype: [2, 'u16'],
  sadb_sens_dpd: [4, 'u32'],
  sadb_sens_sens_level: [8, 'u8'],
  sadb_sens_sens_len: [9, 'u8'],
  sadb_sens_integ_level: [10, 'u8'],
  sadb_sens_integ_len: [11, 'u8'],
  sadb_sens_reserved: [12, 'u32'],
});

export const SADB_PROP_L = struct(8, {
  sadb_prop_len: [0, 'u16'],
  sadb_prop_exttype: [2, 'u16'],
  sadb_prop_replay: [4, 'u8'],
  sadb_prop_reserved: [5, 'bytes3'],
});

export const SADB_COMB_L = struct(72, {
  sadb_comb_auth: [0, 'u8'],
  sadb_comb_encrypt: [1, 'u8'],
  sadb_comb_flags: [2, 'u16'],
  sadb_comb_auth_minbits: [4, 'u16'],
  sadb_comb_auth_maxbits: [6, 'u16'],
  sadb_comb_encrypt_minbits: [8, 'u16'],
  sadb_comb_encrypt_maxbits: [10, 'u16'],
  sadb_comb_reserved: [12, 'u32'],
  sadb_comb_soft_allocations: [16, 'u32'],
  sadb_comb_hard_allocations: [20, 'u32'],
  sadb_comb_soft_bytes: [24, 'u64'],
  sadb_comb_hard_bytes: [32, 'u64'],
  sadb_comb_soft_addtime: [40, 'u64'],
  sadb_comb_hard_addtime: [48, 'u64'],
  sadb_comb_soft_usetime: [56, 'u64'],
  sadb_comb_hard_usetime: [64, 'u64'],
});

export const SADB_SUPPORTED_L = struct(8, {
  sadb_supported_len: [0, 'u16'],
  sadb_supported_exttype: [2, 'u16'],
  sadb_supported_reserved: [4, 'u32'],
});

export const SADB_ALG_L = struct(8, {
  sadb_alg_id: [0, 'u8'],
  sadb_alg_ivlen: [1, 'u8'],
  sadb_alg_minbits: [2, 'u16'],
  sadb_alg_maxbits: [4, 'u16'],
  sadb_alg_reserved: [6, 'u16'],
});

export const SADB_SPIRANGE_L = struct(16, {
  sadb_spirange_len: [0, 'u16'],
  sadb_spirange_exttype: [2, 'u16'],
  sadb_spirange_min: [4, 'u32'],
  sadb_spirange_max: [8, 'u32'],
  sadb_spirange_reserved: [12, 'u32'],
});

export const SADB_X_KMPRIVATE_L = struct(8, {
  sadb_x_kmprivate_len: [0, 'u16'],
  sadb_x_kmprivate_exttype: [2, 'u16'],
  sadb_x_kmprivate_reserved: [4, 'u32'],
});

export const SADB_X_SA2_L = struct(16, {
  sadb_x_sa2_len: [0, 'u16'],
  sadb_x_sa2_exttype: [2, 'u16'],
  sadb_x_sa2_mode: [4, 'u8'],
  sadb_x_sa2_reserved1: [5, 'u8'],
  sadb_x_sa2_reserved2: [6, 'u16'],
  sadb_x_sa2_sequence: [8, 'u32'],
  sadb_x_sa2_reqid: [12, 'u32'],
});

export const SADB_X_POLICY_L = struct(16, {
  sadb_x_policy_len: [0, 'u16'],
  sadb_x_policy_exttype: [2, 'u16'],
  sadb_x_policy_type: [4, 'u16'],
  sadb_x_policy_dir: [6, 'u8'],
  sadb_x_policy_reserved: [7, 'u8'],
  sadb_x_policy_id: [8, 'u32'],
  sadb_x_policy_priority: [12, 'u32'],
});

/** NB: `sadb_x_ipsecrequest_len` counts OCTETS, not 64-bit words (af_key.c `parse_ipsecrequests`). */
export const SADB_X_IPSECREQUEST_L = struct(16, {
  sadb_x_ipsecrequest_len: [0, 'u16'],
  sadb_x_ipsecrequest_proto: [2, 'u16'],
  sadb_x_ipsecrequest_mode: [4, 'u8'],
  sadb_x_ipsecrequest_level: [5, 'u8'],
  sadb_x_ipsecrequest_reserved1: [6, 'u16'],
  sadb_x_ipsecrequest_reqid: [8, 'u32'],
  sadb_x_ipsecrequest_reserved2: [12, 'u32'],
});

export const SADB_X_NAT_T_TYPE_L = struct(8, {
  sadb_x_nat_t_type_len: [0, 'u16'],
  sadb_x_nat_t_type_exttype: [2, 'u16'],
  sadb_x_nat_t_type_type: [4, 'u8'],
  sadb_x_nat_t_type_reserved: [5, 'bytes3'],
});

export const SADB_X_NAT_T_PORT_L = struct(8, {
  sadb_x_nat_t_port_len: [0, 'u16'],
  sadb_x_nat_t_port_exttype: [2, 'u16'],
  sadb_x_nat_t_port_port: [4, 'be16'],
  sadb_x_nat_t_port_reserved: [6, 'u16'],
});

/** NB: `sadb_x_ctx_len` counts octets of context string (af_key.c `pfkey_sec_ctx_len`). */
export const SADB_X_SEC_CTX_L = struct(8, {
  sadb_x_sec_len: [0, 'u16'],
  sadb_x_sec_exttype: [2, 'u16'],
  sadb_x_ctx_alg: [4, 'u8'],
  sadb_x_ctx_doi: [5, 'u8'],
  sadb_x_ctx_len: [6, 'u16'],
});

export const SADB_X_KMADDRESS_L = struct(8, {
  sadb_x_kmaddress_len: [0, 'u16'],
  sadb_x_kmaddress_exttype: [2, 'u16'],
  sadb_x_kmaddress_reserved: [4, 'u32'],
});

/** `__u32 saddr[4]` holds the address octets as memcpy'd (network order), hence bytes16. */
export const SADB_X_FILTER_L = struct(40, {
  sadb_x_filter_len: [0, 'u16'],
  sadb_x_filter_exttype: [2, 'u16'],
  sadb_x_filter_saddr: [4, 'bytes16'],
  sadb_x_filter_daddr: [20, 'bytes16'],
  sadb_x_filter_family: [36, 'u16'],
  sadb_x_filter_splen: [38, 'u8'],
  sadb_x_filter_dplen: [39, 'u8'],
});

/** `include/uapi/linux/in.h` struct sockaddr_in (`__kernel_sa_family_t`, `__be16`, `struct in_addr`, pad). */
export const SOCKADDR_IN_L = struct(16, {
  sin_family: [0, 'u16'],
  sin_port: [2, 'be16'],
  sin_addr: [4, 'bytes4'],
  __pad: [8, 'bytes8'],
});

/** `include/uapi/linux/in6.h` struct sockaddr_in6. */
export const SOCKADDR_IN6_L = struct(28, {
  sin6_family: [0, 'u16'],
  sin6_port: [2, 'be16'],
  sin6_flowinfo: [4, 'be32'],
  sin6_addr: [8, 'bytes16'],
  sin6_scope_id: [24, 'u32'],
});

/** Every structure by its C name, for the layout test and for tooling. */
export const PFKEY_STRUCTS: Readonly<Record<string, StructLayout>> = {
  sadb_msg: SADB_MSG_L,
  sadb_ext: SADB_EXT_L,
  sadb_sa: SADB_SA_L,
  sadb_lifetime: SADB_LIFETIME_L,
  sadb_address: SADB_ADDRESS_L,
  sadb_key: SADB_KEY_L,
  sadb_ident: SADB_IDENT_L,
  sadb_sens: SADB_SENS_L,
  sadb_prop: SADB_PROP_L,
  sadb_comb: SADB_COMB_L,
  sadb_supported: SADB_SUPPORTED_L,
  sadb_alg: SADB_ALG_L,
  sadb_spirange: SADB_SPIRANGE_L,
  sadb_x_kmprivate: SADB_X_KMPRIVATE_L,
  sadb_x_sa2: SADB_X_SA2_L,
  sadb_x_policy: SADB_X_POLICY_L,
  sadb_x_ipsecrequest: SADB_X_IPSECREQUEST_L,
  sadb_x_nat_t_type: SADB_X_NAT_T_TYPE_L,
  sadb_x_nat_t_port: SADB_X_NAT_T_PORT_L,
  sadb_x_sec_ctx: SADB_X_SEC_CTX_L,
  sadb_x_kmaddress: SADB_X_KMADDRESS_L,
  sadb_x_filter: SADB_X_FILTER_L,
  sockaddr_in: SOCKADDR_IN_L,
  sockaddr_in6: SOCKADDR_IN6_L,
};

/** Linux af_key.c: `#define PFKEY_ALIGN8(a) (1 + (((a) - 1) | (8 - 1)))`, i.e. round up to 8. */
export function pfkeyAlign8(n: number): number {
  return (n + 7) & ~7;
}

/** Host byte order of the `__uN` fields: little-endian (see the module comment). */
export const HOST_LITTLE_ENDIAN = true;

/** Reads a numeric field (not u64, not bytes) of the struct at `base`. */
export function getField(v: DataView, base: number, [offset, type]: Field): number {
  const at = base + offset;
  switch (type) {
    case 'u8':
      return v.getUint8(at);
    case 'u16':
      return v.getUint16(at, HOST_LITTLE_ENDIAN);
    case 'u32':
      return v.getUint32(at, HOST_LITTLE_ENDIAN);
    case 'be16':
      return v.getUint16(at, false);
    case 'be32':
      return v.getUint32(at, false);
    default:
      throw new TypeError(`getField: ${type} is not a number field`);
  }
}

/** Reads a `__u64` field of the struct at `base`. */
export function getField64(v: DataView, base: number, [offset]: Field): bigint {
  return v.getBigUint64(base + offset, HOST_LITTLE_ENDIAN);
}

/** Writes a numeric field (not u64, not bytes) of the struct at `base`. */
export function setField(v: DataView, base: number, [offset, type]: Field, value: number): void {
  const at = base + offset;
  switch (type) {
    case 'u8':
      return v.setUint8(at, value);
    case 'u16':
      return v.setUint16(at, value, HOST_LITTLE_ENDIAN);
    case 'u32':
      return v.setUint32(at, value, HOST_LITTLE_ENDIAN);
    case 'be16':
      return v.setUint16(at, value, false);
    case 'be32':
      return v.setUint32(at, value, false);
    default:
      throw new TypeError(`setField: ${type} is not a number field`);
  }
}

/** Writes a `__u64` field of the struct at `base`. */
export function setField64(v: DataView, base: number, [offset]: Field, value: bigint): void {
  v.setBigUint64(base + offset, value, HOST_LITTLE_ENDIAN);
}
