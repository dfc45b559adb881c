import { describe, expect, it } from 'vitest';
import { factLog } from '../../adapters/eventStore/facts.js';
import { memoryEventStore } from '../../adapters/eventStore/memory/memoryEventStore.js';
import { StreamVersionConflict } from '../../adapters/eventStore/types.js';
import type { Fact } from '../../engine/events/fact.js';
import { Journal } from '../../machines/journal.js';
import type { FactLog } from '../../machines/ports.js';

let n = 0;
const f = (type: string): Fact => ({ type, data: {}, meta: { id: `f${++n}`, at: '2026-11-22T00:00:00.000Z', schemaVersion: 1 } });

function countingLog() {
  const inner = factLog(memoryEventStore());
  const appends: number[] = [];
  const log: FactLog = { append: async (s, facts, v) => { appends.push(facts.length); await inner.append(s, facts, v); }, read: (s) => inner.read(s) };
  return { log, appends, inner };
}

describe('Journal (write-ahead for actors)', () => {
  it('appends in order, coalescing what queues during an append into one append', async () => {
    const { log, appends } = countingLog();
    const j = new Journal(log, 'sa-1', 0);
    j.record([f('A')]);
    j.record([f('B')]);
    j.record([f('C'), f('D')]);
    await j.settled();
    expect((await log.read('sa-1')).map((x) => x.type)).toEqual(['A', 'B', 'C', 'D']);
    expect(appends).toEqual([1, 3]);
    expect(j.version).toBe(4);
    expect(j.durableVersion).toBe(4);
  });

  it('an effect runs only after every fact recorded before it is durable, never inside the caller', async () => {
    const { log } = countingLog();
    const j = new Journal(log, 'sa-2', 0);
    const seen: string[] = [];
    j.afterDurable(() => seen.push('before any fact'));
    expect(seen).toEqual([]); // not synchronous
    j.record([f('A')]);
    j.afterDurable(() => seen.push(`after A: durable ${j.durableVersion}`));
    j.record([f('B')]);
    j.afterDurable(() => seen.push(`after B: durable ${j.durableVersion}`));
    await j.settled();
    expect(seen).toEqual(['before any fact', 'after A: durable 1', 'after B: durable 2']);
  });

  it('a conflicting writer fails the journal once: the cause is reported, later effects never run', async () => {
    const { log } = countingLog();
    await log.append('sa-3', [f('Other')], 0);
    const failures: unknown[] = [];
    const j = new Journal(log, 'sa-3', 0, (e) => failures.push(e));
    const seen: string[] = [];
    j.record([f('Mine')]);
    j.afterDurable(() => seen.push('effect'));
    await j.settled();
    j.record([f('Later')]);
    j.afterDurable(() => seen.push('later effect'));
    await j.settled();
    expect(seen).toEqual([]);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toBeInstanceOf(StreamVersionConflict);
    expect((await log.read('sa-3')).map((x) => x.type)).toEqual(['Other']);
  });

  it('resumes at the version it was given (a rehydrated actor)', async () => {
    const { log } = countingLog();
    await log.append('sa-4', [f('A'), f('B')], 0);
    const j = new Journal(log, 'sa-4', 2);
    j.record([f('C')]);
    await j.settled();
    expect(j.failure).toBeUndefined();
    expect((await log.read('sa-4')).map((x) => x.type)).toEqual(['A', 'B', 'C']);
  });
});
