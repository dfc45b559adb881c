/**
 * The oracle: a naive linear scan over the policies in (priority, insertion) order, written
 * from RFC 4301 §4.4.1.1 with BigInt address arithmetic. Shares no code with engine/spd.
 */

import type { AddressSelector, Policy, PolicyDirection, Selector, SelectorFields } from '../../../engine/spd/types.js';

const big = (a: Uint8Array): bigint => a.reduce((n, b) => (n << 8n) | BigInt(b), 0n);

function addressIn(s: AddressSelector, a: Uint8Array): boolean {
  if (s.kind === 'any') return true;
  if (s.kind === 'opaque') return false;
  const width = s.kind === 'range' ? s.from.length : s.address.length;
  if (width !== a.length) return false;
  const v = big(a);
  if (s.kind === 'single') return v === big(s.address);
  if (s.kind === 'range') return big(s.from) <= v && v <= big(s.to);
  const host = BigInt(width * 8 - s.length);
  return v >> host === big(s.address) >> host;
}

/** `kind` semantics shared by ports, ICMP and MH: ANY ⊇ OPAQUE; OPAQUE = -1 only; range excludes -1. */
function valueIn(kind: string, from: number, to: number, v: number): boolean {
  if (kind === 'any') return true;
  if (kind === 'opaque') return v === -1;
  return v !== -1 && from <= v && v <= to;
}

export function refSelectorMatches(s: Selector, f: SelectorFields): boolean {
  if (f.localAddress.length !== f.remoteAddress.length || ![4, 16].includes(f.localAddress.length)) return false;
  if (!addressIn(s.localAddress, f.localAddress)) return false;
  if (!addressIn(s.remoteAddress, f.remoteAddress)) return false;
  if (s.protocol.kind === 'number' && s.protocol.value !== f.protocol) return false;
  if (s.protocol.kind === 'opaque' && f.protocol !== -1) return false;
  for (const [sel, v] of [[s.localPort, f.localPort], [s.remotePort, f.remotePort]] as const) {
    if (!valueIn(sel.kind, sel.kind === 'range' ? sel.from : 0, sel.kind === 'range' ? sel.to : 0, v)) return false;
  }
  const i = s.icmp;
  if (i && !valueIn(i.kind, i.kind === 'range' ? (i.from.type << 8) | i.from.code : 0, i.kind === 'range' ? (i.to.type << 8) | i.to.code : 0, f.icmp)) return false;
  const m = s.mhType;
  return !m || valueIn(m.kind, m.kind === 'range' ? m.from : 0, m.kind === 'range' ? m.to : 0, f.mhType);
}

/** A scan over the policies of `direction` in (priority, insertion) order, sorted once. */
export function refScanner(policies: readonly Policy[], direction: PolicyDirection): (f: SelectorFields) => Policy | undefined {
  const ordered = policies
    .map((p, seq) => ({ p, seq }))
    .filter(({ p }) => p.direction === direction)
    .sort((a, b) => a.p.priority - b.p.priority || a.seq - b.seq)
    .map(({ p }) => p);
  return (f) => ordered.find((p) => p.selectors.some((s) => refSelectorMatches(s, f)));
}

/** The first policy of `direction` matching `f`, scanning all in order; undefined if none. */
export function refFirstMatch(policies: readonly Policy[], direction: PolicyDirection, f: SelectorFields): Policy | undefined {
  return refScanner(policies, direction)(f);
}

/** Outbound: the policy's action, or the default. */
export function refOutbound(policies: readonly Policy[], f: SelectorFields, dflt = 'discard'): { action: string; id?: string } {
  const p = refFirstMatch(policies, 'outbound', f);
  return p ? { action: p.action, id: p.id } : { action: dflt };
}

/** Inbound unprotected traffic: a PROTECT match means discard. */
export function refInboundPlain(policies: readonly Policy[], f: SelectorFields, dflt = 'discard'): { action: string; id?: string } {
  const p = refFirstMatch(policies, 'inbound', f);
  return p ? { action: p.action === 'protect' ? 'discard' : p.action, id: p.id } : { action: dflt };
}

/** RFC 4301 §5.2 step 4 by ordered search: ok iff the first inbound match is `id`, a PROTECT policy. */
export function refCheckInbound(policies: readonly Policy[], id: string, f: SelectorFields): boolean {
  const p = refFirstMatch(policies, 'inbound', f);
  return p !== undefined && p.id === id && p.action === 'protect';
}
