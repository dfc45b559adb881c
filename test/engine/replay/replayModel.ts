/**
 * The naive reference the replay window is tested against: every accepted sequence number in a
 * `Set<bigint>` plus the top, with RFC 4303 §3.4.3 applied literally. Slow on purpose; shares
 * no code with `engine/replay`.
 */
import { fc } from '@fast-check/vitest';
import type { ReplayVerdict } from '../../../engine/replay/replayWindow.js';

export const TWO_POW_32 = 1n << 32n;
export const MAX_SEQ_64 = (1n << 64n) - 1n;
export const MAX_SEQ_32 = TWO_POW_32 - 1n;

/** (hi, lo) of a 64-bit sequence number. */
export function split(seq: bigint): { hi: number; lo: number } {
  return { hi: Number(seq >> 32n), lo: Number(seq & MAX_SEQ_32) };
}

/** The 64-bit sequence number of (hi, lo). */
export function join(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * RFC 4303 §3.4.3 with window size W and top T: S = 0 is never sent (§3.3.3); S > T is new;
 * S + W ≤ T is left of the window; otherwise it is a replay iff it was accepted before.
 */
export class ReplayModel {
  top = 0n;
  readonly accepted = new Set<bigint>();

  constructor(readonly size: number) {}

  verdict(seq: bigint): ReplayVerdict {
    if (this.size === 0) return 'ok';
    if (seq === 0n) return 'tooOld';
    if (seq > this.top) return 'ok';
    if (seq + BigInt(this.size) <= this.top) return 'tooOld';
    return this.accepted.has(seq) ? 'replayed' : 'ok';
  }

  accept(seq: bigint): void {
    this.accepted.add(seq);
    if (seq > this.top) this.top = seq;
  }

  /**
   * App. A2.2 restated as an interval rather than its two cases: Seq is the one number ≡ Seql
   * (mod 2^32) in [B, B + 2^32) with B = T − W + 1, the interval kept inside [0, 2^64) because
   * there is no subspace below 0 or above 2^32 − 1.
   */
  expectedSeqHi(seql: number): number {
    let base = this.top - BigInt(this.size) + 1n;
    if (base < 0n) base = 0n;
    if (base > MAX_SEQ_64 + 1n - TWO_POW_32) base = MAX_SEQ_64 + 1n - TWO_POW_32;
    const offset = (((BigInt(seql) - base) % TWO_POW_32) + TWO_POW_32) % TWO_POW_32;
    return Number((base + offset) >> 32n);
  }
}

/** One step of a random run, resolved against the model's top when it runs. */
export type Move =
  | { kind: 'forward' | 'back' | 'farBack' | 'jump'; k: bigint; authentic: boolean }
  | { kind: 'edge'; k: number; authentic: boolean }
  | { kind: 'repeat'; k: number; authentic: boolean }
  | { kind: 'zero'; authentic: boolean };

/** Most steps land near the top; `maxJump` bounds the forward jumps. */
export function moveArb(maxJump: bigint): fc.Arbitrary<Move> {
  const authentic = fc.integer({ min: 0, max: 9 }).map((n) => n > 0);
  const near = (kind: 'forward' | 'back' | 'farBack' | 'jump', min: bigint, max: bigint) =>
    fc.record({ kind: fc.constant(kind), k: fc.bigInt(min, max), authentic });
  return fc.oneof(
    { weight: 6, arbitrary: near('forward', 1n, 40n) },
    { weight: 2, arbitrary: near('forward', 1n, 9000n) },
    { weight: 6, arbitrary: near('back', 0n, 4200n) },
    { weight: 3, arbitrary: near('back', 0n, 40n) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('edge' as const),
        k: fc.integer({ min: -3, max: 3 }),
        authentic,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant('repeat' as const), k: fc.nat(), authentic }),
    },
    { weight: 1, arbitrary: near('farBack', 4097n, 1n << 40n) },
    { weight: 1, arbitrary: near('jump', 4097n, maxJump) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('zero' as const), authentic }) },
  );
}

/** The sequence number a move names, given the model, clamped into [0, max]. */
export function resolve(
  move: Move,
  model: ReplayModel,
  history: readonly bigint[],
  max: bigint,
): bigint {
  const top = model.top;
  let seq: bigint;
  switch (move.kind) {
    case 'forward':
    case 'jump':
      seq = top + move.k;
      break;
    case 'back':
    case 'farBack':
      seq = top - move.k;
      break;
    case 'edge': // around the bottom edge T − W + 1
      seq = top - BigInt(model.size) + 1n + BigInt(move.k);
      break;
    case 'repeat':
      seq = history.length === 0 ? top : (history[move.k % history.length] ?? top);
      break;
    case 'zero':
      seq = 0n;
      break;
  }
  return seq < 0n ? 0n : seq > max ? max : seq;
}

/** Window sizes: the edges, the default, odd sizes and anything in 32..4096, plus 0. */
export const sizeArb = fc.oneof(
  fc.constantFrom(0, 32, 33, 64, 128, 4095, 4096),
  fc.integer({ min: 32, max: 4096 }),
);
