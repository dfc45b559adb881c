/**
 * Misuse at the boundary throws RangeError naming the argument (DESIGN §6); packet content
 * never throws: a fixed-seed fuzz of random and extreme (hi, lo) pairs, checked against the
 * `Set` model as it goes.
 */
import { describe, expect, it } from 'vitest';
import {
  REPLAY_WINDOW_DEFAULT,
  REPLAY_WINDOW_MAX,
  REPLAY_WINDOW_MIN,
  ReplayWindow,
} from '../../../engine/replay/replayWindow.js';
import type { ReplayState } from '../../../engine/replay/replayWindow.js';
import { ReplayModel, join } from './replayModel.js';
import { mulberry32 } from '../../support/random.js';

describe('create / restore misuse', () => {
  const badSizes = [5000, 31, -1, 1.5, 4097, 1, Number.NaN, Infinity];
  it.each(badSizes)('size %s → RangeError naming size', (size) => {
    expect(() => ReplayWindow.create({ size, esn: false })).toThrow(RangeError);
    expect(() => ReplayWindow.create({ size, esn: false })).toThrow(/^size: /);
  });

  it('size 0 with esn true → RangeError naming esn', () => {
    expect(() => ReplayWindow.create({ size: 0, esn: true })).toThrow(RangeError);
    expect(() => ReplayWindow.create({ size: 0, esn: true })).toThrow(/^esn: /);
  });

  it('accepts 0, the bounds and the default', () => {
    expect(ReplayWindow.create({ esn: true }).size).toBe(REPLAY_WINDOW_DEFAULT);
    expect(REPLAY_WINDOW_DEFAULT).toBe(128);
    for (const size of [0, REPLAY_WINDOW_MIN, 33, REPLAY_WINDOW_MAX]) {
      expect(ReplayWindow.create({ size, esn: false }).size).toBe(size);
    }
    expect([REPLAY_WINDOW_MIN, REPLAY_WINDOW_MAX]).toEqual([32, 4096]);
  });

  const bad: [string, ReplayState][] = [
    ['topHi without ESN', { topHi: 1, topLo: 5, bitmap: [1, 0] }],
    ['topLo not uint32', { topHi: 0, topLo: 2 ** 32, bitmap: [1, 0] }],
    ['bitmap too short', { topHi: 0, topLo: 5, bitmap: [1] }],
    ['bitmap word not uint32', { topHi: 0, topLo: 100, bitmap: [1, -1] }],
    ['bit beyond the size', { topHi: 0, topLo: 100, bitmap: [1, 0x80000000] }],
    ['bit below sequence number 1', { topHi: 0, topLo: 5, bitmap: [0b100001, 0] }],
    ['top not marked', { topHi: 0, topLo: 5, bitmap: [0b10, 0] }],
  ];
  it.each(bad)('restore with %s → RangeError naming state', (_name, state) => {
    // size 63 → two words, bits 0..62 inside the window
    expect(() => ReplayWindow.restore(63, false, state)).toThrow(/^state: /);
  });

  it('restore checks size and esn like create', () => {
    const state = { topHi: 0, topLo: 0, bitmap: [] };
    expect(() => ReplayWindow.restore(5000, false, state)).toThrow(/^size: /);
    expect(() => ReplayWindow.restore(0, true, state)).toThrow(/^esn: /);
    expect(ReplayWindow.restore(0, false, state).check(0, 0)).toBe('ok');
  });
});

describe('anti-replay off (size 0)', () => {
  it('accepts everything, replays included, and still tracks the top', () => {
    const window = ReplayWindow.create({ size: 0, esn: false });
    for (const lo of [5, 5, 1, 0, 0xffffffff, 3]) {
      expect(window.check(0, lo)).toBe('ok');
      expect(window.advance(0, lo)).toBe('ok');
    }
    expect(window.topLo).toBe(0xffffffff);
    expect(window.inferSeqHi(7)).toBe(0);
  });
});


const EXTREMES = [0, 1, 2, 31, 32, 33, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

describe('fixed-seed fuzz: never throws, always agrees with the model', () => {
  const windows: [number, boolean][] = [
    [0, false],
    [32, false],
    [33, true],
    [128, true],
    [4096, true],
    [4096, false],
  ];
  it.each(windows)('size %i esn %s: 20 000 random (hi, lo) pairs', (size, esn) => {
    const next = mulberry32(0x5eed0000 + size + (esn ? 1 : 0));
    const window = ReplayWindow.create({ size, esn });
    const model = new ReplayModel(size);
    const pick = (near: number): number => {
      const r = next() % 4;
      if (r === 0) return EXTREMES[next() % EXTREMES.length] ?? 0;
      if (r === 1) return next();
      return (near + (next() % 9000) - 4500) >>> 0;
    };
    for (let i = 0; i < 20_000; i++) {
      // Without ESN the window must ignore hi, so it gets random ones too.
      const hi = next() % 3 === 0 ? window.topHi : pick(window.topHi);
      const lo = pick(window.topLo);
      const inferred = window.inferSeqHi(lo);
      expect(Number.isInteger(inferred) && inferred >= 0 && inferred <= 0xffffffff).toBe(true);
      if (!esn) expect(inferred).toBe(0);
      const seq = join(esn ? hi : 0, lo);
      const verdict = window.check(hi, lo);
      // Plain comparisons first: 120 000 expect() calls would dominate the run time.
      const expected = model.verdict(seq);
      if (verdict !== expected) expect(verdict, `fuzz ${i} seq ${seq}`).toBe(expected);
      if (next() % 2 === 0) {
        const advanced = window.advance(hi, lo);
        if (advanced !== verdict) expect(advanced, `fuzz ${i} advance`).toBe(verdict);
        if (advanced === 'ok') model.accept(seq);
      }
      const top = join(window.topHi, window.topLo);
      if (top !== model.top) expect(top, `fuzz ${i} top`).toBe(model.top);
    }
  });

  it('arguments outside uint32 are taken modulo 2^32 (ToUint32), never thrown on', () => {
    const window = ReplayWindow.create({ size: 64, esn: true });
    window.advance(1, 100);
    for (const x of [-1, 2 ** 32, 2 ** 32 + 100, 2 ** 53, -0, 1.5, Infinity, Number.NaN]) {
      const u = x >>> 0;
      expect(window.inferSeqHi(x)).toBe(window.inferSeqHi(u));
      expect(window.check(1, x)).toBe(window.check(1, u));
      expect(window.check(x, 100)).toBe(window.check(u, 100));
    }
  });
});
