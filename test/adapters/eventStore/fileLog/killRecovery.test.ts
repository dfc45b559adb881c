/**
 * Must show (issue 4): a child process appending heavily with many concurrent writers, killed
 * with SIGKILL at random moments, 200 times; after each kill the log is reopened and every append
 * the child had acknowledged is there, and no append is there in part. A few kills land while
 * the child is still opening (recovering) the log. Three lanes run side by side, each on its own
 * directory, which is started afresh every 10 kills so reopening stays fast.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileLogEventStore } from '../../../../adapters/eventStore/fileLog/fileLogEventStore.js';
import { prng } from '../../../support/random.js';
import { childRunner, exited, lineReader } from './childProcess.js';
import type { ChildRunner } from './childProcess.js';

const KILLS = 200;
const LANES = 3;
const FRESH_EVERY = 10;

interface Ack {
  version: bigint;
  position: bigint;
  count: number;
}

interface Stats {
  acks: number;
  events: number;
  killedWhileOpening: number;
  tornTails: number;
}

/**
 * Reopens `directory` and checks it against the last acknowledged append of every stream. Plain
 * comparisons collect problems (an `expect` per event would dominate the run time).
 */
async function verify(directory: string, lastAck: Map<string, Ack>, stats: Stats): Promise<void> {
  const store = await fileLogEventStore({ directory });
  const problems: string[] = [];
  try {
    if (store.recovery.truncated) stats.tornTails++;
    const all = await store.readAll();
    stats.events += all.length;
    const byStream = new Map<string, typeof all>();
    all.forEach((e, i) => {
      if (e.globalPosition !== BigInt(i + 1)) problems.push(`event ${i} at position ${e.globalPosition}`);
      let list = byStream.get(e.streamName);
      if (!list) byStream.set(e.streamName, (list = []));
      list.push(e);
    });
    // No partial append: every append's events are all there, in one run.
    for (const [stream, events] of byStream) {
      for (let v = 0; v < events.length && problems.length < 10; ) {
        const head = events[v]!.data as { n: number; i: number; count: number };
        if (head.i !== 0) problems.push(`${stream} v${v + 1} is event ${head.i} of append n=${head.n}, not its first`);
        for (let i = 0; i < head.count; i++) {
          const e = events[v + i];
          const d = e?.data as { n: number; i: number; count: number } | undefined;
          if (!e || !d) problems.push(`${stream}: append n=${head.n} has ${i} of ${head.count} events`);
          else if (e.streamVersion !== BigInt(v + i + 1) || d.n !== head.n || d.i !== i || d.count !== head.count) problems.push(`${stream} v${v + i + 1}: ${JSON.stringify(d)}`);
        }
        v += head.count;
      }
    }
    // Every acknowledged append is there: the stream reaches its last ack, at the acked position.
    for (const [stream, ack] of lastAck) {
      const events = byStream.get(stream) ?? [];
      const last = events[Number(ack.version) - 1];
      const d = last?.data as { i: number; count: number } | undefined;
      if (!last || !d) problems.push(`${stream}: acknowledged version ${ack.version} lost (the stream has ${events.length} events)`);
      else if (last.globalPosition !== ack.position || d.i !== ack.count - 1 || d.count !== ack.count) problems.push(`${stream} v${ack.version} differs from its ack`);
    }
  } finally {
    await store.close();
  }
  expect(problems, directory).toEqual([]);
}

describe('file log: SIGKILL during heavy appends', () => {
  let runner: ChildRunner;
  const dirs: string[] = [];
  beforeAll(async () => {
    runner = await childRunner();
  });
  afterAll(async () => {
    await runner.dispose();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it(`keeps every acknowledged append and shows no partial one, ${KILLS} kills`, async () => {
    const stats: Stats = { acks: 0, events: 0, killedWhileOpening: 0, tornTails: 0 };
    const started = performance.now();
    await Promise.all(
      Array.from({ length: LANES }, async (_, lane) => {
        const random = prng(0x51c0 + lane);
        let directory = '';
        const lastAck = new Map<string, Ack>();
        for (let k = lane, round = 0; k < KILLS; k += LANES, round++) {
          if (round % FRESH_EVERY === 0) {
            directory = await mkdtemp(join(tmpdir(), 'ipsec-es-kill-'));
            dirs.push(directory);
            lastAck.clear();
          }
          const child = runner.spawn(['append', directory, `k${k}`, '24']);
          const stderr: string[] = [];
          child.stderr.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
          const out = lineReader(child.stdout);
          if (random() < 0.15) {
            // Somewhere in start-up: loading, taking the lock, recovering the previous kill's tail.
            await sleep(random() * 150);
            if (!out.lines.includes('ready')) stats.killedWhileOpening++;
          } else {
            await out.next((l) => l === 'ready');
            await sleep(5 + random() * 60);
          }
          child.kill('SIGKILL');
          await exited(child);
          expect(child.signalCode, `child ended by itself: ${stderr.join('')}`).toBe('SIGKILL');
          for (const line of out.lines) {
            if (!line.startsWith('ack ')) continue;
            const [, stream, version, position, count] = line.split(' ');
            const ack = { version: BigInt(version!), position: BigInt(position!), count: Number(count) };
            const prev = lastAck.get(stream!);
            if (!prev || prev.version < ack.version) lastAck.set(stream!, ack);
            stats.acks++;
          }
          await verify(directory, lastAck, stats);
        }
      }),
    );
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `kill test: ${KILLS} SIGKILLs in ${seconds} s, ${stats.acks} acknowledged appends checked, ` +
        `${stats.killedWhileOpening} kills while opening, ${stats.tornTails} torn tails cut on reopen`,
    );
    expect(stats.acks).toBeGreaterThan(KILLS);
  }, 180_000);
});
