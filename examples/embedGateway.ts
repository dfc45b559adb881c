/**
 * Embedding a gateway in your own program: the gateway on ports you hand it (an event store,
 * a key store, a clock, randomness, the SPD), the data path called with your packets, and the
 * facts it records followed live through the store's subscription.
 *
 *   npx tsx examples/embedGateway.ts [log-directory]
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// In your project: 'ipsec-es/adapters', 'ipsec-es/streams'.
import { fileLogEventStore, memoryEventStore } from '../adapters/index.js';
import { processInbound, processOutbound } from '../streams/index.js';
import { gatewayPair, udpPacket } from './shared/pair.js';

const directory = process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'ipsec-es-embed-')));
// Gateway A keeps its log on disk (the embedded default); B, the peer, in memory.
const storeA = await fileLogEventStore({ directory });
const storeB = memoryEventStore();

// Subscribe to facts: catch-up from the start of the log, then live (DESIGN §4). Each is a
// past-tense fact: SaInstalled, AcquireRaised, RekeyStarted, SaDeleted, ... (docs/events.md).
const facts = storeA.subscribe().subscribe((e) => console.log(`  fact #${e.globalPosition} ${e.streamName.slice(0, 16).padEnd(16)} ${e.type}`));

const { a, b } = await gatewayPair(storeA, storeB);

// The wire between them: what A's data path emits, B's takes, and back.
const delivered: Uint8Array[] = [];
const toB = (packets: Uint8Array[]) => {
  const wire: Uint8Array[] = [];
  for (const p of packets) processOutbound(a, p, wire); // SPD → SA (or ACQUIRE) → ESP
  for (const d of wire) processInbound(b, d, delivered); // SAD → decrypt → replay → inbound policy
};
a.released$.subscribe(toB); // packets an ACQUIRE held, sent once their SA is up

console.log('A sends 3 packets to the other LAN; no SA yet, so the first one raises an ACQUIRE:');
toB([1, 2, 3].map((n) => udpPacket('10.1.0.5', '10.2.0.7', n)));
for (let i = 0; i < 50 && delivered.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
await Promise.all([a.settled(), b.settled()]);
console.log(`B delivered ${delivered.length} packets; A's SAs: ${a.saIds().map((id) => `${a.state(id)!.params!.direction} ${a.state(id)!.status}`).join(', ')}`);

a.stop();
b.stop();
facts.unsubscribe();
await Promise.all([storeA.close(), storeB.close()]);
console.log(`A's log is in ${directory}: npx tsx cli/main.ts replay ${directory}`);
if (delivered.length !== 3) process.exitCode = 1;
