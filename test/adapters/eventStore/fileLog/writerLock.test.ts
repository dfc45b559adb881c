/**
 * One writer per directory: a second process gets `StoreLocked` naming the holder; a lock left by
 * a dead process (SIGKILL, another boot, a reused pid) is taken over; a lock that cannot be
 * judged (another host, unreadable) is kept, and the message says what to do.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fileLogEventStore } from '../../../../adapters/eventStore/fileLog/fileLogEventStore.js';
import { StoreLocked } from '../../../../adapters/eventStore/types.js';
import { childRunner, exited, lineReader } from './childProcess.js';
import type { ChildRunner } from './childProcess.js';

async function locked(dir: string): Promise<StoreLocked> {
  try {
    const store = await fileLogEventStore({ directory: dir });
    await store.close();
  } catch (e) {
    expect(e).toBeInstanceOf(StoreLocked);
    expect((e as StoreLocked).code).toBe('store.locked');
    return e as StoreLocked;
  }
  throw new Error('expected StoreLocked, but the store opened');
}

async function opens(dir: string): Promise<void> {
  const store = await fileLogEventStore({ directory: dir });
  await store.appendToStream('lock-test', [{ id: `e-${Math.random()}`, type: 'Locked', data: {}, metadata: { at: '2025-01-01T00:00:00.000Z', schemaVersion: 1 } }]);
  await store.close();
}

describe('file log writer lock', () => {
  let runner: ChildRunner;
  let dir: string;
  beforeAll(async () => {
    runner = await childRunner();
  });
  afterAll(() => runner.dispose());
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipsec-es-lock-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a second process gets StoreLocked naming the holder, until the holder dies', async () => {
    const holder = runner.spawn(['hold', dir]);
    const line = await lineReader(holder.stdout).next((l) => l.startsWith('open '));
    const pid = Number(line.split(' ')[1]);
    const e = await locked(dir);
    expect(e.message).toContain(`process ${pid} on ${hostname()}`);
    expect(e.message).toMatch(/one writer/);

    const other = runner.spawn(['try', dir]);
    const answer = await lineReader(other.stdout).next((l) => l.startsWith('open') || l.startsWith('error'));
    expect(answer).toMatch(/^error StoreLocked .*in use by process/);
    await exited(other);

    holder.kill('SIGKILL');
    await exited(holder);
    await opens(dir); // the dead holder's lock is stale: taken over
    expect((await readdir(dir)).filter((f) => f.startsWith('LOCK'))).toEqual([]);
  });

  it('a store open in this process locks out a second open here, until closed', async () => {
    const first = await fileLogEventStore({ directory: dir });
    const e = await locked(dir);
    expect(e.message).toContain(`this process (pid ${process.pid})`);
    const child = runner.spawn(['try', dir]);
    expect(await lineReader(child.stdout).next((l) => l.startsWith('open') || l.startsWith('error'))).toMatch(/^error StoreLocked/);
    await exited(child);
    await first.close();
    const again = runner.spawn(['try', dir]);
    expect(await lineReader(again.stdout).next((l) => l.startsWith('open') || l.startsWith('error'))).toBe('open');
    await exited(again);
  });

  it('takes over a lock whose holder is provably gone', async () => {
    const boot = await readFile('/proc/sys/kernel/random/boot_id', 'utf8').then((s) => s.trim(), () => undefined);
    const stale = [
      { pid: 2 ** 22 + 12345, host: hostname(), since: '2025-01-01T00:00:00.000Z' }, // no such pid
      { pid: 1, host: hostname(), startTime: '999999999999', since: '2025-01-01T00:00:00.000Z' }, // pid 1 reused by another start
      ...(boot ? [{ pid: 1, host: hostname(), bootId: 'another-boot', since: '2025-01-01T00:00:00.000Z' }] : []),
    ];
    for (const holder of stale) {
      await writeFile(join(dir, 'LOCK'), `${JSON.stringify(holder)}\n`);
      await opens(dir);
    }
  });

  it('keeps a lock it cannot judge, and says what to do', async () => {
    await writeFile(join(dir, 'LOCK'), `${JSON.stringify({ pid: 4242, host: 'elsewhere.example', since: '2025-01-01T00:00:00.000Z' })}\n`);
    expect((await locked(dir)).message).toContain('process 4242 on elsewhere.example');
    await writeFile(join(dir, 'LOCK'), 'garbage');
    const e = await locked(dir);
    expect(e.message).toContain(`delete ${join(dir, 'LOCK')}`);
    expect(await readFile(join(dir, 'LOCK'), 'utf8')).toBe('garbage');
  });
});
