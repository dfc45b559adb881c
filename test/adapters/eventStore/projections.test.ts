import { describe, expect, it } from 'vitest';
import { memoryEventStore } from '../../../adapters/eventStore/memory/memoryEventStore.js';
import { fromRecorded, memoryCheckpoints, readLog, runProjection, toEventData } from '../../../adapters/eventStore/facts.js';
import { decideSa, evolveSa, initialSaState, type SaCommand, type SaState } from '../../../engine/aggregates/sa.js';
import type { CommandContext } from '../../../engine/events/fact.js';
import type { SaParams } from '../../../engine/events/saFacts.js';
import { saStream } from '../../../engine/events/streams.js';
import { replayTo } from '../../../engine/projections/replay.js';
import { saTimeline } from '../../../engine/projections/timeline.js';

const PARAMS: SaParams = {
  spi: 0x1001, protocol: 'esp', direction: 'inbound', mode: 'tunnel', tunnel: { src: '192.0.2.1', dst: '192.0.2.2' }, dst: '192.0.2.2',
  encr: 20, encrKeyBits: 128, integ: 0, esn: false, replayWindow: 128, lifetimes: { soft: { timeMs: 60_000 }, hard: { timeMs: 90_000 } }, keyRef: 'k', keyFingerprint: 'sha256:00',
};

/** Commands through the decider, facts appended write-ahead with the version the writer holds. */
async function writer(store: ReturnType<typeof memoryEventStore>) {
  let t = Date.parse('2026-11-22T00:00:00Z');
  let n = 0;
  const ctx: CommandContext = { get nowMs() { return (t += 1000); }, newId: () => `e${++n}`, correlationId: 'test' } as CommandContext;
  const live = new Map<string, SaState>();
  return {
    live,
    async run(saId: string, command: SaCommand) {
      const state = live.get(saId) ?? initialSaState;
      const facts = decideSa(command, state, ctx);
      if (facts.length === 0) return;
      await store.appendToStream(saStream(saId), facts.map(toEventData), { expectedVersion: state.version === 0 ? 'noStream' : BigInt(state.version) });
      live.set(saId, facts.reduce(evolveSa, state));
    },
  };
}

describe('projections over a store', () => {
  it('facts survive the store unchanged; replay equals the live aggregates; the live projection equals a rebuild', async () => {
    const store = memoryEventStore();
    const w = await writer(store);
    const checkpoints = memoryCheckpoints();
    const projection = await runProjection(store, 'inventory', checkpoints, { every: 2 });
    for (let i = 0; i < 5; i++) await w.run(`s${i}`, { type: 'InstallSa', params: { ...PARAMS, spi: 0x1000 + i } });
    await w.run('s1', { type: 'CheckpointUsage', usage: { packets: 10, bytes: 1000, seqHi: 0, seqLo: 10 } });
    await w.run('s1', { type: 'ExpireHard', limit: 'bytes', usage: { packets: 11, bytes: 1100, seqHi: 0, seqLo: 11 } });
    await w.run('s2', { type: 'DeleteSa', reason: 'peer' });
    const log = await readLog(store);
    await projection.caughtUpTo(log.at(-1)!.position);
    expect(Object.fromEntries(projection.state.sas)).toEqual(Object.fromEntries(w.live));
    expect(Object.fromEntries(replayTo(log).sas)).toEqual(Object.fromEntries(w.live));
    await projection.stop();
    expect(await checkpoints.load('inventory')).toBe(log.at(-1)!.position);
    // A new runner resumes from its checkpoint with a rebuilt state, then follows live appends.
    const resumed = await runProjection(store, 'inventory', checkpoints);
    await w.run('s3', { type: 'DeleteSa', reason: 'operator' });
    await resumed.caughtUpTo(log.at(-1)!.position + 1n);
    expect(Object.fromEntries(resumed.state.sas)).toEqual(Object.fromEntries(w.live));
    await resumed.stop();
    expect(saTimeline(await readLog(store), 's1').map((e) => e.summary)).toEqual([
      'installed: inbound ESP SPI 0x00001001, tunnel mode 192.0.2.1 → 192.0.2.2',
      'usage: 10 packets, 1000 bytes',
      'hard lifetime reached (bytes) after 11 packets, 1100 bytes',
      'deleted: hard lifetime reached',
    ]);
    const first = (await store.readStream('sa-s0')).events[0]!;
    expect(fromRecorded(first).fact).toMatchObject({ type: 'SaInstalled', meta: { id: 'e1', correlationId: 'test', schemaVersion: 1 } });
    await store.close();
  });
});
