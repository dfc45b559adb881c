/**
 * The event store contract for the KurrentDB adapter: always over the fake client (the whole
 * mapping layer, end to end), and against a real server when KURRENTDB_URL is set
 * (e.g. kurrentdb://127.0.0.1:2113?tls=false). No server can run on the development machines.
 */
import { describe } from 'vitest';
import { kurrentdbEventStore } from '../../../../adapters/eventStore/kurrentdb/kurrentdbEventStore.js';
import { eventStoreContract } from '../../../contracts/eventStore.contract.js';
import { FakeKurrentClient } from './fakeKurrentClient.js';

const KURRENTDB_URL = process.env.KURRENTDB_URL ?? '';
if (KURRENTDB_URL === '') {
  console.log('skipped: KURRENTDB_URL not set (kurrentdb.contract.test.ts: the contract against a real KurrentDB server); the fake-client run below still runs');
}

describe('KurrentDB adapter over a fake client', () => {
  // One fake for the file, like one server: stores never start empty.
  const fake = new FakeKurrentClient();
  eventStoreContract('kurrentdb (fake client)', async () => {
    const store = kurrentdbEventStore({ client: fake });
    return { store, cleanup: () => store.close() };
  });
});

describe.skipIf(KURRENTDB_URL === '')('KurrentDB at KURRENTDB_URL', () => {
  eventStoreContract('kurrentdb', async () => {
    const store = kurrentdbEventStore({ connectionString: KURRENTDB_URL });
    return { store, cleanup: () => store.close() };
  });
});
