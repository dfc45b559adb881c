/**
 * Replaying a log in a script: the state at any point (`replayTo`), and for every SA that died,
 * its life and why (`saTimeline`). Reads a store the way the CLI's `replay` does, through the
 * port: any back end works (here the embedded file log; pass a directory written by a gateway,
 * the tour or examples/embedGateway.ts).
 *
 *   npx tsx examples/replayLog.ts <log-directory>
 */
// In your project: 'ipsec-es/adapters' and 'ipsec-es/engine'.
import { fileLogEventStore, readLog } from '../adapters/index.js';
import { replayTo } from '../engine/projections/replay.js';
import { saTimeline } from '../engine/projections/timeline.js';

const directory = process.argv[2];
if (!directory) {
  console.error('usage: npx tsx examples/replayLog.ts <log-directory>');
  process.exit(2);
}
// A gateway's --store keeps its log in <store>/log; the tour's and embedGateway's are the directory itself.
const store = await fileLogEventStore({ directory });
const log = await readLog(store);
await store.close();

const half = log[Math.floor(log.length / 2)];
const end = replayTo(log);
console.log(`${log.length} facts; at the end ${end.sas.size} SAs: ${[...end.sas.values()].map((s) => s.status).join(', ')}`);
if (half) {
  const then = replayTo(log, { position: half.position });
  console.log(`half way (position ${half.position}, ${then.at}): ${[...then.sas.values()].filter((s) => s.status !== 'dead').length} SAs alive`);
}
for (const [id, sa] of end.sas) {
  console.log(`\nSA ${id}: ${sa.deleted ? `died: ${sa.deleted.reason}` : sa.status}`);
  for (const e of saTimeline(log, id)) if (e.type !== 'SaUsageCheckpointed') console.log(`  ${e.at}  ${e.summary}`);
}
