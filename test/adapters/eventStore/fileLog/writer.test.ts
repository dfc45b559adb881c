/**
 * The file log's two writers (FORMAT.md §Writing): the writer thread (default) and libuv's thread
 * pool. A full disk, for real: a 1 MiB tmpfs mounted for the test (root only; skipped visibly
 * otherwise) fills up mid-run; the store stops accepting appends with StoreUnavailable naming the
 * cause, and every append it acknowledged is there after reopening. Records larger than the
 * writer's buffers (one-shot shared buffers) interleaved with small ones land whole and in order.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileLogEventStore } from '../../../../adapters/eventStore/fileLog/fileLogEventStore.js';
import { StoreUnavailable } from '../../../../adapters/eventStore/types.js';
import type { EventData } from '../../../../adapters/eventStore/types.js';

let n = 0;
const fact = (bytes = 0): EventData => ({ id: `w-${++n}`, type: 'WriterTested', data: { n, pad: 'x'.repeat(bytes) }, metadata: { at: '2025-01-01T00:00:00.000Z', schemaVersion: 1 } });

const canMount = process.getuid?.() === 0;
if (!canMount) console.log('skipped: not root (writer.test.ts: the disk-full test mounts a small tmpfs)');

describe('file log writers', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipsec-es-writer-'));
  });
  afterEach(async () => {
    if (canMount) {
      try {
        execFileSync('umount', [dir], { stdio: 'ignore' });
      } catch {
        // not mounted (the tests that do not fill a disk)
      }
    }
    await rm(dir, { recursive: true, force: true });
  }, 30_000);

  for (const writer of ['thread', 'pool'] as const) {
    it.skipIf(!canMount)(`${writer}: a full disk stops the store with StoreUnavailable (ENOSPC); everything acknowledged survives a reopen`, async () => {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
      const store = await fileLogEventStore({ directory: dir, writer });
      const acked: string[] = [];
      const failures: unknown[] = [];
      // 16 writers of ~4 KiB facts: about 256 fit in 1 MiB.
      await Promise.all(
        Array.from({ length: 16 }, async (_, w) => {
          for (let i = 0; i < 100; i++) {
            const f = fact(4000);
            try {
              await store.appendToStream(`full-${w}`, [f]);
              acked.push(f.id);
            } catch (e) {
              failures.push(e);
              return;
            }
          }
        }),
      );
      expect(acked.length).toBeGreaterThan(50);
      expect(failures.length).toBe(16);
      for (const e of failures) expect(e).toBeInstanceOf(StoreUnavailable);
      expect((failures[0] as Error).message).toMatch(/ENOSPC/);
      expect((failures[0] as Error).message).toMatch(/accepts no more appends/);
      // Fail-stop: what the page cache holds after a failed write is not trusted.
      await expect(store.appendToStream('after', [fact()])).rejects.toBeInstanceOf(StoreUnavailable);
      await store.close();
      const again = await fileLogEventStore({ directory: dir });
      const ids = new Set((await again.readAll()).map((e) => e.id));
      for (const id of acked) expect(ids.has(id), id).toBe(true);
      await again.close();
    });

    it(`${writer}: records bigger than the write buffers, between small ones, land whole and in order`, async () => {
      const store = await fileLogEventStore({ directory: dir, writer, segmentBytes: 4 * 1024 * 1024 });
      const sizes = [10, 300_000, 20, 3_000_000, 5, 600_000, 100, 9_000_000, 1];
      const written: EventData[] = [];
      for (let round = 0; round < 3; round++) {
        await Promise.all(
          sizes.map(async (size, w) => {
            const f = fact(size);
            await store.appendToStream(`big-${w}`, [f]);
            written.push(f);
          }),
        );
      }
      await store.close();
      const again = await fileLogEventStore({ directory: dir });
      expect(again.recovery.truncated).toBeUndefined();
      const all = await again.readAll();
      expect(all.map((e) => e.id).sort()).toEqual(written.map((e) => e.id).sort());
      for (const e of all) expect(e.data).toEqual(written.find((f) => f.id === e.id)!.data);
      await again.close();
    }, 60_000);
  }
});
