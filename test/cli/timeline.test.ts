/**
 * `timeline` and `replay` on a long log (200 000 events; the 1M figure is in the report): the
 * progress bar on stderr with --progress, and the same answer as the engine's own projections
 * over the store's `readLog` (the reference: a different reader of the same bytes).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLog } from '../../adapters/eventStore/facts.js';
import { fileLogEventStore } from '../../adapters/eventStore/fileLog/fileLogEventStore.js';
import { replayTo } from '../../engine/projections/replay.js';
import { saTimeline } from '../../engine/projections/timeline.js';
import { writeBigLog } from '../../demo/bigLog.js';
import { json, runCli } from './cliRunner.js';

describe('timeline and replay on a long log', () => {
  it('200k events: progress on stderr, the timeline and the state at a position equal the engine projections over readLog', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipsec-es-big-'));
    await writeBigLog(dir, 200_000, 400);
    const store = await fileLogEventStore({ directory: dir });
    const log = await readLog(store);
    await store.close();
    expect(log).toHaveLength(200_000);

    const started = performance.now();
    const tl = await runCli(['timeline', dir, '--sa', 'sa-123', '--progress', '--all', '--json']);
    const ms = performance.now() - started;
    const progress = tl.stderr.trim().split('\n');
    expect(progress.length).toBeGreaterThanOrEqual(5); // a line per 10 %
    expect(progress.at(-2)).toMatch(/^timeline: 100% /);
    expect(progress.at(-1)).toMatch(/^timeline: 500 facts of sa-sa-123 in \d+\.\d\d s$/);
    const got = json<{ status: string; entries: Array<{ position: string; summary: string }> }>(tl);
    const reference = saTimeline(log, 'sa-123');
    expect(got.entries.map((e) => [e.position, e.summary])).toEqual(reference.map((e) => [e.position.toString(), e.summary]));
    expect(got.status).toBe('dead');
    console.log(`timeline over 200k events: ${ms.toFixed(0)} ms (process start included)`);

    const at = 123_457n;
    const then = json<{ position: string; sas: Record<string, unknown> }>(await runCli(['replay', dir, '--until', at.toString(), '--json']));
    const ref = replayTo(log, { position: at });
    expect(then.position).toBe(at.toString());
    expect(then.sas).toEqual(JSON.parse(JSON.stringify(Object.fromEntries(ref.sas))));
    // ... and by time: the fact at a position carries the time, --until that time ends there too.
    const time = log[Number(at) - 1]!.fact.meta.at;
    const byTime = json<{ position: string }>(await runCli(['replay', dir, '--until', time, '--json']));
    expect(byTime.position).toBe(at.toString());
  }, 60_000);
});
