/**
 * The sender's sequence number counter of one SA (RFC 4303 §3.3.3, RFC 4302 §3.3.2), 64 bits as
 * a (hi, lo) pair of unsigned 32-bit numbers. It starts at 0; the first packet carries 1.
 *
 * @example
 * const seq = new SequenceCounter(true);
 * if (seq.next()) send(seq.hi, seq.lo); else rekey();
 */
export class SequenceCounter {
  #hi = 0;
  #lo = 0;

  constructor(
    readonly esn: boolean,
    start: { hi: number; lo: number } = { hi: 0, lo: 0 },
  ) {
    this.#hi = start.hi >>> 0;
    this.#lo = start.lo >>> 0;
  }

  /** High 32 bits of the last number handed out (always 0 without ESN). */
  get hi(): number {
    return this.#hi;
  }

  /** Low 32 bits of the last number handed out: what goes on the wire. */
  get lo(): number {
    return this.#lo;
  }

  /** True when the next packet would need a number the SA may not use. */
  get exhausted(): boolean {
    // RFC 4303 §3.3.3: the counter MUST NOT cycle; without ESN 2^32-1 is the last number,
    // with ESN 2^64-1. A new SA must be established before that.
    return this.#lo === 0xffffffff && (!this.esn || this.#hi === 0xffffffff);
  }

  /** Advances to the next number; false (and no change) when the counter is exhausted. */
  /**
   * Moves the counter forward to (hi, lo) if that is ahead; never back (RFC 4303 §3.3.3: a
   * number is never reused). For a counter that another party ran meanwhile (an offload NIC).
   *
   * @example
   * counter.advanceTo(nicSeq.hi, nicSeq.lo);
   */
  advanceTo(hi: number, lo: number): void {
    if (hi * 2 ** 32 + lo <= this.#hi * 2 ** 32 + this.#lo) return;
    this.#hi = hi >>> 0;
    this.#lo = lo >>> 0;
  }

  next(): boolean {
    if (this.exhausted) return false;
    if (this.#lo === 0xffffffff) {
      this.#lo = 0;
      this.#hi = (this.#hi + 1) >>> 0;
    } else {
      this.#lo++;
    }
    return true;
  }
}
