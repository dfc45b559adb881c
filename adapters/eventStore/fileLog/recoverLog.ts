/**
 * Opening a log directory: read every segment, check every record, rebuild the indexes, and cut
 * off a torn tail. The rule that separates a torn write from corruption (FORMAT.md §Recovery):
 * only bytes written after the last completed write can be torn, and every record says, in
 * `durableBefore`, below which offset its segment was durable when it was written. So a damaged
 * record at offset o is
 * - corruption (`StoreCorrupted`, naming file and offset) when it is in a segment before the
 *   last one, or when some whole record later in the segment has `durableBefore > o`: o was on
 *   disk, complete, before that record was written;
 * - a torn tail otherwise: it and everything after it belong to writes that never completed, so
 *   nothing there was acknowledged. The segment is truncated at o and synced.
 */
import { open, readFile, readdir, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreCorrupted } from '../types.js';
import { LogIndex } from './logIndex.js';
import { idHash } from './idIndex.js';
import { RECORD_MAGIC, SEGMENT_HEADER_BYTES, readRecord, segmentHeader, segmentHeaderProblem } from './recordCodec.js';
import type { RecordMeta } from './recordCodec.js';

const SEGMENT_NAME = /^(\d{20})\.log$/;

/** `00000000000000000001.log`: a segment is named by the global position of its first event (Kafka's base offset). */
export function segmentName(firstPosition: number): string {
  return `${String(firstPosition).padStart(20, '0')}.log`;
}

export interface Segment {
  file: string;
  path: string;
  firstPosition: number;
}

/** What opening found and repaired. */
export interface RecoveryReport {
  segments: number;
  records: number;
  events: number;
  /** Set when a torn tail was cut off the last segment. */
  truncated?: { segment: string; offset: number; bytes: number; reason: string };
}

export interface RecoveredLog {
  segments: Segment[];
  index: LogIndex;
  /** Where the next record goes in the last segment. */
  tail: number;
  report: RecoveryReport;
}

/** Fsyncs a directory, so a file created or renamed in it survives a crash. */
export async function syncDirectory(directory: string): Promise<void> {
  const fh = await open(directory, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Creates a segment holding only its header, durably (file and directory entry). */
export async function createSegment(directory: string, firstPosition: number, flags = 'wx'): Promise<Segment> {
  const file = segmentName(firstPosition);
  const path = join(directory, file);
  const fh = await open(path, flags);
  try {
    await fh.write(segmentHeader(), 0, SEGMENT_HEADER_BYTES, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await syncDirectory(directory);
  return { file, path, firstPosition };
}

function corrupted(path: string, offset: number, what: string, why: string): StoreCorrupted {
  return new StoreCorrupted(
    `${path} is damaged at byte ${offset}: ${what}; ${why}. Events up to that point are intact; ` +
      'restore this directory from a backup (or copy it aside and truncate that segment at that byte to keep the events before it)',
  );
}

/** The first whole record after `offset` that proves `offset` had been durable, if any. */
function witnessAfter(buf: Buffer, offset: number): RecordMeta | undefined {
  let p = offset + 1;
  for (;;) {
    p = buf.indexOf(RECORD_MAGIC, p);
    if (p < 0) return undefined;
    const r = readRecord(buf, p, false);
    if (typeof r === 'string') p += 1;
    else if (r.durableBefore > offset) return r;
    else p += r.bytes;
  }
}

/**
 * Reads the log in `directory` (which must exist), creating its first segment if it has none.
 * Throws `StoreCorrupted` naming the segment file and byte offset of damage it cannot attribute
 * to a torn write.
 */
export async function recoverLog(directory: string): Promise<RecoveredLog> {
  const files = (await readdir(directory)).filter((f) => SEGMENT_NAME.test(f)).sort();
  const index = new LogIndex();
  const report: RecoveryReport = { segments: 0, records: 0, events: 0 };
  if (files.length === 0) {
    const first = await createSegment(directory, 1);
    report.segments = 1;
    return { segments: [first], index, tail: SEGMENT_HEADER_BYTES, report };
  }
  const segments: Segment[] = [];
  let tail = SEGMENT_HEADER_BYTES;
  for (let s = 0; s < files.length; s++) {
    const file = files[s]!;
    const path = join(directory, file);
    const firstPosition = Number(SEGMENT_NAME.exec(file)![1]);
    const last = s === files.length - 1;
    if (firstPosition !== index.head + 1) {
      throw new StoreCorrupted(
        `${path} starts at global position ${firstPosition}, but the log before it ends at ${index.head}: a segment is missing or misnamed; restore this directory from a backup`,
      );
    }
    segments.push({ file, path, firstPosition });
    const buf = await readFile(path);
    const headerProblem = segmentHeaderProblem(buf);
    if (headerProblem) {
      if (last && buf.length <= SEGMENT_HEADER_BYTES) {
        // Created, then the process died before the header was synced: nothing was written here.
        await createSegment(directory, firstPosition, 'w');
        report.truncated = { segment: file, offset: 0, bytes: buf.length, reason: headerProblem };
        tail = SEGMENT_HEADER_BYTES;
        continue;
      }
      throw new StoreCorrupted(`${path} is damaged at byte 0: ${headerProblem}; restore this directory from a backup`);
    }
    let off = SEGMENT_HEADER_BYTES;
    while (off < buf.length) {
      const r = readRecord(buf, off);
      if (typeof r === 'string') {
        if (!last) throw corrupted(path, off, r, 'a segment before the last one was complete and synced before the next one began');
        const witness = witnessAfter(buf, off);
        if (witness) throw corrupted(path, off, r, `the record at byte ${witness.offset} was written when every byte before ${witness.durableBefore} was on disk`);
        await truncate(path, off);
        const fh = await open(path, 'r+');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
        const zeros = buf.subarray(off).every((b) => b === 0);
        const reason = zeros ? `${r}: only zeros from here (space the writer had zeroed ahead, or a write that never landed)` : r;
        report.truncated = { segment: file, offset: off, bytes: buf.length - off, reason };
        break;
      }
      const stream = index.stream(r.streamName);
      if (r.firstPosition !== index.head + 1 || r.firstVersion !== stream.version + 1 || r.durableBefore > off) {
        throw corrupted(
          path,
          off,
          `a record for ${r.streamName} at position ${r.firstPosition}, version ${r.firstVersion}`,
          `the log before it ends at position ${index.head} and that stream at version ${stream.version}`,
        );
      }
      const chunk = LogIndex.addChunk(stream, r.firstVersion, r.firstPosition);
      for (let i = 0; i < r.count; i++) {
        stream.idList.push(r.ids[i]!);
        index.ids.add(stream, idHash(r.ids[i]!), r.firstVersion + i);
      }
      stream.version += r.count;
      index.commit(stream, chunk, r.count, s, off, r.bytes);
      report.records++;
      off += r.bytes;
    }
    tail = off;
  }
  report.segments = segments.length;
  report.events = index.events;
  return { segments, index, tail, report };
}
