import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { SpiTable, type SpiKeyed } from '../../../engine/sad/spiTable.js';
import type { IpsecProtocolName } from '../../../engine/sad/types.js';

const u32 = (v: number) => Uint8Array.of(v >>> 24, v >>> 16, v >>> 8, v);

/** Multiplicative inverse of an odd number mod 2^32 (Newton's iteration). */
function inverse(c: number): number {
  let x = c;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(c, x));
  return x >>> 0;
}

/**
 * Two IPv6 addresses the table gives the same tag (it folds the four words as
 * w0 ^ w1·c1 ^ w2·c2 ^ w3·c3): the second changes w0 by `delta` and w3 to cancel it. Lookups
 * must still tell them apart.
 */
function tagTwins(): [Uint8Array, Uint8Array] {
  const a = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
  const delta = 0x00010000;
  const w3 = Math.imul((Math.imul(1, 0x27d4eb2f) ^ delta) >>> 0, inverse(0x27d4eb2f)) >>> 0;
  const b = a.slice();
  b.set(u32(0x20010db8 ^ delta), 0);
  b.set(u32(w3), 12);
  return [a, b];
}

const [TWIN_A, TWIN_B] = tagTwins();
const DSTS = [u32(0xc0000202), u32(0xc0000203), TWIN_A, TWIN_B, Uint8Array.of(0xfe, 0x80, ...new Array<number>(13).fill(0), 7)];

interface Item extends SpiKeyed {
  readonly n: number;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

describe('SpiTable (open addressing by SPI) against a list model', () => {
  it('the crafted IPv6 twins do share a tag, and are still told apart', () => {
    const t = new SpiTable<Item>();
    const a: Item = { n: 1, spi: 0x1234, dst: TWIN_A, protocol: 'esp' };
    const b: Item = { n: 2, spi: 0x1234, dst: TWIN_B, protocol: 'esp' };
    t.add(a);
    expect(t.find(0x1234, TWIN_B, 'esp')).toBeUndefined();
    t.add(b);
    expect(t.find(0x1234, TWIN_A, 'esp')).toBe(a);
    expect(t.find(0x1234, TWIN_B, 'esp')).toBe(b);
    expect(t.find(0x1234, TWIN_A, 'ah')).toBeUndefined();
    expect(t.find(0x1234, u32(0), 'esp')).toBeUndefined();
    expect(t.find(0x1234, new Uint8Array(5), 'esp')).toBeUndefined();
  });

  const spi = fc.oneof(fc.integer({ min: 256, max: 300 }), fc.integer({ min: 256, max: 0xffffffff }));
  const op = fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('add' as const), spi, dst: fc.nat(DSTS.length - 1), protocol: fc.constantFrom<IpsecProtocolName>('esp', 'ah') }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
  );
  test.prop([fc.array(op, { maxLength: 400 })], { numRuns: 200 })('add, remove, find and hasSpi agree with the model (shared SPIs, both families, growth, wrap-around)', (ops) => {
    const t = new SpiTable<Item>();
    let model: Item[] = [];
    let n = 0;
    const probes: [number, Uint8Array, IpsecProtocolName][] = [];
    for (const o of ops) {
      if (o.kind === 'add') {
        const item: Item = { n: n++, spi: o.spi, dst: DSTS[o.dst]!, protocol: o.protocol };
        probes.push([o.spi, item.dst, o.protocol], [o.spi + 1, item.dst, o.protocol]);
        // The SAD never holds two live SAs with the same key; neither does the model.
        if (model.some((m) => m.spi === item.spi && m.protocol === item.protocol && sameBytes(m.dst, item.dst))) continue;
        t.add(item);
        model.push(item);
      } else if (model.length > 0) {
        const victim = model[o.pick % model.length]!;
        expect(t.remove(victim)).toBe(true);
        expect(t.remove(victim)).toBe(false);
        model = model.filter((m) => m !== victim);
      }
      expect(t.size).toBe(model.length);
    }
    for (const [s, dst, protocol] of probes) {
      for (const d of [dst, ...DSTS]) {
        expect(t.find(s, d, protocol)).toBe(model.find((m) => m.spi === s && m.protocol === protocol && sameBytes(m.dst, d)));
      }
      expect(t.hasSpi(s)).toBe(model.some((m) => m.spi === s));
    }
    for (const m of model) expect(t.find(m.spi, m.dst.slice(), m.protocol)).toBe(m);
  });

  // SPIs whose home slot in the smallest (16-slot) table is near its end or start, so runs wrap
  // around and removals shift entries back across the end.
  const home16 = (v: number) => Math.imul(v, 0x9e3779b1) >>> 28;
  const edgeSpis: number[] = [];
  for (let v = 256; edgeSpis.length < 10; v++) if ([13, 14, 15, 0, 1].includes(home16(v)) && edgeSpis.filter((x) => home16(x) === home16(v)).length < 2) edgeSpis.push(v);
  const small = fc.array(fc.tuple(fc.boolean(), fc.constantFrom(...edgeSpis), fc.nat(1)), { maxLength: 60 });
  test.prop([small], { numRuns: 300 })('runs that wrap around the end of a small table', (ops) => {
    const t = new SpiTable<Item>();
    let model: Item[] = [];
    let n = 0;
    for (const [add, s, d] of ops) {
      const have = model.find((m) => m.spi === s && m.dst === DSTS[d]);
      if (add && !have && model.length < 7) {
        const item: Item = { n: n++, spi: s, dst: DSTS[d]!, protocol: 'esp' };
        t.add(item);
        model.push(item);
      } else if (!add && have) {
        expect(t.remove(have)).toBe(true);
        model = model.filter((m) => m !== have);
      }
      for (const v of edgeSpis) for (const dst of DSTS.slice(0, 2)) expect(t.find(v, dst, 'esp')).toBe(model.find((m) => m.spi === v && m.dst === dst));
    }
  });
});
