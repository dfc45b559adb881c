/**
 * fast-check arbitraries for SPD rule sets and packets. Addresses and ports come from small
 * universes (a few bases plus small offsets, some fully random values) so random rules overlap
 * and random packets hit them; IPv6 bases sit next to 32-bit word boundaries so ranges cross
 * them.
 */

import { fc } from '@fast-check/vitest';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import type {
  AddressSelector,
  IcmpSelector,
  MhTypeSelector,
  Policy,
  PortSelector,
  ProtocolSelector,
  Selector,
  SelectorFields,
} from '../../../engine/spd/types.js';
import { ESP_TRANSPORT } from './fixtures.js';

export type FamilyMode = 4 | 6 | 'mixed';

const V4_BASES = [0x0a000000n, 0x0a0001f0n, 0xc0a80000n, 0n, 0xfffffe00n];
const W = (hex: string) => BigInt(`0x${hex}`);
const V6_BASES = [
  W('20010db8000000000000000000000000'),
  W('20010db800000000fffffffffffffe00'),
  W('20010db8ffffffffffffffff00000000'),
  W('fe800000000000000000000000000000'),
  0n,
  W('fffffffffffffffffffffffffffffc00'),
];

const bytes = (v: bigint, octets: number): Uint8Array => {
  const out = new Uint8Array(octets);
  for (let i = octets - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
};

/** An address value (bigint) of `octets` octets, near one of the bases most of the time. */
export function addressValue(octets: 4 | 16): fc.Arbitrary<bigint> {
  const max = (1n << BigInt(octets * 8)) - 1n;
  const bases = octets === 4 ? V4_BASES : V6_BASES;
  const near = (span: bigint) => fc.tuple(fc.constantFrom(...bases), fc.bigInt({ min: 0n, max: span })).map(([b, o]) => (b + o > max ? max : b + o));
  return fc.oneof(
    { weight: 8, arbitrary: near(700n) },
    { weight: 2, arbitrary: near(octets === 4 ? 1n << 20n : 1n << 72n) },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max }) },
  );
}

export function addressSelector(octets: 4 | 16): fc.Arbitrary<AddressSelector> {
  const bits = octets * 8;
  const a = addressValue(octets);
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant({ kind: 'any' } as const) },
    { weight: 2, arbitrary: a.map((v) => ({ kind: 'single', address: bytes(v, octets) }) as const) },
    {
      weight: 4,
      arbitrary: fc.tuple(a, fc.oneof(fc.integer({ min: 0, max: bits }), fc.integer({ min: bits - 12, max: bits }))).map(([v, length]) => {
        const host = BigInt(bits - length);
        return { kind: 'prefix', address: bytes((v >> host) << host, octets), length } as const;
      }),
    },
    {
      weight: 3,
      arbitrary: fc.tuple(a, fc.oneof(a, a.chain((x) => fc.bigInt({ min: x, max: x + 300n })))).map(([x, y]) => {
        const max = (1n << BigInt(bits)) - 1n;
        const [lo, hi] = x <= y ? [x, y > max ? max : y] : [y, x];
        return { kind: 'range', from: bytes(lo, octets), to: bytes(hi, octets) } as const;
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'opaque' } as const) },
  );
}

const portValue = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 150 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 65535 }) });

const portSelector: fc.Arbitrary<PortSelector> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'any' } as const) },
  {
    weight: 4,
    arbitrary: fc.tuple(portValue, fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 65535 }))).map(
      ([from, d]) => ({ kind: 'range', from, to: Math.min(65535, from + d) }) as const,
    ),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'opaque' } as const) },
);

const PROTOCOLS = [IPPROTO.TCP, IPPROTO.UDP, IPPROTO.ICMP, IPPROTO.ICMPV6, IPPROTO.MH, IPPROTO.ESP, 132, 47];
const protocolSelector: fc.Arbitrary<ProtocolSelector> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'any' } as const) },
  { weight: 5, arbitrary: fc.constantFrom(...PROTOCOLS).map((value) => ({ kind: 'number', value }) as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'opaque' } as const) },
);

const typeCode = fc.record({ type: fc.integer({ min: 0, max: 12 }), code: fc.integer({ min: 0, max: 4 }) });
const icmpSelector: fc.Arbitrary<IcmpSelector | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant({ kind: 'any' } as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'opaque' } as const) },
  {
    weight: 3,
    arbitrary: fc.tuple(typeCode, typeCode).map(([x, y]) => {
      const [from, to] = x.type * 256 + x.code <= y.type * 256 + y.code ? [x, y] : [y, x];
      return { kind: 'range', from, to } as const;
    }),
  },
);

const mhSelector: fc.Arbitrary<MhTypeSelector | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant({ kind: 'any' } as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'opaque' } as const) },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 })).map(([x, y]) => ({ kind: 'range', from: Math.min(x, y), to: Math.max(x, y) }) as const),
  },
);

const hasPorts = (p: number) => p === IPPROTO.TCP || p === IPPROTO.UDP || p === 132;

/** A valid selector set: field combinations `validateSelector` refuses are widened to ANY. */
export function selector(mode: FamilyMode): fc.Arbitrary<Selector> {
  const family = mode === 'mixed' ? fc.constantFrom(4 as const, 16 as const) : fc.constant(mode === 4 ? (4 as const) : (16 as const));
  return family.chain((octets) =>
    fc.record({
      localAddress: addressSelector(octets),
      remoteAddress: addressSelector(octets),
      protocol: protocolSelector,
      localPort: portSelector,
      remotePort: portSelector,
      icmp: icmpSelector,
      mhType: mhSelector,
    }).map((s) => {
      const out: Selector = { ...s };
      const p = s.protocol.kind === 'number' ? s.protocol.value : undefined;
      if (p !== undefined && !hasPorts(p)) {
        if (out.localPort.kind === 'range') out.localPort = { kind: 'any' };
        if (out.remotePort.kind === 'range') out.remotePort = { kind: 'opaque' };
      }
      if (p !== undefined && p !== IPPROTO.ICMP && p !== IPPROTO.ICMPV6 && out.icmp?.kind === 'range') out.icmp = undefined;
      if (p !== undefined && p !== IPPROTO.MH && out.mhType?.kind === 'range') out.mhType = { kind: 'any' };
      if (out.icmp === undefined) delete out.icmp;
      if (out.mhType === undefined) delete out.mhType;
      return out;
    }),
  );
}

/** minRules..maxRules valid policies with unique ids `p0`, `p1`, ..., priorities with many ties. */
export function ruleSet(mode: FamilyMode, maxRules = 300, minRules = 1): fc.Arbitrary<Policy[]> {
  const policyArb = fc.record({
    priority: fc.integer({ min: 0, max: 25 }),
    direction: fc.constantFrom('outbound' as const, 'inbound' as const),
    action: fc.constantFrom('protect' as const, 'bypass' as const, 'discard' as const),
    selectors: fc.array(selector(mode), { minLength: 1, maxLength: 3 }),
  });
  // An explicit length: fc.array alone favours short arrays.
  const sized = fc.integer({ min: minRules, max: maxRules }).chain((n) => fc.array(policyArb, { minLength: n, maxLength: n }));
  return sized.map((ps) =>
    ps.map((p, i): Policy => ({ id: `p${i}`, ...p, ...(p.action === 'protect' ? { protect: ESP_TRANSPORT } : {}) })),
  );
}

const PACKET_PROTOCOLS = [IPPROTO.TCP, IPPROTO.UDP, IPPROTO.ICMP, IPPROTO.ICMPV6, IPPROTO.MH, IPPROTO.ESP, 132, 47, -1];

/** Packet selector fields as `selectorFields` could produce them. */
export function packetFields(mode: FamilyMode): fc.Arbitrary<SelectorFields> {
  const family = mode === 'mixed' ? fc.constantFrom(4 as const, 16 as const) : fc.constant(mode === 4 ? (4 as const) : (16 as const));
  return family.chain((octets) =>
    fc.record({
      l: addressValue(octets),
      r: addressValue(octets),
      protocol: fc.constantFrom(...PACKET_PROTOCOLS),
      lp: portValue,
      rp: portValue,
      type: fc.integer({ min: 0, max: 13 }),
      code: fc.integer({ min: 0, max: 5 }),
      mhType: fc.integer({ min: 0, max: 22 }),
      opaque: fc.integer({ min: 0, max: 9 }),
    }).map((x): SelectorFields => {
      // As selectorFields: ports only for port protocols, ICMP only for ICMP, MH only for MH,
      // everything OPAQUE in a non-initial fragment (here: `opaque === 0`).
      const fragment = x.opaque === 0;
      const ported = hasPorts(x.protocol) && !fragment;
      return {
        localAddress: bytes(x.l, octets),
        remoteAddress: bytes(x.r, octets),
        protocol: x.protocol,
        localPort: ported ? x.lp : -1,
        remotePort: ported ? x.rp : -1,
        icmp: (x.protocol === IPPROTO.ICMP || x.protocol === IPPROTO.ICMPV6) && !fragment ? x.type * 256 + x.code : -1,
        mhType: x.protocol === IPPROTO.MH && !fragment ? x.mhType : -1,
      };
    }),
  );
}

/**
 * Fields of a packet inside one of the rules' selector sets, at or near the edges of its ranges
 * (first, last, inside) and sometimes one step outside in one field, to probe every boundary.
 */
export function edgeFields(policies: readonly Policy[], mode: FamilyMode): fc.Arbitrary<SelectorFields> {
  const selectors = policies.flatMap((p) => p.selectors);
  const pick = fc.integer({ min: 0, max: 3 });
  return fc
    .record({ s: fc.constantFrom(...selectors), f: packetFields(mode), k: fc.array(pick, { minLength: 7, maxLength: 7 }), off: fc.integer({ min: -1, max: 8 }), fragment: fc.integer({ min: 0, max: 12 }) })
    .map(({ s, f, k, off, fragment }) => {
      const octets = s.localAddress.kind === 'range' ? s.localAddress.from.length : s.localAddress.kind === 'single' || s.localAddress.kind === 'prefix' ? s.localAddress.address.length
        : s.remoteAddress.kind === 'range' ? s.remoteAddress.from.length : s.remoteAddress.kind === 'single' || s.remoteAddress.kind === 'prefix' ? s.remoteAddress.address.length : f.localAddress.length;
      const max = (1n << BigInt(octets * 8)) - 1n;
      const val = (v: Uint8Array) => v.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
      const addr = (a: AddressSelector, fallback: Uint8Array, which: number, nudge: boolean): Uint8Array => {
        if (a.kind === 'any' || a.kind === 'opaque') return fallback.length === octets ? fallback : bytes(BigInt(which) * 77n, octets);
        const lo = val(a.kind === 'range' ? a.from : a.address);
        const hi = a.kind === 'range' ? val(a.to) : a.kind === 'prefix' ? lo | ((1n << BigInt(octets * 8 - a.length)) - 1n) : lo;
        let v = [lo, hi, lo + (hi - lo) / 2n, hi - (hi - lo) / 3n][which]!;
        if (nudge) v = which % 2 === 0 ? lo - 1n : hi + 1n;
        return bytes(v < 0n ? 0n : v > max ? max : v, octets);
      };
      const inRange = (r: { kind: string; from?: number; to?: number }, fallback: number, which: number, nudge: boolean, top: number): number => {
        if (r.kind !== 'range') return r.kind === 'opaque' ? -1 : fallback;
        const lo = r.from!;
        const hi = r.to!;
        let v = [lo, hi, (lo + hi) >> 1, hi - ((hi - lo) >> 2)][which]!;
        if (nudge) v = which % 2 === 0 ? lo - 1 : hi + 1;
        return v < 0 ? 0 : v > top ? top : v;
      };
      const nonInitial = fragment === 0;
      const protocol = s.protocol.kind === 'number' && off !== 2 ? s.protocol.value : s.protocol.kind === 'opaque' && off !== 2 ? -1 : f.protocol;
      const icmp = s.icmp?.kind === 'range' ? { kind: 'range', from: s.icmp.from.type * 256 + s.icmp.from.code, to: s.icmp.to.type * 256 + s.icmp.to.code } : s.icmp ?? { kind: 'any' };
      return {
        localAddress: addr(s.localAddress, f.localAddress, k[0]!, off === 0),
        remoteAddress: addr(s.remoteAddress, f.remoteAddress, k[1]!, off === 1),
        protocol,
        localPort: nonInitial ? -1 : inRange(s.localPort, f.localPort, k[2]!, off === 3, 65535),
        remotePort: nonInitial ? -1 : inRange(s.remotePort, f.remotePort, k[3]!, off === 4, 65535),
        icmp: nonInitial ? -1 : inRange(icmp, f.icmp, k[4]!, off === 5, 65535),
        mhType: nonInitial ? -1 : inRange(s.mhType ?? { kind: 'any' }, f.mhType, k[5]!, off === 6, 255),
      };
    });
}
