/**
 * The persisted form of a `ReplayWindow` and the RFC 6479 ring geometry. The snapshot is laid
 * out relative to the top, not as the ring, so it stays readable and canonical: two windows
 * that give the same verdicts give equal snapshots.
 */
import { requireRange } from '../errors.js';

/**
 * A window's state for snapshots: the top (highest authenticated sequence number, (0, 0) when
 * nothing was received) and `ceil(size / 32)` unsigned 32-bit words where bit `j` of word `i`
 * says whether top − (32·i + j) was received. Bit 0 (the top itself) is set unless top is 0.
 *
 * @example
 * const state: ReplayState = { topHi: 0, topLo: 3, bitmap: [0b101, 0] }; // 3 and 1 received
 */
export interface ReplayState {
  topHi: number;
  topLo: number;
  bitmap: readonly number[];
}

/**
 * RFC 6479 §2: the ring holds M blocks of 32 bits, M a power of two with (M − 1)·32 ≥ size, so
 * the window never shares a block with the one being cleared ahead of it.
 *
 * @example
 * ringBlocks(128) // 8
 */
export function ringBlocks(size: number): number {
  const needed = Math.ceil(size / 32) + 1;
  let blocks = 1;
  while (blocks < needed) blocks *= 2;
  return blocks;
}

/**
 * The window's bits relative to the top, read through `isMarked(lo)` (the ring's lookup).
 * Positions below sequence number 1 do not exist and stay 0.
 *
 * @example
 * toWindowBits(32, 0, 3, (lo) => lo === 3) // [1]
 */
export function toWindowBits(
  size: number,
  topHi: number,
  topLo: number,
  isMarked: (lo: number) => boolean,
): number[] {
  const bits = new Array<number>(Math.ceil(size / 32)).fill(0);
  const count = topHi === 0 ? Math.min(size, topLo) : size;
  for (let k = 0; k < count; k++) {
    const lo = (topLo - k) >>> 0;
    if (isMarked(lo)) bits[k >>> 5] = ((bits[k >>> 5] ?? 0) | (1 << (k & 31))) >>> 0;
  }
  return bits;
}

/**
 * Calls `mark(lo)` for every received sequence number a validated state records.
 *
 * @example
 * fromWindowBits({ topHi: 0, topLo: 3, bitmap: [0b101] }, (lo) => ring.mark(lo)); // 3, then 1
 */
export function fromWindowBits(state: ReplayState, mark: (lo: number) => void): void {
  state.bitmap.forEach((word, i) => {
    for (let j = 0; j < 32; j++) {
      if (((word >>> j) & 1) === 1) mark((state.topLo - (32 * i + j)) >>> 0);
    }
  });
}

/**
 * Throws a `RangeError` naming `state` unless it could have come from `snapshot()` of a window
 * with this size and ESN flag.
 *
 * @example
 * validateState(64, false, { topHi: 0, topLo: 0, bitmap: [0, 0] }); // passes
 */
export function validateState(size: number, esn: boolean, state: ReplayState): void {
  requireRange(typeof state === 'object' && state !== null, 'state', 'must be an object');
  const { topHi, topLo, bitmap } = state;
  requireRange(isU32(topHi) && isU32(topLo), 'state', 'topHi and topLo must be uint32');
  requireRange(esn || topHi === 0, 'state', 'topHi must be 0 without ESN');
  requireRange(
    Array.isArray(bitmap) && bitmap.length === Math.ceil(size / 32),
    'state',
    `bitmap must hold ${Math.ceil(size / 32)} words for size ${size}`,
  );
  const existing = topHi === 0 ? Math.min(size, topLo) : size;
  bitmap.forEach((word: unknown, i: number) => {
    requireRange(isU32(word), 'state', `bitmap[${i}] must be uint32`);
    for (let j = 0; j < 32; j++) {
      const k = 32 * i + j;
      const set = ((word >>> j) & 1) === 1;
      requireRange(!set || k < existing, 'state', `bit ${k} lies outside the window`);
    }
  });
  const topReceived = size === 0 || ((bitmap[0] ?? 0) & 1) === 1;
  requireRange(
    topReceived || (topHi === 0 && topLo === 0),
    'state',
    'bit 0 (the top) must be set',
  );
}

function isU32(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}
