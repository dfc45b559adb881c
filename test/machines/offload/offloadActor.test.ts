import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { factLog } from '../../../adapters/eventStore/facts.js';
import { memoryEventStore } from '../../../adapters/eventStore/memory/memoryEventStore.js';
import { emulatedNic, type EmulatedNic } from '../../../adapters/nic/emulatedNic.js';
import { seededRandom } from '../../../adapters/random/random.js';
import type { NicState, OffloadPolicy } from '../../../engine/aggregates/nic.js';
import type { NicFact } from '../../../engine/events/otherFacts.js';
import type { SaParams } from '../../../engine/events/saFacts.js';
import type { FactLog } from '../../../machines/ports.js';
import { loadNic, startOffloadActor } from '../../../machines/offload/offloadActor.js';
import type { OfferedSa, OffloadDecision } from '../../../machines/offload/types.js';

const PARAMS: SaParams = {
  spi: 0x1000, protocol: 'esp', direction: 'inbound', mode: 'tunnel', tunnel: { src: '192.0.2.1', dst: '192.0.2.2' }, dst: '192.0.2.2',
  encr: 20, encrKeyBits: 128, integ: 0, esn: false, replayWindow: 128,
  lifetimes: { soft: { timeMs: 3_000_000 }, hard: { timeMs: 3_600_000 } }, keyRef: 'k-1', keyFingerprint: 'sha256:ab',
};
const offer = (i: number, params: Partial<SaParams> = {}): OfferedSa => ({ saId: `sa${i}`, params: { ...PARAMS, spi: 0x1000 + i, ...params }, keys: { encKey: new Uint8Array(20).fill(i) } });
const TRUSTED: OffloadPolicy = { fipsMode: false, trusted: true };

/** Lets promises, appends and effects run until nothing moves. */
async function settle(journal: { settled(): Promise<void> }): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setImmediate(r));
    await journal.settled();
  }
}

async function harness(o: { log?: FactLog; nic?: EmulatedNic; capacity?: number; policy?: OffloadPolicy; state?: NicState; seed?: number } = {}) {
  const log = o.log ?? factLog(memoryEventStore());
  const nic = o.nic ?? emulatedNic({ name: 'nic0', capabilities: { saOffloadCapacity: o.capacity ?? 4, encryption: [20] } });
  const decisions: OffloadDecision[] = [];
  const failures: unknown[] = [];
  const offload = startOffloadActor({
    deps: { clock: new SimulatedClock(), random: seededRandom(o.seed ?? 1), log }, nic, policy: o.policy ?? TRUSTED,
    onDecision: (d) => decisions.push(d), onJournalFailure: (_, e) => failures.push(e), ...(o.state ? { state: o.state } : {}),
  });
  await offload.ready();
  await settle(offload.journal);
  const facts = async () => (await log.read('nic-nic0')) as NicFact[];
  return { log, nic, decisions, failures, offload, facts, settle: () => settle(offload.journal) };
}

const handles = (ds: OffloadDecision[]) => ds.filter((d): d is Extract<OffloadDecision, { handle: number }> => 'handle' in d);
const reasons = (ds: OffloadDecision[]) => ds.filter((d): d is Extract<OffloadDecision, { reason: string }> => 'reason' in d).map((d) => d.reason);

describe('offload actor on an emulated NIC and a memory event store', () => {
  it('capacity 4 with 6 SAs → 4 offloaded, 2 in software with reason capacity; a 7th is refused from the log alone', async () => {
    const h = await harness({ capacity: 4 });
    for (let i = 0; i < 6; i++) h.offload.offer(offer(i));
    await h.settle();
    expect(handles(h.decisions).map((d) => d.saId)).toEqual(['sa0', 'sa1', 'sa2', 'sa3']);
    expect(h.decisions.filter((d) => 'reason' in d)).toEqual([
      { saId: 'sa4', nic: 'nic0', reason: 'capacity' },
      { saId: 'sa5', nic: 'nic0', reason: 'capacity' },
    ]);
    expect(h.nic.saCount).toBe(4);
    const calls = h.nic.counters.addSaCalls;
    h.offload.offer(offer(6));
    await h.settle();
    expect(reasons(h.decisions)).toEqual(['capacity', 'capacity', 'capacity']);
    expect(h.nic.counters.addSaCalls).toBe(calls); // decided from the folded log, the NIC not asked
    const types = (await h.facts()).map((f) => f.type);
    expect(types.filter((t) => t === 'NicSaAdded')).toHaveLength(4);
    expect(types.filter((t) => t === 'NicSaRejected')).toHaveLength(3);
    expect(types[0]).toBe('NicCapabilitiesDeclared');
  });

  it('FIPS mode → none offloaded, reason fips; an untrusted NIC → untrusted; an undeclared algorithm → unsupported', async () => {
    const fips = await harness({ policy: { fipsMode: true, trusted: true } });
    for (let i = 0; i < 3; i++) fips.offload.offer(offer(i));
    await fips.settle();
    expect(reasons(fips.decisions)).toEqual(['fips', 'fips', 'fips']);
    expect([fips.nic.saCount, fips.nic.counters.addSaCalls]).toEqual([0, 0]);
    const untrusted = await harness({ policy: { fipsMode: false, trusted: false } });
    untrusted.offload.offer(offer(1));
    const ctr = await harness();
    ctr.offload.offer(offer(2, { encr: 13, integ: 12 }));
    await untrusted.settle();
    await ctr.settle();
    expect([reasons(untrusted.decisions), reasons(ctr.decisions)]).toEqual([['untrusted'], ['unsupported']]);
    expect((await ctr.facts()).at(-1)).toMatchObject({ type: 'NicSaRejected', data: { saId: 'sa2', reason: 'unsupported' } });
  });

  it('the NIC has the last word: its unsupported is recorded; a spec it cannot take at all → error', async () => {
    const h = await harness();
    h.nic.faults.refuseAddSa(1, 'unsupported');
    h.offload.offer(offer(1));
    h.offload.offer({ ...offer(2), keys: { encKey: new Uint8Array(3) } });
    await h.settle();
    expect(h.decisions).toEqual([{ saId: 'sa1', nic: 'nic0', reason: 'unsupported' }, { saId: 'sa2', nic: 'nic0', reason: 'error' }]);
  });

  it('withdraw → DELETE_SA once, capacity freed', async () => {
    const h = await harness({ capacity: 2 });
    h.offload.offer(offer(1));
    h.offload.offer(offer(2));
    await h.settle();
    h.offload.withdraw('sa1');
    h.offload.withdraw('sa1');
    await h.settle();
    expect([h.nic.counters.saDeleted, h.nic.saCount]).toEqual([1, 1]);
    h.offload.offer(offer(3));
    await h.settle();
    expect(handles(h.decisions).map((d) => d.saId)).toEqual(['sa1', 'sa2', 'sa3']);
    expect((await h.facts()).filter((f) => f.type === 'NicSaRemoved').map((f) => f.data)).toEqual([{ saId: 'sa1', handle: 1, reason: 'withdrawn' }]);
  });

  it('the handle reaches the data path only once NicSaAdded is durable; DELETE_SA waits for NicSaRemoved', async () => {
    const inner = factLog(memoryEventStore());
    let release: () => void = () => {};
    let gate: Promise<void> = Promise.resolve();
    const log: FactLog = { read: (s) => inner.read(s), append: async (s, f, v) => (await gate, inner.append(s, f, v)) };
    const h = await harness({ log });
    gate = new Promise((r) => (release = r));
    h.offload.offer(offer(1));
    await new Promise((r) => setImmediate(r));
    expect([h.nic.saCount, h.decisions.length]).toEqual([1, 0]); // ADD_SA done, its fact not yet on disk
    release();
    await h.settle();
    expect(h.decisions).toEqual([{ saId: 'sa1', nic: 'nic0', handle: 1 }]);
    gate = new Promise((r) => (release = r));
    h.offload.withdraw('sa1');
    await new Promise((r) => setImmediate(r));
    expect(h.nic.saCount).toBe(1);
    release();
    await h.settle();
    expect(h.nic.saCount).toBe(0);
  });

  it('withdrawn while ADD_SA is in flight: nothing recorded, the NIC cleaned up', async () => {
    const nic = emulatedNic({ name: 'nic0' });
    let answer: () => void = () => {};
    const slow: EmulatedNic = Object.assign(Object.create(nic) as EmulatedNic, {
      addSa: async (batch: Parameters<EmulatedNic['addSa']>[0]) => {
        await new Promise<void>((r) => (answer = r));
        return nic.addSa(batch);
      },
    });
    const h = await harness({ nic: slow });
    h.offload.offer(offer(1));
    await new Promise((r) => setImmediate(r));
    h.offload.withdraw('sa1');
    answer();
    await h.settle();
    expect([nic.saCount, h.decisions.length]).toEqual([0, 0]);
    expect((await h.facts()).map((f) => f.type)).toEqual(['NicCapabilitiesDeclared']);
  });

  it('a handle the NIC lost is reported removed; the SA can be offered again', async () => {
    const h = await harness();
    h.offload.offer(offer(1));
    await h.settle();
    h.nic.faults.loseSa(1);
    h.offload.reportLost(1);
    await h.settle();
    h.offload.offer(offer(1));
    await h.settle();
    expect(h.decisions).toEqual([{ saId: 'sa1', nic: 'nic0', handle: 1 }, { saId: 'sa1', nic: 'nic0', removed: 'lost' }, { saId: 'sa1', nic: 'nic0', handle: 2 }]);
  });

  it('restart from the log: the NIC is reset (orphans too), the old handles are recorded removed, nothing re-offered', async () => {
    const log = factLog(memoryEventStore());
    const nic = emulatedNic({ name: 'nic0', capabilities: { saOffloadCapacity: 4 } });
    const first = await harness({ log, nic });
    first.offload.offer(offer(1));
    first.offload.offer(offer(2));
    await first.settle();
    first.offload.actor.stop();
    await nic.addSa([{ id: 'orphan', direction: 'inbound', spi: 0x9999, mode: 'transport', suite: { encr: 20, encrKeyBits: 128, integ: 0 }, keys: { encKey: new Uint8Array(20) }, dst: new Uint8Array(4) }]);
    expect(nic.saCount).toBe(3); // a crash between ADD_SA and NicSaAdded leaves this
    const state = await loadNic(log, 'nic0');
    expect([Object.keys(state.offloaded), state.version]).toEqual([['sa1', 'sa2'], 3]);
    const second = await harness({ log, nic, state, seed: 2 });
    expect(nic.saCount).toBe(0);
    expect(second.decisions).toEqual([{ saId: 'sa1', nic: 'nic0', removed: 'restart' }, { saId: 'sa2', nic: 'nic0', removed: 'restart' }]);
    expect((await second.facts()).slice(3).map((f) => [f.type, (f.data as { reason?: string }).reason])).toEqual([['NicSaRemoved', 'restart'], ['NicSaRemoved', 'restart']]);
    second.offload.offer(offer(1));
    await second.settle();
    expect(handles(second.decisions)).toHaveLength(1);
    expect(second.failures).toEqual([]);
  });

  it('two writers on one stream: the second journal fails (version conflict) and says so', async () => {
    const log = factLog(memoryEventStore());
    await harness({ log });
    // Seeded differently: the same seed would draw the same fact ids, and the store takes a
    // repeated id as an idempotent retry.
    const stale = await harness({ log, seed: 2, nic: emulatedNic({ name: 'nic0', capabilities: { saOffloadCapacity: 9 } }) });
    expect(stale.failures).toHaveLength(1);
  });
});
