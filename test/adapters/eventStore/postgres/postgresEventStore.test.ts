/**
 * The PostgreSQL event store against a real server (PG_URL). The contract suite runs in
 * postgres.contract.test.ts; this file shows what is specific to PostgreSQL: no event committed
 * late by a concurrent transaction is ever skipped, concurrent writers, a bypassing writer's
 * unique violation, a terminated connection, NOTIFY wake-ups, the schema created in code.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { firstValueFrom, take, toArray } from 'rxjs';
import { postgresEventStore } from '../../../../adapters/eventStore/postgres/postgresEventStore.js';
import type { PostgresEventStore } from '../../../../adapters/eventStore/postgres/postgresEventStore.js';
import { StoreUnavailable, StreamVersionConflict } from '../../../../adapters/eventStore/types.js';
import type { RecordedEvent } from '../../../../adapters/eventStore/types.js';
import { PG_URL, announceSkip, dropSchemas, event, freshSchema, rawClient } from './pgTestSupport.js';

announceSkip('postgresEventStore.test.ts');

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function expectStrictlyIncreasing(positions: readonly bigint[]): void {
  for (let i = 1; i < positions.length; i += 1) {
    expect(positions[i]! > positions[i - 1]!, `position ${positions[i]} after ${positions[i - 1]} at index ${i}`).toBe(true);
  }
}

describe.skipIf(PG_URL === '')('postgresEventStore (PostgreSQL at PG_URL)', () => {
  const schemas: string[] = [];
  const stores: PostgresEventStore[] = [];
  function open(label: string, extra: Partial<Parameters<typeof postgresEventStore>[0]> = {}): PostgresEventStore {
    const schema = extra.schema ?? freshSchema(label);
    if (!schemas.includes(schema)) schemas.push(schema);
    const store = postgresEventStore({ connectionString: PG_URL, pollIntervalMs: 25, ...extra, schema });
    stores.push(store);
    return store;
  }
  afterAll(async () => {
    await Promise.allSettled(stores.map((store) => store.close()));
    await dropSchemas(schemas);
  });

  it('creates its schema on first use, idempotently, even with several processes starting at once', async () => {
    const schema = freshSchema('migrate');
    const [a, b, c] = [open('m', { schema }), open('m', { schema }), open('m', { schema })];
    await Promise.all([a!.migrate(), b!.migrate(), c!.migrate(), a!.readAll()]);
    await a!.migrate();
    const client = await rawClient();
    try {
      const { rows } = await client.query(`SELECT version FROM "${schema}".schema_version`);
      expect(rows).toEqual([{ version: 1 }]);
      const columns = await client.query<{ column_name: string; data_type: string }>(
        `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'events' ORDER BY ordinal_position`, [schema]);
      expect(columns.rows.map((row) => `${row.column_name}:${row.data_type}`)).toEqual([
        'global_position:bigint', 'stream_id:text', 'stream_version:bigint', 'event_id:text', 'type:text',
        'data:jsonb', 'metadata:jsonb', 'transaction_id:xid8', 'created_at:timestamp with time zone',
      ]);
    } finally {
      await client.end();
    }
  });

  it('appends, reads back and stores data and metadata as jsonb with the transaction id', async () => {
    const store = open('basic');
    const first = event('SaInstalled', { spi: 4660, peer: '192.0.2.1', nested: { list: [1, 'two', null] } });
    const result = await store.appendToStream('sa-1', [first, event('SaSoftExpired')], { expectedVersion: 'noStream' });
    expect(result).toEqual({ nextExpectedVersion: 2n, lastGlobalPosition: 2n, createdNewStream: true });
    const read = await store.readStream('sa-1');
    expect(read.currentVersion).toBe(2n);
    expect(read.events[0]).toEqual({ ...first, streamName: 'sa-1', streamVersion: 1n, globalPosition: 1n });
    const client = await rawClient();
    try {
      const { rows } = await client.query(
        `SELECT jsonb_typeof(data) AS d, metadata ->> 'correlationId' AS c, transaction_id::text::bigint > 0 AS tx,
                created_at <= now() AS t FROM "${store.schema}".events ORDER BY global_position`);
      expect(rows).toEqual([{ d: 'object', c: 'c-1', tx: true, t: true }, { d: 'object', c: 'c-1', tx: true, t: true }]);
    } finally {
      await client.end();
    }
  });

  it('never skips an event committed late: A takes a position, B commits a later one first, then A commits', async () => {
    const store = open('late', { visibilityWaitMs: 100 });
    const before = await store.appendToStream('sa-before', [event()]);
    const seen: RecordedEvent[] = [];
    const subscription = store.subscribe().subscribe((e) => seen.push(e));
    await until(() => seen.length === 1, 'the first event');

    // Transaction A appends through the store's own function, but stays open.
    const a = await rawClient();
    try {
      await a.query('BEGIN');
      const { rows } = await a.query<{ p: string }>(
        `SELECT o_position::text AS p FROM "${store.schema}".append_to_stream($1, 'any', $2::jsonb)`,
        ['sa-a', JSON.stringify([event('AcquireRaised')])]);
      const aPosition = BigInt(rows[0]!.p);

      // B takes a later position and commits first.
      const b = await store.appendToStream('sa-b', [event('SaInstalled')]);
      expect(b.lastGlobalPosition).toBeGreaterThan(aPosition);

      // A poll by position alone would now see B, not A, and move its checkpoint past A:
      const naive = await rawClient();
      try {
        const visible = await naive.query<{ p: string }>(
          `SELECT global_position::text AS p FROM "${store.schema}".events WHERE global_position > $1 ORDER BY 1`,
          [before.lastGlobalPosition.toString()]);
        expect(visible.rows.map((row) => BigInt(row.p))).toEqual([b.lastGlobalPosition]);
      } finally {
        await naive.end();
      }
      // The store holds B back while A is open: subscribers, and readAll after its wait.
      await sleep(300);
      expect(seen.map((e) => e.streamName)).toEqual(['sa-before']);
      expect(await store.readAll({ after: before.lastGlobalPosition })).toEqual([]);

      await a.query('COMMIT');
      await until(() => seen.length === 3, 'A and B');
      expect(seen.map((e) => e.streamName)).toEqual(['sa-before', 'sa-a', 'sa-b']);
      expect(seen.map((e) => e.globalPosition)).toEqual([before.lastGlobalPosition, aPosition, b.lastGlobalPosition]);
      expect(await store.readAll()).toEqual(seen);
    } finally {
      subscription.unsubscribe();
      await a.end();
    }
  });

  it('keeps positions increasing in delivery order under 32 concurrent writers of multi-event appends', async () => {
    const store = open('concurrent', { pageSize: 50 });
    const writers = 32;
    const appendsPerWriter = 8;
    const eventsPerAppend = 3;
    const total = writers * appendsPerWriter * eventsPerAppend;
    const live = firstValueFrom(store.subscribe().pipe(take(total), toArray()));
    let midwayCheckpoint = 0n;
    await Promise.all(Array.from({ length: writers }, async (_, w) => {
      let version = 0n;
      for (let i = 0; i < appendsPerWriter; i += 1) {
        const result = await store.appendToStream(`sa-${w}`, [event(), event(), event()], { expectedVersion: version });
        version = result.nextExpectedVersion;
        // A checkpoint taken while the others are busy writing, to resume from below.
        if (w === 0 && i === appendsPerWriter / 2) midwayCheckpoint = result.lastGlobalPosition;
      }
    }));
    const seen = await live;
    expect(seen).toHaveLength(total);
    expectStrictlyIncreasing(seen.map((e) => e.globalPosition));
    expect(await store.readAll()).toEqual(seen);
    const resumed = await firstValueFrom(store.subscribe({ after: midwayCheckpoint }).pipe(
      take(seen.filter((e) => e.globalPosition > midwayCheckpoint).length), toArray()));
    expect(resumed).toEqual(seen.filter((e) => e.globalPosition > midwayCheckpoint));
    for (let w = 0; w < writers; w += 1) {
      const { events } = await store.readStream(`sa-${w}`);
      expect(events.map((e) => e.streamVersion)).toEqual(Array.from({ length: appendsPerWriter * eventsPerAppend }, (_, i) => BigInt(i + 1)));
    }
  });

  it('lets exactly one of many racing writers of one stream win; the others get StreamVersionConflict', async () => {
    const store = open('race');
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () =>
      store.appendToStream('sa-race', [event()], { expectedVersion: 0n })));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const conflicts = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as unknown);
    expect(conflicts).toHaveLength(11);
    for (const conflict of conflicts) {
      expect(conflict).toBeInstanceOf(StreamVersionConflict);
      expect(conflict).toMatchObject({ code: 'store.versionConflict', streamName: 'sa-race', expected: 0n, actual: 1n });
    }
    // With 'any' they all get in, one after another.
    await Promise.all(Array.from({ length: 12 }, () => store.appendToStream('sa-any', [event()])));
    expect((await store.readStream('sa-any')).currentVersion).toBe(12n);
  });

  it('reports a unique violation from a writer that bypasses the store as StreamVersionConflict with the cause', async () => {
    const store = open('bypass');
    await store.migrate();
    const raw = await rawClient();
    try {
      await raw.query('BEGIN');
      await raw.query(`INSERT INTO "${store.schema}".events (stream_id, stream_version, event_id, type, data, metadata)
                       VALUES ('sa-u', 1, 'raw-1', 'SaInstalled', '{}', '{}')`);
      const append = store.appendToStream('sa-u', [event()], { expectedVersion: 'noStream' });
      const settled = append.then(() => undefined, (error: unknown) => error);
      await sleep(150); // the store's insert now waits on the unique index
      await raw.query('COMMIT');
      const error = await settled;
      expect(error).toBeInstanceOf(StreamVersionConflict);
      expect(error).toMatchObject({ expected: 'noStream', actual: 1n });
      expect((error as Error).cause).toMatchObject({ code: '23505' });
      // The session lock went back unlocked: the next append is not stuck.
      await expect(store.appendToStream('sa-next', [event()])).resolves.toMatchObject({ nextExpectedVersion: 1n });
    } finally {
      await raw.end();
    }
  });

  it('turns a connection terminated mid-append into StoreUnavailable, and works again afterwards', async () => {
    const name = `ipsec-es-victim-${process.pid}-${Date.now()}`;
    const url = new URL(PG_URL);
    url.searchParams.set('application_name', name);
    const store = open('terminated', { connectionString: url.toString() });
    await store.migrate();
    const locker = await rawClient();
    const killer = await rawClient();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "${store.schema}".events IN ACCESS EXCLUSIVE MODE`);
      const append = store.appendToStream('sa-t', [event()]).then(() => undefined, (error: unknown) => error);
      await until(async () => (await killer.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [name])).rowCount === 1,
      'the append to wait on the lock');
      await killer.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [name]);
      const error = await append;
      expect(error).toBeInstanceOf(StoreUnavailable);
      expect(error).toMatchObject({ code: 'store.unavailable' });
      expect((error as Error).message).toMatch(/PostgreSQL event store unavailable while appending to stream sa-t/);
      expect((error as Error).cause).toBeDefined();
      await locker.query('ROLLBACK');
      await expect(store.appendToStream('sa-t', [event()], { expectedVersion: 'noStream' })).resolves.toMatchObject({ nextExpectedVersion: 1n });
    } finally {
      await locker.end();
      await killer.end();
    }
  });

  it('wakes a subscriber in another process by NOTIFY, long before its poll interval', async () => {
    const writer = open('notify');
    const reader = open('notify', { schema: writer.schema, pollIntervalMs: 60_000 });
    await writer.appendToStream('sa-n', [event()]);
    const seen: RecordedEvent[] = [];
    const subscription = reader.subscribe().subscribe((e) => seen.push(e));
    try {
      await until(() => seen.length === 1, 'catch-up');
      await sleep(100); // the reader is now LISTENing and asleep for a minute
      const started = Date.now();
      await writer.appendToStream('sa-n', [event()]);
      await until(() => seen.length === 2, 'the NOTIFY wake-up', 5_000);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      subscription.unsubscribe();
    }
  });

  it('reads streams by version range and $all by position and count', async () => {
    const store = open('reads');
    await store.appendToStream('sa-r', [event(), event(), event(), event()]);
    await store.appendToStream('ike-r', [event('IkeSaEstablished')]);
    const slice = await store.readStream('sa-r', { from: 2n, maxCount: 2 });
    expect(slice.events.map((e) => e.streamVersion)).toEqual([2n, 3n]);
    expect(slice).toMatchObject({ currentVersion: 4n, streamExists: true });
    expect(await store.readStream('sa-r', { from: 9n })).toEqual({ events: [], currentVersion: 4n, streamExists: true });
    expect(await store.readStream('sa-missing')).toEqual({ events: [], currentVersion: 0n, streamExists: false });
    expect((await store.readAll({ after: 2n, maxCount: 2 })).map((e) => e.globalPosition)).toEqual([3n, 4n]);
    expect((await store.readAll({ maxCount: 0 }))).toEqual([]);
    expect((await store.readAll({ after: 5n }))).toEqual([]);
  });

  it('finishes pending appends on close, completes subscriptions, then refuses work', async () => {
    const store = open('close');
    const completed = firstValueFrom(store.subscribe().pipe(toArray()));
    const appends = Array.from({ length: 10 }, (_, i) => store.appendToStream(`sa-c${i}`, [event()]));
    await store.close();
    await expect(Promise.all(appends)).resolves.toHaveLength(10);
    await expect(completed).resolves.toBeInstanceOf(Array);
    await expect(store.appendToStream('sa-c', [event()])).rejects.toBeInstanceOf(StoreUnavailable);
    await expect(store.readAll()).rejects.toThrow(/closed/);
    await expect(firstValueFrom(store.subscribe())).rejects.toBeInstanceOf(StoreUnavailable);
    await store.close(); // twice is fine
  });

  it('rejects bad input with TypeError/RangeError naming the argument, and writes nothing', async () => {
    const store = open('bad');
    await expect(store.appendToStream('', [event()])).rejects.toThrow(TypeError);
    await expect(store.appendToStream('sa-b', [event(), { ...event(), id: 'x' }, { ...event(), id: 'x' }])).rejects.toThrow(/events\[2\]\.id: "x" appears twice/);
    await expect(store.appendToStream('sa-b', [event()], { expectedVersion: -1n })).rejects.toThrow(RangeError);
    await expect(store.appendToStream('sa-b', [event('X', { big: 1n })])).rejects.toThrow(/events\[0\]\.data: not JSON-serializable/);
    await expect(store.appendToStream('sa-b', [event('X', { text: 'nul \u0000 byte' })])).rejects.toThrow(TypeError);
    await expect(store.readAll({ after: -1n })).rejects.toThrow(/^options\.after/);
    await expect(store.readAll({ maxCount: -1 })).rejects.toThrow(/^options\.maxCount/);
    await expect(store.readStream('sa-b', { from: 0n })).rejects.toThrow(/^options\.from/);
    expect(() => postgresEventStore({ connectionString: PG_URL, schema: 'Bad-Name' })).toThrow(/schema/);
    expect(() => postgresEventStore({})).toThrow(/connectionString/);
    expect(await store.readAll()).toEqual([]);
  });
});
