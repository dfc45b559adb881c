/**
 * A server that is down: every call becomes StoreUnavailable with the vendor error as `cause`.
 * Uses a closed port, so it always runs (no PG_URL needed).
 */
import { describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { postgresEventStore } from '../../../../adapters/eventStore/postgres/postgresEventStore.js';
import { StoreUnavailable } from '../../../../adapters/eventStore/types.js';
import type { EventData } from '../../../../adapters/eventStore/types.js';

const event: EventData = { id: 'e-1', type: 'SaInstalled', data: {}, metadata: { at: '2024-05-01T12:00:00.000Z', schemaVersion: 1 } };

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => { throw new Error('expected a failure'); }, (error: unknown) => error);
}

describe('postgresEventStore with the server down (closed port)', () => {
  it.each(['127.0.0.1', 'localhost'])('turns append, readStream, readAll and subscribe into StoreUnavailable (%s)', async (host) => {
    const store = postgresEventStore({ connectionString: `postgres://u:p@${host}:1/db`, schema: 'down' });
    try {
      const errors = [
        await failure(store.appendToStream('sa-1', [event], { expectedVersion: 'noStream' })),
        await failure(store.readStream('sa-1')),
        await failure(store.readAll()),
        await failure(firstValueFrom(store.subscribe())),
      ];
      for (const error of errors) {
        expect(error).toBeInstanceOf(StoreUnavailable);
        expect(error).toMatchObject({ code: 'store.unavailable', name: 'StoreUnavailable' });
        expect((error as Error).message).toMatch(/ECONNREFUSED.*check that the server is running/);
        expect((error as Error).cause).toBeDefined();
      }
    } finally {
      await store.close();
    }
  });
});
