/**
 * The PostgreSQL back end of the event store port (DESIGN §4), with the `pg` client.
 *
 * - One `events` table in a schema of its own, created idempotently on first use
 *   (`postgresSchema.ts` says why the append function looks the way it does).
 * - Appends: one function call, one transaction, expected-version check, idempotent event ids.
 * - `readAll` and `subscribe` read in `(transaction_id, global_position)` order and only rows
 *   whose transaction is below the snapshot's xmin, so an event committed late by a concurrent
 *   transaction is never skipped. Subscriptions poll; LISTEN/NOTIFY only wakes them early.
 *
 * Caveat (as for every xmin-based store): a long transaction anywhere in the *cluster* that has a
 * transaction id (an idle `BEGIN; UPDATE ...` session, a prepared transaction) holds the xmin
 * back, and new events reach subscribers only once it ends. `readAll` waits up to
 * `visibilityWaitMs` for such transactions, then returns the gap-free prefix it has.
 */
import { Pool } from 'pg';
import type { PoolClient, PoolConfig } from 'pg';
import { Observable } from 'rxjs';
import type { Subscriber } from 'rxjs';
import { StreamVersionConflict } from '../types.js';
import type {
  AppendOptions, AppendResult, EventData, EventStore, ExpectedVersion, ReadAllOptions, ReadStreamOptions, ReadStreamResult,
  RecordedEvent, SubscribeOptions,
} from '../types.js';
import { IpsecError } from '../../../engine/errors.js';
import {
  checkExpectedVersion, checkStreamName, readAllArgs, readStreamArgs, requireVersion, serializeEvents, storeClosed,
  subscribeArgs,
} from '../storeRules.js';
import type { SerializedEvent } from '../storeRules.js';
import { isUniqueViolation, toStoreError } from './postgresErrors.js';
import { clamp, cursorAfter, readPage, retryResult, toEvent } from './postgresRows.js';
import type { Row } from './postgresRows.js';
import { PostgresWakeups } from './postgresWakeups.js';
import { SCHEMA_NAME, SCHEMA_VERSION, advisoryLockKey, migrationStatements, notifyChannel } from './postgresSchema.js';

export interface PostgresEventStoreOptions {
  /** `postgres://user:password@host:port/database`; the store creates and owns a pool. */
  connectionString?: string;
  /**
   * A pool of yours instead (the store never ends it). One of the two is required. While the
   * store has live subscribers it holds one of the pool's connections for LISTEN.
   */
  pool?: Pool;
  /** Extra settings for the pool the store creates from `connectionString`. */
  poolConfig?: Omit<PoolConfig, 'connectionString'>;
  /** Schema holding the `events` table; a plain lower-case identifier. Default `'ipsec_es'`. */
  schema?: string;
  /** Longest a live subscriber waits between polls when no wake-up arrives. Default 500 ms. */
  pollIntervalMs?: number;
  /** Rows per query when reading `$all`. Default 1000. */
  pageSize?: number;
  /**
   * How long `readAll` waits for older, still-open transactions when committed events sit behind
   * them (so that it returns what was committed before the call). Default 2000 ms.
   */
  visibilityWaitMs?: number;
}

/** The port, plus what a PostgreSQL host may want to know. */
export interface PostgresEventStore extends EventStore {
  /** The schema holding the `events` table. */
  readonly schema: string;
  /** Creates the schema if it is missing (every other call does it on first use anyway). */
  migrate(): Promise<void>;
}

interface FollowState { stopped: boolean; draining: boolean; woken: boolean; wakeNow: (() => void) | undefined }

interface SubscriptionEntry { stop(): void; drain(): void; done: Promise<void> }

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * An event store in PostgreSQL.
 *
 * @example
 * const store = postgresEventStore({ connectionString: process.env.PG_URL });
 * await store.appendToStream('sa-1', [event], { expectedVersion: 'noStream' });
 * store.subscribe({ after: checkpoint }).subscribe((e) => project(e));
 */
export function postgresEventStore(options: PostgresEventStoreOptions): PostgresEventStore {
  return new PgEventStore(options);
}

class PgEventStore implements PostgresEventStore {
  readonly schema: string;
  private readonly pool: Pool;
  private readonly ownsPool: boolean;
  private readonly table: string;
  private readonly appendLock: string;
  private readonly pollIntervalMs: number;
  private readonly pageSize: number;
  private readonly visibilityWaitMs: number;
  private ready: Promise<void> | undefined;
  private closed = false;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly subscriptions = new Set<SubscriptionEntry>();
  private readonly wakeups: PostgresWakeups;

  constructor(options: PostgresEventStoreOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options: must be an object');
    const schema = options.schema ?? 'ipsec_es';
    if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
      throw new RangeError(`schema: must be a lower-case identifier (${SCHEMA_NAME.source}), got ${String(schema)}`);
    }
    this.schema = schema;
    this.table = `"${schema}".events`;
    this.appendLock = advisoryLockKey('append', schema).toString();
    this.pollIntervalMs = positive(options.pollIntervalMs, 'pollIntervalMs', 500);
    this.pageSize = positive(options.pageSize, 'pageSize', 1000);
    this.visibilityWaitMs = positive(options.visibilityWaitMs, 'visibilityWaitMs', 2000, true);
    if (options.pool !== undefined) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else if (typeof options.connectionString === 'string' && options.connectionString !== '') {
      this.pool = new Pool({ ...options.poolConfig, connectionString: options.connectionString });
      // An idle pooled connection that the server drops emits 'error' on the pool; unhandled, it
      // would end the process. The next query reports the problem instead.
      this.pool.on('error', () => {});
      this.ownsPool = true;
    } else {
      throw new TypeError('options: give connectionString (postgres://user:password@host:port/database) or pool');
    }
    this.wakeups = new PostgresWakeups(this.pool, notifyChannel(schema));
  }

  migrate(): Promise<void> {
    this.ready ??= this.createSchema().catch((error: unknown) => {
      this.ready = undefined; // a server that was down may be up at the next call
      throw toStoreError(error, `creating schema ${this.schema}`);
    });
    return this.ready;
  }

  private async createSchema(): Promise<void> {
    const client = await this.pool.connect();
    const onError = () => {};
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      // Two processes starting at once: the second waits and finds the schema made.
      await client.query(`SELECT pg_advisory_xact_lock(${advisoryLockKey('migrate', this.schema)})`);
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      await client.query(`CREATE TABLE IF NOT EXISTS "${this.schema}".schema_version (version integer NOT NULL)`);
      const { rows } = await client.query<{ version: number }>(`SELECT version FROM "${this.schema}".schema_version`);
      const current = rows[0]?.version ?? 0;
      if (current > SCHEMA_VERSION) {
        throw new IpsecError('store.schemaTooNew', `schema ${this.schema} is at version ${current}, newer than this ipsec-es (${SCHEMA_VERSION}): upgrade ipsec-es or use another schema`);
      }
      for (const statement of migrationStatements(this.schema, current)) await client.query(statement);
      if (rows.length === 0) await client.query(`INSERT INTO "${this.schema}".schema_version VALUES ($1)`, [SCHEMA_VERSION]);
      else await client.query(`UPDATE "${this.schema}".schema_version SET version = $1`, [SCHEMA_VERSION]);
      await client.query('COMMIT');
      client.release();
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      client.release(error instanceof Error ? error : true);
      throw error;
    } finally {
      client.off('error', onError);
    }
  }

  async appendToStream(streamName: string, events: readonly EventData[], options?: AppendOptions): Promise<AppendResult> {
    checkStreamName(streamName);
    const expected = checkExpectedVersion(options?.expectedVersion);
    const serialized = serializeEvents(events);
    if (this.closed) throw storeClosed(`appendToStream(${streamName})`);
    const work = this.append(streamName, serialized, expected);
    this.pending.add(work);
    const forget = () => this.pending.delete(work);
    work.then(forget, forget);
    return work;
  }

  private async append(streamName: string, events: readonly SerializedEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    await this.migrate();
    if (events.length === 0) return this.appendNothing(streamName, expected);
    const action = `appending to stream ${streamName}`;
    const payload = `[${events.map((e) => `{"id":${JSON.stringify(e.id)},"type":${JSON.stringify(e.type)},"data":${e.dataJson},"metadata":${e.metadataJson}}`).join(',')}]`;
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw toStoreError(error, action);
    }
    const onError = () => {};
    client.on('error', onError);
    let broken: Error | undefined;
    let violation: unknown;
    try {
      // Writers of one stream take turns inside the function, so a unique violation means a
      // writer that bypassed it; retried a few times, then reported as a conflict.
      for (let attempt = 1; ; attempt += 1) {
        try {
          const { rows } = await client.query<{ o_status: string; o_version: string | null; o_position: string | null; o_found: string | null }>(
            `SELECT o_status, o_version::text AS o_version, o_position::text AS o_position, o_found
               FROM "${this.schema}".append_to_stream($1, $2, $3::jsonb)`,
            [streamName, String(expected), payload],
          );
          const row = rows[0];
          if (row === undefined) throw new IpsecError('store.failed', `PostgreSQL event store: the append function returned nothing while ${action}`);
          switch (row.o_status) {
            case 'ok': {
              const version = BigInt(row.o_version ?? '0');
              this.wakeups.appended();
              return { nextExpectedVersion: version, lastGlobalPosition: BigInt(row.o_position ?? '0'), createdNewStream: version === BigInt(events.length) };
            }
            case 'found':
              return retryResult(streamName, events, row.o_found ?? '');
            default:
              // After a unique violation the retry finds the other writer's events: that is the cause.
              throw new StreamVersionConflict(streamName, expected, BigInt(row.o_version ?? '0'), violation === undefined ? undefined : { cause: violation });
          }
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
          violation = error;
          await this.unlockAfterError(client).catch((unlockError: unknown) => { broken = unlockError as Error; });
          if (broken !== undefined) throw error;
          if (attempt >= 3) throw new StreamVersionConflict(streamName, expected, await this.currentVersion(client, streamName), { cause: error });
        }
      }
    } catch (error) {
      if (!(error instanceof StreamVersionConflict) && !(error instanceof RangeError) && broken === undefined) {
        // The function may have failed between its lock and its unlock: the session lock must
        // not go back into the pool. If the connection is gone, so is the lock.
        await this.unlockAfterError(client).catch((unlockError: unknown) => { broken = unlockError as Error; });
      }
      throw toStoreError(error, action);
    } finally {
      client.off('error', onError);
      client.release(broken ?? false);
    }
  }

  private async unlockAfterError(client: PoolClient): Promise<void> {
    // No-op (with a server WARNING) when the lock is not held.
    await client.query(`SELECT pg_advisory_unlock(${this.appendLock})`);
  }

  private async currentVersion(client: PoolClient, streamName: string): Promise<bigint> {
    const { rows } = await client.query<{ v: string }>(
      `SELECT coalesce(max(stream_version), 0)::text AS v FROM ${this.table} WHERE stream_id = $1`, [streamName]);
    return BigInt(rows[0]?.v ?? '0');
  }

  /** An empty append writes nothing; the expected version is still checked. */
  private async appendNothing(streamName: string, expected: ExpectedVersion): Promise<AppendResult> {
    let rows: { v: string; p: string }[];
    try {
      ({ rows } = await this.pool.query<{ v: string; p: string }>(
        `SELECT coalesce(max(stream_version), 0)::text AS v, coalesce(max(global_position), 0)::text AS p FROM ${this.table} WHERE stream_id = $1`,
        [streamName]));
    } catch (error) {
      throw toStoreError(error, `appending to stream ${streamName}`);
    }
    const version = BigInt(rows[0]?.v ?? '0');
    requireVersion(streamName, expected, Number(version));
    return { nextExpectedVersion: version, lastGlobalPosition: BigInt(rows[0]?.p ?? '0'), createdNewStream: false };
  }

  async readStream(streamName: string, options?: ReadStreamOptions): Promise<ReadStreamResult> {
    const { maxCount } = readStreamArgs(streamName, options);
    // Past the largest bigint no stream reaches: read from there, and find nothing.
    const from = clamp(options?.from ?? 1n);
    if (this.closed) throw storeClosed(`readStream(${streamName})`);
    await this.migrate();
    let rows: (Partial<Row> & { c: string })[];
    try {
      // One statement, one snapshot: the current version and the events agree.
      ({ rows } = await this.pool.query<Partial<Row> & { c: string }>(
        `WITH current AS (SELECT coalesce(max(stream_version), 0) AS c FROM ${this.table} WHERE stream_id = $1)
         SELECT current.c::text AS c, e.p, e.s, e.v, e.i, e.y, e.d, e.m
           FROM current LEFT JOIN LATERAL (
             SELECT global_position::text AS p, stream_id AS s, stream_version::text AS v, event_id AS i,
                    type AS y, data::text AS d, metadata::text AS m
               FROM ${this.table} WHERE stream_id = $1 AND stream_version >= $2
               ORDER BY stream_version LIMIT $3) e ON true`,
        [streamName, from.toString(), Number.isFinite(maxCount) ? maxCount : null]));
    } catch (error) {
      throw toStoreError(error, `reading stream ${streamName}`);
    }
    const currentVersion = BigInt(rows[0]?.c ?? '0');
    const events = rows.filter((row) => row.p !== null && row.p !== undefined).map((row) => toEvent(row as Row));
    return { events, currentVersion, streamExists: currentVersion > 0n };
  }

  async readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    const { maxCount } = readAllArgs(options);
    const after = clamp(options?.after ?? 0n);
    if (this.closed) throw storeClosed('readAll');
    await this.migrate();
    const events: RecordedEvent[] = [];
    let remaining = maxCount;
    let cursor = await cursorAfter(this.pool, this.table, after);
    const deadline = Date.now() + this.visibilityWaitMs;
    let backoff = 5;
    while (remaining > 0) {
      const page = await readPage(this.pool, this.table, cursor, Math.min(this.pageSize, remaining));
      events.push(...page.events);
      remaining -= page.events.length;
      cursor = page.cursor;
      if (page.full) continue;
      if (!page.heldBack || Date.now() >= deadline) break;
      // Committed events wait behind an older open transaction: give it a moment to end.
      await sleep(Math.min(backoff, Math.max(1, deadline - Date.now())));
      backoff = Math.min(backoff * 2, 100);
    }
    return events;
  }

  subscribe(options?: SubscribeOptions): Observable<RecordedEvent> {
    subscribeArgs(options);
    const after = clamp(options?.after ?? 0n);
    return new Observable<RecordedEvent>((subscriber) => {
      if (this.closed) {
        subscriber.error(storeClosed('subscribe'));
        return undefined;
      }
      const state: FollowState = { stopped: false, draining: false, woken: false, wakeNow: undefined };
      const removeWaiter = this.wakeups.add(() => { state.woken = true; state.wakeNow?.(); });
      const entry: SubscriptionEntry = {
        stop() { state.stopped = true; state.wakeNow?.(); },
        drain() { state.draining = true; state.wakeNow?.(); },
        done: Promise.resolve(),
      };
      entry.done = this.follow(after, subscriber, state)
        .then(() => { if (!subscriber.closed) subscriber.complete(); },
          (error: unknown) => { if (!state.stopped) subscriber.error(toStoreError(error, 'following $all')); })
        .finally(() => { this.subscriptions.delete(entry); removeWaiter(); });
      this.subscriptions.add(entry);
      return () => entry.stop();
    });
  }

  /**
   * Catch-up, then live: pages of final events, then a wait for a wake-up or the poll interval.
   * When the store closes, it delivers what is committed and final by then, and returns.
   */
  private async follow(after: bigint, subscriber: Subscriber<RecordedEvent>, state: FollowState): Promise<void> {
    const wait = (ms: number) => new Promise<void>((resolve) => {
      if (state.woken || state.stopped || state.draining) { state.woken = false; resolve(); return; }
      const timer = setTimeout(done, ms);
      function done() { clearTimeout(timer); state.wakeNow = undefined; state.woken = false; resolve(); }
      state.wakeNow = done;
    });
    await this.migrate();
    let cursor = await cursorAfter(this.pool, this.table, after);
    let backoff = 5;
    let drainDeadline: number | undefined;
    while (!state.stopped) {
      const page = await readPage(this.pool, this.table, cursor, this.pageSize);
      for (const event of page.events) {
        if (state.stopped) return;
        subscriber.next(event);
      }
      cursor = page.cursor;
      if (page.full) continue;
      if (state.draining) {
        drainDeadline ??= Date.now() + this.visibilityWaitMs;
        if (!page.heldBack || Date.now() >= drainDeadline) return;
      }
      if (page.heldBack) {
        // An older transaction is still open: poll again soon, backing off to the interval.
        await (state.draining ? sleep(backoff) : wait(backoff));
        backoff = Math.min(backoff * 2, this.pollIntervalMs);
      } else {
        backoff = 5;
        await wait(this.pollIntervalMs);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.pending]);
    // Live subscriptions deliver what was committed before the close, then complete.
    const subscriptions = [...this.subscriptions];
    for (const subscription of subscriptions) subscription.drain();
    await Promise.allSettled(subscriptions.map((subscription) => subscription.done));
    await this.wakeups.close();
    if (this.ownsPool) await this.pool.end();
  }
}

function positive(value: number | undefined, name: string, fallback: number, zeroAllowed = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0)) {
    throw new RangeError(`${name}: must be a ${zeroAllowed ? 'non-negative' : 'positive'} number, got ${String(value)}`);
  }
  return value;
}
