/**
 * Shared by the UDP adapter tests: waiting for asynchronous counters, an endpoint nobody listens
 * on, and a burst sender on another thread (a sender in the receiver's own thread measures
 * libuv's 32-reads-per-turn, not the socket buffer).
 */
import dgram from 'node:dgram';
import { Worker } from 'node:worker_threads';
import type { Datagram, DatagramBind, Endpoint } from '../../../adapters/udp/types.js';

/** Resolves once `condition()` holds; rejects after `ms` with `what` in the message. */
export async function until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Lets the event loop run for `ms`. */
export const settle = (ms = 50) => new Promise((r) => setTimeout(r, ms));

/** Collects everything `bind` receives. */
export function collect(bind: DatagramBind): Datagram[] {
  const got: Datagram[] = [];
  bind.onReceive((batch) => {
    for (const d of batch) got.push(d);
  });
  return got;
}

/** A UDP port on `address` that was bound a moment ago and is closed now: ICMP port unreachable. */
export async function closedPort(address: string): Promise<Endpoint> {
  const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return { address, port };
}

const BURST_SENDER = `
const dgram = require('node:dgram');
const { workerData, parentPort } = require('node:worker_threads');
const { to, n, size, batch, flag } = workerData;
const family = to.address.includes(':') ? 6 : 4;
const s = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', lookup: (h, _o, cb) => cb(null, h, family) });
s.bind(0, family === 6 ? '::1' : '127.0.0.1', () => {
  s.setSendBufferSize(4 << 20);
  let sent = 0, ok = 0, errors = 0;
  const finish = () => {
    s.close();
    if (flag) { const f = new Int32Array(flag); Atomics.store(f, 0, 1); Atomics.notify(f, 0); }
    parentPort.postMessage({ sent: ok, errors });
  };
  // Each datagram is in the receiver's socket (or counted as dropped) when its callback runs.
  const done = (e) => { if (e) errors++; else ok++; if (ok + errors === n) finish(); };
  const round = () => {
    for (let i = 0; i < batch && sent < n; i++, sent++) {
      const b = Buffer.alloc(size, 0xab);
      b.writeUInt32BE(0x1001, 0); // an ESP-looking SPI
      b.writeUInt32BE(sent, 4);   // the index, as the sequence number
      s.send(b, to.port, to.address, done);
    }
    if (sent < n) setImmediate(round);
  };
  round();
});
`;

/**
 * Sends `n` datagrams of `size` octets (octets 4..7: the index) to `to` from a worker thread, in
 * rounds of `batch` per event-loop turn, as a busy gateway would. Resolves with what its
 * socket accepted.
 *
 * `freeze: true` blocks this thread (Atomics.wait) until the last datagram is sent, so nothing
 * here reads the receiving socket during the burst: what it holds afterwards is exactly what
 * its buffer could queue, whatever the load on the machine.
 */
export function burstFromAnotherThread(to: Endpoint, n: number, size = 1400, batch = 256, options: { freeze?: boolean } = {}): Promise<{ sent: number; errors: number }> {
  const flag = options.freeze ? new SharedArrayBuffer(4) : undefined;
  const worker = new Worker(BURST_SENDER, { eval: true, workerData: { to, n, size, batch, flag } });
  if (flag !== undefined) freezeUntil(flag);
  return new Promise((resolve, reject) => {
    worker.once('message', (m: { sent: number; errors: number }) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

/**
 * Blocks this thread until a worker sets the first int of `flag` (at most 60 s): the receiving
 * sockets of this thread are not read meanwhile.
 */
export function freezeUntil(flag: SharedArrayBuffer): void {
  if (Atomics.wait(new Int32Array(flag), 0, 0, 60_000) === 'timed-out') throw new Error('the burst sender did not finish within 60 s');
}

/** The indices (octets 4..7) of received burst datagrams: checks each arrived once. */
export function burstIndices(got: readonly Datagram[]): Set<number> {
  const seen = new Set<number>();
  for (const d of got) seen.add(new DataView(d.data.buffer, d.data.byteOffset, d.data.byteLength).getUint32(4));
  return seen;
}

/**
 * Waits until every datagram of a burst of `n` is either in `got` or counted by the kernel as
 * dropped (`drops()` counts since the burst began), then reports both.
 */
export async function burstOutcome(got: readonly Datagram[], n: number, drops: () => Promise<number>, ms = 10_000): Promise<{ received: number; kernelDrops: number }> {
  for (const end = Date.now() + ms; Date.now() < end; await settle(10)) {
    if (got.length + (await drops()) >= n) break;
  }
  await settle(50);
  return { received: got.length, kernelDrops: await drops() };
}
