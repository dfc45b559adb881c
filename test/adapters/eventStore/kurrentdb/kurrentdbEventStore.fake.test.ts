/**
 * The KurrentDB adapter over a fake of the four client calls it makes: what it sends to the
 * client and what it makes of the answers. Always runs (no server).
 */
import { describe, expect, it } from 'vitest';
import { firstValueFrom, take, toArray } from 'rxjs';
import { UnavailableError } from '@kurrent/kurrentdb-client';
import { kurrentdbEventStore } from '../../../../adapters/eventStore/kurrentdb/kurrentdbEventStore.js';
import { ORIGINAL_ID_KEY, toKurrentId } from '../../../../adapters/eventStore/kurrentdb/kurrentdbMapping.js';
import { StoreCorrupted, StoreUnavailable, StreamVersionConflict } from '../../../../adapters/eventStore/types.js';
import type { EventData } from '../../../../adapters/eventStore/types.js';
import { FakeKurrentClient } from './fakeKurrentClient.js';

let counter = 0;
function event(type = 'SaInstalled', id = `e-${++counter}`): EventData {
  return { id, type, data: { n: counter }, metadata: { at: '2024-05-01T12:00:00.000Z', schemaVersion: 1 } };
}

function setup() {
  const fake = new FakeKurrentClient();
  const store = kurrentdbEventStore({ client: fake });
  return { fake, store };
}

describe('kurrentdbEventStore over a fake client', () => {
  it('appends with 0-based revisions and reports 1-based versions and commit-based positions', async () => {
    const { fake, store } = setup();
    const first = await store.appendToStream('sa-1', [event(), event()], { expectedVersion: 'noStream' });
    const stored = fake.log.filter((e) => e.streamId === 'sa-1');
    expect(stored.map((e) => e.revision)).toEqual([0n, 1n]);
    expect(first).toEqual({ nextExpectedVersion: 2n, lastGlobalPosition: stored[1]!.position.commit + 1n, createdNewStream: true });
    const second = await store.appendToStream('sa-1', [event()], { expectedVersion: 2n });
    expect(second.nextExpectedVersion).toBe(3n);
    expect(second.createdNewStream).toBe(false);
    expect(fake.log.at(-1)!.revision).toBe(2n);
  });

  it('maps a wrong expected revision to StreamVersionConflict in our numbering', async () => {
    const { store } = setup();
    await store.appendToStream('sa-1', [event(), event()]);
    const error = await store.appendToStream('sa-1', [event()], { expectedVersion: 1n }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamVersionConflict);
    expect(error).toMatchObject({ streamName: 'sa-1', expected: 1n, actual: 2n });
    expect((error as Error).cause).toMatchObject({ type: 'wrong-expected-version' });
    await expect(store.appendToStream('sa-1', [event()], { expectedVersion: 'noStream' })).rejects.toMatchObject({ actual: 2n });
    await expect(store.appendToStream('sa-new', [event()], { expectedVersion: 'streamExists' })).rejects.toMatchObject({ actual: 0n });
  });

  it('is idempotent on event ids: at the same expected version, and after the stream moved on', async () => {
    const { fake, store } = setup();
    const batch = [event(), event()];
    const first = await store.appendToStream('sa-1', batch, { expectedVersion: 0n });
    expect(await store.appendToStream('sa-1', batch, { expectedVersion: 0n })).toMatchObject({ nextExpectedVersion: 2n, lastGlobalPosition: first.lastGlobalPosition });
    await store.appendToStream('sa-1', [event()], { expectedVersion: 2n });
    // KurrentDB accepts this retry itself (same ids right after the expected revision)...
    expect(await store.appendToStream('sa-1', batch, { expectedVersion: 0n })).toMatchObject({ nextExpectedVersion: 2n, lastGlobalPosition: first.lastGlobalPosition });
    // ...and this one the adapter recognises after KurrentDB's wrong-expected-version answer.
    expect(await store.appendToStream('sa-1', batch.slice(1), { expectedVersion: 0n })).toEqual({ nextExpectedVersion: 2n, lastGlobalPosition: first.lastGlobalPosition, createdNewStream: false });
    const tail = [event()];
    const third = await store.appendToStream('sa-1', tail, { expectedVersion: 3n });
    expect(await store.appendToStream('sa-1', tail, { expectedVersion: 1n })).toEqual({ nextExpectedVersion: 4n, lastGlobalPosition: third.lastGlobalPosition, createdNewStream: false });
    expect(fake.log.filter((e) => e.streamId === 'sa-1')).toHaveLength(4);
  });

  it('sends an exact expected version straight to the client; reads the stream first for any and streamExists', async () => {
    const { fake, store } = setup();
    await store.appendToStream('sa-1', [event()], { expectedVersion: 'noStream' });
    await store.appendToStream('sa-1', [event()], { expectedVersion: 1n });
    expect(fake.calls).toEqual(['appendToStream', 'appendToStream']);
    fake.calls.length = 0;
    await store.appendToStream('sa-1', [event()]);
    await store.appendToStream('sa-1', [event()], { expectedVersion: 'streamExists' });
    expect(fake.calls).toEqual(['readStream', 'appendToStream', 'readStream', 'appendToStream']);
    expect(fake.log.filter((e) => e.streamId === 'sa-1').map((e) => e.revision)).toEqual([0n, 1n, 2n, 3n]);
  });

  it('round-trips ids that are not UUIDs through the metadata', async () => {
    const { fake, store } = setup();
    const original = event('SaInstalled', 'not a uuid: sa-1#1');
    await store.appendToStream('sa-1', [original]);
    expect(fake.log.at(-1)).toMatchObject({ id: toKurrentId(original.id), metadata: { [ORIGINAL_ID_KEY]: original.id } });
    const { events } = await store.readStream('sa-1');
    expect(events[0]).toEqual({ ...original, streamName: 'sa-1', streamVersion: 1n, globalPosition: fake.log.at(-1)!.position.commit + 1n });
  });

  it('reads a missing stream as empty, and slices by version', async () => {
    const { store } = setup();
    expect(await store.readStream('sa-none')).toEqual({ events: [], currentVersion: 0n, streamExists: false });
    await store.appendToStream('sa-1', [event(), event(), event(), event()]);
    const slice = await store.readStream('sa-1', { from: 2n, maxCount: 2 });
    expect(slice.events.map((e) => e.streamVersion)).toEqual([2n, 3n]);
    expect(slice).toMatchObject({ currentVersion: 4n, streamExists: true });
    expect(await store.readStream('sa-1', { from: 7n })).toEqual({ events: [], currentVersion: 4n, streamExists: true });
  });

  it('reads $all without system events, strictly after the checkpoint although the server read is inclusive', async () => {
    const { store } = setup();
    await store.appendToStream('sa-1', [event(), event()]);
    await store.appendToStream('ike-1', [event('IkeSaEstablished')]);
    const all = await store.readAll();
    expect(all.map((e) => e.streamName)).toEqual(['sa-1', 'sa-1', 'ike-1']);
    expect(all[0]!.globalPosition).toBeGreaterThan(1n); // the system events came first
    expect(await store.readAll({ after: all[0]!.globalPosition })).toEqual(all.slice(1));
    expect(await store.readAll({ after: all[0]!.globalPosition, maxCount: 1 })).toEqual(all.slice(1, 2));
    expect(await store.readAll({ after: all[2]!.globalPosition })).toEqual([]);
  });

  it('subscribes from a checkpoint: catch-up, then live, and unsubscribes from the client', async () => {
    const { store } = setup();
    await store.appendToStream('sa-1', [event(), event()]);
    const [first] = await store.readAll({ maxCount: 1 });
    const seen = firstValueFrom(store.subscribe({ after: first!.globalPosition }).pipe(take(3), toArray()));
    await store.appendToStream('sa-2', [event(), event()]);
    const events = await seen;
    expect(events.map((e) => [e.streamName, e.streamVersion])).toEqual([['sa-1', 2n], ['sa-2', 1n], ['sa-2', 2n]]);
    expect(await store.readAll({ after: first!.globalPosition })).toEqual(events);
  });

  it('reports events of a legacy explicit transaction (one commit position) as StoreCorrupted', async () => {
    const { fake, store } = setup();
    fake.write('sa-legacy', [
      { id: '00000000-0000-4000-8000-00000000000a', type: 'X', data: {}, metadata: {} },
      { id: '00000000-0000-4000-8000-00000000000b', type: 'X', data: {}, metadata: {} },
    ], true);
    await expect(store.readAll()).rejects.toBeInstanceOf(StoreCorrupted);
    await expect(firstValueFrom(store.subscribe().pipe(take(2), toArray()))).rejects.toThrow(/explicit transaction/);
  });

  it('maps client failures per call to StoreUnavailable', async () => {
    const { fake, store } = setup();
    fake.failNext.set('appendToStream', Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14 }));
    fake.failNext.set('readStream', new UnavailableError());
    fake.failNext.set('readAll', new UnavailableError());
    fake.failNext.set('subscribeToAll', new UnavailableError());
    await expect(store.appendToStream('sa-1', [event()], { expectedVersion: 'noStream' })).rejects.toBeInstanceOf(StoreUnavailable);
    await expect(store.readStream('sa-1')).rejects.toBeInstanceOf(StoreUnavailable);
    await expect(store.readAll()).rejects.toBeInstanceOf(StoreUnavailable);
    await expect(firstValueFrom(store.subscribe())).rejects.toBeInstanceOf(StoreUnavailable);
  });

  it('finishes pending appends on close, leaves a client it does not own undisposed, then refuses work', async () => {
    const { fake, store } = setup();
    const appends = [store.appendToStream('sa-1', [event()]), store.appendToStream('sa-2', [event()])];
    const live = firstValueFrom(store.subscribe().pipe(toArray()));
    await store.close();
    await expect(Promise.all(appends)).resolves.toHaveLength(2);
    await expect(live).resolves.toBeInstanceOf(Array);
    expect(fake.disposed).toBe(false);
    await expect(store.appendToStream('sa-3', [event()])).rejects.toBeInstanceOf(StoreUnavailable);
  });

  it('rejects bad input naming the argument', async () => {
    const { store } = setup();
    await expect(store.appendToStream('$all', [event()])).rejects.toThrow(/system stream/);
    await expect(store.appendToStream('sa-1', [event('X', 'a'), event('X', 'a')])).rejects.toThrow(/appears twice/);
    await expect(store.appendToStream('sa-1', [event()], { expectedVersion: -2n })).rejects.toThrow(RangeError);
    await expect(store.readAll({ after: -1n })).rejects.toThrow(/^options\.after/);
    expect(() => kurrentdbEventStore({})).toThrow(/connectionString/);
  });
});
