/**
 * The embedded default event store (DESIGN §4, issue 4 item 3): a segmented, append-only file log
 * of our own, in pure Node. FORMAT.md beside this file specifies the bytes and the recovery rule.
 *
 * - Durable: an append resolves only after its record is on disk. The active segment is opened
 *   with O_DSYNC, so the write system call itself returns only once the data (and the file size)
 *   is stable, as write + fdatasync would (`syncMethod: 'fdatasync'` does exactly that instead).
 * - Group commit: appends that arrive while a write is in flight queue up and go out together as
 *   one write (one record each) and so one sync. `writesInFlight` > 1 lets writes overlap.
 * - Off the event loop: writes and syncs run on libuv's thread pool (`fs.write`/`fs.fdatasync`
 *   callbacks); the event loop only encodes records and resolves promises.
 * - One writer per directory (`writerLock.ts`); indexes rebuilt on open (`recoverLog.ts`).
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
import { StoreCorrupted, StoreUnavailable } from '../types.js';
import type {
  AppendOptions,
  AppendResult,
  EventData,
  EventMetadata,
  EventStore,
  ReadAllOptions,
  ReadStreamOptions,
  ReadStreamResult,
  RecordedEvent,
  SubscribeOptions,
} from '../types.js';
import { catchUpThenLive } from '../liveSubscription.js';
import type { CommitListener } from '../liveSubscription.js';
import {
  checkExpectedVersion,
  checkIds,
  checkStreamName,
  readAllArgs,
  readStreamArgs,
  requireVersion,
  serializeEvents,
  storeClosed,
  subscribeArgs,
} from '../storeRules.js';
import { LogIndex } from './logIndex.js';
import type { Chunk, StreamState } from './logIndex.js';
import { SEGMENT_HEADER_BYTES, encodeRecord, readRecord, recordEvents, sealRecord } from './recordCodec.js';
import type { RecordMeta } from './recordCodec.js';
import { createSegment, recoverLog } from './recoverLog.js';
import type { RecoveryReport, Segment } from './recoverLog.js';
import { acquireWriterLock } from './writerLock.js';
import type { WriterLock } from './writerLock.js';

export interface FileLogOptions {
  /** The log's directory; created if missing. One process writes it at a time. */
  directory: string;
  /** A segment is rolled (a new file begun) once it reaches this size; default 64 MiB. */
  segmentBytes?: number;
  /**
   * Group-commit writes in flight at once; default 2. Each write carries every append queued
   * meanwhile; a second one lets the disk work while the event loop encodes the next appends.
   */
  writesInFlight?: number;
  /** Upper bound of one group-commit write; default 8 MiB (one record may exceed it alone). */
  maxBatchBytes?: number;
  /** `'dsync'` (default): O_DSYNC writes, one thread-pool call per batch; `'fdatasync'`: write, then fdatasync. */
  syncMethod?: 'dsync' | 'fdatasync';
}

/** The file log: the port, plus what opening it found. */
export interface FileLogEventStore extends EventStore {
  readonly directory: string;
  /** Segments, records and events found on open, and the torn tail cut off, if any. */
  readonly recovery: RecoveryReport;
}

interface PendingAppend {
  stream: StreamState;
  chunk: Chunk;
  record: Buffer;
  json: string;
  ids: string[];
  result: AppendResult;
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

interface Write {
  appends: PendingAppend[];
  segment: number;
  offset: number;
  bytes: number;
  done: boolean;
}

interface OpenSegment extends Segment {
  reader?: Promise<number>;
}

const openFd = (path: string, flags: number): Promise<number> =>
  new Promise((res, rej) => fs.open(path, flags, (e, fd) => (e ? rej(e) : res(fd))));
const closeFd = (fd: number): Promise<void> => new Promise((res) => fs.close(fd, () => res()));

async function readAt(fd: number, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = await new Promise<number>((res, rej) => fs.read(fd, buf, got, length - got, position + got, (e, bytes) => (e ? rej(e) : res(bytes))));
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** Readers fetch runs of adjacent records in reads of up to this many bytes. */
const READ_CHUNK_BYTES = 4 * 1024 * 1024;
const MIN_SEGMENT_BYTES = 4096;
/** Queued bytes that start a write at once when a write slot is free (see `writesInFlight`). */
const EARLY_WRITE_BYTES = 16 * 1024;

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
  const writesInFlight = options.writesInFlight ?? 2;
  if (!Number.isSafeInteger(writesInFlight) || writesInFlight < 1 || writesInFlight > 16) throw new RangeError(`options.writesInFlight: must be an integer in 1..16, got ${writesInFlight}`);
  const maxBatchBytes = options.maxBatchBytes ?? 8 * 1024 * 1024;
  if (!Number.isSafeInteger(maxBatchBytes) || maxBatchBytes < 1) throw new RangeError(`options.maxBatchBytes: must be a positive integer, got ${maxBatchBytes}`);
  const syncMethod = options.syncMethod ?? 'dsync';
  if (syncMethod !== 'dsync' && syncMethod !== 'fdatasync') throw new TypeError(`options.syncMethod: must be 'dsync' or 'fdatasync', got ${String(syncMethod)}`);

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
    const last = log.segments.at(-1)!;
    const flags = fs.constants.O_WRONLY | (syncMethod === 'dsync' ? fs.constants.O_DSYNC : 0);
    const writer = await openFd(last.path, flags);
    return new FileLog(directory, lock, log.segments, log.index, writer, log.tail, log.report, { segmentBytes, writesInFlight, maxBatchBytes, syncMethod, flags });
  } catch (e) {
    await lock.release();
    throw e instanceof IpsecError ? e : unavailable(`cannot open the event store in ${directory}`, e);
  }
}

/** A file-system error as ours (adapters never leak vendor errors, DESIGN §6). */
function unavailable(what: string, cause: unknown): StoreUnavailable {
  const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
  return new StoreUnavailable(`${what}: ${code}; check the path, its permissions and free space`, { cause });
}

interface Settings {
  segmentBytes: number;
  writesInFlight: number;
  maxBatchBytes: number;
  syncMethod: 'dsync' | 'fdatasync';
  flags: number;
}

class FileLog implements FileLogEventStore {
  private queue: PendingAppend[] = [];
  private queueBytes = 0;
  private readonly inflight: Write[] = [];
  private scheduled = false;
  private rolling = false;
  /** Offset in the active segment after the last write issued. */
  private writeOffset: number;
  /** Offset in the active segment below which every byte is durable. */
  private durableOffset: number;
  /** Global position the next append gets. */
  private nextPosition: number;
  private failure: StoreUnavailable | undefined;
  private closing: Promise<void> | undefined;
  /** Live subscribers have been told the store closed; reads fail from here on. */
  private ended = false;
  private readonly listeners = new Set<CommitListener>();
  /** Idempotent retries waiting for their original to become durable. */
  private waiters: { position: number; resolve(): void; reject(e: unknown): void }[] = [];
  private idleWaiters: (() => void)[] = [];
  private activeReads = 0;
  private readsDone: (() => void) | undefined;
  /** Descriptors closed. */
  private closingDone = false;

  constructor(
    readonly directory: string,
    private readonly lock: WriterLock,
    private readonly segments: OpenSegment[],
    private readonly index: LogIndex,
    private writer: number,
    tail: number,
    readonly recovery: RecoveryReport,
    private readonly settings: Settings,
  ) {
    this.writeOffset = tail;
    this.durableOffset = tail;
    this.nextPosition = index.head + 1;
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
    const serialized = serializeEvents(events);
    if (this.closing) throw storeClosed(`appendToStream(${streamName})`);
    if (this.failure) throw this.failure;
    const existing = this.index.streams.get(streamName);
    const ids = checkIds(streamName, serialized, (id) => existing?.ids.get(id));
    if (ids.kind === 'retry') {
      const position = LogIndex.positionOf(existing!, ids.lastVersion);
      const result = { nextExpectedVersion: BigInt(ids.lastVersion), lastGlobalPosition: BigInt(position), createdNewStream: ids.firstVersion === 1 };
      return this.durable(position).then(() => result);
    }
    const current = existing?.version ?? 0;
    requireVersion(streamName, expected, current);
    if (serialized.length === 0) {
      const position = current === 0 ? 0 : LogIndex.positionOf(existing!, current);
      const result = { nextExpectedVersion: BigInt(current), lastGlobalPosition: BigInt(position), createdNewStream: false };
      return this.durable(position).then(() => result);
    }
    const firstPosition = this.nextPosition;
    const { record, json } = encodeRecord(streamName, current + 1, firstPosition, serialized);
    // From here on nothing throws: the stream's tentative state and the queue change together.
    const stream = existing ?? this.index.stream(streamName);
    const chunk: Chunk = { firstVersion: current + 1, firstPosition, count: serialized.length, record: -1 };
    stream.chunks.push(chunk);
    stream.version += serialized.length;
    const idList: string[] = [];
    for (let i = 0; i < serialized.length; i++) {
      const id = serialized[i]!.id;
      stream.ids.set(id, current + 1 + i);
      idList.push(id);
    }
    this.nextPosition += serialized.length;
    const result: AppendResult = {
      nextExpectedVersion: BigInt(stream.version),
      lastGlobalPosition: BigInt(this.nextPosition - 1),
      createdNewStream: current === 0,
    };
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ stream, chunk, record, json, ids: idList, result, resolve, reject });
      this.queueBytes += record.length;
      if (this.queueBytes >= EARLY_WRITE_BYTES && this.inflight.length < this.settings.writesInFlight) {
        // Enough for a write and a free slot: start it now, so the disk works while the event
        // loop encodes the rest of this turn's appends (which go out in the next write).
        this.pump();
      } else if (!this.scheduled) {
        this.scheduled = true;
        // Once the microtasks of this turn have run: every append they make joins the batch
        // (writers woken by the last commit all append in these microtasks).
        queueMicrotask(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  /** Resolves once `position` is durable (0 and anything committed at once). */
  private durable(position: number): Promise<void> {
    if (position <= this.index.head) return Promise.resolve();
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ position, resolve, reject }));
  }

  /** Issues writes while there is something queued and room in flight. */
  private pump(): void {
    const { writesInFlight, maxBatchBytes, segmentBytes } = this.settings;
    while (this.queue.length > 0 && this.inflight.length < writesInFlight && !this.rolling && !this.failure) {
      if (this.writeOffset >= segmentBytes && this.writeOffset > SEGMENT_HEADER_BYTES) {
        if (this.inflight.length === 0) void this.roll();
        return;
      }
      let take = 0;
      let bytes = 0;
      while (take < this.queue.length && (take === 0 || bytes + this.queue[take]!.record.length <= maxBatchBytes)) bytes += this.queue[take++]!.record.length;
      const appends = take === this.queue.length ? this.queue : this.queue.slice(0, take);
      this.queue = take === this.queue.length ? [] : this.queue.slice(take);
      this.queueBytes -= bytes;
      const buffers: Buffer[] = [];
      for (const a of appends) {
        sealRecord(a.record, this.durableOffset);
        buffers.push(a.record);
      }
      const w: Write = { appends, segment: this.segments.length - 1, offset: this.writeOffset, bytes, done: false };
      this.writeOffset += bytes;
      this.inflight.push(w);
      this.issue(w, buffers);
    }
  }

  private issue(w: Write, buffers: Buffer[]): void {
    const fd = this.writer;
    const onWritten = (err: NodeJS.ErrnoException | null, written: number): void => {
      if (err || written !== w.bytes) return this.fail(err ?? new Error(`short write: ${written} of ${w.bytes} bytes`), w);
      if (this.settings.syncMethod === 'dsync') return this.completed(w);
      fs.fdatasync(fd, (e) => (e ? this.fail(e, w) : this.completed(w)));
    };
    // One contiguous buffer: a memcpy is cheaper on the event loop than writev's per-buffer setup.
    const data = buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers, w.bytes);
    fs.write(fd, data, 0, w.bytes, w.offset, onWritten);
  }

  /** A write is durable: acknowledge every write up to the first still in flight, in order. */
  private completed(w: Write): void {
    if (this.failure) return;
    w.done = true;
    while (this.inflight.length > 0 && this.inflight[0]!.done) {
      const first = this.inflight.shift()!;
      this.durableOffset = first.offset + first.bytes;
      this.commit(first);
    }
    this.pump();
    if (this.queue.length === 0 && this.inflight.length === 0 && !this.rolling) {
      const idle = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of idle) f();
    }
  }

  private commit(w: Write): void {
    const previousHead = this.index.head;
    let offset = w.offset;
    for (const a of w.appends) {
      this.index.commit(a.stream, a.chunk, w.segment, offset, a.record.length);
      offset += a.record.length;
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
      const events: RecordedEvent[] = [];
      for (const a of w.appends) {
        const triples = JSON.parse(a.json) as [string, unknown, EventMetadata][];
        toRecorded(events, a.stream.name, a.chunk.firstVersion, a.chunk.firstPosition, a.ids, triples, 0, triples.length);
      }
      for (const l of this.listeners) l.commit(events, previousHead);
    }
  }

  private fail(cause: unknown, w: Write): void {
    if (this.failure) return;
    const segment = this.segments[w.segment]!;
    this.failure = new StoreUnavailable(
      `writing ${segment.path} at byte ${w.offset} failed (${(cause as NodeJS.ErrnoException).code ?? String(cause)}): ` +
        'the store accepts no more appends and none that was not acknowledged was kept; fix the cause (disk full? failing disk?) and reopen the store',
      { cause },
    );
    const pending = [...this.inflight.flatMap((x) => x.appends), ...this.queue];
    this.inflight.length = 0;
    this.queue = [];
    for (const a of pending) a.reject(this.failure);
    for (const waiter of this.waiters) waiter.reject(this.failure);
    this.waiters = [];
    const idle = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of idle) f();
  }

  /** Begins a new segment once everything before it is durable. */
  private async roll(): Promise<void> {
    this.rolling = true;
    const failed = { offset: this.writeOffset, segment: this.segments.length - 1 };
    try {
      await closeFd(this.writer);
      const segment = await createSegment(this.directory, this.index.head + 1);
      this.writer = await openFd(segment.path, this.settings.flags);
      this.segments.push(segment);
      this.writeOffset = SEGMENT_HEADER_BYTES;
      this.durableOffset = SEGMENT_HEADER_BYTES;
    } catch (e) {
      this.rolling = false;
      this.fail(e, { appends: [], segment: failed.segment, offset: failed.offset, bytes: 0, done: false });
      return;
    }
    this.rolling = false;
    this.completed({ appends: [], segment: 0, offset: 0, bytes: 0, done: true });
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
        const chunk = stream.chunks[c]!;
        if (chunk.firstVersion > to) break;
        records.push(chunk.record);
      }
      await this.readRecords(records, (meta, triples) => {
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
    await this.readRecords(records, (meta, triples) => {
      const lo = Math.max(0, after + 1 - meta.firstPosition);
      const hi = Math.min(meta.count, to - meta.firstPosition + 1);
      toRecorded(events, meta.streamName, meta.firstVersion, meta.firstPosition, meta.ids, triples, lo, hi);
    });
    return events;
  }

  /** Reads committed records (ascending indexes), checking each, coalescing neighbours into one read. */
  private async readRecords(records: readonly number[], each: (meta: RecordMeta, triples: [string, unknown, EventMetadata][]) => void): Promise<void> {
    const ix = this.index;
    this.activeReads++;
    try {
      let i = 0;
      while (i < records.length) {
        const first = records[i]!;
        const segment = ix.recSegment[first]!;
        const start = ix.recOffset[first]!;
        let end = start + ix.recBytes[first]!;
        let j = i + 1;
        while (j < records.length) {
          const r = records[j]!;
          if (ix.recSegment[r] !== segment || ix.recOffset[r] !== end || end + ix.recBytes[r]! - start > READ_CHUNK_BYTES) break;
          end += ix.recBytes[r]!;
          j++;
        }
        const seg = this.segments[segment]!;
        let buf: Buffer;
        try {
          buf = await readAt(await this.reader(seg), end - start, start);
        } catch (e) {
          throw e instanceof IpsecError ? e : unavailable(`reading ${seg.path} at byte ${start} failed`, e);
        }
        for (let k = i; k < j; k++) {
          const r = records[k]!;
          const at = ix.recOffset[r]! - start;
          const meta = readRecord(buf, at);
          const problem =
            typeof meta === 'string' ? meta : meta.firstPosition !== ix.recPosition[r] || meta.count !== ix.recCount[r] ? 'record does not match the index built on open' : undefined;
          const triples = problem || typeof meta === 'string' ? undefined : recordEvents(buf, meta);
          if (!triples || typeof meta === 'string') {
            throw new StoreCorrupted(`${seg.path} is damaged at byte ${at + start}: ${problem ?? 'events are not valid JSON'}; it was whole when the store was opened: check the disk, then restore this directory from a backup`);
          }
          each(meta, triples);
        }
        i = j;
      }
    } finally {
      this.activeReads--;
      if (this.activeReads === 0 && this.readsDone) this.readsDone();
    }
  }

  private reader(seg: OpenSegment): Promise<number> {
    // After close the descriptor numbers may belong to other files: never touch them again.
    if (this.closingDone) return Promise.reject(storeClosed('read'));
    seg.reader ??= openFd(seg.path, fs.constants.O_RDONLY);
    return seg.reader;
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
      if (this.queue.length > 0 || this.inflight.length > 0 || this.rolling || this.scheduled) {
        await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      }
      this.ended = true;
      for (const l of [...this.listeners]) l.end();
      this.listeners.clear();
      if (this.activeReads > 0) await new Promise<void>((resolve) => (this.readsDone = resolve));
      this.closingDone = true;
      const fds = [this.writer];
      for (const s of this.segments) if (s.reader) fds.push(await s.reader.catch(() => -1));
      await Promise.all(fds.filter((fd) => fd >= 0).map(closeFd));
      await this.lock.release();
    })();
    return this.closing;
  }
}

function toRecorded(
  out: RecordedEvent[],
  streamName: string,
  firstVersion: number,
  firstPosition: number,
  ids: readonly string[],
  triples: readonly [string, unknown, EventMetadata][],
  lo: number,
  hi: number,
): void {
  for (let i = lo; i < hi; i++) {
    const t = triples[i]!;
    out.push({
      id: ids[i]!,
      type: t[0],
      data: t[1],
      metadata: t[2],
      streamName,
      streamVersion: BigInt(firstVersion + i),
      globalPosition: BigInt(firstPosition + i),
    });
  }
}
