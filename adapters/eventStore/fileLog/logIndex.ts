/**
 * The file log's in-memory indexes: caches rebuilt from the segments on every open, never
 * written anywhere. Records by global position (for `readAll`), each stream's records by version
 * (for `readStream`) and each stream's event ids (for idempotent retries).
 */

/** A run of one stream's events written as one record. */
export interface Chunk {
  firstVersion: number;
  firstPosition: number;
  count: number;
  /** Index of the committed record in `LogIndex`, or -1 while its write is in flight. */
  record: number;
}

export interface StreamState {
  name: string;
  /** Version including appends accepted but not yet durable: what `expectedVersion` is checked against. */
  version: number;
  /** Version of what is durable: what readers see. */
  committed: number;
  /** In stream order; the committed ones are a prefix (`committedChunks` long). */
  chunks: Chunk[];
  committedChunks: number;
  /** Event id → stream version, pending ones included. */
  ids: Map<string, number>;
}

export class LogIndex {
  readonly streams = new Map<string, StreamState>();
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
      s = { name, version: 0, committed: 0, chunks: [], committedChunks: 0, ids: new Map() };
      this.streams.set(name, s);
    }
    return s;
  }

  /** Marks `chunk` of `stream` durable as a record at `segment`/`offset`. Records arrive in global order. */
  commit(stream: StreamState, chunk: Chunk, segment: number, offset: number, bytes: number): void {
    const r = this.recPosition.length;
    this.recPosition.push(chunk.firstPosition);
    this.recCount.push(chunk.count);
    this.recSegment.push(segment);
    this.recOffset.push(offset);
    this.recBytes.push(bytes);
    chunk.record = r;
    stream.committed = chunk.firstVersion + chunk.count - 1;
    stream.committedChunks++;
    this.head = chunk.firstPosition + chunk.count - 1;
    this.events += chunk.count;
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

  /** Index into `stream.chunks` of the committed chunk holding `version` (in 1..committed). */
  static chunkAt(stream: StreamState, version: number): number {
    const c = stream.chunks;
    let lo = 0;
    let hi = stream.committedChunks - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (c[mid]!.firstVersion <= version) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Global position of `version` in `stream`, pending chunks included. */
  static positionOf(stream: StreamState, version: number): number {
    const c = stream.chunks;
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (c[mid]!.firstVersion <= version) lo = mid;
      else hi = mid - 1;
    }
    const chunk = c[lo]!;
    return chunk.firstPosition + (version - chunk.firstVersion);
  }
}
