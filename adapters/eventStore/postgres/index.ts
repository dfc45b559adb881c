/**
 * `ipsec-es/adapters/postgres`: the PostgreSQL event store (needs the `pg` package).
 *
 * @example
 * import { postgresEventStore } from 'ipsec-es/adapters/postgres';
 * const store = postgresEventStore({ connectionString: process.env.PG_URL });
 */
export { postgresEventStore } from './postgresEventStore.js';
export type { PostgresEventStore, PostgresEventStoreOptions } from './postgresEventStore.js';
