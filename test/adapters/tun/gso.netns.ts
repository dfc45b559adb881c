/**
 * Child process for gso.test.ts, run inside a fresh namespace: writes one batch of IPv4 packets
 * "from" 10.77.9.1 into TUN device gso0 — runs that may be coalesced into GSO writes and
 * packets that must not be — which the namespace forwards to 10.77.2.2 through a second TUN
 * device, sink0. sink0 offers no offloads, so the kernel segments every GSO packet before it
 * hands it over: what we read from sink0 is what the stack made of our writes. Prints
 * `GSOCHILD {"written": [hex...], "got": [hex...], "stats": TunStats}`.
 */
import { execFileSync } from 'node:child_process';
import { openLinuxTun } from '../../../adapters/tun/index.js';

const SRC = [10, 77, 9, 1];
const DST = [10, 77, 2, 2];

/** RFC 1071 sum over the parts, folded and complemented. */
function checksum(...parts: Uint8Array[]): number {
  let s = 0;
  for (const p of parts) for (let i = 0; i < p.length; i += 2) s += (p[i]! << 8) | (p[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}
const put16 = (b: Uint8Array, at: number, v: number) => { b[at] = (v >>> 8) & 0xff; b[at + 1] = v & 0xff; };
const put32 = (b: Uint8Array, at: number, v: number) => { put16(b, at, v >>> 16); put16(b, at + 2, v & 0xffff); };

interface Ip { id: number; tos?: number; ttl?: number; df?: boolean }
function ipv4(proto: number, l4: Uint8Array, o: Ip): Uint8Array {
  const p = new Uint8Array(20 + l4.length);
  p[0] = 0x45;
  p[1] = o.tos ?? 0;
  put16(p, 2, p.length);
  put16(p, 4, o.id & 0xffff);
  put16(p, 6, o.df === false ? 0 : 0x4000);
  p[8] = o.ttl ?? 64;
  p[9] = proto;
  p.set(SRC, 12);
  p.set(DST, 16);
  put16(p, 10, checksum(p.subarray(0, 20)));
  p.set(l4, 20);
  return p;
}
const pseudo = (proto: number, len: number) => Uint8Array.of(...SRC, ...DST, 0, proto, len >>> 8, len & 0xff);

function udp(o: Ip & { size: number; fill: number; badSum?: boolean; noSum?: boolean }): Uint8Array {
  const u = new Uint8Array(8 + o.size);
  put16(u, 0, 5000);
  put16(u, 2, 6000);
  put16(u, 4, u.length);
  for (let i = 8; i < u.length; i++) u[i] = (o.fill + i) & 0xff;
  if (!o.noSum) put16(u, 6, (checksum(pseudo(17, u.length), u) || 0xffff) ^ (o.badSum ? 0x0101 : 0));
  return ipv4(17, u, o);
}

function tcp(o: Ip & { seq: number; size: number; flags?: number; ts?: number; sport?: number }): Uint8Array {
  const t = new Uint8Array(32 + o.size); // 20 + NOP NOP TS(10): the usual Linux header
  put16(t, 0, o.sport ?? 7000);
  put16(t, 2, 8000);
  put32(t, 4, o.seq >>> 0);
  put32(t, 8, 0x1000);
  t[12] = 8 << 4;
  t[13] = o.flags ?? 0x10;
  put16(t, 14, 502);
  t.set([1, 1, 8, 10], 20);
  put32(t, 24, o.ts ?? 777);
  put32(t, 28, 555);
  for (let i = 32; i < t.length; i++) t[i] = (o.seq + i) & 0xff;
  put16(t, 16, checksum(pseudo(6, t.length), t));
  return ipv4(6, t, o);
}

const batch: Uint8Array[] = [];
// A UDP run: 10 × 100 octets, IDs one apart (one GSO write).
for (let k = 0; k < 10; k++) batch.push(udp({ id: 100 + k, size: 100, fill: k }));
// A run ending on a shorter one.
for (let k = 0; k < 5; k++) batch.push(udp({ id: 110 + k, size: k === 4 ? 37 : 100, fill: 50 + k }));
// IDs not one apart: each alone.
batch.push(udp({ id: 200, size: 100, fill: 1 }), udp({ id: 202, size: 100, fill: 2 }));
// A bad UDP checksum in the middle of a run: it must arrive bad (segmentation would repair it).
for (let k = 0; k < 7; k++) batch.push(udp({ id: 300 + k, size: 64, fill: k, badSum: k === 3 }));
// No UDP checksum (0): must stay 0.
batch.push(udp({ id: 400, size: 64, fill: 3, noSum: true }), udp({ id: 401, size: 64, fill: 4, noSum: true }));
// Another TOS, TTL or DF: not with the others.
batch.push(udp({ id: 500, size: 64, fill: 5 }), udp({ id: 501, size: 64, fill: 6, tos: 0x10 }), udp({ id: 502, size: 64, fill: 7, ttl: 30 }), udp({ id: 503, size: 64, fill: 8, df: false }));
// A TCP run: 8 × 500 octets end to end, the last with PSH (one GSO write).
let seq = 0xfffff000; // wraps inside the run
for (let k = 0; k < 8; k++) { batch.push(tcp({ id: 600 + k, seq, size: 500, flags: k === 7 ? 0x18 : 0x10 })); seq = (seq + 500) >>> 0; }
// Options that differ (a newer timestamp): a new run.
batch.push(tcp({ id: 608, seq, size: 500 }), tcp({ id: 609, seq: seq + 500, size: 500, ts: 778 }), tcp({ id: 610, seq: seq + 1000, size: 500, ts: 778 }));
seq += 1500;
// PSH in the middle, FIN at the end, a gap in the sequence, a bad TCP checksum.
batch.push(tcp({ id: 611, seq, size: 300, flags: 0x18 }), tcp({ id: 612, seq: seq + 300, size: 300 }), tcp({ id: 613, seq: seq + 600, size: 300, flags: 0x11 }));
batch.push(tcp({ id: 614, seq: seq + 1000, size: 300 }), tcp({ id: 615, seq: seq + 1300, size: 300 }));
const bad = tcp({ id: 616, seq: seq + 1600, size: 300 });
bad[20 + 16]! ^= 0x40;
batch.push(bad, tcp({ id: 617, seq: seq + 1900, size: 300 }));

const tun = await openLinuxTun({ name: 'gso0', addresses: ['10.77.9.254/24'] });
const sink = await openLinuxTun({ name: 'sink0', addresses: ['10.77.2.1/24'] });
execFileSync('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.gso0.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
// 10.77.2.2 is "behind" sink0: no ARP on a TUN device, the packets go straight to our reader.
const got: string[] = [];
const stop = sink.read((packets) => { for (const p of packets) if (p[12] === 10 && p[13] === 77 && p[14] === 9) got.push(Buffer.from(p).toString('hex')); });
const written = tun.write(batch);
const stats = tun.stats();
for (let i = 0; i < 50 && got.length < batch.length; i++) await new Promise((r) => setTimeout(r, 20));
await new Promise((r) => setTimeout(r, 200)); // nothing more comes
stop();
// Fuzz: mutants of the batch (a byte changed, cut short, lengths 0..), 64 to a write: the writer
// must never read past a packet or crash; the kernel refuses what is not IP (counted errnos).
let seed = 7;
const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
let fuzzed = 0;
for (let round = 0; round < 60; round++) {
  const mutants = Array.from({ length: 64 }, () => {
    const p = batch[rnd(batch.length)]!.slice(0, rnd(4) === 0 ? rnd(64) : undefined);
    for (let k = rnd(3); k > 0 && p.length > 0; k--) p[rnd(p.length)] = rnd(256);
    return p;
  });
  tun.write(mutants);
  fuzzed += mutants.length;
}
await Promise.all([tun.close(), sink.close()]);
console.log(`GSOCHILD ${JSON.stringify({ count: written, written: batch.map((p) => Buffer.from(p).toString('hex')), got, stats, fuzzed })}`);
