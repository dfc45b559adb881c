/**
 * PF_KEY SA extensions ↔ `PfKeySa`: reading an UPDATE/ADD with the checks of Linux af_key.c
 * `pfkey_msg2xfrm_state` plus our suites' key sizes, and writing an SA back as Linux
 * `__pfkey_xfrm_state2msg` orders it (SA, lifetimes, addresses, keys, X_SA2, NAT-T).
 */

import { ENCR_SPECS } from '../crypto/suites.js';
import { authBySadb, authByTransform, authKeyOctets, encrBySadb, encrByTransform, encrKeyBits } from './algorithms.js';
import { ERRNO, IPSEC_MODE, SADB_AALG_MAX, SADB_EALG, SADB_EALG_MAX, SADB_SASTATE, SADB_SATYPE } from './constants.js';
import type { PfKeyLifetime, PfKeyProtocol, PfKeySa, PfKeyUsage } from './sadPort.js';
import type { AddressExt, FilterExt, LifetimeExt, PfKeyExtensions, PfKeyMessageOf, SockAddr } from './types.js';

/** `sadb_msg_satype` → protocol, for the two we implement (af_key.c `pfkey_satype2proto`). */
export function protocolOfSatype(satype: number): PfKeyProtocol | undefined {
  return satype === SADB_SATYPE.ESP ? 'esp' : satype === SADB_SATYPE.AH ? 'ah' : undefined;
}
export function satypeOf(protocol: PfKeyProtocol): number {
  return protocol === 'esp' ? SADB_SATYPE.ESP : SADB_SATYPE.AH;
}

/** The address octets of a sockaddr. */
export function addressOf(s: SockAddr): Uint8Array {
  return s.address;
}
/** A port-less sockaddr for 4 or 16 address octets (af_key.c `pfkey_sockaddr_fill` with port 0). */
export function sockaddrOf(address: Uint8Array): SockAddr {
  return address.length === 4 ? { family: 'inet', address, port: 0 } : { family: 'inet6', address, port: 0 };
}
/** af_key.c `present_and_same_family`. */
export function presentAndSameFamily(src: AddressExt | undefined, dst: AddressExt | undefined): boolean {
  return src !== undefined && dst !== undefined && src.addr.family === dst.addr.family;
}

function lifetimeIn(e: LifetimeExt | undefined): PfKeyLifetime | undefined {
  return e && { packets: e.allocations, bytes: e.bytes, addSeconds: e.addtime, useSeconds: e.usetime };
}
function lifetimeOut(l: PfKeyLifetime): LifetimeExt {
  return { allocations: l.packets, bytes: l.bytes, addtime: l.addSeconds, usetime: l.useSeconds };
}

export type SaParse = { ok: true; sa: PfKeySa } | { ok: false; errno: number; reason: string };

const bad = (errno: number, reason: string): SaParse => ({ ok: false, errno, reason });

/**
 * The SA an UPDATE or ADD describes, in state MATURE, or the errno to answer with.
 * RFC 2367 §3.1.2/§3.1.3; Linux `pfkey_msg2xfrm_state` (EINVAL for a missing SA or address, a
 * missing key, hard without soft, out-of-range or keyless algorithms; ENOSYS for algorithms we do
 * not implement) and our suites (EINVAL for a key size the transform does not have).
 */
export function saFromRequest(msg: PfKeyMessageOf<'UPDATE'> | PfKeyMessageOf<'ADD'>, nowMs: number): SaParse {
  const x = msg.ext;
  const s = x.sa;
  if (!s || !presentAndSameFamily(x.addressSrc, x.addressDst)) return bad(ERRNO.EINVAL, 'needs SA and source and destination addresses of one family');
  const protocol = protocolOfSatype(msg.satype);
  if (!protocol) return bad(ERRNO.EINVAL, `satype ${msg.satype} is neither ESP nor AH`);
  if (protocol === 'esp' && !x.keyEncrypt) return bad(ERRNO.EINVAL, 'ESP needs KEY_ENCRYPT');
  if (protocol === 'ah' && !x.keyAuth) return bad(ERRNO.EINVAL, 'AH needs KEY_AUTH');
  if (!!x.lifetimeHard !== !!x.lifetimeSoft) return bad(ERRNO.EINVAL, 'hard and soft lifetimes come together');
  if (s.auth > SADB_AALG_MAX || s.encrypt > SADB_EALG_MAX) return bad(ERRNO.EINVAL, 'algorithm number out of range');
  if (s.spi < 256) return bad(ERRNO.EINVAL, `SPI ${s.spi} is reserved (RFC 4303 §2.1)`);

  const sa: PfKeySa = {
    spi: s.spi,
    protocol,
    src: addressOf(x.addressSrc!.addr),
    dst: addressOf(x.addressDst!.addr),
    state: 'mature',
    mode: 'transport',
    reqid: 0,
    replayWindow: s.replay,
    flags: s.flags,
    addedAtMs: nowMs,
  };
  if (x.sa2) {
    // af_key.c pfkey_mode_to_xfrm: ANY and TRANSPORT are transport; we have no BEET or IP-TFS.
    if (x.sa2.mode === IPSEC_MODE.TUNNEL) sa.mode = 'tunnel';
    else if (x.sa2.mode !== IPSEC_MODE.ANY && x.sa2.mode !== IPSEC_MODE.TRANSPORT) return bad(ERRNO.EINVAL, `mode ${x.sa2.mode} is not supported`);
    sa.reqid = x.sa2.reqid;
  }
  if (protocol === 'ah' && s.encrypt !== 0) return bad(ERRNO.EINVAL, 'AH has no encryption algorithm');

  if (s.auth !== 0) {
    const alg = authBySadb(s.auth);
    if (!alg) return bad(ERRNO.ENOSYS, `authentication algorithm ${s.auth} is not implemented`);
    const key = x.keyAuth;
    if (!key || key.bits === 0) return bad(ERRNO.EINVAL, 'an authentication algorithm needs a KEY_AUTH');
    if (key.bits !== authKeyOctets(alg) * 8) return bad(ERRNO.EINVAL, `KEY_AUTH must be ${authKeyOctets(alg) * 8} bits for algorithm ${s.auth}, got ${key.bits}`);
    sa.integ = { transform: alg.transform, key: key.key };
  } else if (protocol === 'ah') {
    return bad(ERRNO.EINVAL, 'AH needs an authentication algorithm');
  }

  if (protocol === 'esp') {
    const alg = encrBySadb(s.encrypt);
    if (s.encrypt === SADB_EALG.NONE) return bad(ERRNO.EINVAL, 'ESP needs an encryption algorithm (SADB_EALG_NULL for none)');
    if (!alg) return bad(ERRNO.ENOSYS, `encryption algorithm ${s.encrypt} is not implemented`);
    const key = x.keyEncrypt!;
    if (key.bits % 8 !== 0) return bad(ERRNO.EINVAL, `KEY_ENCRYPT of ${key.bits} bits is not whole octets`);
    const keyBits = encrKeyBits(alg, key.key.length);
    if (keyBits === undefined) return bad(ERRNO.EINVAL, `KEY_ENCRYPT of ${key.bits} bits fits no key size of encryption algorithm ${s.encrypt}`);
    const combined = ENCR_SPECS[alg.transform].combinedIcv !== undefined;
    if (combined && sa.integ) return bad(ERRNO.EINVAL, 'a combined-mode algorithm takes no authentication algorithm');
    if (!combined && !sa.integ && s.encrypt === SADB_EALG.NULL) return bad(ERRNO.EINVAL, 'ESP with NULL encryption needs integrity (RFC 4303 §3.2)');
    sa.encr = { transform: alg.transform, keyBits, key: key.key };
  }

  const soft = lifetimeIn(x.lifetimeSoft);
  const hard = lifetimeIn(x.lifetimeHard);
  if (soft) sa.soft = soft;
  if (hard) sa.hard = hard;
  if (x.natTType) sa.natT = { encapType: x.natTType.encapType, srcPort: x.natTSport?.port ?? 0, dstPort: x.natTDport?.port ?? 0 };
  return { ok: true, sa };
}

export interface SaExtOptions {
  /** Include KEY_AUTH/KEY_ENCRYPT (GET and DUMP replies; never UPDATE/ADD replies or EXPIRE). */
  keys: boolean;
  /** Which configured lifetimes to include. */
  lifetimes: 'both' | 'soft' | 'hard' | 'none';
  /** Include LIFETIME_CURRENT. */
  current: boolean;
  /** Include X_SA2. */
  sa2: boolean;
}

const SASTATE = { larval: SADB_SASTATE.LARVAL, mature: SADB_SASTATE.MATURE, dying: SADB_SASTATE.DYING } as const;

/** The `sadb_sa` of an SA. */
export function saExt(sa: PfKeySa): PfKeyExtensions['sa'] {
  return {
    spi: sa.spi,
    replay: Math.min(sa.replayWindow, 0xff), // sadb_sa_replay is a __u8
    state: SASTATE[sa.state],
    auth: sa.integ ? (authByTransform(sa.integ.transform)?.sadb ?? 0) : 0,
    encrypt: sa.encr ? (encrByTransform(sa.encr.transform)?.sadb ?? 0) : 0,
    flags: sa.flags,
  };
}

/** The extensions describing an SA, in Linux `__pfkey_xfrm_state2msg` order. */
export function saExtensions(sa: PfKeySa, usage: PfKeyUsage | undefined, o: SaExtOptions): Partial<PfKeyExtensions> {
  const ext: Partial<PfKeyExtensions> = { sa: saExt(sa) };
  if (sa.hard && (o.lifetimes === 'both' || o.lifetimes === 'hard')) ext.lifetimeHard = lifetimeOut(sa.hard);
  if (sa.soft && (o.lifetimes === 'both' || o.lifetimes === 'soft')) ext.lifetimeSoft = lifetimeOut(sa.soft);
  if (o.current) {
    ext.lifetimeCurrent = {
      allocations: usage?.packets ?? 0,
      bytes: BigInt(usage?.bytes ?? 0),
      addtime: BigInt(Math.floor(sa.addedAtMs / 1000)),
      usetime: BigInt(Math.floor((usage?.firstUsedAtMs ?? 0) / 1000)),
    };
  }
  const prefixlen = sa.src.length * 8;
  ext.addressSrc = { proto: 0, prefixlen, addr: sockaddrOf(sa.src) };
  ext.addressDst = { proto: 0, prefixlen, addr: sockaddrOf(sa.dst) };
  if (o.keys && sa.integ && sa.integ.key.length > 0) ext.keyAuth = { bits: sa.integ.key.length * 8, key: sa.integ.key };
  if (o.keys && sa.encr && sa.encr.key.length > 0) ext.keyEncrypt = { bits: sa.encr.key.length * 8, key: sa.encr.key };
  if (o.sa2) ext.sa2 = { mode: sa.mode === 'tunnel' ? IPSEC_MODE.TUNNEL : IPSEC_MODE.TRANSPORT, sequence: 0, reqid: sa.reqid };
  if (sa.natT) {
    ext.natTType = { encapType: sa.natT.encapType };
    ext.natTSport = { port: sa.natT.srcPort };
    ext.natTDport = { port: sa.natT.dstPort };
  }
  return ext;
}

/**
 * Whether a lifetime bound is reached at `nowMs`: add time, use time (from the first use), bytes
 * or packets, whichever comes first; 0 fields are unlimited (RFC 2367 §2.3.2).
 */
export function lifetimeReached(l: PfKeyLifetime | undefined, sa: PfKeySa, usage: PfKeyUsage | undefined, nowMs: number): boolean {
  if (!l) return false;
  if (l.addSeconds > 0n && nowMs - sa.addedAtMs >= Number(l.addSeconds) * 1000) return true;
  if (l.useSeconds > 0n && usage?.firstUsedAtMs !== undefined && nowMs - usage.firstUsedAtMs >= Number(l.useSeconds) * 1000) return true;
  if (l.bytes > 0n && usage && BigInt(usage.bytes) >= l.bytes) return true;
  return l.packets > 0 && usage !== undefined && usage.packets >= l.packets;
}

function prefixMatch(addr: Uint8Array, prefix: Uint8Array, bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const m = 0x80 >> (i % 8);
    if (((addr[i >> 3] ?? 0) & m) !== ((prefix[i >> 3] ?? 0) & m)) return false;
  }
  return true;
}

/** af_key.c `pfkey_dump` X_FILTER: address family (0 = any) and source/destination prefixes. */
export function matchesFilter(sa: PfKeySa, f: FilterExt): boolean {
  const family = sa.src.length === 4 ? 2 : 10;
  if (f.family !== 0 && f.family !== family) return false;
  return prefixMatch(sa.src, f.saddr, Math.min(f.splen, sa.src.length * 8)) && prefixMatch(sa.dst, f.daddr, Math.min(f.dplen, sa.dst.length * 8));
}
