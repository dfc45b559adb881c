/**
 * The ESP/AH receive anti-replay window (RFC 4303 §3.4.3, RFC 4302 §3.4.3), with extended
 * sequence numbers (RFC 4303 Appendix A) and the RFC 6479 bitmap: a ring of 32-bit blocks that
 * slides by clearing the blocks it passes, never by shifting the whole map.
 *
 * A sequence number is 64 bits as a (hi, lo) pair of unsigned 32-bit numbers. Without ESN the
 * space is 32 bits: `hi` arguments are ignored (taken as 0) and `topHi` stays 0.
 * The data path calls `inferSeqHi` → `check` → ICV verification → `advance`.
 */
import { requireRange } from '../errors.js';
import { fromWindowBits, ringBlocks, toWindowBits, validateState } from './replayState.js';
import type { ReplayState } from './replayState.js';

export type { ReplayState } from './replayState.js';

/** Default window size in packets; RFC 4303 §3.4.3 allows more than its SHOULD-default of 64. */
export const REPLAY_WINDOW_DEFAULT = 128;
/** RFC 4303 §3.4.3: "A MINIMUM window size of 32 packets MUST be supported". */
export const REPLAY_WINDOW_MIN = 32;
/** Our upper bound: 4096 packets, a ring of 256 blocks (1 KiB) per SA. */
export const REPLAY_WINDOW_MAX = 4096;

/** The outcome of a replay check; `replayed` and `tooOld` are `DropReason`s. */
export type ReplayVerdict = 'ok' | 'replayed' | 'tooOld';

const TWO_POW_32 = 4294967296;
const MAX_U32 = 0xffffffff;

/**
 * One SA's receive window. `check` and `inferSeqHi` are pure, `advance` mutates. `check` is
 * O(1); `advance` clears only the blocks it passes, at most the ring (≤ 256 words). Numeric
 * arguments are taken modulo 2^32 (ToUint32), so packet content can never make them throw.
 *
 * @example
 * const w = ReplayWindow.create({ esn: true });
 * const hi = w.inferSeqHi(seqLo);
 * if (w.check(hi, seqLo) === 'ok' && icvVerified(hi)) w.advance(hi, seqLo);
 */
export class ReplayWindow {
  /** Ring of RFC 6479 blocks: bit `lo & 31` of block `(lo >>> 5) & mask` marks one number. */
  readonly #ring: Uint32Array;
  readonly #mask: number;
  #topHi = 0;
  #topLo = 0;

  private constructor(
    /** Window size in packets; 0 means anti-replay is off. */
    readonly size: number,
    /** Whether the SA uses 64-bit extended sequence numbers (RFC 4303 §2.2.1). */
    readonly esn: boolean,
  ) {
    this.#ring = new Uint32Array(ringBlocks(size));
    this.#mask = this.#ring.length - 1;
  }

  /**
   * A fresh window with top (0, 0). `size` is 0 (anti-replay off, only when asked for) or
   * 32..4096, default 128; `esn` must be false when `size` is 0. Throws `RangeError` naming
   * `size` or `esn` otherwise.
   *
   * @example
   * const w = ReplayWindow.create({ size: 64, esn: false });
   */
  static create(opts: { size?: number; esn: boolean }): ReplayWindow {
    const size = opts.size ?? REPLAY_WINDOW_DEFAULT;
    requireRange(
      size === 0 ||
        (Number.isInteger(size) && size >= REPLAY_WINDOW_MIN && size <= REPLAY_WINDOW_MAX),
      'size',
      `must be 0 or an integer in ${REPLAY_WINDOW_MIN}..${REPLAY_WINDOW_MAX}, got ${size}`,
    );
    requireRange(typeof opts.esn === 'boolean', 'esn', `must be a boolean, got ${opts.esn}`);
    // RFC 4303 App. A2: Seqh is inferred from the window, so ESN cannot work without one.
    requireRange(!(size === 0 && opts.esn), 'esn', 'must be false when size is 0 (no window)');
    return new ReplayWindow(size, opts.esn);
  }

  /**
   * A window rebuilt from `snapshot()`. Throws `RangeError` naming `size`, `esn` or `state`
   * when they do not fit together.
   *
   * @example
   * const copy = ReplayWindow.restore(w.size, w.esn, w.snapshot());
   */
  static restore(size: number, esn: boolean, state: ReplayState): ReplayWindow {
    const w = ReplayWindow.create({ size, esn });
    validateState(size, esn, state);
    w.#topHi = state.topHi;
    w.#topLo = state.topLo;
    fromWindowBits(state, (lo) => w.#mark(lo));
    return w;
  }

  /** High 32 bits of the highest authenticated sequence number (0 initially). */
  get topHi(): number {
    return this.#topHi;
  }

  /** Low 32 bits of the highest authenticated sequence number (0 initially). */
  get topLo(): number {
    return this.#topLo;
  }

  /**
   * RFC 4303 App. A2.2: the high 32 bits to assume for a received low 32 bits; 0 without ESN.
   * Pure. Where A2.2 names a subspace that does not exist (Th − 1 below 0, Th + 1 above
   * 2^32 − 1) the current one is returned, so such a packet is judged in it.
   *
   * @example
   * w.inferSeqHi(0x00000005) // 1 when the top is (0, 0xfffffff0)
   */
  inferSeqHi(seqLo: number): number {
    if (!this.esn) return 0;
    const seql = seqLo >>> 0;
    const th = this.#topHi;
    const tl = this.#topLo;
    const w = this.size;
    if (tl >= w - 1) {
      // Case A: the window lies within one subspace; below Bl means the next subspace.
      if (seql >= tl - w + 1) return th;
      return th === MAX_U32 ? th : th + 1;
    }
    // Case B: the window spans two subspaces; at or above Bl (mod 2^32) means the previous one.
    if (seql >= (tl - w + 1) >>> 0) return th === 0 ? 0 : th - 1;
    return th;
  }

  /**
   * Would this sequence number be accepted? Pure. Sequence number 0 is never valid → `tooOld`;
   * with size 0 always `ok`.
   *
   * @example
   * w.check(0, 1) // 'ok' on a fresh window
   */
  check(seqHi: number, seqLo: number): ReplayVerdict {
    // RFC 4303 §3.4.3: with anti-replay off, no inbound sequence number checks are made.
    if (this.size === 0) return 'ok';
    const hi = this.esn ? seqHi >>> 0 : 0;
    const lo = seqLo >>> 0;
    // RFC 4303 §3.3.3: the sender's first packet carries 1, so 0 is never a valid number.
    if (hi === 0 && lo === 0) return 'tooOld';
    const back = this.#distanceBelowTop(hi, lo);
    // RFC 4303 §3.4.3: right of the window → go on to integrity verification.
    if (back < 0) return 'ok';
    // RFC 4303 §3.4.3: left of the window (S + W ≤ T) → reject.
    if (back >= this.size) return 'tooOld';
    // RFC 4303 §3.4.3: inside the window → "checked against a list of received packets".
    return this.#isMarked(lo) ? 'replayed' : 'ok';
  }

  /**
   * Marks the number received and slides the window; call only after the ICV verified. Returns
   * the verdict `check` gave at that moment: only `ok` changed anything, so a caller that
   * checked, then verified while another packet advanced, can still drop a duplicate.
   *
   * @example
   * if (icvOk) w.advance(hi, lo);
   */
  advance(seqHi: number, seqLo: number): ReplayVerdict {
    const hi = this.esn ? seqHi >>> 0 : 0;
    const lo = seqLo >>> 0;
    const verdict = this.check(hi, lo);
    if (verdict !== 'ok') return verdict;
    // RFC 4303 §3.4.3: "the receive window is updated only if the integrity verification
    // succeeds" — the caller's side of the contract; here the window only slides and marks.
    if (this.#distanceBelowTop(hi, lo) < 0) {
      if (this.size !== 0) this.#clearBlocksUpTo(hi, lo);
      this.#topHi = hi;
      this.#topLo = lo;
    }
    if (this.size !== 0) this.#mark(lo);
    return 'ok';
  }

  /**
   * The state to persist: top plus the window's bits, `bitmap[i] >>> j & 1` telling whether
   * top − (32·i + j) was received (independent of the ring's layout).
   *
   * @example
   * const state = w.snapshot(); // { topHi: 0, topLo: 3, bitmap: [7, 0, 0, 0] }
   */
  snapshot(): ReplayState {
    return {
      topHi: this.#topHi,
      topLo: this.#topLo,
      bitmap: toWindowBits(this.size, this.#topHi, this.#topLo, (lo) => this.#isMarked(lo)),
    };
  }

  /** T − S when S ≤ T, exact below 2^33 and `Infinity` beyond; −1 when S > T. */
  #distanceBelowTop(hi: number, lo: number): number {
    const th = this.#topHi;
    if (hi > th || (hi === th && lo > this.#topLo)) return -1;
    const dh = th - hi;
    return dh > 1 ? Infinity : dh * TWO_POW_32 + this.#topLo - lo;
  }

  #isMarked(lo: number): boolean {
    // RFC 6479 §2: block index = (seq >> 5) mod M, bit index = seq mod 32. The ring length
    // divides 2^27, so the high 32 bits never change the block index.
    return (((this.#ring[(lo >>> 5) & this.#mask] ?? 0) >>> (lo & 31)) & 1) === 1;
  }

  #mark(lo: number): void {
    const i = (lo >>> 5) & this.#mask;
    this.#ring[i] = (this.#ring[i] ?? 0) | (1 << (lo & 31));
  }

  /** RFC 6479 §2: clear the blocks after the top's, through the new top's, at most the ring. */
  #clearBlocksUpTo(hi: number, lo: number): void {
    const dh = hi - this.#topHi;
    const ringLength = this.#ring.length;
    const passed = dh > 1 ? ringLength : dh * 0x8000000 + (lo >>> 5) - (this.#topLo >>> 5);
    const steps = Math.min(passed, ringLength);
    let i = this.#topLo >>> 5;
    for (let n = 0; n < steps; n++) {
      i = (i + 1) & this.#mask;
      this.#ring[i] = 0;
    }
  }
}
