import { describe, expect, it } from 'vitest';
import { DROP_REASONS, DropCounters } from '../../../engine/dropReasons.js';
import { decapsulate, openEsp } from '../../../engine/esp/decapsulate.js';
import { encapsulate } from '../../../engine/esp/encapsulate.js';
import type { EspSa } from '../../../engine/esp/espSa.js';
import { standardIvSource } from '../../../engine/esp/ivSource.js';
import { ALL_SUITES, innerPacket, saPair, seededFill } from './fixtures.js';

/** mulberry32: a fixed-seed PRNG, so a failure reproduces exactly. */
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

const SEED = 0x1f2e3d4c;
const INPUTS = 120_000;

describe(`decapsulate fuzz (seed ${SEED.toString(16)}, ${INPUTS} inputs)`, () => {
  it('never throws, and every drop has a reason from the union and is counted', () => {
    const rnd = prng(SEED);
    const int = (n: number) => Math.floor(rnd() * n);
    // Valid packets from a spread of suites, modes and versions, to mutate.
    const pairs: { out: EspSa; in: EspSa }[] = [];
    const seeds: Uint8Array[] = [];
    for (let i = 0; i < 48; i++) {
      const suite = ALL_SUITES[i % ALL_SUITES.length]!;
      const mode = i % 2 ? 'tunnel' : 'transport';
      const version = (i >> 1) % 2 ? 6 : 4;
      const pair = saPair({ suite, backend: 'node', mode, outerVersion: version, natT: i % 3 === 0, esn: i % 5 === 0, seed: i });
      pairs.push(pair);
      const r = encapsulate(innerPacket(version, Uint8Array.from({ length: 8 + int(200) }, () => int(256))), pair.out, standardIvSource(seededFill(i)));
      if (!r.ok) throw new Error(r.reason);
      seeds.push(r.packet);
    }
    // Any SPI finds an SA, so random bytes reach the ICV check, trailer and mode handling too.
    let target = pairs[0]!.in;
    const lookup = () => target;
    const drops = new DropCounters();
    let decapsulated = 0;
    let delivered = 0;
    for (let n = 0; n < INPUTS; n++) {
      target = pairs[int(pairs.length)]!.in;
      let input: Uint8Array;
      const kind = int(4);
      if (kind === 0) {
        input = Uint8Array.from({ length: int(120) }, () => int(256));
        if (input.length > 0 && rnd() < 0.7) input[0] = rnd() < 0.5 ? 0x45 : 0x60; // look like IP
      } else {
        const base = seeds[int(seeds.length)]!;
        input = base.slice();
        const flips = 1 + int(4);
        for (let f = 0; f < flips; f++) input[int(input.length)]! ^= 1 << int(8);
        if (kind === 2) input = input.subarray(0, int(input.length + 1));
        if (kind === 3) {
          const grown = new Uint8Array(input.length + int(64));
          grown.set(input);
          input = grown;
        }
      }
      let r;
      try {
        if (rnd() < 0.9) {
          decapsulated++;
          r = decapsulate(input, lookup, drops);
          if (r.ok) delivered++;
        } else {
          r = openEsp(input, input.subarray(0, 4), lookup);
        }
      } catch (e) {
        throw new Error(`input ${n} threw: ${Buffer.from(input).toString('hex')}`, { cause: e });
      }
      if (!r.ok && !DROP_REASONS.includes(r.reason)) throw new Error(`input ${n}: unknown reason ${r.reason}`);
    }
    // Every decapsulate input was either delivered or counted as exactly one drop.
    expect(drops.total() + delivered).toBe(decapsulated);
  });
});
