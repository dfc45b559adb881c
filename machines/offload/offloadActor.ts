/**
 * A live offload actor for one NIC: the machine, its journal (stream `nic-<name>`, write-ahead)
 * and the effects, wired once so every caller gets the same guarantees: a decision (above all a
 * handle) is reported only once its fact is durable, and DELETE_SA runs only once the removal is.
 */
import { createActor, waitFor, type InspectionEvent, type Observer } from 'xstate';
import type { OffloadNic } from '../../adapters/nic/types.js';
import { evolveNic, initialNicState, type NicState, type OffloadPolicy } from '../../engine/aggregates/nic.js';
import type { NicFact } from '../../engine/events/otherFacts.js';
import { nicStream } from '../../engine/events/streams.js';
import { Journal } from '../journal.js';
import type { MachineDeps } from '../ports.js';
import { createOffloadMachine } from './offload.machine.js';
import type { OfferedSa, OffloadDecision } from './types.js';

/** What an offload actor runs on and whom it tells. */
export interface OffloadActorOptions {
  deps: MachineDeps;
  nic: OffloadNic;
  policy: OffloadPolicy;
  /** Each decision, once durable: the SA's actor records SaOffloaded / SaOffloadRejected. */
  onDecision: (decision: OffloadDecision) => void;
  /** Resume from this folded state (its `version` is the stream version); see `loadNic`. */
  state?: NicState;
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** An append failed (two writers, or the store went away): stop and rehydrate. */
  onJournalFailure?: (nic: string, error: unknown) => void;
  /** Every fact as recorded (before it is durable). */
  onFacts?: (nic: string, facts: readonly NicFact[]) => void;
  /** A command the NIC's state did not allow (nothing recorded). */
  onRejected?: (nic: string, message: string) => void;
}

/**
 * Starts the offload actor of one NIC; `ready()` resolves once the NIC is reset and the actor
 * takes offers (or is faulted or retired).
 *
 * @example
 * const offload = startOffloadActor({ deps, nic, policy: { fipsMode: false, trusted: true }, onDecision });
 * await offload.ready();
 * offload.offer({ saId: 'a1', params, keys });
 */
export function startOffloadActor(o: OffloadActorOptions) {
  const name = o.nic.name;
  const journal = new Journal(o.deps.log, nicStream(name), o.state?.version ?? 0, (e) => o.onJournalFailure?.(name, e));
  const machine = createOffloadMachine({ clock: o.deps.clock, random: o.deps.random, nic: o.nic }).provide({
    actions: {
      journal: (_, params) => journal.record(params.facts),
      reportDecision: (_, decision) => journal.afterDurable(() => o.onDecision(decision)),
      deleteFromNic: (_, { handle }) => journal.afterDurable(() => void o.nic.deleteSa(handle)),
    },
  });
  const actor = createActor(machine, {
    input: { nic: name, capabilities: o.nic.capabilities, policy: o.policy, ...(o.state ? { state: o.state } : {}) },
    clock: o.deps.clock,
    ...(o.inspect ? { inspect: o.inspect } : {}),
  });
  actor.on('facts', (e) => o.onFacts?.(name, e.facts));
  actor.on('rejected', (e) => o.onRejected?.(name, e.message));
  actor.start();
  return {
    actor,
    journal,
    ready: () => waitFor(actor, (s) => !s.matches('restoring') && !s.matches('resetting')).then(() => undefined),
    offer: (sa: OfferedSa) => actor.send({ type: 'offload.offer', sa }),
    withdraw: (saId: string) => actor.send({ type: 'offload.withdraw', saId }),
    /** The data path found a handle dead (`noSa`). */
    reportLost: (handle: number) => actor.send({ type: 'nic.saLost', handle }),
  };
}

/** A started offload actor and its journal. */
export type OffloadActor = ReturnType<typeof startOffloadActor>;

/**
 * Folds a NIC's stream into its state, for `startOffloadActor({ state })`.
 *
 * @example
 * const state = await loadNic(log, 'nic0');
 */
export async function loadNic(log: MachineDeps['log'], name: string): Promise<NicState> {
  return ((await log.read(nicStream(name))) as NicFact[]).reduce(evolveNic, initialNicState);
}
