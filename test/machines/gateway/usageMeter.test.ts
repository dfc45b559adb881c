import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { UsageMeter } from '../../../machines/gateway/usageMeter.js';

describe('UsageMeter: events only when a threshold is crossed', () => {
  it('checkpoints every N packets, then soft, then hard, each once', () => {
    const m = new UsageMeter({ soft: { packets: 250 }, hard: { packets: 400 } }, 100);
    const crossings: string[] = [];
    for (let p = 1; p <= 500; p++) {
      if (p >= m.nextPackets || p * 100 >= m.nextBytes) {
        const c = m.cross(p, p * 100);
        crossings.push(c.kind === 'checkpoint' ? `${p}:checkpoint` : `${p}:${c.kind}/${c.limit}`);
      }
    }
    expect(crossings).toEqual(['100:checkpoint', '200:checkpoint', '250:soft/packets', '350:checkpoint', '400:hard/packets', '500:checkpoint']);
  });

  test.prop([
    fc.record({ softBytes: fc.option(fc.integer({ min: 1, max: 200_000 }), { nil: undefined }), hardBytes: fc.option(fc.integer({ min: 1, max: 300_000 }), { nil: undefined }), softPackets: fc.option(fc.integer({ min: 1, max: 300 }), { nil: undefined }), hardPackets: fc.option(fc.integer({ min: 1, max: 400 }), { nil: undefined }) }),
    fc.integer({ min: 1, max: 64 }),
    fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 500 }),
  ])('against a naive model: soft and hard are reported once, at the first packet that reaches them; never more than one event per packet', (l, every, sizes) => {
    const lifetimes = { soft: { ...(l.softBytes ? { bytes: l.softBytes } : {}), ...(l.softPackets ? { packets: l.softPackets } : {}) }, hard: { ...(l.hardBytes ? { bytes: l.hardBytes } : {}), ...(l.hardPackets ? { packets: l.hardPackets } : {}) } };
    const m = new UsageMeter(lifetimes, every);
    const reached = (lim: { bytes?: number; packets?: number }, p: number, b: number) => (lim.bytes !== undefined && b >= lim.bytes) || (lim.packets !== undefined && p >= lim.packets);
    let packets = 0;
    let bytes = 0;
    let soft: number | undefined;
    let hard: number | undefined;
    let events = 0;
    let modelSoft: number | undefined;
    let modelHard: number | undefined;
    for (const size of sizes) {
      packets++;
      bytes += size;
      if (modelHard === undefined && reached(lifetimes.hard, packets, bytes)) modelHard = packets;
      if (modelSoft === undefined && modelHard === undefined && reached(lifetimes.soft, packets, bytes)) modelSoft = packets;
      if (packets >= m.nextPackets || bytes >= m.nextBytes) {
        events++;
        const c = m.cross(packets, bytes);
        if (c.kind === 'soft') { expect(soft).toBeUndefined(); soft = packets; }
        if (c.kind === 'hard') { expect(hard).toBeUndefined(); hard = packets; }
      }
    }
    expect(hard).toBe(modelHard);
    expect(soft).toBe(modelSoft);
    expect(events).toBeLessThanOrEqual(packets);
    // Checkpoints come at least every `every` packets: never silent for long.
    expect(events).toBeGreaterThanOrEqual(Math.floor(packets / every) - 0);
  });
});
