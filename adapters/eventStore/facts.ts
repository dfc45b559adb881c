/**
 * Between the engine's facts and the store's events: a fact's metadata id becomes the event id
 * (idempotent appends), its other metadata the event's; reading back gives `LoggedFact`s for
 * replays and projections.
 */
import { filter, firstValueFrom, type Observable, Subject } from 'rxjs';
import type { Fact } from '../../engine/events/fact.js';
import { applyFact, emptyGatewayState, type GatewayState, type LoggedFact } from '../../engine/projections/replay.js';
import type { EventData, EventStore, RecordedEvent } from './types.js';
import type { FactLog } from '../../machines/ports.js';

/** @example await store.appendToStream('sa-1', facts.map(toEventData), { expectedVersion }) */
export function toEventData(f: Fact): EventData {
  const { id, ...metadata } = f.meta;
  return { id, type: f.type, data: f.data, metadata };
}

/** @example const logged = fromRecorded(recordedEvent) */
export function fromRecorded(e: RecordedEvent): LoggedFact {
  const { at, schemaVersion, causationId, correlationId } = e.metadata;
  const meta: Fact['meta'] = { id: e.id, at, schemaVersion };
  if (causationId !== undefined) meta.causationId = causationId;
  if (correlationId !== undefined) meta.correlationId = correlationId;
  return { streamName: e.streamName, position: e.globalPosition, fact: { type: e.type, data: e.data, meta } };
}

/**
 * The whole log of a store in global order, page by page.
 *
 * @example
 * const then = replayTo(await readLog(store), { time: '2026-11-22T03:00:00Z' });
 */
export async function readLog(store: EventStore, options: { after?: bigint; pageSize?: number; onPage?: (position: bigint) => void } = {}): Promise<LoggedFact[]> {
  const out: LoggedFact[] = [];
  let after = options.after ?? 0n;
  for (;;) {
    const page = await store.readAll({ after, maxCount: options.pageSize ?? 10_000 });
    if (page.length === 0) return out;
    for (const e of page) out.push(fromRecorded(e));
    after = page[page.length - 1]!.globalPosition;
    options.onPage?.(after);
  }
}

/** Where a projection keeps its checkpoint (the last global position it folded). */
export interface CheckpointStore {
  load(name: string): Promise<bigint>;
  save(name: string, position: bigint): Promise<void>;
}

/** @example const checkpoints = memoryCheckpoints(); */
export function memoryCheckpoints(): CheckpointStore {
  const m = new Map<string, bigint>();
  return { load: async (n) => m.get(n) ?? 0n, save: async (n, p) => void m.set(n, p) };
}

export interface ProjectionRunner {
  /** The read model as of `position`. */
  readonly state: GatewayState;
  /** Emits the position after each fact folded. */
  readonly progress: Observable<bigint>;
  /** Resolves once the runner has folded everything up to `position`. */
  caughtUpTo(position: bigint): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs the gateway projection (SA inventory and policies) live over a store: catch-up from its
 * checkpoint (or a snapshot's position), then live, saving the checkpoint every `every` facts
 * and on stop. Rebuilt from scratch it equals the live one (a property of `applyFact`).
 *
 * @example
 * const runner = runProjection(store, 'inventory', memoryCheckpoints());
 * await runner.caughtUpTo(lastPosition);
 * runner.state.sas.get('7f3a')?.status
 */
export async function runProjection(store: EventStore, name: string, checkpoints: CheckpointStore, options: { from?: GatewayState; every?: number } = {}): Promise<ProjectionRunner> {
  const state = options.from ?? emptyGatewayState();
  const saved = await checkpoints.load(name);
  const start = state.position > saved ? state.position : saved;
  if (start > state.position && !options.from) {
    // A checkpoint without its state: rebuild the state up to it, then go live.
    for (const f of await readLog(store, { after: state.position })) {
      if (f.position > start) break;
      applyFact(state, f);
    }
  }
  const progress = new Subject<bigint>();
  let sinceSave = 0;
  const every = options.every ?? 1000;
  const subscription = store.subscribe({ after: state.position }).subscribe({
    next: (e) => {
      applyFact(state, fromRecorded(e));
      progress.next(state.position);
      if (++sinceSave >= every) {
        sinceSave = 0;
        void checkpoints.save(name, state.position);
      }
    },
    error: (err) => progress.error(err),
  });
  return {
    state,
    progress,
    async caughtUpTo(position) {
      if (state.position >= position) return;
      await firstValueFrom(progress.pipe(filter((p) => p >= position)));
    },
    async stop() {
      subscription.unsubscribe();
      await checkpoints.save(name, state.position);
      progress.complete();
    },
  };
}

/**
 * The control plane's `FactLog` port over any event store: expected version 0 means "no stream
 * yet", n means "the stream is at version n" (DESIGN §3 write-ahead).
 *
 * @example
 * const gateway = createGateway({ log: factLog(store), ... });
 */
export function factLog(store: EventStore): FactLog {
  return {
    async append(stream, facts, expectedVersion) {
      await store.appendToStream(stream, facts.map(toEventData), { expectedVersion: expectedVersion === 0 ? 'noStream' : BigInt(expectedVersion) });
    },
    async read(stream) {
      const out: Fact[] = [];
      let from = 1n;
      for (;;) {
        const page = await store.readStream(stream, { from, maxCount: 10_000 });
        for (const e of page.events) out.push(fromRecorded(e).fact);
        if (page.events.length < 10_000) return out;
        from += BigInt(page.events.length);
      }
    },
  };
}
