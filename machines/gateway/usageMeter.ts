/**
 * Usage metered into the lifecycle machines without an event per packet (issue 5 item 6): each
 * SA gets the packet and byte counts at which something happens next (a checkpoint, the soft or
 * the hard limit); the data path compares two numbers per packet and calls back only when one
 * is crossed (cf. XFRM's replay/usage notification thresholds, NEWAE).
 */
import type { LifetimeLimit, SaLifetimes } from '../../engine/sad/types.js';

export type UsageCrossing = { kind: 'hard' | 'soft'; limit: 'bytes' | 'packets' } | { kind: 'checkpoint' };

export class UsageMeter {
  nextPackets = 0;
  nextBytes = 0;
  #softDone = false;
  #hardDone = false;
  #lastPackets = 0;
  #lastBytes = 0;

  /**
   * @param everyPackets checkpoint interval in packets (bytes follow as 1500 × packets).
   * @example
   * const meter = new UsageMeter(lifetimes, 10_000);
   * if (u.packets >= meter.nextPackets || u.bytes >= meter.nextBytes) act(meter.cross(u.packets, u.bytes));
   */
  constructor(
    readonly lifetimes: SaLifetimes,
    readonly everyPackets: number,
  ) {
    this.#arm();
  }

  /** Which threshold was crossed at these cumulative counts, and re-arms past it. */
  cross(packets: number, bytes: number): UsageCrossing {
    const over = (l: LifetimeLimit): 'bytes' | 'packets' | undefined =>
      l.bytes !== undefined && bytes >= l.bytes ? 'bytes' : l.packets !== undefined && packets >= l.packets ? 'packets' : undefined;
    let out: UsageCrossing = { kind: 'checkpoint' };
    const hard = this.#hardDone ? undefined : over(this.lifetimes.hard);
    const soft = this.#softDone ? undefined : over(this.lifetimes.soft);
    if (hard) {
      this.#hardDone = this.#softDone = true;
      out = { kind: 'hard', limit: hard };
    } else if (soft) {
      this.#softDone = true;
      out = { kind: 'soft', limit: soft };
    }
    this.#lastPackets = packets;
    this.#lastBytes = bytes;
    this.#arm();
    return out;
  }

  #arm(): void {
    const candidates = (field: 'packets' | 'bytes', step: number, last: number) => {
      let next = last + step;
      if (!this.#hardDone && this.lifetimes.hard[field] !== undefined) next = Math.min(next, this.lifetimes.hard[field]!);
      if (!this.#softDone && this.lifetimes.soft[field] !== undefined) next = Math.min(next, this.lifetimes.soft[field]!);
      return Math.max(next, last + 1);
    };
    this.nextPackets = candidates('packets', this.everyPackets, this.#lastPackets);
    this.nextBytes = candidates('bytes', this.everyPackets * 1500, this.#lastBytes);
  }
}
