/**
 * The file log's in-memory indexes: caches rebuilt from the segments on every open, never
 * written anywhere. Records by global position (for `readAll`), each stream's records by version
 * (for `readStream`) and each stream's event ids (for idempotent retries, `idIndex.ts`).
 */
import { IdIndex } from './idIndex.js';
import type { IdHolder } from './idIndex.js';

export interface StreamState extends IdHolder {
  name: string;
  /** Version including appends accepted but not yet durable: what `expectedVersion` is checked against. */
  version: number;
  /** Version of what is durable: what readers see. */
  committed: number;
  /**
   * The stream's appends (chunks: runs of its events written as one record), in stream order, as
   * parallel number arrays (no object per append): first version, first global position, and the
   * committed record's index in `LogIndex` (-1 while its write is in flight). The committed ones
   * are a prefix, `committedChunks` long.
   */
  chunkVersion: number[];
  chunkPosition: number[];
  chunkRecord: number[];
  committedChunks: number;
}

export class LogIndex {
  readonly streams = new Map<string, StreamState>();
  /** Event id → (stream, version), pending appends included. */
  readonly ids = new IdIndex();
  /** Per committed record, in global order. Plain number arrays: V8 keeps them packed. */
  readonly recPosition: number[] = [];
  readonly recCount: number[] = [];
  readonly recSegment: number[] = [];
  readonly recOffset: number[] = [];
  readonly recBytes: number[] = [];
  /** Global position of the last durable event (0 when empty). */
  head = 0;
  events = 0;

  stream(name: string): StreamState {
    let s = this.streams.get(name);
    if (!s) {
      s = { name, version: 0, committed: 0, chunkVersion: [], chunkPosition: [], chunkRecord: [], committedChunks: 0, ordinal: -1, idList: [] };
      this.ids.register(s);
      this.streams.set(name, s);
    }
    return s;
  }

  /** Adds an append of `stream` (not yet durable) and returns its chunk index. */
  static addChunk(stream: StreamState, firstVersion: number, firstPosition: number): number {
    stream.chunkVersion.push(firstVersion);
    stream.chunkPosition.push(firstPosition);
    stream.chunkRecord.push(-1);
    return stream.chunkRecord.length - 1;
  }

  /**
   * Marks chunk `chunk` of `stream` (`count` events) durable as a record at `segment`/`offset`.
   * Records arrive in global order, and a stream's chunks in stream order.
   */
  commit(stream: StreamState, chunk: number, count: number, segment: number, offset: number, bytes: number): void {
    const r = this.recPosition.length;
    const firstPosition = stream.chunkPosition[chunk]!;
    this.recPosition.push(firstPosition);
    this.recCount.push(count);
    this.recSegment.push(segment);
    this.recOffset.push(offset);
    this.recBytes.push(bytes);
    stream.chunkRecord[chunk] = r;
    stream.committed = stream.chunkVersion[chunk]! + count - 1;
    stream.committedChunks++;
    this.head = firstPosition + count - 1;
    this.events += count;
  }

  /** Index of the committed record holding `position` (which must be in 1..head). */
  recordAt(position: number): number {
    const p = this.recPosition;
    let lo = 0;
    let hi = p.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (p[mid]! <= position) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Index of the committed chunk of `stream` holding `version` (in 1..committed). */
  static chunkAt(stream: StreamState, version: number): number {
    const v = stream.chunkVersion;
    let lo = 0;
    let hi = stream.committedChunks - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (v[mid]! <= version) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Global position of `version` in `stream`, pending chunks included. */
  static positionOf(stream: StreamState, version: number): number {
    const v = stream.chunkVersion;
    let lo = 0;
    let hi = v.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (v[mid]! <= version) lo = mid;
      else hi = mid - 1;
    }
    return stream.chunkPosition[lo]! + (version - v[lo]!);
  }
}
