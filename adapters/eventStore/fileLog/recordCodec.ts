/**
 * The bytes of the file log (FORMAT.md beside this file is the specification; this is its code).
 * A segment is a 16-byte header and then records; a record is one append: a 24-byte header
 * (magic, payload length, durable-before offset, payload CRC-32C, header CRC-32C) and a payload
 * (the stream, its first version and global position, the event ids, the events as one JSON array).
 * All integers little-endian.
 */
import { crc32c } from './crc32c.js';
import type { SerializedEvent } from '../storeRules.js';
import type { EventMetadata } from '../types.js';

export const SEGMENT_MAGIC = Buffer.from('ipsec-es', 'latin1');
export const FORMAT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 16;
export const RECORD_HEADER_BYTES = 24;
/** "\xFFESL": 0xFF never occurs in UTF-8, so JSON text cannot imitate a record start. */
export const RECORD_MAGIC = Buffer.from([0xff, 0x45, 0x53, 0x4c]);
const RECORD_MAGIC_U32 = RECORD_MAGIC.readUInt32LE(0);
export const KIND_EVENTS = 1;
/** One append at most; V8 strings cap out near 512 MiB, and a log record should be far smaller. */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;
const PAYLOAD_FIXED_BYTES = 28;

const TWO_32 = 2 ** 32;

function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32LE(value % TWO_32, at);
  buf.writeUInt32LE(Math.floor(value / TWO_32), at + 4);
}

function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * TWO_32;
}

/** A fresh segment's header: magic "ipsec-es", format version, CRC-32C of the 12 bytes before it. */
export function segmentHeader(): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(b, 0);
  b.writeUInt32LE(FORMAT_VERSION, 8);
  b.writeUInt32LE(crc32c(b, 0, 0, 12), 12);
  return b;
}

/** Undefined when `buf` starts with a valid segment header, else what is wrong with it. */
export function segmentHeaderProblem(buf: Buffer): string | undefined {
  if (buf.length < SEGMENT_HEADER_BYTES) return `segment header is ${buf.length} of ${SEGMENT_HEADER_BYTES} bytes`;
  if (!buf.subarray(0, 8).equals(SEGMENT_MAGIC)) return 'not an ipsec-es log segment (bad magic)';
  if (buf.readUInt32LE(12) !== crc32c(buf, 0, 0, 12)) return 'segment header checksum mismatch';
  const version = buf.readUInt32LE(8);
  if (version !== FORMAT_VERSION) return `segment format version ${version}; this build reads version ${FORMAT_VERSION}`;
  return undefined;
}

/**
 * One append as a record, its header's durable-before field and header CRC still blank: the
 * writer fills them in (`sealRecord`) when it knows what is durable at the time of the write.
 * Also returns the events' JSON array text (live subscribers parse it, not the bytes).
 * Throws `RangeError` naming `events` if the record would exceed `MAX_PAYLOAD_BYTES`.
 */
export function encodeRecord(streamName: string, firstVersion: number, firstPosition: number, events: readonly SerializedEvent[]): { record: Buffer; json: string } {
  let json = '[';
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    json += `${i === 0 ? '' : ','}[${JSON.stringify(e.type)},${e.dataJson},${e.metadataJson}]`;
  }
  json += ']';
  const nameBytes = Buffer.byteLength(streamName);
  let payloadBytes = PAYLOAD_FIXED_BYTES + nameBytes + Buffer.byteLength(json);
  for (const e of events) payloadBytes += 4 + Buffer.byteLength(e.id);
  if (payloadBytes > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`events: this append is ${payloadBytes} bytes as a record; one append is at most ${MAX_PAYLOAD_BYTES} bytes`);
  }
  const buf = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payloadBytes);
  let at = RECORD_HEADER_BYTES;
  buf.writeUInt8(KIND_EVENTS, at);
  buf.writeUInt8(0, at + 1);
  buf.writeUInt16LE(0, at + 2);
  buf.writeUInt32LE(events.length, at + 4);
  writeU64(buf, firstPosition, at + 8);
  writeU64(buf, firstVersion, at + 16);
  buf.writeUInt32LE(nameBytes, at + 24);
  at += PAYLOAD_FIXED_BYTES;
  at += buf.write(streamName, at, 'utf8');
  for (const e of events) {
    const n = buf.write(e.id, at + 4, 'utf8');
    buf.writeUInt32LE(n, at);
    at += 4 + n;
  }
  at += buf.write(json, at, 'utf8');
  buf.writeUInt32LE(RECORD_MAGIC_U32, 0);
  buf.writeUInt32LE(payloadBytes, 4);
  buf.writeUInt32LE(crc32c(buf, 0, RECORD_HEADER_BYTES, at), 16);
  return { record: buf, json };
}

/**
 * Fills in the header fields known at write time: `durableBefore`, the segment offset below
 * which every byte was durable when this record's write was issued (recovery's witness that a
 * damaged record before it is corruption, not a torn write), and the header CRC.
 */
export function sealRecord(record: Buffer, durableBefore: number): void {
  writeU64(record, durableBefore, 8);
  record.writeUInt32LE(crc32c(record, 0, 0, 20), 20);
}

/** A record's payload, decoded except for the events' JSON. */
export interface RecordMeta {
  /** Offset of the record (its header) in its segment. */
  offset: number;
  /** Header plus payload. */
  bytes: number;
  durableBefore: number;
  count: number;
  firstPosition: number;
  firstVersion: number;
  streamName: string;
  ids: string[];
  /** Absolute offsets of the events' JSON array in the buffer it was decoded from. */
  jsonStart: number;
  jsonEnd: number;
}

/**
 * Checks and decodes the record at `off` in `buf` (`buf` may end anywhere). Returns what is wrong
 * with it as a string when it is not a whole, valid record. `withIds: false` skips decoding ids.
 */
export function readRecord(buf: Buffer, off: number, withIds = true): RecordMeta | string {
  if (off + RECORD_HEADER_BYTES > buf.length) return `record header cut short (${buf.length - off} of ${RECORD_HEADER_BYTES} bytes)`;
  if (buf.readUInt32LE(off) !== RECORD_MAGIC_U32) return 'no record magic';
  if (buf.readUInt32LE(off + 20) !== crc32c(buf, 0, off, off + 20)) return 'record header checksum mismatch';
  const payloadBytes = buf.readUInt32LE(off + 4);
  const start = off + RECORD_HEADER_BYTES;
  const end = start + payloadBytes;
  if (payloadBytes < PAYLOAD_FIXED_BYTES || payloadBytes > MAX_PAYLOAD_BYTES) return `record length ${payloadBytes} out of range`;
  if (end > buf.length) return `record cut short (${buf.length - start} of ${payloadBytes} payload bytes)`;
  if (buf.readUInt32LE(off + 16) !== crc32c(buf, 0, start, end)) return 'record payload checksum mismatch';
  // The checksums passed: what follows is what a writer wrote; a misfit is a bug, not a torn write.
  const kind = buf.readUInt8(start);
  if (kind !== KIND_EVENTS) return `unknown record kind ${kind}`;
  const count = buf.readUInt32LE(start + 4);
  const nameBytes = buf.readUInt32LE(start + 24);
  let at = start + PAYLOAD_FIXED_BYTES + nameBytes;
  if (count === 0 || at > end) return 'malformed record payload';
  const streamName = buf.toString('utf8', start + PAYLOAD_FIXED_BYTES, at);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 4 > end) return 'malformed record payload';
    const n = buf.readUInt32LE(at);
    if (at + 4 + n > end) return 'malformed record payload';
    if (withIds) ids.push(buf.toString('utf8', at + 4, at + 4 + n));
    at += 4 + n;
  }
  return {
    offset: off,
    bytes: end - off,
    durableBefore: readU64(buf, off + 8),
    count,
    firstPosition: readU64(buf, start + 8),
    firstVersion: readU64(buf, start + 16),
    streamName,
    ids,
    jsonStart: at,
    jsonEnd: end,
  };
}

/** The events of a decoded record as `[type, data, metadata]` triples; undefined if malformed. */
export function recordEvents(buf: Buffer, meta: RecordMeta): [string, unknown, EventMetadata][] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.toString('utf8', meta.jsonStart, meta.jsonEnd));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== meta.count) return undefined;
  return parsed as [string, unknown, EventMetadata][];
}
