/**
 * Zeroing ahead (FORMAT.md §Zeroing ahead): while the store is open the active segment goes on
 * with durable zeros after its last record; a clean close and every roll cut them, so closed and
 * earlier segments end at their last record; a crash image (a copy taken while open) reopens with
 * every acknowledged event and the zeros cut as a torn tail.
 */
import { cp, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileLogEventStore } from '../../../../adapters/eventStore/fileLog/fileLogEventStore.js';
import { SEGMENT_HEADER_BYTES, readRecord } from '../../../../adapters/eventStore/fileLog/recordCodec.js';
import type { EventData } from '../../../../adapters/eventStore/types.js';

let n = 0;
const fact = (): EventData => ({ id: `z-${++n}`, type: 'ZeroTested', data: { n, pad: 'p'.repeat(n % 50) }, metadata: { at: '2025-01-01T00:00:00.000Z', schemaVersion: 1 } });

/** Where the records of a segment end, and what follows them. */
async function layout(path: string): Promise<{ recordsEnd: number; size: number; tailIsZeros: boolean; records: number }> {
  const buf = await readFile(path);
  let off = SEGMENT_HEADER_BYTES;
  let records = 0;
  for (;;) {
    const r = readRecord(buf, off);
    if (typeof r === 'string') break;
    off += r.bytes;
    records++;
  }
  return { recordsEnd: off, size: buf.length, tailIsZeros: buf.subarray(off).every((b) => b === 0), records };
}

async function segments(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.log')).sort().map((f) => join(dir, f));
}

describe('file log: zeroing ahead', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipsec-es-zero-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps zeros after the last record while open, and cuts them on close', async () => {
    const store = await fileLogEventStore({ directory: join(dir, 'log') });
    for (let i = 0; i < 20; i++) await store.appendToStream(`z-${i % 3}`, [fact(), fact()]);
    const [seg] = await segments(join(dir, 'log'));
    const open = await layout(seg!);
    expect(open.records).toBe(20);
    expect(open.size).toBeGreaterThanOrEqual(open.recordsEnd + 4096);
    expect(open.tailIsZeros).toBe(true);
    await store.close();
    const closed = await layout(seg!);
    expect(closed).toEqual({ recordsEnd: open.recordsEnd, size: open.recordsEnd, tailIsZeros: true, records: 20 });
    const again = await fileLogEventStore({ directory: join(dir, 'log') });
    expect(again.recovery.truncated).toBeUndefined();
    expect((await again.readAll()).length).toBe(40);
    await again.close();
  });

  it('a crash image (copied while open) keeps every acknowledged event; the zeros are cut as a torn tail', async () => {
    const store = await fileLogEventStore({ directory: join(dir, 'log') });
    const acked: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 10; i++) {
          const batch = [fact(), fact(), fact()];
          await store.appendToStream(`crash-${w}`, batch);
          acked.push(...batch.map((e) => e.id));
        }
      }),
    );
    await cp(join(dir, 'log'), join(dir, 'image'), { recursive: true, filter: (src) => !src.endsWith('LOCK') });
    await store.close();
    const [seg] = await segments(join(dir, 'image'));
    const before = await layout(seg!);
    expect(before.size).toBeGreaterThan(before.recordsEnd);
    const image = await fileLogEventStore({ directory: join(dir, 'image') });
    expect(image.recovery.truncated).toMatchObject({ offset: before.recordsEnd, bytes: before.size - before.recordsEnd });
    expect(image.recovery.truncated!.reason).toMatch(/only zeros from here/);
    expect(new Set((await image.readAll()).map((e) => e.id))).toEqual(new Set(acked));
    await image.appendToStream('after', [fact()]);
    await image.close();
    expect((await layout(seg!)).size).toBe((await layout(seg!)).recordsEnd);
  });

  it('cuts the zeros of a segment before rolling to the next, so earlier segments end at their last record', async () => {
    const store = await fileLogEventStore({ directory: join(dir, 'log'), segmentBytes: 16 * 1024 });
    let events = 0;
    for (let i = 0; i < 200; i++) {
      await store.appendToStream(`roll-${i % 5}`, [fact(), fact()]);
      events += 2;
    }
    const files = await segments(join(dir, 'log'));
    expect(files.length).toBeGreaterThan(3);
    for (const f of files.slice(0, -1)) {
      const l = await layout(f);
      expect(l.size, f).toBe(l.recordsEnd);
      expect(l.recordsEnd, f).toBeGreaterThanOrEqual(16 * 1024);
    }
    const last = await layout(files.at(-1)!);
    expect(last.tailIsZeros).toBe(true);
    expect(last.size).toBeLessThanOrEqual(16 * 1024 + 4096);
    await store.close();
    const again = await fileLogEventStore({ directory: join(dir, 'log'), segmentBytes: 16 * 1024 });
    expect(again.recovery).toMatchObject({ segments: files.length, events });
    expect(again.recovery.truncated).toBeUndefined();
    await again.close();
  });

  it('zeroAhead: false writes nothing past the last record', async () => {
    const store = await fileLogEventStore({ directory: join(dir, 'log'), zeroAhead: false });
    for (let i = 0; i < 10; i++) await store.appendToStream('plain', [fact()]);
    const [seg] = await segments(join(dir, 'log'));
    const l = await layout(seg!);
    expect(l.size).toBe(l.recordsEnd);
    expect((await stat(seg!)).size).toBe(l.recordsEnd);
    await store.close();
    await expect(fileLogEventStore({ directory: join(dir, 'log2'), zeroAhead: 'yes' as never })).rejects.toThrow(/^options\.zeroAhead/);
  });
});
