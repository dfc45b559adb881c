/**
 * The control plane on the embedded event store: two gateways in one process joined by an
 * in-memory wire. Gateway A loads examples/site-to-site.xml, B its mirror image; the first packet
 * raises an ACQUIRE, the SAs come up, A offloads to the emulated NIC, two hours of traffic pass on
 * a simulated clock (so the 50-minute soft lifetime rekeys twice, make-before-break), then the NIC
 * asks for an SA's deletion (SaDeleteReq). Everything each gateway decided is in its file log;
 * the tour ends by reading one SA's life back from it.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock } from 'xstate';
import { factLog, readLog } from '../adapters/eventStore/facts.js';
import { fileLogEventStore } from '../adapters/eventStore/fileLog/fileLogEventStore.js';
import { memoryKeyStore } from '../adapters/keyStore/memoryKeyStore.js';
import { emulatedNic } from '../adapters/nic/emulatedNic.js';
import { loadPolicyFile } from '../adapters/policyFile/loader.js';
import { cryptoRandom } from '../adapters/random/random.js';
import { IPPROTO } from '../engine/packet/ipProtocol.js';
import { writeIpv4Header } from '../engine/packet/ipv4.js';
import { formatIpAddress, parseIpAddress } from '../engine/policy/ipText.js';
import { saTimeline } from '../engine/projections/timeline.js';
import { Spd } from '../engine/spd/spd.js';
import type { Policy } from '../engine/spd/types.js';
import { Gateway } from '../machines/gateway/gateway.js';
import { manualKeying } from '../machines/keyManager/manualKeying.js';
import { processInbound, processOutbound } from '../streams/pipelines.js';

const started = performance.now();
const MIN = 60_000;
const ip = (t: string) => (parseIpAddress(t) as { ok: true; value: Uint8Array }).value;

/** B's policies: A's with local and remote swapped (selectors, tunnel endpoints, directions kept). */
function mirror(p: Policy): Policy {
  const selectors = p.selectors.map((s) => ({ ...s, localAddress: s.remoteAddress, remoteAddress: s.localAddress, localPort: s.remotePort, remotePort: s.localPort }));
  const protect = p.protect?.tunnel ? { ...p.protect, tunnel: { src: p.protect.tunnel.dst, dst: p.protect.tunnel.src } } : p.protect;
  return { ...p, id: p.id.replace('a-b', 'b-a'), selectors, ...(protect ? { protect } : {}) };
}

function udp(src: string, dst: string, n: number): Uint8Array {
  const p = new Uint8Array(1200);
  writeIpv4Header(p, 0, { totalLength: p.length, protocol: IPPROTO.UDP, src: ip(src), dst: ip(dst), identification: n & 0xffff, dontFragment: true });
  const v = new DataView(p.buffer);
  v.setUint16(20, 40000);
  v.setUint16(22, 5001);
  v.setUint16(24, p.length - 20);
  v.setUint32(28, n);
  return p;
}

const dir = process.env.IPSEC_ES_DEMO_DIR ?? (await mkdtemp(join(tmpdir(), 'ipsec-es-demo-')));
const file = await loadPolicyFile('examples/site-to-site.xml');
const clock = new SimulatedClock();
clock.set(Date.now());
const nic = emulatedNic({ name: 'nic0', capabilities: { saOffloadCapacity: 8 } });
const stores = { a: await fileLogEventStore({ directory: join(dir, 'gateway-a') }), b: await fileLogEventStore({ directory: join(dir, 'gateway-b') }) };
const a = new Gateway({ name: 'A', deps: { clock, random: cryptoRandom, log: factLog(stores.a) }, keys: memoryKeyStore(), spd: new Spd(file.policies), nic });
const b = new Gateway({ name: 'B', deps: { clock, random: cryptoRandom, log: factLog(stores.b) }, keys: memoryKeyStore(), spd: new Spd(file.policies.map(mirror)) });
const out = file.policies.find((p) => p.action === 'protect' && p.direction === 'outbound')!;
const protect = out.protect!;
if (protect.protocol !== 'esp') throw new Error('the example protects with ESP');
const suite = protect.proposals[0]!;
const [addrA, addrB] = [formatIpAddress(protect.tunnel!.src), formatIpAddress(protect.tunnel!.dst)];
const km = manualKeying(
  { gateway: a, address: addrA, outPolicyId: 'lan-a-b:out', inPolicyId: 'lan-a-b:in' },
  { gateway: b, address: addrB, outPolicyId: 'lan-b-a:out', inPolicyId: 'lan-b-a:in' },
  { encr: suite.encr, ...(suite.encrKeyBits ? { encrKeyBits: suite.encrKeyBits } : {}), integ: suite.integ, esn: protect.esn, replayWindow: protect.replayWindow, lifetimes: protect.lifetimes, ikeLifetimes: { softMs: 240 * MIN, hardMs: 250 * MIN } },
  cryptoRandom,
);
a.keyManager = km.a;
b.keyManager = km.b;
await a.offload!.ready();

// The wire: what one side sends arrives at the other on the next tick.
let inFlight: Array<[Gateway, Uint8Array]> = [];
const delivered = { A: 0, B: 0 };
const send = (from: Gateway, packets: Uint8Array[]) => {
  const wire: Uint8Array[] = [];
  for (const p of packets) processOutbound(from, p, wire);
  for (const d of wire) inFlight.push([from === a ? b : a, d]);
};
a.released$.subscribe((p) => send(a, p));
b.released$.subscribe((p) => send(b, p));
const tick = async (ms: number) => {
  clock.increment(ms);
  await Promise.all([a.settled(), b.settled()]);
  const now = inFlight;
  inFlight = [];
  for (const [to, d] of now) {
    const got: Uint8Array[] = [];
    processInbound(to, d, got);
    delivered[to.name as 'A' | 'B'] += got.length;
  }
  await Promise.all([a.settled(), b.settled()]);
};
const live = (gw: Gateway) => gw.saIds().filter((id) => gw.state(id)?.status !== 'dead');
const summary = (label: string) => console.log(`  ${label.padEnd(34)} SAs live A ${live(a).length} / B ${live(b).length} · delivered to B ${delivered.B}, to A ${delivered.A} · drops A ${a.drops.total()}, B ${b.drops.total()} · NIC sealed ${nic.counters.txPackets}, opened ${nic.counters.rxCryptoDone}`);

console.log(`\nipsec-es control plane tour · policy ${file.path} · event logs in ${dir}`);
console.log('Time is simulated (xstate SimulatedClock): two hours of SA lifetime pass in seconds; the disk syncs are real.\n');
send(a, [1, 2, 3].map((n) => udp('10.1.0.5', '10.2.0.7', n)));
summary('3 packets, no SA yet (ACQUIRE)');
for (let i = 0; i < 5; i++) await tick(10);
const first = a.sad.outboundFor('lan-a-b:out')!.id;
summary('SA pair up, queued packets sent');
let n = 3;
for (let minute = 0; minute < 120; minute++) {
  for (let s = 0; s < 6; s++) {
    send(a, [udp('10.1.0.5', '10.2.0.7', ++n), udp('10.1.0.6', '10.2.0.8', ++n)]);
    send(b, [udp('10.2.0.7', '10.1.0.5', ++n)]);
    await tick(10_000);
  }
  if (minute % 30 === 29) summary(`after ${minute + 1} simulated minutes`);
}
const inbound = live(a).find((id) => a.state(id)?.params?.direction === 'inbound' && a.state(id)?.offload)!;
nic.faults.requestDeleteOnNext(a.state(inbound)!.offload!.handle);
send(b, [udp('10.2.0.7', '10.1.0.5', ++n)]);
for (let i = 0; i < 3; i++) await tick(10);
summary('the NIC raised SaDeleteReq');
a.stop();
b.stop();

const log = await readLog(stores.a);
console.log(`\nGateway A's log: ${log.length} facts. The life of its first outbound SA ${first}:`);
for (const e of saTimeline(log, first).filter((e) => e.type !== 'SaUsageCheckpointed')) console.log(`  ${e.at.slice(11, 19)}  ${e.summary}`);
console.log(`\nEach gateway's log is a directory you can read back, from the command line (ipsec-es <command> where the package is installed):`);
console.log(`  npx tsx cli/main.ts timeline ${join(dir, 'gateway-a')} --sa ${first}`);
console.log(`  npx tsx cli/main.ts replay ${join(dir, 'gateway-a')} --until ${log[Math.floor(log.length / 2)]!.position}     # the state half way through`);
console.log(`  npx tsx cli/main.ts inspect ${join(dir, 'gateway-a')}                # watch the machines step through it in a browser`);
console.log(`or in a program: readLog(await fileLogEventStore({ directory: '${join(dir, 'gateway-a')}' })) (examples/replayLog.ts).`);
await Promise.all([stores.a.close(), stores.b.close()]);
console.log(`Control plane tour done in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
