/**
 * PostgreSQL for `bench/store.bench.ts`: the server is PG_URL when set; otherwise the bench runs
 * the project's idempotent setup script (`../shared/scripts/postgres-up.sh`, what CI runs: it
 * starts the local cluster, installing it first if missing) and takes the URL it prints. When
 * neither works the caller prints "PostgreSQL skipped: <why>".
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { postgresEventStore } from '../../adapters/eventStore/postgres/postgresEventStore.js';
import type { PostgresEventStore } from '../../adapters/eventStore/postgres/postgresEventStore.js';

/** The server's URL and where it came from, or why there is none. */
export function postgresUrl(): { url: string; source: string } | { skip: string } {
  const env = process.env.PG_URL;
  if (env) return { url: env, source: 'PG_URL' };
  if (process.argv.includes('--no-postgres')) return { skip: '--no-postgres given' };
  const script = resolve(process.cwd(), '../shared/scripts/postgres-up.sh');
  if (!existsSync(script)) return { skip: `PG_URL not set and ${script} not found` };
  const r = spawnSync('bash', [script], { encoding: 'utf8', timeout: 180_000 });
  const last = r.stdout?.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !last.startsWith('PGURL=')) {
    const why = (r.error?.message ?? r.stderr?.trim().split('\n').at(-1)) || `exit status ${r.status}`;
    return { skip: `PG_URL not set and ${script} failed (${why})` };
  }
  return { url: last.slice('PGURL='.length), source: script };
}

/** A schema of its own for this run, dropped by `drop`. */
export function benchSchema(): string {
  return `ipsec_es_bench_${process.pid}`;
}

/**
 * A store on `schema`. `fastLoad` turns off synchronous commit for its sessions: only for loading
 * the rebuild's SAs (what is timed there is reading and folding them back).
 */
export function pgStore(url: string, schema: string, connections: number, fastLoad = false): PostgresEventStore {
  return postgresEventStore({
    connectionString: url,
    schema,
    poolConfig: { max: connections, ...(fastLoad ? { options: '-c synchronous_commit=off' } : {}) },
  });
}

/** The server's version and its durability settings, for the report. */
export async function describeServer(url: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const v = await client.query<{ server_version: string }>('SHOW server_version');
    const f = await client.query<{ fsync: string }>('SHOW fsync');
    const s = await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
    const m = await client.query<{ wal_sync_method: string }>('SHOW wal_sync_method');
    return `PostgreSQL ${v.rows[0]!.server_version}, fsync=${f.rows[0]!.fsync}, synchronous_commit=${s.rows[0]!.synchronous_commit}, wal_sync_method=${m.rows[0]!.wal_sync_method}`;
  } finally {
    await client.end();
  }
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
