/**
 * The real client against a closed port: it fails differently per call (append: a plain gRPC
 * error with code 14; reads: `UnavailableError`; subscribe: `UnavailableError` with code 14), and
 * every one becomes our StoreUnavailable. Always runs (no server needed).
 */
import { describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { kurrentdbEventStore } from '../../../../adapters/eventStore/kurrentdb/kurrentdbEventStore.js';
import { StoreUnavailable } from '../../../../adapters/eventStore/types.js';
import type { EventData } from '../../../../adapters/eventStore/types.js';

const event: EventData = { id: 'e-1', type: 'SaInstalled', data: {}, metadata: { at: '2024-05-01T12:00:00.000Z', schemaVersion: 1 } };

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => { throw new Error('expected a failure'); }, (error: unknown) => error);
}

describe('kurrentdbEventStore with the server down (closed port, real client)', () => {
  it('turns append, readStream, readAll and subscribe into StoreUnavailable', async () => {
    const store = kurrentdbEventStore({ connectionString: 'kurrentdb://127.0.0.1:1?tls=false' });
    try {
      const calls = {
        append: await failure(store.appendToStream('sa-1', [event], { expectedVersion: 'noStream' })),
        readStream: await failure(store.readStream('sa-1')),
        readAll: await failure(store.readAll()),
        subscribe: await failure(firstValueFrom(store.subscribe())),
      };
      for (const [call, error] of Object.entries(calls)) {
        expect(error, call).toBeInstanceOf(StoreUnavailable);
        expect(error, call).toMatchObject({ code: 'store.unavailable' });
        expect((error as Error).message, call).toMatch(/^KurrentDB event store unavailable while .+; nothing was written by this call: check that the server is running/);
        expect((error as Error).cause, call).toBeDefined();
      }
      // The vendor shapes differ per call, as the issue says: we keep them as the cause.
      expect((calls.append as Error).cause).toMatchObject({ code: 14 });
      expect((calls.readStream as Error).cause).toMatchObject({ type: 'unavailable' });
    } finally {
      await store.close();
    }
  });
});
