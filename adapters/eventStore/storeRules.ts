/**
 * The rules every back end of the event store port applies the same way, stated once: argument
 * checks (DESIGN §6: misuse throws `TypeError`/`RangeError` naming the argument), the four
 * `expectedVersion` kinds, and idempotent event ids. The in-memory reference and the file log use
 * them directly; the contract suite (`test/contracts/eventStore.contract.ts`) holds every back end
 * to them.
 *
 * Idempotency, precisely (KurrentDB's rule, made deterministic):
 * - an append none of whose ids is in the stream is new: `expectedVersion` decides;
 * - an append all of whose ids are in the stream, at consecutive versions in the same order, is a
 *   retry: it writes nothing and returns what the original returned (`nextExpectedVersion` = the
 *   version of its last event, `lastGlobalPosition` = that event's position, `createdNewStream` =
 *   it began the stream), whatever `expectedVersion` it carries: the original already passed it;
 * - anything in between (some ids stored, or all but not as one run) is misuse, a `RangeError`
 *   naming `events`, and nothing is written; so is one id twice in one append. Ids are checked per
 *   stream; the data of a retry is not compared.
 *
 * Internally versions and positions are JS numbers (exact to 2^53, centuries of appends).
 */
import { StoreUnavailable, StreamVersionConflict } from './types.js';
import type { EventData, ExpectedVersion, ReadAllOptions, ReadStreamOptions, SubscribeOptions } from './types.js';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A bigint bound as a number; past 2^53 it becomes Infinity (beyond any stored position). */
function toNumber(v: bigint): number {
  return v > MAX_SAFE ? Infinity : Number(v);
}

/** Throws a `TypeError` unless `streamName` is a non-empty string. */
export function checkStreamName(streamName: unknown): asserts streamName is string {
  if (typeof streamName !== 'string' || streamName.length === 0) {
    throw new TypeError(`streamName: must be a non-empty string, got ${describe(streamName)}`);
  }
}

/** One event, serialized: what a back end stores. */
export interface SerializedEvent {
  id: string;
  type: string;
  dataJson: string;
  metadataJson: string;
}

/**
 * Checks the `events` argument and serializes each event's data and metadata to JSON.
 * Throws `TypeError` naming the bad field (`events[2].data: not JSON-serializable ...`).
 */
export function serializeEvents(events: unknown): SerializedEvent[] {
  if (!Array.isArray(events)) throw new TypeError(`events: must be an array of events, got ${describe(events)}`);
  const out: SerializedEvent[] = [];
  let ids: Set<string> | undefined;
  for (let i = 0; i < events.length; i++) {
    const e: unknown = events[i];
    if (typeof e !== 'object' || e === null) throw new TypeError(`events[${i}]: must be an event object, got ${describe(e)}`);
    const { id, type, data, metadata } = e as Partial<EventData>;
    if (typeof id !== 'string' || id.length === 0) throw new TypeError(`events[${i}].id: must be a non-empty string, got ${describe(id)}`);
    if (typeof type !== 'string' || type.length === 0) throw new TypeError(`events[${i}].type: must be a non-empty string, got ${describe(type)}`);
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new TypeError(`events[${i}].metadata: must be an object, got ${describe(metadata)}`);
    }
    if (events.length > 1) {
      ids ??= new Set();
      if (ids.has(id)) throw new RangeError(`events[${i}].id: ${JSON.stringify(id)} appears twice in one append; every fact needs its own id`);
      ids.add(id);
    }
    out.push({ id, type, dataJson: toJson(data, `events[${i}].data`), metadataJson: toJson(metadata, `events[${i}].metadata`) });
  }
  return out;
}

function toJson(value: unknown, argument: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (e) {
    throw new TypeError(`${argument}: not JSON-serializable (${(e as Error).message})`, { cause: e });
  }
  if (json === undefined) throw new TypeError(`${argument}: not JSON-serializable (got ${describe(value)})`);
  return json;
}

/** Checks `options.expectedVersion` and returns it, defaulting to `'any'`. */
export function checkExpectedVersion(expected: unknown): ExpectedVersion {
  if (expected === undefined) return 'any';
  if (typeof expected === 'bigint') {
    if (expected < 0n) throw new RangeError(`options.expectedVersion: must be ≥ 0n, got ${expected}n`);
    return expected;
  }
  if (expected === 'any' || expected === 'noStream' || expected === 'streamExists') return expected;
  throw new TypeError(`options.expectedVersion: must be a bigint, 'noStream', 'streamExists' or 'any', got ${describe(expected)}`);
}

/** Does a stream at `current` (0 = missing) satisfy `expected`? */
export function versionMatches(expected: ExpectedVersion, current: number): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'noStream':
      return current === 0;
    case 'streamExists':
      return current > 0;
    default:
      return BigInt(current) === expected;
  }
}

/** Throws `StreamVersionConflict` unless a stream at `current` satisfies `expected`. */
export function requireVersion(streamName: string, expected: ExpectedVersion, current: number): void {
  if (!versionMatches(expected, current)) throw new StreamVersionConflict(streamName, expected, BigInt(current));
}

export type IdCheck = { kind: 'new' } | { kind: 'retry'; firstVersion: number; lastVersion: number };

/** Applies the idempotency rule above; `versionOf(id)` is the version of that id in the stream, if any. */
export function checkIds(streamName: string, events: readonly SerializedEvent[], versionOf: (id: string) => number | undefined): IdCheck {
  let found = 0;
  let run = true;
  let first = 0;
  let example: string | undefined;
  for (let i = 0; i < events.length; i++) {
    const id = events[i]!.id;
    const v = versionOf(id);
    if (v === undefined) continue;
    if (found === 0) example = `${JSON.stringify(id)} at version ${v}`;
    if (i === 0) first = v;
    else if (found !== i || v !== first + i) run = false;
    found++;
  }
  if (found === 0) return { kind: 'new' };
  if (found === events.length && run) return { kind: 'retry', firstVersion: first, lastVersion: first + events.length - 1 };
  throw new RangeError(
    `events: ${found} of ${events.length} event ids are already in stream ${streamName} (${example}) but not as this exact append; ` +
      'retry an append with exactly the ids it had, and give new facts new ids',
  );
}

/** Checked `readStream` options as numbers: 1-based inclusive `from`, `maxCount` (Infinity when unset). */
export function readStreamArgs(streamName: unknown, options: ReadStreamOptions | undefined): { from: number; maxCount: number } {
  checkStreamName(streamName);
  const from = options?.from ?? 1n;
  if (typeof from !== 'bigint' || from < 1n) throw new RangeError(`options.from: must be a bigint ≥ 1n (stream versions are 1-based), got ${describe(from)}`);
  return { from: toNumber(from), maxCount: checkMaxCount(options?.maxCount) };
}

/** Checked `readAll` options as numbers: exclusive `after`, `maxCount` (Infinity when unset). */
export function readAllArgs(options: ReadAllOptions | undefined): { after: number; maxCount: number } {
  return { after: checkAfter(options?.after), maxCount: checkMaxCount(options?.maxCount) };
}

/** Checked `subscribe` checkpoint. */
export function subscribeArgs(options: SubscribeOptions | undefined): number {
  return checkAfter(options?.after);
}

function checkAfter(after: unknown = 0n): number {
  if (typeof after !== 'bigint' || after < 0n) throw new RangeError(`options.after: must be a bigint ≥ 0n (a global position), got ${describe(after)}`);
  return toNumber(after);
}

function checkMaxCount(maxCount: unknown): number {
  if (maxCount === undefined) return Infinity;
  if (typeof maxCount !== 'number' || !(Number.isSafeInteger(maxCount) || maxCount === Infinity) || maxCount < 0) {
    throw new RangeError(`options.maxCount: must be an integer ≥ 0, got ${describe(maxCount)}`);
  }
  return maxCount;
}

/** The error every call on a closed store gets (and every subscriber that subscribes to one). */
export function storeClosed(what: string): StoreUnavailable {
  return new StoreUnavailable(`${what}: the event store is closed; open a new one to keep using this log`);
}

function describe(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : String(v);
}
