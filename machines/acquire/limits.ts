/**
 * The two bounds that keep a packet burst from becoming an acquire storm or a memory sink: a
 * bounded per-acquire hold queue and a token bucket on new acquires.
 */
import { requireRange } from '../../engine/errors.js';
import type { Clock } from '../ports.js';

/**
 * Bounds of one acquire's hold queue.
 *
 * @example
 * new PacketQueue({ maxPackets: 100, maxBytes: 1 << 20 });
 */
export interface QueueLimits {
  maxPackets: number;
  maxBytes: number;
}

/**
 * 64 packets, 256 KiB per acquire. Linux holds at most XFRM_MAX_QUEUE_LEN (100) packets per
 * policy while it resolves an SA and drops new arrivals beyond that; we bound bytes as well, so
 * 64 jumbo frames cannot pin half a megabyte per flow.
 *
 * @example
 * new PacketQueue(DEFAULT_ACQUIRE_QUEUE_LIMITS);
 */
export const DEFAULT_ACQUIRE_QUEUE_LIMITS: QueueLimits = { maxPackets: 64, maxBytes: 256 * 1024 };

/**
 * A FIFO of packets waiting for their SA. Tail drop, as XFRM's hold queue: when a packet would
 * exceed a limit it is refused (`offer` returns false) and the packets already waiting keep
 * their place, so what is eventually sent is the head of the flow, in order.
 *
 * Ownership: an accepted packet belongs to the queue until `take()` hands it on; the caller must
 * not reuse its buffer (copy first when the reader recycles buffers).
 *
 * @example
 * const q = new PacketQueue({ maxPackets: 2, maxBytes: 3000 });
 * q.offer(a); q.offer(b); q.offer(c); // true, true, false
 * q.take(); // [a, b]
 */
export class PacketQueue {
  #packets: Uint8Array[] = [];
  #bytes = 0;
  readonly limits: QueueLimits;

  constructor(limits: QueueLimits = DEFAULT_ACQUIRE_QUEUE_LIMITS) {
    requireRange(Number.isInteger(limits.maxPackets) && limits.maxPackets >= 0, 'limits.maxPackets', 'must be an integer ≥ 0');
    requireRange(Number.isFinite(limits.maxBytes) && limits.maxBytes >= 0, 'limits.maxBytes', 'must be a number ≥ 0');
    this.limits = { ...limits };
  }

  /** Packets waiting. */
  get length(): number {
    return this.#packets.length;
  }

  /** Bytes waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Appends `packet` unless that would exceed a limit. */
  offer(packet: Uint8Array): boolean {
    if (this.#packets.length >= this.limits.maxPackets || this.#bytes + packet.length > this.limits.maxBytes) return false;
    this.#packets.push(packet);
    this.#bytes += packet.length;
    return true;
  }

  /** Every waiting packet in arrival order; the queue is empty afterwards. */
  take(): Uint8Array[] {
    const packets = this.#packets;
    this.#packets = [];
    this.#bytes = 0;
    return packets;
  }
}

/**
 * Rate of new acquires: a sustained `perSecond`, bursts of up to `burst`.
 *
 * @example
 * new TokenBucket(clock, { perSecond: 20, burst: 50 });
 */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

/**
 * 100 new acquires per second, bursts of 100.
 *
 * @example
 * new TokenBucket(clock, DEFAULT_ACQUIRE_RATE_LIMIT);
 */
export const DEFAULT_ACQUIRE_RATE_LIMIT: RateLimit = { perSecond: 100, burst: 100 };

/**
 * A token bucket on the clock port: starts full, refills continuously at `perSecond`.
 *
 * @example
 * const bucket = new TokenBucket(clock, { perSecond: 10, burst: 20 });
 * if (!bucket.take()) dropped('rate limited');
 */
export class TokenBucket {
  readonly #clock: Clock;
  readonly #limit: RateLimit;
  #tokens: number;
  #at: number;

  constructor(clock: Clock, limit: RateLimit = DEFAULT_ACQUIRE_RATE_LIMIT) {
    requireRange(Number.isFinite(limit.perSecond) && limit.perSecond >= 0, 'limit.perSecond', 'must be a number ≥ 0');
    requireRange(Number.isFinite(limit.burst) && limit.burst >= 1, 'limit.burst', 'must be a number ≥ 1');
    this.#clock = clock;
    this.#limit = { ...limit };
    this.#tokens = limit.burst;
    this.#at = clock.now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.#clock.now();
    // A clock that stepped back refills nothing (and never drains the bucket).
    const elapsedMs = Math.max(0, now - this.#at);
    this.#at = now;
    this.#tokens = Math.min(this.#limit.burst, this.#tokens + (elapsedMs * this.#limit.perSecond) / 1000);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
