/**
 * The bytes of the file log (FORMAT.md beside this file is the specification; this is its code).
 * A segment is a 16-byte header and then records; a record is one append: a 24-byte header
 * (magic, payload length, durable-before offset, payload CRC-32C, header CRC-32C) and a payload
 * (the stream, its first version and global position, the event ids, the events as one JSON array).
 * All integers little-endian.
 */
import { crc32c } from './crc32c.js';
import { serializeEvents } from '../storeRules.js';
import type { SerializedEvent } from '../storeRules.js';
import type { EventData, EventMetadata } from '../types.js';

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
 * The events of one append as the JSON array text a record stores (`[[type, data, metadata], …]`),
 * after the checks of `serializeEvents` (storeRules.ts). One `JSON.stringify` call for the whole
 * append in the common case; anything unusual (a `toJSON`, a value JSON cannot hold, a bad field)
 * goes through `serializeEvents`, which throws the error naming the field, or yields the same text.
 *
 * @example
 * eventsJson([{ id: 'e1', type: 'SaInstalled', data: { spi: 1 }, metadata: { at: '…' } }]); // '[["SaInstalled",{"spi":1},{"at":"…"}]]'
 */
export function eventsJson(events: readonly EventData[]): string {
  if (!Array.isArray(events)) return slowEventsJson(events);
  const n = events.length;
  const triples: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const e: unknown = events[i];
    if (typeof e !== 'object' || e === null) return slowEventsJson(events);
    const { id, type, data, metadata } = e as EventData;
    if (typeof id !== 'string' || id.length === 0 || typeof type !== 'string' || type.length === 0 || !plainJsonObject(metadata) || Array.isArray(metadata)) return slowEventsJson(events);
    // JSON.stringify turns undefined (or a function) inside an array into null; alone, into nothing.
    if (data === undefined || typeof data === 'function' || typeof data === 'symbol' || (typeof data === 'object' && data !== null && !plainJsonObject(data))) return slowEventsJson(events);
    triples[i] = [type, data, metadata];
  }
  if (n > 1) {
    const ids = new Set<string>();
    for (let i = 0; i < n; i++) ids.add(events[i]!.id);
    if (ids.size !== n) return slowEventsJson(events);
  }
  try {
    return JSON.stringify(triples);
  } catch {
    return slowEventsJson(events); // a BigInt or a cycle: serializeEvents names the field
  }
}

/** An object whose JSON text is its own (no `toJSON` of its own making). */
function plainJsonObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { toJSON?: unknown }).toJSON !== 'function';
}

function slowEventsJson(events: unknown): string {
  const serialized = serializeEvents(events);
  let json = '[';
  for (let i = 0; i < serialized.length; i++) {
    const e = serialized[i]!;
    json += `${i === 0 ? '' : ','}[${JSON.stringify(e.type)},${e.dataJson},${e.metadataJson}]`;
  }
  return `${json}]`;
}

/**
 * An upper bound of the record `encodeRecordInto` makes of these strings (UTF-8 needs at most 3
 * bytes per UTF-16 code unit), cheap to compute: what the writer reserves before encoding.
 */
export function recordBytesBound(streamName: string, events: readonly { id: string }[], json: string): number {
  let units = streamName.length + json.length;
  for (let i = 0; i < events.length; i++) units += events[i]!.id.length;
  return RECORD_HEADER_BYTES + PAYLOAD_FIXED_BYTES + 4 * events.length + 3 * units;
}

/**
 * The exact size of that record. Throws `RangeError` naming `events` if it would exceed
 * `MAX_PAYLOAD_BYTES`.
 */
export function recordBytesExact(streamName: string, events: readonly { id: string }[], json: string): number {
  let payload = PAYLOAD_FIXED_BYTES + Buffer.byteLength(streamName) + Buffer.byteLength(json);
  for (let i = 0; i < events.length; i++) payload += 4 + Buffer.byteLength(events[i]!.id);
  if (payload > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`events: this append is ${payload} bytes as a record; one append is at most ${MAX_PAYLOAD_BYTES} bytes`);
  }
  return RECORD_HEADER_BYTES + payload;
}

/**
 * Encodes one append as a record into `buf` at `at` and returns its length. The caller has made
 * room: `recordBytesBound` (or `recordBytesExact`) bytes from `at`. The header's durable-before
 * field and header CRC stay blank: the writer fills them in (`sealRecord`) when it knows what is
 * durable at the time of the write. Throws `RangeError` naming `events` if the record would exceed
 * `MAX_PAYLOAD_BYTES` (then nothing counts as written).
 */
export function encodeRecordInto(buf: Buffer, at: number, streamName: string, firstVersion: number, firstPosition: number, events: readonly { id: string }[], json: string): number {
  const start = at + RECORD_HEADER_BYTES;
  let p = start + PAYLOAD_FIXED_BYTES;
  const nameBytes = writeShort(buf, streamName, p);
  p += nameBytes;
  for (let i = 0; i < events.length; i++) {
    const n = writeShort(buf, events[i]!.id, p + 4);
    buf.writeUInt32LE(n, p);
    p += 4 + n;
  }
  p += buf.write(json, p, 'utf8');
  const payloadBytes = p - start;
  if (payloadBytes > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`events: this append is ${payloadBytes} bytes as a record; one append is at most ${MAX_PAYLOAD_BYTES} bytes`);
  }
  buf.writeUInt32LE(KIND_EVENTS, start); // kind 1, then 3 reserved zero bytes
  buf.writeUInt32LE(events.length, start + 4);
  writeU64(buf, firstPosition, start + 8);
  writeU64(buf, firstVersion, start + 16);
  buf.writeUInt32LE(nameBytes, start + 24);
  buf.writeUInt32LE(RECORD_MAGIC_U32, at);
  buf.writeUInt32LE(payloadBytes, at + 4);
  buf.writeUInt32LE(crc32c(buf, 0, start, p), at + 16);
  return p - at;
}

/**
 * Writes `s` as UTF-8 at `at` and returns its length in bytes. Short ASCII strings (stream names,
 * event ids) are copied in a loop, which is cheaper than a call into `buf.write`'s native code.
 */
function writeShort(buf: Buffer, s: string, at: number): number {
  const n = s.length;
  if (n > 64) return buf.write(s, at, 'utf8');
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return buf.write(s, at, 'utf8');
    buf[at + i] = c;
  }
  return n;
}

/**
 * One append as a record of its own (tests and the bench use it; the writer encodes straight
 * into its batch with `encodeRecordInto`). Also returns the events' JSON array text.
 * Throws `RangeError` naming `events` if the record would exceed `MAX_PAYLOAD_BYTES`.
 */
export function encodeRecord(streamName: string, firstVersion: number, firstPosition: number, events: readonly SerializedEvent[]): { record: Buffer; json: string } {
  let json = '[';
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    json += `${i === 0 ? '' : ','}[${JSON.stringify(e.type)},${e.dataJson},${e.metadataJson}]`;
  }
  json += ']';
  const buf = Buffer.allocUnsafe(recordBytesExact(streamName, events, json));
  encodeRecordInto(buf, 0, streamName, firstVersion, firstPosition, events, json);
  return { record: buf, json };
}

/**
 * Fills in the header fields known at write time (of the record at `at` in `buf`): `durableBefore`, the segment offset below
 * which every byte was durable when this record's write was issued (recovery's witness that a
 * damaged record before it is corruption, not a torn write), and the header CRC.
 */
export function sealRecord(buf: Buffer, durableBefore: number, at = 0): void {
  writeU64(buf, durableBefore, at + 8);
  buf.writeUInt32LE(crc32c(buf, 0, at, at + 20), at + 20);
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
