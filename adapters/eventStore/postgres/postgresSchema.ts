/**
 * The PostgreSQL event store's schema, created in code on first use (no migration tool needed).
 *
 * One `events` table (DESIGN §4) and one function that appends: one round trip and one
 * transaction per append. Inside it, in order:
 *
 * 1. A per-stream transaction lock (`pg_advisory_xact_lock`, held until commit): writers of one
 *    stream take turns, so the version read next is exact and the expected-version check never
 *    races; writers of different streams do not wait for each other.
 * 2. Idempotency: if any event id is in the stream already, nothing is written and the caller
 *    decides (a retry of an earlier append, or misuse).
 * 3. The expected-version check.
 * 4. The inserts, inside a session-level advisory lock released *before* the commit. Why: a
 *    subscriber polls by `(transaction_id, global_position)` and reads only rows whose
 *    transaction is below the snapshot's xmin (`pg_snapshot_xmin(pg_current_snapshot())`), i.e.
 *    rows of transactions that have all ended, so an event committed late by a concurrent
 *    transaction is never skipped (emmett, Marten and Eventuous do the same). The port also
 *    promises global positions that only go up in delivery order, and a sequence alone does not
 *    follow transaction ids: with multi-event appends interleaving, transaction 100 can take
 *    positions 4 and 6 while transaction 101 takes 5. Taking "a transaction id + the positions"
 *    in one critical section makes transaction order and position order the same, while the
 *    commits (the disk syncs) still run concurrently and are group-committed by PostgreSQL.
 */

/** Schema names we accept: plain lower-case identifiers, so quoting is never ambiguous. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The current schema version; `migrations[i]` moves a schema from version i to i + 1. */
export const SCHEMA_VERSION = 1;

/** The NOTIFY channel that wakes subscribers of a schema (a wake-up only: they poll anyway). */
export function notifyChannel(schema: string): string {
  return `ipsec_es_events_${schema}`.slice(0, 63);
}

/**
 * A 63-bit advisory-lock key (FNV-1a of the purpose and the schema name), so stores in different
 * schemas never wait for each other.
 */
export function advisoryLockKey(purpose: 'append' | 'migrate', schema: string): bigint {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(`ipsec-es:${purpose}:${schema}`)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash & 0x7fffffffffffffffn;
}

/** A SQL string literal (schema names are plain identifiers, but quote properly anyway). */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** Statements that create version 1 of a schema; each is idempotent. */
function version1(schema: string): string[] {
  const s = `"${schema}"`;
  const lock = advisoryLockKey('append', schema).toString();
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.events (
      global_position bigserial PRIMARY KEY,
      stream_id text NOT NULL,
      stream_version bigint NOT NULL CHECK (stream_version >= 1),
      event_id text NOT NULL,
      type text NOT NULL,
      data jsonb NOT NULL,
      metadata jsonb NOT NULL,
      transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
      CONSTRAINT events_stream_event_id_key UNIQUE (stream_id, event_id)
    )`,
    `CREATE INDEX IF NOT EXISTS events_transaction_position_idx ON ${s}.events (transaction_id, global_position)`,
    // p_expected: 'any' | 'noStream' | 'streamExists' | a decimal stream version (any size).
    // o_status: 'ok' | 'conflict' | 'found': some ids are in the stream already; o_found lists
    // "version:position" (empty for a new id) per event, and the caller applies the idempotency
    // rule of adapters/eventStore/memory/storeRules.ts (a retry, or misuse).
    `CREATE OR REPLACE FUNCTION ${s}.append_to_stream(p_stream text, p_expected text, p_events jsonb)
      RETURNS TABLE (o_status text, o_version bigint, o_position bigint, o_found text)
      LANGUAGE plpgsql AS $fn$
      #variable_conflict use_column
      DECLARE
        v_count bigint := jsonb_array_length(p_events);
        v_existing bigint;
        v_current bigint;
      BEGIN
        -- One writer per stream at a time, until it commits: the version read below is exact,
        -- so two writers of one stream never race into the unique index.
        PERFORM pg_advisory_xact_lock(hashtextextended(${literal(schema)} || '/' || p_stream, 0));
        SELECT count(e.stream_version),
               string_agg(coalesce(e.stream_version::text || ':' || e.global_position::text, ''), ',' ORDER BY x.ord)
          INTO v_existing, o_found
          FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(j, ord)
          LEFT JOIN ${s}.events e ON e.stream_id = p_stream AND e.event_id = x.j ->> 'id';
        IF v_existing > 0 THEN
          o_status := 'found';
          RETURN NEXT;
          RETURN;
        END IF;
        o_found := NULL;
        SELECT coalesce(max(e.stream_version), 0) INTO v_current FROM ${s}.events e WHERE e.stream_id = p_stream;
        IF (p_expected = 'noStream' AND v_current <> 0)
           OR (p_expected = 'streamExists' AND v_current = 0)
           OR (p_expected NOT IN ('any', 'noStream', 'streamExists') AND v_current::numeric <> p_expected::numeric) THEN
          o_status := 'conflict';
          o_version := v_current;
          o_position := NULL;
          RETURN NEXT;
          RETURN;
        END IF;
        -- Critical section: the transaction id (taken by the first insert) and the positions.
        PERFORM pg_advisory_lock(${lock});
        WITH inserted AS (
          INSERT INTO ${s}.events (stream_id, stream_version, event_id, type, data, metadata)
          SELECT p_stream, v_current + x.ord, x.e ->> 'id', x.e ->> 'type', x.e -> 'data', x.e -> 'metadata'
            FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(e, ord)
            ORDER BY x.ord
          RETURNING global_position
        )
        SELECT max(global_position) INTO o_position FROM inserted;
        PERFORM pg_advisory_unlock(${lock});
        o_status := 'ok';
        o_version := v_current + v_count;
        RETURN NEXT;
      END
      $fn$`,
  ];
}

/** `migrations[i]` upgrades a schema at version i to version i + 1. */
export const migrations: ReadonlyArray<(schema: string) => string[]> = [version1];

/** Statements that bring `schema` to `SCHEMA_VERSION` (run under a lock, in one transaction). */
export function migrationStatements(schema: string, fromVersion: number): string[] {
  return migrations.slice(fromVersion).flatMap((migration) => migration(schema));
}
