import { getShortestPaths, getStateNodes } from '@xstate/graph';
import { describe, expect, it, vi } from 'vitest';
import { initialTransition, SimulatedClock, transition, type AnyEventObject } from 'xstate';
import { memoryEventStore } from '../../../adapters/eventStore/memory/memoryEventStore.js';
import { factLog } from '../../../adapters/eventStore/facts.js';
import { seededRandom } from '../../../adapters/random/random.js';
import type { SaState } from '../../../engine/aggregates/sa.js';
import type { Fact } from '../../../engine/events/fact.js';
import type { SaParams } from '../../../engine/events/saFacts.js';
import type { FactLog } from '../../../machines/ports.js';
import { loadSa, startSaActor, type SaEffects } from '../../../machines/saLifecycle/saActor.js';
import { createSaLifecycleMachine } from '../../../machines/saLifecycle/saLifecycle.machine.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-22T00:00:00Z');

function params(over: Partial<SaParams> = {}): SaParams {
  return {
    spi: 0x1001, protocol: 'esp', direction: 'inbound', mode: 'tunnel', tunnel: { src: '192.0.2.1', dst: '192.0.2.2' }, dst: '192.0.2.2',
    encr: 20, encrKeyBits: 256, integ: 0, esn: true, replayWindow: 128,
    lifetimes: { soft: { timeMs: HOUR, bytes: 1e9 }, hard: { timeMs: 1.1 * HOUR, bytes: 2e9 } },
    keyRef: 'k1', keyFingerprint: 'f1', ...over,
  } as SaParams;
}
const usage = (packets: number, bytes = packets * 100) => ({ packets, bytes, seqHi: 0, seqLo: packets });

function harness(options: { log?: FactLog; seed?: number; state?: SaState; saId?: string; clock?: SimulatedClock } = {}) {
  const clock = options.clock ?? new SimulatedClock();
  if (!options.clock) clock.set(T0);
  const log = options.log ?? factLog(memoryEventStore());
  const calls: string[] = [];
  const effects: SaEffects = {
    installInDataPath: (id) => calls.push(`install ${id}`),
    removeFromDataPath: (id) => calls.push(`remove ${id}`),
    requestRekey: (id) => calls.push(`rekey ${id}`),
  };
  const rejected: string[] = [];
  const saId = options.saId ?? 'a1';
  const { actor, journal } = startSaActor({ deps: { clock, random: seededRandom(options.seed ?? 1), log }, effects, saId, ...(options.state ? { state: options.state } : {}), onRejected: (_, m) => rejected.push(m) });
  const facts = async () => (await log.read(`sa-${saId}`)).map((f) => f.type);
  return { clock, log, calls, rejected, actor, journal, facts, value: () => actor.getSnapshot().value, sa: () => actor.getSnapshot().context.sa };
}

describe('SA lifecycle through transition() (pure: nothing runs, the snapshot says what would)', () => {
  const clock = new SimulatedClock();
  clock.set(T0);
  const machine = createSaLifecycleMachine({ clock, random: seededRandom(3) });

  it('install: new → live.mature, one SaInstalled folded, the data-path effect named after the record', () => {
    const [s0] = initialTransition(machine, { saId: 'x' });
    expect(s0.value).toBe('new');
    const [s1, actions] = transition(machine, s0, { type: 'sa.install', params: params() });
    expect(s1.value).toEqual({ live: 'mature' });
    expect(s1.context.sa).toMatchObject({ status: 'mature', version: 1, installedAt: new Date(T0).toISOString() });
    const types = actions.map((a) => a.type);
    expect(types).toContain('installInDataPath');
    expect(types.indexOf('installInDataPath')).toBeGreaterThan(types.indexOf('journal'));
    expect((actions.find((a) => a.type === 'journal')!.params as { facts: Fact[] }).facts.map((f) => f.type)).toEqual(['SaInstalled']);
  });

  it('a command the state does not allow records nothing and leaves the state alone', () => {
    const [s0] = initialTransition(machine, { saId: 'x' });
    const [s1] = transition(machine, s0, { type: 'sa.install', params: params() });
    const [s2, actions] = transition(machine, s1, { type: 'rekey.complete', newSaId: 'b' });
    expect(s2.value).toEqual({ live: 'mature' });
    expect(s2.context.sa).toEqual(s1.context.sa);
    expect(actions.some((a) => a.type === 'removeFromDataPath')).toBe(false);
  });

  it('every state is reachable and dead is final (@xstate/graph)', () => {
    const afterEvents = getStateNodes(machine.root).flatMap((n) => n.after.map((t) => ({ type: t.eventType }) as AnyEventObject));
    const events = [
      { type: 'sa.createLarval', spi: 0x1001, protocol: 'esp', dst: '192.0.2.2' },
      { type: 'sa.install', params: params() },
      { type: 'usage.limit', which: 'soft', limit: 'bytes', usage: usage(10) },
      { type: 'seq.exhausted', usage: usage(11) },
      { type: 'rekey.start', newSaId: 'b' },
      { type: 'rekey.complete', newSaId: 'b' },
      { type: 'sa.delete', reason: 'operator' },
      { type: 'nic.saDeleteRequest', nic: 'nic0' },
      ...afterEvents,
    ] as never[];
    const paths = getShortestPaths(machine, { input: { saId: 'g' }, events, serializeState: (s) => JSON.stringify(s.value) });
    const reached = new Set(paths.map((p) => JSON.stringify(p.state.value)));
    const leaves = getStateNodes(machine.root).filter((n) => n.type === 'atomic' || n.type === 'final').map((n) => n.path);
    for (const path of leaves) {
      if (path[0] === 'route') continue; // transient: never at rest
      const value = path.length === 1 ? path[0] : path.length === 2 ? { [path[0]!]: path[1] } : { [path[0]!]: { [path[1]!]: path[2] } };
      expect(reached, `unreachable: ${path.join('.')}`).toContain(JSON.stringify(value));
    }
    expect(machine.root.states.dead!.type).toBe('final');
    const dead = paths.find((p) => p.state.value === 'dead')!;
    expect(dead.state.status).toBe('done');
  });
});

describe('SA lifecycle, live, on a SimulatedClock and a real (memory) event store', () => {
  it('hours of lifetime in milliseconds: soft expiry → jittered rekey request → rekey → drain → dead, each a fact', async () => {
    const h = harness();
    h.actor.send({ type: 'sa.install', params: params() });
    await h.journal.settled();
    expect(h.calls).toEqual(['install a1']);
    h.clock.increment(HOUR - 1);
    expect(h.value()).toEqual({ live: 'mature' });
    h.clock.increment(1);
    await h.journal.settled();
    expect(h.sa().softExpired?.limit).toBe('time');
    const jitter = h.actor.getSnapshot().context.jitterMs;
    expect(jitter).toBeGreaterThanOrEqual(0);
    expect(jitter).toBeLessThanOrEqual(0.1 * HOUR);
    h.clock.increment(jitter);
    await h.journal.settled();
    expect(h.calls).toEqual(['install a1', 'rekey a1']);
    h.actor.send({ type: 'rekey.start', newSaId: 'b1' });
    expect(h.value()).toEqual({ live: 'rekeying' });
    h.actor.send({ type: 'rekey.complete', newSaId: 'b1' });
    expect(h.value()).toEqual({ live: 'dying' }); // inbound: drains 5 s
    h.clock.increment(4_999);
    expect(h.value()).toEqual({ live: 'dying' });
    h.clock.increment(1);
    await h.journal.settled();
    expect(h.value()).toBe('dead');
    expect(h.sa().deleted?.reason).toBe('rekeyed');
    expect(await h.facts()).toEqual(['SaInstalled', 'SaSoftExpired', 'RekeyStarted', 'RekeyCompleted', 'SaDeleted']);
    expect(h.calls).toEqual(['install a1', 'rekey a1', 'remove a1']);
  });

  it('two SAs with different seeds draw different jitter (peers do not rekey at once), within 10 %', () => {
    const jitters = [1, 2, 3, 4, 5].map((seed) => {
      const h = harness({ seed });
      h.actor.send({ type: 'sa.install', params: params() });
      h.clock.increment(HOUR);
      return h.actor.getSnapshot().context.jitterMs;
    });
    expect(new Set(jitters).size).toBeGreaterThan(1);
    for (const j of jitters) expect(j).toBeLessThanOrEqual(0.1 * HOUR);
  });

  it('an outbound SA leaves the data path as soon as it is replaced (no drain)', async () => {
    const h = harness();
    h.actor.send({ type: 'sa.install', params: params({ direction: 'outbound' }) });
    h.actor.send({ type: 'usage.limit', which: 'soft', limit: 'packets', usage: usage(5) });
    h.actor.send({ type: 'rekey.start', newSaId: 'b1' });
    h.actor.send({ type: 'rekey.complete', newSaId: 'b1' });
    h.clock.increment(0);
    await h.journal.settled();
    expect(h.value()).toBe('dead');
    expect(h.sa().replacedBy?.drainMs).toBe(0);
  });

  it('hard expiry wins while rekeying: SaHardExpired then SaDeleted(hardExpired), removed from the data path once', async () => {
    const h = harness();
    h.actor.send({ type: 'sa.install', params: params() });
    h.clock.increment(HOUR);
    h.actor.send({ type: 'rekey.start', newSaId: 'b1' });
    h.clock.increment(0.1 * HOUR);
    await h.journal.settled();
    expect(h.value()).toBe('dead');
    expect(await h.facts()).toEqual(['SaInstalled', 'SaSoftExpired', 'RekeyStarted', 'SaHardExpired', 'SaDeleted']);
    expect(h.sa().deleted?.reason).toBe('hardExpired');
    expect(h.calls.filter((c) => c.startsWith('remove'))).toHaveLength(1);
  });

  it('byte and packet limits come from the data path as events; whichever comes first', async () => {
    const h = harness();
    h.actor.send({ type: 'sa.install', params: params() });
    h.actor.send({ type: 'usage.limit', which: 'hard', limit: 'bytes', usage: usage(10, 2e9) });
    await h.journal.settled();
    expect(h.sa()).toMatchObject({ status: 'dead', hardExpired: { limit: 'bytes' }, usage: { bytes: 2e9 } });
  });

  it('sequence exhaustion asks for a rekey at once (no jitter: RFC 4303 §3.3.3)', async () => {
    const h = harness();
    h.actor.send({ type: 'sa.install', params: params({ direction: 'outbound' }) });
    h.actor.send({ type: 'seq.exhausted', usage: usage(100) });
    h.clock.increment(0);
    await h.journal.settled();
    expect(h.calls).toEqual(['install a1', 'rekey a1']);
    expect(await h.facts()).toEqual(['SaInstalled', 'SaSequenceExhausted']);
  });

  it('DELETE and SaDeleteReq, however many, delete exactly once', async () => {
    const h = harness();
    h.actor.send({ type: 'sa.install', params: params() });
    // After the first, the actor is final: xstate warns that the rest go nowhere, which is the point.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    for (let i = 0; i < 50; i++) h.actor.send({ type: 'nic.saDeleteRequest', nic: 'nic0' });
    h.actor.send({ type: 'sa.delete', reason: 'peer' });
    expect(warn).toHaveBeenCalledTimes(50);
    warn.mockRestore();
    await h.journal.settled();
    expect(await h.facts()).toEqual(['SaInstalled', 'SaDeleteRequestedByNic', 'SaDeleted']);
    expect(h.sa().deleted?.reason).toBe('nicRequest');
    expect(h.calls.filter((c) => c.startsWith('remove'))).toEqual(['remove a1']);
  });

  it('a larval SA never lingers: deleted after the larval timeout', async () => {
    const h = harness();
    h.actor.send({ type: 'sa.createLarval', spi: 0x1001, protocol: 'esp', dst: '192.0.2.2' });
    h.clock.increment(30_000);
    await h.journal.settled();
    expect(h.value()).toBe('dead');
    expect(await h.facts()).toEqual(['SaLarvalCreated', 'SaDeleted']);
  });

  it('write-ahead: the SA enters the data path only once SaInstalled is durable', async () => {
    const inner = factLog(memoryEventStore());
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const log: FactLog = { append: async (s, f, v) => { await gate; return inner.append(s, f, v); }, read: (s) => inner.read(s) };
    const h = harness({ log });
    h.actor.send({ type: 'sa.install', params: params() });
    await new Promise((r) => setTimeout(r, 5));
    expect(h.calls).toEqual([]);
    release();
    await h.journal.settled();
    expect(h.calls).toEqual(['install a1']);
  });

  it('a failed append (another writer) stops every later effect', async () => {
    const store = memoryEventStore();
    const log = factLog(store);
    const h = harness({ log });
    await log.append('sa-a1', [{ type: 'SaLarvalCreated', data: {}, meta: { id: 'intruder', at: new Date(T0).toISOString(), schemaVersion: 1 } } as Fact], 0);
    h.actor.send({ type: 'sa.install', params: params() });
    await h.journal.settled();
    expect(h.journal.failure).toBeDefined();
    expect(h.calls).toEqual([]);
  });

  it('stopped at any point and rehydrated from its stream, it lands in the same state with the same deadlines', async () => {
    const steps: Array<(h: ReturnType<typeof harness>) => void> = [
      (h) => h.actor.send({ type: 'sa.install', params: params() }),
      (h) => h.actor.send({ type: 'usage.checkpoint', usage: usage(10) }),
      (h) => h.clock.increment(HOUR),
      (h) => h.actor.send({ type: 'rekey.start', newSaId: 'b1' }),
      (h) => h.actor.send({ type: 'rekey.complete', newSaId: 'b1' }),
      (h) => h.clock.increment(2_000),
    ];
    for (let cut = 1; cut <= steps.length; cut++) {
      const store = memoryEventStore();
      const live = harness({ log: factLog(store), saId: `r${cut}` });
      for (const step of steps.slice(0, cut)) step(live);
      await live.journal.settled();
      live.actor.stop();
      const state = await loadSa(live.log, `r${cut}`);
      expect(state).toEqual(live.sa());
      const back = harness({ log: live.log, saId: `r${cut}`, state, clock: live.clock });
      expect(back.value()).toEqual(live.value());
      // Deadlines are absolute: the rebuilt actor reaches the same end at the same time.
      live.clock.increment(1.2 * HOUR);
      await back.journal.settled();
      expect(back.value()).toBe('dead');
      expect(back.sa().deleted?.reason).toBe(cut >= 5 ? 'rekeyed' : 'hardExpired');
    }
  });
});
