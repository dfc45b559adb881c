/**
 * Reading `$all` from the PostgreSQL event store: the `(transaction_id, global_position)`
 * cursor and its pages, and rows as `RecordedEvent`s.
 */
import type { Pool } from 'pg';
import { IpsecError } from '../../../engine/errors.js';
import type { AppendResult, RecordedEvent } from '../types.js';
import { checkIds } from '../storeRules.js';
import type { SerializedEvent } from '../storeRules.js';
import { toStoreError } from './postgresErrors.js';

/** An event row, every column as text (so a pool's own type parsers never change what we get). */
export interface Row {
  p: string; t: string; s: string; v: string; i: string; y: string; d: string; m: string; h: string;
}

/** A place in `(transaction_id, global_position)` order. */
export interface Cursor { tx: bigint; position: bigint }

export interface Page {
  /** Final events after the cursor, in order. */
  events: RecordedEvent[];
  /** After the last of them. */
  cursor: Cursor;
  /** Committed events wait behind a transaction that is still open: poll again soon. */
  heldBack: boolean;
  /** The limit was reached: there may be more right now. */
  full: boolean;
}

/** The largest bigint PostgreSQL stores: versions and positions never pass it. */
const MAX_INT8 = 2n ** 63n - 1n;

/** `value`, or the largest bigint PostgreSQL stores if it is past it (no row is). */
export function clamp(value: bigint): bigint {
  return value > MAX_INT8 ? MAX_INT8 : value;
}

/** The cursor just after global position `after` (positions follow transaction order, see postgresSchema.ts). */
export async function cursorAfter(pool: Pool, table: string, after: bigint): Promise<Cursor> {
  if (after === 0n) return { tx: 0n, position: 0n };
  try {
    const { rows } = await pool.query<{ t: string; p: string }>(
      `SELECT transaction_id::text AS t, global_position::text AS p FROM ${table}
        WHERE global_position <= $1 ORDER BY global_position DESC LIMIT 1`, [clamp(after).toString()]);
    const row = rows[0];
    return row === undefined ? { tx: 0n, position: 0n } : { tx: BigInt(row.t), position: BigInt(row.p) };
  } catch (error) {
    throw toStoreError(error, 'reading $all');
  }
}

/**
 * Up to `limit` events after `cursor` in `(transaction_id, global_position)` order, cut at the
 * first one whose transaction is not below the snapshot's xmin: everything before the cut is
 * final (no open transaction can still add a row there), everything from it on waits.
 */
export async function readPage(pool: Pool, table: string, cursor: Cursor, limit: number): Promise<Page> {
  let rows: Row[];
  try {
    ({ rows } = await pool.query<Row>(
      `SELECT global_position::text AS p, transaction_id::text AS t, stream_id AS s, stream_version::text AS v,
              event_id AS i, type AS y, data::text AS d, metadata::text AS m,
              pg_snapshot_xmin(pg_current_snapshot())::text AS h
         FROM ${table}
        WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
        ORDER BY transaction_id, global_position
        LIMIT $3`,
      [cursor.tx.toString(), cursor.position.toString(), limit]));
  } catch (error) {
    throw toStoreError(error, 'reading $all');
  }
  const events: RecordedEvent[] = [];
  let next = cursor;
  for (const row of rows) {
    const tx = BigInt(row.t);
    if (tx >= BigInt(row.h)) return { events, cursor: next, heldBack: true, full: false };
    events.push(toEvent(row));
    next = { tx, position: BigInt(row.p) };
  }
  return { events, cursor: next, heldBack: false, full: rows.length === limit };
}

export function toEvent(row: Omit<Row, 't' | 'h'>): RecordedEvent {
  return {
    id: row.i,
    type: row.y,
    data: JSON.parse(row.d) as unknown,
    metadata: JSON.parse(row.m) as RecordedEvent['metadata'],
    streamName: row.s,
    streamVersion: BigInt(row.v),
    globalPosition: BigInt(row.p),
  };
}

/**
 * The result of a retried append (the idempotency rule of storeRules.ts), from the append
 * function's "version:position" list; a partial overlap throws the rule's `RangeError`.
 */
export function retryResult(streamName: string, events: readonly SerializedEvent[], found: string): AppendResult {
  const stored = new Map<string, { version: number; position: string }>();
  found.split(',').forEach((entry, i) => {
    if (entry === '') return;
    const [version, position] = entry.split(':');
    stored.set(events[i]!.id, { version: Number(version), position: position ?? '0' });
  });
  const ids = checkIds(streamName, events, (id) => stored.get(id)?.version);
  if (ids.kind !== 'retry') throw new IpsecError('store.failed', `PostgreSQL event store: ids of stream ${streamName} reported as found but none is`);
  const last = stored.get(events.at(-1)!.id)!;
  return { nextExpectedVersion: BigInt(ids.lastVersion), lastGlobalPosition: BigInt(last.position), createdNewStream: ids.firstVersion === 1 };
}
