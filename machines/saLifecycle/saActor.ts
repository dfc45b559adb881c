/**
 * A live SA actor: the lifecycle machine, its journal (stream `sa-<id>`, write-ahead) and the
 * runtime's effects, wired once so every caller gets the same guarantees.
 */
import { createActor, type InspectionEvent, type Observer } from 'xstate';
import type { SaState } from '../../engine/aggregates/sa.js';
import { evolveSa, initialSaState } from '../../engine/aggregates/sa.js';
import type { SaFact, UsageCheckpoint } from '../../engine/events/saFacts.js';
import { saStream } from '../../engine/events/streams.js';
import { Journal } from '../journal.js';
import type { MachineDeps } from '../ports.js';
import { createSaLifecycleMachine, type SaLifecycleOptions } from './saLifecycle.machine.js';

/** What the gateway does when the SA's facts say so; each runs after those facts are durable. */
export interface SaEffects {
  installInDataPath(saId: string, state: SaState): void;
  removeFromDataPath(saId: string, state: SaState): void;
  requestRekey(saId: string, state: SaState): void;
}

export interface SaActorOptions {
  deps: MachineDeps & { usageOf?: (saId: string) => UsageCheckpoint | undefined };
  effects: SaEffects;
  saId: string;
  /** Resume from this folded state (its `version` is the stream version). */
  state?: SaState;
  options?: Partial<SaLifecycleOptions>;
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** An append failed (two writers, or the store went away): stop and rehydrate. */
  onJournalFailure?: (saId: string, error: unknown) => void;
  /** Every fact as recorded (before it is durable), e.g. for a live view. */
  onFacts?: (saId: string, facts: readonly SaFact[]) => void;
  /** A command the SA's state did not allow (nothing recorded). */
  onRejected?: (saId: string, message: string) => void;
}

/**
 * Starts an SA actor.
 *
 * @example
 * const { actor, journal } = startSaActor({ deps, effects, saId: 'a1' });
 * actor.send({ type: 'sa.install', params });
 * await journal.settled();
 */
export function startSaActor(o: SaActorOptions) {
  const journal = new Journal(o.deps.log, saStream(o.saId), o.state?.version ?? 0, (e) => o.onJournalFailure?.(o.saId, e));
  const snapshotSa = () => actor.getSnapshot().context.sa;
  const machine = createSaLifecycleMachine(o.deps).provide({
    actions: {
      journal: (_, params) => journal.record(params.facts),
      installInDataPath: ({ context }) => journal.afterDurable(() => o.effects.installInDataPath(context.saId, snapshotSa())),
      removeFromDataPath: ({ context }) => journal.afterDurable(() => o.effects.removeFromDataPath(context.saId, snapshotSa())),
      requestRekey: ({ context }) => journal.afterDurable(() => o.effects.requestRekey(context.saId, snapshotSa())),
    },
  });
  const actor = createActor(machine, {
    input: { saId: o.saId, ...(o.state ? { state: o.state } : {}), ...(o.options ? { options: o.options } : {}) },
    clock: o.deps.clock,
    ...(o.inspect ? { inspect: o.inspect } : {}),
  });
  actor.on('facts', (e) => o.onFacts?.(o.saId, e.facts));
  actor.on('rejected', (e) => o.onRejected?.(o.saId, e.message));
  actor.start();
  return { actor, journal };
}

export type SaActor = ReturnType<typeof startSaActor>['actor'];

/**
 * Folds an SA's stream into its state, for `startSaActor({ state })`.
 *
 * @example
 * const state = await loadSa(log, 'a1');
 */
export async function loadSa(log: MachineDeps['log'], saId: string): Promise<SaState> {
  return ((await log.read(saStream(saId))) as SaFact[]).reduce(evolveSa, initialSaState);
}
