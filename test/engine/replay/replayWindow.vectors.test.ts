/**
 * The derived cases of test/vectors/anti-replay-rfc4303-rfc6479.json (DESIGN §8.1), labelled
 * `source/case`. They are illustrations computed from RFC 4303 A2.2 and §3.4.3, so each one is
 * also re-derived here from the rule it states before it is run through the window.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ReplayWindow } from '../../../engine/replay/replayWindow.js';
import type { ReplayVerdict } from '../../../engine/replay/replayWindow.js';

interface SeqhCase {
  Th: number;
  Tl: number;
  W: number;
  Seql: string;
  case: 'A' | 'B';
  Bl: string;
  Seqh: number;
  Seq: string;
}

interface Vectors {
  derived_esn_seqh_cases: SeqhCase[];
  derived_32bit_window_W64: {
    W: number;
    initial_T: number;
    sequence: { seq: number; result: string }[];
  };
}

const SOURCE = 'anti-replay-rfc4303-rfc6479';
const vectors = JSON.parse(
  readFileSync(new URL(`../../vectors/${SOURCE}.json`, import.meta.url), 'utf8'),
) as Vectors;

/** The JSON's prose results as verdicts; an unknown phrase fails the test instead of guessing. */
function verdictOf(result: string): ReplayVerdict {
  if (result.startsWith('accept')) return 'ok';
  if (result.startsWith('drop (replay)')) return 'replayed';
  if (result.startsWith('drop (left of window')) return 'tooOld';
  if (result.startsWith('drop (sequence number 0')) return 'tooOld';
  throw new Error(`unrecognised result: ${result}`);
}

describe(`${SOURCE}/derived_esn_seqh_cases`, () => {
  const cases = vectors.derived_esn_seqh_cases.map((c, i) => ({
    ...c,
    label: `${SOURCE}/esn-${i} case ${c.case} Th=${c.Th} Tl=${c.Tl} W=${c.W} Seql=${c.Seql}`,
  }));

  it('has cases for both A2.2 cases', () => {
    expect(new Set(cases.map((c) => c.case))).toEqual(new Set(['A', 'B']));
  });

  it.each(cases)('$label', (c) => {
    const seql = Number(c.Seql);
    // The case's own arithmetic, re-derived: A iff Tl ≥ W − 1, Bl = Tl − W + 1 (mod 2^32).
    expect(c.Tl >= c.W - 1 ? 'A' : 'B', c.label).toBe(c.case);
    expect((c.Tl - c.W + 1) >>> 0, c.label).toBe(Number(c.Bl));
    expect(BigInt(c.Seq), c.label).toBe((BigInt(c.Seqh) << 32n) | BigInt(seql));

    const window = ReplayWindow.create({ size: c.W, esn: true });
    window.advance(c.Th, c.Tl);
    expect(window.inferSeqHi(seql), c.label).toBe(c.Seqh);
  });
});

describe(`${SOURCE}/derived_32bit_window_W64`, () => {
  const { W, initial_T: initialTop, sequence } = vectors.derived_32bit_window_W64;

  it('runs the whole sequence through one window', () => {
    expect(initialTop).toBe(0);
    const window = ReplayWindow.create({ size: W, esn: false });
    sequence.forEach(({ seq, result }, i) => {
      const label = `${SOURCE}/w64-${i} seq ${seq}: ${result}`;
      const expected = verdictOf(result);
      expect(window.check(0, seq), label).toBe(expected);
      if (expected === 'ok') window.advance(0, seq);
      const top = /T=(\d+)/.exec(result)?.[1];
      if (top !== undefined) expect(window.topLo, `${label} top`).toBe(Number(top));
    });
  });
});
