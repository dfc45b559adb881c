/**
 * PF_KEY v2 encoder: a typed message to the octets Linux af_key.c reads (RFC 2367 §2).
 * Every extension is `sadb_ext_len` 64-bit words long including its header, zero padded to 8.
 */

import { rangeError } from '../errors.js';
import { PF_KEY_V2, SADB_MSG } from './constants.js';
import {
  pfkeyAlign8,
  SADB_ADDRESS_L,
  SADB_ALG_L,
  SADB_COMB_L,
  SADB_EXT_L,
  SADB_IDENT_L,
  SADB_KEY_L,
  SADB_LIFETIME_L,
  SADB_MSG_L,
  SADB_PROP_L,
  SADB_SA_L,
  SADB_SENS_L,
  SADB_SPIRANGE_L,
  SADB_SUPPORTED_L,
  SADB_X_FILTER_L,
  SADB_X_IPSECREQUEST_L,
  SADB_X_KMADDRESS_L,
  SADB_X_KMPRIVATE_L,
  SADB_X_NAT_T_PORT_L,
  SADB_X_NAT_T_TYPE_L,
  SADB_X_POLICY_L,
  SADB_X_SA2_L,
  SADB_X_SEC_CTX_L,
  setField,
  setField64,
} from './layout.js';
import { checkU16, checkU32, checkU64, checkU8, sockaddrLength, writeSockaddr } from './sockaddr.js';
import {
  ALLOWED_EXTENSIONS,
  EXT_NUMBER,
  type AddressExt,
  type ExtKey,
  type IdentityExt,
  type KeyExt,
  type KmAddressExt,
  type LifetimeExt,
  type PfKeyExtensions,
  type PfKeyMessage,
  type PolicyExt,
  type SockAddr,
} from './types.js';

const MAX_WORDS = 0xffff;

/**
 * Encodes a message. Extensions are written in the key order of `msg.ext` (so a decoded message
 * re-encodes to the same octets); `undefined` entries are skipped. Throws `RangeError` naming
 * the field for values that do not fit their C type or an extension the message may not carry.
 *
 * @example
 * const bytes = encodePfKey({ type: 'FLUSH', satype: SADB_SATYPE.ESP, errno: 0, seq: 1, pid: 42, ext: {} });
 * bytes.length // 16
 */
export function encodePfKey(msg: PfKeyMessage): Uint8Array {
  const typeNumber = (SADB_MSG as Record<string, number | undefined>)[msg.type];
  if (typeNumber === undefined || typeNumber === SADB_MSG.RESERVED) throw rangeError('msg.type', `unknown message type ${String(msg.type)}`);
  const chunks: Uint8Array[] = [];
  if (msg.type === 'X_PROMISC') {
    const payload = msg.payload ?? new Uint8Array(0);
    if (payload.length % 8 !== 0) throw rangeError('msg.payload', `must be a multiple of 8 octets, got ${payload.length}`);
    chunks.push(payload);
  } else {
    const allowed = ALLOWED_EXTENSIONS[msg.type] as readonly ExtKey[];
    const ext = msg.ext as Partial<PfKeyExtensions>;
    for (const key of Object.keys(ext) as ExtKey[]) {
      if (ext[key] === undefined) continue;
      if (!(key in EXT_NUMBER)) throw rangeError(`msg.ext.${key}`, 'unknown extension');
      if (!allowed.includes(key)) throw rangeError(`msg.ext.${key}`, `not allowed in ${msg.type} (RFC 2367 §3.1)`);
      chunks.push(encodeExtension(key, ext));
    }
  }
  let total = SADB_MSG_L.size;
  for (const c of chunks) total += c.length;
  if (total / 8 > MAX_WORDS) throw rangeError('msg', `encodes to ${total} octets, more than sadb_msg_len can count`);

  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  const f = SADB_MSG_L.fields;
  setField(v, 0, f.sadb_msg_version, PF_KEY_V2);
  setField(v, 0, f.sadb_msg_type, typeNumber);
  setField(v, 0, f.sadb_msg_errno, checkU8(msg.errno, 'msg.errno'));
  setField(v, 0, f.sadb_msg_satype, checkU8(msg.satype, 'msg.satype'));
  setField(v, 0, f.sadb_msg_len, total / 8);
  setField(v, 0, f.sadb_msg_reserved, checkU16(msg.reserved ?? 0, 'msg.reserved'));
  setField(v, 0, f.sadb_msg_seq, checkU32(msg.seq, 'msg.seq'));
  setField(v, 0, f.sadb_msg_pid, checkU32(msg.pid, 'msg.pid'));
  let at = SADB_MSG_L.size;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A zeroed extension of `size` octets (a multiple of 8) with its sadb_ext header written. */
function extension(key: ExtKey, size: number): { bytes: Uint8Array; v: DataView } {
  if (size % 8 !== 0) throw new Error(`internal: ${key} size ${size} is not 8-aligned`);
  if (size / 8 > MAX_WORDS) throw rangeError(`msg.ext.${key}`, `is ${size} octets, more than sadb_ext_len can count`);
  const bytes = new Uint8Array(size);
  const v = new DataView(bytes.buffer);
  setField(v, 0, SADB_EXT_L.fields.sadb_ext_len, size / 8);
  setField(v, 0, SADB_EXT_L.fields.sadb_ext_type, EXT_NUMBER[key]);
  return { bytes, v };
}

function encodeExtension(key: ExtKey, ext: Partial<PfKeyExtensions>): Uint8Array {
  const arg = `msg.ext.${key}`;
  switch (key) {
    case 'sa': {
      const e = ext.sa!;
      const { bytes, v } = extension(key, SADB_SA_L.size);
      const f = SADB_SA_L.fields;
      setField(v, 0, f.sadb_sa_spi, checkU32(e.spi, `${arg}.spi`));
      setField(v, 0, f.sadb_sa_replay, checkU8(e.replay, `${arg}.replay`));
      setField(v, 0, f.sadb_sa_state, checkU8(e.state, `${arg}.state`));
      setField(v, 0, f.sadb_sa_auth, checkU8(e.auth, `${arg}.auth`));
      setField(v, 0, f.sadb_sa_encrypt, checkU8(e.encrypt, `${arg}.encrypt`));
      setField(v, 0, f.sadb_sa_flags, checkU32(e.flags, `${arg}.flags`));
      return bytes;
    }
    case 'lifetimeCurrent':
    case 'lifetimeHard':
    case 'lifetimeSoft':
      return encodeLifetime(key, ext[key]!, arg);
    case 'addressSrc':
    case 'addressDst':
    case 'addressProxy':
    case 'natTOa':
      return encodeAddress(key, ext[key]!, arg);
    case 'keyAuth':
    case 'keyEncrypt':
      return encodeKey(key, ext[key]!, arg);
    case 'identitySrc':
    case 'identityDst':
      return encodeIdentity(key, ext[key]!, arg);
    case 'sensitivity': {
      const e = ext.sensitivity!;
      if (e.sensBitmap.length > 0xff || e.integBitmap.length > 0xff) throw rangeError(arg, 'bitmaps are at most 255 words each');
      const { bytes, v } = extension(key, SADB_SENS_L.size + 8 * (e.sensBitmap.length + e.integBitmap.length));
      const f = SADB_SENS_L.fields;
      setField(v, 0, f.sadb_sens_dpd, checkU32(e.dpd, `${arg}.dpd`));
      setField(v, 0, f.sadb_sens_sens_level, checkU8(e.sensLevel, `${arg}.sensLevel`));
      setField(v, 0, f.sadb_sens_sens_len, e.sensBitmap.length);
      setField(v, 0, f.sadb_sens_integ_level, checkU8(e.integLevel, `${arg}.integLevel`));
      setField(v, 0, f.sadb_sens_integ_len, e.integBitmap.length);
      let at = SADB_SENS_L.size;
      for (const w of [...e.sensBitmap, ...e.integBitmap]) {
        v.setBigUint64(at, checkU64(w, `${arg}.bitmap`), true);
        at += 8;
      }
      return bytes;
    }
    case 'proposal': {
      const e = ext.proposal!;
      const { bytes, v } = extension(key, SADB_PROP_L.size + SADB_COMB_L.size * e.combs.length);
      setField(v, 0, SADB_PROP_L.fields.sadb_prop_replay, checkU8(e.replay, `${arg}.replay`));
      const f = SADB_COMB_L.fields;
      e.combs.forEach((c, i) => {
        const b = SADB_PROP_L.size + SADB_COMB_L.size * i;
        const a = `${arg}.combs[${i}]`;
        setField(v, b, f.sadb_comb_auth, checkU8(c.auth, `${a}.auth`));
        setField(v, b, f.sadb_comb_encrypt, checkU8(c.encrypt, `${a}.encrypt`));
        setField(v, b, f.sadb_comb_flags, checkU16(c.flags, `${a}.flags`));
        setField(v, b, f.sadb_comb_auth_minbits, checkU16(c.authMinbits, `${a}.authMinbits`));
        setField(v, b, f.sadb_comb_auth_maxbits, checkU16(c.authMaxbits, `${a}.authMaxbits`));
        setField(v, b, f.sadb_comb_encrypt_minbits, checkU16(c.encryptMinbits, `${a}.encryptMinbits`));
        setField(v, b, f.sadb_comb_encrypt_maxbits, checkU16(c.encryptMaxbits, `${a}.encryptMaxbits`));
        setField(v, b, f.sadb_comb_soft_allocations, checkU32(c.softAllocations, `${a}.softAllocations`));
        setField(v, b, f.sadb_comb_hard_allocations, checkU32(c.hardAllocations, `${a}.hardAllocations`));
        setField64(v, b, f.sadb_comb_soft_bytes, checkU64(c.softBytes, `${a}.softBytes`));
        setField64(v, b, f.sadb_comb_hard_bytes, checkU64(c.hardBytes, `${a}.hardBytes`));
        setField64(v, b, f.sadb_comb_soft_addtime, checkU64(c.softAddtime, `${a}.softAddtime`));
        setField64(v, b, f.sadb_comb_hard_addtime, checkU64(c.hardAddtime, `${a}.hardAddtime`));
        setField64(v, b, f.sadb_comb_soft_usetime, checkU64(c.softUsetime, `${a}.softUsetime`));
        setField64(v, b, f.sadb_comb_hard_usetime, checkU64(c.hardUsetime, `${a}.hardUsetime`));
      });
      return bytes;
    }
    case 'supportedAuth':
    case 'supportedEncrypt': {
      const e = ext[key]!;
      const { bytes, v } = extension(key, SADB_SUPPORTED_L.size + SADB_ALG_L.size * e.algs.length);
      const f = SADB_ALG_L.fields;
      e.algs.forEach((alg, i) => {
        const b = SADB_SUPPORTED_L.size + SADB_ALG_L.size * i;
        const a = `${arg}.algs[${i}]`;
        setField(v, b, f.sadb_alg_id, checkU8(alg.id, `${a}.id`));
        setField(v, b, f.sadb_alg_ivlen, checkU8(alg.ivlen, `${a}.ivlen`));
        setField(v, b, f.sadb_alg_minbits, checkU16(alg.minbits, `${a}.minbits`));
        setField(v, b, f.sadb_alg_maxbits, checkU16(alg.maxbits, `${a}.maxbits`));
      });
      return bytes;
    }
    case 'spiRange': {
      const e = ext.spiRange!;
      const { bytes, v } = extension(key, SADB_SPIRANGE_L.size);
      setField(v, 0, SADB_SPIRANGE_L.fields.sadb_spirange_min, checkU32(e.min, `${arg}.min`));
      setField(v, 0, SADB_SPIRANGE_L.fields.sadb_spirange_max, checkU32(e.max, `${arg}.max`));
      return bytes;
    }
    case 'kmPrivate': {
      const data = ext.kmPrivate!.data;
      if (data.length % 8 !== 0) throw rangeError(`${arg}.data`, `must be a multiple of 8 octets, got ${data.length}`);
      const { bytes } = extension(key, SADB_X_KMPRIVATE_L.size + data.length);
      bytes.set(data, SADB_X_KMPRIVATE_L.size);
      return bytes;
    }
    case 'policy':
      return encodePolicy(ext.policy!, arg);
    case 'sa2': {
      const e = ext.sa2!;
      const { bytes, v } = extension(key, SADB_X_SA2_L.size);
      const f = SADB_X_SA2_L.fields;
      setField(v, 0, f.sadb_x_sa2_mode, checkU8(e.mode, `${arg}.mode`));
      setField(v, 0, f.sadb_x_sa2_sequence, checkU32(e.sequence, `${arg}.sequence`));
      setField(v, 0, f.sadb_x_sa2_reqid, checkU32(e.reqid, `${arg}.reqid`));
      return bytes;
    }
    case 'natTType': {
      const { bytes, v } = extension(key, SADB_X_NAT_T_TYPE_L.size);
      setField(v, 0, SADB_X_NAT_T_TYPE_L.fields.sadb_x_nat_t_type_type, checkU8(ext.natTType!.encapType, `${arg}.encapType`));
      return bytes;
    }
    case 'natTSport':
    case 'natTDport': {
      const { bytes, v } = extension(key, SADB_X_NAT_T_PORT_L.size);
      setField(v, 0, SADB_X_NAT_T_PORT_L.fields.sadb_x_nat_t_port_port, checkU16(ext[key]!.port, `${arg}.port`));
      return bytes;
    }
    case 'secCtx': {
      const e = ext.secCtx!;
      checkU16(e.context.length, `${arg}.context.length`);
      const { bytes, v } = extension(key, pfkeyAlign8(SADB_X_SEC_CTX_L.size + e.context.length));
      const f = SADB_X_SEC_CTX_L.fields;
      setField(v, 0, f.sadb_x_ctx_alg, checkU8(e.alg, `${arg}.alg`));
      setField(v, 0, f.sadb_x_ctx_doi, checkU8(e.doi, `${arg}.doi`));
      setField(v, 0, f.sadb_x_ctx_len, e.context.length);
      bytes.set(e.context, SADB_X_SEC_CTX_L.size);
      return bytes;
    }
    case 'kmAddress':
      return encodeKmAddress(ext.kmAddress!, arg);
    case 'filter': {
      const e = ext.filter!;
      if (e.saddr.length !== 16 || e.daddr.length !== 16) throw rangeError(arg, 'saddr and daddr must be 16 octets');
      const { bytes, v } = extension(key, SADB_X_FILTER_L.size);
      const f = SADB_X_FILTER_L.fields;
      bytes.set(e.saddr, f.sadb_x_filter_saddr[0]);
      bytes.set(e.daddr, f.sadb_x_filter_daddr[0]);
      setField(v, 0, f.sadb_x_filter_family, checkU16(e.family, `${arg}.family`));
      setField(v, 0, f.sadb_x_filter_splen, checkU8(e.splen, `${arg}.splen`));
      setField(v, 0, f.sadb_x_filter_dplen, checkU8(e.dplen, `${arg}.dplen`));
      return bytes;
    }
  }
}

function encodeLifetime(key: ExtKey, e: LifetimeExt, arg: string): Uint8Array {
  const { bytes, v } = extension(key, SADB_LIFETIME_L.size);
  const f = SADB_LIFETIME_L.fields;
  setField(v, 0, f.sadb_lifetime_allocations, checkU32(e.allocations, `${arg}.allocations`));
  setField64(v, 0, f.sadb_lifetime_bytes, checkU64(e.bytes, `${arg}.bytes`));
  setField64(v, 0, f.sadb_lifetime_addtime, checkU64(e.addtime, `${arg}.addtime`));
  setField64(v, 0, f.sadb_lifetime_usetime, checkU64(e.usetime, `${arg}.usetime`));
  return bytes;
}

/** af_key.c: `sadb_address_len = (sizeof(struct sadb_address) + PFKEY_ALIGN8(socklen)) / 8`. */
function encodeAddress(key: ExtKey, e: AddressExt, arg: string): Uint8Array {
  const { bytes, v } = extension(key, SADB_ADDRESS_L.size + pfkeyAlign8(sockaddrLength(e.addr)));
  const f = SADB_ADDRESS_L.fields;
  setField(v, 0, f.sadb_address_proto, checkU8(e.proto, `${arg}.proto`));
  const maxPrefix = e.addr.family === 'inet' ? 32 : 128;
  if (!Number.isInteger(e.prefixlen) || e.prefixlen < 0 || e.prefixlen > maxPrefix) {
    throw rangeError(`${arg}.prefixlen`, `must be 0..${maxPrefix}, got ${e.prefixlen}`);
  }
  setField(v, 0, f.sadb_address_prefixlen, e.prefixlen);
  writeSockaddr(v, bytes, SADB_ADDRESS_L.size, e.addr, `${arg}.addr`);
  return bytes;
}

/** RFC 2367 §2.3.3: key bits follow the header, padded to 64 bits (af_key.c `sadb_key_len`). */
function encodeKey(key: ExtKey, e: KeyExt, arg: string): Uint8Array {
  const bits = checkU16(e.bits, `${arg}.bits`);
  const octets = Math.ceil(bits / 8);
  if (e.key.length !== octets) throw rangeError(`${arg}.key`, `must be ceil(bits / 8) = ${octets} octets, got ${e.key.length}`);
  const { bytes, v } = extension(key, SADB_KEY_L.size + pfkeyAlign8(octets));
  setField(v, 0, SADB_KEY_L.fields.sadb_key_bits, bits);
  bytes.set(e.key, SADB_KEY_L.size);
  return bytes;
}

/** RFC 2367 §2.3.5: a NUL-terminated string follows, padded to 64 bits. */
function encodeIdentity(key: ExtKey, e: IdentityExt, arg: string): Uint8Array {
  if (e.identity.includes(0)) throw rangeError(`${arg}.identity`, 'must not contain NUL (it is a C string)');
  const strSize = e.identity.length === 0 ? 0 : pfkeyAlign8(e.identity.length + 1);
  const { bytes, v } = extension(key, SADB_IDENT_L.size + strSize);
  setField(v, 0, SADB_IDENT_L.fields.sadb_ident_type, checkU16(e.identType, `${arg}.identType`));
  setField64(v, 0, SADB_IDENT_L.fields.sadb_ident_id, checkU64(e.id, `${arg}.id`));
  bytes.set(e.identity, SADB_IDENT_L.size);
  return bytes;
}

/** The octets a sockaddr pair takes: af_key.c `pfkey_sockaddr_pair_size` = PFKEY_ALIGN8(2 × socklen). */
function pairSize(src: SockAddr, dst: SockAddr, arg: string): number {
  if (src.family !== dst.family) throw rangeError(arg, `both addresses must be one family, got ${src.family} and ${dst.family}`);
  return pfkeyAlign8(2 * sockaddrLength(src));
}

/**
 * KAME/Linux X_POLICY: the policy header, then each ipsecrequest whose `sadb_x_ipsecrequest_len`
 * counts OCTETS (af_key.c `pfkey_xfrm_policy2msg`, `set_ipsecrequest`).
 */
function encodePolicy(e: PolicyExt, arg: string): Uint8Array {
  const sizes = e.requests.map((r, i) =>
    SADB_X_IPSECREQUEST_L.size + (r.addresses ? pairSize(r.addresses.src, r.addresses.dst, `${arg}.requests[${i}].addresses`) : 0),
  );
  const { bytes, v } = extension('policy', SADB_X_POLICY_L.size + sizes.reduce((a, b) => a + b, 0));
  const f = SADB_X_POLICY_L.fields;
  setField(v, 0, f.sadb_x_policy_type, checkU16(e.policyType, `${arg}.policyType`));
  setField(v, 0, f.sadb_x_policy_dir, checkU8(e.dir, `${arg}.dir`));
  setField(v, 0, f.sadb_x_policy_id, checkU32(e.id, `${arg}.id`));
  setField(v, 0, f.sadb_x_policy_priority, checkU32(e.priority, `${arg}.priority`));
  const r = SADB_X_IPSECREQUEST_L.fields;
  let at = SADB_X_POLICY_L.size;
  e.requests.forEach((req, i) => {
    const a = `${arg}.requests[${i}]`;
    setField(v, at, r.sadb_x_ipsecrequest_len, checkU16(sizes[i]!, `${a}.length`));
    setField(v, at, r.sadb_x_ipsecrequest_proto, checkU16(req.proto, `${a}.proto`));
    setField(v, at, r.sadb_x_ipsecrequest_mode, checkU8(req.mode, `${a}.mode`));
    setField(v, at, r.sadb_x_ipsecrequest_level, checkU8(req.level, `${a}.level`));
    setField(v, at, r.sadb_x_ipsecrequest_reqid, checkU32(req.reqid, `${a}.reqid`));
    if (req.addresses) {
      const p = at + SADB_X_IPSECREQUEST_L.size;
      const n = writeSockaddr(v, bytes, p, req.addresses.src, `${a}.addresses.src`);
      writeSockaddr(v, bytes, p + n, req.addresses.dst, `${a}.addresses.dst`);
    }
    at += sizes[i]!;
  });
  return bytes;
}

/** af_key.c `set_sadb_kmaddress`: header, then local and remote sockaddrs, padded to 8. */
function encodeKmAddress(e: KmAddressExt, arg: string): Uint8Array {
  const { bytes, v } = extension('kmAddress', SADB_X_KMADDRESS_L.size + pairSize(e.local, e.remote, arg));
  setField(v, 0, SADB_X_KMADDRESS_L.fields.sadb_x_kmaddress_reserved, checkU32(e.reserved ?? 0, `${arg}.reserved`));
  const n = writeSockaddr(v, bytes, SADB_X_KMADDRESS_L.size, e.local, `${arg}.local`);
  writeSockaddr(v, bytes, SADB_X_KMADDRESS_L.size + n, e.remote, `${arg}.remote`);
  return bytes;
}
