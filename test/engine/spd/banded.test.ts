/**
 * Large, heavily overlapping rule sets: the classifier gives their first rules trees of their
 * own (a head band, engine/spd/priorityBand.ts) and stops there when a packet matches one of
 * them. These tests make sure bands are built and that lookups, removals and additions on a
 * banded SPD still decide exactly as the linear scan (same action, same policy).
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import { Spd } from '../../../engine/spd/spd.js';
import type { AddressSelector, Policy, PortSelector, Selector, SelectorFields, SpdDecision } from '../../../engine/spd/types.js';
import { edgeFields, packetFields, ruleSet } from './arbitraries.js';
import { ESP_TRANSPORT } from './fixtures.js';
import { refScanner } from './reference.js';

const seen = (d: SpdDecision) => ({ action: d.action, ...(d.policy ? { id: d.policy.id } : {}) });
const hex = (f: SelectorFields) => JSON.stringify({ ...f, localAddress: Buffer.from(f.localAddress).toString('hex'), remoteAddress: Buffer.from(f.remoteAddress).toString('hex') });

/** Every packet: the same decision and policy as the scan, both directions, and the §5.2 check. */
function agree(spd: Spd, policies: readonly Policy[], packets: readonly SelectorFields[]): void {
  const out = refScanner(policies, 'outbound');
  const inb = refScanner(policies, 'inbound');
  for (const f of packets) {
    const o = out(f);
    const i = inb(f);
    expect(seen(spd.classifyOutbound(f)), hex(f)).toEqual(o ? { action: o.action, id: o.id } : { action: 'discard' });
    expect(seen(spd.classifyInboundPlain(f)), hex(f)).toEqual(i ? { action: i.action === 'protect' ? 'discard' : i.action, id: i.id } : { action: 'discard' });
    if (i?.action === 'protect') expect(spd.checkInbound(i.id, f).ok, hex(f)).toBe(true);
  }
}

/** mulberry32 */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const big = (a: Uint8Array): bigint => a.reduce((n, b) => (n << 8n) | BigInt(b), 0n);
function bytes(v: bigint, octets: number): Uint8Array {
  const out = new Uint8Array(octets);
  for (let i = octets - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}
/** Small universes: 10.0.0.0 + x, and 2001:db8::fffe:ffff:0 + x (x ≥ 2^16 crosses a 32-bit word). */
const V4_BASE = 0x0a000000n;
const V6_BASE = 0x20010db800000000fffffffeffff0000n;
const address = (x: number, ipv6: boolean) => (ipv6 ? bytes(V6_BASE + BigInt(x), 16) : bytes(V4_BASE + BigInt(x), 4));

/**
 * `n` policies of 1..3 selector sets whose address and port ranges overlap heavily (a packet
 * matches dozens), IPv4 and IPv6 (whose ranges cross a 32-bit word: inexact boxes), with ICMP
 * type ranges among them: the rule sets a head band is for.
 */
function denseRules(n: number, seed: number): Policy[] {
  const r = prng(seed);
  const addr = (ipv6: boolean): AddressSelector => {
    if (r(5) === 0) return { kind: 'any' };
    const a = r(1 << 16);
    const b = a + r(1 << (4 + r(12)));
    return { kind: 'range', from: address(a, ipv6), to: address(b, ipv6) };
  };
  const port = (): PortSelector => {
    const p = r(2000);
    return r(10) < 3 ? { kind: 'any' } : { kind: 'range', from: p, to: Math.min(65535, p + r(1 << r(14))) };
  };
  const selector = (ipv6: boolean): Selector => {
    const k = r(10);
    if (k === 0) return { localAddress: addr(ipv6), remoteAddress: addr(ipv6), protocol: { kind: 'number', value: ipv6 ? IPPROTO.ICMPV6 : IPPROTO.ICMP }, localPort: { kind: 'any' }, remotePort: { kind: 'any' }, icmp: { kind: 'range', from: { type: r(9), code: 0 }, to: { type: 8, code: 255 } } };
    return { localAddress: addr(ipv6), remoteAddress: addr(ipv6), protocol: k < 4 ? { kind: 'any' } : { kind: 'number', value: k < 7 ? IPPROTO.TCP : IPPROTO.UDP }, localPort: port(), remotePort: port() };
  };
  return Array.from({ length: n }, (_, i): Policy => {
    const ipv6 = r(4) === 0;
    const action = (['protect', 'bypass', 'discard'] as const)[r(3)]!;
    return {
      id: `d${i}`,
      priority: r(50),
      direction: r(4) === 0 ? 'inbound' : 'outbound',
      action,
      selectors: Array.from({ length: 1 + (r(4) === 0 ? r(3) : 0) }, () => selector(ipv6)),
      ...(action === 'protect' ? { protect: ESP_TRANSPORT } : {}),
    };
  });
}

/** Packets inside random selectors of `policies` (the traffic a rule set sees), and some anywhere. */
function packetsFor(policies: readonly Policy[], count: number, seed: number): SelectorFields[] {
  const r = prng(seed);
  const pick = (a: AddressSelector, ipv6: boolean): Uint8Array => {
    if (a.kind !== 'range') return address(r(1 << 17), ipv6);
    const lo = big(a.from);
    return bytes(lo + BigInt(r(Number(big(a.to) - lo) + 1)), ipv6 ? 16 : 4);
  };
  return Array.from({ length: count }, (): SelectorFields => {
    const s = policies[r(policies.length)]!.selectors[0]!;
    const ipv6 = s.localAddress.kind === 'range' ? s.localAddress.from.length === 16 : s.remoteAddress.kind === 'range' ? s.remoteAddress.from.length === 16 : r(4) === 0;
    const protocol = s.protocol.kind === 'number' && r(5) > 0 ? s.protocol.value : [IPPROTO.TCP, IPPROTO.UDP, ipv6 ? IPPROTO.ICMPV6 : IPPROTO.ICMP][r(3)]!;
    const ported = protocol === IPPROTO.TCP || protocol === IPPROTO.UDP;
    const port = (p: PortSelector) => (p.kind === 'range' && r(5) > 0 ? p.from + r(p.to - p.from + 1) : r(4000));
    return {
      localAddress: pick(s.localAddress, ipv6),
      remoteAddress: pick(s.remoteAddress, ipv6),
      protocol,
      localPort: ported ? port(s.localPort) : -1,
      remotePort: ported ? port(s.remotePort) : -1,
      icmp: ported ? -1 : (r(10) << 8) | r(3),
      mhType: -1,
    };
  });
}

describe('head bands (large overlapping rule sets)', () => {
  it('a dense rule set gets a head band, a sparse one none; both decide as the scan', () => {
    const dense = denseRules(6000, 7);
    const spd = new Spd(dense);
    expect(spd.stats().outbound.head).toBeGreaterThan(0);
    agree(spd, dense, packetsFor(dense, 1500, 8));

    // One rule per host: every packet matches one rule at most, and no band helps.
    const sparse = Array.from({ length: 3000 }, (_, i): Policy => ({
      id: `s${i}`, priority: i % 7, direction: 'outbound', action: 'bypass',
      selectors: [{ localAddress: { kind: 'single', address: address(i, false) }, remoteAddress: { kind: 'any' }, protocol: { kind: 'any' }, localPort: { kind: 'any' }, remotePort: { kind: 'any' } }],
    }));
    const plain = new Spd(sparse);
    expect(plain.stats().outbound.head).toBe(0);
    agree(plain, sparse, packetsFor(sparse, 300, 9));
  });

  it('across the band boundary every rule is still found: one host rule of its own every few ranks', () => {
    // Ranks 0 and 7 of every 8 are single hosts in 10.200/16 that no other rule covers, so each
    // is the best match of its host; a band of one-selector policies ends at a power of two
    // (≥ 64), so the last rank in the band and the first after it are hosts. The others overlap
    // densely.
    const r = prng(33);
    const wide = (): AddressSelector => {
      const lo = r(1 << 16);
      return { kind: 'range', from: address(lo, false), to: address(lo + r(1 << 16), false) };
    };
    const port = (): PortSelector => (r(2) === 0 ? { kind: 'any' } : { kind: 'range', from: r(1000), to: 1000 + r(1000) });
    const a = Array.from({ length: 4000 }, (_, i): Policy => ({ id: `a${i}`, priority: 0, direction: 'outbound', action: 'discard', selectors: [{ localAddress: wide(), remoteAddress: wide(), protocol: r(2) === 0 ? { kind: 'any' } : { kind: 'number', value: IPPROTO.UDP }, localPort: port(), remotePort: port() }] }));
    const hosts: Policy[] = [];
    let next = 0;
    const policies = Array.from({ length: 4000 }, (_, r): Policy => {
      if (r % 8 !== 0 && r % 8 !== 7) return a[next++]!;
      const host: Policy = { id: `h${r}`, priority: 0, direction: 'outbound', action: 'bypass', selectors: [{ localAddress: { kind: 'single', address: address(0xc80000 + r, false) }, remoteAddress: { kind: 'any' }, protocol: { kind: 'any' }, localPort: { kind: 'any' }, remotePort: { kind: 'any' } }] };
      hosts.push(host);
      return host;
    });
    const spd = new Spd(policies);
    expect(spd.stats().outbound.head).toBeGreaterThan(0);
    const atHosts = hosts.map((h, i): SelectorFields => ({ localAddress: (h.selectors[0]!.localAddress as { address: Uint8Array }).address, remoteAddress: address(i, false), protocol: IPPROTO.UDP, localPort: i, remotePort: 500, icmp: -1, mhType: -1 }));
    for (const [i, f] of atHosts.entries()) expect(spd.classifyOutbound(f).policy?.id).toBe(hosts[i]!.id);
    agree(spd, policies, packetsFor(policies, 600, 34));
  });

  it('removing policies of the head band and of the rest, and adding more, still agrees', () => {
    const all = denseRules(5000, 21);
    const spd = new Spd(all.slice(0, 4000));
    expect(spd.stats().outbound.head).toBeGreaterThan(0);
    const ordered = all.slice(0, 4000).map((p, seq) => ({ p, seq })).sort((a, b) => a.p.priority - b.p.priority || a.seq - b.seq).map((x) => x.p);
    // The best rules (inside the head band), some from the middle, and some last ones.
    const victims = [...ordered.slice(0, 12), ...ordered.slice(1800, 1806), ...ordered.slice(-6)];
    for (const v of victims) expect(spd.remove(v.id)).toBe(true);
    for (const p of all.slice(4000, 4020)) spd.add(p);
    const live = all.slice(0, 4020).filter((p) => !victims.includes(p));
    agree(spd, live, packetsFor(live, 800, 22));
  });

  let banded = 0;
  for (const mode of [4, 6, 'mixed'] as const) {
    const scenario = ruleSet(mode, 3000, 1500).chain((policies) =>
      fc.tuple(fc.constant(policies), fc.array(fc.oneof(packetFields(mode), edgeFields(policies, mode)), { minLength: 40, maxLength: 60 })),
    );
    test.prop([scenario], { numRuns: 3, ...(process.env.SEED ? { seed: Number(process.env.SEED) } : {}) })(`random rule sets of 1500..3000 policies, ${mode === 'mixed' ? 'IPv4 + IPv6' : `IPv${mode}`}`, ([policies, packets]) => {
      const spd = new Spd(policies);
      const st = spd.stats();
      if (st.outbound.head + st.inbound.head > 0) banded++;
      agree(spd, policies, packets);
    });
  }
  it('some of those random rule sets were banded', () => {
    expect(banded).toBeGreaterThan(0);
  });
});
