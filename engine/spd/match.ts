/**
 * Selector matching as RFC 4301 §4.4.1.1 states it, one field at a time: the readable
 * definition. The SPD's classifier (./classifier.ts) compiles the same rules into numbers and
 * must agree with these functions on every packet.
 */

import { compareAddresses } from './validate.js';
import { OPAQUE, type AddressSelector, type Policy, type Selector, type SelectorFields } from './types.js';

/**
 * True when `address` (4 or 16 octets) is in the selector. ANY matches both families; an
 * address of the other family never matches; OPAQUE never matches (addresses are always there).
 *
 * @example
 * addressMatches({ kind: 'prefix', address: net, length: 24 }, fields.remoteAddress)
 */
export function addressMatches(s: AddressSelector, address: Uint8Array): boolean {
  switch (s.kind) {
    case 'any':
      return true;
    case 'opaque':
      return false;
    case 'single':
      return s.address.length === address.length && compareAddresses(s.address, address) === 0;
    case 'range':
      return s.from.length === address.length && compareAddresses(s.from, address) <= 0 && compareAddresses(address, s.to) <= 0;
    case 'prefix': {
      if (s.address.length !== address.length) return false;
      const whole = s.length >> 3;
      for (let i = 0; i < whole; i++) if (s.address[i] !== address[i]) return false;
      const rest = s.length & 7;
      if (rest === 0) return true;
      const mask = (0xff << (8 - rest)) & 0xff;
      return ((s.address[whole]! ^ address[whole]!) & mask) === 0;
    }
  }
}

/** ANY matches every value, OPAQUE included; OPAQUE only OPAQUE; a range only values in it. */
function rangeMatches(s: { kind: 'any' } | { kind: 'opaque' } | { kind: 'range'; from: number; to: number }, value: number): boolean {
  if (s.kind === 'any') return true;
  if (s.kind === 'opaque') return value === OPAQUE;
  return value !== OPAQUE && s.from <= value && value <= s.to;
}

/**
 * True when the packet's fields match every field of the selector set (RFC 4301 §4.4.1.2).
 * Fields whose addresses are not both 4 or both 16 octets match no selector.
 *
 * @example
 * policy.selectors.some((s) => selectorMatches(s, fields))
 */
export function selectorMatches(s: Selector, f: SelectorFields): boolean {
  // A packet has one address family (RFC 4301 §4.4.1.1); other fields match nothing.
  const n = f.localAddress.length;
  if (n !== f.remoteAddress.length || (n !== 4 && n !== 16)) return false;
  if (!addressMatches(s.localAddress, f.localAddress) || !addressMatches(s.remoteAddress, f.remoteAddress)) return false;
  const p = s.protocol;
  if (p.kind === 'number' ? f.protocol !== p.value : p.kind === 'opaque' && f.protocol !== OPAQUE) return false;
  if (!rangeMatches(s.localPort, f.localPort) || !rangeMatches(s.remotePort, f.remotePort)) return false;
  const icmp = s.icmp;
  if (icmp !== undefined) {
    const r = icmp.kind === 'range' ? { kind: 'range' as const, from: icmp.from.type * 256 + icmp.from.code, to: icmp.to.type * 256 + icmp.to.code } : icmp;
    if (!rangeMatches(r, f.icmp)) return false;
  }
  return s.mhType === undefined || rangeMatches(s.mhType, f.mhType);
}

/**
 * True when the packet matches any selector set of the policy.
 *
 * @example
 * policyMatches(policy, fields)
 */
export function policyMatches(policy: Policy, f: SelectorFields): boolean {
  for (const s of policy.selectors) if (selectorMatches(s, f)) return true;
  return false;
}
