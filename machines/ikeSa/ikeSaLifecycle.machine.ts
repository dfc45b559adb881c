/**
 * The IKE SA's life as the control plane needs it for rekeying (RFC 7296 §2.8): established →
 * (soft lifetime, with jitter) rekeying → dead. Completing a rekey moves every CHILD SA to the
 * new IKE SA; a hard expiry or a DELETE takes the children with it (RFC 7296 §1.4.1). Same shape
 * as the SA lifecycle: state routed from the folded aggregate, facts journaled before effects.
 * The IKEv2 exchanges themselves (issue 7) sit behind the key manager port.
 */
import { enqueueActions, setup } from 'xstate';
import { decideIkeSa, evolveIkeSa, IkeSaRuleViolation, initialIkeSaState, type IkeSaCommand, type IkeSaState } from '../../engine/aggregates/ikeSa.js';
import type { IkeFact } from '../../engine/events/otherFacts.js';
import type { Clock, Random } from '../ports.js';

export interface IkeSaLifecycleInput {
  ikeSaId: string;
  state?: IkeSaState;
  /** Rekey jitter as a fraction of the soft lifetime (default 0.1); retry delay after a failed rekey (default 5 s). */
  jitterFraction?: number;
  retryMs?: number;
}

export interface IkeSaLifecycleContext {
  ikeSaId: string;
  ike: IkeSaState;
  jitterMs: number;
  retryMs: number;
}

export type IkeSaLifecycleEvent =
  | { type: 'ike.initiate'; role: 'initiator' | 'responder'; peer: string; spiI: string; spiR?: string }
  | { type: 'ike.exchange'; exchange: string; messageId: number; requestBy: 'us' | 'peer'; outcome: string; detail?: string }
  | { type: 'ike.establish'; spiR: string; keyRef: string; keyFingerprint: string; peer?: string; softLifetimeMs?: number; hardLifetimeMs?: number; rekeyOf?: string; spiI?: string; role?: 'initiator' | 'responder'; suite?: string }
  | { type: 'child.add'; saId: string }
  | { type: 'child.remove'; saId: string }
  | { type: 'ike.rekeyed'; newIkeSaId: string }
  | { type: 'ike.rekeyFailed'; reason: string }
  | { type: 'ike.adoptRekey'; newIkeSaId: string }
  | { type: 'ike.delete'; reason: string };

type RecordParams = { command: IkeSaCommand };
type Effect =
  | { type: 'journal'; params: { facts: IkeFact[] } }
  | { type: 'negotiateRekey'; params: { newIkeSaId: string } }
  | { type: 'moveChildren'; params: { children: string[]; toIkeSaId: string } }
  | { type: 'deleteChildren'; params: { children: string[] } };

const msOf = (iso: string | undefined) => (iso === undefined ? 0 : Date.parse(iso));

/**
 * @example
 * const machine = createIkeSaLifecycleMachine({ clock, random });
 */
export function createIkeSaLifecycleMachine(deps: { clock: Pick<Clock, 'now'>; random: Random }) {
  const { clock, random } = deps;
  const remaining = (fromIso: string | undefined, ms: number) => Math.max(0, msOf(fromIso) + ms - clock.now());
  return setup({
    types: {} as { context: IkeSaLifecycleContext; events: IkeSaLifecycleEvent; input: IkeSaLifecycleInput; emitted: { type: 'facts'; facts: IkeFact[] } | { type: 'rejected'; message: string } },
    actions: {
      record: enqueueActions<IkeSaLifecycleContext, IkeSaLifecycleEvent, RecordParams, IkeSaLifecycleEvent, never, Effect, never, never, { type: 'facts'; facts: IkeFact[] } | { type: 'rejected'; message: string }>(({ context, enqueue }, params) => {
        let facts: IkeFact[];
        try {
          facts = decideIkeSa(params.command, context.ike, { nowMs: clock.now(), newId: () => random.uuid() });
        } catch (e) {
          if (!(e instanceof IkeSaRuleViolation)) throw e;
          enqueue.emit({ type: 'rejected', message: e.message });
          return;
        }
        if (facts.length === 0) return;
        const before = context.ike;
        const after = facts.reduce(evolveIkeSa, before);
        enqueue.assign({ ike: after });
        enqueue({ type: 'journal', params: { facts } });
        enqueue.emit({ type: 'facts', facts });
        if (after.status === 'rekeying' && before.status !== 'rekeying' && params.command.type === 'StartIkeRekey') enqueue({ type: 'negotiateRekey', params: { newIkeSaId: after.rekey!.newIkeSaId } });
        if (after.rekeyedTo && !before.rekeyedTo) enqueue({ type: 'moveChildren', params: { children: before.children, toIkeSaId: after.rekeyedTo } });
        else if (after.status === 'dead' && before.status !== 'dead') enqueue({ type: 'deleteChildren', params: { children: before.children } });
      }),
      journal: (_, _p: { facts: IkeFact[] }) => {},
      negotiateRekey: (_, _p: { newIkeSaId: string }) => {},
      moveChildren: (_, _p: { children: string[]; toIkeSaId: string }) => {},
      deleteChildren: (_, _p: { children: string[] }) => {},
    },
    guards: {
      is: ({ context }, status: IkeSaState['status']) => context.ike.status === status,
      hasSoft: ({ context }) => context.ike.softLifetimeMs !== undefined,
      hasHard: ({ context }) => context.ike.hardLifetimeMs !== undefined,
    },
    delays: {
      soft: ({ context }) => remaining(context.ike.establishedAt, (context.ike.softLifetimeMs ?? 0) + context.jitterMs),
      hard: ({ context }) => remaining(context.ike.establishedAt, context.ike.hardLifetimeMs ?? 0),
      retry: ({ context }) => context.retryMs,
    },
  }).createMachine({
    id: 'ikeSa',
    context: ({ input }) => {
      const ike = input.state ?? initialIkeSaState;
      return { ikeSaId: input.ikeSaId, ike, retryMs: input.retryMs ?? 5_000, jitterMs: 0 };
    },
    initial: 'route',
    states: {
      route: {
        always: [
          { guard: { type: 'is', params: 'none' }, target: 'new' },
          { guard: { type: 'is', params: 'initiated' }, target: 'new' },
          { guard: { type: 'is', params: 'established' }, target: 'live.established' },
          { guard: { type: 'is', params: 'rekeying' }, target: 'live.rekeying' },
          { target: 'dead' },
        ],
      },
      new: {
        on: {
          'ike.initiate': { target: 'route', actions: { type: 'record', params: ({ event }) => { const { type: _t, ...rest } = event; return { command: { type: 'InitiateIkeSa', ...rest } }; } } },
          'ike.establish': { target: 'route', actions: { type: 'record', params: ({ event }) => { const { type: _t, ...rest } = event; return { command: { type: 'EstablishIkeSa', ...rest } }; } } },
          'ike.exchange': { actions: { type: 'record', params: ({ event }) => { const { type: _t, ...rest } = event; return { command: { type: 'RecordExchange', ...rest } }; } } },
          // IKE_SA_INIT or IKE_AUTH failed (AUTHENTICATION_FAILED, NO_PROPOSAL_CHOSEN, timeout).
          'ike.delete': { guard: { type: 'is', params: 'initiated' }, target: 'route', actions: { type: 'record', params: ({ event }) => ({ command: { type: 'DeleteIkeSa', reason: event.reason } }) } },
        },
      },
      live: {
        initial: 'established',
        after: { hard: { guard: 'hasHard', target: 'route', actions: { type: 'record', params: { command: { type: 'DeleteIkeSa', reason: 'hardExpired' } } } } },
        on: {
          'ike.exchange': { actions: { type: 'record', params: ({ event }) => { const { type: _t, ...rest } = event; return { command: { type: 'RecordExchange', ...rest } }; } } },
          'child.add': { actions: { type: 'record', params: ({ event }) => ({ command: { type: 'AddChild', saId: event.saId } }) } },
          'child.remove': { actions: { type: 'record', params: ({ event }) => ({ command: { type: 'RemoveChild', saId: event.saId } }) } },
          'ike.delete': { target: 'route', actions: { type: 'record', params: ({ event }) => ({ command: { type: 'DeleteIkeSa', reason: event.reason } }) } },
        },
        states: {
          established: {
            // The jitter is drawn on entry: not a fact, it only delays when we ask (strongSwan's rand_time).
            entry: enqueueActions(({ context, enqueue }) => { if (context.jitterMs === 0) enqueue.assign({ jitterMs: random.int(0, Math.floor(0.1 * (context.ike.softLifetimeMs ?? 0))) }); }),
            after: { soft: { guard: 'hasSoft', target: '#ikeSa.route', actions: { type: 'record', params: () => ({ command: { type: 'StartIkeRekey', newIkeSaId: random.uuid() } }) } } },
            on: {
              // The peer rekeyed this IKE SA: record the same on this side.
              'ike.adoptRekey': { target: '#ikeSa.route', actions: [{ type: 'record', params: ({ event }) => ({ command: { type: 'StartIkeRekey', newIkeSaId: event.newIkeSaId } }) }, { type: 'record', params: ({ event }) => ({ command: { type: 'CompleteIkeRekey', newIkeSaId: event.newIkeSaId } }) }] },
            },
          },
          rekeying: {
            on: {
              'ike.rekeyed': { target: '#ikeSa.route', actions: { type: 'record', params: ({ event }) => ({ command: { type: 'CompleteIkeRekey', newIkeSaId: event.newIkeSaId } }) } },
              'ike.adoptRekey': { target: '#ikeSa.route', actions: { type: 'record', params: ({ event }) => ({ command: { type: 'CompleteIkeRekey', newIkeSaId: event.newIkeSaId } }) } },
              'ike.rekeyFailed': { target: '.retrying' },
            },
            initial: 'negotiating',
            states: {
              negotiating: {},
              retrying: { after: { retry: { target: 'negotiating', actions: { type: 'negotiateRekey', params: ({ context }) => ({ newIkeSaId: context.ike.rekey!.newIkeSaId }) } } } },
            },
          },
        },
      },
      dead: { type: 'final' },
    },
  });
}
