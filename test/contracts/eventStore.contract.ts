/**
 * The event store contract (DESIGN §4, issue 4 item 2): one suite every back end passes.
 *
 * Back-end neutral on purpose: it never assumes an empty store (KurrentDB keeps its data between
 * runs and writes system events), so every test uses stream names of its own, measures global
 * positions from a marker it appended itself and filters `readAll`/`subscribe` to its streams. It
 * assumes positions increase in commit order, never that they are dense (PostgreSQL sequences
 * have gaps, KurrentDB positions are byte offsets).
 *
 * The rules it states, beyond the port's JSDoc (adapters/eventStore/types.ts):
 * - idempotency (adapters/eventStore/memory/storeRules.ts): re-appending exactly the ids of an
 *   earlier append returns that append's result, whatever `expectedVersion` says, and writes
 *   nothing; a partial overlap, or an id twice in one append, is a `RangeError` naming `events`;
 * - an empty append checks `expectedVersion` and writes nothing;
 * - after `close()` (which lets pending appends finish) every call rejects with `StoreUnavailable`,
 *   `subscribe` errors with it, live subscriptions complete, and `close()` again is a no-op;
 * - misuse throws `TypeError`/`RangeError` naming the argument; `subscribe` checks synchronously.
 *
 * @example
 * eventStoreContract('memory', async () => ({ store: memoryEventStore(), cleanup: async () => {} }));
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import type { Observable } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IpsecError } from '../../engine/errors.js';
import { StoreUnavailable, StreamVersionConflict } from '../../adapters/eventStore/types.js';
import type { EventData, EventStore, ExpectedVersion, RecordedEvent } from '../../adapters/eventStore/types.js';

export interface StoreUnderTest {
  store: EventStore;
  /** Closes the store if still open and removes whatever it left behind. */
  cleanup(): Promise<void>;
}

const AT = '2025-01-01T00:00:00.000Z';

/** A fact with a fresh id and a fixed `at` (time is an input, DESIGN §3). */
function fact(data: unknown = { n: 0 }, type = 'ContractTested'): EventData {
  return { id: randomUUID(), type, data, metadata: { at: AT, schemaVersion: 1 } };
}

function facts(n: number, tag = 'e'): EventData[] {
  return Array.from({ length: n }, (_, i) => fact({ tag, i }));
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection, but the call resolved');
}

/** The first `count` events of `events$` that satisfy `keep`, or a timeout if they do not come. */
function collect(events$: Observable<RecordedEvent>, keep: (e: RecordedEvent) => boolean, count: number, ms = 15_000): Promise<RecordedEvent[]> {
  return firstValueFrom(events$.pipe(filter(keep), take(count), toArray(), timeout({ each: ms })));
}

function expectIncreasing(positions: readonly bigint[]): void {
  for (let i = 1; i < positions.length; i++) expect(positions[i]! > positions[i - 1]!, `position ${positions[i]} after ${positions[i - 1]}`).toBe(true);
}

/**
 * Registers the contract's tests for one back end. `makeStore` gives a fresh store per test.
 *
 * @example
 * eventStoreContract('file log', async () => { const dir = await mkdtemp(...); ... });
 */
export function eventStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`event store contract: ${name}`, () => {
    let sut: StoreUnderTest;
    let store: EventStore;
    const run = randomUUID().slice(0, 8);
    let counter = 0;
    /** A stream of this test alone, category-id form (`contract-<run>x<n>`). */
    const stream = (category = 'contract'): string => `${category}-${run}x${++counter}`;
    /** The global position before anything this test appends next. */
    const mark = async (): Promise<bigint> => (await store.appendToStream(stream('mark'), [fact()])).lastGlobalPosition;

    beforeEach(async () => {
      sut = await makeStore();
      store = sut.store;
    });
    afterEach(async () => {
      await sut.cleanup();
    });

    describe('append and read', () => {
      it('round-trips data and metadata as JSON, with bigint versions and positions', async () => {
        const s = stream('sa');
        const data = { spi: 0x1001, ok: true, none: null, list: [1, 'two', { three: 3 }], nested: { deep: { deeper: [[]] } }, float: 0.5, neg: -7 };
        const first = fact(data, 'SaInstalled');
        first.metadata = { at: AT, schemaVersion: 2, causationId: 'cmd-1', correlationId: 'corr-1', extra: { by: 'test' } };
        const batch = [first, fact({ n: 2 }, 'SaSoftExpired'), fact('a string is JSON too', 'Noted')];
        const r = await store.appendToStream(s, batch, { expectedVersion: 'noStream' });
        expect(r.nextExpectedVersion).toBe(3n);
        expect(r.createdNewStream).toBe(true);
        expect(typeof r.lastGlobalPosition).toBe('bigint');

        const read = await store.readStream(s);
        expect(read.streamExists).toBe(true);
        expect(read.currentVersion).toBe(3n);
        expect(read.events.map((e) => e.streamVersion)).toEqual([1n, 2n, 3n]);
        read.events.forEach((e, i) => {
          const sent = batch[i]!;
          expect(e.id).toBe(sent.id);
          expect(e.type).toBe(sent.type);
          expect(e.streamName).toBe(s);
          expect(e.data).toEqual(JSON.parse(JSON.stringify(sent.data)));
          expect(e.metadata).toEqual(JSON.parse(JSON.stringify(sent.metadata)));
          expect(typeof e.globalPosition).toBe('bigint');
          expect(typeof e.streamVersion).toBe('bigint');
        });
        expectIncreasing(read.events.map((e) => e.globalPosition));
        expect(read.events.at(-1)!.globalPosition).toBe(r.lastGlobalPosition);

        const again = await store.appendToStream(s, [fact()], { expectedVersion: 3n });
        expect(again).toMatchObject({ nextExpectedVersion: 4n, createdNewStream: false });
        expect(again.lastGlobalPosition > r.lastGlobalPosition).toBe(true);
      });

      it('drops what JSON drops: undefined fields come back absent', async () => {
        const s = stream();
        await store.appendToStream(s, [fact({ kept: 1, dropped: undefined })]);
        const [e] = (await store.readStream(s)).events;
        expect(e!.data).toEqual({ kept: 1 });
        expect(Object.keys(e!.data as object)).toEqual(['kept']);
      });

      it('reads a missing stream as empty at version 0n', async () => {
        expect(await store.readStream(stream())).toEqual({ events: [], currentVersion: 0n, streamExists: false });
      });

      it('readStream honours from and maxCount', async () => {
        const s = stream();
        await store.appendToStream(s, facts(4));
        await store.appendToStream(s, facts(6));
        const versions = async (from?: bigint, maxCount?: number) =>
          (await store.readStream(s, { ...(from === undefined ? {} : { from }), ...(maxCount === undefined ? {} : { maxCount }) })).events.map((e) => e.streamVersion);
        expect(await versions()).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
        expect(await versions(4n, 3)).toEqual([4n, 5n, 6n]);
        expect(await versions(9n)).toEqual([9n, 10n]);
        expect(await versions(10n, 5)).toEqual([10n]);
        expect(await versions(11n)).toEqual([]);
        expect(await versions(1n, 0)).toEqual([]);
        const beyond = await store.readStream(s, { from: 50n });
        expect(beyond).toEqual({ events: [], currentVersion: 10n, streamExists: true });
      });

      it('readAll returns the events of every stream in global order, after a position, up to maxCount', async () => {
        const p0 = await mark();
        const [a, b, c] = [stream('a'), stream('b'), stream('c')];
        const written: string[] = [];
        for (let round = 0; round < 3; round++) {
          for (const s of [a, b, c]) {
            const batch = facts(round + 1, s);
            await store.appendToStream(s, batch);
            written.push(...batch.map((e) => e.id));
          }
        }
        const ours = new Set([a, b, c]);
        const all = await store.readAll({ after: p0 });
        expect(all.every((e) => e.globalPosition > p0)).toBe(true);
        expectIncreasing(all.map((e) => e.globalPosition));
        const mine = all.filter((e) => ours.has(e.streamName));
        expect(mine.map((e) => e.id)).toEqual(written);
        for (const s of ours) expect(mine.filter((e) => e.streamName === s).map((e) => e.streamVersion)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);

        const firstTwo = await store.readAll({ after: p0, maxCount: 2 });
        expect(firstTwo).toEqual(all.slice(0, 2));
        const middle = mine[7]!.globalPosition;
        const rest = (await store.readAll({ after: middle })).filter((e) => ours.has(e.streamName));
        expect(rest.map((e) => e.id)).toEqual(written.slice(8));
        expect(await store.readAll({ after: p0, maxCount: 0 })).toEqual([]);
        const from0 = await store.readAll({ maxCount: 1 });
        expect(from0.length).toBe(1);
        expect(from0[0]!.globalPosition >= 1n).toBe(true);
      });
    });

    describe('expectedVersion', () => {
      const conflict = async (s: string, expected: ExpectedVersion, actual: bigint) => {
        const before = await store.readStream(s);
        const e = await rejection(store.appendToStream(s, facts(2), { expectedVersion: expected }));
        expect(e).toBeInstanceOf(StreamVersionConflict);
        expect(e).toBeInstanceOf(IpsecError);
        expect(e).toMatchObject({ code: 'store.versionConflict', streamName: s, expected, actual });
        expect((e as Error).message).toContain(s);
        expect(await store.readStream(s)).toEqual(before);
      };

      it("'noStream' appends only to a stream that does not exist", async () => {
        const s = stream();
        expect(await store.appendToStream(s, [fact()], { expectedVersion: 'noStream' })).toMatchObject({ nextExpectedVersion: 1n, createdNewStream: true });
        await conflict(s, 'noStream', 1n);
      });

      it("'streamExists' appends only to a stream that has events", async () => {
        const s = stream();
        await conflict(s, 'streamExists', 0n);
        await store.appendToStream(s, [fact()]);
        expect(await store.appendToStream(s, [fact()], { expectedVersion: 'streamExists' })).toMatchObject({ nextExpectedVersion: 2n, createdNewStream: false });
      });

      it('an exact version must equal the stream version (0n for a missing stream)', async () => {
        const s = stream();
        await conflict(s, 1n, 0n);
        expect(await store.appendToStream(s, facts(2), { expectedVersion: 0n })).toMatchObject({ nextExpectedVersion: 2n, createdNewStream: true });
        await conflict(s, 0n, 2n);
        await conflict(s, 1n, 2n);
        await conflict(s, 3n, 2n);
        await conflict(s, 2n ** 70n, 2n);
        expect(await store.appendToStream(s, [fact()], { expectedVersion: 2n })).toMatchObject({ nextExpectedVersion: 3n });
      });

      it("'any' (the default) appends whatever the version", async () => {
        const s = stream();
        expect(await store.appendToStream(s, [fact()], { expectedVersion: 'any' })).toMatchObject({ nextExpectedVersion: 1n, createdNewStream: true });
        expect(await store.appendToStream(s, [fact()])).toMatchObject({ nextExpectedVersion: 2n, createdNewStream: false });
      });

      it('an empty append checks the version and writes nothing', async () => {
        const s = stream();
        expect(await store.appendToStream(s, [], { expectedVersion: 'noStream' })).toEqual({ nextExpectedVersion: 0n, lastGlobalPosition: 0n, createdNewStream: false });
        expect((await store.readStream(s)).streamExists).toBe(false);
        const r = await store.appendToStream(s, facts(2));
        expect(await store.appendToStream(s, [], { expectedVersion: 2n })).toEqual({ nextExpectedVersion: 2n, lastGlobalPosition: r.lastGlobalPosition, createdNewStream: false });
        await expect(store.appendToStream(s, [], { expectedVersion: 'noStream' })).rejects.toBeInstanceOf(StreamVersionConflict);
        expect((await store.readStream(s)).currentVersion).toBe(2n);
      });
    });

    describe('atomic appends', () => {
      it('a multi-event append that conflicts writes none of its events', async () => {
        const s = stream();
        await store.appendToStream(s, facts(3));
        await expect(store.appendToStream(s, facts(5), { expectedVersion: 1n })).rejects.toBeInstanceOf(StreamVersionConflict);
        expect((await store.readStream(s)).events.length).toBe(3);
      });

      it('readers never see part of an append', async () => {
        const s = stream();
        const p0 = await mark();
        let writing = true;
        const writer = (async () => {
          for (let i = 0; i < 25; i++) await store.appendToStream(s, facts(4, `batch${i}`), { expectedVersion: BigInt(i * 4) });
          writing = false;
        })();
        const seen: number[] = [];
        while (writing) {
          const [byStream, byAll] = await Promise.all([store.readStream(s), store.readAll({ after: p0 })]);
          seen.push(byStream.events.length, byAll.filter((e) => e.streamName === s).length);
          expect(Number(byStream.currentVersion)).toBe(byStream.events.length);
          await sleep(0); // reads answered from memory must not starve the writer's I/O
        }
        await writer;
        expect(seen.every((n) => n % 4 === 0), `partial reads: ${seen.filter((n) => n % 4 !== 0)}`).toBe(true);
        expect((await store.readStream(s)).events.length).toBe(100);
      });
    });

    describe('idempotent event ids', () => {
      it('re-appending the same ids returns the first result and stores nothing twice', async () => {
        const s = stream();
        const batch = facts(3);
        const first = await store.appendToStream(s, batch, { expectedVersion: 'noStream' });
        expect(await store.appendToStream(s, batch, { expectedVersion: 'noStream' })).toEqual(first);
        expect(await store.appendToStream(s, batch, { expectedVersion: 'any' })).toEqual(first);
        expect(await store.appendToStream(s, batch, { expectedVersion: 0n })).toEqual(first);
        const more = facts(2);
        const second = await store.appendToStream(s, more, { expectedVersion: 3n });
        // The stream has moved on: a late retry of either append still gets its own result.
        expect(await store.appendToStream(s, batch)).toEqual(first);
        expect(await store.appendToStream(s, more, { expectedVersion: 3n })).toEqual(second);
        const read = await store.readStream(s);
        expect(read.events.map((e) => e.id)).toEqual([...batch, ...more].map((e) => e.id));
      });

      it('a retry racing its original in flight is stored once', async () => {
        const s = stream();
        const batch = facts(3);
        const [a, b] = await Promise.all([store.appendToStream(s, batch), store.appendToStream(s, batch)]);
        expect(a).toEqual(b);
        expect((await store.readStream(s)).events.length).toBe(3);
      });

      it('a partial overlap of ids is a RangeError naming events, and writes nothing', async () => {
        const s = stream();
        const [x, y, z] = facts(3);
        await store.appendToStream(s, [x!, y!]);
        for (const bad of [[y!, z!], [z!, x!], [y!, x!], [x!, z!, y!]]) {
          const e = await rejection(store.appendToStream(s, bad));
          expect(e).toBeInstanceOf(RangeError);
          expect((e as Error).message).toMatch(/^events/);
        }
        const dup = await rejection(store.appendToStream(s, [z!, { ...z!, data: { other: true } }]));
        expect(dup).toBeInstanceOf(RangeError);
        expect((dup as Error).message).toMatch(/^events\[1\]\.id/);
        expect((await store.readStream(s)).events.map((e) => e.id)).toEqual([x!.id, y!.id]);
        // A retry of a run inside an earlier append is a retry of those events.
        expect(await store.appendToStream(s, [y!])).toMatchObject({ nextExpectedVersion: 2n, createdNewStream: false });
      });
    });

    describe('subscribe', () => {
      it('delivers the history, then live events, with no gap and no duplicate while appends run', async () => {
        const p0 = await mark();
        const streams = [stream('sub'), stream('sub'), stream('sub'), stream('sub')];
        const ours = new Set(streams);
        for (let i = 0; i < 40; i++) await store.appendToStream(streams[i % 4]!, facts(1 + (i % 3), 'history'));
        const before = (await store.readAll({ after: p0 })).filter((e) => ours.has(e.streamName)).length;
        const live = 4 * 30 * 2;
        const received = collect(store.subscribe({ after: p0 }), (e) => ours.has(e.streamName), before + live, 20_000);
        // Writers race the catch-up: some of their events are read as history, some arrive live.
        await Promise.all(
          streams.map(async (s) => {
            for (let i = 0; i < 30; i++) {
              await store.appendToStream(s, facts(2, 'live'));
              if (i % 7 === 0) await sleep(1);
            }
          }),
        );
        const got = await received;
        const expected = (await store.readAll({ after: p0 })).filter((e) => ours.has(e.streamName));
        expect(got.length).toBe(expected.length);
        expect(got.map((e) => e.id)).toEqual(expected.map((e) => e.id));
        expect(got.map((e) => e.globalPosition)).toEqual(expected.map((e) => e.globalPosition));
        expectIncreasing(got.map((e) => e.globalPosition));
        expect(got[0]!.data).toEqual(expected[0]!.data);
      });

      it('starts after a checkpoint', async () => {
        const s = stream();
        await store.appendToStream(s, facts(10));
        const read = (await store.readStream(s)).events;
        const checkpoint = read[3]!.globalPosition;
        const got = await collect(store.subscribe({ after: checkpoint }), (e) => e.streamName === s, 6);
        expect(got.map((e) => e.streamVersion)).toEqual([5n, 6n, 7n, 8n, 9n, 10n]);
        // A checkpoint past the end delivers only what comes later.
        const later = collect(store.subscribe({ after: read[9]!.globalPosition }), (e) => e.streamName === s, 1);
        await sleep(20);
        await store.appendToStream(s, [fact({ late: true })]);
        expect((await later).map((e) => e.streamVersion)).toEqual([11n]);
      });

      it('several subscribers each get the whole sequence', async () => {
        const p0 = await mark();
        const s = stream();
        const early = collect(store.subscribe({ after: p0 }), (e) => e.streamName === s, 60);
        for (let i = 0; i < 10; i++) await store.appendToStream(s, facts(3));
        const middle = collect(store.subscribe({ after: p0 }), (e) => e.streamName === s, 60);
        const concurrent = collect(store.subscribe({ after: p0 }), (e) => e.streamName === s, 60);
        for (let i = 0; i < 10; i++) await store.appendToStream(s, facts(3));
        const late = collect(store.subscribe({ after: p0 }), (e) => e.streamName === s, 60);
        const lists = await Promise.all([early, middle, concurrent, late]);
        const ids = (await store.readStream(s)).events.map((e) => e.id);
        for (const l of lists) expect(l.map((e) => e.id)).toEqual(ids);
      });

      it('stops delivering once unsubscribed', async () => {
        const p0 = await mark();
        const s = stream();
        const got: RecordedEvent[] = [];
        const sub = store.subscribe({ after: p0 }).subscribe((e) => {
          if (e.streamName === s) got.push(e);
        });
        await store.appendToStream(s, facts(5));
        for (let i = 0; i < 200 && got.length < 5; i++) await sleep(10);
        expect(got.length).toBe(5);
        sub.unsubscribe();
        await store.appendToStream(s, facts(5));
        await sleep(150);
        expect(got.length).toBe(5);
      });
    });

    describe('concurrency', () => {
      it('concurrent appenders to one stream: exactly one wins per version', async () => {
        const s = stream();
        const results = await Promise.allSettled(Array.from({ length: 16 }, () => store.appendToStream(s, facts(2), { expectedVersion: 0n })));
        expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ name: 'StreamVersionConflict', actual: 2n });

        // Optimistic writers: read the version, append at it, re-read on a conflict.
        const wins = new Map<string, bigint>();
        await Promise.all(
          Array.from({ length: 6 }, async (_, w) => {
            for (let done = 0; done < 8; ) {
              const { currentVersion } = await store.readStream(s, { from: 1n, maxCount: 0 });
              const e = fact({ writer: w, done });
              try {
                const r = await store.appendToStream(s, [e], { expectedVersion: currentVersion });
                expect(r.nextExpectedVersion).toBe(currentVersion + 1n);
                wins.set(e.id, r.nextExpectedVersion);
                done++;
              } catch (err) {
                expect(err).toBeInstanceOf(StreamVersionConflict);
              }
            }
          }),
        );
        const read = (await store.readStream(s)).events;
        expect(read.map((e) => e.streamVersion)).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i + 1)));
        expect(new Set(read.map((e) => e.id)).size).toBe(50);
        for (const [id, version] of wins) expect(read[Number(version) - 1]!.id).toBe(id);
      });

      it('concurrent appenders to many streams', async () => {
        const p0 = await mark();
        const streams = Array.from({ length: 24 }, () => stream('many'));
        await Promise.all(
          streams.map(async (s) => {
            for (let i = 0; i < 10; i++) await store.appendToStream(s, facts(1 + (i % 2), s), { expectedVersion: BigInt(Math.floor(i / 2) * 3 + (i % 2)) });
          }),
        );
        for (const s of streams) {
          const read = await store.readStream(s);
          expect(read.events.map((e) => e.streamVersion)).toEqual(Array.from({ length: 15 }, (_, i) => BigInt(i + 1)));
        }
        const ours = new Set(streams);
        const all = (await store.readAll({ after: p0 })).filter((e) => ours.has(e.streamName));
        expect(all.length).toBe(24 * 15);
        expectIncreasing(all.map((e) => e.globalPosition));
      });
    });

    describe('edges', () => {
      it('stores large events (1 MiB of data)', async () => {
        const s = stream();
        const big = { blob: 'x'.repeat(1 << 20), tail: 'ü🔐'.repeat(1000) };
        const small = fact({ after: 'big' });
        await store.appendToStream(s, [fact(big), small]);
        const read = await store.readStream(s);
        expect(read.events.length).toBe(2);
        expect(read.events[0]!.data).toEqual(big);
        expect(read.events[1]!.data).toEqual(small.data);
      });

      it('keeps unicode stream names, types and data intact', async () => {
        const s = `sa-ünïcødé🔐中文עברית-${run}x${++counter}`;
        const data = { text: 'Grüße, 世界! 👩‍👩‍👧 e\u0301 \u2028 \u2029 "quoted" \\ back', emoji: '🔑🛡️', rtl: 'שלום' };
        const e = fact(data, 'Notiz-ÄÖÜ');
        await store.appendToStream(s, [e], { expectedVersion: 'noStream' });
        const [read] = (await store.readStream(s)).events;
        expect(read).toMatchObject({ streamName: s, type: 'Notiz-ÄÖÜ', data });
        const other = `${s}-other`;
        expect((await store.readStream(other)).streamExists).toBe(false);
      });
    });

    describe('close', () => {
      it('lets pending appends finish, then rejects every call with StoreUnavailable', async () => {
        const s = stream();
        const pending = Array.from({ length: 5 }, (_, i) => store.appendToStream(s, facts(2, `p${i}`)));
        await store.close();
        const results = await Promise.all(pending);
        expect(results.map((r) => r.nextExpectedVersion).sort((a, b) => (a < b ? -1 : 1))).toEqual([2n, 4n, 6n, 8n, 10n]);
        const calls: (() => Promise<unknown>)[] = [() => store.appendToStream(s, [fact()]), () => store.readStream(s), () => store.readAll(), () => firstValueFrom(store.subscribe())];
        for (const call of calls) {
          const e = await rejection(call());
          expect(e).toBeInstanceOf(StoreUnavailable);
          expect(e).toMatchObject({ code: 'store.unavailable' });
        }
        await store.close();
      });

      it('completes live subscriptions', async () => {
        const p0 = await mark();
        const s = stream();
        await store.appendToStream(s, facts(2));
        const all = firstValueFrom(store.subscribe({ after: p0 }).pipe(filter((e) => e.streamName === s), toArray()));
        await sleep(50);
        await store.close();
        expect((await all).length).toBe(2);
      });
    });

    describe('misuse', () => {
      it('throws TypeError or RangeError naming the argument', async () => {
        const s = stream();
        const cases: [() => Promise<unknown>, ErrorConstructor, RegExp][] = [
          [() => store.appendToStream('', [fact()]), TypeError, /^streamName/],
          [() => store.appendToStream(s, {} as never), TypeError, /^events/],
          [() => store.appendToStream(s, [{ ...fact(), id: '' }]), TypeError, /^events\[0\]\.id/],
          [() => store.appendToStream(s, [fact(), { ...fact(), type: undefined } as never]), TypeError, /^events\[1\]\.type/],
          [() => store.appendToStream(s, [{ ...fact(), metadata: null } as never]), TypeError, /^events\[0\]\.metadata/],
          [() => store.appendToStream(s, [fact({ n: 1n })]), TypeError, /^events\[0\]\.data/],
          [() => store.appendToStream(s, [{ ...fact(), data: undefined }]), TypeError, /^events\[0\]\.data/],
          [() => store.appendToStream(s, [fact()], { expectedVersion: -1n }), RangeError, /^options\.expectedVersion/],
          [() => store.appendToStream(s, [fact()], { expectedVersion: 'sometimes' as never }), TypeError, /^options\.expectedVersion/],
          [() => store.readStream(s, { from: 0n }), RangeError, /^options\.from/],
          [() => store.readStream(s, { maxCount: -1 }), RangeError, /^options\.maxCount/],
          [() => store.readStream(''), TypeError, /^streamName/],
          [() => store.readAll({ after: -1n }), RangeError, /^options\.after/],
          [() => store.readAll({ maxCount: 1.5 }), RangeError, /^options\.maxCount/],
        ];
        for (const [call, type, message] of cases) {
          const e = await rejection(call());
          expect(e, String(e)).toBeInstanceOf(type);
          expect((e as Error).message).toMatch(message);
        }
        expect(() => store.subscribe({ after: -1n })).toThrow(RangeError);
        expect((await store.readStream(s)).streamExists).toBe(false);
      });
    });
  });
}
