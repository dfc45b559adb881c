/**
 * Compiled selector sets. Each selector set of a policy becomes one `Entry` per address family
 * it can match: a box (an inclusive interval per dimension) that contains every packet it
 * matches, plus the checks the box cannot express (ICMP type/code, MH type, an IPv6 range that
 * is not a product of 32-bit word intervals). Dimensions, all unsigned 32-bit values:
 *   IPv4: local address, remote address, protocol + 1, local port + 1, remote port + 1;
 *   IPv6: local address words 0..3, remote address words 0..3, protocol + 1, ports + 1.
 * (+1 maps OPAQUE, -1, to 0.)
 */

import { readU32 } from '../bytes.js';
import { compareAddresses } from './validate.js';
import type { AddressSelector, Policy, Selector, SelectorFields, SpdDecision } from './types.js';

const WORD = 0x1_0000_0000;
/** Bits of each dimension's domain (every domain is a power of two, for aligned cuts). */
export const DIM_BITS_V4 = [32, 32, 9, 17, 17];
export const DIM_BITS_V6 = [32, 32, 32, 32, 32, 32, 32, 32, 9, 17, 17];
/** Top of the protocol + 1 (0..256) and port + 1 (0..65536) dimensions: 2^9 - 1, 2^17 - 1. */
const PROTOCOL_TOP = 511;
const PORT_TOP = 0x1ffff;

/** One selector set of one policy, compiled for one address family. */
export interface Entry {
  /** Rank of the policy in lookup order (lower first); shared by a policy's selector sets. */
  readonly order: number;
  /** The policy's insertion number: with `policy.priority` it orders entries across rebuilds. */
  readonly seq: number;
  readonly policy: Policy;
  /** What a match means for the caller (precomputed: lookups allocate nothing). */
  readonly decision: SpdDecision;
  /** Inclusive box, interleaved [lo0, hi0, lo1, hi1, ...]. */
  readonly box: Float64Array;
  readonly icmpLo: number;
  readonly icmpHi: number;
  readonly mhLo: number;
  readonly mhHi: number;
  /** Set when the box alone does not decide: ICMP/MH constraints or an IPv6 range. */
  readonly extra: boolean;
  /** Exact IPv6 ranges to re-check when the word box over-approximates them. */
  readonly localRange?: readonly [Uint8Array, Uint8Array];
  readonly remoteRange?: readonly [Uint8Array, Uint8Array];
  /** Unique per entry, for sharing identical leaves. */
  readonly uid: number;
}

/** Octets of an address: 4 (IPv4) or 16 (IPv6). */
export type Family = 4 | 16;

/** [from, to] of an address selector in `family` (ANY spans it), or undefined if it cannot match. */
function addressBounds(s: AddressSelector, family: Family): [Uint8Array, Uint8Array] | undefined {
  switch (s.kind) {
    case 'any':
      return [new Uint8Array(family), new Uint8Array(family).fill(0xff)];
    case 'opaque':
      return undefined;
    case 'single':
      return s.address.length === family ? [s.address, s.address] : undefined;
    case 'range':
      return s.from.length === family ? [s.from, s.to] : undefined;
    case 'prefix': {
      if (s.address.length !== family) return undefined;
      const to = s.address.slice();
      for (let bit = s.length; bit < family * 8; bit++) to[bit >> 3]! |= 0x80 >> (bit & 7);
      return [s.address, to];
    }
  }
}

/**
 * Writes the word intervals of [from, to] into `box` from dimension `dim0`; returns true when
 * their product is exactly [from, to] (always for IPv4, and for IPv6 singles and prefixes).
 */
function addressBox(from: Uint8Array, to: Uint8Array, box: Float64Array, dim0: number): boolean {
  const words = from.length / 4;
  let k = 0;
  while (k < words - 1 && readU32(from, 4 * k) === readU32(to, 4 * k)) k++;
  let exact = true;
  for (let j = 0; j < words; j++) {
    const a = readU32(from, 4 * j);
    const b = readU32(to, 4 * j);
    if (j <= k) {
      box[2 * (dim0 + j)] = a;
      box[2 * (dim0 + j) + 1] = b;
    } else {
      box[2 * (dim0 + j)] = 0;
      box[2 * (dim0 + j) + 1] = WORD - 1;
      if (a !== 0 || b !== WORD - 1) exact = false;
    }
  }
  return exact;
}

type RangeLike = { kind: 'any' } | { kind: 'opaque' } | { kind: 'range'; from: number; to: number };

/**
 * [lo, hi] over value + 1 (OPAQUE = 0): OPAQUE is [0, 0]; ANY spans the whole power-of-two
 * domain `[0, top]` (values past max + 1 never occur), so that it covers every tree region.
 */
function shiftedBounds(s: RangeLike | undefined, top: number): [number, number] {
  if (s === undefined || s.kind === 'any') return [0, top];
  if (s.kind === 'opaque') return [0, 0];
  return [s.from + 1, s.to + 1];
}

/**
 * Compiles one selector set for one address family, or undefined when it matches no packet of
 * that family. The selector must have passed `validateSelector`; `uid` must be unique among
 * the entries of one classifier.
 *
 * @example
 * const e = compileEntry(policy, rank, seq, policy.selectors[0], 4, { action: 'bypass', policy }, uid++);
 */
export function compileEntry(
  policy: Policy,
  order: number,
  seq: number,
  s: Selector,
  family: Family,
  decision: SpdDecision,
  uid: number,
): Entry | undefined {
  const local = addressBounds(s.localAddress, family);
  const remote = addressBounds(s.remoteAddress, family);
  if (!local || !remote) return undefined;
  const v4 = family === 4;
  const dims = v4 ? 5 : 11;
  const box = new Float64Array(2 * dims);
  const localExact = addressBox(local[0], local[1], box, 0);
  const remoteExact = addressBox(remote[0], remote[1], box, v4 ? 1 : 4);
  const p = v4 ? 2 : 8;
  const proto: [number, number] =
    s.protocol.kind === 'any' ? [0, PROTOCOL_TOP] : s.protocol.kind === 'opaque' ? [0, 0] : [s.protocol.value + 1, s.protocol.value + 1];
  const lp = shiftedBounds(s.localPort, PORT_TOP);
  const rp = shiftedBounds(s.remotePort, PORT_TOP);
  box.set([proto[0], proto[1], lp[0], lp[1], rp[0], rp[1]], 2 * p);
  const icmp = s.icmp;
  const [icmpLo, icmpHi] = shiftedBounds(
    icmp?.kind === 'range' ? { kind: 'range', from: icmp.from.type * 256 + icmp.from.code, to: icmp.to.type * 256 + icmp.to.code } : icmp,
    PORT_TOP,
  );
  const [mhLo, mhHi] = shiftedBounds(s.mhType, PORT_TOP);
  return {
    order,
    seq,
    policy,
    decision,
    box,
    icmpLo,
    icmpHi,
    mhLo,
    mhHi,
    extra: !localExact || !remoteExact || s.icmp !== undefined || s.mhType !== undefined,
    localRange: localExact ? undefined : local,
    remoteRange: remoteExact ? undefined : remote,
    uid,
  };
}

/**
 * The checks beyond the box; `f` is the packet.
 *
 * @example
 * if (inBox && (!e.extra || extraMatches(e, fields))) return e;
 */
export function extraMatches(e: Entry, f: SelectorFields): boolean {
  const icmp = f.icmp + 1;
  const mh = f.mhType + 1;
  if (icmp < e.icmpLo || icmp > e.icmpHi || mh < e.mhLo || mh > e.mhHi) return false;
  const l = e.localRange;
  if (l && (compareAddresses(l[0], f.localAddress) > 0 || compareAddresses(f.localAddress, l[1]) > 0)) return false;
  const r = e.remoteRange;
  return !(r && (compareAddresses(r[0], f.remoteAddress) > 0 || compareAddresses(f.remoteAddress, r[1]) > 0));
}

