/**
 * The `TunDevice` contract: every case runs against `memoryTun()` (memoryTun.test.ts) and
 * against a real Linux TUN device in a fresh network namespace (linuxTun.test.ts runs them in a
 * child process under `ip netns exec`). Cases are plain async functions using node:assert, so
 * they run under vitest and in that child alike.
 *
 * The host side is a harness: on Linux the kernel's stack with a UDP socket on HOST:HOST_PORT;
 * for the twin, `host.send` / `host.onReceive` with packets built and parsed here.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { readU16 } from '../../../engine/bytes.js';
import { IpsecError } from '../../../engine/errors.js';
import { writeIpv4Header } from '../../../engine/packet/ipv4.js';
import { UDP_HEADER, writeUdpHeader } from '../../../engine/packet/udp.js';
import type { TunDevice } from '../../../adapters/tun/index.js';

export const HOST = '10.99.0.1';
export const PEER = '10.99.0.2';
export const HOST_PORT = 40001;
export const PEER_PORT = 40002;
export const MTU = 1400;

/** The host's side of a device under test. One harness per case; `dispose` cleans up. */
export interface TunHarness {
  /** Opens a device with MTU 1400 whose host address is HOST/24 (the peer, PEER, is behind it). */
  open(options?: { maxPacketBytes?: number }): Promise<TunDevice>;
  /** The host sends UDP datagrams HOST:HOST_PORT → PEER:PEER_PORT, which it routes into the device. */
  hostSendUdp(payloads: readonly Uint8Array[]): Promise<void>;
  /** The next `count` payloads the host's socket on HOST:HOST_PORT received (from packets written). */
  hostReceiveUdp(count: number, timeoutMs?: number): Promise<Uint8Array[]>;
  /** The host sends these bytes into the device as they are (a packet socket on Linux). */
  hostSendRaw(frame: Uint8Array): Promise<void>;
  /** Deletes the device under the adapter (`ip link delete`). */
  removeDevice(device: TunDevice): Promise<void>;
  /** Records a measurement for the report. */
  note(key: string, value: number | string): void;
  dispose(): Promise<void>;
}

/** Thrown by a case (or a harness) that cannot run here; the reason is shown as the skip note. */
export class CaseSkipped extends Error {}

/** One contract case. */
export interface TunContractCase {
  name: string;
  run(h: TunHarness): Promise<void>;
}

const ipv4 = (text: string): Uint8Array => new Uint8Array(text.split('.').map(Number));

/** An IPv4/UDP packet (UDP checksum 0: "none", RFC 768). */
export function udpPacket(src: string, dst: string, srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(20 + UDP_HEADER + payload.length);
  writeIpv4Header(out, 0, { totalLength: out.length, protocol: 17, src: ipv4(src), dst: ipv4(dst) });
  writeUdpHeader(out, 20, srcPort, dstPort, UDP_HEADER + payload.length);
  out.set(payload, 20 + UDP_HEADER);
  return out;
}

/** The UDP datagram in an IPv4 packet, or undefined. */
export function parseUdp4(packet: Uint8Array): { src: string; dst: string; srcPort: number; dstPort: number; payload: Uint8Array } | undefined {
  if (packet.length < 28 || packet[0] === undefined || packet[0] >> 4 !== 4 || packet[9] !== 17) return undefined;
  const ihl = (packet[0] & 0x0f) * 4;
  const total = readU16(packet, 2);
  const udpLength = readU16(packet, ihl + 4);
  return {
    src: Array.from(packet.subarray(12, 16)).join('.'),
    dst: Array.from(packet.subarray(16, 20)).join('.'),
    srcPort: readU16(packet, ihl),
    dstPort: readU16(packet, ihl + 2),
    payload: packet.subarray(ihl + UDP_HEADER, Math.min(total, ihl + udpLength)),
  };
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);
/** A packet the device writes towards the host's socket. */
const toHost = (payload: Uint8Array): Uint8Array => udpPacket(PEER, HOST, PEER_PORT, HOST_PORT, payload);
/** Is `packet` one of the harness's datagrams to the peer? */
const isProbe = (packet: Uint8Array): boolean => parseUdp4(packet)?.dstPort === PEER_PORT;

/**
 * Reads until `count` probe packets arrived (copies), then stops the reader. Returns them with
 * the size of every batch delivered meanwhile.
 */
export function collect(device: TunDevice, count: number, timeoutMs = 5000): Promise<{ packets: Uint8Array[]; batchSizes: number[] }> {
  return new Promise((resolve, reject) => {
    const packets: Uint8Array[] = [];
    const batchSizes: number[] = [];
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`collect: ${packets.length} of ${count} packets within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = device.read((batch) => {
      batchSizes.push(batch.length);
      for (const p of batch) if (isProbe(p)) packets.push(p.slice());
      if (packets.length >= count) {
        clearTimeout(timer);
        stop();
        resolve({ packets, batchSizes });
      }
    }, reject);
  });
}

function assertTunError(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof IpsecError && e.code === code && e.message.length > 20);
}

export const tunContractCases: TunContractCase[] = [
  {
    name: 'opens with its name, MTU and batch size, and counters at zero',
    async run(h) {
      const tun = await h.open();
      assert.ok(/^[\w.-]{1,15}$/.test(tun.name), tun.name);
      assert.equal(tun.mtu, MTU);
      assert.equal(tun.batchSize, 64);
      const s = tun.stats();
      assert.deepEqual([s.rxPackets, s.txPackets, s.drops.truncated, s.drops.malformed, s.drops.deviceError], [0, 0, 0, 0, 0]);
    },
  },
  {
    name: 'a datagram the host sends is read as one IPv4/UDP packet',
    async run(h) {
      const tun = await h.open();
      const got = collect(tun, 1);
      await h.hostSendUdp([text('hello tun')]);
      const [packet] = (await got).packets;
      const udp = parseUdp4(packet as Uint8Array);
      assert.deepEqual(udp && { ...udp, payload: str(udp.payload) }, { src: HOST, dst: PEER, srcPort: HOST_PORT, dstPort: PEER_PORT, payload: 'hello tun' });
      assert.ok(tun.stats().rxPackets >= 1);
    },
  },
  {
    name: 'a packet written reaches the host',
    async run(h) {
      const tun = await h.open();
      const packet = toHost(text('from the gateway'));
      const received = h.hostReceiveUdp(1);
      assert.equal(tun.write([packet]), 1);
      assert.deepEqual((await received).map(str), ['from the gateway']);
      const s = tun.stats();
      assert.deepEqual([s.txPackets, s.txBytes], [1, packet.length]);
    },
  },
  {
    name: 'a burst of 200 is read in order in batches of at most 64, the first one full',
    async run(h) {
      const tun = await h.open();
      const payloads = Array.from({ length: 200 }, (_, i) => text(`probe ${String(i).padStart(3, '0')}`));
      await h.hostSendUdp(payloads); // all queued before the reader starts
      const { packets, batchSizes } = await collect(tun, 200);
      assert.deepEqual(packets.map((p) => str(parseUdp4(p)?.payload ?? new Uint8Array())), payloads.map(str));
      assert.ok(Math.max(...batchSizes) <= 64, `batches ${batchSizes}`);
      assert.equal(batchSizes[0], 64, `batches ${batchSizes}`);
      h.note('burst batch sizes', batchSizes.join(' '));
      h.note('burst packets per batch', +(200 / batchSizes.length).toFixed(1));
    },
  },
  {
    name: 'stop() pauses delivery: packets wait for the next reader',
    async run(h) {
      const tun = await h.open();
      let seen = 0;
      const stop = tun.read((batch) => (seen += batch.filter(isProbe).length));
      stop();
      stop(); // twice is harmless
      await h.hostSendUdp([text('a'), text('b'), text('c')]);
      await sleep(100);
      assert.equal(seen, 0);
      assert.deepEqual((await collect(tun, 3)).packets.map((p) => str(parseUdp4(p)?.payload ?? new Uint8Array())), ['a', 'b', 'c']);
    },
  },
  {
    name: 'one reader at a time (tun.busy); after stop() another may read',
    async run(h) {
      const tun = await h.open();
      const stop = tun.read(() => {});
      assertTunError(() => tun.read(() => {}), 'tun.busy');
      stop();
      tun.read(() => {})();
      assert.throws(() => tun.read(undefined as never), TypeError);
    },
  },
  {
    name: 'writes that are not IP or shorter than their header are counted drops; the rest of the batch goes',
    async run(h) {
      const tun = await h.open();
      const notIp = new Uint8Array(28).fill(0x11);
      const short = new Uint8Array([0x45, 0, 0, 20, 0, 0]);
      const claimsMore = toHost(text('cut')).subarray(0, 24);
      const ipv6Short = new Uint8Array(30).fill(0x60, 0, 1);
      const received = h.hostReceiveUdp(2);
      const written = tun.write([notIp, toHost(text('one')), short, new Uint8Array(0), claimsMore, ipv6Short, toHost(text('two'))]);
      assert.equal(written, 2);
      assert.deepEqual((await received).map(str), ['one', 'two']);
      const s = tun.stats();
      assert.deepEqual([s.txPackets, s.drops.malformed, s.drops.truncated], [2, 1, 4]);
      assert.equal(tun.write([]), 0);
      assert.throws(() => tun.write(['x' as never]), /packets\[0\]/);
    },
  },
  {
    name: 'reads that are not IP or shorter than their header are counted drops; reading goes on',
    async run(h) {
      const tun = await h.open();
      const got = collect(tun, 1);
      await h.hostSendRaw(new Uint8Array(28).fill(0x11)); // version 1
      await h.hostSendRaw(toHost(text('claims more')).subarray(0, 24)); // IPv4, total length > 24
      await h.hostSendUdp([text('after the bad ones')]);
      assert.equal(str(parseUdp4((await got).packets[0] as Uint8Array)?.payload ?? new Uint8Array()), 'after the bad ones');
      const s = tun.stats();
      assert.deepEqual([s.drops.malformed, s.drops.truncated], [1, 1]);
    },
  },
  {
    name: 'a read longer than maxPacketBytes is a counted truncated drop',
    async run(h) {
      const tun = await h.open({ maxPacketBytes: 200 });
      const got = collect(tun, 1);
      await h.hostSendUdp([new Uint8Array(300), text('small')]);
      assert.equal(str(parseUdp4((await got).packets[0] as Uint8Array)?.payload ?? new Uint8Array()), 'small');
      assert.equal(tun.stats().drops.truncated, 1);
    },
  },
  {
    name: 'packets are views valid during onBatch only: the next batch reuses their bytes',
    async run(h) {
      const tun = await h.open();
      const kept: Uint8Array[] = [];
      const copies: Uint8Array[] = [];
      const stop = tun.read((batch) => {
        for (const p of batch.filter(isProbe)) {
          kept.push(p);
          copies.push(p.slice());
        }
      });
      await h.hostSendUdp([text('first packet')]);
      for (let i = 0; i < 100 && kept.length < 1; i++) await sleep(10);
      await h.hostSendUdp([text('second one!!')]);
      for (let i = 0; i < 100 && kept.length < 2; i++) await sleep(10);
      stop();
      assert.equal(kept.length, 2);
      assert.equal(str(parseUdp4(copies[0] as Uint8Array)?.payload ?? new Uint8Array()), 'first packet');
      assert.notDeepEqual(kept[0], copies[0]); // kept without slice(): overwritten
    },
  },
  {
    name: 'write keeps none of the caller buffers: they may be reused at once',
    async run(h) {
      const tun = await h.open();
      const packet = toHost(text('original'));
      const received = h.hostReceiveUdp(1);
      tun.write([packet]);
      packet.fill(0);
      assert.deepEqual((await received).map(str), ['original']);
    },
  },
  {
    name: 'a reader that throws: the error goes to onError and reading goes on',
    async run(h) {
      const tun = await h.open();
      const errors: Error[] = [];
      const payloads: string[] = [];
      const stop = tun.read(
        (batch) => {
          for (const p of batch.filter(isProbe)) payloads.push(str(parseUdp4(p)?.payload ?? new Uint8Array()));
          if (payloads.length === 1) throw new Error('handler bug');
        },
        (e) => errors.push(e),
      );
      await h.hostSendUdp([text('one')]);
      for (let i = 0; i < 100 && errors.length < 1; i++) await sleep(10);
      await h.hostSendUdp([text('two')]);
      for (let i = 0; i < 100 && payloads.length < 2; i++) await sleep(10);
      stop();
      assert.deepEqual(errors.map((e) => e.message), ['handler bug']);
      assert.deepEqual(payloads, ['one', 'two']);
    },
  },
  {
    name: 'close(): later use throws tun.closed, close() again resolves, an old stop() is harmless',
    async run(h) {
      const tun = await h.open();
      const stop = tun.read(() => {});
      const closing = tun.close();
      assert.equal(tun.close(), closing);
      await closing;
      await tun.close();
      stop();
      assertTunError(() => tun.read(() => {}), 'tun.closed');
      assertTunError(() => tun.write([toHost(text('x'))]), 'tun.closed');
      assert.match(String((() => { try { tun.write([]); } catch (e) { return e; } })()), /closed/);
      assert.equal(typeof tun.stats().rxPackets, 'number');
    },
  },
  {
    name: 'a device deleted under its reader: onError gets tun.readFailed, writes count deviceError, close() works',
    async run(h) {
      const tun = await h.open();
      const failure = new Promise<Error>((resolve) => tun.read(() => {}, resolve));
      await h.removeDevice(tun);
      const error = await failure;
      assert.ok(error instanceof IpsecError && error.code === 'tun.readFailed', String(error));
      assert.match(error.message, /deleted/);
      assert.equal(tun.write([toHost(text('lost'))]), 0);
      const s = tun.stats();
      assert.equal(s.drops.deviceError, 1);
      assert.equal(s.lastDeviceError, 'EBADFD');
      await tun.close();
    },
  },
];
