/**
 * The in-memory event store: the reference every other back end is measured against (DESIGN §4).
 * It keeps events as JSON text, so what comes back has been through the same serialization a
 * real store applies (no aliasing of the caller's objects, `undefined` fields dropped, dates as
 * strings). Global positions are dense (1, 2, 3, ...). Nothing survives the process.
 */
import type { Observable } from 'rxjs';
import type {
  AppendOptions,
  AppendResult,
  EventData,
  EventStore,
  ReadAllOptions,
  ReadStreamOptions,
  ReadStreamResult,
  RecordedEvent,
  SubscribeOptions,
} from '../types.js';
import { catchUpThenLive } from '../liveSubscription.js';
import type { CommitListener } from '../liveSubscription.js';
import {
  checkExpectedVersion,
  checkIds,
  checkStreamName,
  readAllArgs,
  readStreamArgs,
  requireVersion,
  serializeEvents,
  storeClosed,
  subscribeArgs,
} from '../storeRules.js';
import type { SerializedEvent } from '../storeRules.js';

interface StoredEvent extends SerializedEvent {
  streamName: string;
  version: number;
  position: number;
}

interface StreamState {
  events: StoredEvent[];
  /** Event id → stream version, for idempotent retries. */
  ids: Map<string, number>;
}

function toRecorded(e: StoredEvent): RecordedEvent {
  return {
    id: e.id,
    type: e.type,
    data: JSON.parse(e.dataJson) as unknown,
    metadata: JSON.parse(e.metadataJson) as RecordedEvent['metadata'],
    streamName: e.streamName,
    streamVersion: BigInt(e.version),
    globalPosition: BigInt(e.position),
  };
}

/**
 * A fresh, empty in-memory event store.
 *
 * @example
 * const store = memoryEventStore();
 * await store.appendToStream('sa-1', [{ id: 'e1', type: 'SaInstalled', data: {}, metadata: { at: '2025-01-01T00:00:00Z', schemaVersion: 1 } }], { expectedVersion: 'noStream' });
 */
export function memoryEventStore(): EventStore {
  /** log[p - 1] is the event at global position p. */
  const log: StoredEvent[] = [];
  const streams = new Map<string, StreamState>();
  const listeners = new Set<CommitListener>();
  let closed = false;

  const readPage = async (after: number, max: number): Promise<RecordedEvent[]> => {
    const start = Math.min(after, log.length);
    return log.slice(start, Math.min(log.length, start + max)).map(toRecorded);
  };

  return {
    async appendToStream(streamName: string, events: readonly EventData[], options?: AppendOptions): Promise<AppendResult> {
      checkStreamName(streamName);
      const expected = checkExpectedVersion(options?.expectedVersion);
      const serialized = serializeEvents(events);
      if (closed) throw storeClosed(`appendToStream(${streamName})`);
      const stream = streams.get(streamName);
      const current = stream?.events.length ?? 0;
      const ids = checkIds(streamName, serialized, (id) => stream?.ids.get(id));
      if (ids.kind === 'retry') {
        const lastEvent = stream!.events[ids.lastVersion - 1]!;
        return { nextExpectedVersion: BigInt(ids.lastVersion), lastGlobalPosition: BigInt(lastEvent.position), createdNewStream: ids.firstVersion === 1 };
      }
      requireVersion(streamName, expected, current);
      if (serialized.length === 0) {
        return { nextExpectedVersion: BigInt(current), lastGlobalPosition: BigInt(stream?.events.at(-1)?.position ?? 0), createdNewStream: false };
      }
      const state = stream ?? { events: [], ids: new Map<string, number>() };
      if (!stream) streams.set(streamName, state);
      const previousHead = log.length;
      const added: StoredEvent[] = [];
      for (const e of serialized) {
        const stored: StoredEvent = { ...e, streamName, version: state.events.length + 1, position: log.length + 1 };
        log.push(stored);
        state.events.push(stored);
        state.ids.set(e.id, stored.version);
        added.push(stored);
      }
      if (listeners.size > 0) {
        const recorded = added.map(toRecorded);
        // After this call returns, like a real store's notification: a subscriber that appends
        // from its handler never re-enters this function.
        queueMicrotask(() => {
          for (const l of listeners) l.commit(recorded, previousHead);
        });
      }
      const lastAdded = added.at(-1)!;
      return { nextExpectedVersion: BigInt(lastAdded.version), lastGlobalPosition: BigInt(lastAdded.position), createdNewStream: current === 0 };
    },

    async readStream(streamName: string, options?: ReadStreamOptions): Promise<ReadStreamResult> {
      const { from, maxCount } = readStreamArgs(streamName, options);
      if (closed) throw storeClosed(`readStream(${streamName})`);
      const events = streams.get(streamName)?.events ?? [];
      const start = Math.min(from - 1, events.length);
      return {
        events: events.slice(start, Math.min(events.length, start + maxCount)).map(toRecorded),
        currentVersion: BigInt(events.length),
        streamExists: events.length > 0,
      };
    },

    async readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
      const { after, maxCount } = readAllArgs(options);
      if (closed) throw storeClosed('readAll');
      return readPage(after, maxCount);
    },

    subscribe(options?: SubscribeOptions): Observable<RecordedEvent> {
      const after = subscribeArgs(options);
      return catchUpThenLive(
        {
          readPage: async (from, max) => {
            if (closed) throw storeClosed('subscribe');
            return readPage(from, max);
          },
          listen: (listener) => {
            if (closed) {
              // Reported through readPage's error; no registration on a closed store.
              return () => {};
            }
            listeners.add(listener);
            return () => listeners.delete(listener);
          },
        },
        after,
      );
    },

    async close(): Promise<void> {
      if (closed) return;
      // Nothing is pending here (appends commit at once): live subscribers complete now, and a
      // page read already under way delivers nothing more.
      closed = true;
      for (const l of [...listeners]) l.end();
      listeners.clear();
    },
  };
}
