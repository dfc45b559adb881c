/** The pure translation of node-postgres errors into ours; no server needed. */
import { describe, expect, it } from 'vitest';
import { IpsecError } from '../../../../engine/errors.js';
import { StoreUnavailable, StreamVersionConflict } from '../../../../adapters/eventStore/types.js';
import { isUnavailable, isUniqueViolation, toStoreError } from '../../../../adapters/eventStore/postgres/postgresErrors.js';
import { SCHEMA_NAME, advisoryLockKey, migrationStatements, notifyChannel } from '../../../../adapters/eventStore/postgres/postgresSchema.js';

function pgError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('postgresErrors', () => {
  it.each([
    ['a refused socket', pgError('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED')],
    ['a reset socket', pgError('read ECONNRESET', 'ECONNRESET')],
    ['localhost tried over IPv4 and IPv6', Object.assign(new AggregateError([pgError('connect ECONNREFUSED ::1:1', 'ECONNREFUSED')], ''), { code: 'ECONNREFUSED' })],
    ['an AggregateError without a code of its own', new AggregateError([pgError('connect ECONNREFUSED ::1:1', 'ECONNREFUSED')], '')],
    ['a connection node-postgres reports as terminated', new Error('Connection terminated unexpectedly')],
    ['a connect timeout', new Error('timeout exceeded when trying to connect')],
    ['the server shutting down (57P01)', pgError('terminating connection due to administrator command', '57P01')],
    ['the server starting up (57P03)', pgError('the database system is starting up', '57P03')],
    ['too many connections (53300)', pgError('sorry, too many clients already', '53300')],
    ['a connection exception (08006)', pgError('connection failure', '08006')],
    ['a wrong password (28P01)', pgError('password authentication failed for user "x"', '28P01')],
    ['a missing database (3D000)', pgError('database "x" does not exist', '3D000')],
  ])('maps %s to StoreUnavailable with the cause and what to do', (_, vendor) => {
    expect(isUnavailable(vendor)).toBe(true);
    const ours = toStoreError(vendor, 'appending to stream sa-1');
    expect(ours).toBeInstanceOf(StoreUnavailable);
    expect(ours).toMatchObject({ code: 'store.unavailable', cause: vendor });
    expect(ours.message).toMatch(/^PostgreSQL event store unavailable while appending to stream sa-1: .+; nothing was written by this call: check that the server is running/);
  });

  it('recognises a unique violation and leaves other server errors as store.failed with the cause', () => {
    const unique = pgError('duplicate key value violates unique constraint "events_stream_version_key"', '23505');
    expect(isUniqueViolation(unique)).toBe(true);
    expect(isUnavailable(unique)).toBe(false);
    const syntax = pgError('syntax error at or near "x"', '42601');
    const ours = toStoreError(syntax, 'reading $all');
    expect(ours).toBeInstanceOf(IpsecError);
    expect(ours).not.toBeInstanceOf(StoreUnavailable);
    expect(ours).toMatchObject({ code: 'store.failed', cause: syntax });
    expect(ours.message).toBe('PostgreSQL event store failed while reading $all: syntax error at or near "x" (42601)');
  });

  it('maps data PostgreSQL cannot store (\\u0000 in jsonb) to a TypeError about the events', () => {
    const ours = toStoreError(pgError('unsupported Unicode escape sequence', '22P05'), 'appending to stream sa-1');
    expect(ours).toBeInstanceOf(TypeError);
    expect(ours.message).toMatch(/^events: /);
  });

  it('passes our own errors and misuse errors through unchanged', () => {
    const conflict = new StreamVersionConflict('sa-1', 0n, 1n);
    expect(toStoreError(conflict, 'x')).toBe(conflict);
    const misuse = new RangeError('after: must be ≥ 0n');
    expect(toStoreError(misuse, 'x')).toBe(misuse);
    expect(toStoreError('a string', 'x').message).toMatch(/a string/);
  });
});

describe('postgresSchema', () => {
  it('accepts only plain lower-case schema names and derives distinct lock keys and channels', () => {
    expect(SCHEMA_NAME.test('ipsec_es')).toBe(true);
    for (const bad of ['Bad', 'a-b', '1abc', 'x"; DROP TABLE y; --', '']) expect(SCHEMA_NAME.test(bad)).toBe(false);
    const keys = new Set([advisoryLockKey('append', 'a'), advisoryLockKey('append', 'b'), advisoryLockKey('migrate', 'a')]);
    expect(keys.size).toBe(3);
    for (const key of keys) expect(key >= 0n && key < 2n ** 63n).toBe(true);
    expect(notifyChannel('x'.repeat(63))).toHaveLength(63);
  });

  it('creates the events table with the columns and constraints of DESIGN §4', () => {
    const sql = migrationStatements('s', 0).join('\n');
    for (const part of ['global_position bigserial PRIMARY KEY', 'UNIQUE (stream_id, stream_version)', 'UNIQUE (stream_id, event_id)',
      'data jsonb', 'metadata jsonb', 'transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id()', 'created_at timestamptz',
      'ON "s".events (transaction_id, global_position)']) {
      expect(sql).toContain(part);
    }
    expect(migrationStatements('s', 1)).toEqual([]);
  });
});
