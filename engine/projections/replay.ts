import { evolvePolicy, initialPolicyState, type PolicyState } from '../aggregates/policy.js';
import { evolveSa, initialSaState, type SaState } from '../aggregates/sa.js';
import { evolveIkeSa, initialIkeSaState, type IkeSaState } from '../aggregates/ikeSa.js';
import { evolveAcquire, initialAcquireState, type AcquireState } from '../aggregates/acquire.js';
import type { Fact } from '../events/fact.js';
import type { AcquireFact, IkeFact, PolicyFact } from '../events/otherFacts.js';
import type { SaFact } from '../events/saFacts.js';
import { parseStreamName } from '../events/streams.js';
import { upcasters as defaultUpcasters, type UpcasterRegistry } from '../events/upcast.js';

/** A fact as read back from a log: where it sits and what it says. */
export interface LoggedFact {
  streamName: string;
  /** Global position (1-based, increasing). */
  position: bigint;
  fact: Fact;
}

/** Every aggregate as of some point of the log. JSON-safe apart from the bigint position. */
export interface GatewayState {
  /** The position of the last fact folded (0n: none). */
  position: bigint;
  /** Time of the last fact folded. */
  at?: string;
  sas: Map<string, SaState>;
  policies: Map<string, PolicyState>;
  ikeSas: Map<string, IkeSaState>;
  acquires: Map<string, AcquireState>;
}

export const emptyGatewayState = (): GatewayState => ({ position: 0n, sas: new Map(), policies: new Map(), ikeSas: new Map(), acquires: new Map() });

/**
 * Folds one logged fact into the gateway state, upcasting it first. Facts of aggregates this
 * release does not fold yet (NIC) only move the position. Mutates and returns
 * `state` (for 100k SAs a copy per fact would dominate); it is a fold all the same: the same log
 * gives the same state, and nothing but the log goes in.
 *
 * @example
 * for (const f of log) applyFact(state, f);
 */
export function applyFact(state: GatewayState, logged: LoggedFact, registry: UpcasterRegistry = defaultUpcasters): GatewayState {
  const f = registry.upcast(logged.fact);
  const stream = parseStreamName(logged.streamName);
  if (stream?.category === 'sa') state.sas.set(stream.id, evolveSa(state.sas.get(stream.id) ?? initialSaState, f as SaFact));
  else if (stream?.category === 'policy') state.policies.set(stream.id, evolvePolicy(state.policies.get(stream.id) ?? initialPolicyState, f as PolicyFact));
  else if (stream?.category === 'ike') state.ikeSas.set(stream.id, evolveIkeSa(state.ikeSas.get(stream.id) ?? initialIkeSaState, f as IkeFact));
  else if (stream?.category === 'acquire') state.acquires.set(stream.id, evolveAcquire(state.acquires.get(stream.id) ?? initialAcquireState, f as AcquireFact));
  state.position = logged.position;
  state.at = f.meta.at;
  return state;
}

/** Where to stop a replay: after a global position, or at a time (inclusive). */
export type ReplayLimit = { position: bigint } | { time: string } | undefined;

/**
 * Rebuilds every aggregate as it was at `until` from a log in global order, optionally
 * starting from a snapshot (an optimisation: the result is the same with or without it).
 *
 * @example
 * const then = replayTo(log, { time: '2026-11-22T03:00:00Z' });
 * then.sas.get('7f3a')?.deleted // why did this SA die?
 */
export function replayTo(log: Iterable<LoggedFact>, until?: ReplayLimit, from?: GatewayState): GatewayState {
  const state = from ? restoreSnapshot(takeSnapshot(from)) : emptyGatewayState();
  const untilTime = until && 'time' in until ? Date.parse(until.time) : undefined;
  for (const logged of log) {
    if (logged.position <= state.position) continue; // already in the snapshot
    if (until && 'position' in until && logged.position > until.position) break;
    if (untilTime !== undefined && Date.parse(logged.fact.meta.at) > untilTime) break;
    applyFact(state, logged);
  }
  return state;
}

/** A JSON-serializable copy of the state: what a snapshot store keeps. */
export interface Snapshot {
  position: string;
  at?: string;
  sas: [string, SaState][];
  policies: [string, PolicyState][];
  /** Absent in snapshots taken before IKE SAs and acquires were folded. */
  ikeSas?: [string, IkeSaState][];
  acquires?: [string, AcquireState][];
}

/** @example const snap = takeSnapshot(state); await save(JSON.stringify(snap)); */
export function takeSnapshot(state: GatewayState): Snapshot {
  const copy = <T>(v: T): T => structuredClone(v);
  return { position: state.position.toString(), ...(state.at ? { at: state.at } : {}), sas: [...state.sas].map(([k, v]) => [k, copy(v)]), policies: [...state.policies].map(([k, v]) => [k, copy(v)]), ikeSas: [...state.ikeSas].map(([k, v]) => [k, copy(v)]), acquires: [...state.acquires].map(([k, v]) => [k, copy(v)]) };
}

/** @example const state = restoreSnapshot(JSON.parse(text)); */
export function restoreSnapshot(s: Snapshot): GatewayState {
  return { position: BigInt(s.position), ...(s.at ? { at: s.at } : {}), sas: new Map(structuredClone(s.sas)), policies: new Map(structuredClone(s.policies)), ikeSas: new Map(structuredClone(s.ikeSas ?? [])), acquires: new Map(structuredClone(s.acquires ?? [])) };
}
