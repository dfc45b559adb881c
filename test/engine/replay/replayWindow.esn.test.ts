/**
 * ESN across the 2^32 boundary: the model gets the true 64-bit numbers, the window only the low
 * 32 bits and its own `inferSeqHi` (RFC 4303 App. A2.2). A packet whose Seqh was inferred wrong
 * fails its ICV in real life (the sender used the true Seqh), so it is never advanced here.
 */
import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { ReplayWindow } from '../../../engine/replay/replayWindow.js';
import { MAX_SEQ_64, ReplayModel, join, moveArb, resolve, split } from './replayModel.js';

const START = 0xffffff00n; // hi 0, lo 0xffffff00: 256 below the boundary
const sizeArb = fc.oneof(fc.constantFrom(32, 64, 128, 4096), fc.integer({ min: 32, max: 4096 }));
let runsThatCrossed = 0;

describe('ESN wrap-around: low 32 bits + inferSeqHi vs the true 64-bit model', () => {
  test.prop([sizeArb, fc.array(moveArb(1n << 31n), { minLength: 1, maxLength: 300, size: 'max' })], {
    numRuns: 300,
  })('inferred Seqh and verdicts agree with the model', (size, moves) => {
    const window = ReplayWindow.create({ size, esn: true });
    const model = new ReplayModel(size);
    window.advance(0, Number(START));
    model.accept(START);
    const history = [START];
    moves.forEach((move, i) => {
      const seq = resolve(move, model, history, MAX_SEQ_64);
      const { hi: trueHi, lo } = split(seq);
      const hex = (n: bigint): string => `0x${n.toString(16)}`;
      const label = `step ${i} (${move.kind}) seq ${hex(seq)} top ${hex(model.top)} W ${size}`;
      const hi = window.inferSeqHi(lo);
      expect(hi, `${label} Seqh`).toBe(model.expectedSeqHi(lo));
      const verdict = window.check(hi, lo);
      // The window judges the number it inferred exactly as the model would.
      expect(verdict, label).toBe(model.verdict(join(hi, lo)));
      if (hi === trueHi) {
        expect(verdict, `${label} true seq`).toBe(model.verdict(seq));
      } else {
        // Forward jumps stay below 2^32 − W, so a wrong guess means the packet was too old.
        expect(model.verdict(seq), `${label} wrong Seqh only for old packets`).toBe('tooOld');
      }
      const icvVerifies = hi === trueHi && move.authentic;
      if (verdict === 'ok' && icvVerifies) {
        window.advance(hi, lo);
        model.accept(seq);
        history.push(seq);
      }
      expect(join(window.topHi, window.topLo), `${label} top`).toBe(model.top);
    });
    if (model.top >= 1n << 32n) runsThatCrossed++;
  });

  it('crossed the 2^32 boundary in most runs', () => {
    expect(runsThatCrossed).toBeGreaterThan(150);
  });

  test.prop([
    fc.integer({ min: 32, max: 4096 }),
    fc.oneof(
      fc.bigInt(1n, 1n << 20n),
      fc.bigInt(1n, MAX_SEQ_64),
      fc.bigInt(MAX_SEQ_64 - 8192n, MAX_SEQ_64),
    ),
    fc.oneof(fc.nat({ max: 0xffffffff }), fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff)),
  ])('inferSeqHi follows A2.2 for any top, incl. no subspace below 0 or above 2^32 − 1', (
    size,
    top,
    seql,
  ) => {
    const window = ReplayWindow.create({ size, esn: true });
    const model = new ReplayModel(size);
    const { hi, lo } = split(top);
    window.advance(hi, lo);
    model.accept(top);
    expect(window.inferSeqHi(seql)).toBe(model.expectedSeqHi(seql));
  });

  test.prop([
    fc.integer({ min: 32, max: 4096 }),
    fc.oneof(fc.constantFrom(1, 2, 0xffffffff), fc.integer({ min: 1, max: 0xffffffff })),
    fc.integer({ min: -2, max: 2 }),
    fc.oneof(fc.nat({ max: 0xffffffff }), fc.constantFrom(0, 1, 0xfffff000, 0xffffffff)),
  ])('at the seam of A2.2 cases A and B (Tl = W − 1 ± 2)', (size, th, delta, seql) => {
    const window = ReplayWindow.create({ size, esn: true });
    const model = new ReplayModel(size);
    const tl = size - 1 + delta;
    window.advance(th, tl);
    model.accept(join(th, tl));
    expect(window.inferSeqHi(seql), `T = (${th}, ${tl})`).toBe(model.expectedSeqHi(seql));
  });
});

describe('a Seql just below the bottom edge is taken to be in the next subspace (README)', () => {
  it('case A: T = (1, 100), W = 64, Seql = Bl − 1 = 36 → Seqh 2, passes check, ICV fails', () => {
    const window = ReplayWindow.create({ size: 64, esn: true });
    window.advance(1, 100);
    expect(window.inferSeqHi(37)).toBe(1); // Bl itself is still this subspace
    expect(window.inferSeqHi(36)).toBe(2);
    expect(window.check(2, 36)).toBe('ok'); // right of the window as (2, 36)…
    expect(window.check(1, 36)).toBe('tooOld'); // …but the sender's (1, 36) is too old
    // The ICV (computed with Seqh 2) does not verify, so the window is not advanced.
    expect([window.topHi, window.topLo]).toEqual([1, 100]);
    expect(window.check(1, 101)).toBe('ok');
  });

  it('case B: T = (1, 10), W = 64, Seql = Bl − 1 = 0xffffffca → Seqh 1 (not 0)', () => {
    const window = ReplayWindow.create({ size: 64, esn: true });
    window.advance(1, 10);
    expect(window.inferSeqHi(0xffffffcb)).toBe(0);
    expect(window.inferSeqHi(0xffffffca)).toBe(1);
    expect(window.check(1, 0xffffffca)).toBe('ok');
    expect(window.check(0, 0xffffffca)).toBe('tooOld');
  });

  it('no subspace below 0: T = (0, 10), W = 64, Seql = 0xfffffff0 → Seqh 0, a far jump ahead', () => {
    const window = ReplayWindow.create({ size: 64, esn: true });
    window.advance(0, 10);
    expect(window.inferSeqHi(0xfffffff0)).toBe(0);
    expect(window.check(0, 0xfffffff0)).toBe('ok');
  });

  it('no subspace above 2^32 − 1: T = (0xffffffff, 0xfffffff0), W = 32 → Seqh stays, tooOld', () => {
    const window = ReplayWindow.create({ size: 32, esn: true });
    window.advance(0xffffffff, 0xfffffff0);
    expect(window.inferSeqHi(5)).toBe(0xffffffff);
    expect(window.check(0xffffffff, 5)).toBe('tooOld');
    expect(window.check(0xffffffff, 0xffffffff)).toBe('ok');
  });
});
