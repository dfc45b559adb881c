/**
 * The SA lifecycle (RFC 4301 §4.4.2.1): larval → mature → rekeying → dying → dead, driven by soft
 * and hard lifetimes in time, bytes and packets (whichever comes first), sequence exhaustion,
 * DELETE from the peer or the operator, and the NIC's SaDeleteReq.
 *
 * The machine's state is a function of the folded SA aggregate: every command goes through
 * `decideSa`, the facts are emitted (`{ type: 'facts' }`, the runtime journals them) and folded
 * into `context.sa`, and the transition lands in `route`, which picks the state from the folded
 * status. So log and machine cannot drift, a refused command changes nothing, and a rehydrated
 * actor (input `state`) lands where the live one was. Timers are absolute: each deadline is a
 * recorded time plus a lifetime, so re-entering a state or restarting never moves a deadline.
 * Effects (`installInDataPath`, `removeFromDataPath`, `requestRekey`) are named actions the
 * runtime supplies and runs after the facts before them are durable (write-ahead).
 */
import { enqueueActions, setup } from 'xstate';
import { decideSa, evolveSa, initialSaState, SaRuleViolation, type SaCommand, type SaState } from '../../engine/aggregates/sa.js';
import type { LimitKind, SaFact, SaParams, UsageCheckpoint } from '../../engine/events/saFacts.js';
import type { Clock, Random } from '../ports.js';

export interface SaLifecycleOptions {
  /** Rekey jitter after soft expiry, as a fraction of the soft time lifetime (strongSwan's rand_time). Default 0.1. */
  jitterFraction: number;
  /** How long the replaced inbound SA keeps receiving after a rekey (make-before-break). Default 5 s. */
  drainMs: number;
  /** A larval SA (SPI reserved, no keys) is deleted after this long. Default 30 s. */
  larvalTimeoutMs: number;
}

export const SA_LIFECYCLE_DEFAULTS: SaLifecycleOptions = { jitterFraction: 0.1, drainMs: 5_000, larvalTimeoutMs: 30_000 };

export interface SaLifecycleInput {
  saId: string;
  /** The folded state to resume from (rehydration); default: a new SA. */
  state?: SaState;
  options?: Partial<SaLifecycleOptions>;
}

export interface SaLifecycleContext {
  saId: string;
  sa: SaState;
  options: SaLifecycleOptions;
  /** Drawn when the soft expiry is recorded (or on restore); not persisted: it only delays an effect. */
  jitterMs: number;
}

export type SaLifecycleEvent =
  | { type: 'sa.createLarval'; spi: number; protocol: 'esp' | 'ah'; dst: string; policyId?: string }
  | { type: 'sa.install'; params: SaParams; correlationId?: string }
  | { type: 'usage.checkpoint'; usage: UsageCheckpoint }
  | { type: 'usage.limit'; which: 'soft' | 'hard'; limit: Exclude<LimitKind, 'time'>; usage: UsageCheckpoint }
  | { type: 'seq.exhausted'; usage: UsageCheckpoint }
  | { type: 'rekey.start'; newSaId: string; correlationId?: string; byPeer?: boolean }
  | { type: 'rekey.complete'; newSaId: string; correlationId?: string }
  | { type: 'sa.delete'; reason: 'operator' | 'peer' | 'acquireFailed' | 'nicRequest' | 'rekeyed' | 'ikeSaDeleted' | 'rekeyCollision' }
  | { type: 'nic.saDeleteRequest'; nic: string }
  | { type: 'ike.moved'; ikeSaId: string }
  | { type: 'offload.added'; nic: string; handle: number }
  | { type: 'offload.rejected'; nic: string; reason: 'unsupported' | 'capacity' | 'fips' | 'untrusted' | 'error' };

export type SaLifecycleEmitted =
  | { type: 'facts'; facts: SaFact[] }
  | { type: 'rejected'; command: SaCommand['type']; message: string };

export interface SaLifecycleDeps {
  clock: Pick<Clock, 'now'>;
  random: Random;
  /** The data path's cumulative usage of the SA, read when a time limit fires. */
  usageOf?: (saId: string) => UsageCheckpoint | undefined;
}

/** Componentwise max: a restarted data path may count from zero, the log never goes back. */
function latest(a: UsageCheckpoint, b: UsageCheckpoint | undefined): UsageCheckpoint {
  if (!b) return a;
  const seqA = a.seqHi * 2 ** 32 + a.seqLo;
  const seqB = b.seqHi * 2 ** 32 + b.seqLo;
  const seq = seqB >= seqA ? b : a;
  return { packets: Math.max(a.packets, b.packets), bytes: Math.max(a.bytes, b.bytes), seqHi: seq.seqHi, seqLo: seq.seqLo, ...(seq.replay ? { replay: seq.replay } : {}) };
}

type RecordParams = { command: SaCommand; correlationId?: string };
type Effect = { type: 'journal'; params: { facts: SaFact[] } } | { type: 'installInDataPath'; params: unknown } | { type: 'removeFromDataPath'; params: unknown };

const msOf = (iso: string | undefined) => (iso === undefined ? 0 : Date.parse(iso));

/**
 * The machine, closed over time and randomness (the facts' `at` and ids).
 *
 * @example
 * const machine = createSaLifecycleMachine({ clock, random });
 * const actor = createActor(machine, { input: { saId: 'a1' }, clock }).start();
 * actor.send({ type: 'sa.install', params });
 */
export function createSaLifecycleMachine(deps: SaLifecycleDeps) {
  const { clock, random } = deps;
  const jitterFor = (sa: SaState, o: SaLifecycleOptions) =>
    sa.seqExhaustedAt ? 0 : random.int(0, Math.floor(o.jitterFraction * (sa.params?.lifetimes.soft.timeMs ?? 0)));
  const remaining = (fromIso: string | undefined, ms: number) => Math.max(0, msOf(fromIso) + ms - clock.now());

  return setup({
    types: {} as { context: SaLifecycleContext; events: SaLifecycleEvent; input: SaLifecycleInput; emitted: SaLifecycleEmitted },
    actions: {
      record: enqueueActions<SaLifecycleContext, SaLifecycleEvent, RecordParams, SaLifecycleEvent, never, Effect, never, never, SaLifecycleEmitted>(({ context, enqueue }, params) => {
        let facts: SaFact[];
        try {
          facts = decideSa(params.command, context.sa, { nowMs: clock.now(), newId: () => random.uuid(), ...(params.correlationId ? { correlationId: params.correlationId } : {}) });
        } catch (e) {
          if (!(e instanceof SaRuleViolation)) throw e;
          enqueue.emit({ type: 'rejected', command: params.command.type, message: e.message });
          return;
        }
        if (facts.length === 0) return;
        const before = context.sa;
        const after = facts.reduce(evolveSa, before);
        const jitterMs = after.softExpired && !before.softExpired ? jitterFor(after, context.options) : context.jitterMs;
        enqueue.assign({ sa: after, jitterMs });
        // A named action, not an emit: xstate defers emits past the other actions, and the facts
        // must reach the journal before the effects below ask it to wait for them.
        enqueue({ type: 'journal', params: { facts } });
        enqueue.emit({ type: 'facts', facts });
        // Effects follow the facts that justify them; the runtime runs them once those are durable.
        if ((before.status === 'none' || before.status === 'larval') && after.status === 'mature') enqueue({ type: 'installInDataPath' });
        if (after.status === 'dead' && before.status !== 'dead') enqueue({ type: 'removeFromDataPath' });
      }),
      // Runtime-supplied (`.provide()`); no-ops in a bare machine.
      journal: (_, _params: { facts: SaFact[] }) => {},
      installInDataPath: () => {},
      removeFromDataPath: () => {},
      requestRekey: () => {},
    },
    guards: {
      is: ({ context }, status: SaState['status']) => context.sa.status === status,
      waitingForRekey: ({ context }) => context.sa.status === 'mature' && (context.sa.softExpired !== undefined || context.sa.seqExhaustedAt !== undefined),
      hasSoftTime: ({ context }) => context.sa.params?.lifetimes.soft.timeMs !== undefined,
      hasHardTime: ({ context }) => context.sa.params?.lifetimes.hard.timeMs !== undefined,
    },
    delays: {
      // RFC 4301 §4.4.2.1: time lifetimes count from installation.
      softDeadline: ({ context }) => remaining(context.sa.installedAt, context.sa.params?.lifetimes.soft.timeMs ?? 0),
      hardDeadline: ({ context }) => remaining(context.sa.installedAt, context.sa.params?.lifetimes.hard.timeMs ?? 0),
      jitter: ({ context }) => remaining(context.sa.softExpired?.at ?? context.sa.seqExhaustedAt, context.jitterMs),
      drain: ({ context }) => remaining(context.sa.replacedBy?.at, context.sa.replacedBy?.drainMs ?? 0),
      larvalTimeout: ({ context }) => remaining(context.sa.lastAt, context.options.larvalTimeoutMs),
    },
  }).createMachine({
    id: 'sa',
    context: ({ input }) => {
      const options = { ...SA_LIFECYCLE_DEFAULTS, ...input.options };
      const sa = input.state ?? initialSaState;
      return { saId: input.saId, sa, options, jitterMs: sa.softExpired || sa.seqExhaustedAt ? jitterFor(sa, options) : 0 };
    },
    initial: 'route',
    states: {
      // Routes on the folded status; records nothing (also the rehydration entry point).
      route: {
        always: [
          { guard: { type: 'is', params: 'none' }, target: 'new' },
          { guard: { type: 'is', params: 'larval' }, target: 'larval' },
          { guard: 'waitingForRekey', target: 'live.softExpired' },
          { guard: { type: 'is', params: 'mature' }, target: 'live.mature' },
          { guard: { type: 'is', params: 'rekeying' }, target: 'live.rekeying' },
          { guard: { type: 'is', params: 'dying' }, target: 'live.dying' },
          { target: 'dead' },
        ],
      },
      new: {
        on: {
          'sa.createLarval': { target: 'route', actions: { type: 'record', params: ({ event }) => ({ command: { ...event, type: 'CreateLarval' as const } }) } },
          'sa.install': { target: 'route', actions: { type: 'record', params: ({ event }) => ({ command: { type: 'InstallSa', params: event.params }, ...(event.correlationId ? { correlationId: event.correlationId } : {}) }) } },
        },
      },
      larval: {
        // RFC 2367 §3.1.1: a larval SA that never gets its keys is removed (here: never lingers).
        after: { larvalTimeout: { target: 'route', actions: { type: 'record', params: { command: { type: 'DeleteSa', reason: 'acquireFailed' } } } } },
        on: {
          'sa.install': { target: 'route', actions: { type: 'record', params: ({ event }) => ({ command: { type: 'InstallSa', params: event.params }, ...(event.correlationId ? { correlationId: event.correlationId } : {}) }) } },
          'sa.delete': { target: 'route', actions: { type: 'record', params: ({ event }) => ({ command: { type: 'DeleteSa', reason: event.reason } }) } },
        },
      },
      live: {
        initial: 'mature',
        after: {
          hardDeadline: { guard: 'hasHardTime', target: 'route', actions: { type: 'record', params: ({ context }) => ({ command: { type: 'ExpireHard', limit: 'time', usage: latest(context.sa.usage, deps.usageOf?.(context.saId)) } }) } },
        },
        on: {
          'usage.checkpoint': { actions: { type: 'record', params: ({ context, event }) => ({ command: { type: 'CheckpointUsage', usage: latest(context.sa.usage, event.usage) } }) } },
          'usage.limit': { target: 'route', actions: { type: 'record', params: ({ context, event }) => ({ command: { type: event.which === 'soft' ? 'ExpireSoft' : 'ExpireHard', limit: event.limit, usage: latest(context.sa.usage, event.usage) } }) } },
          // RFC 4303 §3.3.3: the counter must not cycle; the SA is rekeyed at once (no jitter).
          'seq.exhausted': { target: 'route', actions: { type: 'record', params: { command: { type: 'ExhaustSequence' } } } },
          'rekey.start': { target: 'route', actions: { type: 'record', params: ({ context, event }) => ({ command: event.byPeer ? { type: 'StartRekey', newSaId: event.newSaId, jitterMs: 0, initiator: 'peer' } : { type: 'StartRekey', newSaId: event.newSaId, jitterMs: context.jitterMs, initiator: 'local' }, ...(event.correlationId ? { correlationId: event.correlationId } : {}) }) } },
          'rekey.complete': { target: 'route', actions: { type: 'record', params: ({ context, event }) => ({ command: { type: 'CompleteRekey', newSaId: event.newSaId, drainMs: context.sa.params?.direction === 'inbound' ? context.options.drainMs : 0 }, ...(event.correlationId ? { correlationId: event.correlationId } : {}) }) } },
          'sa.delete': { target: 'route', actions: { type: 'record', params: ({ event }) => ({ command: { type: 'DeleteSa', reason: event.reason } }) } },
          'nic.saDeleteRequest': {
            target: 'route',
            actions: [
              { type: 'record', params: ({ event }) => ({ command: { type: 'RequestDeleteByNic', nic: event.nic } }) },
              { type: 'record', params: { command: { type: 'DeleteSa', reason: 'nicRequest' } } },
            ],
          },
          // RFC 7296 §2.8: an IKE SA rekey hands its children to the new IKE SA.
          'ike.moved': { actions: { type: 'record', params: ({ event }) => ({ command: { type: 'MoveToIkeSa', ikeSaId: event.ikeSaId } }) } },
          'offload.added': { actions: { type: 'record', params: ({ event }) => ({ command: { type: 'RecordOffload', nic: event.nic, handle: event.handle } }) } },
          'offload.rejected': { actions: { type: 'record', params: ({ event }) => ({ command: { type: 'RejectOffload', nic: event.nic, reason: event.reason } }) } },
        },
        states: {
          mature: {
            after: { softDeadline: { guard: 'hasSoftTime', target: '#sa.route', actions: { type: 'record', params: ({ context }) => ({ command: { type: 'ExpireSoft', limit: 'time', usage: latest(context.sa.usage, deps.usageOf?.(context.saId)) } }) } } },
          },
          // Soft limit or sequence exhaustion recorded: ask for a rekey after the jitter, once.
          softExpired: {
            initial: 'jitter',
            states: {
              jitter: { after: { jitter: { target: 'requested', actions: 'requestRekey' } } },
              requested: {},
            },
          },
          rekeying: {},
          // Replaced: the inbound SA drains (make-before-break), then goes.
          dying: {
            after: { drain: { target: '#sa.route', actions: { type: 'record', params: { command: { type: 'DeleteSa', reason: 'rekeyed' } } } } },
          },
        },
      },
      dead: { type: 'final' },
    },
  });
}

export type SaLifecycleMachine = ReturnType<typeof createSaLifecycleMachine>;
