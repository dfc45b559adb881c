/**
 * `subscribe()` for back ends that know every commit as it happens (in-memory, the file log):
 * catch-up by reading pages, then live from commit notifications, with no gap and no duplicate
 * across the switch. One cursor (`last`, the last position delivered) decides everything: a
 * commit that starts right after what the subscriber has seen is delivered from memory, anything
 * else (a commit while a page is being read, a commit that skips ahead) sends the subscriber back
 * to reading pages from `last`, and a page never delivers a position ≤ `last`.
 */
import { Observable } from 'rxjs';
import type { RecordedEvent } from './types.js';

/** What a store hands to its live subscribers. */
export interface CommitListener {
  /**
   * Events just committed, in global order, all with positions after `previousHead` (the global
   * position of the last event committed before them) and nothing committed in between.
   */
  commit(events: readonly RecordedEvent[], previousHead: number): void;
  /** The store closed: complete. */
  end(): void;
}

export interface LiveSource {
  /** Committed events with positions > `after`, at most `max`, in global order. */
  readPage(after: number, max: number): Promise<RecordedEvent[]>;
  /** Registers a listener; returns its removal. */
  listen(listener: CommitListener): () => void;
}

const PAGE = 512;

/**
 * A cold Observable of every event after `after`: catch-up, then live.
 *
 * @example
 * const events$ = catchUpThenLive({ readPage, listen }, 0);
 */
export function catchUpThenLive(source: LiveSource, after: number): Observable<RecordedEvent> {
  return new Observable<RecordedEvent>((subscriber) => {
    let last = after;
    let busy = false; // reading pages or delivering a commit
    let again = false; // a commit arrived while busy: read once more
    let done = false;

    const deliver = (events: readonly RecordedEvent[]): void => {
      for (const e of events) {
        if (done) return;
        const p = Number(e.globalPosition);
        if (p <= last) continue;
        last = p;
        subscriber.next(e);
      }
    };

    const pump = async (): Promise<void> => {
      busy = true;
      try {
        do {
          again = false;
          for (;;) {
            const page = await source.readPage(last, PAGE);
            if (done) return;
            deliver(page);
            if (page.length < PAGE) break;
          }
        } while (again && !done);
      } catch (err) {
        if (!done) {
          done = true;
          subscriber.error(err);
        }
      } finally {
        busy = false;
      }
    };

    const stop = source.listen({
      commit(events, previousHead) {
        if (done) return;
        if (busy) {
          again = true;
          return;
        }
        if (previousHead > last) {
          void pump();
          return;
        }
        busy = true;
        try {
          deliver(events);
        } finally {
          busy = false;
        }
        if (again && !done) void pump();
      },
      end() {
        if (done) return;
        done = true;
        subscriber.complete();
      },
    });
    void pump();
    return () => {
      done = true;
      stop();
    };
  });
}
