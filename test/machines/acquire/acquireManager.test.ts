import { describe, expect, it } from 'vitest';
import { SimulatedClock, type InspectionEvent } from 'xstate';
import { factLog, readLog } from '../../../adapters/eventStore/facts.js';
import { memoryEventStore } from '../../../adapters/eventStore/memory/memoryEventStore.js';
import type { EventStore } from '../../../adapters/eventStore/types.js';
import { seededRandom } from '../../../adapters/random/random.js';
import type { DropReason } from '../../../engine/dropReasons.js';
import type { Fact } from '../../../engine/events/fact.js';
import { acquireStream } from '../../../engine/events/streams.js';
import { OPAQUE, type NegotiationShunt, type Policy, type SelectorFields } from '../../../engine/spd/types.js';
import { AcquireManager, packetFieldsOf, type AcquireManagerOptions } from '../../../machines/acquire/acquireManager.js';
import type { AcquireRequest, FactLog, InstalledPair, KeyManager } from '../../../machines/ports.js';

const T0 = 1_700_000_000_000;
const ANY = { kind: 'any' } as const;

function policy(id: string, shunt?: NegotiationShunt): Policy {
  return {
    id, priority: 10, direction: 'outbound', action: 'protect',
    selectors: [{ localAddress: ANY, remoteAddress: ANY, protocol: ANY, localPort: ANY, remotePort: ANY }],
    protect: {
      protocol: 'esp', mode: 'transport', proposals: [{ encr: 20, encrKeyBits: 128, integ: 0 }], replayWindow: 128, esn: true, offload: 'none',
      lifetimes: { soft: { timeMs: 3_000_000 }, hard: { timeMs: 3_600_000 } }, ...(shunt ? { negotiationShunt: shunt } : {}),
    },
  } as Policy;
}

const FIELDS: SelectorFields = {
  localAddress: Uint8Array.of(10, 0, 0, 1), remoteAddress: Uint8Array.of(10, 9, 0, 1), protocol: 6, localPort: 40000, remotePort: 443, icmp: OPAQUE, mhType: OPAQUE,
};

/** Packet `i`: `size` bytes, its index in the first four. */
function packet(i: number, size = 100): Uint8Array {
  const p = new Uint8Array(size);
  new DataView(p.buffer).setUint32(0, i);
  return p;
}
const indexOf = (p: Uint8Array) => new DataView(p.buffer, p.byteOffset).getUint32(0);

interface Call { request: AcquireRequest; signal: AbortSignal; durableTypes: string[]; resolve(pair: InstalledPair): void; reject(e: Error): void }

/** A gateway's acquire side over a memory store, a SimulatedClock and a key manager the test answers. */
function harness(options: AcquireManagerOptions = {}, store: EventStore = memoryEventStore(), clock = Object.assign(new SimulatedClock(), {})) {
  if (clock.now() === 0) clock.set(T0);
  const inner = factLog(store);
  const durable: Fact[] = [];
  const log: FactLog = { read: (s) => inner.read(s), append: async (s, facts, v) => { await inner.append(s, facts, v); durable.push(...facts); } };
  const calls: Call[] = [];
  const keyManager: KeyManager = {
    acquire: (request, signal) => new Promise<InstalledPair>((resolve, reject) => calls.push({ request, signal, durableTypes: durable.map((f) => f.type), resolve, reject })),
    rekeyChild: () => Promise.reject(new Error('not used')),
  };
  const released: Uint8Array[][] = [];
  const dropped: Array<{ packets: Uint8Array[]; reason: DropReason }> = [];
  const inspected: InspectionEvent[] = [];
  const failures: unknown[] = [];
  const manager = new AcquireManager(
    { clock, random: seededRandom(7), log, keyManager, release: (p) => released.push(p), drop: (packets, reason) => dropped.push({ packets, reason }), inspect: (e) => inspected.push(e), onFailure: (_id, e) => failures.push(e) },
    options,
  );
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      await manager.settled();
      await new Promise((r) => setImmediate(r));
    }
  };
  const facts = async () => (await readLog(store)).map((f) => ({ stream: f.streamName, type: f.fact.type, data: f.fact.data as Record<string, unknown> }));
  const droppedCount = () => dropped.reduce((n, d) => n + d.packets.length, 0);
  return { clock, store, manager, calls, released, dropped, inspected, failures, settle, facts, droppedCount };
}

const PAIR: InstalledPair = { outboundSaId: 'sa-out', inboundSaId: 'sa-in' };

describe('AcquireManager: a burst becomes one ACQUIRE', () => {
  it('10 000 packets to an unkeyed destination raise one ACQUIRE; queued packets are delivered in order after the SA comes up', async () => {
    const h = harness({ queue: { maxPackets: 10_000, maxBytes: 10_000 * 100 } });
    const web = policy('web');
    const sent = Array.from({ length: 10_000 }, (_, i) => packet(i));
    const outcomes = sent.map((p) => h.manager.onMiss(p, { policy: web }, 0, FIELDS));
    expect(outcomes.every((o) => o === 'queued')).toBe(true);
    await h.settle();
    const log = await h.facts();
    expect(log.map((f) => f.type)).toEqual(['AcquireRaised']);
    expect(log[0]!.data).toMatchObject({ policyId: 'web', selectorIndex: 0, attempt: 1, packet: packetFieldsOf(FIELDS) });
    expect(h.calls).toHaveLength(1);
    // Write-ahead: the key manager heard of it only once AcquireRaised was durable.
    expect(h.calls[0]!.durableTypes).toEqual(['AcquireRaised']);
    expect(h.calls[0]!.request).toMatchObject({ policyId: 'web', selectorIndex: 0, packet: { localAddress: '10.0.0.1', remoteAddress: '10.9.0.1', protocol: 6, localPort: 40000, remotePort: 443 } });
    expect(h.released).toEqual([]);
    h.calls[0]!.resolve(PAIR);
    await h.settle();
    expect((await h.facts()).map((f) => f.type)).toEqual(['AcquireRaised', 'AcquireSatisfied']);
    expect(h.released).toHaveLength(1);
    expect(h.released[0]!).toHaveLength(10_000);
    expect(h.released[0]!.every((p, i) => p === sent[i])).toBe(true);
    expect(h.dropped).toEqual([]);
    // Larval state never lingers after the SA is up: no live acquire, no held packet.
    expect(h.manager.size).toBe(0);
    expect(h.manager.list()).toEqual([]);
    expect(h.inspected.length).toBeGreaterThan(0);
  });

  it('with the default limits (64 packets, 256 KiB) the head of the burst is held and the rest dropped as acquireLimited', async () => {
    const h = harness();
    const outcomes = Array.from({ length: 10_000 }, (_, i) => h.manager.onMiss(packet(i), { policy: policy('web') }, 0, FIELDS));
    expect(outcomes.filter((o) => o === 'queued')).toHaveLength(64);
    expect(h.droppedCount()).toBe(10_000 - 64);
    expect(new Set(h.dropped.map((d) => d.reason))).toEqual(new Set(['acquireLimited']));
    expect(h.manager.stats).toEqual({ raised: 1, rateLimited: 0, queueFull: 10_000 - 64 });
    await h.settle();
    h.calls[0]!.resolve(PAIR);
    await h.settle();
    expect(h.released[0]!.map(indexOf)).toEqual(Array.from({ length: 64 }, (_, i) => i));
  });

  it('the byte limit holds too: 8000-byte packets, 32 fit in 256 KiB', () => {
    const h = harness();
    const outcomes = Array.from({ length: 40 }, (_, i) => h.manager.onMiss(packet(i, 8000), { policy: policy('web') }, 0, FIELDS));
    expect(outcomes.filter((o) => o === 'queued')).toHaveLength(32);
    expect(h.manager.list()[0]).toMatchObject({ key: 'web/0', state: 'negotiating', queued: 32 });
  });
});

describe('AcquireManager: failure, timeout and retry', () => {
  it('a failure drops every queued packet with a reason; packets during the backoff are dropped; after it a packet retries', async () => {
    const h = harness();
    const web = policy('web');
    for (let i = 0; i < 10; i++) h.manager.onMiss(packet(i), { policy: web }, 0, FIELDS);
    await h.settle();
    h.calls[0]!.reject(new Error('NO_PROPOSAL_CHOSEN'));
    await h.settle();
    expect(h.dropped).toEqual([{ packets: expect.any(Array), reason: 'acquireFailed' }]);
    expect(h.dropped[0]!.packets.map(indexOf)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect((await h.facts()).at(-1)).toMatchObject({ type: 'AcquireFailed', data: { reason: 'NO_PROPOSAL_CHOSEN', retryInMs: 1000 } });

    h.clock.increment(999);
    expect(h.manager.onMiss(packet(10), { policy: web }, 0, FIELDS)).toBe('dropped');
    expect(h.calls).toHaveLength(1);
    h.clock.increment(1);
    expect(h.manager.onMiss(packet(11), { policy: web }, 0, FIELDS)).toBe('queued');
    await h.settle();
    expect(h.calls).toHaveLength(2);
    expect(h.calls[1]!.request.acquireId).toBe(h.calls[0]!.request.acquireId);
    h.calls[1]!.reject(new Error('AUTHENTICATION_FAILED'));
    await h.settle();
    const log = await h.facts();
    expect(log.map((f) => f.type)).toEqual(['AcquireRaised', 'AcquireFailed', 'AcquireRaised', 'AcquireFailed']);
    expect(log.map((f) => f.data.attempt ?? f.data.retryInMs)).toEqual([1, 1000, 2, 2000]);
    expect(new Set(log.map((f) => f.stream)).size).toBe(1);
  });

  it('a negotiation that takes longer than 30 s times out: the signal aborts, the queue is dropped', async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) h.manager.onMiss(packet(i), { policy: policy('web') }, 0, FIELDS);
    await h.settle();
    h.clock.increment(30_000);
    await h.settle();
    expect(h.calls[0]!.signal.aborted).toBe(true);
    expect((await h.facts()).map((f) => f.type)).toEqual(['AcquireRaised', 'AcquireTimedOut']);
    expect(h.droppedCount()).toBe(3);
    expect(h.manager.list()[0]).toMatchObject({ state: 'backoff' });
  });

  it('with no traffic after the backoff the acquire is abandoned and forgotten', async () => {
    const h = harness({ idleMs: 5000 });
    h.manager.onMiss(packet(0), { policy: policy('web') }, 0, FIELDS);
    await h.settle();
    h.calls[0]!.reject(new Error('x'));
    await h.settle();
    h.clock.increment(1000); // backoff over: retryable (SimulatedClock starts new timers at the end of a jump)
    h.clock.increment(4999);
    expect(h.manager.list()[0]).toMatchObject({ state: 'retryable' });
    h.clock.increment(1);
    await h.settle();
    expect((await h.facts()).map((f) => f.type)).toEqual(['AcquireRaised', 'AcquireFailed', 'AcquireAbandoned']);
    expect(h.manager.size).toBe(0);
  });
});

describe('AcquireManager: shunts, rate limit, other ends', () => {
  it("shunt 'drop' drops every packet meanwhile, shunt 'pass' passes them; both still raise one acquire", async () => {
    const h = harness();
    const drop = Array.from({ length: 5 }, (_, i) => h.manager.onMiss(packet(i), { policy: policy('d', 'drop') }, 0, FIELDS));
    const pass = Array.from({ length: 5 }, (_, i) => h.manager.onMiss(packet(i), { policy: policy('p', 'pass') }, 0, FIELDS));
    expect(drop).toEqual(Array(5).fill('dropped'));
    expect(pass).toEqual(Array(5).fill('passed'));
    expect(h.droppedCount()).toBe(5);
    await h.settle();
    expect(h.calls.map((c) => c.request.policyId).sort()).toEqual(['d', 'p']);
    for (const c of h.calls) c.resolve(PAIR);
    await h.settle();
    expect(h.released).toEqual([]);
    expect(h.manager.size).toBe(0);
  });

  it('new acquires are rate-limited (token bucket); a refused one holds nothing and the packet goes per shunt', async () => {
    const h = harness({ rateLimit: { perSecond: 2, burst: 2 } });
    const first = [0, 1, 2, 3].map((s) => h.manager.onMiss(packet(s), { policy: policy('web') }, s, FIELDS));
    expect(first).toEqual(['queued', 'queued', 'dropped', 'dropped']);
    expect(h.manager.onMiss(packet(9), { policy: policy('open', 'pass') }, 0, FIELDS)).toBe('passed');
    expect(h.manager.stats).toMatchObject({ raised: 2, rateLimited: 3 });
    // Packets of an acquire already under way need no token.
    expect(h.manager.onMiss(packet(4), { policy: policy('web') }, 0, FIELDS)).toBe('queued');
    h.clock.increment(500);
    expect(h.manager.onMiss(packet(5), { policy: policy('web') }, 2, FIELDS)).toBe('queued');
    expect(h.manager.onMiss(packet(6), { policy: policy('web') }, 3, FIELDS)).toBe('dropped');
    await h.settle();
    expect((await h.facts()).filter((f) => f.type === 'AcquireRaised')).toHaveLength(3);
    expect(h.calls).toHaveLength(3);
  });

  it('the SA coming up by other means releases the held packets; cancel drops them', async () => {
    const h = harness();
    h.manager.onMiss(packet(0), { policy: policy('a') }, 0, FIELDS);
    h.manager.onMiss(packet(1), { policy: policy('b') }, 0, FIELDS);
    h.manager.saInstalled('a', 0, ['peer-out', 'peer-in']);
    h.manager.cancel('b');
    await h.settle();
    expect(h.released.map((r) => r.map(indexOf))).toEqual([[0]]);
    expect(h.dropped.map((d) => d.packets.map(indexOf))).toEqual([[1]]);
    expect(h.calls.every((c) => c.signal.aborted)).toBe(true);
    expect((await h.facts()).map((f) => f.type).sort()).toEqual(['AcquireAbandoned', 'AcquireRaised', 'AcquireRaised', 'AcquireSatisfied']);
    expect(h.manager.size).toBe(0);
  });

  it('a second writer on the stream fails the journal: the actor stops, its packets are dropped, the host is told', async () => {
    const store = memoryEventStore();
    const h = harness({}, store);
    h.manager.onMiss(packet(0), { policy: policy('web') }, 0, FIELDS);
    await h.settle();
    const id = h.calls[0]!.request.acquireId;
    await factLog(store).append(acquireStream(id), [{ type: 'AcquireAbandoned', data: { reason: 'cancelled' }, meta: { id: 'intruder', at: new Date(T0).toISOString(), schemaVersion: 1 } }], 1);
    h.manager.onMiss(packet(1), { policy: policy('web') }, 0, FIELDS);
    h.clock.increment(30_000); // AcquireTimedOut conflicts with the intruder's fact
    await h.settle();
    expect(h.failures).toHaveLength(1);
    expect(h.droppedCount()).toBe(2);
    expect(h.manager.size).toBe(0);
  });
});

describe('AcquireManager: restart', () => {
  it('a pending acquire resumes from its stream in the same state and asks the key manager again; queued packets are lost', async () => {
    const store = memoryEventStore();
    const clock = new SimulatedClock();
    clock.set(T0);
    const before = harness({}, store, clock);
    before.manager.onMiss(packet(0), { policy: policy('web') }, 0, FIELDS);
    await before.settle();
    const [was] = before.manager.list();
    before.manager.stop(); // the process dies: nothing is recorded

    const after = harness({}, store, clock);
    const folded = await after.manager.resume(was!.acquireId);
    expect(folded).toEqual(was!.folded);
    expect(after.manager.list()).toEqual([{ ...was!, queued: 0 }]);
    await after.settle();
    expect(after.calls.map((c) => c.request)).toEqual(before.calls.map((c) => c.request));
    after.calls[0]!.resolve(PAIR);
    await after.settle();
    expect((await after.facts()).map((f) => f.type)).toEqual(['AcquireRaised', 'AcquireSatisfied']);
    expect(await after.manager.resume(was!.acquireId)).toMatchObject({ status: 'satisfied' });
    expect(after.manager.size).toBe(0);
  });

  it('an acquire in backoff resumes in backoff and becomes retryable when what is left of it has passed', async () => {
    const store = memoryEventStore();
    const clock = new SimulatedClock();
    clock.set(T0);
    const before = harness({}, store, clock);
    before.manager.onMiss(packet(0), { policy: policy('web') }, 0, FIELDS);
    await before.settle();
    before.calls[0]!.reject(new Error('TS_UNACCEPTABLE'));
    await before.settle();
    const [was] = before.manager.list();
    before.manager.stop();
    clock.increment(400);

    const after = harness({}, store, clock);
    expect(await after.manager.resume(was!.acquireId)).toEqual(was!.folded);
    expect(after.manager.list()[0]).toMatchObject({ state: 'backoff' });
    clock.increment(599);
    expect(after.manager.list()[0]).toMatchObject({ state: 'backoff' });
    clock.increment(1);
    expect(after.manager.list()[0]).toMatchObject({ state: 'retryable' });
    expect(after.manager.onMiss(packet(1), { policy: policy('web') }, 0, FIELDS)).toBe('queued');
    await after.settle();
    expect((await after.facts()).map((f) => f.data.attempt).filter(Boolean)).toEqual([1, 2]);
  });
});
