/**
 * PF_KEY v2 decoder. It applies the checks of Linux af_key.c — `pfkey_get_base_msg` (version,
 * type, length), `parse_exthdrs` (zero length, overrun, reserved type, duplicates),
 * `verify_address_len`, `verify_key_len`, `verify_sec_ctx_len`, `parse_ipsecrequests`,
 * `parse_sockaddr_pair` — plus RFC 2367 §3.1 (which extensions each message carries), and is
 * stricter where Linux silently ignores: fixed-size extensions must be exactly their struct
 * size, variable ones exactly what their contents need, and unknown extension types are refused
 * (pass `{ unknownExtensions: 'ignore' }` for RFC 2367 §2.3's "MUST be ignored").
 * Malformed input is a value (`{ ok: false, error }`), never an exception.
 */

import { PF_KEY_V2, SADB_EXT_MAX, msgTypeName } from './constants.js';
import {
  getField,
  getField64,
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
} from './layout.js';
import { readSockaddr } from './sockaddr.js';
import {
  ALLOWED_EXTENSIONS,
  EXT_KEY_BY_NUMBER,
  type AddressExt,
  type Comb,
  type ExtKey,
  type IpsecRequest,
  type LifetimeExt,
  type PfKeyDecodeError,
  type PfKeyDecodeResult,
  type PfKeyErrorCode,
  type PfKeyExtensions,
  type PfKeyMessage,
  type SockAddr,
} from './types.js';

export interface DecodeOptions {
  /** `'reject'` (default): an extension type past SADB_EXT_MAX is an error; `'ignore'`: skip it. */
  unknownExtensions?: 'reject' | 'ignore';
}

/** Internal early exit; caught in `decodePfKey` only (any other exception is a bug and propagates). */
class Fail {
  constructor(
    readonly code: PfKeyErrorCode,
    readonly message: string,
    readonly offset: number,
  ) {}
}
function fail(code: PfKeyErrorCode, message: string, offset: number): never {
  throw new Fail(code, message, offset);
}

/**
 * Decodes one PF_KEY v2 message occupying all of `bytes`. The result copies what it keeps
 * (keys, addresses), so `bytes` may be reused after the call.
 *
 * @example
 * const r = decodePfKey(bytes);
 * if (r.ok && r.msg.type === 'GETSPI') console.log(r.msg.ext.spiRange);
 * else if (!r.ok) console.log(r.error.code, r.error.offset);
 */
export function decodePfKey(bytes: Uint8Array, options: DecodeOptions = {}): PfKeyDecodeResult {
  if (bytes.length < SADB_MSG_L.size) {
    return { ok: false, error: { code: 'truncated', message: `sadb_msg needs 16 octets, got ${bytes.length}`, offset: 0 } };
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const f = SADB_MSG_L.fields;
  const header = {
    type: getField(v, 0, f.sadb_msg_type),
    satype: getField(v, 0, f.sadb_msg_satype),
    seq: getField(v, 0, f.sadb_msg_seq),
    pid: getField(v, 0, f.sadb_msg_pid),
  };
  try {
    return { ok: true, msg: decodeMessage(v, bytes, options) };
  } catch (e) {
    if (!(e instanceof Fail)) throw e;
    const error: PfKeyDecodeError = { code: e.code, message: e.message, offset: e.offset, header };
    return { ok: false, error };
  }
}

function decodeMessage(v: DataView, bytes: Uint8Array, options: DecodeOptions): PfKeyMessage {
  const f = SADB_MSG_L.fields;
  const version = getField(v, 0, f.sadb_msg_version);
  if (version !== PF_KEY_V2) fail('badVersion', `sadb_msg_version ${version}, expected ${PF_KEY_V2}`, f.sadb_msg_version[0]);
  const typeNumber = getField(v, 0, f.sadb_msg_type);
  const type = msgTypeName(typeNumber);
  if (type === undefined) fail('badType', `sadb_msg_type ${typeNumber} is reserved or unknown`, f.sadb_msg_type[0]);
  const words = getField(v, 0, f.sadb_msg_len);
  if (words * 8 !== bytes.length) {
    fail('lengthMismatch', `sadb_msg_len ${words} words = ${words * 8} octets, message is ${bytes.length}`, f.sadb_msg_len[0]);
  }
  const msg = {
    type,
    satype: getField(v, 0, f.sadb_msg_satype),
    errno: getField(v, 0, f.sadb_msg_errno),
    seq: getField(v, 0, f.sadb_msg_seq),
    pid: getField(v, 0, f.sadb_msg_pid),
    ext: {},
  } as PfKeyMessage;
  const reserved = getField(v, 0, f.sadb_msg_reserved);
  if (reserved !== 0) msg.reserved = reserved;
  if (msg.type === 'X_PROMISC') {
    // KAME key_promisc: what follows the base header is a whole message, passed on opaque.
    msg.payload = bytes.slice(SADB_MSG_L.size);
    return msg;
  }

  const allowed = ALLOWED_EXTENSIONS[type] as readonly ExtKey[];
  const ext = msg.ext as Partial<PfKeyExtensions>;
  let at = SADB_MSG_L.size;
  while (at < bytes.length) {
    // The message length is a multiple of 8, so at least one 8-octet word is left here.
    const extWords = getField(v, at, SADB_EXT_L.fields.sadb_ext_len);
    const extType = getField(v, at, SADB_EXT_L.fields.sadb_ext_type);
    if (extWords === 0) fail('extZeroLength', `extension type ${extType} has sadb_ext_len 0`, at);
    const len = extWords * 8;
    if (at + len > bytes.length) fail('extOverrun', `extension type ${extType} of ${len} octets runs ${at + len - bytes.length} past the end`, at);
    if (extType === 0) fail('extReservedType', 'extension type SADB_EXT_RESERVED (0)', at + 2);
    if (extType > SADB_EXT_MAX) {
      if (options.unknownExtensions === 'ignore') {
        at += len;
        continue;
      }
      fail('unknownExtension', `extension type ${extType} is past SADB_EXT_MAX (${SADB_EXT_MAX})`, at + 2);
    }
    const key = EXT_KEY_BY_NUMBER[extType]!;
    if (ext[key] !== undefined) fail('duplicateExtension', `extension ${key} (${extType}) appears twice`, at);
    if (!allowed.includes(key)) fail('extNotAllowed', `extension ${key} (${extType}) is not carried by ${type}`, at);
    (ext as Record<ExtKey, unknown>)[key] = decodeExtension(key, v, bytes, at, len);
    at += len;
  }
  return msg;
}

function exactLength(key: ExtKey, at: number, len: number, size: number): void {
  if (len !== size) fail('badExtLength', `${key} must be ${size} octets, sadb_ext_len says ${len}`, at);
}

function decodeExtension(key: ExtKey, v: DataView, bytes: Uint8Array, at: number, len: number): PfKeyExtensions[ExtKey] {
  switch (key) {
    case 'sa': {
      exactLength(key, at, len, SADB_SA_L.size);
      const f = SADB_SA_L.fields;
      return {
        spi: getField(v, at, f.sadb_sa_spi),
        replay: getField(v, at, f.sadb_sa_replay),
        state: getField(v, at, f.sadb_sa_state),
        auth: getField(v, at, f.sadb_sa_auth),
        encrypt: getField(v, at, f.sadb_sa_encrypt),
        flags: getField(v, at, f.sadb_sa_flags),
      };
    }
    case 'lifetimeCurrent':
    case 'lifetimeHard':
    case 'lifetimeSoft': {
      exactLength(key, at, len, SADB_LIFETIME_L.size);
      const f = SADB_LIFETIME_L.fields;
      const e: LifetimeExt = {
        allocations: getField(v, at, f.sadb_lifetime_allocations),
        bytes: getField64(v, at, f.sadb_lifetime_bytes),
        addtime: getField64(v, at, f.sadb_lifetime_addtime),
        usetime: getField64(v, at, f.sadb_lifetime_usetime),
      };
      return e;
    }
    case 'addressSrc':
    case 'addressDst':
    case 'addressProxy':
    case 'natTOa':
      return decodeAddress(key, v, bytes, at, len);
    case 'keyAuth':
    case 'keyEncrypt': {
      // af_key.c verify_key_len: the bits must fit; we also refuse surplus words.
      const bits = getField(v, at, SADB_KEY_L.fields.sadb_key_bits);
      const octets = Math.ceil(bits / 8);
      const need = SADB_KEY_L.size + pfkeyAlign8(octets);
      if (len !== need) fail('badKeyLength', `${key}: ${bits} bits need ${need} octets, sadb_key_len says ${len}`, at + SADB_KEY_L.fields.sadb_key_bits[0]);
      return { bits, key: bytes.slice(at + SADB_KEY_L.size, at + SADB_KEY_L.size + octets) };
    }
    case 'identitySrc':
    case 'identityDst': {
      if (len < SADB_IDENT_L.size) fail('badExtLength', `${key} needs ${SADB_IDENT_L.size} octets, has ${len}`, at);
      const str = bytes.subarray(at + SADB_IDENT_L.size, at + len);
      const nul = str.indexOf(0);
      return {
        identType: getField(v, at, SADB_IDENT_L.fields.sadb_ident_type),
        id: getField64(v, at, SADB_IDENT_L.fields.sadb_ident_id),
        identity: str.slice(0, nul < 0 ? str.length : nul),
      };
    }
    case 'sensitivity': {
      if (len < SADB_SENS_L.size) fail('badExtLength', `${key} needs ${SADB_SENS_L.size} octets, has ${len}`, at);
      const f = SADB_SENS_L.fields;
      const sensLen = getField(v, at, f.sadb_sens_sens_len);
      const integLen = getField(v, at, f.sadb_sens_integ_len);
      const need = SADB_SENS_L.size + 8 * (sensLen + integLen);
      if (len !== need) fail('badExtLength', `sensitivity with ${sensLen}+${integLen} bitmap words is ${need} octets, sadb_ext_len says ${len}`, at);
      const word = (i: number) => v.getBigUint64(at + SADB_SENS_L.size + 8 * i, true);
      return {
        dpd: getField(v, at, f.sadb_sens_dpd),
        sensLevel: getField(v, at, f.sadb_sens_sens_level),
        integLevel: getField(v, at, f.sadb_sens_integ_level),
        sensBitmap: Array.from({ length: sensLen }, (_, i) => word(i)),
        integBitmap: Array.from({ length: integLen }, (_, i) => word(sensLen + i)),
      };
    }
    case 'proposal': {
      if (len < SADB_PROP_L.size || (len - SADB_PROP_L.size) % SADB_COMB_L.size !== 0) {
        fail('badExtLength', `proposal must be 8 + 72 × n octets, is ${len}`, at);
      }
      const combs: Comb[] = [];
      for (let b = at + SADB_PROP_L.size; b < at + len; b += SADB_COMB_L.size) combs.push(decodeComb(v, b));
      return { replay: getField(v, at, SADB_PROP_L.fields.sadb_prop_replay), combs };
    }
    case 'supportedAuth':
    case 'supportedEncrypt': {
      // len is a multiple of 8 = sizeof(struct sadb_alg): the algs always tile it.
      const algs = [];
      const f = SADB_ALG_L.fields;
      for (let b = at + SADB_SUPPORTED_L.size; b < at + len; b += SADB_ALG_L.size) {
        algs.push({
          id: getField(v, b, f.sadb_alg_id),
          ivlen: getField(v, b, f.sadb_alg_ivlen),
          minbits: getField(v, b, f.sadb_alg_minbits),
          maxbits: getField(v, b, f.sadb_alg_maxbits),
        });
      }
      return { algs };
    }
    case 'spiRange':
      exactLength(key, at, len, SADB_SPIRANGE_L.size);
      return {
        min: getField(v, at, SADB_SPIRANGE_L.fields.sadb_spirange_min),
        max: getField(v, at, SADB_SPIRANGE_L.fields.sadb_spirange_max),
      };
    case 'kmPrivate':
      return { data: bytes.slice(at + SADB_X_KMPRIVATE_L.size, at + len) };
    case 'policy':
      return decodePolicy(v, bytes, at, len);
    case 'sa2': {
      exactLength(key, at, len, SADB_X_SA2_L.size);
      const f = SADB_X_SA2_L.fields;
      return { mode: getField(v, at, f.sadb_x_sa2_mode), sequence: getField(v, at, f.sadb_x_sa2_sequence), reqid: getField(v, at, f.sadb_x_sa2_reqid) };
    }
    case 'natTType':
      exactLength(key, at, len, SADB_X_NAT_T_TYPE_L.size);
      return { encapType: getField(v, at, SADB_X_NAT_T_TYPE_L.fields.sadb_x_nat_t_type_type) };
    case 'natTSport':
    case 'natTDport':
      exactLength(key, at, len, SADB_X_NAT_T_PORT_L.size);
      return { port: getField(v, at, SADB_X_NAT_T_PORT_L.fields.sadb_x_nat_t_port_port) };
    case 'secCtx': {
      // af_key.c verify_sec_ctx_len: sadb_x_sec_len must be exactly DIV_ROUND_UP(8 + ctx_len, 8).
      const f = SADB_X_SEC_CTX_L.fields;
      const ctxLen = getField(v, at, f.sadb_x_ctx_len);
      const need = pfkeyAlign8(SADB_X_SEC_CTX_L.size + ctxLen);
      if (len !== need) fail('badExtLength', `sec_ctx with ${ctxLen} context octets is ${need} octets, sadb_ext_len says ${len}`, at + f.sadb_x_ctx_len[0]);
      return {
        alg: getField(v, at, f.sadb_x_ctx_alg),
        doi: getField(v, at, f.sadb_x_ctx_doi),
        context: bytes.slice(at + SADB_X_SEC_CTX_L.size, at + SADB_X_SEC_CTX_L.size + ctxLen),
      };
    }
    case 'kmAddress': {
      const body = at + SADB_X_KMADDRESS_L.size;
      const pair = decodePair(v, bytes, body, len - SADB_X_KMADDRESS_L.size, at, 'badSockaddr');
      if (len !== SADB_X_KMADDRESS_L.size + pair.size) fail('badExtLength', `kmaddress with this pair is ${SADB_X_KMADDRESS_L.size + pair.size} octets, sadb_ext_len says ${len}`, at);
      const reserved = getField(v, at, SADB_X_KMADDRESS_L.fields.sadb_x_kmaddress_reserved);
      return { ...(reserved !== 0 ? { reserved } : {}), local: pair.src, remote: pair.dst };
    }
    case 'filter': {
      exactLength(key, at, len, SADB_X_FILTER_L.size);
      const f = SADB_X_FILTER_L.fields;
      return {
        saddr: bytes.slice(at + f.sadb_x_filter_saddr[0], at + f.sadb_x_filter_saddr[0] + 16),
        daddr: bytes.slice(at + f.sadb_x_filter_daddr[0], at + f.sadb_x_filter_daddr[0] + 16),
        family: getField(v, at, f.sadb_x_filter_family),
        splen: getField(v, at, f.sadb_x_filter_splen),
        dplen: getField(v, at, f.sadb_x_filter_dplen),
      };
    }
  }
}

/** af_key.c verify_address_len: the length must be exactly the family's, prefixlen in range. */
function decodeAddress(key: ExtKey, v: DataView, bytes: Uint8Array, at: number, len: number): AddressExt {
  const f = SADB_ADDRESS_L.fields;
  const s = readSockaddr(v, bytes, at + SADB_ADDRESS_L.size, len - SADB_ADDRESS_L.size, at);
  if (!s.ok) fail('badSockaddr', `${key}: ${s.message}`, s.offset);
  const need = SADB_ADDRESS_L.size + pfkeyAlign8(s.length);
  if (len !== need) fail('badSockaddr', `${key}: a ${s.addr.family} address extension is ${need} octets, sadb_ext_len says ${len}`, at);
  const prefixlen = getField(v, at, f.sadb_address_prefixlen);
  const max = s.addr.family === 'inet' ? 32 : 128;
  if (prefixlen > max) fail('badPrefixLength', `${key}: prefixlen ${prefixlen} > ${max}`, at + f.sadb_address_prefixlen[0]);
  return { proto: getField(v, at, f.sadb_address_proto), prefixlen, addr: s.addr };
}

/** af_key.c parse_sockaddr_pair: two sockaddrs of one family in PFKEY_ALIGN8(2 × socklen) octets. */
function decodePair(
  v: DataView,
  bytes: Uint8Array,
  at: number,
  avail: number,
  container: number,
  code: PfKeyErrorCode,
): { src: SockAddr; dst: SockAddr; size: number } {
  const src = readSockaddr(v, bytes, at, avail, container);
  if (!src.ok) fail(code, `sockaddr pair: ${src.message}`, src.offset);
  const dst = readSockaddr(v, bytes, at + src.length, avail - src.length, container);
  if (!dst.ok) fail(code, `sockaddr pair: ${dst.message}`, dst.offset);
  if (dst.addr.family !== src.addr.family) fail(code, `sockaddr pair mixes ${src.addr.family} and ${dst.addr.family}`, at + src.length);
  return { src: src.addr, dst: dst.addr, size: pfkeyAlign8(2 * src.length) };
}

/** X_POLICY: header, then ipsecrequests (lengths in octets) tiling the rest exactly. */
function decodePolicy(v: DataView, bytes: Uint8Array, at: number, len: number): PfKeyExtensions['policy'] {
  if (len < SADB_X_POLICY_L.size) fail('badExtLength', `policy needs ${SADB_X_POLICY_L.size} octets, has ${len}`, at);
  const f = SADB_X_POLICY_L.fields;
  const r = SADB_X_IPSECREQUEST_L.fields;
  const requests: IpsecRequest[] = [];
  const end = at + len;
  let p = at + SADB_X_POLICY_L.size;
  while (p < end) {
    const rem = end - p;
    if (rem < SADB_X_IPSECREQUEST_L.size) fail('badPolicy', `${rem} octets left after the last ipsecrequest, too few for another`, p);
    const rlen = getField(v, p, r.sadb_x_ipsecrequest_len);
    if (rlen < SADB_X_IPSECREQUEST_L.size || rlen > rem || rlen % 8 !== 0) {
      fail('badPolicy', `sadb_x_ipsecrequest_len ${rlen} is not a multiple of 8 in 16..${rem}`, p);
    }
    const req: IpsecRequest = {
      proto: getField(v, p, r.sadb_x_ipsecrequest_proto),
      mode: getField(v, p, r.sadb_x_ipsecrequest_mode),
      level: getField(v, p, r.sadb_x_ipsecrequest_level),
      reqid: getField(v, p, r.sadb_x_ipsecrequest_reqid),
    };
    if (rlen > SADB_X_IPSECREQUEST_L.size) {
      const pair = decodePair(v, bytes, p + SADB_X_IPSECREQUEST_L.size, rlen - SADB_X_IPSECREQUEST_L.size, p, 'badPolicy');
      if (rlen !== SADB_X_IPSECREQUEST_L.size + pair.size) {
        fail('badPolicy', `ipsecrequest with this address pair is ${SADB_X_IPSECREQUEST_L.size + pair.size} octets, its length says ${rlen}`, p);
      }
      req.addresses = { src: pair.src, dst: pair.dst };
    }
    requests.push(req);
    p += rlen;
  }
  return {
    policyType: getField(v, at, f.sadb_x_policy_type),
    dir: getField(v, at, f.sadb_x_policy_dir),
    id: getField(v, at, f.sadb_x_policy_id),
    priority: getField(v, at, f.sadb_x_policy_priority),
    requests,
  };
}

function decodeComb(v: DataView, b: number): Comb {
  const f = SADB_COMB_L.fields;
  return {
    auth: getField(v, b, f.sadb_comb_auth),
    encrypt: getField(v, b, f.sadb_comb_encrypt),
    flags: getField(v, b, f.sadb_comb_flags),
    authMinbits: getField(v, b, f.sadb_comb_auth_minbits),
    authMaxbits: getField(v, b, f.sadb_comb_auth_maxbits),
    encryptMinbits: getField(v, b, f.sadb_comb_encrypt_minbits),
    encryptMaxbits: getField(v, b, f.sadb_comb_encrypt_maxbits),
    softAllocations: getField(v, b, f.sadb_comb_soft_allocations),
    hardAllocations: getField(v, b, f.sadb_comb_hard_allocations),
    softBytes: getField64(v, b, f.sadb_comb_soft_bytes),
    hardBytes: getField64(v, b, f.sadb_comb_hard_bytes),
    softAddtime: getField64(v, b, f.sadb_comb_soft_addtime),
    hardAddtime: getField64(v, b, f.sadb_comb_hard_addtime),
    softUsetime: getField64(v, b, f.sadb_comb_soft_usetime),
    hardUsetime: getField64(v, b, f.sadb_comb_hard_usetime),
  };
}
