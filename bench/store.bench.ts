/**
 * `npm run bench:store [-- --quick] [--dir PATH] [--no-postgres]`: the event stores' durable
 * appends per second with 1 writer and with 64 concurrent writers, batch appends, `readAll`
 * events per second and rebuilding SAs from the log (100k; 20k with --quick), for the embedded
 * file log and PostgreSQL in the same run, beside a raw `write` + `fdatasync` loop of same-size
 * writes on the same disk, the physical reference, measured in alternating slices (disks here
 * are shared and noisy: a ratio compares the same moments). Also: the event loop's delay while 64
 * writers append (the writes and syncs run on the log's writer thread, not on the loop; the thread-pool writer beside it) and reopening (index
 * rebuild). PostgreSQL is PG_URL, or the local server `../shared/scripts/postgres-up.sh` starts;
 * when neither is there a "PostgreSQL skipped: <why>" line says so.
 * Correctness is checked before anything is timed.
 *
 * Goals (issue 4): ≥ 100k durable events/s with 64 writers; 1 writer ≥ 80 % of the raw loop;
 * 100k SAs rebuilt in < 5 s.
 */
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileLogEventStore } from '../adapters/eventStore/fileLog/fileLogEventStore.js';
import type { FileLogEventStore, FileLogOptions } from '../adapters/eventStore/fileLog/fileLogEventStore.js';
import { encodeRecord, RECORD_HEADER_BYTES } from '../adapters/eventStore/fileLog/recordCodec.js';
import { serializeEvents } from '../adapters/eventStore/storeRules.js';
import type { EventStore } from '../adapters/eventStore/types.js';
import { appenders, fact, fmt, interleaved, loadSas, offLoopFloor, rawLoop, readAllOnce, rebuildSas, row, type Slice } from './lib/storeCells.js';
import { benchSchema, describeServer, dropSchema, pgStore, postgresUrl } from './lib/storePostgres.js';

const started = performance.now();
const quick = process.argv.includes('--quick');
const dirArg = process.argv.indexOf('--dir');
const base = dirArg > 0 ? process.argv[dirArg + 1]! : tmpdir();
const SLICES = quick ? 3 : 6;
const SLICE_MS = quick ? 300 : 600;
const SAS = quick ? 20_000 : 100_000;

const recordBytes = encodeRecord('bench-0', 1, 1, serializeEvents([fact()])).record.length;

function fsType(path: string): string {
  const magic = fs.statfsSync(path).type;
  const names: Record<number, string> = { 0xef53: 'ext2/3/4', 0x01021994: 'tmpfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x794c7630: 'overlayfs', 0x6969: 'nfs' };
  return names[magic] ?? `0x${magic.toString(16)}`;
}

async function withStore<T>(options: Omit<FileLogOptions, 'directory'>, run: (store: FileLogEventStore, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(base, 'ipsec-es-bench-'));
  const store = await fileLogEventStore({ directory: dir, ...options });
  try {
    return await run(store, dir);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Correctness first: concurrent appends land whole, in order, and survive a reopen. */
async function verify(): Promise<void> {
  const dir = await mkdtemp(join(base, 'ipsec-es-bench-verify-'));
  try {
    let store = await fileLogEventStore({ directory: dir, segmentBytes: 256 * 1024 });
    await Promise.all(
      Array.from({ length: 64 }, async (_, w) => {
        for (let i = 0; i < 20; i++) await store.appendToStream(`verify-${w}`, [fact(), fact()], { expectedVersion: BigInt(i * 2) });
      }),
    );
    await store.close();
    store = await fileLogEventStore({ directory: dir });
    const all = await store.readAll();
    if (all.length !== 64 * 40) throw new Error(`verify: ${all.length} events after reopen, expected ${64 * 40}`);
    for (let i = 0; i < all.length; i++) if (all[i]!.globalPosition !== BigInt(i + 1)) throw new Error('verify: positions not dense');
    for (let w = 0; w < 64; w++) {
      const s = await store.readStream(`verify-${w}`);
      if (s.currentVersion !== 40n || s.events.some((e, i) => e.streamVersion !== BigInt(i + 1))) throw new Error(`verify: stream verify-${w} broken`);
    }
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A cell that also records the event loop's delay while it runs (the worst slice's p50/p99, the overall max). */
function withLoopDelay(cell: Slice): { slice: Slice; note(): string } {
  const delay = { p50: 0, p99: 0, max: 0 };
  return {
    slice: async (ms) => {
      const monitor = monitorEventLoopDelay({ resolution: 1 });
      monitor.enable();
      try {
        return await cell(ms);
      } finally {
        monitor.disable();
        delay.p50 = Math.max(delay.p50, monitor.percentile(50));
        delay.p99 = Math.max(delay.p99, monitor.percentile(99));
        delay.max = Math.max(delay.max, monitor.max);
      }
    },
    note: () => `event-loop delay p50 ${(delay.p50 / 1e6).toFixed(2)} ms, p99 ${(delay.p99 / 1e6).toFixed(2)} ms, max ${(delay.max / 1e6).toFixed(1)} ms`,
  };
}

/** The append cells every store gets: 1 writer, 64 writers, batches; each beside the raw loop. */
async function appendCells(name: string, open: () => Promise<EventStore & { close(): Promise<void> }>, raw: Slice, rows: [number, number][]): Promise<void> {
  for (const [writers, perAppend] of rows) {
    const store = await open();
    try {
      const cell = withLoopDelay(appenders(store, writers, perAppend, `${name}-${writers}x${perAppend}`));
      const m = await interleaved([raw, cell.slice], writers === 1 && perAppend === 1 ? SLICES * 2 : SLICES, SLICE_MS);
      const label = `${name}: ${writers} writer${writers > 1 ? 's' : ''}, ${perAppend} event${perAppend > 1 ? 's' : ''}/append`;
      row(label, m[1]!, m.ratios[1], writers === 64 ? cell.note() : '');
    } finally {
      await store.close();
    }
  }
}

console.log(`\nEvent stores on ${base} (${fsType(base)}), node ${process.version}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}${quick ? ', --quick' : ''}`);
console.log(`one ~200-byte fact per append = a ${recordBytes}-byte record (${RECORD_HEADER_BYTES}-byte header); reference: raw write+fdatasync loop of ${recordBytes}-byte writes`);
if (fsType(base) === 'tmpfs') console.log('WARNING: tmpfs has no disk: syncs are free and the figures say nothing about durability cost; pass --dir on a real disk');
await verify();
console.log('verified: 64 concurrent writers, 2,560 events, whole and in order after reopen\n');
console.log('cell'.padEnd(58), 'events/s'.padStart(11), 'vs raw'.padStart(8));

const rawDir = await mkdtemp(join(base, 'ipsec-es-bench-raw-'));
const raw = rawLoop(rawDir, recordBytes);
const rawZeroed = rawLoop(rawDir, recordBytes, true);
const floor = offLoopFloor(rawDir, recordBytes);

// 1 writer beside the raw loops, interleaved in short slices.
const single = await withStore({}, async (dsync) =>
  withStore({ syncMethod: 'fdatasync' }, async (fdatasync) =>
    withStore({ zeroAhead: false }, async (appending) =>
      withStore({ writer: 'pool' }, async (pool) =>
        interleaved(
          [raw.slice, rawZeroed.slice, floor.slice, appenders(dsync, 1, 1, 'one'), appenders(fdatasync, 1, 1, 'one'), appenders(appending, 1, 1, 'one'), appenders(pool, 1, 1, 'one')],
          SLICES * 10,
          SLICE_MS / 10,
        ),
      ),
    ),
  ),
);
floor.close();
const [, zeroedRatio, floorRatio, oneRatio] = single.ratios as [number, number, number, number];
console.log(`(1-writer cells: ${SLICES * 10} rounds of ${SLICE_MS / 10} ms each; ratio = median of per-round ratios to the raw loop)`);
row('raw write + fdatasync loop, appending (the reference)', single[0]!, 1, 'syncs/s; blocks the event loop');
row('raw write + fdatasync loop, over a zero-filled file', single[1]!, zeroedRatio, 'what zeroing ahead buys a sync (the store zeroes ahead)');
row('bare O_DSYNC fs.write via thread pool, appending', single[2]!, floorRatio, 'thread-pool hand-offs, no zeroing');
row('file log: 1 writer, 1 event/append (default)', single[3]!, oneRatio, `${oneRatio >= 0.8 ? 'goal ≥ 0.80× met' : 'goal ≥ 0.80× NOT met'}; ${(oneRatio / zeroedRatio).toFixed(2)}× the zero-filled raw loop`);
row('file log: 1 writer, 1 event/append (write + fdatasync)', single[4]!, single.ratios[4]);
row('file log: 1 writer, 1 event/append (no zeroing ahead)', single[5]!, single.ratios[5]);
row('file log: 1 writer, 1 event/append (thread-pool writer)', single[6]!, single.ratios[6]);

// 64 writers: group commit, with the event loop's delay measured meanwhile.
for (const [label, options] of [
  ['file log: 64 writers, 1 event/append (default)', {}],
  ['file log: 64 writers, writer thread, 2 writes in flight', { writesInFlight: 2 }],
  ['file log: 64 writers, thread-pool writer (fs.write)', { writer: 'pool' as const }],
  ['file log: 64 writers, thread-pool writer, 1 write in flight', { writer: 'pool' as const, writesInFlight: 1 }],
  ['file log: 64 writers, write + fdatasync', { syncMethod: 'fdatasync' as const }],
  ['file log: 64 writers, no zeroing ahead', { zeroAhead: false }],
] as const) {
  await withStore(options, async (store) => {
    const cell = withLoopDelay(appenders(store, 64, 1, 'w64'));
    const m = await interleaved([raw.slice, cell.slice], SLICES, SLICE_MS);
    const goal = label.endsWith('(default)') ? (m[1]! >= 100_000 ? 'goal ≥ 100k met; ' : 'goal ≥ 100k NOT met; ') : '';
    row(label, m[1]!, m.ratios[1], goal + cell.note());
  });
}

// Batches: many events per append.
for (const [writers, perAppend] of [
  [1, 100],
  [64, 10],
] as const) {
  await withStore({}, async (store) => {
    const m = await interleaved([raw.slice, appenders(store, writers, perAppend, `b${writers}`)], SLICES, SLICE_MS);
    row(`file log: ${writers} writer${writers > 1 ? 's' : ''}, ${perAppend} events/append`, m[1]!, m.ratios[1]);
  });
}

// readAll and reopening a log of N events.
const ROUNDS = quick ? 60 : 200;
const N = 16 * 100 * ROUNDS;
/** 16 writers append `rounds` batches of 100 events each. */
async function fillForReads(store: EventStore, rounds = ROUNDS): Promise<void> {
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      let v = 0n;
      for (let i = 0; i < rounds; i++) v = (await store.appendToStream(`read-${w}`, Array.from({ length: 100 }, fact), { expectedVersion: v })).nextExpectedVersion;
    }),
  );
}
async function bestReadAll(store: EventStore, rounds: number, n = N): Promise<number> {
  let best = 0;
  for (let round = 0; round < rounds; round++) {
    const r = await readAllOnce(store);
    if (r.events !== n) throw new Error(`readAll returned ${r.events} events, expected ${n}`);
    best = Math.max(best, r.events / r.seconds);
  }
  return best;
}
await withStore({}, async (store, dir) => {
  await fillForReads(store);
  row(`file log: readAll of ${fmt(N)} events, pages of 10k (best of 3)`, await bestReadAll(store, 3), undefined);
  await store.close();
  const t0 = performance.now();
  const reopened = await fileLogEventStore({ directory: dir });
  const ms = performance.now() - t0;
  row(`file log: reopen, check + index ${fmt(N)} events (${reopened.recovery.segments} segment${reopened.recovery.segments > 1 ? 's' : ''})`, N / (ms / 1000), undefined, `${ms.toFixed(0)} ms`);
  await reopened.close();
});

// Rebuilding SAs from the log (issue 4: 100k in < 5 s): one append per SA life (7 facts), then
// every SA folded back from the store; beside it, a bare readAll of the same events.
function rebuildRow(name: string, r: Awaited<ReturnType<typeof rebuildSas>>, rounds: number): void {
  const goal = r.sas >= 100_000 ? (r.seconds < 5 ? 'goal < 5 s met' : 'goal < 5 s NOT met') : 'goal is for 100k (full run)';
  const whole = r.materializedSeconds === undefined ? '' : `; replayTo(readLog) ${r.materializedSeconds.toFixed(2)} s`;
  row(`${name}: rebuild ${fmt(r.sas)} SAs from ${fmt(r.facts)} facts (best of ${rounds})`, r.facts / r.seconds, undefined, `${r.seconds.toFixed(2)} s, folded page by page; ${goal}; bare readAll ${r.readSeconds.toFixed(2)} s${whole}`);
}
await withStore({}, async (store) => {
  await loadSas(store, SAS);
  rebuildRow('file log', await rebuildSas(store, SAS, 3, true), 3);
});
raw.close();
rawZeroed.close();

// PostgreSQL, in the same run, beside the same raw loop.
const pgAt = postgresUrl();
if ('skip' in pgAt) {
  console.log(`\nPostgreSQL skipped: ${pgAt.skip}`);
} else {
  const schema = benchSchema();
  const raw2 = rawLoop(rawDir, recordBytes);
  try {
    console.log(`\n${await describeServer(pgAt.url)} (from ${pgAt.source}), schema ${schema}; pool of 64 connections`);
    const open = async () => {
      await dropSchema(pgAt.url, schema);
      const store = pgStore(pgAt.url, schema, 64);
      await store.migrate();
      return store;
    };
    await appendCells('PostgreSQL', open, raw2.slice, [
      [1, 1],
      [64, 1],
      [1, 100],
      [64, 10],
    ]);
    // Reads: the events are loaded with synchronous_commit=off (what is timed is reading them).
    await dropSchema(pgAt.url, schema);
    const filler = pgStore(pgAt.url, schema, 64, true);
    const pgRounds = Math.min(ROUNDS, 60); // a readAll rate needs no more
    await fillForReads(filler, pgRounds);
    await filler.close();
    const reads = pgStore(pgAt.url, schema, 4);
    try {
      row(`PostgreSQL: readAll of ${fmt(16 * 100 * pgRounds)} events, pages of 10k (best of 3)`, await bestReadAll(reads, 3, 16 * 100 * pgRounds), undefined);
    } finally {
      await reads.close();
    }
    await dropSchema(pgAt.url, schema);
    const loader = pgStore(pgAt.url, schema, 64, true);
    await loadSas(loader, SAS);
    await loader.close();
    const rebuild = pgStore(pgAt.url, schema, 4);
    try {
      rebuildRow('PostgreSQL', await rebuildSas(rebuild, SAS, 1), 1);
    } finally {
      await rebuild.close();
    }
    console.log('(PostgreSQL readAll and rebuild: their events were loaded with synchronous_commit=off; what is timed is reading and folding them)');
  } catch (e) {
    console.log(`PostgreSQL failed: ${(e as Error).message}`);
    process.exitCode = 1;
  } finally {
    raw2.close();
    await dropSchema(pgAt.url, schema).catch(() => {});
  }
}
await rm(rawDir, { recursive: true, force: true });
console.log(`\n(bench:store took ${((performance.now() - started) / 1000).toFixed(0)} s)`);
