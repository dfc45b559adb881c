/**
 * Shared by the PostgreSQL tests: the server URL (PG_URL; CI starts a server with
 * ../shared/scripts/postgres-up.sh and sets it), a fresh schema per test file, and events.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { EventData } from '../../../../adapters/eventStore/types.js';

export const PG_URL = process.env.PG_URL ?? '';

/** Prints the visible skip line when no server is configured. */
export function announceSkip(file: string): void {
  if (PG_URL === '') console.log(`skipped: PG_URL not set (${file}); run ../shared/scripts/postgres-up.sh and export PG_URL=<the URL it prints>`);
}

/** A schema name of its own for one test file (dropped by `dropSchemas`). */
export function freshSchema(label: string): string {
  return `ipsec_es_test_${label}_${process.pid}_${randomUUID().slice(0, 8)}`.toLowerCase();
}

/** A raw client for the tests' own SQL (the store never hands out its connections). */
export async function rawClient(applicationName = 'ipsec-es-test'): Promise<Client> {
  const client = new Client({ connectionString: PG_URL, application_name: applicationName });
  client.on('error', () => {});
  await client.connect();
  return client;
}

export async function dropSchemas(schemas: readonly string[]): Promise<void> {
  if (PG_URL === '' || schemas.length === 0) return;
  const client = await rawClient();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

let counter = 0;

/** An event with a fresh id unless one is given. */
export function event(type = 'SaInstalled', data: unknown = { spi: 0x1234, n: counter }, id = `evt-${++counter}-${randomUUID()}`): EventData {
  return { id, type, data, metadata: { at: '2024-05-01T12:00:00.000Z', schemaVersion: 1, correlationId: 'c-1' } };
}
