/**
 * The ACQUIRE machine: IKE started on an SA miss (RFC 4301 §5.1 step 3a, RFC 2367 §3.1.6
 * SADB_ACQUIRE). One actor per (policy, selector) negotiation effort, stream `acquire-<id>`.
 *
 * restoring ─(status)─► idle ─raise─► negotiating ─done─► satisfied (final)
 *                                         │ error / timeout
 *                                         ▼
 *               negotiating ◄─raise─ retryable ◄─retryDelay─ backoff
 *                                         └─idle─► abandoned (final)
 *
 * Retries are packet-driven, as the kernel's acquires are: after the backoff the acquire waits
 * in `retryable` for the next packet of its flow, so a flow that went away costs no negotiation;
 * with no packet for `idleMs` the acquire is abandoned. The packet queue is not in the context:
 * the manager owns the bytes (snapshots stay small and serializable, the per-packet path stays a
 * Map lookup); the machine decides when they go, through the effects `releaseQueued` and
 * `dropQueued`, which the runtime supplies with `.provide()`.
 */
import { enqueueActions, fromPromise, setup } from 'xstate';
import {
  acquireBackoffMs,
  DEFAULT_ACQUIRE_BACKOFF,
  decideAcquire,
  evolveAcquire,
  initialAcquireState,
  type AcquireBackoff,
  type AcquireCommand,
  type AcquirePacketFields,
  type AcquireState,
} from '../../engine/aggregates/acquire.js';
import type { DropReason } from '../../engine/dropReasons.js';
import type { AcquireFact } from '../../engine/events/otherFacts.js';
import type { AcquireRequest, Clock, InstalledPair, Random } from '../ports.js';

/**
 * Timers of the acquire machine.
 *
 * @example
 * createAcquireMachine(deps, { negotiateTimeoutMs: 10_000, idleMs: 120_000 });
 */
export interface AcquireMachineOptions {
  /** How long one negotiation may take (default 30 s); the key manager's signal is then aborted. */
  negotiateTimeoutMs?: number;
  /** Wait after a failed attempt (default 1 s, 2 s, 4 s ... 60 s). */
  backoff?: AcquireBackoff;
  /** After the backoff, how long to wait for a packet to retry before giving up (default 60 s). */
  idleMs?: number;
}

/**
 * `state`: the folded stream when the acquire is rehydrated; absent for a new acquire.
 *
 * @example
 * createActor(machine, { input: { acquireId, state: facts.reduce(evolveAcquire, initialAcquireState) }, clock });
 */
export interface AcquireMachineInput {
  acquireId: string;
  state?: AcquireState;
}

/**
 * The actor's context: the folded aggregate and its id (nothing else: packets stay with the manager).
 *
 * @example
 * snapshot.context.state.status // 'pending'
 */
export interface AcquireContext {
  acquireId: string;
  state: AcquireState;
}

/**
 * Events: a packet missed (raise), its SA came up by other means (a peer's CREATE_CHILD_SA), its policy went away.
 *
 * @example
 * actor.send({ type: 'sa.installed', saIds: ['sa-out', 'sa-in'] });
 */
export type AcquireEvent =
  | { type: 'acquire.raise'; policyId: string; selectorIndex: number; selector: string; packet: AcquirePacketFields }
  | { type: 'sa.installed'; saIds: string[] }
  | { type: 'acquire.cancel' };

/**
 * What the actor emits: the facts it recorded, in order, for the journal.
 *
 * @example
 * actor.on('facts', ({ facts }) => journal.record(facts));
 */
export interface AcquireFactsEmitted {
  type: 'facts';
  facts: AcquireFact[];
}

/**
 * Drop reason for queued packets when an attempt fails (no SA came up for them).
 *
 * @example
 * drop(queue.take(), ACQUIRE_DROP_REASON);
 */
export const ACQUIRE_DROP_REASON: DropReason = 'acquireFailed';

/**
 * The request for the key manager, from the folded state (so a resumed acquire asks the same).
 *
 * @example
 * keyManager.acquire(acquireRequestOf(snapshot.context), signal);
 */
export function acquireRequestOf(context: AcquireContext): AcquireRequest {
  const { policyId, selectorIndex, packet } = context.state;
  return { acquireId: context.acquireId, policyId: policyId!, selectorIndex: selectorIndex!, packet: { ...packet! } };
}

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
const record = <E>(command: (args: { context: AcquireContext; event: E }) => AcquireCommand) => ({
  type: 'recordFacts' as const,
  params: (args: { context: AcquireContext; event: E }) => ({ command: command(args) }),
});
const drop = { type: 'dropQueued' as const, params: { reason: ACQUIRE_DROP_REASON } };

/**
 * The acquire machine. `deps.clock` stamps facts and measures the backoff; `deps.random` gives
 * fact ids. Provide `negotiate` (a promise actor calling `KeyManager.acquire` with its `signal`,
 * after AcquireRaised is durable), `releaseQueued` and `dropQueued`.
 *
 * @example
 * const machine = createAcquireMachine({ clock, random }).provide({
 *   actors: { negotiate: fromPromise(({ input, signal }) => keyManager.acquire(input, signal)) },
 *   actions: { releaseQueued: () => send(queue.take()), dropQueued: (_, { reason }) => drops(queue.take(), reason) },
 * });
 * const actor = createActor(machine, { input: { acquireId: 'a1' }, clock }).start();
 * actor.on('facts', ({ facts }) => journal.record(facts));
 */
export function createAcquireMachine(deps: { clock: Clock; random: Random }, options: AcquireMachineOptions = {}) {
  const backoff = options.backoff ?? DEFAULT_ACQUIRE_BACKOFF;
  const retryInMs = (context: AcquireContext) => acquireBackoffMs(context.state.attempt, backoff);
  const raise = { 'acquire.raise': { target: 'negotiating', actions: record<Extract<AcquireEvent, { type: 'acquire.raise' }>>(({ event: { type: _type, ...fields } }) => ({ type: 'RaiseAcquire', ...fields })) } } as const;
  const installed = { target: '#acquire.satisfied', actions: [record<{ type: 'sa.installed'; saIds: string[] }>(({ event }) => ({ type: 'SatisfyAcquire', saIds: event.saIds })), 'releaseQueued'] } as const;
  const cancelled = { target: '#acquire.abandoned', actions: [record(() => ({ type: 'AbandonAcquire', reason: 'cancelled' })), drop] } as const;

  return setup({
    types: {} as { context: AcquireContext; events: AcquireEvent; input: AcquireMachineInput; emitted: AcquireFactsEmitted },
    actors: {
      negotiate: fromPromise<InstalledPair, AcquireRequest>(async () => {
        throw new Error('negotiate: no key manager provided');
      }),
    },
    actions: {
      /** decide → emit the facts → assign the folded state: the only way the context changes. */
      recordFacts: enqueueActions<AcquireContext, AcquireEvent, { command: AcquireCommand }, AcquireEvent, never, never, never, never, AcquireFactsEmitted>(({ context, enqueue }, params) => {
        const ctx = { nowMs: deps.clock.now(), newId: () => deps.random.uuid(), correlationId: context.acquireId };
        const facts = decideAcquire(params.command, context.state, ctx);
        if (facts.length === 0) return;
        enqueue.emit({ type: 'facts', facts });
        enqueue.assign({ state: facts.reduce(evolveAcquire, context.state) });
      }),
      /** Effect: hand the queued packets, in arrival order, back to the outbound path. */
      releaseQueued: () => {},
      /** Effect: every queued packet becomes a counted drop with `reason`. */
      dropQueued: (_, _params: { reason: DropReason }) => {},
    },
    guards: {
      is: ({ context }, params: { status: AcquireState['status'] }) => context.state.status === params.status,
      retryDue: ({ context }) => deps.clock.now() >= Date.parse(context.state.retryAt ?? ''),
    },
    delays: {
      negotiateTimeout: options.negotiateTimeoutMs ?? 30_000,
      retryDelay: ({ context }) => Math.max(0, Date.parse(context.state.retryAt ?? '') - deps.clock.now()) || 0,
      idle: options.idleMs ?? 60_000,
    },
  }).createMachine({
    id: 'acquire',
    context: ({ input }) => ({ acquireId: input.acquireId, state: input.state ?? initialAcquireState }),
    initial: 'restoring',
    states: {
      /** Rehydration: route on the folded status, record nothing (a pending acquire asks again). */
      restoring: {
        always: [
          { guard: { type: 'is', params: { status: 'pending' } }, target: 'negotiating' },
          { guard: { type: 'is', params: { status: 'backoff' } }, target: 'backoff' },
          { guard: { type: 'is', params: { status: 'satisfied' } }, target: 'satisfied' },
          { guard: { type: 'is', params: { status: 'abandoned' } }, target: 'abandoned' },
          { target: 'idle' },
        ],
      },
      idle: { on: raise },
      negotiating: {
        invoke: {
          id: 'negotiate',
          src: 'negotiate',
          input: ({ context }) => acquireRequestOf(context),
          onDone: {
            target: 'satisfied',
            actions: [record(({ event }: { event: { output: InstalledPair } }) => ({ type: 'SatisfyAcquire', saIds: [event.output.outboundSaId, event.output.inboundSaId] })), 'releaseQueued'],
          },
          onError: {
            target: 'backoff',
            actions: [record(({ context, event }: { context: AcquireContext; event: { error: unknown } }) => ({ type: 'FailAcquire', reason: reasonOf(event.error), retryInMs: retryInMs(context) })), drop],
          },
        },
        after: { negotiateTimeout: { target: 'backoff', actions: [record(({ context }) => ({ type: 'TimeOutAcquire', retryInMs: retryInMs(context) })), drop] } },
        on: { 'sa.installed': installed, 'acquire.cancel': cancelled },
      },
      /** Packets of the flow are dropped meanwhile (or passed, per the policy's shunt). */
      backoff: {
        after: { retryDelay: 'retryable' },
        on: { 'sa.installed': installed, 'acquire.cancel': cancelled },
      },
      retryable: {
        after: { idle: { target: 'abandoned', actions: record(() => ({ type: 'AbandonAcquire', reason: 'idle' })) } },
        on: { 'acquire.raise': { ...raise['acquire.raise'], guard: 'retryDue' }, 'sa.installed': installed, 'acquire.cancel': cancelled },
      },
      satisfied: { type: 'final' },
      abandoned: { type: 'final' },
    },
  });
}

/** The machine's type, for actor refs and snapshots. @example let actor: ActorRefFrom<AcquireMachine>; */
export type AcquireMachine = ReturnType<typeof createAcquireMachine>;
