import { describe, expect, it } from 'vitest';
import { DROP_REASONS, DropCounters } from '../../../engine/dropReasons.js';
import { decapsulate, openEsp } from '../../../engine/esp/decapsulate.js';
import { encapsulate } from '../../../engine/esp/encapsulate.js';
import type { EspSa } from '../../../engine/esp/espSa.js';
import { standardIvSource } from '../../../engine/esp/ivSource.js';
import { fuzzInput, prng } from '../../support/random.js';
import { ALL_SUITES, innerPacket, saPair, seededFill } from './fixtures.js';


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
      const input = fuzzInput(rnd, seeds, {
        maxRandomLength: 120,
        shapeRandom: (b, int) => {
          if (b.length > 0 && int(10) < 7) b[0] = int(2) ? 0x45 : 0x60; // look like IP
        },
      });
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
