/**
 * The embedded default event store (DESIGN §4, issue 4 item 3): a segmented, append-only file log
 * of our own, in pure Node. FORMAT.md beside this file specifies the bytes and the recovery rule.
 *
 * - Durable: an append resolves only after its record is on disk. The active segment is opened
 *   with O_DSYNC, so the write system call itself returns only once the data (and the file size)
 *   is stable, as write + fdatasync would (`syncMethod: 'fdatasync'` does exactly that instead).
 * - Group commit (`groupCommit.ts`): appends are encoded straight into the next write's buffer;
 *   those that arrive while a write is in flight go out together as one write and so one sync.
 *   `writesInFlight` > 1 lets writes overlap. The segment is zeroed ahead of the writer, so a
 *   record's sync needs no file-size change.
 * - Off the event loop: writes and syncs run on the log's writer thread (`writerThread.ts`), or
 *   with `writer: 'pool'` on libuv's thread pool; the event loop only encodes records and
 *   resolves promises.
 * - One writer per directory (`writerLock.ts`); indexes rebuilt on open (`recoverLog.ts`); reads
 *   check every record again (`segmentReader.ts`).
 * - Readers see only what is durable; `readStream` of a stream with appends in flight waits for
 *   them, so a writer that lost a version race re-reads the version it lost to.
 * - Fail-stop: if a write fails (disk full, I/O error) no later append is accepted, since what the
 *   page cache holds after a failed sync cannot be trusted; reopen the store once fixed.
 * - Live subscribers of one commit share its event objects: treat delivered events as read-only.
 */
import fs from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import type { Observable } from 'rxjs';
import { IpsecError } from '../../../engine/errors.js';
import { StoreUnavailable } from '../types.js';
import type {
  AppendOptions,
  AppendResult,
  EventData,
  EventStore,
  ReadAllOptions,
  ReadStreamOptions,
  ReadStreamResult,
  RecordedEvent,
  SubscribeOptions,
} from '../types.js';
import { catchUpThenLive } from '../liveSubscription.js';
import type { CommitListener } from '../liveSubscription.js';
import { checkExpectedVersion, checkIds, checkStreamName, readAllArgs, readStreamArgs, requireVersion, storeClosed, subscribeArgs } from '../storeRules.js';
import type { SerializedEvent } from '../storeRules.js';
import { GroupCommitWriter } from './groupCommit.js';
import type { Batch, PendingAppend, WriterHost } from './groupCommit.js';
import { IdIndex, idHash } from './idIndex.js';
import { LogIndex } from './logIndex.js';
import type { StreamState } from './logIndex.js';
import { encodeRecordInto, eventsJson, readRecord, recordBytesBound, recordBytesExact, recordEvents } from './recordCodec.js';
import { recoverLog } from './recoverLog.js';
import type { RecoveryReport } from './recoverLog.js';
import { SegmentReader, toRecorded, unavailable } from './segmentReader.js';
import { acquireWriterLock } from './writerLock.js';
import type { WriterLock } from './writerLock.js';

export interface FileLogOptions {
  /** The log's directory; created if missing. One process writes it at a time. */
  directory: string;
  /** A segment is rolled (a new file begun) once it reaches this size; default 64 MiB. */
  segmentBytes?: number;
  /**
   * Group-commit writes in flight at once; default 4 (2 with `writer: 'pool'`). Each write carries
   * every append queued meanwhile; more than one lets the disk work while the event loop encodes
   * the next appends (the writer thread joins those that wait for it into one `pwritev`).
   */
  writesInFlight?: number;
  /** Upper bound of one group-commit write; default 8 MiB (one record may exceed it alone). */
  maxBatchBytes?: number;
  /** `'dsync'` (default): O_DSYNC writes, one thread-pool call per batch; `'fdatasync'`: write, then fdatasync. */
  syncMethod?: 'dsync' | 'fdatasync';
  /**
   * Zero the active segment ahead of the writer (default true), so a record's sync finds the file
   * size and blocks already durable and needs no journal commit (PostgreSQL zero-fills its WAL for
   * the same reason). Costs writing the segment's bytes twice.
   */
  zeroAhead?: boolean;
  /**
   * Who writes and syncs records: `'thread'` (default), a worker thread of the log's own that
   * takes every write queued while the disk was busy as one `pwritev` (`writerThread.ts`); or
   * `'pool'`, libuv's thread pool (`fs.write` callbacks). Neither blocks the event loop.
   */
  writer?: 'thread' | 'pool';
}

/** The file log: the port, plus what opening it found. */
export interface FileLogEventStore extends EventStore {
  readonly directory: string;
  /** Segments, records and events found on open, and the torn tail cut off, if any. */
  readonly recovery: RecoveryReport;
}

const MIN_SEGMENT_BYTES = 4096;
/** Above this bound a record's exact size is computed before room is made for it. */
const EXACT_SIZE_ABOVE = 64 * 1024;

/**
 * Opens (or creates) the file log in `options.directory`, recovering from a crash if needed.
 * Throws `StoreLocked` if another process has it open, `StoreCorrupted` if it is damaged anywhere
 * but in a torn tail.
 *
 * @example
 * const store = await fileLogEventStore({ directory: '/var/lib/ipsec-es/events' });
 * await store.appendToStream('sa-1', [fact], { expectedVersion: 'noStream' });
 * await store.close();
 */
export async function fileLogEventStore(options: FileLogOptions): Promise<FileLogEventStore> {
  if (typeof options?.directory !== 'string' || options.directory.length === 0) throw new TypeError('options.directory: must be a non-empty path');
  const segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < MIN_SEGMENT_BYTES) throw new RangeError(`options.segmentBytes: must be an integer ≥ ${MIN_SEGMENT_BYTES}, got ${segmentBytes}`);
  const writesInFlight = options.writesInFlight ?? (options.writer === 'pool' ? 2 : 4);
  if (!Number.isSafeInteger(writesInFlight) || writesInFlight < 1 || writesInFlight > 16) throw new RangeError(`options.writesInFlight: must be an integer in 1..16, got ${writesInFlight}`);
  const maxBatchBytes = options.maxBatchBytes ?? 8 * 1024 * 1024;
  if (!Number.isSafeInteger(maxBatchBytes) || maxBatchBytes < 1) throw new RangeError(`options.maxBatchBytes: must be a positive integer, got ${maxBatchBytes}`);
  const syncMethod = options.syncMethod ?? 'dsync';
  if (syncMethod !== 'dsync' && syncMethod !== 'fdatasync') throw new TypeError(`options.syncMethod: must be 'dsync' or 'fdatasync', got ${String(syncMethod)}`);
  const zeroAhead = options.zeroAhead ?? true;
  if (typeof zeroAhead !== 'boolean') throw new TypeError(`options.zeroAhead: must be a boolean, got ${String(zeroAhead)}`);
  const writerKind = options.writer ?? 'thread';
  if (writerKind !== 'thread' && writerKind !== 'pool') throw new TypeError(`options.writer: must be 'thread' or 'pool', got ${String(writerKind)}`);

  const directory = resolvePath(options.directory);
  try {
    await mkdir(directory, { recursive: true });
  } catch (e) {
    throw unavailable(`cannot create the event store directory ${directory}`, e);
  }
  const lock = await acquireWriterLock(directory).catch((e: unknown) => {
    throw e instanceof IpsecError ? e : unavailable(`cannot take the writer lock of ${directory}`, e);
  });
  try {
    const log = await recoverLog(directory);
    const flags = fs.constants.O_WRONLY | (syncMethod === 'dsync' ? fs.constants.O_DSYNC : 0);
    const fd = await new Promise<number>((res, rej) => fs.open(log.segments.at(-1)!.path, flags, (e, n) => (e ? rej(e) : res(n))));
    const store = new FileLog(directory, lock, log.index, log.report);
    const writer = new GroupCommitWriter(directory, log.segments, fd, log.tail, { segmentBytes, writesInFlight, maxBatchBytes, syncMethod, flags, zeroAhead, writer: writerKind }, store);
    store.attach(writer, new SegmentReader(log.segments, log.index));
    await writer.start();
    return store;
  } catch (e) {
    await lock.release();
    throw e instanceof IpsecError ? e : unavailable(`cannot open the event store in ${directory}`, e);
  }
}

/** The ids' hashes of the append being checked (`idHash`), reused from append to append. */
let hashes = new Int32Array(64);

/** Hashes the ids of `events` into `hashes`; true if some id may be in `stream` already (confirmed by `versionOf`). */
function anyStored(ids: IdIndex, stream: StreamState | undefined, events: readonly EventData[]): boolean {
  const n = events.length;
  if (hashes.length < n) hashes = new Int32Array(Math.max(n, 2 * hashes.length));
  let found = false;
  for (let i = 0; i < n; i++) {
    const id = events[i]!.id;
    const h = (hashes[i] = idHash(id));
    if (!found && stream !== undefined && stream.idList.length > 0 && ids.versionOf(stream, id, h) !== undefined) found = true;
  }
  return found;
}

/** Captures a new promise's settle functions without a closure per promise. */
let capturedResolve: (r: AppendResult) => void = () => {};
let capturedReject: (e: unknown) => void = () => {};
const capture = (resolve: (r: AppendResult) => void, reject: (e: unknown) => void): void => {
  capturedResolve = resolve;
  capturedReject = reject;
};

class FileLog implements FileLogEventStore, WriterHost {
  private writer!: GroupCommitWriter;
  private reader!: SegmentReader;
  /** Global position the next append gets. */
  private nextPosition: number;
  private closing: Promise<void> | undefined;
  /** Live subscribers have been told the store closed; reads fail from here on. */
  private ended = false;
  private readonly listeners = new Set<CommitListener>();
  /** Idempotent retries and readers waiting for a position to become durable. */
  private waiters: { position: number; resolve(): void; reject(e: unknown): void }[] = [];

  constructor(
    readonly directory: string,
    private readonly lock: WriterLock,
    private readonly index: LogIndex,
    readonly recovery: RecoveryReport,
  ) {
    this.nextPosition = index.head + 1;
  }

  attach(writer: GroupCommitWriter, reader: SegmentReader): void {
    this.writer = writer;
    this.reader = reader;
  }

  appendToStream(streamName: string, events: readonly EventData[], options?: AppendOptions): Promise<AppendResult> {
    // Not `async`: the common path hands back the queued append's own promise, which saves the
    // microtask hops of adopting it (they count at thousands of appends a second).
    try {
      return this.append(streamName, events, options);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private append(streamName: string, events: readonly EventData[], options: AppendOptions | undefined): Promise<AppendResult> {
    checkStreamName(streamName);
    const expected = checkExpectedVersion(options?.expectedVersion);
    const json = eventsJson(events); // checks the events as serializeEvents does
    if (this.closing) throw storeClosed(`appendToStream(${streamName})`);
    if (this.writer.failure) throw this.writer.failure;
    const existing = this.index.streams.get(streamName);
    // Hashes every id (the index takes them below), and looks them up in the stream.
    if (anyStored(this.index.ids, existing, events) && existing) {
      // Some id is stored already: a retry, or misuse (checkIds reads only the ids).
      const ids = checkIds(streamName, events as unknown as readonly SerializedEvent[], (id) => this.index.ids.versionOf(existing, id));
      if (ids.kind === 'retry') {
        const position = LogIndex.positionOf(existing, ids.lastVersion);
        const result = { nextExpectedVersion: BigInt(ids.lastVersion), lastGlobalPosition: BigInt(position), createdNewStream: ids.firstVersion === 1 };
        return this.durable(position).then(() => result);
      }
    }
    const current = existing?.version ?? 0;
    requireVersion(streamName, expected, current);
    const count = events.length;
    if (count === 0) {
      const position = current === 0 ? 0 : LogIndex.positionOf(existing!, current);
      const result = { nextExpectedVersion: BigInt(current), lastGlobalPosition: BigInt(position), createdNewStream: false };
      return this.durable(position).then(() => result);
    }
    const firstPosition = this.nextPosition;
    let room = recordBytesBound(streamName, events, json);
    if (room > EXACT_SIZE_ABOVE) room = recordBytesExact(streamName, events, json); // throws if too big
    const batch = this.writer.room(room);
    const bytes = encodeRecordInto(batch.buf, batch.bytes, streamName, current + 1, firstPosition, events, json);
    // From here on nothing throws: the stream's tentative state and the queue change together.
    const stream = existing ?? this.index.stream(streamName);
    const chunk = LogIndex.addChunk(stream, current + 1, firstPosition);
    for (let i = 0; i < count; i++) {
      stream.idList.push(events[i]!.id);
      this.index.ids.add(stream, hashes[i]!, current + 1 + i);
    }
    stream.version += count;
    this.nextPosition += count;
    const promise = new Promise<AppendResult>(capture);
    const pending: PendingAppend = {
      stream,
      chunk,
      count,
      bytes,
      result: { nextExpectedVersion: BigInt(stream.version), lastGlobalPosition: BigInt(this.nextPosition - 1), createdNewStream: current === 0 },
      resolve: capturedResolve,
      reject: capturedReject,
    };
    this.writer.add(batch, pending);
    return promise;
  }

  /** Resolves once `position` is durable (0 and anything committed at once). */
  private durable(position: number): Promise<void> {
    if (position <= this.index.head) return Promise.resolve();
    if (this.writer.failure) return Promise.reject(this.writer.failure);
    return new Promise((resolve, reject) => this.waiters.push({ position, resolve, reject }));
  }

  head(): number {
    return this.index.head;
  }

  /** WriterHost: `batch` is durable at `offset` of `segment`. */
  committed(batch: Batch, segment: number, offset: number): void {
    const previousHead = this.index.head;
    let at = offset;
    for (const a of batch.appends) {
      this.index.commit(a.stream, a.chunk, a.count, segment, at, a.bytes);
      at += a.bytes;
      a.resolve(a.result);
    }
    if (this.waiters.length > 0) {
      const head = this.index.head;
      const still = [];
      for (const waiter of this.waiters) {
        if (waiter.position <= head) waiter.resolve();
        else still.push(waiter);
      }
      this.waiters = still;
    }
    if (this.listeners.size > 0) {
      // Decoded from the bytes just written: subscribers never share objects with the appender.
      const events: RecordedEvent[] = [];
      for (let off = 0; off < batch.bytes; ) {
        const meta = readRecord(batch.buf, off);
        if (typeof meta === 'string') throw new Error(`file log: a record just written does not decode (${meta})`);
        const triples = recordEvents(batch.buf, meta)!;
        toRecorded(events, meta.streamName, meta.firstVersion, meta.firstPosition, meta.ids, triples, 0, triples.length);
        off += meta.bytes;
      }
      for (const l of this.listeners) l.commit(events, previousHead);
    }
  }

  /** WriterHost: the writer failed; nothing more becomes durable. */
  failed(failure: StoreUnavailable): void {
    for (const waiter of this.waiters) waiter.reject(failure);
    this.waiters = [];
  }

  async readStream(streamName: string, options?: ReadStreamOptions): Promise<ReadStreamResult> {
    const { from, maxCount } = readStreamArgs(streamName, options);
    if (this.closing) throw storeClosed(`readStream(${streamName})`);
    const stream = this.index.streams.get(streamName);
    // Appends to this stream in flight: answer once they are durable, so a writer that lost a
    // version race and re-reads sees the version it lost to (and waits on I/O, not spins).
    if (stream && stream.version > stream.committed) await this.durable(LogIndex.positionOf(stream, stream.version));
    const committed = stream?.committed ?? 0;
    if (!stream || committed === 0) return { events: [], currentVersion: 0n, streamExists: false };
    const to = Math.min(committed, from + maxCount - 1);
    const events: RecordedEvent[] = [];
    if (from <= to) {
      const records: number[] = [];
      for (let c = LogIndex.chunkAt(stream, from); c < stream.committedChunks; c++) {
        if (stream.chunkVersion[c]! > to) break;
        records.push(stream.chunkRecord[c]!);
      }
      await this.reader.read(records, (meta, triples) => {
        const lo = Math.max(0, from - meta.firstVersion);
        const hi = Math.min(meta.count, to - meta.firstVersion + 1);
        toRecorded(events, meta.streamName, meta.firstVersion, meta.firstPosition, meta.ids, triples, lo, hi);
      });
    }
    return { events, currentVersion: BigInt(committed), streamExists: true };
  }

  async readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    const { after, maxCount } = readAllArgs(options);
    if (this.closing) throw storeClosed('readAll');
    return this.readPage(after, maxCount);
  }

  private async readPage(after: number, maxCount: number): Promise<RecordedEvent[]> {
    const head = this.index.head;
    const to = Math.min(head, after + maxCount);
    const events: RecordedEvent[] = [];
    if (after >= to) return events;
    const records: number[] = [];
    for (let r = this.index.recordAt(after + 1); r < this.index.recPosition.length && this.index.recPosition[r]! <= to; r++) records.push(r);
    await this.reader.read(records, (meta, triples) => {
      const lo = Math.max(0, after + 1 - meta.firstPosition);
      const hi = Math.min(meta.count, to - meta.firstPosition + 1);
      toRecorded(events, meta.streamName, meta.firstVersion, meta.firstPosition, meta.ids, triples, lo, hi);
    });
    return events;
  }

  subscribe(options?: SubscribeOptions): Observable<RecordedEvent> {
    const after = subscribeArgs(options);
    return catchUpThenLive(
      {
        readPage: async (from, max) => {
          if (this.ended) throw storeClosed('subscribe');
          return this.readPage(from, max);
        },
        listen: (listener) => {
          if (this.ended) return () => {};
          this.listeners.add(listener);
          return () => this.listeners.delete(listener);
        },
      },
      after,
    );
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.writer.idle();
      this.ended = true;
      for (const l of [...this.listeners]) l.end();
      this.listeners.clear();
      await this.reader.close();
      await this.writer.close();
      await this.lock.release();
    })();
    return this.closing;
  }
}
