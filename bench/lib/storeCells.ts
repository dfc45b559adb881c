/**
 * The measuring cells of `bench/store.bench.ts`, for any event store: interleaved slices (disks
 * here are shared and noisy: a ratio compares the same moments), the raw `write` + `fdatasync`
 * references, concurrent appenders, and rebuilding SAs from a log.
 */
import fs from 'node:fs';
import { join } from 'node:path';
import type { EventData, EventStore } from '../../adapters/eventStore/types.js';
import { fromRecorded, readLog, toEventData } from '../../adapters/eventStore/facts.js';
import { decideSa, evolveSa, initialSaState, type SaCommand } from '../../engine/aggregates/sa.js';
import { applyFact, emptyGatewayState, replayTo, type GatewayState } from '../../engine/projections/replay.js';

let seq = 0;
/** A fact shaped like an SA lifecycle event (~200 bytes of JSON). */
export function fact(): EventData {
  seq++;
  return {
    id: `bench-${seq}-${Math.random().toString(36).slice(2, 10)}`,
    type: 'SaInstalled',
    data: { saId: `sa-${seq}`, spi: 0x1000 + (seq % 60000), dst: '192.0.2.2', suite: 'aes-gcm-16-128', keyRef: `kek1/${seq}`, softLifetimeMs: 3_600_000 },
    metadata: { at: '2025-01-01T00:00:00.000Z', schemaVersion: 1, correlationId: `c-${seq % 97}` },
  };
}

/** One slice of a measurement: runs about `ms` and returns operations and elapsed ns. */
export type Slice = (ms: number) => Promise<{ ops: number; ns: number }>;

/**
 * Rates of `cells` measured in turns (each round runs every cell for `ms`, after one uncounted
 * warm-up turn), plus each cell's median ratio to cell 0 over the rounds: neighbours in time
 * share the disk's mood, so the median of paired ratios is steadier than the ratio of totals on
 * a noisy shared disk.
 */
export async function interleaved(cells: Slice[], slices: number, ms: number): Promise<number[] & { ratios: number[] }> {
  const ops = cells.map(() => 0);
  const ns = cells.map(() => 0);
  const perRound: number[][] = cells.map(() => []);
  for (const cell of cells) await cell(Math.min(ms, 200)); // warm-up, not counted: JIT, first zeroing steps
  for (let s = 0; s < slices; s++) {
    const rates: number[] = [];
    for (let i = 0; i < cells.length; i++) {
      const r = await cells[i]!(ms);
      ops[i]! += r.ops;
      ns[i]! += r.ns;
      rates.push(r.ops / r.ns);
    }
    rates.forEach((rate, i) => perRound[i]!.push(rate / rates[0]!));
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  return Object.assign(
    ops.map((o, i) => o / (ns[i]! / 1e9)),
    { ratios: perRound.map(median) },
  );
}

/**
 * The physical reference: write `bytes` at the end of a file, then fdatasync, in a tight loop on
 * the event loop. With `zeroed`, the file is zero-filled (and synced) first and the loop
 * overwrites it, as the store's zero-ahead does: no file-size change per sync.
 */
export function rawLoop(dir: string, bytes: number, zeroed = false): { slice: Slice; close(): void } {
  const path = join(dir, zeroed ? 'raw-zeroed.dat' : 'raw.dat');
  const fd = fs.openSync(path, 'w');
  const ZONE = 64 * 1024 * 1024;
  if (zeroed) {
    const zeros = Buffer.alloc(1024 * 1024);
    for (let at = 0; at < ZONE; at += zeros.length) fs.writeSync(fd, zeros, 0, zeros.length, at);
    fs.fsyncSync(fd);
  }
  const buf = Buffer.alloc(bytes, 0x5a);
  let pos = 0;
  return {
    slice: async (ms) => {
      const t0 = process.hrtime.bigint();
      const end = t0 + BigInt(ms * 1e6);
      let ops = 0;
      let now = t0;
      while (now < end) {
        if (zeroed && pos + bytes > ZONE) pos = 0;
        fs.writeSync(fd, buf, 0, bytes, pos);
        pos += bytes;
        fs.fdatasyncSync(fd);
        ops++;
        now = process.hrtime.bigint();
      }
      return { ops, ns: Number(now - t0) };
    },
    close: () => fs.closeSync(fd),
  };
}

/**
 * The floor of "never block the event loop": the same appending writes on an O_DSYNC file
 * through libuv's thread pool (fs.write callbacks), one at a time. The gap to the raw loop is two
 * thread hand-offs per write (loop → pool → loop).
 */
export function offLoopFloor(dir: string, bytes: number): { slice: Slice; close(): void } {
  const fd = fs.openSync(join(dir, 'floor.dat'), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_DSYNC);
  const buf = Buffer.alloc(bytes, 0x5a);
  let pos = 0;
  return {
    slice: (ms) =>
      new Promise((resolve, reject) => {
        const t0 = process.hrtime.bigint();
        const end = t0 + BigInt(ms * 1e6);
        let ops = 0;
        const step = (): void => {
          const now = process.hrtime.bigint();
          if (now >= end) return resolve({ ops, ns: Number(now - t0) });
          fs.write(fd, buf, 0, bytes, pos, (e) => {
            if (e) return reject(e);
            pos += bytes;
            ops++;
            step();
          });
        };
        step();
      }),
    close: () => fs.closeSync(fd),
  };
}

/** `writers` concurrent writers, each appending `perAppend` events per call to its own stream. */
export function appenders(store: EventStore, writers: number, perAppend: number, tag: string): Slice {
  const versions = Array.from({ length: writers }, () => 0n);
  return async (ms) => {
    const t0 = process.hrtime.bigint();
    const end = performance.now() + ms;
    let events = 0;
    await Promise.all(
      versions.map(async (_, w) => {
        while (performance.now() < end) {
          const batch = perAppend === 1 ? [fact()] : Array.from({ length: perAppend }, fact);
          const r = await store.appendToStream(`${tag}-${w}`, batch, { expectedVersion: versions[w]! });
          versions[w] = r.nextExpectedVersion;
          events += perAppend;
        }
      }),
    );
    return { ops: events, ns: Number(process.hrtime.bigint() - t0) };
  };
}

/** Pages through `readAll` from the start; returns the events read and the seconds taken. */
export async function readAllOnce(store: EventStore): Promise<{ events: number; seconds: number }> {
  const t0 = performance.now();
  let after = 0n;
  let events = 0;
  for (;;) {
    const page = await store.readAll({ after, maxCount: 10_000 });
    if (page.length === 0) break;
    events += page.length;
    after = page.at(-1)!.globalPosition;
  }
  return { events, seconds: (performance.now() - t0) / 1000 };
}

/** SA `i`'s life as the machines record it: installed, two checkpoints, soft expiry, rekey started and completed, deleted. */
export function saLife(i: number): EventData[] {
  let n = 0;
  const ctx = { nowMs: 1_795_000_000_000 + i, newId: () => `sa${i}-${n++}` };
  const params = {
    spi: 0x1000 + i, protocol: 'esp' as const, direction: 'outbound' as const, mode: 'tunnel' as const, tunnel: { src: '192.0.2.1', dst: '198.51.100.2' }, dst: '198.51.100.2',
    encr: 20 as const, encrKeyBits: 128, integ: 0 as const, esn: true, replayWindow: 128, lifetimes: { soft: { timeMs: 3_000_000 }, hard: { timeMs: 3_600_000 } },
    policyId: 'lan-a-b:out', pairedSaId: `in-${i}`, keyRef: `sa-${i}`, keyFingerprint: 'f'.repeat(16),
  };
  const usage = (k: number) => ({ packets: 10_000 * k, bytes: 14_000_000 * k, seqHi: 0, seqLo: 10_000 * k });
  const commands: SaCommand[] = [
    { type: 'InstallSa', params }, { type: 'CheckpointUsage', usage: usage(1) }, { type: 'CheckpointUsage', usage: usage(2) },
    { type: 'ExpireSoft', limit: 'time', usage: usage(3) }, { type: 'StartRekey', newSaId: `n-${i}`, jitterMs: 1234 },
    { type: 'CompleteRekey', newSaId: `n-${i}`, drainMs: 0 }, { type: 'DeleteSa', reason: 'rekeyed' },
  ];
  let state = initialSaState;
  const out: EventData[] = [];
  for (const c of commands) for (const f of decideSa(c, state, ctx)) { state = evolveSa(state, f); out.push(toEventData(f)); }
  return out;
}

/** Writes `sas` SA lives into `store`, one append per SA, from 64 concurrent writers. */
export async function loadSas(store: EventStore, sas: number): Promise<number> {
  let next = 0;
  let facts = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (let i = next++; i < sas; i = next++) {
        const life = saLife(i);
        facts += life.length;
        await store.appendToStream(`sa-${i}`, life, { expectedVersion: 'noStream' });
      }
    }),
  );
  return facts;
}

/**
 * Rebuilds every SA from `store` as a restarting gateway would: `readAll` pages of 10k, each fact
 * folded into the state as its page arrives (`applyFact`, replayTo's step), best of `rounds`;
 * checks the result (`sas` SAs, each dead after a rekey). Also times a bare readAll of the same
 * events, and once (`materialized`) `replayTo(await readLog(store))`, which first holds every fact.
 */
export async function rebuildSas(store: EventStore, sas: number, rounds: number, materialized = false): Promise<{ seconds: number; readSeconds: number; materializedSeconds?: number; facts: number; sas: number }> {
  let best = Infinity;
  let read = Infinity;
  let whole = Infinity;
  let facts = 0;
  let built = 0;
  const check = (state: GatewayState): void => {
    built = state.sas.size;
    if (built !== sas || [...state.sas.values()].some((s) => s.status !== 'dead' || s.deleted?.reason !== 'rekeyed')) throw new Error(`rebuild: wrong state (${built} SAs)`);
  };
  for (let round = 0; round < rounds; round++) {
    read = Math.min(read, (await readAllOnce(store)).seconds);
    const t0 = performance.now();
    const state = emptyGatewayState();
    facts = 0;
    for (let after = 0n; ; ) {
      const page = await store.readAll({ after, maxCount: 10_000 });
      if (page.length === 0) break;
      for (const e of page) applyFact(state, fromRecorded(e));
      facts += page.length;
      after = page.at(-1)!.globalPosition;
    }
    best = Math.min(best, (performance.now() - t0) / 1000);
    check(state);
    if (materialized && round === 0) {
      const t1 = performance.now();
      const replayed = replayTo(await readLog(store));
      whole = Math.min(whole, (performance.now() - t1) / 1000);
      check(replayed);
    }
  }
  return { seconds: best, readSeconds: read, ...(materialized ? { materializedSeconds: whole } : {}), facts, sas: built };
}

export const fmt = (n: number): string => Math.round(n).toLocaleString('en');

/** One line: `ratio` is the cell's median paired ratio to the raw loop (undefined: none). */
export function row(label: string, rate: number, ratio: number | undefined, note = ''): void {
  console.log(label.padEnd(58), fmt(rate).padStart(11), (ratio === undefined ? '' : `${ratio.toFixed(2)}×`).padStart(8), note);
}
