import { describe, expect, it } from 'vitest';
import { ahDecapsulate } from '../../../engine/ah/ahDecapsulate.js';
import { ahEncapsulate } from '../../../engine/ah/ahEncapsulate.js';
import type { AhSa } from '../../../engine/ah/ahSa.js';
import { DROP_REASONS, DropCounters } from '../../../engine/dropReasons.js';
import { hex } from '../../vectors/load.js';
import { fuzzInput } from '../../support/random.js';
import { AH_INTEGS, ahPair, innerPacket, prng } from './fixtures.js';
import { SCAPY_VECTORS, inboundFor } from './scapyVectors.js';

const SEED = 0x5eed_a401;
const INPUTS = 120_000;

describe(`ahDecapsulate fuzz (seed ${SEED.toString(16)}, ${INPUTS} inputs)`, () => {
  it('never throws, and every input is delivered or counted as exactly one drop with a known reason', () => {
    const rnd = prng(SEED);
    const int = (n: number) => Math.floor(rnd() * n);
    const inbound: AhSa[] = [];
    const seeds: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) {
      const integ = AH_INTEGS[i % AH_INTEGS.length]!;
      const mode = i % 2 ? 'tunnel' : 'transport';
      const version = (i >> 1) % 2 ? 6 : 4;
      const pair = ahPair({ integ, backend: i % 3 ? 'node' : 'noble', mode, outerVersion: version, esn: i % 4 === 0, seed: i });
      inbound.push(pair.in);
      const r = ahEncapsulate(innerPacket(version, Uint8Array.from({ length: int(200) }, () => int(256))), pair.out);
      if (!r.ok) throw new Error(r.reason);
      seeds.push(r.packet);
    }
    // The scapy packets bring IPv4 options, Hop-by-Hop and routing headers to mutate.
    for (const v of SCAPY_VECTORS) {
      inbound.push(inboundFor(v, 'node'));
      seeds.push(hex(v.rfc_packet ?? v.packet));
    }
    // Any SPI finds an SA, so random bytes reach the replay check, the ICV and mode handling.
    let target = inbound[0]!;
    const lookup = () => target;
    const drops = new DropCounters();
    let delivered = 0;
    for (let n = 0; n < INPUTS; n++) {
      target = inbound[int(inbound.length)]!;
      const input = fuzzInput(rnd, seeds, {
        maxRandomLength: 160,
        unmutated: true,
        shapeRandom: (b, int) => {
          if (b.length > 0 && int(10) < 8) b[0] = int(2) ? 0x45 + int(4) : 0x60; // look like IP
          if (b.length > 9 && int(2)) b[9] = 51;
          if (b.length > 6 && int(2)) b[6] = 51;
        },
      });
      let r;
      try {
        r = ahDecapsulate(input, lookup, drops);
      } catch (e) {
        throw new Error(`input ${n} threw: ${Buffer.from(input).toString('hex')}`, { cause: e });
      }
      if (r.ok) delivered++;
      else if (!DROP_REASONS.includes(r.reason)) throw new Error(`input ${n}: unknown reason ${r.reason}`);
    }
    expect(delivered + drops.total()).toBe(INPUTS);
    expect(delivered).toBeGreaterThan(0); // unmutated seeds and mutable-field flips get through
    expect(drops.global.authFailed).toBeGreaterThan(0);
    expect(drops.global.replayed).toBeGreaterThan(0);
  });
});
