import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { DEFAULT_ACQUIRE_QUEUE_LIMITS, PacketQueue, TokenBucket } from '../../../machines/acquire/limits.js';

const bytes = (n: number, tag = 0) => new Uint8Array(n).fill(tag);

describe('PacketQueue (tail drop, as XFRM hold queues)', () => {
  it('keeps arrival order and refuses what would exceed the packet limit', () => {
    const q = new PacketQueue({ maxPackets: 3, maxBytes: 1_000 });
    const packets = [1, 2, 3, 4].map((t) => bytes(10, t));
    expect(packets.map((p) => q.offer(p))).toEqual([true, true, true, false]);
    expect([q.length, q.bytes]).toEqual([3, 30]);
    const taken = q.take();
    expect(taken).toEqual(packets.slice(0, 3));
    expect(taken[0]).toBe(packets[0]); // ownership passes on, no copy
    expect([q.length, q.bytes]).toEqual([0, 0]);
    expect(q.take()).toEqual([]);
  });

  it('refuses a packet that would exceed the byte limit, yet takes a smaller one after it', () => {
    const q = new PacketQueue({ maxPackets: 10, maxBytes: 100 });
    expect([q.offer(bytes(60)), q.offer(bytes(60)), q.offer(bytes(40)), q.offer(bytes(1))]).toEqual([true, false, true, false]);
    expect(q.bytes).toBe(100);
  });

  it('defaults to 64 packets, 256 KiB; misuse names the argument', () => {
    expect(new PacketQueue().limits).toEqual({ maxPackets: 64, maxBytes: 262_144 });
    expect(DEFAULT_ACQUIRE_QUEUE_LIMITS).toEqual({ maxPackets: 64, maxBytes: 262_144 });
    expect(() => new PacketQueue({ maxPackets: 1.5, maxBytes: 10 })).toThrow(/^limits\.maxPackets/);
    expect(() => new PacketQueue({ maxPackets: 1, maxBytes: -1 })).toThrow(RangeError);
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then refills at the sustained rate', () => {
    const clock = new SimulatedClock();
    clock.set(1_000_000);
    const bucket = new TokenBucket(clock, { perSecond: 10, burst: 3 });
    expect([1, 2, 3, 4].map(() => bucket.take())).toEqual([true, true, true, false]);
    clock.increment(99);
    expect(bucket.take()).toBe(false);
    clock.increment(1);
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    clock.increment(60_000); // never more than the burst
    expect([1, 2, 3, 4].map(() => bucket.take())).toEqual([true, true, true, false]);
  });

  it('a zero rate allows the burst once; misuse names the argument', () => {
    const clock = new SimulatedClock();
    const bucket = new TokenBucket(clock, { perSecond: 0, burst: 1 });
    clock.increment(10_000);
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    expect(() => new TokenBucket(clock, { perSecond: 1, burst: 0 })).toThrow(/^limit\.burst/);
  });
});
