/**
 * The wire glue over every bind (node:dgram on 127.0.0.1 and ::1, the twin in both families):
 * ESP-in-UDP out as UDP payload to (outer destination, UDP destination port) and back in as the
 * IP + UDP datagram the engine takes, or as ESP bytes; IKE behind the non-ESP marker and
 * NAT-keepalives handed to their callbacks (RFC 3948 §2.2, §2.3); garbage counted, never thrown.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DropCounters, type DropReason } from '../../../engine/dropReasons.js';
import { IpsecError } from '../../../engine/errors.js';
import { internetChecksum } from '../../../engine/packet/checksum.js';
import { parseIp } from '../../../engine/packet/ipPacket.js';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import { writeIpv4Header } from '../../../engine/packet/ipv4.js';
import { writeIpv6Header } from '../../../engine/packet/ipv6.js';
import { parseUdp, udpChecksum, writeUdpHeader } from '../../../engine/packet/udp.js';
import { parseIpAddress } from '../../../engine/policy/ipText.js';
import { memoryBindPair } from '../../../adapters/udp/memoryBind.js';
import type { DatagramBind, Endpoint } from '../../../adapters/udp/types.js';
import { udpBind } from '../../../adapters/udp/udpBind.js';
import { fromWire, ipDatagramOf, toWire, udpWire, wireDatagramOf, type EspInUdp, type UdpWire } from '../../../adapters/udp/wire.js';
import { settle, until } from './helpers.js';

const ip = (t: string) => (parseIpAddress(t) as { ok: true; value: Uint8Array }).value;

/** An ESP-looking UDP payload: SPI, sequence number, then `n` body octets. */
function espPayload(spi: number, seq: number, n = 64): Uint8Array {
  const p = Uint8Array.from({ length: 8 + n }, (_, i) => (i * 13 + seq) & 0xff);
  new DataView(p.buffer).setUint32(0, spi);
  new DataView(p.buffer).setUint32(4, seq);
  return p;
}

/** What the engine's encapsulate makes for a NAT-T SA: outer IP + UDP + `payload`. */
function udpPacket(src: string, dst: string, srcPort: number, dstPort: number, payload: Uint8Array, options: { hopByHop?: boolean; fragment?: boolean; protocol?: number } = {}): Uint8Array {
  const s = ip(src);
  const d = ip(dst);
  const protocol = options.protocol ?? IPPROTO.UDP;
  const l4 = protocol === IPPROTO.UDP ? 8 + payload.length : payload.length;
  if (s.length === 4) {
    const p = new Uint8Array(20 + l4);
    writeIpv4Header(p, 0, { totalLength: p.length, protocol, src: s, dst: d, identification: 7 });
    if (options.fragment) new DataView(p.buffer).setUint16(6, 0x2000); // MF
    if (protocol === IPPROTO.UDP) writeUdpHeader(p, 20, srcPort, dstPort, l4);
    p.set(payload, protocol === IPPROTO.UDP ? 28 : 20);
    if (options.fragment) new DataView(p.buffer).setUint16(10, 0), new DataView(p.buffer).setUint16(10, internetChecksum(p, 0, 20));
    return p;
  }
  const ext = options.hopByHop ? 8 : 0;
  const p = new Uint8Array(40 + ext + l4);
  writeIpv6Header(p, 0, { payloadLength: ext + l4, nextHeader: options.hopByHop ? IPPROTO.HOPOPTS : protocol, src: s, dst: d });
  if (options.hopByHop) {
    p[40] = protocol; // Next Header; Hdr Ext Len 0; PadN of 4 octets
    p[42] = 1;
    p[43] = 4;
  }
  if (protocol === IPPROTO.UDP) writeUdpHeader(p, 40 + ext, srcPort, dstPort, l4);
  p.set(payload, 40 + ext + (protocol === IPPROTO.UDP ? 8 : 0));
  if (protocol === IPPROTO.UDP) new DataView(p.buffer).setUint16(40 + ext + 6, udpChecksum(s, d, p.subarray(40 + ext)));
  return p;
}

const setups: Array<{ name: string; open: () => Promise<[DatagramBind, DatagramBind]> }> = [
  { name: 'udpBind 127.0.0.1', open: async () => [await udpBind({ address: '127.0.0.1', port: 0 }), await udpBind({ address: '127.0.0.1', port: 0 })] },
  { name: 'udpBind ::1', open: async () => [await udpBind({ address: '::1', port: 0 }), await udpBind({ address: '::1', port: 0 })] },
  { name: 'memoryBindPair IPv4', open: async () => memoryBindPair() },
  { name: 'memoryBindPair IPv6', open: async () => memoryBindPair({ a: { address: '2001:db8::1' } }) },
];

describe.each(setups)('udpWire over $name', ({ open }) => {
  let a: DatagramBind;
  let b: DatagramBind;
  let wireA: UdpWire;
  let wireB: UdpWire;
  let datagrams: Uint8Array[];
  let ikes: Array<{ message: Uint8Array; remote: Endpoint; local: Endpoint }>;
  let keepalives: Endpoint[];
  const A = () => ({ address: a.localAddress, port: a.localPort });
  const B = () => ({ address: b.localAddress, port: b.localPort });

  beforeEach(async () => {
    [a, b] = await open();
    datagrams = [];
    ikes = [];
    keepalives = [];
    wireA = udpWire({ bind: a, onDatagrams: () => {} });
    wireB = udpWire({
      bind: b,
      onDatagrams: (batch) => datagrams.push(...batch),
      onIke: (message, remote, local) => ikes.push({ message: message.slice(), remote, local }),
      onKeepalive: (remote) => keepalives.push(remote),
    });
  });
  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('ESP out: the UDP payload goes to (outer destination, UDP destination port); in: the IP + UDP datagram the engine takes, byte-exact payload', async () => {
    const payloads = [espPayload(0x1001, 1), espPayload(0x1001, 2, 1400), espPayload(0x2002, 3, 0)];
    wireA.send(payloads.map((p) => udpPacket(a.localAddress, b.localAddress, 4500, b.localPort, p)));
    await until(() => datagrams.length === payloads.length, 'three ESP datagrams');
    datagrams.forEach((d, i) => {
      const r = parseIp(d);
      if (!r.ok) throw new Error(r.reason);
      expect(r.protocol).toBe(IPPROTO.UDP);
      expect(Array.from(r.src)).toEqual(Array.from(ip(a.localAddress)));
      expect(Array.from(r.dst)).toEqual(Array.from(ip(b.localAddress)));
      const u = parseUdp(r.payload);
      if (!u.ok) throw new Error(u.reason);
      expect(u.srcPort).toBe(a.localPort);
      expect(u.dstPort).toBe(b.localPort);
      expect(Array.from(u.payload)).toEqual(Array.from(payloads[i]!));
      if (r.version === 4) {
        expect(internetChecksum(d, 0, 20)).toBe(0);
        expect(u.checksum).toBe(0); // RFC 3948 §2.1: zero over IPv4
      } else {
        expect(u.checksum).toBe(udpChecksum(r.src, r.dst, r.payload)); // RFC 8200 §8.1: mandatory over IPv6
      }
    });
    expect(wireA.counters.espOut).toBe(3);
    expect(wireB.counters.espIn).toBe(3);
    expect(wireB.drops.total()).toBe(0);
  });

  it('onEsp: the ESP bytes themselves, with both endpoints and the local address as the SAD looks it up', async () => {
    const esps: EspInUdp[] = [];
    const c = udpWire({ bind: b, onEsp: (batch) => esps.push(...batch) });
    const p = espPayload(0x3003, 9, 100);
    wireA.send([udpPacket(a.localAddress, b.localAddress, 4500, b.localPort, p)]);
    await until(() => esps.length === 1, 'one ESP');
    expect(Array.from(esps[0]!.esp)).toEqual(Array.from(p));
    expect(esps[0]!.remote).toEqual(A());
    expect(esps[0]!.local).toEqual(B());
    expect(Array.from(esps[0]!.dst)).toEqual(Array.from(ip(b.localAddress)));
    expect(Array.from(esps[0]!.src)).toEqual(Array.from(ip(a.localAddress)));
    expect(c.counters.espIn).toBe(1);
  });

  it('IKE goes out behind the non-ESP marker and comes in to onIke without it (RFC 3948 §2.2)', async () => {
    const message = Uint8Array.from({ length: 60 }, (_, i) => i + 1);
    wireA.sendIke(message, B());
    await until(() => ikes.length === 1, 'the IKE message');
    expect(Array.from(ikes[0]!.message)).toEqual(Array.from(message));
    expect(ikes[0]!.remote).toEqual(A());
    expect(ikes[0]!.local).toEqual(B());
    await until(() => a.counters.sentBytes === 64, 'marker + message on the wire');
    expect(wireB.counters.ikeIn).toBe(1);
    expect(datagrams.length).toBe(0);
  });

  it('NAT-keepalives (one 0xFF octet, RFC 3948 §2.3) reach onKeepalive, are not ESP and not drops', async () => {
    wireA.sendKeepalive(B());
    await until(() => keepalives.length === 1, 'the keepalive');
    expect(keepalives[0]).toEqual(A());
    expect(wireB.counters.keepalivesIn).toBe(1);
    expect(wireB.drops.total()).toBe(0);
    expect(datagrams.length).toBe(0);
  });

  it('garbage on port 4500 is counted by reason, never thrown; good ESP after it still arrives', async () => {
    const garbage = [
      new Uint8Array(0), // empty
      Uint8Array.of(1), // one octet, not 0xFF
      Uint8Array.of(1, 2),
      Uint8Array.of(1, 2, 3),
      Uint8Array.of(0xfe),
      Uint8Array.of(0, 0, 0, 0), // the non-ESP marker and nothing behind it
      Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1), // "SPI 0": RFC 3948 reserves it as the marker, so IKE, and too short for IKE
      new Uint8Array(4 + 27), // marker + 27 octets: one short of an IKE header
      Uint8Array.of(0, 0, 1, 0, 1, 2), // a non-zero SPI without a whole ESP header
    ];
    a.send(garbage.map((data) => ({ data, ...B() })));
    await until(() => wireB.counters.droppedIn === garbage.length, 'every garbage datagram counted');
    const reasons = Object.fromEntries(Object.entries(wireB.drops.global).filter(([, n]) => n > 0)) as Partial<Record<DropReason, number>>;
    expect(reasons).toEqual({ truncated: 7, malformed: 2 });
    expect(datagrams.length + ikes.length + keepalives.length).toBe(0);
    wireA.send([udpPacket(a.localAddress, b.localAddress, 4500, b.localPort, espPayload(0x1001, 1))]);
    await until(() => datagrams.length === 1, 'ESP after garbage');
  });

  it('IKE without an onIke is a counted drop (notIpsec); callbacks that throw are counted', async () => {
    const c = udpWire({
      bind: b,
      onDatagrams: () => {
        throw new Error('consumer bug');
      },
    });
    wireA.sendIke(new Uint8Array(40), B());
    wireA.send([udpPacket(a.localAddress, b.localAddress, 4500, b.localPort, espPayload(0x1001, 1))]);
    await until(() => c.counters.callbackErrors === 1 && c.drops.global.notIpsec === 1, 'the drop and the callback error');
    wireA.send([udpPacket(a.localAddress, b.localAddress, 4500, b.localPort, espPayload(0x1001, 2))]);
    await until(() => c.counters.espIn === 2, 'the wire goes on');
  });

  it('engine output that is not ESP in UDP is a counted drop, not sent', async () => {
    const [s, d] = [a.localAddress, b.localAddress];
    const bad = [
      udpPacket(s, d, 4500, b.localPort, Uint8Array.of(0, 0, 0, 0, ...new Uint8Array(40))), // IKE: use sendIke
      udpPacket(s, d, 4500, b.localPort, Uint8Array.of(0xff)), // keepalive: use sendKeepalive
      udpPacket(s, d, 0, 0, espPayload(0x1001, 1), { protocol: IPPROTO.ESP }), // raw ESP (an SA without NAT-T)
      udpPacket(s, d, 0, 0, new Uint8Array(20), { protocol: IPPROTO.TCP }), // a bypassed plain packet
      new Uint8Array(0),
      Uint8Array.of(1, 2, 3),
      udpPacket(s, d, 4500, b.localPort, espPayload(0x1001, 1)).subarray(0, 24), // cut inside the UDP header
    ];
    if (!a.localAddress.includes(':')) bad.push(udpPacket(s, d, 4500, b.localPort, espPayload(0x1001, 1), { fragment: true }));
    expect(() => wireA.send(bad)).not.toThrow();
    expect(wireA.counters.droppedOut).toBe(bad.length);
    expect(wireA.drops.global.notIpsec).toBe(4);
    expect(wireA.drops.global.fragment).toBe(a.localAddress.includes(':') ? 0 : 1);
    await settle(30);
    expect(a.counters.sent + a.counters.sendErrors).toBe(0);
  });

  it('after the bind is closed, sending through the wire throws bind.closed', async () => {
    await a.close();
    const packet = udpPacket(a.localAddress, b.localAddress, 4500, b.localPort, espPayload(0x1001, 1));
    expect(() => wireA.send([packet])).toThrow(IpsecError);
    expect(() => wireA.send([packet])).toThrow(/closed/);
    expect(() => wireA.sendIke(new Uint8Array(30), B())).toThrow(/closed/);
    expect(() => wireA.sendKeepalive(B())).toThrow(/closed/);
  });
});

describe('wire functions', () => {
  it('wireDatagramOf finds UDP behind IPv6 extension headers (transport mode keeps them, RFC 4303 §3.1.1)', () => {
    const p = espPayload(0x1001, 5);
    const r = wireDatagramOf(udpPacket('2001:db8::1', '2001:db8::2', 4500, 4501, p, { hopByHop: true }));
    if (!r.ok) throw new Error(r.reason);
    expect(r.address).toBe('2001:db8::2');
    expect(r.port).toBe(4501);
    expect(Array.from(r.data)).toEqual(Array.from(p));
  });

  it('ipDatagramOf refuses mixed families and non-literals; toWire/fromWire are the uncounted forms', () => {
    expect(ipDatagramOf(new Uint8Array(8), { address: '::1', port: 1 }, { address: '127.0.0.1', port: 4500 })).toEqual({ ok: false, reason: 'unsupported' });
    expect(ipDatagramOf(new Uint8Array(8), { address: 'host', port: 1 }, { address: '127.0.0.1', port: 4500 })).toEqual({ ok: false, reason: 'unsupported' });
    expect(ipDatagramOf(new Uint8Array(65_508), { address: '192.0.2.1', port: 1 }, { address: '192.0.2.2', port: 4500 })).toEqual({ ok: false, reason: 'oversized' });
    const p = espPayload(0x1001, 1);
    const d = toWire(udpPacket('192.0.2.1', '192.0.2.2', 4500, 4500, p))!;
    expect(d).toEqual({ data: p, address: '192.0.2.2', port: 4500 });
    expect(toWire(Uint8Array.of(1, 2, 3))).toBeUndefined();
    const bind = { localAddress: '192.0.2.2', localPort: 4500 };
    const back = fromWire({ data: p, address: '192.0.2.1', port: 4500 }, bind)!;
    // Addresses, UDP header and payload as sent; ID and TTL are the socket's secret (synthetic here).
    expect(Array.from(back.subarray(12))).toEqual(Array.from(udpPacket('192.0.2.1', '192.0.2.2', 4500, 4500, p).subarray(12)));
    expect(internetChecksum(back, 0, 20)).toBe(0);
    expect(fromWire({ data: Uint8Array.of(0xff), address: '192.0.2.1', port: 4500 }, bind)).toBeUndefined();
    expect(fromWire({ data: p, address: '192.0.2.1', port: 4500 }, { localAddress: '0.0.0.0', localPort: 4500 })).toBeUndefined();
    expect(fromWire({ data: p, address: '192.0.2.1', port: 4500 }, { localAddress: '0.0.0.0', localPort: 4500 }, '192.0.2.2')).toBeDefined();
  });

  it('udpWire: exactly one of onDatagrams / onEsp; local addresses must be literals of their family', () => {
    const [a] = memoryBindPair();
    expect(() => udpWire({ bind: a })).toThrow(/^onDatagrams:/);
    expect(() => udpWire({ bind: a, onDatagrams: () => {}, onEsp: () => {} })).toThrow(/^onDatagrams:/);
    expect(() => udpWire({ bind: a, onDatagrams: () => {}, local: { v4: '::1' } })).toThrow(/^local\.v4:/);
    expect(() => udpWire({ bind: a, onDatagrams: () => {}, local: { v6: '10.0.0.1' } })).toThrow(/^local\.v6:/);
  });

  it('a wildcard bind needs the local address (Node does not report it): without it ESP is dropped as unsupported', async () => {
    const any = await udpBind({ address: '0.0.0.0', port: 0 });
    const peer = await udpBind({ address: '127.0.0.1', port: 0 });
    try {
      const without: Uint8Array[] = [];
      const drops = new DropCounters();
      udpWire({ bind: any, drops, onDatagrams: (batch) => without.push(...batch) });
      const packet = () => udpPacket('127.0.0.1', '127.0.0.1', 4500, any.localPort, espPayload(0x1001, 1));
      udpWire({ bind: peer, onDatagrams: () => {} }).send([packet()]);
      await until(() => drops.global.unsupported === 1, 'the unsupported drop');
      const withLocal: Uint8Array[] = [];
      udpWire({ bind: any, local: { v4: '127.0.0.1' }, onDatagrams: (batch) => withLocal.push(...batch) });
      udpWire({ bind: peer, onDatagrams: () => {} }).send([packet()]);
      await until(() => withLocal.length === 1, 'the datagram with a local address');
      const r = parseIp(withLocal[0]!);
      expect(r.ok && Array.from(r.dst)).toEqual([127, 0, 0, 1]);
    } finally {
      await Promise.all([any.close(), peer.close()]);
    }
  });
});
