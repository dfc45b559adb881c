/**
 * One writer per directory: a `LOCK` file naming its holder (pid, host, boot id, process start
 * time). Node has no flock(2), so the lock is a file whose holder is checked for life:
 *
 * - taking it is atomic and never shows a half-written file: the identity is written to a private
 *   temporary file first and then hard-linked to `LOCK` (link(2) fails with EEXIST if it exists);
 * - a lock is stale when its holder is provably gone: same host and either another boot (boot id)
 *   or no such pid, or a pid now belonging to a process that started at another time (pid reuse);
 * - a stale lock is broken by renaming it aside and checking that what was renamed is the stale
 *   lock that was read (a racing opener that broke it first and took it is put back and wins);
 * - a lock held on another host, or by a live process, is `StoreLocked` with the holder named.
 *
 * Limits: processes in different pid namespaces (containers) sharing a directory see each other's
 * pids wrongly; give each container its own directory. On a network file system the host check
 * keeps a remote holder's lock, and removing a stale one is left to the operator.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StoreLocked } from '../types.js';

export const LOCK_FILE = 'LOCK';

interface Holder {
  pid: number;
  host: string;
  bootId?: string;
  startTime?: string;
  since: string;
}

function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Field 22 (starttime, clock ticks since boot); the name (field 2) may hold spaces and ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
  } catch {
    return undefined;
  }
}

function parse(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Partial<Holder>;
    return typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.since === 'string' ? (h as Holder) : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(h: Holder): boolean {
  if (h.host !== hostname()) return true;
  const boot = bootId();
  if (h.bootId && boot && h.bootId !== boot) return false;
  if (h.pid === process.pid) return true;
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = h.startTime === undefined ? undefined : procStartTime(h.pid);
  return !(start !== undefined && start !== h.startTime);
}

function describeHolder(h: Holder): string {
  return h.pid === process.pid && h.host === hostname() ? `this process (pid ${h.pid}) since ${h.since}` : `process ${h.pid} on ${h.host} since ${h.since}`;
}

/** The held lock; `release()` removes `LOCK` if it is still ours. */
export interface WriterLock {
  release(): Promise<void>;
}

/**
 * Takes the writer lock of `directory` or throws `StoreLocked` naming the holder.
 *
 * @example
 * const lock = await acquireWriterLock('/var/lib/ipsec-es/log');
 * await lock.release();
 */
export async function acquireWriterLock(directory: string): Promise<WriterLock> {
  const path = join(directory, LOCK_FILE);
  const me: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const boot = bootId();
  const start = procStartTime(process.pid);
  if (boot) me.bootId = boot;
  if (start) me.startTime = start;
  const mine = `${JSON.stringify(me)}\n`;
  const tmp = join(directory, `${LOCK_FILE}.${process.pid}.${randomBytes(6).toString('hex')}`);
  // Synced before it is linked: after a power loss LOCK holds a whole identity, never zeros.
  const fh = await open(tmp, 'wx');
  try {
    await fh.writeFile(mine);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(tmp, path);
        return {
          async release() {
            const now = await readFile(path, 'utf8').catch(() => undefined);
            if (now === mine) await unlink(path).catch(() => {});
          },
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
      if (text === undefined) continue; // released meanwhile: try again
      const holder = parse(text);
      if (!holder) {
        throw new StoreLocked(`${directory} has an unreadable ${LOCK_FILE} file; if no process uses this event store, delete ${path} and open it again`);
      }
      if (isAlive(holder)) {
        throw new StoreLocked(
          `${directory} is in use by ${describeHolder(holder)}: an event store directory has one writer; stop that process or close its store, or use another directory`,
        );
      }
      // Stale: move it aside, then make sure what moved is the stale lock just read.
      const aside = join(directory, `${LOCK_FILE}.stale.${process.pid}.${randomBytes(6).toString('hex')}`);
      try {
        await rename(path, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      const moved = await readFile(aside, 'utf8');
      if (moved !== text) {
        // Another opener broke the stale lock and took it before our rename: give it back.
        await link(aside, path).catch(() => {});
        await unlink(aside);
        const winner = parse(moved);
        throw new StoreLocked(`${directory} is in use by ${winner ? describeHolder(winner) : 'another process'}: an event store directory has one writer`);
      }
      await unlink(aside);
    }
    throw new StoreLocked(`${directory}: could not take ${LOCK_FILE} after 5 attempts; other processes keep opening this store`);
  } finally {
    await unlink(tmp).catch(() => {});
  }
}
