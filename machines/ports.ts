/**
 * The ports the control plane runs on (DESIGN §5). Machines never read a clock, draw a random
 * number or touch a store themselves: the host hands these in, tests hand in twins
 * (`SimulatedClock` from xstate, `seededRandom()`, a memory event store).
 */
import type { Fact } from '../engine/events/fact.js';

/**
 * xstate's clock (`setTimeout`/`clearTimeout`) plus `now()`, so one `SimulatedClock` drives both
 * the machines' delayed transitions and the times recorded in facts.
 *
 * @example
 * const clock: Clock = new SimulatedClock(); clock.now();
 */
export interface Clock {
  now(): number;
  setTimeout(fn: (...args: any[]) => void, timeoutMs: number): any;
  clearTimeout(id: any): void;
}

/**
 * Randomness as an input: jitter, SPIs, ids. Deterministic twins make machine runs repeatable.
 *
 * @example
 * const jitterMs = random.int(0, 30_000);
 */
export interface Random {
  /** A uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number;
  /** A fresh unique id (a UUID from the real port). */
  uuid(): string;
  /** `n` random octets (keys of manually keyed SAs, nonces). */
  bytes(n: number): Uint8Array;
}

/**
 * Where actors write their facts: one stream per aggregate, optimistic concurrency by the
 * stream version the actor holds (0: the stream must not exist yet). `append` resolves only once
 * the facts are durable (write-ahead, DESIGN §3); it rejects with the store's
 * `StreamVersionConflict` when another writer got there first.
 *
 * @example
 * await log.append('sa-7', facts, state.version);
 */
export interface FactLog {
  append(stream: string, facts: readonly Fact[], expectedVersion: number): Promise<void>;
  /** Every fact of the stream in order ([] when it does not exist). */
  read(stream: string): Promise<Fact[]>;
}

/** What every machine factory takes: time, randomness and the log. */
export interface MachineDeps {
  clock: Clock;
  random: Random;
  log: FactLog;
}

/** What an acquire asks the key manager for (RFC 2367 §3.1.6 SADB_ACQUIRE, RFC 4301 §4.4.1). */
export interface AcquireRequest {
  /** The acquire's aggregate id (stream `acquire-<id>`), also the correlation id of the negotiation. */
  acquireId: string;
  policyId: string;
  /** Which of the policy's selectors matched (index into `policy.selectors`). */
  selectorIndex: number;
  /** The triggering packet's selector fields, for PFP / narrowing (RFC 4301 §4.4.1.2). */
  packet: { localAddress: string; remoteAddress: string; protocol: number; localPort: number; remotePort: number };
}

/** A negotiated pair as installed: the outbound SA carries traffic, the inbound SA receives it. */
export interface InstalledPair {
  inboundSaId: string;
  outboundSaId: string;
}

/**
 * The key manager (IKEv2 in production, a manual-keying twin in tests): it negotiates, then
 * installs the SAs through the gateway before it resolves. It rejects with an `Error` whose
 * message is the reason (recorded in the acquire's facts). `signal` aborts a negotiation that
 * the caller gave up on (timeout).
 *
 * @example
 * const pair = await keyManager.acquire(request, AbortSignal.timeout(30_000));
 */
export interface KeyManager {
  acquire(request: AcquireRequest, signal: AbortSignal): Promise<InstalledPair>;
  /**
   * Make-before-break CHILD SA rekey (RFC 7296 §2.8): negotiate the replacement of the pair
   * `old` and install the new inbound SA, then the new outbound, under the ids in `next` (chosen
   * and recorded by the caller before it asks: write-ahead). Resolves with `next` once both are
   * installed.
   */
  rekeyChild(request: { old: InstalledPair; next: InstalledPair; correlationId: string }, signal: AbortSignal): Promise<InstalledPair>;
  /**
   * IKE SA rekey (RFC 7296 §2.8): negotiate the IKE SA that replaces `old`, establish it here
   * under the id `next` (recorded by the caller first), and resolve once it is established; the
   * caller then moves the children.
   */
  rekeyIke?(request: { old: string; next: string; correlationId: string }, signal: AbortSignal): Promise<void>;
}
