/**
 * UDP bind benchmark: datagrams per second of 1400-octet datagrams over loopback, node:dgram
 * `udpBind` against the sendmmsg/recvmmsg `nativeUdpBind`, in alternating slices of one run
 * (so both see the same moments of a noisy machine), printing the ratio.
 *   - send: batches of 64 to a node:dgram socket that never reads (the kernel drops what its
 *     buffer cannot take): the cost of getting datagrams into the kernel, completions counted.
 *   - round trip: bind A sends 4 batches of 64 to bind B of the same kind, then waits until B
 *     has received them: sending plus receiving, both through the bind.
 *   - burst loss: 20 000 datagrams from another thread into a live bind, with the kernel's default
 *     receive buffer against 4 MiB: the share the kernel drops before this thread drains it.
 * Run: `npx tsx bench/udp.bench.ts [--quick]` (or compiled: `npm run bench` skips it; run
 * `node dist/bench/udp.bench.js`). Skips the native side, saying why, when the addon is not built.
 */
import dgram from 'node:dgram';
import { Worker } from 'node:worker_threads';
import { IpsecError } from '../engine/errors.js';
import { nativeUdpBind } from '../adapters/udp/nativeUdpBind.js';
import { udpBind } from '../adapters/udp/udpBind.js';
import type { Datagram, DatagramBind } from '../adapters/udp/types.js';

const quick = process.argv.includes('--quick');
const SLICE_MS = quick ? 150 : 400;
const SLICES = 6;
const SIZE = 1400;
const BATCH = 64;
const LOOPBACK = '127.0.0.1';
const turn = () => new Promise<void>((r) => setImmediate(r));

type Open = () => Promise<DatagramBind>;
const kinds: Array<[string, Open]> = [['node:dgram udpBind', () => udpBind({ address: LOOPBACK, port: 0 })]];
try {
  await (await nativeUdpBind({ address: LOOPBACK, port: 0 })).close();
  kinds.push(['nativeUdpBind', () => nativeUdpBind({ address: LOOPBACK, port: 0 })]);
} catch (e) {
  if (!(e instanceof IpsecError && e.code === 'bind.nativeUnavailable')) throw e;
  console.log(`udp bench: nativeUdpBind skipped: ${e.message}`);
}

const kindsSized = (size: number | 'system'): Array<[string, Open]> => [
  ['node:dgram udpBind', () => udpBind({ address: LOOPBACK, port: 0, recvBufferSize: size })],
  ...(kinds.length === 2 ? [['nativeUdpBind', () => nativeUdpBind({ address: LOOPBACK, port: 0, recvBufferSize: size })] as [string, Open]] : []),
];

const batchTo = (port: number): Datagram[] => Array.from({ length: BATCH }, () => ({ data: new Uint8Array(SIZE).fill(0xab), address: LOOPBACK, port }));

/** Sends for `ms`, yielding every 16 batches; returns completed datagrams and ns. */
async function sendSlice(bind: DatagramBind, batch: Datagram[], ms: number): Promise<{ ops: number; ns: number }> {
  const sentBefore = bind.counters.sent;
  const before = sentBefore + bind.counters.sendErrors;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms * 1e6);
  let issued = 0;
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 16; i++) bind.send(batch);
    issued += 16 * BATCH;
    await turn();
  }
  while (bind.counters.sent + bind.counters.sendErrors - before < issued) await turn();
  return { ops: bind.counters.sent - sentBefore, ns: Number(process.hrtime.bigint() - start) };
}

/** Rounds of 4 batches A -> B, each waited for at B; returns datagrams received and ns. */
async function roundTripSlice(a: DatagramBind, batch: Datagram[], ms: number, received: { n: number; lost: number }): Promise<{ ops: number; ns: number }> {
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms * 1e6);
  const first = received.n;
  let expected = received.n;
  while (process.hrtime.bigint() < end) {
    expected += 4 * BATCH;
    for (let i = 0; i < 4; i++) a.send(batch);
    const deadline = Date.now() + 200; // a lost datagram ends the wait, and counts as not received
    while (received.n < expected && Date.now() < deadline) await turn();
    if (received.n < expected) {
      received.lost += expected - received.n;
      expected = received.n;
    }
  }
  return { ops: received.n - first, ns: Number(process.hrtime.bigint() - start) };
}

const sink = dgram.createSocket('udp4');
await new Promise<void>((r) => sink.bind(0, LOOPBACK, () => r()));
sink.setRecvBufferSize(1 << 16); // never read: the kernel drops past this
const sinkPort = sink.address().port;

const senders = await Promise.all(kinds.map(([, open]) => open()));
const pairs = await Promise.all(kinds.map(async ([, open]) => [await open(), await open()] as const));
const got = pairs.map(([, b]) => {
  const counter = { n: 0, lost: 0 };
  b.onReceive((batch) => void (counter.n += batch.length));
  return counter;
});

const sendRate = kinds.map(() => ({ ops: 0, ns: 0 }));
const rtRate = kinds.map(() => ({ ops: 0, ns: 0 }));
// Warm-up, then alternate slices.
for (let k = 0; k < kinds.length; k++) {
  await sendSlice(senders[k]!, batchTo(sinkPort), 50);
  await roundTripSlice(pairs[k]![0], batchTo(pairs[k]![1].localPort), 50, got[k]!);
}
for (let s = 0; s < SLICES; s++) {
  for (let k = 0; k < kinds.length; k++) {
    const r = await sendSlice(senders[k]!, batchTo(sinkPort), SLICE_MS / 2);
    sendRate[k]!.ops += r.ops;
    sendRate[k]!.ns += r.ns;
    const t = await roundTripSlice(pairs[k]![0], batchTo(pairs[k]![1].localPort), SLICE_MS / 2, got[k]!);
    rtRate[k]!.ops += t.ops;
    rtRate[k]!.ns += t.ns;
  }
}
const perSecond = (r: { ops: number; ns: number }) => r.ops / (r.ns / 1e9);
const fmt = (n: number) => `${(n / 1e3).toFixed(0).padStart(6)} k/s`;
console.log(`UDP bind, ${SIZE}-octet datagrams over ${LOOPBACK}, batches of ${BATCH}, ${SLICES} alternating slices`);
kinds.forEach(([name], k) => console.log(`  ${name.padEnd(20)} send ${fmt(perSecond(sendRate[k]!))}   round trip ${fmt(perSecond(rtRate[k]!))} (lost ${got[k]!.lost})`));
if (kinds.length === 2) {
  console.log(`  native / dgram: send ×${(perSecond(sendRate[1]!) / perSecond(sendRate[0]!)).toFixed(2)}, round trip ×${(perSecond(rtRate[1]!) / perSecond(rtRate[0]!)).toFixed(2)}`);
}
await Promise.all([...senders, ...pairs.flat()].map((b) => b.close()));
sink.close();

// Burst loss: a sender on another core, the receiving bind live in this thread.
const BURST = 20_000;
const BURST_SENDER = `
const dgram = require('node:dgram');
const { workerData, parentPort } = require('node:worker_threads');
const { port, n, size } = workerData;
const s = dgram.createSocket('udp4');
s.bind(0, '127.0.0.1', () => {
  s.setSendBufferSize(4 << 20);
  let sent = 0, done = 0;
  const cb = () => { if (++done === n) { s.close(); parentPort.postMessage(done); } };
  const round = () => {
    for (let i = 0; i < 256 && sent < n; i++, sent++) s.send(Buffer.alloc(size, 0xab), port, '127.0.0.1', cb);
    if (sent < n) setImmediate(round);
  };
  round();
});`;
async function burstLoss(open: Open): Promise<number> {
  const b = await open();
  let received = 0;
  b.onReceive((batch) => void (received += batch.length));
  const worker = new Worker(BURST_SENDER, { eval: true, workerData: { port: b.localPort, n: BURST, size: SIZE } });
  await new Promise((r) => worker.once('message', r));
  await worker.terminate();
  const deadline = Date.now() + 5_000;
  let lost = BURST - received;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    const drops = (await (b as DatagramBind & { kernelDrops?(): Promise<number | undefined> }).kernelDrops?.()) ?? 0;
    lost = BURST - received;
    if (received + drops >= BURST) break;
  }
  await b.close();
  return lost / BURST;
}
const sizes = [['kernel default', 'system'], ['4 MiB', 4 << 20]] as const;
const loss = sizes.map(() => kinds.map(() => [] as number[]));
for (let run = 0; run < (quick ? 1 : 3); run++) {
  for (let z = 0; z < sizes.length; z++) {
    const opens = kindsSized(sizes[z]![1]);
    for (let k = 0; k < opens.length; k++) loss[z]![k]!.push(await burstLoss(opens[k]![1]));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`Burst of ${BURST} × ${SIZE} octets from another thread into a live bind (median loss of ${loss[0]![0]!.length} run(s))`);
kinds.forEach(([name], k) => {
  const d = median(loss[0]![k]!);
  const m = median(loss[1]![k]!);
  console.log(`  ${name.padEnd(20)} kernel default buffer ${(d * 100).toFixed(2).padStart(6)} %   4 MiB ${(m * 100).toFixed(2).padStart(6)} %`);
});
