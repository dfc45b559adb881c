/**
 * The KurrentDB back end of the event store port (DESIGN §4), through the official
 * `@kurrent/kurrentdb-client`. All translation lives in `kurrentdbMapping.ts`; this file only
 * drives the four client calls it needs (`appendToStream`, `readStream`, `readAll`,
 * `subscribeToAll`), so a fake of those four runs the contract suite without a server.
 *
 * Idempotency follows adapters/eventStore/memory/storeRules.ts. An exact expected version (the
 * write-ahead path) is one call: KurrentDB itself accepts a retry whose ids follow the expected
 * revision, and when it answers "wrong expected version" the adapter reads the stream to tell a
 * late retry (its original result) from a conflict. `'any'` and `'streamExists'` read the stream
 * first, apply the rule, and append at the version read (again after a race), because
 * KurrentDB's own duplicate check is only best-effort for them. Limitation: an append with an
 * exact version that *reuses* ids already deeper in the stream (misuse; the rule's `RangeError`)
 * is not detected on the one-call path.
 */
import { Observable } from 'rxjs';
import type {
  AllStreamResolvedEvent, AppendResult as KurrentAppendResult, AppendStreamState, Direction, Filter, JSONEventData,
  ReadPosition, ReadRevision, ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { StoreCorrupted, StreamVersionConflict } from '../types.js';
import type {
  AppendOptions, AppendResult, EventData, EventStore, ExpectedVersion, ReadAllOptions, ReadStreamOptions,
  ReadStreamResult, RecordedEvent, SubscribeOptions,
} from '../types.js';
import {
  checkExpectedVersion, checkIds, checkStreamName, readAllArgs, readStreamArgs, requireVersion, serializeEvents, storeClosed,
  subscribeArgs,
} from '../storeRules.js';
import type { SerializedEvent } from '../storeRules.js';
import {
  EXCLUDE_SYSTEM_EVENTS, classifyError, fromKurrentEvent, toKurrentEvent, toReadPosition, toReadRevision,
  toStoreError, toStreamState, toVersion,
} from './kurrentdbMapping.js';

/** A live `$all` subscription as the adapter uses it (the client's `AllStreamSubscription`). */
export interface KurrentSubscriptionLike extends AsyncIterable<AllStreamResolvedEvent> {
  unsubscribe(): Promise<void>;
}

/** The client calls the adapter makes; `KurrentDBClient` has them, and so does a test fake. */
export interface KurrentClientLike {
  appendToStream(streamName: string, events: JSONEventData[], options: { streamState: AppendStreamState }): Promise<KurrentAppendResult>;
  readStream(streamName: string, options: { fromRevision: ReadRevision; maxCount?: number | bigint; direction?: Direction }): AsyncIterable<ResolvedEvent>;
  readAll(options: { fromPosition: ReadPosition; maxCount?: number | bigint; filter?: Filter }): AsyncIterable<AllStreamResolvedEvent>;
  subscribeToAll(options: { fromPosition: ReadPosition; filter?: Filter }): KurrentSubscriptionLike;
  dispose(): Promise<void>;
}

export interface KurrentdbEventStoreOptions {
  /** `kurrentdb://host:2113?tls=false` (or `esdb://`); the store creates and disposes the client. */
  connectionString?: string;
  /** A client of yours instead (the store never disposes it), or a fake in tests. */
  client?: KurrentClientLike;
}

/**
 * An event store in KurrentDB.
 *
 * @example
 * const store = kurrentdbEventStore({ connectionString: 'kurrentdb://localhost:2113?tls=false' });
 * await store.appendToStream('sa-1', [event], { expectedVersion: 'noStream' });
 */
export function kurrentdbEventStore(options: KurrentdbEventStoreOptions): EventStore {
  return new KurrentEventStore(options);
}

class KurrentEventStore implements EventStore {
  private readonly connect: () => Promise<KurrentClientLike>;
  private client: Promise<KurrentClientLike> | undefined;
  private readonly ownsClient: boolean;
  private closed = false;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly subscriptions = new Set<() => Promise<void>>();

  constructor(options: KurrentdbEventStoreOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options: must be an object');
    const { client, connectionString } = options;
    if (client !== undefined) {
      this.connect = () => Promise.resolve(client);
      this.ownsClient = false;
    } else if (typeof connectionString === 'string' && connectionString !== '') {
      // Loaded on first use: gRPC and the native bridge cost nothing until a store is used.
      this.connect = async () => {
        const { KurrentDBClient } = await import('@kurrent/kurrentdb-client');
        try {
          return KurrentDBClient.connectionString(connectionString) satisfies KurrentClientLike;
        } catch (error) {
          throw new TypeError(`connectionString: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        }
      };
      this.ownsClient = true;
    } else {
      throw new TypeError('options: give connectionString (kurrentdb://host:2113?tls=false) or client');
    }
  }

  private getClient(): Promise<KurrentClientLike> {
    this.client ??= this.connect().catch((error: unknown) => {
      this.client = undefined;
      throw error;
    });
    return this.client;
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    const forget = () => this.pending.delete(work);
    work.then(forget, forget);
    return work;
  }

  async appendToStream(streamName: string, events: readonly EventData[], options?: AppendOptions): Promise<AppendResult> {
    checkStreamName(streamName);
    if (streamName.startsWith('$')) throw new RangeError(`streamName: ${streamName} is a KurrentDB system stream name ($...); use category-id names such as sa-42`);
    const expected = checkExpectedVersion(options?.expectedVersion);
    const serialized = serializeEvents(events);
    if (this.closed) throw storeClosed(`appendToStream(${streamName})`);
    return this.track(this.append(streamName, serialized, expected));
  }

  /**
   * An exact expected version goes straight to KurrentDB (the write-ahead path: one call); its
   * answer "wrong expected version" is then checked against the stream for a retry. `'any'` and
   * `'streamExists'` read the stream first, apply the idempotency rule, and append at the version
   * they read (again on a race), so they are as deterministic as the exact path.
   */
  private async append(streamName: string, events: readonly SerializedEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    const context = { action: `appending to stream ${streamName}`, streamName, expected };
    const client = await this.getClient();
    if (events.length === 0 || (typeof expected === 'bigint' && expected > MAX_REVISION)) return this.appendChecked(streamName, events, expected);
    const exact = typeof expected === 'bigint' || expected === 'noStream';
    const kurrentEvents = events.map((e) => toKurrentEvent({
      id: e.id, type: e.type, data: JSON.parse(e.dataJson) as unknown, metadata: JSON.parse(e.metadataJson) as EventData['metadata'],
    }));
    for (let attempt = 1; ; attempt += 1) {
      let state: ExpectedVersion = expected;
      if (!exact) {
        const known = await this.checkRetry(streamName, events, expected);
        if ('result' in known) return known.result;
        state = known.version;
      }
      let result: KurrentAppendResult;
      try {
        result = await client.appendToStream(streamName, kurrentEvents, { streamState: toStreamState(state) });
      } catch (error) {
        if (classifyError(error).kind !== 'conflict') throw toStoreError(error, context);
        // Another writer, or a retry of an append KurrentDB no longer matches by position.
        const known = await this.checkRetry(streamName, events, exact ? 'any' : expected);
        if ('result' in known) return known.result;
        if (exact || attempt >= 5) throw toStoreError(error, { ...context, actual: known.version });
        continue;
      }
      const nextExpectedVersion = toVersion(result.nextExpectedRevision);
      let lastGlobalPosition: bigint;
      if (result.position !== undefined && result.position.commit >= 0n) {
        lastGlobalPosition = result.position.commit + 1n;
      } else {
        // Older servers (and some idempotent replies) give no position: read it from the event.
        const { events: last } = await this.read(streamName, nextExpectedVersion, 1);
        lastGlobalPosition = last[0]?.globalPosition ?? 0n;
      }
      // Also right when KurrentDB took this as a retry: the original began the stream iff its
      // last version equals its length.
      return { nextExpectedVersion, lastGlobalPosition, createdNewStream: nextExpectedVersion === BigInt(events.length) };
    }
  }

  /**
   * Reads the stream and applies the idempotency rule: a retry's original result, or the version
   * to append at (after checking `expected` against it). Partial overlaps throw `RangeError`.
   */
  private async checkRetry(streamName: string, events: readonly SerializedEvent[], expected: ExpectedVersion): Promise<{ result: AppendResult } | { version: bigint }> {
    const stream = await this.read(streamName);
    const versions = new Map(stream.events.map((e) => [e.id, Number(e.streamVersion)]));
    const ids = checkIds(streamName, events, (id) => versions.get(id));
    if (ids.kind === 'retry') {
      const last = stream.events[ids.lastVersion - 1]!;
      return { result: { nextExpectedVersion: last.streamVersion, lastGlobalPosition: last.globalPosition, createdNewStream: ids.firstVersion === 1 } };
    }
    requireVersion(streamName, expected, stream.events.length);
    return { version: stream.currentVersion };
  }

  /** Empty appends, and versions no stream can reach: only checks, nothing to write. */
  private async appendChecked(streamName: string, events: readonly SerializedEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    const known = await this.checkRetry(streamName, events, expected);
    if ('result' in known) return known.result;
    if (events.length > 0) throw new StreamVersionConflict(streamName, expected, known.version);
    const last = known.version === 0n ? [] : (await this.read(streamName, known.version, 1)).events;
    return { nextExpectedVersion: known.version, lastGlobalPosition: last[0]?.globalPosition ?? 0n, createdNewStream: false };
  }

  async readStream(streamName: string, options?: ReadStreamOptions): Promise<ReadStreamResult> {
    const { maxCount } = readStreamArgs(streamName, options);
    if (this.closed) throw storeClosed(`readStream(${streamName})`);
    return this.read(streamName, options?.from ?? 1n, maxCount);
  }

  /** `readStream` without the checks: appends pending at `close()` still use it. */
  private async read(streamName: string, from = 1n, maxCount = Number.POSITIVE_INFINITY): Promise<ReadStreamResult> {
    const context = { action: `reading stream ${streamName}` };
    const client = await this.getClient();
    try {
      const events: RecordedEvent[] = [];
      if (maxCount !== 0 && from <= MAX_REVISION) {
        const read = client.readStream(streamName, {
          fromRevision: toReadRevision(from),
          ...(Number.isFinite(maxCount) ? { maxCount } : {}),
        });
        for await (const resolved of read) {
          const event = fromKurrentEvent(resolved, false);
          if (event !== undefined) events.push(event);
        }
      }
      const last = events.at(-1);
      // Reading to the end tells the version; otherwise ask for the last event.
      const currentVersion = !Number.isFinite(maxCount) && last !== undefined ? last.streamVersion : await this.lastVersion(client, streamName);
      return { events, currentVersion, streamExists: currentVersion > 0n };
    } catch (error) {
      if (classifyError(error).kind === 'streamNotFound') return { events: [], currentVersion: 0n, streamExists: false };
      throw toStoreError(error, context);
    }
  }

  private async lastVersion(client: KurrentClientLike, streamName: string): Promise<bigint> {
    for await (const resolved of client.readStream(streamName, { fromRevision: 'end', direction: 'backwards', maxCount: 1 })) {
      const revision = resolved.event?.revision;
      if (revision !== undefined) return toVersion(revision);
    }
    return 0n;
  }

  async readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    const { maxCount: limit } = readAllArgs(options);
    const after = options?.after ?? 0n;
    if (this.closed) throw storeClosed('readAll');
    const client = await this.getClient();
    const events: RecordedEvent[] = [];
    if (limit === 0) return events;
    const order = new Order();
    try {
      for await (const resolved of client.readAll({ fromPosition: toReadPosition(after), filter: EXCLUDE_SYSTEM_EVENTS })) {
        const event = fromKurrentEvent(resolved, true);
        if (event === undefined || event.globalPosition <= after) continue;
        order.check(event);
        events.push(event);
        if (events.length >= limit) break;
      }
    } catch (error) {
      throw toStoreError(error, { action: 'reading $all' });
    }
    return events;
  }

  subscribe(options?: SubscribeOptions): Observable<RecordedEvent> {
    subscribeArgs(options);
    const after = options?.after ?? 0n;
    return new Observable<RecordedEvent>((subscriber) => {
      if (this.closed) {
        subscriber.error(storeClosed('subscribe'));
        return undefined;
      }
      let stopped = false;
      let subscription: KurrentSubscriptionLike | undefined;
      const stop = async () => {
        stopped = true;
        await subscription?.unsubscribe().catch(() => {});
      };
      this.subscriptions.add(stop);
      const order = new Order();
      void (async () => {
        const client = await this.getClient();
        if (stopped) return;
        subscription = client.subscribeToAll({ fromPosition: toReadPosition(after), filter: EXCLUDE_SYSTEM_EVENTS });
        for await (const resolved of subscription) {
          if (stopped) return;
          const event = fromKurrentEvent(resolved, true);
          if (event === undefined || event.globalPosition <= after) continue;
          order.check(event);
          subscriber.next(event);
        }
      })().then(
        () => { if (!subscriber.closed) subscriber.complete(); },
        (error: unknown) => { if (!stopped) subscriber.error(toStoreError(error, { action: 'following $all' })); },
      ).finally(() => { this.subscriptions.delete(stop); });
      return () => { void stop(); };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.pending]);
    await Promise.allSettled([...this.subscriptions].map((stop) => stop()));
    if (this.ownsClient && this.client !== undefined) {
      const client = await this.client.catch(() => undefined);
      await client?.dispose().catch(() => {});
    }
  }
}

/** Positions must only go up; two events under one commit position (see the mapping) cannot. */
class Order {
  private last = 0n;
  check(event: RecordedEvent): void {
    if (event.globalPosition <= this.last) {
      throw new StoreCorrupted(`KurrentDB delivered event ${event.id} of stream ${event.streamName} at commit position ${event.globalPosition - 1n}, not after the previous one (${this.last - 1n}): it was written in a legacy explicit transaction, whose events share one commit position and cannot be given distinct global positions; copy them into a new stream with a current client`);
    }
    this.last = event.globalPosition;
  }
}

/** Revisions are unsigned 64-bit: a version past this is one no stream reaches. */
const MAX_REVISION = 2n ** 63n;
