/**
 * Writes a long log for `timeline` and `replay` to chew on: `sas` SAs, each installed, then
 * checkpointed every few minutes, then deleted, interleaved as a busy gateway's log would be,
 * `events` facts in all, in the embedded file log (real appends: one record per batch).
 *
 *   npx tsx demo/bigLog.ts <dir> [events=1000000] [sas=1000]
 *   npx tsx cli/main.ts timeline <dir> --sa sa-17
 *
 * @example
 * await writeBigLog('/tmp/big', 1_000_000, 1000);
 */
import { randomUUID } from 'node:crypto';
import { fileLogEventStore } from '../adapters/eventStore/fileLog/fileLogEventStore.js';
import type { EventData } from '../adapters/eventStore/types.js';

export async function writeBigLog(directory: string, events: number, sas: number): Promise<void> {
  const store = await fileLogEventStore({ directory });
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const per = Math.max(3, Math.floor(events / sas));
  const meta = (n: number) => ({ at: new Date(t0 + n * 1000).toISOString(), schemaVersion: 1 });
  const params = (i: number) => ({ spi: 0x1000 + i, protocol: 'esp', direction: i % 2 ? 'inbound' : 'outbound', mode: 'tunnel', tunnel: { src: '192.0.2.1', dst: '192.0.2.2' }, dst: '192.0.2.2', encr: 20, encrKeyBits: 128, integ: 0, esn: true, replayWindow: 128, lifetimes: { soft: {}, hard: {} }, keyRef: `sa-sa-${i}`, keyFingerprint: 'x' });
  let written = 0;
  // Rounds: each SA gets a batch of `batch` facts per round, so streams interleave.
  const batch = Math.max(1, Math.floor(per / 10));
  const version = new Array<number>(sas).fill(0);
  while (written < events) {
    const appends: Promise<unknown>[] = [];
    for (let i = 0; i < sas && written < events; i++) {
      const left = per - version[i]!;
      if (left <= 0) continue;
      const facts: EventData[] = [];
      for (let k = 0; k < Math.min(batch, left, events - written); k++) {
        const v = version[i]! + k;
        const type = v === 0 ? 'SaInstalled' : v === per - 1 ? 'SaDeleted' : 'SaUsageCheckpointed';
        const data = type === 'SaInstalled' ? params(i) : type === 'SaDeleted' ? { reason: 'hardExpired' } : { packets: v * 1000, bytes: v * 1_400_000, seqHi: 0, seqLo: v * 1000 };
        facts.push({ id: randomUUID(), type, data, metadata: meta(written + k) });
      }
      if (facts.length === 0) continue;
      appends.push(store.appendToStream(`sa-sa-${i}`, facts, { expectedVersion: version[i] === 0 ? 'noStream' : BigInt(version[i]!) }));
      version[i]! += facts.length;
      written += facts.length;
    }
    await Promise.all(appends);
  }
  await store.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, events = '1000000', sas = '1000'] = process.argv.slice(2);
  if (!dir) {
    console.error('usage: npx tsx demo/bigLog.ts <dir> [events] [sas]');
    process.exit(2);
  }
  const t = performance.now();
  await writeBigLog(dir, Number(events), Number(sas));
  console.log(`wrote ${events} events for ${sas} SAs to ${dir} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
