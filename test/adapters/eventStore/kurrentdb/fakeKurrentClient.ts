/**
 * A fake of the four `@kurrent/kurrentdb-client` calls the adapter makes, behaving as KurrentDB
 * does where the mapping depends on it: 0-based revisions; `$all` positions that are byte
 * offsets (large gaps, commit = prepare); system events in `$all`; reads of `$all` inclusive of
 * `fromPosition`, subscriptions exclusive of it; a missing stream read as `StreamNotFoundError`;
 * a wrong expected revision as `WrongExpectedVersionError`; a retried append with the same ids at
 * the same expected revision accepted once. The errors are the client's own classes.
 */
import { StreamNotFoundError, WrongExpectedVersionError } from '@kurrent/kurrentdb-client';
import type {
  AllStreamResolvedEvent, AppendResult, AppendStreamState, Direction, Filter, JSONEventData, Position, ReadPosition,
  ReadRevision, ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import type { KurrentClientLike, KurrentSubscriptionLike } from '../../../../adapters/eventStore/kurrentdb/kurrentdbEventStore.js';

interface Stored {
  streamId: string;
  revision: bigint;
  id: string;
  type: string;
  data: unknown;
  metadata: unknown;
  position: Position;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class FakeKurrentClient implements KurrentClientLike {
  readonly log: Stored[] = [];
  readonly calls: string[] = [];
  /** Thrown by the next call of that name (once). */
  readonly failNext = new Map<keyof KurrentClientLike, unknown>();
  disposed = false;
  private nextOffset = 0n;
  private readonly live = new Set<(event: Stored) => void>();

  constructor({ systemEvents = true } = {}) {
    if (systemEvents) {
      // What a fresh KurrentDB has in $all before anyone writes.
      this.write('$settings', [{ id: '00000000-0000-4000-8000-000000000001', type: '$settings', data: {}, metadata: undefined }]);
      this.write('$stats-127.0.0.1:2113', [{ id: '00000000-0000-4000-8000-000000000002', type: '$statsCollected', data: {}, metadata: undefined }]);
    }
  }

  private failIfAsked(name: keyof KurrentClientLike): void {
    this.calls.push(name);
    const error = this.failNext.get(name);
    if (error !== undefined) {
      this.failNext.delete(name);
      throw error;
    }
  }

  private stream(streamId: string): Stored[] {
    return this.log.filter((e) => e.streamId === streamId);
  }

  /** Appends as the server does; also used to plant system events and legacy transactions. */
  write(streamId: string, events: { id: string; type: string; data: unknown; metadata: unknown }[], sharedCommit = false): Stored[] {
    const base = BigInt(this.stream(streamId).length);
    const commit = this.nextOffset;
    const written = events.map((event, i) => {
      const size = BigInt(Buffer.byteLength(JSON.stringify(event.data ?? null)) + 120);
      const offset = this.nextOffset;
      this.nextOffset += size;
      const stored: Stored = {
        streamId, revision: base + BigInt(i), id: event.id, type: event.type,
        data: JSON.parse(JSON.stringify(event.data ?? null)) as unknown,
        metadata: event.metadata === undefined ? undefined : JSON.parse(JSON.stringify(event.metadata)) as unknown,
        position: sharedCommit ? { commit, prepare: offset } : { commit: offset, prepare: offset },
      };
      this.log.push(stored);
      return stored;
    });
    for (const event of written) for (const listener of this.live) listener(event);
    return written;
  }

  async appendToStream(streamName: string, events: JSONEventData[], options: { streamState: AppendStreamState }): Promise<AppendResult> {
    await Promise.resolve();
    this.failIfAsked('appendToStream');
    for (const event of events) if (!UUID.test(event.id)) throw new Error(`fake: event id ${event.id} is not a lower-case UUID`);
    const stream = this.stream(streamName);
    const current = BigInt(stream.length) - 1n;
    const state = options.streamState;
    // KurrentDB's idempotency: the same ids right after the expected revision.
    const expectedRevision = state === 'no_stream' ? -1n : typeof state === 'bigint' ? state : undefined;
    if (expectedRevision !== undefined) {
      const slice = stream.slice(Number(expectedRevision + 1n), Number(expectedRevision + 1n) + events.length);
      if (slice.length === events.length && slice.every((e, i) => e.id === events[i]!.id)) {
        const last = slice.at(-1)!;
        return { success: true, nextExpectedRevision: last.revision, position: last.position };
      }
    } else if (events.length > 0 && events.every((e) => stream.some((s) => s.id === e.id))) {
      const last = stream.find((s) => s.id === events.at(-1)!.id)!;
      return { success: true, nextExpectedRevision: last.revision, position: last.position };
    }
    const ok = state === 'any' ? true : state === 'no_stream' ? current === -1n : state === 'stream_exists' ? current >= 0n : current === state;
    if (!ok) {
      throw new WrongExpectedVersionError(undefined, { streamName, expected: state, current: current < 0n ? 'no_stream' : current });
    }
    const written = this.write(streamName, events.map((e) => ({ id: e.id, type: e.type, data: e.data, metadata: e.metadata })));
    const last = written.at(-1)!;
    return { success: true, nextExpectedRevision: last.revision, position: last.position };
  }

  readStream(streamName: string, options: { fromRevision: ReadRevision; maxCount?: number | bigint; direction?: Direction }): AsyncIterable<ResolvedEvent> {
    const self = this;
    return (async function* () {
      await Promise.resolve();
      self.failIfAsked('readStream');
      const stream = self.stream(streamName);
      if (stream.length === 0) throw new StreamNotFoundError(undefined, streamName);
      const max = Number(options.maxCount ?? Number.MAX_SAFE_INTEGER);
      const backwards = options.direction === 'backwards';
      const from = options.fromRevision === 'start' ? (backwards ? -1n : 0n)
        : options.fromRevision === 'end' ? (backwards ? BigInt(stream.length - 1) : BigInt(stream.length)) : options.fromRevision;
      const selected = backwards ? stream.filter((e) => e.revision <= from).reverse() : stream.filter((e) => e.revision >= from);
      for (const event of selected.slice(0, max)) yield resolve(event);
    })();
  }

  readAll(options: { fromPosition: ReadPosition; maxCount?: number | bigint; filter?: Filter }): AsyncIterable<AllStreamResolvedEvent> {
    const self = this;
    return (async function* () {
      await Promise.resolve();
      self.failIfAsked('readAll');
      const max = Number(options.maxCount ?? Number.MAX_SAFE_INTEGER);
      let count = 0;
      for (const event of [...self.log]) {
        if (!atOrAfter(event.position, options.fromPosition)) continue; // inclusive, as the server
        if (!matches(options.filter, event)) continue;
        if (count++ >= max) return;
        yield resolve(event) as AllStreamResolvedEvent;
      }
    })();
  }

  subscribeToAll(options: { fromPosition: ReadPosition; filter?: Filter }): KurrentSubscriptionLike {
    this.failIfAsked('subscribeToAll');
    const queue: Stored[] = this.log.filter((e) => after(e.position, options.fromPosition) && matches(options.filter, e));
    let wake: (() => void) | undefined;
    let ended = false;
    const listener = (event: Stored) => {
      if (!matches(options.filter, event)) return;
      queue.push(event);
      wake?.();
    };
    this.live.add(listener);
    const live = this.live;
    return {
      async unsubscribe() {
        ended = true;
        live.delete(listener);
        wake?.();
      },
      async *[Symbol.asyncIterator]() {
        while (!ended) {
          const next = queue.shift();
          if (next !== undefined) {
            yield resolve(next) as AllStreamResolvedEvent;
            continue;
          }
          await new Promise<void>((r) => { wake = r; });
          wake = undefined;
        }
      },
    };
  }

  async dispose(): Promise<void> {
    this.calls.push('dispose');
    this.disposed = true;
  }
}

function resolve(event: Stored): ResolvedEvent {
  return {
    event: {
      streamId: event.streamId, id: event.id, revision: event.revision, type: event.type, isJson: true,
      created: new Date(0), data: event.data as never, metadata: event.metadata as never, position: event.position,
    },
    commitPosition: event.position.commit,
  } as ResolvedEvent;
}

function compare(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  return a.prepare === b.prepare ? 0 : a.prepare < b.prepare ? -1 : 1;
}

function atOrAfter(position: Position, from: ReadPosition): boolean {
  if (from === 'start') return true;
  if (from === 'end') return false;
  return compare(position, from) >= 0;
}

function after(position: Position, from: ReadPosition): boolean {
  if (from === 'start') return true;
  if (from === 'end') return false;
  return compare(position, from) > 0;
}

function matches(filter: Filter | undefined, event: Stored): boolean {
  if (filter === undefined) return true;
  const subject = filter.filterOn === 'eventType' ? event.type : event.streamId;
  if ('regex' in filter) return new RegExp(filter.regex).test(subject);
  return filter.prefixes.some((prefix) => subject.startsWith(prefix));
}
