/**
 * The event store port (DESIGN §4), shaped after emmett's `EventStore`. Every back end (in-memory,
 * the embedded file log, PostgreSQL, KurrentDB) implements it and passes one contract suite
 * (`test/contracts/eventStore.contract.ts`).
 *
 * Numbering: a stream's version is the number of events in it, so its first event has version
 * 1n and an empty or missing stream is at 0n (KurrentDB's 0-based revisions are ours minus one).
 * Global positions are 1-based too and strictly increasing in commit order; gaps are allowed
 * (PostgreSQL sequences have them), going backwards never is.
 */
import type { Observable } from 'rxjs';
import { IpsecError } from '../../engine/errors.js';

/** What the writer believes the stream's version is (optimistic concurrency, DESIGN §3 write-ahead). */
export type ExpectedVersion = bigint | 'noStream' | 'streamExists' | 'any';

/** Metadata every fact carries (issue 4 item 1). `at` is an input, never read from a clock in the engine. */
export interface EventMetadata {
  /** ISO 8601 time at which the fact happened, as the writer was told. */
  at: string;
  schemaVersion: number;
  causationId?: string;
  correlationId?: string;
  [key: string]: unknown;
}

/** An event to append. `id` makes appends idempotent: the same id twice in a stream is stored once. */
export interface EventData<Type extends string = string, Data = unknown> {
  id: string;
  type: Type;
  /** JSON-serializable. Keys never appear here in the clear (DESIGN §3): a key reference does. */
  data: Data;
  metadata: EventMetadata;
}

/** An event as stored. */
export interface RecordedEvent<Type extends string = string, Data = unknown> extends EventData<Type, Data> {
  streamName: string;
  /** 1-based position in its stream. */
  streamVersion: bigint;
  /** 1-based position in the whole store. */
  globalPosition: bigint;
}

export interface AppendOptions {
  /** Default `'any'`. */
  expectedVersion?: ExpectedVersion;
}

export interface AppendResult {
  /** The stream's version after the append: pass it as the next `expectedVersion`. */
  nextExpectedVersion: bigint;
  /** Global position of the last event written (or of the existing ones, for an idempotent retry). */
  lastGlobalPosition: bigint;
  createdNewStream: boolean;
}

export interface ReadStreamOptions {
  /** First stream version to return (1-based, inclusive); default 1n. */
  from?: bigint;
  maxCount?: number;
}

export interface ReadStreamResult {
  events: RecordedEvent[];
  /** Version of the stream now (0n when it does not exist). */
  currentVersion: bigint;
  streamExists: boolean;
}

export interface ReadAllOptions {
  /** Return events with a global position strictly greater than this; default 0n (from the start). */
  after?: bigint;
  maxCount?: number;
}

export interface SubscribeOptions {
  /** Deliver events after this global position (a checkpoint); default 0n: everything. */
  after?: bigint;
}

/**
 * The port. Appends are durable when they resolve: an acknowledged event is never lost.
 *
 * The rules every back end keeps (test/contracts/eventStore.contract.ts checks each one):
 * - Versions and positions are 1-based bigints; a missing stream is at version 0n.
 * - An append is atomic: all its events or none, and no reader ever sees part of it.
 * - `expectedVersion`: `'noStream'` (must not exist), `'streamExists'`, an exact version
 *   (0n = must not exist), or `'any'` (the default). A mismatch throws `StreamVersionConflict`.
 * - Idempotency by event id: re-appending the same ids (a retry, even one racing its original)
 *   stores nothing and resolves with the first append's result. Ids that overlap an earlier
 *   append only in part throw `RangeError` naming `events`, and write nothing.
 * - An empty append checks the expected version and writes nothing.
 * - Data and metadata round-trip as JSON (what JSON drops, such as `undefined` fields, is dropped).
 * - `subscribe` is cold and gap-free: history after the checkpoint, then live, in global order.
 * - After `close()` (pending appends finish first) every call rejects with `StoreUnavailable`
 *   and live subscriptions complete. Misuse throws `TypeError`/`RangeError` naming the argument.
 *
 * @example
 * const { nextExpectedVersion } = await store.appendToStream('sa-42', [event], { expectedVersion: 0n });
 */
export interface EventStore {
  /** Appends atomically (all events or none). Throws `StreamVersionConflict` on a version mismatch. */
  appendToStream(streamName: string, events: readonly EventData[], options?: AppendOptions): Promise<AppendResult>;
  readStream(streamName: string, options?: ReadStreamOptions): Promise<ReadStreamResult>;
  /** Events of every stream in global order. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Catch-up from the checkpoint, then live; in global order, no gaps, no duplicates. Cold: each subscriber starts its own. */
  subscribe(options?: SubscribeOptions): Observable<RecordedEvent>;
  /** Releases files, connections and the writer lock; pending appends finish first. */
  close(): Promise<void>;
}

/** Two writers raced for one stream: stop, re-read the stream, decide again (DESIGN §3). */
export class StreamVersionConflict extends IpsecError {
  constructor(
    readonly streamName: string,
    readonly expected: ExpectedVersion,
    readonly actual: bigint,
    options?: { cause?: unknown },
  ) {
    super('store.versionConflict', `stream ${streamName}: expected version ${String(expected)}, but it is at ${actual}; another writer appended first: re-read the stream and decide again`, options);
    this.name = 'StreamVersionConflict';
  }
}

/** The back end cannot be reached (a server down, a connection refused); nothing was written. */
export class StoreUnavailable extends IpsecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store.unavailable', message, options);
    this.name = 'StoreUnavailable';
  }
}

/** The stored data is damaged where it should be whole; the message says where and what to do. */
export class StoreCorrupted extends IpsecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store.corrupted', message, options);
    this.name = 'StoreCorrupted';
  }
}

/** Another process holds the store's writer lock (one writer per directory). */
export class StoreLocked extends IpsecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store.locked', message, options);
    this.name = 'StoreLocked';
  }
}
