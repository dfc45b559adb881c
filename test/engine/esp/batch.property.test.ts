/**
 * The batch path (engine/esp/batch.ts) against the packet-by-packet path as the reference
 * model: the same bytes out, the same verdicts in the same order, the same replay windows,
 * usage and drop counters afterwards — across ESN wraps, reordering, duplicates inside one
 * batch, tampering and garbage.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../engine/bytes.js';
import { nativeCryptoStatus } from '../../../engine/crypto/nativeBackend.js';
import type { CryptoBackendName, EspSuiteSpec } from '../../../engine/crypto/types.js';
import { DropCounters } from '../../../engine/dropReasons.js';
import { decapsulateBatch, SealQueue } from '../../../engine/esp/batch.js';
import { decapsulate, type DecapsulateResult } from '../../../engine/esp/decapsulate.js';
import { encapsulate } from '../../../engine/esp/encapsulate.js';
import { createEspSa, type EspSa, type EspSaConfig } from '../../../engine/esp/espSa.js';
import { standardIvSource } from '../../../engine/esp/ivSource.js';
import { ALL_SUITES, innerPacket, keysFor, seededFill, V4_A, V4_B, V6_A, V6_B } from './fixtures.js';

const BACKENDS: CryptoBackendName[] = nativeCryptoStatus().available ? ['node', 'native'] : ['node'];

const arbSetup = fc.record({
  suite: fc.constantFrom(...ALL_SUITES),
  backend: fc.constantFrom(...BACKENDS),
  mode: fc.constantFrom('tunnel' as const, 'transport' as const),
  version: fc.constantFrom(4 as const, 6 as const),
  natT: fc.boolean(),
  esn: fc.boolean(),
  seed: fc.integer({ min: 0, max: 0xfff }),
  // Start a few packets before the low 32 bits wrap: with ESN the batch spans the wrap.
  startLo: fc.constantFrom(0, 0xfffffff0),
});
type Setup = typeof arbSetup extends fc.Arbitrary<infer T> ? T : never;

function sa(s: Setup, direction: 'outbound' | 'inbound', id: string): EspSa {
  const config: EspSaConfig = {
    id,
    direction,
    spi: 0x2000 + s.seed,
    suite: s.suite as EspSuiteSpec,
    keys: keysFor(s.suite, s.seed),
    backend: s.backend,
    mode: s.mode,
    esn: s.esn,
    replayWindow: 32, // the smallest (RFC 4303 §3.4.3): packets fall out of it within a batch
    ...(s.mode === 'tunnel' ? { tunnel: s.version === 4 ? { src: V4_A, dst: V4_B } : { src: V6_A, dst: V6_B } } : {}),
    ...(s.natT ? { natT: { srcPort: 4500, dstPort: 4500 } } : {}),
    ...(direction === 'outbound' && s.esn ? { sequenceStart: { hi: 0, lo: s.startLo } } : {}),
  };
  return createEspSa(config);
}

/** `arb`'s value once in `n` draws, `null` otherwise. */
const rarely = <T>(arb: fc.Arbitrary<T>, n: number) => fc.tuple(fc.integer({ min: 1, max: n }), arb).map(([k, v]) => (k === 1 ? v : null));

const verdict = (r: { ok: boolean; reason?: string; packet?: Uint8Array }) => (r.ok ? toHex(r.packet!) : r.reason!);
const lookupOf = (inn: EspSa) => (spi: number) => (spi === inn.spi ? inn : undefined);

describe('ESP batches = packet by packet', () => {
  it(`runs on the ${BACKENDS.join(' and ')} back end${BACKENDS.length > 1 ? 's' : ' (native not built)'}`, () => {
    expect(BACKENDS).toContain('node');
  });

  test.prop([arbSetup, fc.array(fc.record({ size: fc.integer({ min: 0, max: 1400 }), cut: fc.boolean() }), { minLength: 1, maxLength: 24 })], { numRuns: 150 })(
    'encapsulate with a SealQueue: the same packets, byte for byte, as sealing one by one',
    (s, shapes) => {
      const inners = shapes.map((x, i) => {
        const p = innerPacket(s.version, Uint8Array.from({ length: x.size }, (_, k) => (k * 13 + i) & 0xff));
        return x.cut && i % 3 === 0 ? p.subarray(0, 10) : p; // some truncated: drops keep their place
      });
      const one = sa(s, 'outbound', 'a');
      const batched = sa(s, 'outbound', 'b');
      const ivA = standardIvSource(seededFill(s.seed));
      const ivB = standardIvSource(seededFill(s.seed));
      const expected = inners.map((p) => verdict(encapsulate(p, one, ivA)));
      const queue = new SealQueue();
      const results = inners.map((p) => encapsulate(p, batched, ivB, queue));
      queue.flush();
      expect(queue.size).toBe(0);
      expect(results.map(verdict)).toEqual(expected);
      expect(batched.usage).toEqual(one.usage);
    },
  );

  test.prop(
    [
      arbSetup,
      fc.integer({ min: 4, max: 120 }),
      // What the network does: received datagram i is about sent packet i (scaled), `jitter`
      // away (reordered, duplicated, far behind), possibly with one bit flipped, or garbage.
      fc.array(
        fc.record({
          jitter: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -80, max: 10 })),
          flip: rarely(fc.nat(), 5), // 1 in 5 tampered
          garbage: rarely(fc.uint8Array({ maxLength: 80 }), 12),
        }),
        { minLength: 1, maxLength: 120 },
      ),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
    ],
    { numRuns: 300 },
  )('decapsulateBatch: the same verdicts, windows, usage and drops as decapsulate in order', (s, count, network, batchSizes) => {
    const out = sa(s, 'outbound', 'o');
    const iv = standardIvSource(seededFill(s.seed));
    const sent: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const r = encapsulate(innerPacket(s.version, Uint8Array.of(i, 1, 2, 3, 4, 5, 6, 7)), out, iv);
      if (r.ok) sent.push(r.packet);
    }
    expect(sent.length).toBe(count);
    const received = network.map((n, i) => {
      if (n.garbage) return n.garbage.slice();
      const from = Math.min(count - 1, Math.max(0, Math.round((i * count) / network.length) + n.jitter));
      const p = sent[from]!.slice();
      if (n.flip !== null) p[n.flip % p.length]! ^= 1 << (n.flip % 8);
      return p;
    });
    const refSa = sa(s, 'inbound', 'r');
    const batchSa = sa(s, 'inbound', 'b');
    const refDrops = new DropCounters();
    const batchDrops = new DropCounters();
    const expected = received.map((d) => verdict(decapsulate(d.slice(), lookupOf(refSa), refDrops)));
    const got: string[] = [];
    const seen: number[] = [];
    let at = 0;
    for (let b = 0; at < received.length; b++) {
      const size = batchSizes[b % batchSizes.length]!;
      const batch = received.slice(at, at + size).map((d) => d.slice());
      const results = decapsulateBatch(batch, lookupOf(batchSa), batchDrops, (_r: DecapsulateResult, i: number) => seen.push(at + i));
      got.push(...results.map(verdict));
      at += batch.length;
    }
    expect(got).toEqual(expected);
    expect(seen).toEqual(received.map((_, i) => i)); // `each` in arrival order, once each
    expect(batchSa.replay!.snapshot()).toEqual(refSa.replay!.snapshot());
    expect(batchSa.usage).toEqual(refSa.usage);
    expect(batchDrops.global).toEqual(refDrops.global);
  });
});
