/**
 * CHILD SA rekey, make-before-break (RFC 7296 §2.8, RFC 4301 §4.4.2.1): the runtime marks the
 * old pair as rekeying (RekeyStarted, durable before anything is asked); this machine has the key manager install the new
 * inbound SA and then the new outbound, then complete: the old outbound leaves at once (the
 * newest outbound SA already carries the traffic), the old inbound drains (default 5 s) and is
 * deleted. Nothing is dropped: there is no instant with no inbound SA for what the peer sends.
 * A failed negotiation is retried with backoff until the old SA's hard lifetime ends it.
 */
import { assign, fromPromise, setup } from 'xstate';
import type { InstalledPair } from '../ports.js';

export interface ChildRekeyInput {
  old: InstalledPair;
  next: InstalledPair;
  correlationId: string;
  /** First retry delay; doubles per attempt up to `maxRetryMs`. Default 1 s, 60 s. */
  retryMs?: number;
  maxRetryMs?: number;
}

export interface ChildRekeyContext extends Required<ChildRekeyInput> {
  attempt: number;
  lastError?: string;
}

/**
 * @example
 * // RekeyStarted recorded on both old SAs first (write-ahead), then:
 * const actor = createActor(childRekeyMachine.provide({ actions: { markCompleted }, actors: { negotiate } }), { input }).start();
 */
export const childRekeyMachine = setup({
  types: {} as { context: ChildRekeyContext; input: ChildRekeyInput },
  actions: {
    // Runtime-supplied: send rekey.complete to the old SAs' actors.
    markCompleted: () => {},
  },
  actors: {
    // Runtime-supplied: wait until RekeyStarted is durable, then KeyManager.rekeyChild.
    negotiate: fromPromise<InstalledPair, ChildRekeyContext>(async () => {
      throw new Error('no key manager');
    }),
  },
  guards: {
    oldAlive: () => true,
  },
  delays: {
    backoff: ({ context }) => Math.min(context.maxRetryMs, context.retryMs * 2 ** (context.attempt - 1)),
  },
}).createMachine({
  id: 'childRekey',
  context: ({ input }) => ({ retryMs: 1_000, maxRetryMs: 60_000, ...input, attempt: 0 }),
  initial: 'negotiating',
  states: {
    negotiating: {
      entry: assign({ attempt: ({ context }) => context.attempt + 1 }),
      invoke: {
        src: 'negotiate',
        input: ({ context }) => context,
        onDone: { target: 'done', actions: 'markCompleted' },
        onError: { target: 'backoff', actions: assign({ lastError: ({ event }) => String((event.error as Error)?.message ?? event.error) }) },
      },
    },
    backoff: {
      after: { backoff: [{ guard: 'oldAlive', target: 'negotiating' }, { target: 'failed' }] },
    },
    done: { type: 'final' },
    failed: { type: 'final' },
  },
});
