/**
 * Must show (issue 4): crash safety of the embedded default. Truncating a copy of the log at
 * every byte offset inside its last records and reopening keeps exactly the complete records;
 * damage that a torn write cannot explain (a bit flip in an old record, a cut in an earlier
 * segment, a missing segment) is `StoreCorrupted` naming the segment file and the byte offset,
 * and leaves the files untouched.
 */
import { open, readFile, readdir, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IpsecError } from '../../../../engine/errors.js';
import { fileLogEventStore } from '../../../../adapters/eventStore/fileLog/fileLogEventStore.js';
import { RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES, readRecord } from '../../../../adapters/eventStore/fileLog/recordCodec.js';
import type { RecordMeta } from '../../../../adapters/eventStore/fileLog/recordCodec.js';
import { StoreCorrupted } from '../../../../adapters/eventStore/types.js';
import type { EventData } from '../../../../adapters/eventStore/types.js';

let n = 0;
function fact(tag: string): EventData {
  n++;
  return { id: `${tag}-${n}`, type: 'CrashTested', data: { tag, n }, metadata: { at: '2025-01-01T00:00:00.000Z', schemaVersion: 1 } };
}

/**
 * The records of a segment file, as the codec reads them. A closed store's segment ends at its
 * last record; an open one's (`live`) may go on with zeros the writer zeroed ahead.
 */
function records(buf: Buffer, live = false): RecordMeta[] {
  const out: RecordMeta[] = [];
  for (let off = SEGMENT_HEADER_BYTES; off < buf.length; ) {
    const r = readRecord(buf, off);
    if (typeof r === 'string' && live && buf.subarray(off).every((b) => b === 0)) break;
    if (typeof r === 'string') throw new Error(`test log unreadable at ${off}: ${r}`);
    out.push(r);
    off += r.bytes;
  }
  return out;
}

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.log')).sort();
}

async function ids(dir: string): Promise<{ ids: string[]; truncated: boolean }> {
  const store = await fileLogEventStore({ directory: dir });
  try {
    return { ids: (await store.readAll()).map((e) => e.id), truncated: store.recovery.truncated !== undefined };
  } finally {
    await store.close();
  }
}

async function corruption(dir: string): Promise<StoreCorrupted> {
  try {
    const store = await fileLogEventStore({ directory: dir });
    await store.close();
  } catch (e) {
    expect(e).toBeInstanceOf(StoreCorrupted);
    expect(e).toBeInstanceOf(IpsecError);
    expect((e as StoreCorrupted).code).toBe('store.corrupted');
    return e as StoreCorrupted;
  }
  throw new Error('expected StoreCorrupted, but the store opened');
}

describe('file log crash recovery', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipsec-es-crash-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Sequential appends (each its own write), then 4 concurrent ones (one write), then 2 more. */
  async function buildLog(): Promise<{ file: string; bytes: Buffer; recs: RecordMeta[] }> {
    const store = await fileLogEventStore({ directory: dir });
    for (let i = 0; i < 6; i++) await store.appendToStream(`crash-${i % 2}`, Array.from({ length: 1 + (i % 3) }, () => fact('seq')));
    await Promise.all([0, 1, 2, 3].map((i) => store.appendToStream(`crash-${i}`, [fact('batch'), fact('batch')])));
    for (let i = 0; i < 2; i++) await store.appendToStream('crash-tail', [fact('tail')]);
    await store.close();
    const [file] = await segmentFiles(dir);
    const bytes = await readFile(join(dir, file!));
    return { file: file!, bytes, recs: records(bytes) };
  }

  it('keeps exactly the complete records when the log is cut at any byte of its last records', async () => {
    const { file, bytes, recs } = await buildLog();
    const path = join(dir, file);
    const idsOf = (upTo: number) => recs.filter((r) => r.offset + r.bytes <= upTo).flatMap((r) => r.ids);
    const boundaries = new Set(recs.map((r) => r.offset + r.bytes));
    const from = recs.at(-6)!.offset;
    let checked = 0;
    for (let cut = from; cut <= bytes.length; cut++) {
      await writeFile(path, bytes.subarray(0, cut));
      const got = await ids(dir);
      expect(got.ids, `cut at ${cut}`).toEqual(idsOf(cut));
      expect(got.truncated, `cut at ${cut}`).toBe(!boundaries.has(cut) && cut !== from);
      // The torn part is gone from the disk, not just skipped.
      const complete = Math.max(from, ...[...boundaries].filter((b) => b <= cut));
      expect((await stat(path)).size).toBe(complete);
      checked++;
    }
    expect(checked).toBeGreaterThan(6 * RECORD_HEADER_BYTES);
    // After a cut, the log goes on: new appends land after the last complete record.
    await writeFile(path, bytes.subarray(0, recs.at(-1)!.offset + 5));
    const store = await fileLogEventStore({ directory: dir });
    const r = await store.appendToStream('crash-after', [fact('after')]);
    expect(r.lastGlobalPosition).toBe(BigInt(recs.slice(0, -1).reduce((s, x) => s + x.count, 0) + 1));
    await store.close();
    expect((await ids(dir)).ids.at(-1)).toBe(`after-${n}`);
  });

  it('cuts zeros left by a crash after the file grew but before its data landed', async () => {
    const { file, bytes, recs } = await buildLog();
    await writeFile(join(dir, file), Buffer.concat([bytes, Buffer.alloc(8192)]));
    const got = await ids(dir);
    expect(got).toEqual({ ids: recs.flatMap((r) => r.ids), truncated: true });
  });

  it('treats a hole in the last write followed by intact records of that write as a torn tail', async () => {
    // Pages of one write may reach the disk out of order: the batch's later records can be
    // whole while its first is not. They say (durableBefore) the hole was not yet durable.
    const { file, bytes, recs } = await buildLog();
    const batch = recs.filter((r) => r.ids[0]!.startsWith('batch-'));
    expect(batch.length).toBe(4);
    const start = batch[0]!.offset;
    expect(batch.every((r) => r.durableBefore <= start)).toBe(true);
    const end = batch.at(-1)!.offset + batch.at(-1)!.bytes;
    const damaged = Buffer.from(bytes.subarray(0, end));
    damaged.fill(0, start, start + batch[0]!.bytes);
    await writeFile(join(dir, file), damaged);
    const got = await ids(dir);
    expect(got).toEqual({ ids: recs.filter((r) => r.offset < start).flatMap((r) => r.ids), truncated: true });
  });

  it('reports a bit flip in an old record as StoreCorrupted naming the file and offset, and changes nothing', async () => {
    const { file, bytes, recs } = await buildLog();
    const victim = recs[2]!;
    // Header (magic, length, durableBefore, CRCs), stream name, ids and the events' JSON.
    const spots = [0, 5, 9, 17, 21, RECORD_HEADER_BYTES + 30, victim.jsonStart - victim.offset - 2, victim.bytes - 3];
    for (const spot of spots) {
      for (const bit of [0, 7]) {
        const damaged = Buffer.from(bytes);
        damaged[victim.offset + spot]! ^= 1 << bit;
        await writeFile(join(dir, file), damaged);
        const e = await corruption(dir);
        expect(e.message).toContain(join(dir, file));
        expect(e.message).toContain(`byte ${victim.offset}`);
        expect(await readFile(join(dir, file))).toEqual(damaged);
      }
    }
    // The lock was released each time: the next open fails on the damage, not on a lock.
    expect((await readdir(dir)).filter((f) => f.startsWith('LOCK'))).toEqual([]);
  });

  it('cuts a damaged last record as a torn tail (nothing written after it vouches for it)', async () => {
    const { file, bytes, recs } = await buildLog();
    const damaged = Buffer.from(bytes);
    damaged[recs.at(-1)!.offset + 40]! ^= 0x10;
    await writeFile(join(dir, file), damaged);
    expect(await ids(dir)).toEqual({ ids: recs.slice(0, -1).flatMap((r) => r.ids), truncated: true });
  });

  describe('with several segments', () => {
    async function buildSegments(): Promise<string[]> {
      const store = await fileLogEventStore({ directory: dir, segmentBytes: 4096 });
      for (let i = 0; i < 60; i++) await store.appendToStream(`seg-${i % 3}`, [fact('seg'), fact('seg')]);
      await store.close();
      const files = await segmentFiles(dir);
      expect(files.length).toBeGreaterThanOrEqual(3);
      return files;
    }

    it('reads across segments after reopening', async () => {
      const files = await buildSegments();
      expect(files[0]).toBe('00000000000000000001.log');
      const got = await ids(dir);
      expect(got.ids.length).toBe(120);
      expect(got.truncated).toBe(false);
    });

    it('reports a cut in an earlier segment as corruption, even at its very end', async () => {
      const files = await buildSegments();
      const path = join(dir, files[0]!);
      const size = (await stat(path)).size;
      await truncate(path, size - 3);
      const e = await corruption(dir);
      expect(e.message).toContain(path);
      expect(e.message).toMatch(/byte \d+/);
      expect((await stat(path)).size).toBe(size - 3);
    });

    it('reports a missing segment', async () => {
      const files = await buildSegments();
      await unlink(join(dir, files[1]!));
      const e = await corruption(dir);
      expect(e.message).toContain(files[2]!);
      expect(e.message).toMatch(/missing/);
    });

    it('recreates a last segment that was created but never got its header', async () => {
      const files = await buildSegments();
      const before = await ids(dir);
      const next = `${String(before.ids.length + 1).padStart(20, '0')}.log`;
      expect(files).not.toContain(next);
      await writeFile(join(dir, next), Buffer.from('ipse'));
      const store = await fileLogEventStore({ directory: dir });
      expect(store.recovery.truncated).toMatchObject({ segment: next, offset: 0 });
      await store.appendToStream('seg-new', [fact('new')]);
      await store.close();
      const after = await ids(dir);
      expect(after.ids.slice(0, -1)).toEqual(before.ids);
      expect((await readFile(join(dir, next))).subarray(0, 8).toString('latin1')).toBe('ipsec-es');
    });
  });

  it('reports damage that appears after opening when a read meets it', async () => {
    const store = await fileLogEventStore({ directory: dir });
    for (let i = 0; i < 5; i++) await store.appendToStream('late', [fact('late')]);
    const [file] = await segmentFiles(dir);
    const bytes = await readFile(join(dir, file!));
    const victim = records(bytes, true)[1]!;
    const fh = await open(join(dir, file!), 'r+');
    await fh.write(Buffer.from([bytes[victim.jsonStart + 3]! ^ 0x01]), 0, 1, victim.jsonStart + 3);
    await fh.close();
    const e = await store.readAll().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(StoreCorrupted);
    expect((e as Error).message).toContain(`byte ${victim.offset}`);
    const ok = await store.readStream('late', { from: 3n });
    expect(ok.events.length).toBe(3);
    await store.close();
  });
});
