/**
 * `ipsec-es capture`: the gateway's wire as a pcapng file (the pcapng format, IETF
 * draft-ietf-opsawg-pcapng: a Section Header Block, one Interface Description Block of link type
 * RAW (101, the packet starts with its IP header), then one Enhanced Packet Block per datagram).
 * A socket hides the IP and UDP headers, so each datagram is wrapped again in the header it had
 * on the wire as far as the socket tells: the real addresses and ports; TTL, ID and checksums
 * are synthetic (`ipDatagramOf`). A raw ESP bind's datagrams get an IP header of protocol 50
 * instead (`rawIpDatagramOf`): ESP as it crossed the wire, no UDP.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { ipDatagramOf } from '../adapters/udp/wire.js';
import { rawIpDatagramOf } from '../adapters/udp/rawEspBind.js';
import type { Datagram, DatagramBind } from '../adapters/udp/types.js';

/** pcapng block types and the link type of raw IP (tcpdump.org/linktypes). */
const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const EPB = 0x00000006;
const LINKTYPE_RAW = 101;

/** The file header: a Section Header Block (byte-order magic, version 1.0, length unknown) and one interface. */
export function pcapngHeader(): Buffer {
  const shb = Buffer.alloc(28);
  shb.writeUInt32LE(SHB, 0);
  shb.writeUInt32LE(28, 4);
  shb.writeUInt32LE(0x1a2b3c4d, 8);
  shb.writeUInt16LE(1, 12);
  shb.writeUInt16LE(0, 14);
  shb.writeBigInt64LE(-1n, 16); // section length not specified
  shb.writeUInt32LE(28, 24);
  const idb = Buffer.alloc(20);
  idb.writeUInt32LE(IDB, 0);
  idb.writeUInt32LE(20, 4);
  idb.writeUInt16LE(LINKTYPE_RAW, 8);
  idb.writeUInt32LE(0, 12); // no snap length limit; timestamps in microseconds (the default if_tsresol)
  idb.writeUInt32LE(20, 16);
  return Buffer.concat([shb, idb]);
}

/**
 * One Enhanced Packet Block: `packet` (an IP datagram) captured at `timeUs` microseconds since the epoch.
 *
 * @example
 * out.write(pcapngPacket(ip, BigInt(Date.now()) * 1000n));
 */
export function pcapngPacket(packet: Uint8Array, timeUs: bigint): Buffer {
  const padded = (packet.length + 3) & ~3;
  const total = 32 + padded;
  const b = Buffer.alloc(total);
  b.writeUInt32LE(EPB, 0);
  b.writeUInt32LE(total, 4);
  b.writeUInt32LE(0, 8); // interface 0
  b.writeUInt32LE(Number(timeUs >> 32n), 12);
  b.writeUInt32LE(Number(timeUs & 0xffffffffn), 16);
  b.writeUInt32LE(packet.length, 20);
  b.writeUInt32LE(packet.length, 24);
  b.set(packet, 28);
  b.writeUInt32LE(total, total - 4);
  return b;
}

/** A capture in progress. */
export interface WireCapture {
  readonly path: string;
  readonly packets: number;
  stop(): Promise<{ path: string; packets: number }>;
}

/** Where a tapped bind sends copies of what passes it. */
export interface Tap {
  sent(batch: readonly Datagram[]): void;
  received(batch: readonly Datagram[]): void;
}

/**
 * A `DatagramBind` that shows a tap every datagram sent and received, before the wire sees it
 * (the receiver may decrypt in place). With no tap set it costs one property read per batch.
 *
 * @example
 * const bind = tappedBind(await udpBind({ address: '0.0.0.0', port: 4500 }));
 * bind.tap = capture.tap;
 */
export function tappedBind(inner: DatagramBind): DatagramBind & { tap: Tap | undefined } {
  const self = {
    tap: undefined as Tap | undefined,
    get localAddress() { return inner.localAddress; },
    get localPort() { return inner.localPort; },
    get closed() { return inner.closed; },
    get counters() { return inner.counters; },
    send(batch: readonly Datagram[]) {
      self.tap?.sent(batch);
      inner.send(batch);
    },
    onReceive(receiver: (batch: Datagram[]) => void) {
      inner.onReceive((batch) => {
        self.tap?.received(batch);
        receiver(batch);
      });
    },
    onEvent: inner.onEvent.bind(inner),
    close: () => inner.close(),
  };
  return self;
}

/**
 * Starts writing what `bind` sends and receives to a pcapng file. `local` is our address when
 * the bind is on a wildcard. Stops by itself after `maxPackets`.
 *
 * @example
 * const c = startCapture(bind, '/tmp/wire.pcapng', { local: '192.0.2.1' }); ...; await c.stop();
 */
export function startCapture(bind: DatagramBind & { tap: Tap | undefined }, path: string, options: { local?: string; maxPackets?: number; rawEsp?: boolean } = {}): WireCapture {
  const out: WriteStream = createWriteStream(path, { mode: 0o600 });
  let failed: Error | undefined;
  out.on('error', (e) => (failed = e));
  out.write(pcapngHeader());
  let packets = 0;
  const max = options.maxPackets ?? Infinity;
  const wildcard = /^(0\.0\.0\.0|::)$/.test(bind.localAddress);
  const local = { address: wildcard && options.local ? options.local : bind.localAddress, port: bind.localPort };
  const write = (batch: readonly Datagram[], outbound: boolean) => {
    const now = BigInt(Date.now()) * 1000n;
    for (const d of batch) {
      if (packets >= max) return;
      const peer = { address: d.address, port: d.port };
      // A raw ESP datagram says which of our addresses it came to (`local`, on a wildcard bind).
      const here = (d as Datagram & { local?: string }).local ?? local.address;
      const r = options.rawEsp
        ? outbound ? rawIpDatagramOf(d.data, local.address, d.address) : rawIpDatagramOf(d.data, d.address, here)
        : outbound ? ipDatagramOf(d.data, local, peer) : ipDatagramOf(d.data, peer, local);
      if (!r.ok) continue;
      out.write(pcapngPacket(r.packet, now));
      packets++;
    }
  };
  const tap: Tap = { sent: (b) => write(b, true), received: (b) => write(b, false) };
  bind.tap = tap;
  return {
    path,
    get packets() { return packets; },
    async stop() {
      if (bind.tap === tap) bind.tap = undefined;
      await new Promise<void>((r) => out.end(() => r()));
      if (failed) throw new Error(`capture ${path}: ${failed.message}`);
      return { path, packets };
    },
  };
}
