/**
 * The gateway's IKE SA actors: one `ikeSaLifecycle` actor per IKE SA with its journal (stream
 * `ike-<id>`), and the effects that reach the CHILD SAs (a rekey moves them, a deletion takes
 * them along) through the host gateway.
 */
import { createActor, type ActorRefFrom, type InspectionEvent, type Observer } from 'xstate';
import { evolveIkeSa, initialIkeSaState, type IkeSaState } from '../../engine/aggregates/ikeSa.js';
import type { IkeFact } from '../../engine/events/otherFacts.js';
import { ikeStream } from '../../engine/events/streams.js';
import { keyFingerprint } from '../../engine/keys/fingerprint.js';
import type { KeyStore } from '../../adapters/keyStore/types.js';
import { createIkeSaLifecycleMachine } from '../ikeSa/ikeSaLifecycle.machine.js';
import { Journal } from '../journal.js';
import type { KeyManager, MachineDeps } from '../ports.js';
import type { SaLifecycleEvent } from '../saLifecycle/saLifecycle.machine.js';

export type IkeActor = ActorRefFrom<ReturnType<typeof createIkeSaLifecycleMachine>>;

/** What the IKE SA actors need of the gateway: its CHILD SAs and its key manager. */
export interface IkeSaHost {
  send(saId: string, event: SaLifecycleEvent): void;
  deleteSa(saId: string, reason: 'ikeSaDeleted'): void;
  keyManager(): KeyManager | undefined;
}

export interface IkeSaSpec {
  id: string;
  peer: string;
  keys: Record<string, Uint8Array>;
  softLifetimeMs?: number;
  hardLifetimeMs?: number;
  rekeyOf?: string;
  /** IKEv2: the SPIs as hex, our role, and the suite's name (default: `spiR` from the id, as the manual twin has no SPIs). */
  spiI?: string;
  spiR?: string;
  role?: 'initiator' | 'responder';
  suite?: string;
}

export class IkeSaActors {
  readonly #actors = new Map<string, { actor: IkeActor; journal: Journal }>();

  /**
   * @example
   * const ikes = new IkeSaActors(deps, keys, gateway);
   */
  constructor(
    readonly deps: MachineDeps,
    readonly keys: KeyStore,
    readonly host: IkeSaHost,
    readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void),
  ) {}

  /** Keys to the key store, an actor, `IkeSaEstablished`; resolves once that fact is durable. */
  async establish(spec: IkeSaSpec): Promise<void> {
    const keyRef = `ike-${spec.id}`;
    await this.keys.put(keyRef, spec.keys);
    const entry = this.#actors.get(spec.id) ?? this.#start(spec.id);
    const { id: _id, keys, ...rest } = spec;
    entry.actor.send({ type: 'ike.establish', spiR: spec.id.slice(0, 16), keyRef, keyFingerprint: keyFingerprint(...Object.values(keys)), ...rest });
    await entry.journal.settled();
  }

  /** IKEv2 started an IKE SA (IKE_SA_INIT sent or received): its actor and `IkeSaInitiated`. */
  initiate(ikeSaId: string, data: { role: 'initiator' | 'responder'; peer: string; spiI: string; spiR?: string }): void {
    if (this.#actors.has(ikeSaId)) return;
    this.#start(ikeSaId).actor.send({ type: 'ike.initiate', ...data });
  }

  /** Sends to a live actor; a dead IKE SA's actor is final and is told nothing. */
  send(ikeSaId: string, event: Parameters<IkeActor['send']>[0]): void {
    const actor = this.#actors.get(ikeSaId)?.actor;
    if (actor?.getSnapshot().status === 'active') actor.send(event);
  }

  state(ikeSaId: string): IkeSaState | undefined {
    return this.#actors.get(ikeSaId)?.actor.getSnapshot().context.ike;
  }

  ids(): string[] {
    return [...this.#actors.keys()];
  }

  /** Rebuilds IKE SAs from their streams; one caught mid-rekey asks the key manager again. */
  async restore(ikeSaIds: readonly string[]): Promise<void> {
    for (const id of ikeSaIds) {
      const state = ((await this.deps.log.read(ikeStream(id))) as IkeFact[]).reduce(evolveIkeSa, initialIkeSaState);
      if (state.status === 'none' || state.status === 'dead') continue;
      this.#start(id, state);
      if (state.status === 'rekeying') this.send(id, { type: 'ike.rekeyFailed', reason: 'restart' });
    }
  }

  settled(): Promise<void[]> {
    return Promise.all([...this.#actors.values()].map((e) => e.journal.settled()));
  }

  stop(): void {
    for (const e of this.#actors.values()) e.actor.stop();
    this.#actors.clear();
  }

  #start(ikeSaId: string, state?: IkeSaState): { actor: IkeActor; journal: Journal } {
    const journal = new Journal(this.deps.log, ikeStream(ikeSaId), state?.version ?? 0);
    const machine = createIkeSaLifecycleMachine(this.deps).provide({
      actions: {
        journal: (_, p) => journal.record(p.facts),
        negotiateRekey: (_, p) =>
          journal.afterDurable(() => {
            const km = this.host.keyManager();
            const done = km?.rekeyIke ? km.rekeyIke({ old: ikeSaId, next: p.newIkeSaId, correlationId: `ike-rekey-${p.newIkeSaId}` }, AbortSignal.timeout(30_000)) : Promise.reject(new Error('the key manager cannot rekey IKE SAs'));
            done.then(
              () => this.send(ikeSaId, { type: 'ike.rekeyed', newIkeSaId: p.newIkeSaId }),
              (e: unknown) => this.send(ikeSaId, { type: 'ike.rekeyFailed', reason: String((e as Error)?.message ?? e) }),
            );
          }),
        // RFC 7296 §2.8: the children now belong to the new IKE SA (each SA records it too).
        moveChildren: (_, p) =>
          journal.afterDurable(() => {
            for (const saId of p.children) {
              this.host.send(saId, { type: 'ike.moved', ikeSaId: p.toIkeSaId });
              this.send(p.toIkeSaId, { type: 'child.add', saId });
            }
          }),
        // RFC 7296 §1.4.1: deleting an IKE SA deletes the CHILD SAs negotiated under it.
        deleteChildren: (_, p) => journal.afterDurable(() => { for (const saId of p.children) this.host.deleteSa(saId, 'ikeSaDeleted'); }),
      },
    });
    const actor = createActor(machine, { input: { ikeSaId, ...(state ? { state } : {}) }, clock: this.deps.clock, ...(this.inspect ? { inspect: this.inspect } : {}) });
    actor.start();
    const entry = { actor, journal };
    this.#actors.set(ikeSaId, entry);
    return entry;
  }
}
