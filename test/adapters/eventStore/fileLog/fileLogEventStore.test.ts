import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileLogEventStore } from '../../../../adapters/eventStore/fileLog/fileLogEventStore.js';
import { SEGMENT_HEADER_BYTES, readRecord } from '../../../../adapters/eventStore/fileLog/recordCodec.js';
import { StoreCorrupted, StoreUnavailable, StreamVersionConflict } from '../../../../adapters/eventStore/types.js';
import type { EventData } from '../../../../adapters/eventStore/types.js';
import { eventStoreContract } from '../../../contracts/eventStore.contract.js';

for (const [label, options] of [
  ['file log', {}],
  ['file log, 4 KiB segments, 1 write in flight, fdatasync', { segmentBytes: 4096, writesInFlight: 1, syncMethod: 'fdatasync' as const }],
  ['file log, no zeroing ahead, 4 writes in flight', { zeroAhead: false, writesInFlight: 4 }],
  ['file log, thread-pool writer', { writer: 'pool' as const }],
] as const) {
  eventStoreContract(label, async () => {
    const directory = await mkdtemp(join(tmpdir(), 'ipsec-es-filelog-'));
    const store = await fileLogEventStore({ directory, ...options });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await rm(directory, { recursive: true, force: true });
      },
    };
  });
}

describe('file log', () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'ipsec-es-filelog-'));
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });
  let n = 0;
  const fact = (data: unknown = {}): EventData => ({ id: `f-${++n}`, type: 'FileLogTested', data, metadata: { at: '2025-01-01T00:00:00.000Z', schemaVersion: 1 } });

  it('keeps everything across a reopen: events, versions, positions, idempotent ids, subscriptions', async () => {
    let store = await fileLogEventStore({ directory, segmentBytes: 4096 });
    const first = [fact({ big: 'x'.repeat(5000) }), fact()];
    const r1 = await store.appendToStream('sa-1', first, { expectedVersion: 'noStream' });
    for (let i = 0; i < 30; i++) await store.appendToStream(`sa-${i % 4}`, [fact({ i })]);
    const before = await store.readAll();
    await store.close();

    store = await fileLogEventStore({ directory, segmentBytes: 4096 });
    expect(store.recovery).toMatchObject({ records: 31, events: 32 });
    expect(store.recovery.segments).toBeGreaterThan(2);
    expect(await store.readAll()).toEqual(before);
    expect(await store.appendToStream('sa-1', first)).toEqual(r1);
    const v = (await store.readStream('sa-1')).currentVersion;
    await expect(store.appendToStream('sa-1', [fact()], { expectedVersion: v - 1n })).rejects.toBeInstanceOf(StreamVersionConflict);
    const checkpoint = before[9]!.globalPosition;
    const rest = firstValueFrom(store.subscribe({ after: checkpoint }).pipe(take(before.length - 10 + 1), toArray()));
    const r2 = await store.appendToStream('sa-1', [fact()], { expectedVersion: v });
    expect(r2.lastGlobalPosition).toBe(BigInt(before.length + 1));
    expect((await rest).map((e) => e.globalPosition)).toEqual(Array.from({ length: before.length - 9 }, (_, i) => checkpoint + BigInt(i + 1)));
    await store.close();
  });

  it('group-commits concurrent appends into one write', async () => {
    const store = await fileLogEventStore({ directory, writesInFlight: 1 });
    await Promise.all(Array.from({ length: 64 }, (_, i) => store.appendToStream(`gc-${i}`, [fact()])));
    await store.close();
    const [file] = (await readdir(directory)).filter((f) => f.endsWith('.log'));
    const bytes = await readFile(join(directory, file!));
    const writes = new Set<number>();
    let records = 0;
    for (let off = SEGMENT_HEADER_BYTES; off < bytes.length; records++) {
      const r = readRecord(bytes, off);
      if (typeof r === 'string') throw new Error(r);
      writes.add(r.durableBefore); // with one write in flight, each write's records share it
      off += r.bytes;
    }
    expect(records).toBe(64);
    expect(writes.size).toBe(1);
  });

  it('rejects bad options, naming them', async () => {
    await expect(fileLogEventStore({ directory: '' })).rejects.toThrow(/^options\.directory/);
    await expect(fileLogEventStore({ directory, segmentBytes: 100 })).rejects.toThrow(/^options\.segmentBytes/);
    await expect(fileLogEventStore({ directory, writesInFlight: 0 })).rejects.toThrow(/^options\.writesInFlight/);
    await expect(fileLogEventStore({ directory, syncMethod: 'never' as never })).rejects.toThrow(/^options\.syncMethod/);
    await expect(fileLogEventStore({ directory, writer: 'disk' as never })).rejects.toThrow(/^options\.writer/);
  });

  it('reports a directory it cannot create as StoreUnavailable, not as a file-system error', async () => {
    await writeFile(join(directory, 'a-file'), 'x');
    const e = await fileLogEventStore({ directory: join(directory, 'a-file', 'log') }).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(StoreUnavailable);
    expect((e as Error).message).toMatch(/ENOTDIR/);
  });

  it('refuses a directory that holds something other than a log segment under a segment name', async () => {
    await writeFile(join(directory, '00000000000000000001.log'), 'not a log at all, just some text');
    await expect(fileLogEventStore({ directory })).rejects.toThrow(StoreCorrupted);
    await expect(fileLogEventStore({ directory })).rejects.toThrow(/not an ipsec-es log segment/);
  });
});
