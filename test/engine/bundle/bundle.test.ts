import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { applyBundle, openBundle, type BundleSa } from '../../../engine/bundle/bundle.js';
import { toHex } from '../../../engine/bytes.js';
import { DropCounters } from '../../../engine/dropReasons.js';
import { parseIp } from '../../../engine/packet/ipPacket.js';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import { BACKENDS, innerPacket } from '../ah/fixtures.js';
import { NDIS_AH, NDIS_ESP, ahPairOf, espPair, gateways, sad, testIvs } from './fixtures.js';

const ORDERS = ['esp,ah', 'ah,esp'] as const;
const ids = (sas: readonly BundleSa[]) => sas.map((sa) => sa.id);
const VERSIONS = [4, 6] as const;

/** Transport adjacency cases: every NDIS 5.1 AH × ESP pair, both orders, both IP versions. */
const TRANSPORT_CASES = NDIS_AH.flatMap((ah) =>
  NDIS_ESP.flatMap((esp) => ORDERS.flatMap((order) => VERSIONS.map((version) => [`ah-${ah === 1 ? 'md5' : 'sha1'} + esp-${esp.name}, ${order}, IPv${version}`, ah, esp.suite, order, version] as const))),
);

/** The protocol numbers of the headers in front of the payload, outermost first (ESP with NULL is readable). */
function headerChain(packet: Uint8Array): number[] {
  const ip = parseIp(packet);
  if (!ip.ok) return [];
  const chain: number[] = [];
  let proto = ip.protocol;
  let p = ip.payload;
  while (proto === IPPROTO.AH || proto === IPPROTO.ESP) {
    chain.push(proto);
    if (proto === IPPROTO.ESP) break; // what follows is ciphertext (or NULL-encrypted payload)
    proto = p[0]!;
    p = p.subarray((p[1]! + 2) * 4);
  }
  return chain;
}

describe.each(BACKENDS)('SA bundles, transport adjacency (RFC 4301 §4.5), %s back end', (backend) => {
  it.each(TRANSPORT_CASES)('%s', (_name, ahInteg, espSuite, order, version) => {
    const ah = ahPairOf(ahInteg, 'transport', 0x5100, backend);
    const esp = espPair(espSuite, 'transport', 0x5000, backend);
    const inner = innerPacket(version, Uint8Array.from({ length: 77 }, (_, i) => i));
    const outbound: BundleSa[] = order === 'esp,ah' ? [esp.out, ah.out] : [ah.out, esp.out];
    const sealed = applyBundle(inner, outbound, testIvs(version));
    if (!sealed.ok) throw new Error(sealed.reason);
    expect(sealed.applied.map((a) => [a.sa.id, a.seqLo])).toEqual(outbound.map((sa) => [sa.id, 1]));
    // [esp, ah] → IP | AH | ESP | ...; [ah, esp] → IP | ESP | (AH | payload, encrypted).
    expect(headerChain(sealed.packet)).toEqual(order === 'esp,ah' ? [IPPROTO.AH, IPPROTO.ESP] : [IPPROTO.ESP]);
    const copy = sealed.packet.slice();
    const drops = new DropCounters();
    const opened = openBundle(sealed.packet, sad(ah.in, esp.in), drops);
    expect(opened.ok ? toHex(opened.packet) : opened.reason).toBe(toHex(inner));
    expect(ids(opened.sas)).toEqual(ids(order === 'esp,ah' ? [ah.in, esp.in] : [esp.in, ah.in]));
    // The same datagram again: the outermost SA refuses it.
    const again = openBundle(copy, sad(ah.in, esp.in), drops);
    expect(again.ok ? 'ok' : [again.reason, again.sa?.id]).toEqual(['replayed', (order === 'esp,ah' ? ah.in : esp.in).id]);
    expect(drops.total()).toBe(1);
  });
});

describe('SA bundles, tunnel over transport (iterated tunneling, RFC 4301 §4.5)', () => {
  it.each(
    NDIS_AH.flatMap((ah) =>
      NDIS_ESP.flatMap((esp) => VERSIONS.flatMap((outer) => VERSIONS.map((innerV) => [`ah-${ah} + esp-${esp.name}, IPv${innerV} in IPv${outer}`, ah, esp.suite, outer, innerV] as const))),
    ),
  )('%s: ESP tunnel then AH transport, and AH tunnel then ESP transport', (_name, ahInteg, espSuite, outer, innerV) => {
    const inner = innerPacket(innerV, Uint8Array.from({ length: 40 }, (_, i) => 255 - i), 0x28);
    // ESP tunnel between the gateways, AH over the gateways' packet: IPgw | AH | ESP | IPin ...
    {
      const esp = espPair(espSuite, 'tunnel', 0x6000, 'node', gateways(outer));
      const ah = ahPairOf(ahInteg, 'transport', 0x6100, 'node');
      const sealed = applyBundle(inner, [esp.out, ah.out], testIvs(1));
      if (!sealed.ok) throw new Error(sealed.reason);
      expect(headerChain(sealed.packet)).toEqual([IPPROTO.AH, IPPROTO.ESP]);
      const opened = openBundle(sealed.packet, sad(ah.in, esp.in));
      expect(opened.ok ? toHex(opened.packet) : opened.reason).toBe(toHex(inner));
      expect(ids(opened.sas)).toEqual(ids([ah.in, esp.in]));
    }
    // AH tunnel, ESP over it: IPgw | ESP | (AH | IPin ...)
    {
      const ah = ahPairOf(ahInteg, 'tunnel', 0x6200, 'noble', gateways(outer));
      const esp = espPair(espSuite, 'transport', 0x6300, 'noble');
      const sealed = applyBundle(inner, [ah.out, esp.out], testIvs(2));
      if (!sealed.ok) throw new Error(sealed.reason);
      const opened = openBundle(sealed.packet, sad(ah.in, esp.in));
      expect(opened.ok ? toHex(opened.packet) : opened.reason).toBe(toHex(inner));
      expect(ids(opened.sas)).toEqual(ids([esp.in, ah.in]));
    }
  });

  it('an end-to-end ESP packet carried in an AH tunnel: opened to the end here, passed on by a gateway that lacks the ESP SA', () => {
    const inner = innerPacket(4, Uint8Array.of(1, 2, 3));
    const esp = espPair(NDIS_ESP[0]!.suite, 'transport', 0x7000, 'node');
    const ah = ahPairOf(2, 'tunnel', 0x7100, 'node', gateways(6));
    const sealed = applyBundle(inner, [esp.out, ah.out], testIvs(3));
    if (!sealed.ok) throw new Error(sealed.reason);
    const here = openBundle(sealed.packet.slice(), sad(ah.in, esp.in));
    expect(here.ok ? [toHex(here.packet), ids(here.sas)] : here.reason).toEqual([toHex(inner), ids([ah.in, esp.in])]);
    const ahAgain = ahPairOf(2, 'tunnel', 0x7100, 'node', gateways(6));
    const gateway = openBundle(sealed.packet.slice(), sad(ahAgain.in));
    expect(gateway.ok && gateway.sas[0]).toBe(ahAgain.in);
    expect(gateway.ok && gateway.sas.length).toBe(1);
    expect(gateway.ok && parseIp(gateway.packet).ok && headerChain(gateway.packet)).toEqual([IPPROTO.ESP]);
  });
});

describe('bundle integrity', () => {
  test.prop(
    [fc.constantFrom(...NDIS_AH), fc.constantFrom(...NDIS_ESP), fc.constantFrom(...ORDERS), fc.constantFrom(...VERSIONS), fc.uint8Array({ maxLength: 600 }), fc.nat(), fc.constantFrom(...BACKENDS)],
    { numRuns: 300 },
  )('round trip, and any bit flip after the IP header gives { ok: false } from the SA it hits, never a throw', (ahInteg, esp, order, version, data, where, backend) => {
    const ah = ahPairOf(ahInteg, 'transport', 0x8100, backend);
    const e = espPair(esp.suite, 'transport', 0x8000, backend);
    const inner = innerPacket(version, data);
    const sealed = applyBundle(inner, order === 'esp,ah' ? [e.out, ah.out] : [ah.out, e.out], testIvs(where));
    if (!sealed.ok) throw new Error(sealed.reason);
    const tampered = sealed.packet.slice();
    const headerLength = version === 4 ? 20 : 40;
    const bit = headerLength * 8 + (where % ((tampered.length - headerLength) * 8));
    tampered[bit >> 3]! ^= 0x80 >> (bit & 7);
    const drops = new DropCounters();
    const bad = openBundle(tampered, sad(ah.in, e.in), drops);
    expect(bad.ok).toBe(false);
    expect(drops.total()).toBe(1);
    // Nothing was advanced by the forgery: the genuine packet still opens.
    const good = openBundle(sealed.packet, sad(ah.in, e.in));
    expect(good.ok ? toHex(good.packet) : good.reason).toBe(toHex(inner));
  });
});

describe('bundle edges', () => {
  it('applyBundle with no SAs is a RangeError naming sas', () => {
    expect(() => applyBundle(innerPacket(4, new Uint8Array(1)), [], testIvs(1))).toThrow(/^sas: /);
  });

  it('applyBundle stops at the first drop and says which SA dropped and what was applied', () => {
    const esp = espPair(NDIS_ESP[2]!.suite, 'transport', 0x9000, 'node');
    const ah = createExhaustedAh();
    const r = applyBundle(innerPacket(6, new Uint8Array(8)), [esp.out, ah], testIvs(1));
    expect(r.ok ? 'ok' : [r.reason, r.sa.id, ids(r.applied.map((a) => a.sa))]).toEqual(['seqExhausted', ah.id, [esp.out.id]]);
  });

  it('openBundle: not IPsec, unknown SPI, a truncated datagram, each counted once', () => {
    const drops = new DropCounters();
    const plain = innerPacket(4, new Uint8Array(10));
    expect(openBundle(plain, sad(), drops)).toEqual({ ok: false, reason: 'notIpsec', sas: [] });
    const ah = ahPairOf(1, 'transport', 0x9100, 'node');
    const r = applyBundle(plain, [ah.out], testIvs(1));
    if (!r.ok) throw new Error(r.reason);
    expect(openBundle(r.packet.slice(), sad(), drops)).toEqual({ ok: false, reason: 'unknownSpi', sas: [] });
    expect(openBundle(r.packet.subarray(0, 3), sad(ah.in), drops)).toMatchObject({ ok: false, reason: 'truncated' });
    expect(drops.total()).toBe(3);
  });

  it('an ESP SA found under an AH SPI (or the reverse) is an unknown SPI, not a crash', () => {
    const ah = ahPairOf(2, 'transport', 0x9200, 'node');
    const esp = espPair(NDIS_ESP[3]!.suite, 'transport', 0x9200, 'node');
    const r = applyBundle(innerPacket(4, new Uint8Array(4)), [ah.out], testIvs(1));
    if (!r.ok) throw new Error(r.reason);
    const wrong = openBundle(r.packet, () => esp.in);
    expect(wrong.ok ? 'ok' : wrong.reason).toBe('unknownSpi');
  });
});

function createExhaustedAh() {
  return ahPairOf(2, 'transport', 0x9300, 'node', undefined, { hi: 0, lo: 0xffffffff }).out;
}
