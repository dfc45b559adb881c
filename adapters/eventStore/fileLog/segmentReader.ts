/**
 * Reading committed records back from the segments (for `readStream`, `readAll` and catch-up
 * subscriptions): runs of adjacent records are fetched in one read, and every record is checked
 * again (both CRCs, and that it is the record the index says) before its events are handed out.
 * Reads run on libuv's thread pool, one read-only descriptor per segment, opened on first use.
 */
import fs from 'node:fs';
import { IpsecError } from '../../../engine/errors.js';
import { StoreCorrupted, StoreUnavailable } from '../types.js';
import type { EventMetadata, RecordedEvent } from '../types.js';
import { storeClosed } from '../storeRules.js';
import type { LogIndex } from './logIndex.js';
import { readRecord, recordEvents } from './recordCodec.js';
import type { RecordMeta } from './recordCodec.js';
import type { Segment } from './recoverLog.js';
import { closeFd } from './groupCommit.js';

/** Readers fetch runs of adjacent records in reads of up to this many bytes. */
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/** An event as a record stores it. */
export type EventTriple = [string, unknown, EventMetadata];

const openFd = (path: string, flags: number): Promise<number> =>
  new Promise((res, rej) => fs.open(path, flags, (e, fd) => (e ? rej(e) : res(fd))));

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

/** A file-system error as ours (adapters never leak vendor errors, DESIGN §6). */
export function unavailable(what: string, cause: unknown): StoreUnavailable {
  const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
  return new StoreUnavailable(`${what}: ${code}; check the path, its permissions and free space`, { cause });
}

export class SegmentReader {
  /** Read-only descriptors, by segment index. */
  private readonly fds: (Promise<number> | undefined)[] = [];
  private active = 0;
  private drained: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly segments: readonly Segment[],
    private readonly index: LogIndex,
  ) {}

  /** Reads committed records (ascending record indexes), checking each, coalescing neighbours into one read. */
  async read(records: readonly number[], each: (meta: RecordMeta, triples: EventTriple[]) => void): Promise<void> {
    const ix = this.index;
    this.active++;
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
          buf = await readAt(await this.fd(segment), end - start, start);
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
      this.active--;
      if (this.active === 0 && this.drained) this.drained();
    }
  }

  private fd(segment: number): Promise<number> {
    // After close the descriptor numbers may belong to other files: never touch them again.
    if (this.closed) return Promise.reject(storeClosed('read'));
    return (this.fds[segment] ??= openFd(this.segments[segment]!.path, fs.constants.O_RDONLY));
  }

  /** Waits for the reads under way, then closes every descriptor; later reads fail as closed. */
  async close(): Promise<void> {
    if (this.active > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    this.closed = true;
    const fds = await Promise.all(this.fds.map((p) => p?.catch(() => -1)));
    await Promise.all(fds.filter((fd): fd is number => fd !== undefined && fd >= 0).map(closeFd));
  }
}

/** Recorded events `lo..hi-1` of one record, appended to `out`. */
export function toRecorded(
  out: RecordedEvent[],
  streamName: string,
  firstVersion: number,
  firstPosition: number,
  ids: readonly string[],
  triples: readonly EventTriple[],
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
