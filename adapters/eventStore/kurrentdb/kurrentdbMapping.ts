/**
 * The mapping between the event store port and KurrentDB (pure: no I/O, no client import at run
 * time), unit-tested against a fake of the client.
 *
 * Versions. Ours are 1-based (first event 1n, empty stream 0n); KurrentDB revisions are 0-based.
 * So revision = version − 1n, and an expected version n maps to revision n − 1n, with 0n
 * ("empty") mapping to `NO_STREAM`.
 *
 * Global positions. A `$all` position is `{ commit, prepare }`: byte offsets in KurrentDB's
 * transaction log. Our global position is `commit + 1n` (1-based, like ours; the + 1n keeps an
 * event at offset 0 from looking like "before everything"). Offsets leave large gaps between
 * events, which the port allows. A checkpoint `after` maps back to `{ commit: after − 1n,
 * prepare: after − 1n }`; reads from it drop events at or before `after`, whether the server
 * treats the position as inclusive (reads) or exclusive (subscriptions).
 * Caveat: an appended event's commit and prepare positions are equal, and distinct per event,
 * for every append made through gRPC; only the legacy TCP API's explicit transactions wrote
 * several events under one commit position. Such events cannot get distinct global positions:
 * the reader reports them as `StoreCorrupted` instead of delivering an order it cannot resume.
 *
 * Event ids. KurrentDB wants UUIDs; ours are any string. A UUID is used as is; any other id is
 * turned into a name-based UUID (RFC 9562 v5, SHA-1) so retries map to the same UUID and
 * KurrentDB's own idempotency still works. The original id travels in the metadata under
 * `ORIGINAL_ID_KEY` and is restored on read.
 */
import { createHash } from 'node:crypto';
import type {
  AllStreamResolvedEvent, AppendStreamState, CurrentStreamState, Filter, JSONEventData, JSONType, Position, ReadPosition,
  ReadRevision, ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { IpsecError } from '../../../engine/errors.js';
import { StoreCorrupted, StoreUnavailable, StreamVersionConflict } from '../types.js';
import type { EventData, EventMetadata, ExpectedVersion, RecordedEvent } from '../types.js';

/** Metadata key holding our event id (KurrentDB's own id is a UUID derived from it). */
export const ORIGINAL_ID_KEY = 'ipsecEsEventId';

/** Only events of non-system types (KurrentDB's own `excludeSystemEvents()` filter, built here). */
export const EXCLUDE_SYSTEM_EVENTS: Filter = { filterOn: 'eventType', regex: '^[^$].*', checkpointInterval: 1 };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Namespace of our name-based UUIDs (a fixed random UUID). */
const ID_NAMESPACE = Buffer.from('6f1c2a4e9d3b4c7a8e5f0a1b2c3d4e5f', 'hex');

/** Our expected version as KurrentDB's expected stream state. */
export function toStreamState(expected: ExpectedVersion): AppendStreamState {
  switch (expected) {
    case 'any': return 'any';
    case 'noStream': return 'no_stream';
    case 'streamExists': return 'stream_exists';
    default: return expected === 0n ? 'no_stream' : expected - 1n;
  }
}

/** KurrentDB's expected stream state back as ours (for error messages). */
export function fromStreamState(state: AppendStreamState): ExpectedVersion {
  switch (state) {
    case 'any': return 'any';
    case 'no_stream': return 'noStream';
    case 'stream_exists': return 'streamExists';
    default: return state + 1n;
  }
}

/** A 0-based revision as our 1-based version. */
export function toVersion(revision: bigint): bigint {
  return revision + 1n;
}

/** KurrentDB's "current stream state" in an error as our version (0n for no stream). */
export function currentStateToVersion(state: CurrentStreamState | undefined): bigint | undefined {
  if (state === 'no_stream') return 0n;
  return typeof state === 'bigint' && state >= 0n ? state + 1n : undefined;
}

/** The revision to read a stream from, for our 1-based `from` (0n and 1n both mean the start). */
export function toReadRevision(from: bigint): ReadRevision {
  return from <= 1n ? 'start' : from - 1n;
}

/** A `$all` position as our global position. */
export function toGlobalPosition(position: Position): bigint {
  return position.commit + 1n;
}

/** Our checkpoint as the `$all` position to read or subscribe from. */
export function toReadPosition(after: bigint): ReadPosition {
  return after === 0n ? 'start' : { commit: after - 1n, prepare: after - 1n };
}

/** Our event id as KurrentDB's: a UUID as is (lower case), anything else a v5 UUID of it. */
export function toKurrentId(id: string): string {
  if (UUID.test(id)) return id.toLowerCase();
  const hash = createHash('sha1').update(ID_NAMESPACE).update(id, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Our event as a KurrentDB JSON event. */
export function toKurrentEvent(event: EventData): JSONEventData {
  return {
    id: toKurrentId(event.id),
    contentType: 'application/json',
    type: event.type,
    // KurrentDB's JSON serializer takes any JSON value; its type names objects, arrays and strings.
    data: (event.data ?? null) as JSONType,
    metadata: { ...event.metadata, [ORIGINAL_ID_KEY]: event.id },
  };
}

/**
 * A KurrentDB event as ours; `undefined` for what is not one of ours to deliver: a missing
 * event (an unresolved link) or, when `skipSystem`, a system stream or event type (`$...`).
 */
export function fromKurrentEvent(resolved: ResolvedEvent | AllStreamResolvedEvent, skipSystem: boolean): RecordedEvent | undefined {
  const recorded = resolved.event;
  if (recorded === undefined) return undefined;
  if (skipSystem && (recorded.streamId.startsWith('$') || recorded.type.startsWith('$'))) return undefined;
  const position = recorded.position;
  if (position === undefined) {
    throw new StoreCorrupted(`KurrentDB returned event ${recorded.id} of stream ${recorded.streamId} without a $all position: ipsec-es needs KurrentDB or EventStoreDB 22.6 or later`);
  }
  const rawMetadata = decodeJson(recorded.metadata);
  const metadata: Record<string, unknown> = typeof rawMetadata === 'object' && rawMetadata !== null && !Array.isArray(rawMetadata)
    ? { ...(rawMetadata as Record<string, unknown>) } : {};
  const originalId = metadata[ORIGINAL_ID_KEY];
  delete metadata[ORIGINAL_ID_KEY];
  return {
    id: typeof originalId === 'string' ? originalId : recorded.id,
    type: recorded.type,
    data: recorded.isJson ? recorded.data : decodeJson(recorded.data),
    metadata: metadata as EventMetadata,
    streamName: recorded.streamId,
    streamVersion: toVersion(recorded.revision),
    globalPosition: toGlobalPosition(position),
  };
}

/** Bytes that hold JSON as the value (other bytes as they are); `undefined` stays. */
function decodeJson(value: unknown): unknown {
  if (!(value instanceof Uint8Array)) return value;
  if (value.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')) as unknown;
  } catch {
    return value;
  }
}

/** What kind of KurrentDB failure an error is. */
export type KurrentFailure =
  | { kind: 'conflict'; actual: bigint | undefined }
  | { kind: 'streamNotFound' }
  | { kind: 'unavailable' }
  | { kind: 'other' };

/**
 * Classifies a client error. Against a server that is down the client fails differently per call
 * (measured with @kurrent/kurrentdb-client 1.3.1): append rejects with a plain gRPC error with
 * `code` 14 ("14 UNAVAILABLE: No connection established"), reads with `UnavailableError` (type
 * `'unavailable'`, message "UnavailableError") after ~0.5 s, subscribe with `UnavailableError`
 * carrying code 14. All of them, a deadline passed, a follower asked to lead and a socket
 * refused are "unavailable".
 */
export function classifyError(error: unknown): KurrentFailure {
  if (typeof error !== 'object' || error === null) return { kind: 'other' };
  const { type, code, message, actualState } = error as { type?: unknown; code?: unknown; message?: unknown; actualState?: unknown };
  if (type === 'wrong-expected-version') return { kind: 'conflict', actual: currentStateToVersion(actualState as CurrentStreamState | undefined) };
  if (type === 'stream-not-found') return { kind: 'streamNotFound' };
  if (type === 'unavailable' || type === 'deadline-exceeded' || type === 'not-leader' || code === 14 || code === 4) return { kind: 'unavailable' };
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|EPIPE)$/.test(code)) return { kind: 'unavailable' };
  if (typeof message === 'string' && /UNAVAILABLE|ECONNREFUSED|No connection established|failed to connect/i.test(message)) return { kind: 'unavailable' };
  return { kind: 'other' };
}

/** Where a failure happened, for our error. */
export interface FailureContext {
  /** "appending to stream sa-1", "reading $all", ... */
  action: string;
  /** For appends: the stream and what the writer expected (a conflict names both). */
  streamName?: string;
  expected?: ExpectedVersion;
  /** The stream's version, when the caller looked it up because the error did not say. */
  actual?: bigint;
}

/**
 * Our error for a failed KurrentDB call, the client's error as `cause`. Our own errors and
 * misuse errors pass through.
 *
 * @example
 * catch (e) { throw toStoreError(e, { action: 'appending to stream sa-1', streamName: 'sa-1', expected: 3n }) }
 */
export function toStoreError(error: unknown, context: FailureContext): Error {
  if (error instanceof IpsecError || error instanceof TypeError || error instanceof RangeError) return error;
  const failure = classifyError(error);
  const detail = describe(error);
  switch (failure.kind) {
    case 'conflict':
      return new StreamVersionConflict(context.streamName ?? '?', context.expected ?? 'any', failure.actual ?? context.actual ?? -1n, { cause: error });
    case 'unavailable':
      return new StoreUnavailable(
        `KurrentDB event store unavailable while ${context.action}: ${detail}; nothing was written by this call: check that the server is running and the connection string (host, port, tls) is right, then retry`,
        { cause: error },
      );
    default:
      return new IpsecError('store.failed', `KurrentDB event store failed while ${context.action}: ${detail}`, { cause: error });
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const type = (error as { type?: unknown }).type;
  const raw = (error as { _raw?: { details?: unknown } })._raw?.details;
  const message = error.message === 'UnavailableError' && typeof raw === 'string' && raw !== '' ? raw : error.message;
  return typeof type === 'string' && !message.toLowerCase().includes(type.toLowerCase()) ? `${message} (${type})` : message;
}
