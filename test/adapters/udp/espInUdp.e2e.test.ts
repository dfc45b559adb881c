/**
 * End to end over real UDP sockets on loopback, IPv4 and IPv6: an outbound engine SA with NAT-T
 * ports seals inner packets, bind A sends the UDP payloads, bind B receives them, the inbound SA
 * opens them, and the original inner packets come out byte-exact and in order. Both inbound
 * shapes: rebuilt IP datagrams into `decapsulate`, and ESP bytes into `decapsulateEspInUdp`.
 *
 * B listens on port 4500 (on 127.45.0.2, a loopback address of our own, for IPv4), so the SAs are
 * exactly natT { srcPort: 4500, dstPort: 4500 }. If 4500 is taken on that address, B takes
 * another port and the SAs name it (RFC 3948 §2.1 lets an SA use the port it was set up with).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';
import type { EspSuiteSpec } from '../../../engine/crypto/types.js';
import { DropCounters } from '../../../engine/dropReasons.js';
import { decapsulate } from '../../../engine/esp/decapsulate.js';
import { encapsulate } from '../../../engine/esp/encapsulate.js';
import { createEspSa, type EspSa, type EspSaConfig } from '../../../engine/esp/espSa.js';
import { standardIvSource } from '../../../engine/esp/ivSource.js';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import { writeIpv4Header } from '../../../engine/packet/ipv4.js';
import { writeIpv6Header } from '../../../engine/packet/ipv6.js';
import { parseIpAddress } from '../../../engine/policy/ipText.js';
import { udpBind, type UdpBind } from '../../../adapters/udp/udpBind.js';
import { decapsulateEspInUdp, udpWire, type EspInUdp } from '../../../adapters/udp/wire.js';
import { keysFor } from '../../engine/esp/fixtures.js';
import { until } from './helpers.js';

const ip = (t: string) => (parseIpAddress(t) as { ok: true; value: Uint8Array }).value;
const iv = standardIvSource((b) => crypto.getRandomValues(b));

const SUITES: Array<[string, EspSuiteSpec]> = [
  ['AES-GCM-16/128', { encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE }],
  ['AES-CBC-256 + HMAC-SHA2-256-128', { encr: ENCR.AES_CBC, encrKeyBits: 256, integ: INTEG.HMAC_SHA2_256_128 }],
  ['ChaCha20-Poly1305', { encr: ENCR.CHACHA20_POLY1305, integ: INTEG.NONE }],
];

/** An inner packet `src` → `dst` with a UDP-ish payload of `n` octets numbered `tag`. */
function inner(src: string, dst: string, n: number, tag: number): Uint8Array {
  const s = ip(src);
  const d = ip(dst);
  const header = s.length === 4 ? 20 : 40;
  const p = new Uint8Array(header + n);
  if (header === 20) writeIpv4Header(p, 0, { totalLength: p.length, protocol: IPPROTO.UDP, src: s, dst: d, identification: tag, dontFragment: true });
  else writeIpv6Header(p, 0, { payloadLength: n, nextHeader: IPPROTO.UDP, src: s, dst: d });
  for (let i = header; i < p.length; i++) p[i] = (i * 7 + tag) & 0xff;
  return p;
}

async function bindPreferring4500(address: string): Promise<UdpBind> {
  return udpBind({ address, port: 4500 }).catch(() => udpBind({ address, port: 0 }));
}

describe.each([
  { family: 4, addrA: '127.45.0.1', addrB: '127.45.0.2' },
  { family: 6, addrA: '::1', addrB: '::1' },
])('ESP-in-UDP end to end over IPv$family loopback', ({ addrA, addrB }) => {
  let a: UdpBind;
  let b: UdpBind;
  beforeEach(async () => {
    a = await udpBind({ address: addrA, port: 0 });
    b = await bindPreferring4500(addrB);
  });
  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  function saPair(suite: EspSuiteSpec, mode: 'tunnel' | 'transport', spi: number): { out: EspSa; in: EspSa } {
    const common: Omit<EspSaConfig, 'id' | 'direction'> = {
      spi,
      suite,
      keys: keysFor(suite, spi & 0xff),
      mode,
      esn: true,
      natT: { srcPort: 4500, dstPort: b.localPort },
      ...(mode === 'tunnel' ? { tunnel: { src: ip(addrA), dst: ip(addrB) } } : {}),
    };
    return { out: createEspSa({ ...common, id: `out-${spi}`, direction: 'outbound' }), in: createEspSa({ ...common, id: `in-${spi}`, direction: 'inbound' }) };
  }

  it('binds B to port 4500 when it is free', () => {
    if (b.localPort !== 4500) console.info(`[udp e2e] port 4500 taken on ${addrB}: B uses ${b.localPort}, named by the SAs`);
    expect(b.localPort).toBeGreaterThan(0);
  });

  describe.each(SUITES)('%s', (_name, suite) => {
    it.each(['datagrams', 'esp'] as const)('tunnel mode: sealed at A, sent, received at B, opened (inbound as %s) → the original inner packets', async (shape) => {
      const sas = saPair(suite, 'tunnel', 0x4500 + shape.length);
      const lookup = (spi: number, dst: Uint8Array) => (spi === sas.in.spi && dst.every((x, i) => x === ip(addrB)[i]) ? sas.in : undefined);
      const drops = new DropCounters();
      const delivered: Uint8Array[] = [];
      const open = (r: ReturnType<typeof decapsulate>) => {
        if (r.ok) delivered.push(r.packet.slice());
      };
      if (shape === 'datagrams') udpWire({ bind: b, drops, onDatagrams: (batch) => batch.forEach((d) => open(decapsulate(d, lookup, drops))) });
      else udpWire({ bind: b, drops, onEsp: (batch: EspInUdp[]) => batch.forEach((e) => open(decapsulateEspInUdp(e, lookup, drops))) });
      const wireA = udpWire({ bind: a, onDatagrams: () => {} });

      // Both inner families in either outer family, sizes from tiny to a full Ethernet MTU.
      const sent: Uint8Array[] = [];
      for (let i = 0; i < 60; i++) {
        const v6Inner = i % 3 === 2;
        sent.push(inner(v6Inner ? '2001:db8:1::1' : '10.1.0.1', v6Inner ? '2001:db8:2::1' : '10.2.0.1', [8, 100, 512, 1380][i % 4]!, i));
      }
      const wirePackets = sent.map((p) => {
        const r = encapsulate(p, sas.out, iv);
        if (!r.ok) throw new Error(r.reason);
        return r.packet;
      });
      wireA.send(wirePackets);
      await until(() => delivered.length + drops.total() >= sent.length, 'every packet opened or dropped');
      expect(drops.total()).toBe(0);
      expect(delivered.length).toBe(sent.length);
      delivered.forEach((p, i) => expect(Buffer.from(p).equals(Buffer.from(sent[i]!))).toBe(true));
      expect(sas.in.usage.packets).toBe(sent.length);
      expect(wireA.counters.espOut).toBe(sent.length);

      // A replayed datagram is counted (RFC 4303 §3.4.3), never thrown.
      wireA.send([wirePackets[0]!.slice()]);
      await until(() => drops.global.replayed === 1, 'the replay drop');
    });
  });

  it.each(['datagrams', 'esp'] as const)('transport mode (inbound as %s): the upper-layer payload and protocol come back', async (shape) => {
    const suite = SUITES[0]![1];
    const sas = saPair(suite, 'transport', 0x4600 + shape.length);
    const lookup = (spi: number) => (spi === sas.in.spi ? sas.in : undefined);
    const drops = new DropCounters();
    const delivered: Uint8Array[] = [];
    const open = (r: ReturnType<typeof decapsulate>) => {
      if (r.ok) delivered.push(r.packet.slice());
    };
    if (shape === 'datagrams') udpWire({ bind: b, drops, onDatagrams: (batch) => batch.forEach((d) => open(decapsulate(d, lookup, drops))) });
    else udpWire({ bind: b, drops, onEsp: (batch) => batch.forEach((e) => open(decapsulateEspInUdp(e, lookup, drops))) });
    const wireA = udpWire({ bind: a, onDatagrams: () => {} });
    // Transport mode: the packet's own addresses are the endpoints.
    const sent = [10, 200, 1300].map((n, i) => inner(addrA, addrB, n, i));
    wireA.send(sent.map((p) => (encapsulate(p, sas.out, iv) as { ok: true; packet: Uint8Array }).packet));
    await until(() => delivered.length + drops.total() >= sent.length, 'three packets');
    expect(drops.total()).toBe(0);
    const header = addrA.includes(':') ? 40 : 20;
    delivered.forEach((p, i) => {
      expect(p.length).toBe(sent[i]!.length);
      expect(p[header === 20 ? 9 : 6]).toBe(IPPROTO.UDP);
      expect(Buffer.from(p.subarray(header)).equals(Buffer.from(sent[i]!.subarray(header)))).toBe(true);
    });
  });

  it('forged and broken ESP to a live SPI is counted (authFailed, truncated, ...), never thrown; the SA keeps working', async () => {
    const sas = saPair(SUITES[0]![1], 'tunnel', 0x4700);
    const lookup = (spi: number) => (spi === sas.in.spi ? sas.in : undefined);
    const drops = new DropCounters();
    const delivered: Uint8Array[] = [];
    udpWire({ bind: b, drops, onDatagrams: (batch) => batch.forEach((d) => { const r = decapsulate(d, lookup, drops); if (r.ok) delivered.push(r.packet); }) });
    const spi = [0, 0, 0x47, 0x00];
    a.send([
      { data: Uint8Array.from([...spi, 0, 0, 0, 1, ...new Uint8Array(64)]), address: addrB, port: b.localPort }, // forged: ICV fails
      { data: Uint8Array.from([...spi, 0, 0, 0, 2]), address: addrB, port: b.localPort }, // header only
      { data: Uint8Array.from([0, 0, 0x99, 0x99, 0, 0, 0, 1, ...new Uint8Array(40)]), address: addrB, port: b.localPort }, // unknown SPI
    ]);
    await until(() => drops.total() === 3, 'three drops');
    expect(drops.global.authFailed).toBe(1);
    expect(drops.global.truncated).toBe(1);
    expect(drops.global.unknownSpi).toBe(1);
    const wireA = udpWire({ bind: a, onDatagrams: () => {} });
    const p = inner('10.1.0.1', '10.2.0.1', 50, 1);
    wireA.send([(encapsulate(p, sas.out, iv) as { ok: true; packet: Uint8Array }).packet]);
    await until(() => delivered.length === 1, 'the real packet');
  });
});
