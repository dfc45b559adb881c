import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { ahDecapsulate } from '../../../engine/ah/ahDecapsulate.js';
import { ahEncapsulate } from '../../../engine/ah/ahEncapsulate.js';
import { toHex } from '../../../engine/bytes.js';
import { DROP_REASONS, DropCounters } from '../../../engine/dropReasons.js';
import { internetChecksum } from '../../../engine/packet/checksum.js';
import { parseIp } from '../../../engine/packet/ipPacket.js';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import { AH_INTEGS, BACKENDS, ahPair, arbAhCase, innerPacket, lookupOf } from './fixtures.js';

type Case = typeof arbAhCase extends fc.Arbitrary<infer T> ? T : never;

function sealed(o: Case, backend: (typeof BACKENDS)[number]) {
  const outerVersion = o.mode === 'tunnel' ? o.outerVersion : o.innerVersion;
  const pair = ahPair({ ...o, outerVersion, backend });
  const inner = innerPacket(o.innerVersion, o.payload, o.seed & 0xff);
  const r = ahEncapsulate(inner, pair.out);
  if (!r.ok) throw new Error(r.reason);
  return { ...pair, inner, packet: r.packet, outerVersion };
}

/** Recomputes the IPv4 header checksum, as a router does after changing a field. */
function fixIpv4Checksum(p: Uint8Array): void {
  const ihl = (p[0]! & 0x0f) * 4;
  p[10] = 0;
  p[11] = 0;
  const c = internetChecksum(p, 0, ihl);
  p[10] = c >> 8;
  p[11] = c & 0xff;
}

/**
 * RFC 4302 §3.3.3.1.1.1 / §3.3.3.1.2.1: bits of the outer fixed header a router may change and
 * AH leaves out of the ICV. IPv4: TOS, the reserved and DF flag bits (MF and the offset would
 * make a fragment), TTL (the checksum follows them). IPv6: traffic class, flow label, hop limit.
 */
function isMutableBit(version: 4 | 6, bit: number): boolean {
  const byte = bit >> 3;
  const mask = 0x80 >> (bit & 7);
  if (version === 4) return byte === 1 || byte === 8 || (byte === 6 && (mask === 0x80 || mask === 0x40));
  return (byte === 0 && mask <= 0x08) || byte === 1 || byte === 2 || byte === 3 || byte === 7;
}

describe('AH properties', () => {
  it('covers the five HMAC transforms', () => {
    expect(AH_INTEGS).toEqual([1, 2, 12, 13, 14]);
  });

  test.prop([arbAhCase, fc.constantFrom(...BACKENDS)], { numRuns: 400 })(
    'ahDecapsulate(ahEncapsulate(p)) = p for every integ × mode × IP version × length',
    (o, backend) => {
      const s = sealed(o, backend);
      const outer = parseIp(s.packet);
      expect(outer.ok && outer.protocol).toBe(IPPROTO.AH);
      // RFC 4302 §2.6: AH is a multiple of 32 bits over IPv4, 64 over IPv6.
      const ahLength = outer.ok ? (outer.payload[1]! + 2) * 4 : 0;
      expect(ahLength % (s.outerVersion === 6 ? 8 : o.ipv4Align)).toBe(0);
      const r = ahDecapsulate(s.packet, lookupOf(s.in));
      expect(r.ok ? toHex(r.packet) : r.reason).toBe(toHex(s.inner));
    },
  );

  test.prop([arbAhCase], { numRuns: 150 })('node and noble back ends produce byte-identical packets', (o) => {
    const [a, b] = BACKENDS.map((backend) => {
      const s = sealed(o, backend);
      const second = ahEncapsulate(s.inner, s.out);
      return [toHex(s.packet), second.ok ? toHex(second.packet) : second.reason];
    });
    expect(b).toEqual(a);
  });

  test.prop([arbAhCase, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xfffff }), fc.integer({ min: 1, max: 255 }), fc.boolean()], { numRuns: 300 })(
    'a router rewriting TOS / traffic class, flow label, TTL / hop limit, DF and the checksum does not break the ICV',
    (o, tos, flow, ttl, df) => {
      const s = sealed(o, 'node');
      const p = s.packet;
      if (s.outerVersion === 4) {
        p[1] = tos;
        p[6] = (p[6]! & ~0x40) | (df ? 0x40 : 0);
        p[8] = ttl;
        fixIpv4Checksum(p);
      } else {
        p[0] = 0x60 | (tos >> 4);
        p[1] = ((tos & 0x0f) << 4) | (flow >> 16);
        p[2] = (flow >> 8) & 0xff;
        p[3] = flow & 0xff;
        p[7] = ttl;
      }
      const r = ahDecapsulate(p, lookupOf(s.in));
      expect(r.ok ? 'ok' : r.reason).toBe('ok');
      if (r.ok && o.mode === 'tunnel') expect(toHex(r.packet)).toBe(toHex(s.inner));
    },
  );

  test.prop([arbAhCase, fc.nat(), fc.constantFrom(...BACKENDS)], { numRuns: 600 })(
    'a single bit flip verifies if and only if the bit is mutable; otherwise { ok: false } with a counted reason, never a throw',
    (o, where, backend) => {
      const s = sealed(o, backend);
      const p = s.packet;
      const bit = where % (p.length * 8);
      p[bit >> 3]! ^= 0x80 >> (bit & 7);
      // A router fixes the IPv4 checksum; a flip of the checksum itself stays.
      if (s.outerVersion === 4 && bit >> 3 !== 10 && bit >> 3 !== 11 && bit >> 3 < (p[0]! & 0x0f) * 4 && (p[0]! & 0x0f) >= 5) fixIpv4Checksum(p);
      const drops = new DropCounters();
      const r = ahDecapsulate(p, lookupOf(s.in), drops);
      const mutable = bit >> 3 < (s.outerVersion === 4 ? 20 : 40) && isMutableBit(s.outerVersion, bit);
      if (mutable) {
        expect(r.ok ? 'ok' : r.reason).toBe('ok');
      } else {
        expect(r.ok).toBe(false);
        if (!r.ok) expect(DROP_REASONS).toContain(r.reason);
        expect(drops.total()).toBe(1);
      }
    },
  );

  test.prop([arbAhCase], { numRuns: 100 })('a delivered packet delivered again is replayed', (o) => {
    const s = sealed(o, 'node');
    const copy = s.packet.slice();
    const drops = new DropCounters();
    expect(ahDecapsulate(s.packet, lookupOf(s.in), drops).ok).toBe(true);
    const again = ahDecapsulate(copy, lookupOf(s.in), drops);
    expect(again.ok ? 'ok' : again.reason).toBe('replayed');
    expect(drops.forSa('ah-in').replayed).toBe(1);
  });
});

describe('ESN across the 2^32 boundary (RFC 4302 §2.5.1, App. B)', () => {
  it.each(AH_INTEGS)('integ %i: the receiver infers the high bits, which only the ICV carries', (integ) => {
    const { out, in: inn } = ahPair({ integ, backend: 'node', mode: 'transport', outerVersion: 4, esn: true, seed: 3, sequenceStart: { hi: 0, lo: 0xfffffffd } });
    const seen: [number, number][] = [];
    for (let i = 0; i < 5; i++) {
      const r = ahEncapsulate(innerPacket(4, Uint8Array.of(i)), out);
      if (!r.ok) throw new Error(r.reason);
      const back = ahDecapsulate(r.packet, lookupOf(inn));
      expect(back.ok ? [back.seqHi, back.seqLo] : back.reason).toEqual([r.seqHi, r.seqLo]);
      seen.push([r.seqHi, r.seqLo]);
    }
    expect(seen).toEqual([[0, 0xfffffffe], [0, 0xffffffff], [1, 0], [1, 1], [1, 2]]);
  });

  it('without ESN the counter stops at 2^32 - 1: seqExhausted, never a wrap', () => {
    const { out } = ahPair({ integ: 2, backend: 'node', mode: 'tunnel', outerVersion: 6, esn: false, seed: 1, sequenceStart: { hi: 0, lo: 0xfffffffe } });
    expect(ahEncapsulate(innerPacket(6, Uint8Array.of(1)), out).ok).toBe(true);
    const r = ahEncapsulate(innerPacket(6, Uint8Array.of(2)), out);
    expect(r.ok ? 'ok' : r.reason).toBe('seqExhausted');
  });

  it('a packet with the right low bits but sealed under other high bits fails the ICV', () => {
    const { out } = ahPair({ integ: 12, backend: 'noble', mode: 'tunnel', outerVersion: 4, esn: true, seed: 9, sequenceStart: { hi: 5, lo: 0 } });
    const { in: inn } = ahPair({ integ: 12, backend: 'noble', mode: 'tunnel', outerVersion: 4, esn: true, seed: 9 });
    const r = ahEncapsulate(innerPacket(4, Uint8Array.of(7)), out);
    if (!r.ok) throw new Error(r.reason);
    const back = ahDecapsulate(r.packet, lookupOf(inn)); // the receiver assumes high bits 0
    expect(back.ok ? 'ok' : back.reason).toBe('authFailed');
  });
});
