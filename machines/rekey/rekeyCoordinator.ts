/**
 * Runs CHILD SA rekeys for a gateway: one `childRekeyMachine` actor per old pair, however many
 * times its two SAs ask (both soft-expire), and the responder side of a rekey the peer started.
 */
import { createActor, fromPromise, type ActorRefFrom, type InspectionEvent, type Observer } from 'xstate';
import type { SaState } from '../../engine/aggregates/sa.js';
import type { InstalledPair, KeyManager, MachineDeps } from '../ports.js';
import { childRekeyMachine } from './childRekey.machine.js';

/** The part of the gateway a rekey needs. */
export interface RekeyHost {
  state(saId: string): SaState | undefined;
  send(saId: string, event: { type: 'rekey.start' | 'rekey.complete'; newSaId: string; correlationId?: string; byPeer?: boolean }): void;
  journal(saId: string): { settled(): Promise<void> } | undefined;
}

export class RekeyCoordinator {
  readonly #active = new Map<string, ActorRefFrom<typeof childRekeyMachine>>();
  readonly #nonces = new Map<string, Uint8Array>();
  /** Finished rekeys, newest last: `{ old, next, outcome }`. */
  readonly history: Array<{ old: InstalledPair; next: InstalledPair; outcome: 'done' | 'failed'; attempts: number }> = [];

  /**
   * @example
   * const rekeys = new RekeyCoordinator(gateway, deps, () => keyManager);
   */
  constructor(
    readonly host: RekeyHost,
    readonly deps: MachineDeps,
    readonly keyManager: () => KeyManager | undefined,
    readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void),
  ) {}

  /** The old pair an SA belongs to, from its recorded parameters. */
  pairOf(saId: string): InstalledPair | undefined {
    const p = this.host.state(saId)?.params;
    if (!p?.pairedSaId) return undefined;
    return p.direction === 'outbound' ? { outboundSaId: saId, inboundSaId: p.pairedSaId } : { outboundSaId: p.pairedSaId, inboundSaId: saId };
  }

  /** An SA asked for a rekey (soft expiry after jitter, or sequence exhaustion). */
  request(saId: string): void {
    const old = this.pairOf(saId);
    if (!old || this.#active.has(old.outboundSaId)) return;
    const alive = (id: string) => { const s = this.host.state(id)?.status; return s === 'mature' || s === 'rekeying'; };
    if (!alive(old.outboundSaId) || !alive(old.inboundSaId)) return;
    const next: InstalledPair = { outboundSaId: this.deps.random.uuid(), inboundSaId: this.deps.random.uuid() };
    const correlationId = `rekey-${next.outboundSaId}`;
    // This side's nonce for the exchange: a collision is settled by the lowest (RFC 7296 §2.8.1).
    this.#nonces.set(old.outboundSaId, this.deps.random.bytes(32));
    const machine = childRekeyMachine.provide({
      // Sends to other actors leave this actor's step first (a microtask): no nested transitions.
      actions: { markCompleted: () => queueMicrotask(() => this.#mark(old, next, 'rekey.complete', correlationId)) },
      actors: {
        negotiate: fromPromise(async () => {
          await Promise.all([this.host.journal(old.outboundSaId)?.settled(), this.host.journal(old.inboundSaId)?.settled()]);
          const km = this.keyManager();
          if (!km) throw new Error('no key manager');
          return km.rekeyChild({ old, next, correlationId }, AbortSignal.timeout(30_000));
        }),
      },
      guards: { oldAlive: () => alive(old.outboundSaId) && alive(old.inboundSaId) },
    });
    // RekeyStarted is recorded before the actor exists; `negotiate` waits until it is durable.
    this.#mark(old, next, 'rekey.start', correlationId);
    const actor = createActor(machine, { input: { old, next, correlationId }, clock: this.deps.clock, ...(this.inspect ? { inspect: this.inspect } : {}) });
    this.#active.set(old.outboundSaId, actor);
    actor.subscribe((s) => {
      if (s.status !== 'done') return;
      this.#active.delete(old.outboundSaId);
      this.#nonces.delete(old.outboundSaId);
      this.history.push({ old, next, outcome: s.value === 'done' ? 'done' : 'failed', attempts: s.context.attempt });
    });
    actor.start();
  }

  /**
   * The responder side: the peer rekeyed `old` into `next` (already installed here); record the
   * same make-before-break on this side's old SAs.
   */
  adopt(old: InstalledPair, next: InstalledPair, correlationId: string): void {
    this.adoptStart(old, next, correlationId);
    this.adoptComplete(old, next, correlationId);
  }

  /** `adopt` in two steps: the old pair is rekeying (no rekey of its own starts) until `adoptComplete`. */
  adoptStart(old: InstalledPair, next: InstalledPair, correlationId: string): void {
    this.#mark(old, next, 'rekey.start', correlationId, true);
  }

  adoptComplete(old: InstalledPair, next: InstalledPair, correlationId: string): void {
    this.#mark(old, next, 'rekey.complete', correlationId);
  }

  /** Stops every running rekey (a gateway shutting down); the SAs' logs say where each was. */
  stop(): void {
    for (const actor of this.#active.values()) actor.stop();
    this.#active.clear();
    this.#nonces.clear();
  }

  /** The nonce of the rekey of `outboundSaId`'s pair running here. */
  nonceOf(outboundSaId: string): Uint8Array | undefined {
    return this.#nonces.get(outboundSaId);
  }

  /** True while a rekey of the pair `outboundSaId` belongs to runs here. */
  running(outboundSaId: string): boolean {
    return this.#active.has(outboundSaId);
  }

  #mark(old: InstalledPair, next: InstalledPair, type: 'rekey.start' | 'rekey.complete', correlationId: string, byPeer = false): void {
    const peer = byPeer ? { byPeer } : {};
    this.host.send(old.inboundSaId, { type, newSaId: next.inboundSaId, correlationId, ...peer });
    this.host.send(old.outboundSaId, { type, newSaId: next.outboundSaId, correlationId, ...peer });
  }
}
