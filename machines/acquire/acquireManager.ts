/**
 * The outbound data path's side of ACQUIRE (RFC 4301 §5.1 step 3a, RFC 2367 §3.1.6): called for
 * every packet that matched a PROTECT policy with no SA. One live acquire actor per
 * (policy, selector), new acquires rate-limited by a token bucket, the triggering packets held in
 * a bounded queue (or dropped, or passed, per the policy's negotiation shunt) until the SA is up.
 *
 * Each actor writes its facts to `acquire-<id>` through a `Journal`; its effects (the key
 * manager call, releasing or dropping queued packets) run only once the facts before them are
 * durable. Queued packets live in memory only: after a restart they are gone, and `resume`
 * brings back the acquire itself (a pending one asks the key manager again).
 */
import { createActor, fromPromise, type Actor, type InspectionEvent, type Observer } from 'xstate';
import { evolveAcquire, initialAcquireState, type AcquirePacketFields, type AcquireState } from '../../engine/aggregates/acquire.js';
import type { DropReason } from '../../engine/dropReasons.js';
import { IpsecError } from '../../engine/errors.js';
import type { AcquireFact } from '../../engine/events/otherFacts.js';
import { acquireStream } from '../../engine/events/streams.js';
import { upcasters } from '../../engine/events/upcast.js';
import { formatIpAddress } from '../../engine/policy/ipText.js';
import { DEFAULT_NEGOTIATION_SHUNT, OPAQUE, type Policy, type SelectorFields } from '../../engine/spd/types.js';
import { Journal } from '../journal.js';
import type { AcquireRequest, Clock, FactLog, InstalledPair, KeyManager, Random } from '../ports.js';
import { ACQUIRE_DROP_REASON, createAcquireMachine, type AcquireMachine, type AcquireMachineOptions } from './acquireMachine.js';
import { DEFAULT_ACQUIRE_QUEUE_LIMITS, DEFAULT_ACQUIRE_RATE_LIMIT, PacketQueue, TokenBucket, type QueueLimits, type RateLimit } from './limits.js';

/**
 * What became of a missed packet: held for the SA, dropped (already handed to `drop`), or to be sent in the clear.
 *
 * @example
 * if (acquires.onMiss(packet, decision, 0, fields) === 'passed') sendInTheClear(packet);
 */
export type MissOutcome = 'queued' | 'dropped' | 'passed';

/**
 * What the manager runs on: the control-plane ports, the key manager, and the way back to the data path.
 *
 * @example
 * new AcquireManager({ clock, random, log: factLog(store), keyManager, release, drop });
 */
export interface AcquireManagerDeps {
  clock: Clock;
  random: Random;
  log: FactLog;
  keyManager: KeyManager;
  /** Queued packets, in arrival order, once their SA is installed: classify and send them again. */
  release: (packets: Uint8Array[]) => void;
  /** Packets dropped, with the reason to count them under. The only place drops are reported. */
  drop: (packets: Uint8Array[], reason: DropReason) => void;
  /** Passed to every actor (xstate's `inspect` option). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** An acquire stopped on a journal failure (a second writer, a store gone); `resume` it to retry. */
  onFailure?: (acquireId: string, error: unknown) => void;
}

/**
 * Timers (see `AcquireMachineOptions`), queue limits and the rate of new acquires.
 *
 * @example
 * new AcquireManager(deps, { queue: { maxPackets: 100 }, rateLimit: { perSecond: 20, burst: 50 } });
 */
export interface AcquireManagerOptions extends AcquireMachineOptions {
  queue?: Partial<QueueLimits>;
  rateLimit?: Partial<RateLimit>;
}

interface Entry {
  key: string;
  acquireId: string;
  actor: Actor<AcquireMachine>;
  journal: Journal;
  queue: PacketQueue;
  /** Packets taken from the queue whose release/drop waits for durability. */
  inFlight: Set<Uint8Array[]>;
}

const keyOf = (policyId: string, selectorIndex: number) => `${policyId}/${selectorIndex}`;
const port = (p: number) => (p === OPAQUE ? 'opaque' : String(p));

/**
 * The selector fields as recorded in AcquireRaised (RFC 4301 §4.4.1.2 PFP needs them).
 *
 * @example
 * packetFieldsOf(fields) // { localAddress: '10.0.0.1', remoteAddress: '10.9.0.1', protocol: 6, localPort: 40000, remotePort: 443 }
 */
export function packetFieldsOf(f: SelectorFields): AcquirePacketFields {
  return { localAddress: formatIpAddress(f.localAddress), remoteAddress: formatIpAddress(f.remoteAddress), protocol: f.protocol, localPort: f.localPort, remotePort: f.remotePort };
}

/**
 * Raises, de-duplicates and rate-limits acquires, holds packets, and resumes acquires from the log.
 *
 * @example
 * const acquires = new AcquireManager({ clock, random, log: factLog(store), keyManager,
 *   release: (packets) => packets.forEach(sendOutbound), drop: (packets, reason) => counters.count(reason) });
 * if (decision.action === 'protect' && !sa) {
 *   const outcome = acquires.onMiss(packet, decision, selectorIndex, fields); // 'queued' | 'dropped' | 'passed'
 *   if (outcome === 'passed') sendInTheClear(packet);
 * }
 */
export class AcquireManager {
  readonly #deps: AcquireManagerDeps;
  readonly #machine: AcquireMachine;
  readonly #limits: QueueLimits;
  readonly #bucket: TokenBucket;
  readonly #byKey = new Map<string, Entry>();
  readonly #byId = new Map<string, Entry>();
  /** Acquires raised (first attempts and retries), refused by the rate limit, packets refused by a full queue. */
  readonly stats = { raised: 0, rateLimited: 0, queueFull: 0 };

  constructor(deps: AcquireManagerDeps, options: AcquireManagerOptions = {}) {
    this.#deps = deps;
    this.#limits = { ...DEFAULT_ACQUIRE_QUEUE_LIMITS, ...options.queue };
    this.#bucket = new TokenBucket(deps.clock, { ...DEFAULT_ACQUIRE_RATE_LIMIT, ...options.rateLimit });
    const effect = (acquireId: string, run: (packets: Uint8Array[]) => void) => {
      const entry = this.#byId.get(acquireId);
      const packets = entry?.queue.take() ?? [];
      if (!entry || packets.length === 0) return;
      entry.inFlight.add(packets);
      entry.journal.afterDurable(() => entry.inFlight.delete(packets) && run(packets));
    };
    this.#machine = createAcquireMachine(deps, options).provide({
      actors: {
        // Write-ahead: the key manager hears of the acquire only once AcquireRaised is durable.
        negotiate: fromPromise<InstalledPair, AcquireRequest>(async ({ input, signal }) => {
          const journal = this.#byId.get(input.acquireId)?.journal;
          if (journal) await new Promise<void>((resolve) => journal.afterDurable(resolve));
          signal.throwIfAborted();
          return deps.keyManager.acquire(input, signal);
        }),
      },
      actions: {
        releaseQueued: ({ context }) => effect(context.acquireId, deps.release),
        dropQueued: ({ context }, { reason }) => effect(context.acquireId, (packets) => deps.drop(packets, reason)),
      },
    });
  }

  /** Live acquires. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * One outbound packet that matched PROTECT `decision.policy` (selector `selectorIndex`) and
   * found no SA. Synchronous and cheap: a Map lookup, and for a held packet an array push. The
   * shunt (`policy.protect.negotiationShunt`, default 'hold') decides the packet's fate while
   * the SA is negotiated; a packet that cannot be held (queue full, rate limit, backoff) is
   * dropped under `noSa`, except that 'pass' passes it.
   *
   * @example
   * acquires.onMiss(packet, { action: 'protect', policy }, 0, fields) // 'queued'
   */
  onMiss(packet: Uint8Array, decision: { policy: Policy }, selectorIndex: number, fields: SelectorFields): MissOutcome {
    const policy = decision.policy;
    const shunt = policy.protect?.negotiationShunt ?? DEFAULT_NEGOTIATION_SHUNT;
    const key = keyOf(policy.id, selectorIndex);
    let entry = this.#byKey.get(key);
    if (entry === undefined || entry.actor.getSnapshot().value === 'retryable') {
      if (!this.#bucket.take()) {
        this.stats.rateLimited++;
        return this.#unheld(packet, shunt);
      }
      entry ??= this.#start(key, this.#deps.random.uuid(), initialAcquireState);
      const fieldsText = packetFieldsOf(fields);
      const selector = `${fieldsText.localAddress}[${port(fields.localPort)}] → ${fieldsText.remoteAddress}[${port(fields.remotePort)}] proto ${port(fields.protocol)}`;
      entry.actor.send({ type: 'acquire.raise', policyId: policy.id, selectorIndex, selector, packet: fieldsText });
      if (entry.actor.getSnapshot().value === 'negotiating') this.stats.raised++;
    }
    if (shunt === 'hold' && entry.actor.getSnapshot().value === 'negotiating') {
      if (entry.queue.offer(packet)) return 'queued';
      this.stats.queueFull++;
    }
    return this.#unheld(packet, shunt);
  }

  /** A packet with nothing to wait for (or no room): passed under 'pass', else a counted drop. */
  #unheld(packet: Uint8Array, shunt: string): MissOutcome {
    if (shunt === 'pass') return 'passed';
    this.#deps.drop([packet], 'acquireLimited');
    return 'dropped';
  }

  /**
   * The SAs for (policy, selector) came up by other means (the peer negotiated them): the
   * acquire is satisfied and its held packets go out.
   *
   * @example
   * acquires.saInstalled('web', 0, ['sa-out', 'sa-in']);
   */
  saInstalled(policyId: string, selectorIndex: number, saIds: string[]): void {
    this.#byKey.get(keyOf(policyId, selectorIndex))?.actor.send({ type: 'sa.installed', saIds });
  }

  /**
   * The policy went away (RFC 4301 §4.4.1: its traffic is no longer PROTECT): abandon its
   * acquires and drop what they hold.
   *
   * @example
   * spd.remove('web'); acquires.cancel('web');
   */
  cancel(policyId: string): void {
    for (const entry of [...this.#byKey.values()]) {
      if (entry.actor.getSnapshot().context.state.policyId === policyId) entry.actor.send({ type: 'acquire.cancel' });
    }
  }

  /**
   * Brings back the acquire `acquireId` from its stream after a restart, in the state it was
   * in (restoring router: nothing recorded; a pending acquire asks the key manager again).
   * Returns the folded state; an acquire that is over (or already live) is not started, and one
   * whose (policy, selector) has another live acquire throws `IpsecError` 'acquire.conflict'.
   *
   * @example
   * for (const id of pendingAcquireIds) await acquires.resume(id);
   */
  async resume(acquireId: string): Promise<AcquireState> {
    const facts = (await this.#deps.log.read(acquireStream(acquireId))) as AcquireFact[];
    const state = facts.map((f) => upcasters.upcast(f)).reduce(evolveAcquire, initialAcquireState);
    if (state.status !== 'pending' && state.status !== 'backoff') return state;
    const key = keyOf(state.policyId!, state.selectorIndex!);
    if (this.#byId.has(acquireId)) return state;
    if (this.#byKey.has(key)) throw new IpsecError('acquire.conflict', `acquire ${acquireId}: ${key} already has a live acquire`);
    this.#start(key, acquireId, state);
    return state;
  }

  /**
   * The live acquires: key, id, machine state, folded aggregate, packets held.
   *
   * @example
   * acquires.list() // [{ key: 'web/0', acquireId: '…', state: 'negotiating', folded: { status: 'pending', ... }, queued: 12 }]
   */
  list(): Array<{ key: string; acquireId: string; state: string; folded: AcquireState; queued: number }> {
    return [...this.#byKey.values()].map((e) => {
      const snapshot = e.actor.getSnapshot();
      return { key: e.key, acquireId: e.acquireId, state: String(snapshot.value), folded: snapshot.context.state, queued: e.queue.length };
    });
  }

  /** Resolves when every journal is idle (facts durable, effects run). @example await acquires.settled(); */
  async settled(): Promise<void> {
    await Promise.all([...this.#byId.values()].map((e) => e.journal.settled()));
  }

  /** Stops every actor without recording anything (shutdown); held packets are dropped. @example acquires.stop(); */
  stop(): void {
    for (const entry of [...this.#byId.values()]) this.#remove(entry, true);
  }

  #start(key: string, acquireId: string, state: AcquireState): Entry {
    const journal = new Journal(this.#deps.log, acquireStream(acquireId), state.version, (error) => {
      this.#remove(entry, true);
      this.#deps.onFailure?.(acquireId, error);
    });
    const actor = createActor(this.#machine, { input: { acquireId, state }, clock: this.#deps.clock, ...(this.#deps.inspect ? { inspect: this.#deps.inspect } : {}) });
    const entry: Entry = { key, acquireId, actor, journal, queue: new PacketQueue(this.#limits), inFlight: new Set() };
    entry.actor.on('facts', ({ facts }) => entry.journal.record(facts));
    entry.actor.subscribe({
      next: (snapshot) => {
        if (snapshot.status === 'done') this.#remove(entry, false);
      },
      error: () => this.#remove(entry, true),
    });
    this.#byKey.set(key, entry);
    this.#byId.set(acquireId, entry);
    entry.actor.start();
    return entry;
  }

  /** Forgets `entry`; with `dropAll`, stops it and drops everything it still holds. */
  #remove(entry: Entry, dropAll: boolean): void {
    if (this.#byKey.get(entry.key) === entry) this.#byKey.delete(entry.key);
    if (!dropAll) {
      // Done: its last effects still run from the journal; only forget it once they have.
      void entry.journal.settled().then(() => this.#byId.get(entry.acquireId) === entry && this.#byId.delete(entry.acquireId));
      return;
    }
    this.#byId.delete(entry.acquireId);
    entry.actor.stop();
    const packets = [...entry.inFlight].flat().concat(entry.queue.take());
    entry.inFlight.clear();
    if (packets.length > 0) this.#deps.drop(packets, ACQUIRE_DROP_REASON);
  }
}
