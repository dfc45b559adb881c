/**
 * A policy as the facts carry it (`PolicyAdded.data.policy`): the SPD's `Policy` with every
 * address as text (RFC 5952 for IPv6), so it is JSON-safe and a log reads like the file it came
 * from. `policyToData` and `policyFromData` are inverses on valid policies.
 */
import { formatIpAddress, parseIpAddress } from './ipText.js';
import type { Policy } from '../spd/types.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const ADDRESS_KEYS = new Set(['address', 'from', 'to', 'src', 'dst']);

function encode(v: unknown, key: string): Json {
  if (v instanceof Uint8Array) return formatIpAddress(v);
  if (Array.isArray(v)) return v.map((x) => encode(x, ''));
  if (typeof v === 'object' && v !== null) {
    const o: Record<string, Json> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = encode(x, k);
    return o;
  }
  void key;
  return v as Json;
}

function decode(v: unknown, key: string, path: string): unknown {
  if (typeof v === 'string' && ADDRESS_KEYS.has(key)) {
    const r = parseIpAddress(v);
    if (!r.ok) throw new RangeError(`${path}: ${r.rule}`);
    return r.value;
  }
  if (Array.isArray(v)) return v.map((x, i) => decode(x, '', `${path}[${i}]`));
  if (typeof v === 'object' && v !== null) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = decode(x, k, `${path}.${k}`);
    return o;
  }
  return v;
}

/**
 * The JSON-safe form of a policy (addresses as text).
 *
 * @example
 * policyToData(spd.get('lan-a-b:out')!) // { id: 'lan-a-b:out', selectors: [{ localAddress: { kind: 'prefix', address: '10.1.0.0', length: 16 }, ... }], ... }
 */
export function policyToData(policy: Policy): Record<string, Json> {
  return encode(policy, '') as Record<string, Json>;
}

/**
 * A policy from its JSON-safe form; throws `RangeError` naming the path of a bad address. The
 * result still wants `validatePolicy` (engine/spd) before use.
 *
 * @example
 * const p = policyFromData(fact.data.policy);
 */
export function policyFromData(data: unknown): Policy {
  // Only the kinds of AddressSelector and the tunnel carry addresses; ports and ICMP use
  // `from`/`to` as numbers, which `decode` leaves alone (it parses strings only).
  return decode(data, '', 'policy') as Policy;
}

/** JSON text with object keys sorted: equal policies give equal text whatever built them. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Whether two policies say the same thing (addresses compared as text, key order ignored).
 *
 * @example
 * samePolicy(spd.get('p')!, compiled) // true: nothing to record
 */
export function samePolicy(a: Policy, b: Policy): boolean {
  return canonicalJson(policyToData(a)) === canonicalJson(policyToData(b));
}
