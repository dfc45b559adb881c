/**
 * Wake-ups for the PostgreSQL event store's subscribers. They poll anyway (DESIGN §4: LISTEN/
 * NOTIFY only as a wake-up); this makes them poll *now* after an append: at once in this
 * process, by NOTIFY in others. A failed LISTEN or NOTIFY costs latency, never an event.
 */
import type { Pool, PoolClient } from 'pg';

export class PostgresWakeups {
  private readonly waiters = new Set<() => void>();
  private listener: Promise<PoolClient | undefined> | undefined;
  private notifying: Promise<void> | undefined;
  private notifyAgain = false;
  private closed = false;

  /** `channel` is a plain identifier (see `notifyChannel`). */
  constructor(private readonly pool: Pool, private readonly channel: string) {}

  /**
   * Calls `wake` on every append, here or (via LISTEN) in another process, until the returned
   * function is called. The first waiter opens the LISTEN connection, the last one closes it.
   */
  add(wake: () => void): () => void {
    this.waiters.add(wake);
    void this.ensureListener();
    return () => {
      this.waiters.delete(wake);
      this.releaseIfIdle();
    };
  }

  /** After a commit: wake this process's waiters now, and other processes' by one NOTIFY. */
  appended(): void {
    this.wakeAll();
    if (this.closed) return;
    if (this.notifying !== undefined) {
      this.notifyAgain = true; // coalesced: one NOTIFY in flight at a time
      return;
    }
    // A NOTIFY of its own, not inside the append: NOTIFY at commit serializes committers.
    this.notifying = this.pool.query('SELECT pg_notify($1, $2)', [this.channel, ''])
      .then(() => {}, () => {})
      .finally(() => {
        this.notifying = undefined;
        if (this.notifyAgain && !this.closed) {
          this.notifyAgain = false;
          this.appended();
        }
      });
  }

  async close(): Promise<void> {
    this.closed = true;
    const listener = this.listener;
    if (listener !== undefined) this.drop(await listener);
    await this.notifying;
  }

  private wakeAll(): void {
    for (const wake of this.waiters) wake();
  }

  private ensureListener(): Promise<PoolClient | undefined> {
    this.listener ??= (async () => {
      let client: PoolClient | undefined;
      try {
        client = await this.pool.connect();
        client.on('error', () => { this.drop(client); });
        client.on('notification', () => { this.wakeAll(); });
        await client.query(`LISTEN "${this.channel}"`);
        if (this.waiters.size === 0 || this.closed) {
          this.drop(client);
          return undefined;
        }
        return client;
      } catch {
        if (client !== undefined) this.drop(client);
        else this.listener = undefined;
        return undefined;
      }
    })();
    return this.listener;
  }

  private drop(client: PoolClient | undefined): void {
    this.listener = undefined;
    try {
      client?.release(true); // destroyed: never back in the pool while LISTENing
    } catch {
      // already released
    }
  }

  private releaseIfIdle(): void {
    const listener = this.listener;
    if (this.waiters.size > 0 || listener === undefined) return;
    void listener.then((client) => {
      if (this.listener === listener && this.waiters.size === 0) this.drop(client);
    });
  }
}
