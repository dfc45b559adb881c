/**
 * Validation of SPD entries (RFC 4301 §4.4.1). Every failure is a `RangeError` whose message
 * starts with the path of the offending field (`policies[3].selectors[0].localPort.from: ...`),
 * so a loader can map it back to a file position.
 */

import { INTEG } from '../crypto/transformIds.js';
import { encrSpec, integSpec } from '../crypto/suites.js';
import { rangeError } from '../errors.js';
import { IPPROTO } from '../packet/ipProtocol.js';
import { REPLAY_WINDOW_MAX, REPLAY_WINDOW_MIN } from '../replay/replayWindow.js';
import { hasPorts } from './selectorFields.js';
import type {
  AddressSelector,
  IcmpSelector,
  LifetimeLimits,
  MhTypeSelector,
  Policy,
  PortSelector,
  ProtectParams,
  ProtocolSelector,
  Selector,
} from './types.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isOctets = (v: unknown): v is Uint8Array => v instanceof Uint8Array && (v.length === 4 || v.length === 16);
const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

function oneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): asserts value is T {
  if (!allowed.includes(value as T)) throw rangeError(path, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${String(value)}`);
}

/**
 * Compares two equal-length addresses as unsigned big-endian numbers: < 0, 0 or > 0.
 *
 * @example
 * compareAddresses(range.from, range.to) <= 0 // a well-formed range
 */
export function compareAddresses(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Octet length (4 or 16) an address selector fixes, or 0 for ANY and OPAQUE.
 *
 * @example
 * addressFamilyLength({ kind: 'prefix', address: net6, length: 48 }) // 16
 */
export function addressFamilyLength(s: AddressSelector): 0 | 4 | 16 {
  switch (s.kind) {
    case 'single': case 'prefix': return s.address.length as 4 | 16;
    case 'range': return s.from.length as 4 | 16;
    default: return 0;
  }
}

function validateAddress(s: AddressSelector, path: string): void {
  if (!isObject(s)) throw rangeError(path, 'must be an address selector object');
  oneOf(s.kind, ['any', 'single', 'prefix', 'range', 'opaque'] as const, `${path}.kind`);
  if (s.kind === 'single' || s.kind === 'prefix') {
    if (!isOctets(s.address)) throw rangeError(`${path}.address`, 'must be a Uint8Array of 4 (IPv4) or 16 (IPv6) octets');
  }
  if (s.kind === 'prefix') {
    const bits = s.address.length * 8;
    if (!isInt(s.length, 0, bits)) throw rangeError(`${path}.length`, `must be an integer in 0..${bits} for IPv${bits === 32 ? 4 : 6}, got ${s.length}`);
    for (let bit = s.length; bit < bits; bit++) {
      if ((s.address[bit >> 3]! >> (7 - (bit & 7))) & 1) throw rangeError(`${path}.address`, `has host bits set beyond /${s.length}`);
    }
  }
  if (s.kind === 'range') {
    if (!isOctets(s.from)) throw rangeError(`${path}.from`, 'must be a Uint8Array of 4 (IPv4) or 16 (IPv6) octets');
    if (!isOctets(s.to) || s.to.length !== s.from.length) throw rangeError(`${path}.to`, `must be a Uint8Array of ${s.from.length} octets, like from`);
    if (compareAddresses(s.from, s.to) > 0) throw rangeError(`${path}.from`, 'must not exceed to');
  }
}

function validateRange(s: PortSelector | MhTypeSelector, max: number, path: string): void {
  if (!isObject(s)) throw rangeError(path, 'must be a selector object');
  oneOf(s.kind, ['any', 'range', 'opaque'] as const, `${path}.kind`);
  if (s.kind !== 'range') return;
  if (!isInt(s.from, 0, max)) throw rangeError(`${path}.from`, `must be an integer in 0..${max}, got ${s.from}`);
  if (!isInt(s.to, 0, max)) throw rangeError(`${path}.to`, `must be an integer in 0..${max}, got ${s.to}`);
  if (s.from > s.to) throw rangeError(`${path}.from`, `must not exceed to (${s.from} > ${s.to}: reversed range)`);
}

function validateIcmp(s: IcmpSelector, path: string): void {
  if (!isObject(s)) throw rangeError(path, 'must be a selector object');
  oneOf(s.kind, ['any', 'range', 'opaque'] as const, `${path}.kind`);
  if (s.kind !== 'range') return;
  for (const end of ['from', 'to'] as const) {
    const tc = s[end];
    if (!isObject(tc)) throw rangeError(`${path}.${end}`, 'must be { type, code }');
    if (!isInt(tc.type, 0, 255)) throw rangeError(`${path}.${end}.type`, `must be an integer in 0..255, got ${tc.type}`);
    if (!isInt(tc.code, 0, 255)) throw rangeError(`${path}.${end}.code`, `must be an integer in 0..255, got ${tc.code}`);
  }
  // RFC 4301 §4.4.1.1: the range is over type × 256 + code.
  if (s.from.type * 256 + s.from.code > s.to.type * 256 + s.to.code) throw rangeError(`${path}.from`, 'must not exceed to (type × 256 + code)');
}

function validateProtocol(s: ProtocolSelector, path: string): void {
  if (!isObject(s)) throw rangeError(path, 'must be a selector object');
  oneOf(s.kind, ['any', 'number', 'opaque'] as const, `${path}.kind`);
  if (s.kind === 'number' && !isInt(s.value, 0, 255)) throw rangeError(`${path}.value`, `must be an integer in 0..255, got ${s.value}`);
}

/**
 * Validates one selector set; `path` prefixes every error. Besides each field's own range, it
 * refuses selectors that could never match: mixed address families (RFC 4301 §4.4.1.1), a port
 * range with a protocol that has no ports, an ICMP range with a protocol other than ICMP/ICMPv6,
 * an MH type range with a protocol other than MH.
 *
 * @example
 * validateSelector(sel, 'policies[0].selectors[1]');
 */
export function validateSelector(s: Selector, path = 'selector'): void {
  if (!isObject(s)) throw rangeError(path, 'must be a selector object');
  validateAddress(s.localAddress, `${path}.localAddress`);
  validateAddress(s.remoteAddress, `${path}.remoteAddress`);
  const l = addressFamilyLength(s.localAddress);
  const r = addressFamilyLength(s.remoteAddress);
  if (l !== 0 && r !== 0 && l !== r) throw rangeError(`${path}.remoteAddress`, `must be the same address family as localAddress (IPv${l === 4 ? 4 : 6}); RFC 4301 §4.4.1.1 forbids mixing`);
  validateProtocol(s.protocol, `${path}.protocol`);
  validateRange(s.localPort, 0xffff, `${path}.localPort`);
  validateRange(s.remotePort, 0xffff, `${path}.remotePort`);
  const proto = s.protocol.kind === 'number' ? s.protocol.value : undefined;
  for (const side of ['localPort', 'remotePort'] as const) {
    if (s[side].kind === 'range' && proto !== undefined && !hasPorts(proto)) throw rangeError(`${path}.${side}`, `a port range needs a protocol with ports (TCP, UDP, SCTP, ...), not ${proto}`);
  }
  if (s.icmp !== undefined) {
    validateIcmp(s.icmp, `${path}.icmp`);
    if (s.icmp.kind === 'range' && proto !== undefined && proto !== IPPROTO.ICMP && proto !== IPPROTO.ICMPV6) throw rangeError(`${path}.icmp`, `needs protocol ICMP (1), ICMPv6 (58) or ANY, not ${proto}`);
  }
  if (s.mhType !== undefined) {
    validateRange(s.mhType, 0xff, `${path}.mhType`);
    if (s.mhType.kind === 'range' && proto !== undefined && proto !== IPPROTO.MH) throw rangeError(`${path}.mhType`, `needs protocol MH (135) or ANY, not ${proto}`);
  }
}

function validateLimits(l: LifetimeLimits, path: string): void {
  if (!isObject(l)) throw rangeError(path, 'must be an object { timeMs?, bytes?, packets? }');
  for (const k of ['timeMs', 'bytes', 'packets'] as const) {
    const v = l[k];
    if (v !== undefined && !isInt(v, 1, Number.MAX_SAFE_INTEGER)) throw rangeError(`${path}.${k}`, `must be a positive safe integer or absent, got ${v}`);
  }
}

/**
 * Validates the PROTECT parameters (RFC 4301 §4.4.1.2 "Processing info").
 *
 * @example
 * validateProtect(policy.protect, 'policy.protect');
 */
export function validateProtect(p: ProtectParams, path = 'protect'): void {
  if (!isObject(p)) throw rangeError(path, 'must be an object (required when action is protect)');
  oneOf(p.mode, ['tunnel', 'transport'] as const, `${path}.mode`);
  if (p.mode === 'tunnel') {
    if (!isObject(p.tunnel)) throw rangeError(`${path}.tunnel`, 'required in tunnel mode (endpoints src and dst)');
    if (!isOctets(p.tunnel.src)) throw rangeError(`${path}.tunnel.src`, 'must be a Uint8Array of 4 or 16 octets');
    if (!isOctets(p.tunnel.dst) || p.tunnel.dst.length !== p.tunnel.src.length) throw rangeError(`${path}.tunnel.dst`, `must be a Uint8Array of ${p.tunnel.src.length} octets, like src`);
  } else if (p.tunnel !== undefined) {
    throw rangeError(`${path}.tunnel`, 'must be absent in transport mode');
  }
  oneOf(p.protocol, ['esp', 'ah'] as const, `${path}.protocol`);
  if (!Array.isArray(p.proposals) || p.proposals.length === 0) throw rangeError(`${path}.proposals`, 'must be a non-empty array');
  p.proposals.forEach((proposal: unknown, i: number) => {
    const at = `${path}.proposals[${i}]`;
    try {
      if (p.protocol === 'ah') {
        // RFC 4302 §2.6: AH always has an integrity algorithm.
        if (proposal === INTEG.NONE) throw rangeError('integ', 'AH needs an integrity transform, not NONE');
        integSpec(proposal as number);
        return;
      }
      if (!isObject(proposal)) throw rangeError('suite', 'must be { encr, encrKeyBits?, integ }');
      const { spec } = encrSpec(proposal.encr as number, proposal.encrKeyBits as number | undefined);
      // RFC 4303 §3.2: combined modes carry their own ICV; otherwise an integrity transform is
      // required (RFC 8221 §5: ESP without integrity MUST NOT be used).
      if (spec.combinedIcv !== undefined) {
        if (proposal.integ !== INTEG.NONE) throw rangeError('integ', 'must be NONE with a combined-mode transform');
      } else {
        if (proposal.integ === INTEG.NONE) throw rangeError('integ', 'is required with a non-combined transform');
        integSpec(proposal.integ as number);
      }
    } catch (e) {
      throw e instanceof RangeError ? new RangeError(`${at}.${e.message}`) : e;
    }
  });
  if (!isObject(p.lifetimes)) throw rangeError(`${path}.lifetimes`, 'must be { soft, hard }');
  validateLimits(p.lifetimes.soft, `${path}.lifetimes.soft`);
  validateLimits(p.lifetimes.hard, `${path}.lifetimes.hard`);
  for (const k of ['timeMs', 'bytes', 'packets'] as const) {
    const soft = p.lifetimes.soft[k];
    const hard = p.lifetimes.hard[k];
    if (soft !== undefined && hard !== undefined && soft > hard) throw rangeError(`${path}.lifetimes.soft.${k}`, `must not exceed the hard limit (${soft} > ${hard})`);
  }
  if (!(p.replayWindow === 0 || isInt(p.replayWindow, REPLAY_WINDOW_MIN, REPLAY_WINDOW_MAX))) throw rangeError(`${path}.replayWindow`, `must be 0 or an integer in ${REPLAY_WINDOW_MIN}..${REPLAY_WINDOW_MAX}, got ${p.replayWindow}`);
  if (typeof p.esn !== 'boolean') throw rangeError(`${path}.esn`, `must be a boolean, got ${String(p.esn)}`);
  // RFC 4303 App. A2: the high sequence bits are inferred from the window.
  if (p.esn && p.replayWindow === 0) throw rangeError(`${path}.esn`, 'must be false when replayWindow is 0');
  oneOf(p.offload, ['none', 'prefer', 'require'] as const, `${path}.offload`);
  if (p.negotiationShunt !== undefined) oneOf(p.negotiationShunt, ['hold', 'drop', 'pass'] as const, `${path}.negotiationShunt`);
  if (p.natT !== undefined && typeof p.natT !== 'boolean') throw rangeError(`${path}.natT`, `must be a boolean or absent, got ${String(p.natT)}`);
}

/**
 * Validates one SPD entry; every error is a `RangeError` naming the field under `path`.
 *
 * @example
 * validatePolicy(p, `policies[${i}]`);
 */
export function validatePolicy(p: Policy, path = 'policy'): void {
  if (!isObject(p)) throw rangeError(path, 'must be a policy object');
  if (typeof p.id !== 'string' || p.id.length === 0) throw rangeError(`${path}.id`, 'must be a non-empty string');
  if (!(typeof p.priority === 'number' && Number.isSafeInteger(p.priority))) throw rangeError(`${path}.priority`, `must be a safe integer, got ${String(p.priority)}`);
  oneOf(p.direction, ['outbound', 'inbound'] as const, `${path}.direction`);
  oneOf(p.action, ['protect', 'bypass', 'discard'] as const, `${path}.action`);
  if (!Array.isArray(p.selectors) || p.selectors.length === 0) throw rangeError(`${path}.selectors`, 'must be a non-empty array of selector sets');
  p.selectors.forEach((s, i) => validateSelector(s, `${path}.selectors[${i}]`));
  if (p.action === 'protect') validateProtect(p.protect as ProtectParams, `${path}.protect`);
  else if (p.protect !== undefined) throw rangeError(`${path}.protect`, `must be absent when action is '${p.action}'`);
}

/**
 * Validates a whole policy set: each policy, and that ids are unique.
 *
 * @example
 * validatePolicies(loaded); // throws RangeError 'policies[7].id: duplicate ...'
 */
export function validatePolicies(policies: readonly Policy[], path = 'policies'): void {
  if (!Array.isArray(policies)) throw rangeError(path, 'must be an array of policies');
  const seen = new Map<string, number>();
  policies.forEach((p, i) => {
    validatePolicy(p, `${path}[${i}]`);
    const first = seen.get(p.id);
    if (first !== undefined) throw rangeError(`${path}[${i}].id`, `duplicate id '${p.id}' (first at ${path}[${first}])`);
    seen.set(p.id, i);
  });
}
