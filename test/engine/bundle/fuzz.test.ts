import { describe, expect, it } from 'vitest';
import { AhSa } from '../../../engine/ah/ahSa.js';
import { applyBundle, openBundle, type BundleSa } from '../../../engine/bundle/bundle.js';
import { DROP_REASONS, DropCounters } from '../../../engine/dropReasons.js';
import type { EspSa } from '../../../engine/esp/espSa.js';
import { fuzzInput } from '../../support/random.js';
import { innerPacket, prng } from '../ah/fixtures.js';
import { NDIS_AH, NDIS_ESP, ahPairOf, espPair, gateways, testIvs } from './fixtures.js';

const SEED = 0xb0d1e5;
const INPUTS = 100_000;

describe(`openBundle fuzz (seed ${SEED.toString(16)}, ${INPUTS} inputs)`, () => {
  it('never throws, and every input is delivered or counted as exactly one drop with a known reason', () => {
    const rnd = prng(SEED);
    const int = (n: number) => Math.floor(rnd() * n);
    const ahs: AhSa[] = [];
    const esps: EspSa[] = [];
    const seeds: Uint8Array[] = [];
    for (let i = 0; i < 32; i++) {
      const version = i % 2 ? 6 : 4;
      const tunnelFirst = i % 4 >= 2;
      const ah = ahPairOf(NDIS_AH[i % 2]!, tunnelFirst && i % 8 >= 4 ? 'tunnel' : 'transport', 0x100 + i, 'node', gateways(version));
      const esp = espPair(NDIS_ESP[i % 4]!.suite, tunnelFirst && i % 8 < 4 ? 'tunnel' : 'transport', 0x200 + i, 'node', gateways(version));
      ahs.push(ah.in);
      esps.push(esp.in);
      // The tunnel-mode SA (if any) goes first; otherwise alternate the orders.
      const order: BundleSa[] = esp.out.config.mode === 'tunnel' || (ah.out.config.mode !== 'tunnel' && i % 3 === 0) ? [esp.out, ah.out] : [ah.out, esp.out];
      const r = applyBundle(innerPacket(version, Uint8Array.from({ length: int(300) }, () => int(256))), order, testIvs(i));
      if (!r.ok) throw new Error(r.reason);
      seeds.push(r.packet);
    }
    // Any SPI finds an SA of the right kind, so mutated packets reach every step of both data paths.
    let ah = ahs[0]!;
    let esp = esps[0]!;
    const lookup = (_spi: number, _dst: Uint8Array, protocol: number): BundleSa | undefined => (protocol === 51 ? ah : esp);
    const drops = new DropCounters();
    let delivered = 0;
    for (let n = 0; n < INPUTS; n++) {
      ah = ahs[int(ahs.length)]!;
      esp = esps[int(esps.length)]!;
      const input = fuzzInput(rnd, seeds, {
        maxRandomLength: 160,
        unmutated: true,
        shapeRandom: (b, int) => {
          if (b.length > 0 && int(10) < 8) b[0] = int(2) ? 0x45 : 0x60; // look like IP
          if (b.length > 9 && int(2)) b[9] = int(2) ? 50 : 51;
          if (b.length > 6 && int(2)) b[6] = int(2) ? 50 : 51;
        },
      });
      let r;
      try {
        r = openBundle(input, lookup, drops);
      } catch (e) {
        throw new Error(`input ${n} threw: ${Buffer.from(input).toString('hex')}`, { cause: e });
      }
      if (r.ok) delivered++;
      else if (!DROP_REASONS.includes(r.reason)) throw new Error(`input ${n}: unknown reason ${r.reason}`);
    }
    expect(delivered + drops.total()).toBe(INPUTS);
    expect(delivered).toBeGreaterThan(0);
    expect(drops.global.authFailed).toBeGreaterThan(0);
  });
});
