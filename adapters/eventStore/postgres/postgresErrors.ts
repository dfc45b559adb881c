/**
 * Translation of `pg` (node-postgres) and PostgreSQL errors into ours (DESIGN §6: adapters never
 * leak vendor errors; the vendor error rides along as `cause`). Pure: no I/O.
 */
import { IpsecError } from '../../../engine/errors.js';
import { StoreUnavailable } from '../types.js';

/** Node socket error codes that mean "the server is not there or went away". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH',
  'EAI_AGAIN', 'ECONNABORTED', 'EADDRNOTAVAIL',
]);

/** Messages node-postgres uses for a lost or never-made connection (it gives them no code). */
const LOST_CONNECTION = /connection terminated|terminated unexpectedly|timeout exceeded when trying to connect|connection timeout|client has encountered a connection error|cannot use a pool after calling end|client was closed|not queryable/i;

/** `code` of an error (SQLSTATE for a server error, errno name for a socket error), if any. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** The SQLSTATE of a PostgreSQL server error (five characters), if `error` is one. */
export function sqlState(error: unknown): string | undefined {
  const code = errorCode(error);
  return code !== undefined && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** A unique-constraint violation (SQLSTATE 23505): in an append, another writer got there first. */
export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === '23505';
}

/**
 * True when `error` means the server cannot be reached or dropped us: a refused or reset socket,
 * a connection node-postgres reports as terminated, SQLSTATE class 08 (connection exception),
 * 57P01–57P03 (shut down, crashed, starting up), 53300 (too many connections), 3D000 (no such
 * database) or class 28 (authentication). Node reports `localhost` failures as an
 * `AggregateError` (IPv4 and IPv6 attempts): any refused attempt inside counts.
 */
export function isUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = errorCode(error);
  if (code !== undefined) {
    if (NETWORK_CODES.has(code)) return true;
    const state = sqlState(error);
    if (state !== undefined) {
      if (state.startsWith('08') || state.startsWith('28')) return true;
      if (state === '57P01' || state === '57P02' || state === '57P03' || state === '53300' || state === '3D000') return true;
    }
  }
  const nested = (error as { errors?: unknown }).errors;
  if (Array.isArray(nested) && nested.some(isUnavailable)) return true;
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' && LOST_CONNECTION.test(message);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = errorCode(error);
    const nested = (error as { errors?: unknown }).errors;
    const inner = Array.isArray(nested) && nested[0] instanceof Error ? nested[0].message : '';
    const text = error.message !== '' ? error.message : inner;
    return code !== undefined && !text.includes(code) ? `${text} (${code})` : text;
  }
  return String(error);
}

/**
 * Our error for a failed PostgreSQL call. `action` says what was being done ("appending to
 * stream sa-1"). Already-translated `IpsecError`s and misuse errors (`TypeError`, `RangeError`)
 * pass through unchanged.
 *
 * @example
 * try { await pool.query(sql) } catch (e) { throw toStoreError(e, 'reading $all') }
 */
export function toStoreError(error: unknown, action: string): Error {
  if (error instanceof IpsecError || error instanceof TypeError || error instanceof RangeError) return error;
  if (isUnavailable(error)) {
    return new StoreUnavailable(
      `PostgreSQL event store unavailable while ${action}: ${describe(error)}; nothing was written by this call: check that the server is running and the connection string (host, port, user, password, database) is right, then retry`,
      { cause: error },
    );
  }
  const state = sqlState(error);
  if (state === '22P05' || state === '22P02' || state === '54000') {
    // jsonb cannot hold \u0000 in text, or a value is too large: the caller's data, not the store.
    return new TypeError(`events: PostgreSQL rejected the event data while ${action}: ${describe(error)}`, { cause: error });
  }
  return new IpsecError('store.failed', `PostgreSQL event store failed while ${action}: ${describe(error)}`, { cause: error });
}
