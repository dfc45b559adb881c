/**
 * SPD lookup benchmark (`npx tsx bench/spd.bench.ts`). For 10, 1k and 10k policies it first
 * checks that the SPD decides exactly as a naive linear scan (same action, same policy) on
 * 20k packets, then measures in the same run:
 *   - `Spd.classifyOutbound` (the classifier; there is no flow cache in it),
 *   - the naive linear scan over the same policies (`policyMatches` in priority order),
 * over packets that never repeat: each timed round classifies a fresh batch generated untimed.
 * Three rule mixes: `gateway` (site-to-site prefixes, port rules, wildcards, IPv4 + IPv6),
 * `overlap` (random ranges that overlap heavily: a packet matches dozens of rules, the adversarial
 * case for decision trees) and `prefix` (random nested prefixes with random port ranges, IPv4 +
 * IPv6: a few matches per packet, many rules copied into many leaves).
 * It ends with the goal of issue 3: at least 1M lookups/s with 10k rules, flat as the size grows.
 * Flags: --quick (shorter cells). Env: SIZES='[10,1000]', MIXES='overlap,prefix'.
 */
import { IPPROTO } from '../engine/packet/ipProtocol.js';
import { policyMatches } from '../engine/spd/match.js';
import { Spd } from '../engine/spd/spd.js';
import type { AddressSelector, Policy, PortSelector, Selector, SelectorFields } from '../engine/spd/types.js';
import { interleaved, rounds } from './lib/measure.js';

const BUDGET_MS = process.argv.includes('--quick') ? 150 : 500;
const SIZES: number[] = process.env.SIZES ? JSON.parse(process.env.SIZES) : [10, 1_000, 10_000];
const MIXES = (process.env.MIXES ?? 'gateway,overlap,prefix').split(',') as Mix[];
/** Packets checked against the linear scan before timing (fewer for big sets: the scan is slow). */
const verifyPackets = (n: number) => Math.min(20_000, Math.max(2_000, 4e7 / n));
const GOAL = 1e6;
const GOAL_RULES = 10_000;

/** mulberry32: fixed seeds, so every run measures the same rule sets. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rnd = () => number;
const int = (rnd: Rnd, n: number) => Math.floor(rnd() * n);
const u32 = (v: number) => Uint8Array.of(v >>> 24, v >>> 16, v >>> 8, v);
const ANY = { kind: 'any' } as const;

function v6(rnd: Rnd, site: number, subnet: number, host: boolean): Uint8Array {
  const a = new Uint8Array(16);
  a.set([0x20, 0x01, 0x0d, 0xb8, site >> 8, site & 0xff, subnet >> 8, subnet & 0xff]);
  if (host) for (let i = 8; i < 16; i++) a[i] = int(rnd, 256);
  return a;
}

/** Bounds [lo, hi] (inclusive) of an address selector, to draw packets inside it. */
function bounds(s: AddressSelector, octets: number): [Uint8Array, Uint8Array] {
  if (s.kind === 'any' || s.kind === 'opaque') return [new Uint8Array(octets), new Uint8Array(octets).fill(255)];
  if (s.kind === 'range') return [s.from, s.to];
  if (s.kind === 'single') return [s.address, s.address];
  const hi = s.address.slice();
  for (let bit = s.length; bit < octets * 8; bit++) hi[bit >> 3]! |= 0x80 >> (bit & 7);
  return [s.address, hi];
}

/** An address drawn uniformly in [lo, hi]. */
function inside(rnd: Rnd, [lo, hi]: [Uint8Array, Uint8Array]): Uint8Array {
  if (lo.length === 4) {
    const a = ((lo[0]! << 24) | (lo[1]! << 16) | (lo[2]! << 8) | lo[3]!) >>> 0;
    const b = ((hi[0]! << 24) | (hi[1]! << 16) | (hi[2]! << 8) | hi[3]!) >>> 0;
    return u32(a + Math.floor(rnd() * (b - a + 1)));
  }
  const big = (a: Uint8Array) => a.reduce((n, b) => (n << 8n) | BigInt(b), 0n);
  const span = big(hi) - big(lo) + 1n;
  let r = 0n;
  for (let i = 0; i < lo.length + 8; i += 4) r = (r << 32n) | BigInt(int(rnd, 2 ** 32));
  let v = big(lo) + (r % span);
  const out = new Uint8Array(lo.length);
  for (let i = out.length - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/** `a` with the host bits beyond /`length` cleared. */
function masked(a: Uint8Array, length: number): Uint8Array {
  const out = a.slice();
  for (let bit = length; bit < out.length * 8; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return out;
}

const portRange = (from: number, to = from): PortSelector => ({ kind: 'range', from, to });

/** A site-to-site gateway's SPD: mostly subnet pairs, some service rules and wildcards. */
function gatewayRules(n: number, seed: number): Policy[] {
  const rnd = prng(seed);
  const out: Policy[] = [];
  for (let i = 0; i < n; i++) {
    const ipv6 = rnd() < 0.3;
    const kind = rnd();
    let s: Selector;
    if (kind < 0.7) {
      // Subnet pair: a local /16../24 in 10/8, a remote /20../28 in 172.16/12 (or /48../64 in 2001:db8::/32).
      const ll = ipv6 ? 48 + 8 * int(rnd, 3) : 16 + int(rnd, 9);
      const rl = ipv6 ? 48 + 8 * int(rnd, 3) : 20 + int(rnd, 9);
      const mask = (v: number, l: number) => (l === 0 ? 0 : (v >>> (32 - l)) << (32 - l)) >>> 0;
      const local: AddressSelector = ipv6 ? { kind: 'prefix', address: masked(v6(rnd, 1, int(rnd, 64) << 8, false), ll), length: ll } : { kind: 'prefix', address: u32(mask(0x0a000000 + int(rnd, 1 << 24), ll)), length: ll };
      const remote: AddressSelector = ipv6 ? { kind: 'prefix', address: masked(v6(rnd, 2 + int(rnd, 4000), int(rnd, 256) << 8, false), rl), length: rl } : { kind: 'prefix', address: u32(mask(0xac100000 + int(rnd, 1 << 20), rl)), length: rl };
      const p = rnd();
      const udpPorts = (from: number) => portRange(from, from + int(rnd, 100));
      s = p < 0.6
        ? { localAddress: local, remoteAddress: remote, protocol: ANY, localPort: ANY, remotePort: ANY }
        : p < 0.8
          ? { localAddress: local, remoteAddress: remote, protocol: { kind: 'number', value: IPPROTO.TCP }, localPort: ANY, remotePort: portRange(int(rnd, 1024)) }
          : p < 0.9
            ? { localAddress: local, remoteAddress: remote, protocol: { kind: 'number', value: IPPROTO.UDP }, localPort: portRange(1024, 65535), remotePort: udpPorts(int(rnd, 60000)) }
            : { localAddress: local, remoteAddress: remote, protocol: { kind: 'number', value: ipv6 ? IPPROTO.ICMPV6 : IPPROTO.ICMP }, localPort: ANY, remotePort: ANY, icmp: { kind: 'range', from: { type: 8, code: 0 }, to: { type: 8, code: 255 } } };
    } else if (kind < 0.85) {
      // A service on one local host, reachable from anywhere (or from a range).
      const local: AddressSelector = ipv6 ? { kind: 'single', address: v6(rnd, 1, int(rnd, 1 << 14), true) } : { kind: 'single', address: u32(0x0a000000 + int(rnd, 1 << 24)) };
      const from = int(rnd, 65000);
      s = { localAddress: local, remoteAddress: rnd() < 0.5 || ipv6 ? ANY : { kind: 'range', from: u32(0xc0000000 + from), to: u32(0xc0000000 + from + int(rnd, 5000)) }, protocol: { kind: 'number', value: IPPROTO.TCP }, localPort: portRange(int(rnd, 1024)), remotePort: ANY };
    } else {
      // A remote host or range, any local address: e.g. management stations.
      const base = 0xac100000 + int(rnd, 1 << 20);
      const remote: AddressSelector = ipv6 ? { kind: 'single', address: v6(rnd, 2 + int(rnd, 4000), int(rnd, 256), true) } : { kind: 'range', from: u32(base), to: u32(base + int(rnd, 64)) };
      s = { localAddress: ANY, remoteAddress: remote, protocol: rnd() < 0.5 ? ANY : { kind: 'number', value: IPPROTO.UDP }, localPort: ANY, remotePort: ANY };
    }
    const action = rnd() < 0.7 ? 'protect' : rnd() < 0.5 ? 'bypass' : 'discard';
    out.push({
      id: `r${i}`,
      priority: int(rnd, 1000),
      direction: 'outbound',
      action,
      selectors: [s],
      ...(action === 'protect'
        ? { protect: { mode: 'transport', protocol: 'esp', proposals: [{ encr: 20, encrKeyBits: 128, integ: 0 }], lifetimes: { soft: {}, hard: {} }, replayWindow: 128, esn: true, offload: 'none' } as const }
        : {}),
    });
  }
  return out;
}

/** Random wide ranges over a small universe: most rules overlap most others. */
function overlapRules(n: number, seed: number): Policy[] {
  const rnd = prng(seed);
  const addr = (): AddressSelector => {
    const a = 0x0a000000 + int(rnd, 1 << 16);
    return rnd() < 0.2 ? ANY : { kind: 'range', from: u32(a), to: u32(a + int(rnd, 1 << (4 + int(rnd, 12)))) };
  };
  const port = (): PortSelector => {
    const p = int(rnd, 2000);
    return rnd() < 0.3 ? ANY : portRange(p, Math.min(65535, p + int(rnd, 1 << int(rnd, 14))));
  };
  return Array.from({ length: n }, (_, i): Policy => ({
    id: `o${i}`,
    priority: int(rnd, 50),
    direction: 'outbound',
    action: rnd() < 0.5 ? 'bypass' : 'discard',
    selectors: [{ localAddress: addr(), remoteAddress: addr(), protocol: rnd() < 0.3 ? ANY : { kind: 'number', value: rnd() < 0.5 ? IPPROTO.TCP : IPPROTO.UDP }, localPort: port(), remotePort: port() }],
  }));
}

/**
 * Random prefixes over small universes (10.0/12 and 172.16/12, or 2001:db8:site::/48 blocks),
 * 14..32 bits long, so short prefixes contain many long ones, and random port ranges of any
 * width: TCP and UDP rules with ports, and port-less rules for any protocol.
 */
function prefixRules(n: number, seed: number): Policy[] {
  const rnd = prng(seed);
  const prefix = (base: number, ipv6: boolean): AddressSelector => {
    const length = 14 + int(rnd, 19);
    if (ipv6) return { kind: 'prefix', address: masked(v6(rnd, base === 0x0a000000 ? 1 : 2 + int(rnd, 16), int(rnd, 1 << 16), true), 32 + 3 * length), length: 32 + 3 * length };
    const a = (base + int(rnd, 1 << 20)) >>> 0;
    return { kind: 'prefix', address: u32(length === 32 ? a : ((a >>> (32 - length)) << (32 - length)) >>> 0), length };
  };
  const port = (): PortSelector => {
    if (rnd() < 0.25) return ANY;
    const from = int(rnd, 65536);
    return portRange(from, Math.min(65535, from + int(rnd, 1 << int(rnd, 17))));
  };
  return Array.from({ length: n }, (_, i): Policy => {
    const ipv6 = rnd() < 0.2;
    const p = rnd();
    const rest = p < 0.3 ? { protocol: ANY, localPort: ANY, remotePort: ANY } : { protocol: { kind: 'number', value: p < 0.65 ? IPPROTO.TCP : IPPROTO.UDP } as const, localPort: port(), remotePort: port() };
    return {
      id: `x${i}`,
      priority: int(rnd, 100),
      direction: 'outbound',
      action: rnd() < 0.5 ? 'bypass' : 'discard',
      selectors: [{ localAddress: prefix(0x0a000000, ipv6), remoteAddress: prefix(0xac100000, ipv6), ...rest }],
    };
  });
}

type Mix = 'gateway' | 'overlap' | 'prefix';
const RULES: Record<Mix, (n: number) => Policy[]> = {
  gateway: (n) => gatewayRules(n, n),
  overlap: (n) => overlapRules(n, n + 7),
  prefix: (n) => prefixRules(n, n + 3),
};

/** Fresh packets: 80% drawn inside a random rule's selector, 20% anywhere near the rules. */
function packets(policies: Policy[], count: number, rnd: Rnd): SelectorFields[] {
  const out: SelectorFields[] = [];
  for (let i = 0; i < count; i++) {
    const s = policies[int(rnd, policies.length)]!.selectors[0]!;
    const octets = [s.localAddress, s.remoteAddress].some((a) => (a.kind === 'single' || a.kind === 'prefix' ? a.address.length === 16 : a.kind === 'range' && a.from.length === 16)) ? 16 : 4;
    const targeted = rnd() < 0.8;
    const local = targeted ? inside(rnd, bounds(s.localAddress, octets)) : octets === 4 ? u32(0x0a000000 + int(rnd, 1 << 24)) : v6(rnd, 1, int(rnd, 1 << 14), true);
    const remote = targeted ? inside(rnd, bounds(s.remoteAddress, octets)) : octets === 4 ? u32(0xac100000 + int(rnd, 1 << 20)) : v6(rnd, 2 + int(rnd, 4000), int(rnd, 256), true);
    const protocol = targeted && s.protocol.kind === 'number' ? s.protocol.value : [IPPROTO.TCP, IPPROTO.UDP, IPPROTO.ICMP][int(rnd, 3)]!;
    const ported = protocol === IPPROTO.TCP || protocol === IPPROTO.UDP;
    const port = (p: PortSelector) => (targeted && p.kind === 'range' ? p.from + int(rnd, p.to - p.from + 1) : int(rnd, 65536));
    out.push({
      localAddress: local,
      remoteAddress: remote,
      protocol,
      localPort: ported ? port(s.localPort) : -1,
      remotePort: ported ? port(s.remotePort) : -1,
      icmp: protocol === IPPROTO.ICMP || protocol === IPPROTO.ICMPV6 ? (int(rnd, 20) << 8) | int(rnd, 4) : -1,
      mhType: -1,
    });
  }
  return out;
}

/** The reference: every policy, in priority then insertion order, until one matches. */
function linearScan(policies: Policy[]): (f: SelectorFields) => Policy | undefined {
  const ordered = policies.map((p, seq) => ({ p, seq })).sort((a, b) => a.p.priority - b.p.priority || a.seq - b.seq).map((x) => x.p);
  return (f) => {
    for (const p of ordered) if (policyMatches(p, f)) return p;
    return undefined;
  };
}

const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M/s` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k/s` : `${n.toFixed(0)} /s`);

console.log(`\nipsec-es SPD benchmark · node ${process.version} · ${BUDGET_MS} ms per cell`);
console.log('Outbound lookups per second over packets that never repeat (fresh batch per round, no flow cache);');
console.log('linear = naive scan in priority order over the same policies, measured in this run;');
console.log('SPD / SPD@10 = rate relative to the 10-rule set of the same mix (1.00 = flat);');
console.log('trees/nodes/max leaf/head: the classifier\'s shape (head: rules in its head band, 0 = none).\n');
const rows: string[][] = [['rules', 'mix', 'build ms', 'trees/nodes/max leaf/head', 'KB', 'SPD', 'linear', 'SPD / linear', 'SPD / SPD@10', 'matched']];
const atGoal: string[] = [];
const flatness: string[] = [];
let met = true;
let seed = 1;
for (const mix of MIXES) {
  let at10 = 0;
  for (const n of SIZES) {
    const policies = RULES[mix](n);
    const t0 = performance.now();
    const spd = new Spd(policies);
    const buildMs = performance.now() - t0;
    const naive = linearScan(policies);
    // Correctness first: the same decision and the same policy on every packet.
    const rnd = prng(seed++);
    let matched = 0;
    const verify = verifyPackets(n);
    for (const f of packets(policies, verify, rnd)) {
      const d = spd.classifyOutbound(f);
      const want = naive(f);
      if (d.policy !== undefined) matched++;
      if (d.policy?.id !== want?.id || d.action !== (want?.action ?? 'discard')) {
        throw new Error(`SPD and linear scan disagree at ${n} ${mix} rules: ${d.policy?.id} vs ${want?.id}`);
      }
    }
    const round = 16_384;
    const linRound = Math.max(64, Math.floor(1_000_000 / n));
    let sink = 0;
    const [spdRate, linRate] = interleaved([
      rounds(() => packets(policies, round, rnd), (batch) => {
        for (const f of batch) if (spd.classifyOutbound(f).action === 'protect') sink++;
        return batch.length;
      }),
      rounds(() => packets(policies, linRound, rnd), (batch) => {
        for (const f of batch) if (naive(f)?.action === 'protect') sink++;
        return batch.length;
      }),
    ], 2 * BUDGET_MS) as [number, number];
    if (sink < 0) console.log(sink);
    const st = spd.stats().outbound;
    if (n === SIZES[0]) at10 = spdRate;
    rows.push([String(n), mix, buildMs.toFixed(0), `${st.trees}/${st.nodes}/${st.maxLeaf}/${st.head}`, (st.bytes / 1024).toFixed(0), fmt(spdRate), fmt(linRate), `${(spdRate / linRate).toFixed(1)}×`, `${(spdRate / at10).toFixed(2)}`, `${((100 * matched) / verify).toFixed(0)}%`]);
    if (n === GOAL_RULES) {
      atGoal.push(`${mix} ${fmt(spdRate)}`);
      met &&= spdRate >= GOAL;
    }
    if (n === SIZES.at(-1) && n !== SIZES[0]) flatness.push(`${mix} ${(spdRate / at10).toFixed(2)}`);
  }
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
if (atGoal.length > 0) console.log(`\ngoal ≥ ${fmt(GOAL)} at ${GOAL_RULES} rules: ${met ? 'met' : 'NOT met'} (${atGoal.join(', ')})`);
if (flatness.length > 0) console.log(`flatness, rate at ${SIZES.at(-1)} / rate at ${SIZES[0]} rules (1.00 = flat): ${flatness.join(', ')}`);
