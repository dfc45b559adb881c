/**
 * The event store contract against PostgreSQL (PG_URL). One schema for this file, dropped
 * after; a fresh store (and pool) per test.
 */
import { afterAll, describe } from 'vitest';
import { postgresEventStore } from '../../../../adapters/eventStore/postgres/postgresEventStore.js';
import { eventStoreContract } from '../../../contracts/eventStore.contract.js';
import { PG_URL, announceSkip, dropSchemas, freshSchema } from './pgTestSupport.js';

announceSkip('postgres.contract.test.ts');

describe.skipIf(PG_URL === '')('PostgreSQL at PG_URL', () => {
  const schema = freshSchema('contract');
  afterAll(() => dropSchemas([schema]));
  eventStoreContract('postgres', async () => {
    const store = postgresEventStore({ connectionString: PG_URL, schema, pollIntervalMs: 50 });
    return { store, cleanup: () => store.close() };
  });
});
