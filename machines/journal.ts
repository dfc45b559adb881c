/**
 * Write-ahead for actors (DESIGN §3): an actor records facts synchronously as it transitions;
 * the journal appends them in order (coalescing what queues up while an append is in flight into
 * one append), and runs each effect only after every fact recorded before it is durable. So an
 * SA enters the data path only after `SaInstalled` is on disk, a NIC gets ADD_SA only after
 * `SaOffloaded`... and a crash between the two loses nothing that anyone saw.
 *
 * A failed append (a version conflict: two writers; or the store going away) fails the journal:
 * no later effect runs, and `failed` reports the cause once, so the host can stop the actor and
 * rehydrate it from its stream.
 */
import type { Fact } from '../engine/events/fact.js';
import type { FactLog } from './ports.js';

type Item = { kind: 'facts'; facts: readonly Fact[] } | { kind: 'effect'; run: () => void };

export class Journal {
  readonly #log: FactLog;
  readonly #stream: string;
  /** Version after everything recorded (durable or not). */
  #version: number;
  #durableVersion: number;
  readonly #queue: Item[] = [];
  #busy = false;
  #scheduled = false;
  #failure: unknown;
  #idle: Array<() => void> = [];
  readonly #onFailure: (error: unknown) => void;

  /**
   * @param version the stream version the actor's state was folded from (0: no stream yet).
   * @example
   * const journal = new Journal(log, 'sa-7', 0, (e) => restart('sa-7', e));
   */
  constructor(log: FactLog, stream: string, version: number, onFailure: (error: unknown) => void = () => {}) {
    this.#log = log;
    this.#stream = stream;
    this.#version = version;
    this.#durableVersion = version;
    this.#onFailure = onFailure;
  }

  get stream(): string {
    return this.#stream;
  }

  /** The version once everything recorded so far is durable. */
  get version(): number {
    return this.#version;
  }

  /** The version known to be on disk. */
  get durableVersion(): number {
    return this.#durableVersion;
  }

  /** The cause, once an append failed. */
  get failure(): unknown {
    return this.#failure;
  }

  /** Queues facts for appending, in order. */
  record(facts: readonly Fact[]): void {
    if (facts.length === 0 || this.#failure !== undefined) return;
    this.#version += facts.length;
    this.#queue.push({ kind: 'facts', facts });
    if (!this.#scheduled) this.#pump();
  }

  /** Runs `effect` once everything recorded before this call is durable; never after a failure. */
  afterDurable(effect: () => void): void {
    if (this.#failure !== undefined) return;
    this.#queue.push({ kind: 'effect', run: effect });
    // Never synchronously: effects run outside the actor's own step (xstate forbids nested
    // imperative sends from inside an action), in a microtask when nothing is pending.
    if (!this.#busy && !this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#pump();
      });
    }
  }

  /** Resolves when the queue is empty (everything durable and every effect run), or failed. */
  settled(): Promise<void> {
    if (!this.#busy && !this.#scheduled && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    if (this.#busy || this.#failure !== undefined) return;
    while (this.#queue[0]?.kind === 'effect') {
      const effect = this.#queue.shift() as { run: () => void };
      effect.run();
    }
    if (this.#queue.length === 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
      return;
    }
    // Coalesce consecutive fact batches into one append (one disk sync for a burst).
    const batch: Fact[] = [];
    while (this.#queue[0]?.kind === 'facts') batch.push(...(this.#queue.shift() as { facts: readonly Fact[] }).facts);
    this.#busy = true;
    this.#log.append(this.#stream, batch, this.#durableVersion).then(
      () => {
        this.#durableVersion += batch.length;
        this.#busy = false;
        this.#pump();
      },
      (error: unknown) => {
        this.#busy = false;
        this.#failure = error ?? new Error('append failed');
        this.#queue.length = 0;
        const idle = this.#idle;
        this.#idle = [];
        for (const resolve of idle) resolve();
        this.#onFailure(this.#failure);
      },
    );
  }
}
