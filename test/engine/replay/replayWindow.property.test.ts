/**
 * The replay window against the naive `Set` model (DESIGN §8.2): every verdict and every top,
 * step by step, over random runs of check → (ICV) → advance with random window sizes. Also the
 * snapshot → restore law.
 */
import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { ReplayWindow } from '../../../engine/replay/replayWindow.js';
import {
  MAX_SEQ_32,
  MAX_SEQ_64,
  ReplayModel,
  join,
  moveArb,
  resolve,
  sizeArb,
  split,
} from './replayModel.js';
import type { Move } from './replayModel.js';

/** Where the first packet puts the top: small, around 2^32, anywhere, or near 2^64. */
const startArb = fc.oneof(
  fc.constant(0n),
  fc.bigInt(1n, 1n << 20n),
  fc.bigInt((1n << 32n) - 5000n, (1n << 32n) + 5000n),
  fc.bigInt(1n, MAX_SEQ_64),
  fc.bigInt(MAX_SEQ_64 - 20000n, MAX_SEQ_64),
);

interface Run {
  window: ReplayWindow;
  model: ReplayModel;
  history: bigint[];
  max: bigint;
}

function newRun(size: number, esnWanted: boolean, start: bigint): Run {
  const esn = esnWanted && size !== 0;
  const max = esn ? MAX_SEQ_64 : MAX_SEQ_32;
  const run: Run = {
    window: ReplayWindow.create({ size, esn }),
    model: new ReplayModel(size),
    history: [],
    max,
  };
  const first = start > max ? max : start;
  if (first > 0n) step(run, { kind: 'forward', k: first, authentic: true }, -1);
  return run;
}

/** One packet: the window and the model must agree on the verdict, the advance and the top. */
function step(run: Run, move: Move, index: number): void {
  const { window, model, history } = run;
  const seq = resolve(move, model, history, run.max);
  const { hi, lo } = split(seq);
  const label = `step ${index} (${move.kind}) seq ${seq} top ${model.top} W ${model.size}`;
  const expected = model.verdict(seq);
  expect(window.check(hi, lo), label).toBe(expected);
  if (move.authentic) {
    // Only authenticated packets reach advance; a non-ok one must leave the window as it was.
    expect(window.advance(hi, lo), `${label} advance`).toBe(expected);
    if (expected === 'ok') {
      model.accept(seq);
      history.push(seq);
    }
  }
  expect(join(window.topHi, window.topLo), `${label} top`).toBe(model.top);
}

const movesArb = fc.array(moveArb(1n << 34n), { minLength: 1, maxLength: 300, size: 'max' });

describe('ReplayWindow vs the RFC 4303 §3.4.3 Set model', () => {
  test.prop([sizeArb, fc.boolean(), startArb, movesArb], { numRuns: 300 })(
    'every verdict and top equals the model',
    (size, esn, start, moves) => {
      const run = newRun(size, esn, start);
      moves.forEach((move, i) => step(run, move, i));
    },
  );

  const denseArb = fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 400, size: 'max' });
  test.prop([fc.integer({ min: 32, max: 96 }), denseArb])(
    'dense runs in small windows (every position near the edges)',
    (size, seqs) => {
      const window = ReplayWindow.create({ size, esn: false });
      const model = new ReplayModel(size);
      for (const s of seqs) {
        const seq = BigInt(s);
        expect(window.check(0, s), `seq ${s} top ${model.top}`).toBe(model.verdict(seq));
        if (model.verdict(seq) === 'ok') {
          window.advance(0, s);
          model.accept(seq);
        }
      }
    },
  );
});

describe('snapshot → restore', () => {
  test.prop([sizeArb, fc.boolean(), startArb, movesArb, movesArb], { numRuns: 150 })(
    'gives a window with identical verdicts, snapshot and future',
    (size, esn, start, before, after) => {
      const run = newRun(size, esn, start);
      before.forEach((move, i) => step(run, move, i));
      const state = run.window.snapshot();
      const copy = ReplayWindow.restore(run.window.size, run.window.esn, state);
      expect(copy.snapshot()).toEqual(state);
      expect([copy.topHi, copy.topLo]).toEqual([run.window.topHi, run.window.topLo]);
      // Every position of the window and a little beyond on both sides.
      const top = run.model.top;
      const probe = (w: ReplayWindow): string[] => {
        const seen: string[] = [];
        for (let k = -3n; k <= BigInt(size) + 3n; k++) {
          const seq = top - k;
          if (seq < 0n || seq > run.max) continue;
          const { hi, lo } = split(seq);
          seen.push(`${seq}: ${w.check(hi, lo)} Seqh ${w.inferSeqHi(lo)}`);
        }
        return seen;
      };
      expect(probe(copy)).toEqual(probe(run.window));
      // The restored window then behaves like the model, as the original does.
      const restored: Run = { ...run, window: copy };
      after.forEach((move, i) => step(restored, move, i));
    },
  );

  test.prop([sizeArb, fc.boolean(), startArb, movesArb])(
    'the snapshot is canonical: it lists exactly the accepted numbers inside the window',
    (size, esn, start, moves) => {
      const run = newRun(size, esn, start);
      moves.forEach((move, i) => step(run, move, i));
      const expected = new Array<number>(Math.ceil(size / 32)).fill(0);
      for (let k = 0; k < size; k++) {
        if (run.model.accepted.has(run.model.top - BigInt(k))) {
          expected[k >>> 5] = ((expected[k >>> 5] ?? 0) + 2 ** (k & 31));
        }
      }
      const { topHi, topLo } = run.window;
      expect(run.window.snapshot()).toEqual({ topHi, topLo, bitmap: expected });
    },
  );
});
