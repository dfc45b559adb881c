import { describe, expect, it } from 'vitest';
import { toHex } from '../../../engine/bytes.js';
import { DROP_REASONS } from '../../../engine/dropReasons.js';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import { selectorFields } from '../../../engine/spd/selectorFields.js';
import { Spd } from '../../../engine/spd/spd.js';
import { icmp, ip, mh, packet, policy, prng, tcp, udp } from './fixtures.js';

const A4 = ip('10.0.0.1');
const B4 = ip('192.0.2.7');
const A6 = ip('2001:db8::1');
const B6 = ip('2001:db8::2');

/** The fields, addresses as text, for readable comparisons. */
function read(bytes: Uint8Array, direction: 'outbound' | 'inbound' = 'outbound') {
  const r = selectorFields(bytes, direction);
  if (!r.ok) return { reason: r.reason };
  return { local: toHex(r.localAddress), remote: toHex(r.remoteAddress), protocol: r.protocol, localPort: r.localPort, remotePort: r.remotePort, icmp: r.icmp, mhType: r.mhType };
}

describe('selectorFields', () => {
  it('TCP over IPv4, outbound: local = source', () => {
    expect(read(packet({ src: A4, dst: B4, protocol: IPPROTO.TCP, upper: tcp(40000, 443) }))).toEqual({ local: '0a000001', remote: 'c0000207', protocol: 6, localPort: 40000, remotePort: 443, icmp: -1, mhType: -1 });
  });

  it('UDP over IPv6, inbound: local = destination, ports swapped too', () => {
    expect(read(packet({ src: A6, dst: B6, protocol: IPPROTO.UDP, upper: udp(500, 4500) }), 'inbound')).toMatchObject({ local: toHex(B6), remote: toHex(A6), protocol: 17, localPort: 4500, remotePort: 500 });
  });

  it('SCTP ports (first 4 octets of the common header)', () => {
    const sctp = new Uint8Array(12);
    sctp.set([0x0b, 0xb8, 0x13, 0x88]);
    expect(read(packet({ src: A4, dst: B4, protocol: 132, upper: sctp }))).toMatchObject({ protocol: 132, localPort: 3000, remotePort: 5000 });
  });

  it('ICMP and ICMPv6 type/code as one 16-bit value; ports OPAQUE', () => {
    expect(read(packet({ src: A4, dst: B4, protocol: IPPROTO.ICMP, upper: icmp(8, 0) }))).toMatchObject({ protocol: 1, icmp: 0x0800, localPort: -1, remotePort: -1 });
    expect(read(packet({ src: A6, dst: B6, protocol: IPPROTO.ICMPV6, upper: icmp(135, 0) }))).toMatchObject({ protocol: 58, icmp: 135 * 256, mhType: -1 });
  });

  it('Mobility Header type (RFC 6275 §6.1.1, third octet)', () => {
    expect(read(packet({ src: A6, dst: B6, protocol: IPPROTO.MH, upper: mh(5) }))).toMatchObject({ protocol: 135, mhType: 5, icmp: -1, localPort: -1 });
  });

  it('a protocol without ports (ESP, GRE) has OPAQUE ports', () => {
    expect(read(packet({ src: A4, dst: B4, protocol: IPPROTO.ESP, upper: new Uint8Array(16) }))).toMatchObject({ protocol: 50, localPort: -1, remotePort: -1, icmp: -1 });
    expect(read(packet({ src: A6, dst: B6, protocol: 47, upper: new Uint8Array(4) }))).toMatchObject({ protocol: 47, localPort: -1 });
  });

  it('first fragments keep their ports; non-initial fragments are OPAQUE (RFC 4301 §4.4.1.1)', () => {
    expect(read(packet({ src: A4, dst: B4, protocol: IPPROTO.UDP, upper: udp(53, 5353, 100).subarray(0, 16), moreFragments: true }))).toMatchObject({ localPort: 53, remotePort: 5353 });
    expect(read(packet({ src: A4, dst: B4, protocol: IPPROTO.TCP, upper: new Uint8Array(16), fragmentOffset: 1480 }))).toMatchObject({ protocol: 6, localPort: -1, remotePort: -1 });
    expect(read(packet({ src: A6, dst: B6, protocol: IPPROTO.TCP, upper: tcp(1, 2), moreFragments: true }))).toMatchObject({ protocol: 6, localPort: 1, remotePort: 2 });
    expect(read(packet({ src: A6, dst: B6, protocol: IPPROTO.ICMPV6, upper: new Uint8Array(16), fragmentOffset: 64 }))).toMatchObject({ protocol: 58, icmp: -1 });
  });

  it('a non-initial IPv6 fragment whose next header is an extension header: protocol OPAQUE', () => {
    expect(read(packet({ src: A6, dst: B6, protocol: IPPROTO.TCP, fragmentNextHeader: IPPROTO.DSTOPTS, upper: new Uint8Array(16), fragmentOffset: 8 }))).toMatchObject({ protocol: -1, localPort: -1 });
  });

  it('drops what it cannot read', () => {
    expect(read(new Uint8Array(0))).toEqual({ reason: 'truncated' });
    expect(read(packet({ src: A4, dst: B4, protocol: IPPROTO.TCP, upper: new Uint8Array(12) }))).toEqual({ reason: 'truncated' });
    expect(read(packet({ src: A4, dst: B4, protocol: IPPROTO.UDP, upper: udp(1, 2).subarray(0, 6) }))).toEqual({ reason: 'truncated' });
    const badUdp = udp(1, 2);
    badUdp[5] = 3; // Length 3 < 8
    expect(read(packet({ src: A4, dst: B4, protocol: IPPROTO.UDP, upper: badUdp }))).toEqual({ reason: 'malformed' });
    expect(read(packet({ src: A4, dst: B4, protocol: IPPROTO.TCP, upper: new Uint8Array(3), moreFragments: true }))).toEqual({ reason: 'truncated' });
    expect(read(packet({ src: A6, dst: B6, protocol: IPPROTO.ICMPV6, upper: new Uint8Array(1), moreFragments: true }))).toEqual({ reason: 'truncated' });
    expect(read(packet({ src: A6, dst: B6, protocol: IPPROTO.MH, upper: new Uint8Array(4) }))).toEqual({ reason: 'truncated' });
  });
});

const SEED = 0x5bd1e995;
const INPUTS = 120_000;

describe(`selectorFields fuzz (seed ${SEED.toString(16)}, ${INPUTS} inputs)`, () => {
  it('never throws; every drop has a reason from the union; the SPD classifies every result', () => {
    const rnd = prng(SEED);
    const int = (n: number) => Math.floor(rnd() * n);
    const spd = new Spd([
      policy({ id: 'web', priority: 1, selectors: [{ localAddress: { kind: 'any' }, remoteAddress: { kind: 'any' }, protocol: { kind: 'number', value: 6 }, localPort: { kind: 'any' }, remotePort: { kind: 'range', from: 0, to: 1023 } }] }),
      policy({ id: 'icmp', priority: 2, selectors: [{ localAddress: { kind: 'any' }, remoteAddress: { kind: 'any' }, protocol: { kind: 'any' }, localPort: { kind: 'any' }, remotePort: { kind: 'any' }, icmp: { kind: 'range', from: { type: 0, code: 0 }, to: { type: 8, code: 255 } } }] }),
    ]);
    const seeds: Uint8Array[] = [];
    for (const [src, dst] of [[A4, B4], [A6, B6]] as const) {
      for (const [protocol, upper] of [[6, tcp(1, 80)], [17, udp(5, 53, 20)], [1, icmp(8, 0)], [58, icmp(128, 0)], [135, mh(1)], [132, new Uint8Array(12)], [50, new Uint8Array(24)]] as const) {
        seeds.push(packet({ src, dst, protocol, upper }));
        seeds.push(packet({ src, dst, protocol, upper, moreFragments: true }));
        seeds.push(packet({ src, dst, protocol, upper, fragmentOffset: 8 * (1 + int(100)) }));
      }
    }
    const reasons = new Set<string>(DROP_REASONS);
    const seen = new Map<string, number>();
    let ok = 0;
    for (let n = 0; n < INPUTS; n++) {
      let input: Uint8Array;
      const kind = int(4);
      if (kind === 0) {
        input = Uint8Array.from({ length: int(90) }, () => int(256));
        if (input.length > 0 && rnd() < 0.8) input[0] = rnd() < 0.5 ? 0x45 : 0x60;
      } else {
        input = seeds[int(seeds.length)]!.slice();
        for (let f = 1 + int(3); f > 0; f--) input[int(input.length)]! ^= 1 << int(8);
        if (kind === 2) input = input.subarray(0, int(input.length + 1));
        // Keep the IPv4 header checksum valid half the time, so mutations reach the next layer.
        if (kind === 3 && input[0]! >> 4 === 4 && input.length >= 20) {
          input[10] = input[11] = 0;
          let sum = 0;
          for (let i = 0; i < 20; i += 2) sum += (input[i]! << 8) | input[i + 1]!;
          while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
          input[10] = ~sum >> 8;
          input[11] = ~sum & 0xff;
        }
      }
      const r = selectorFields(input, n % 2 ? 'inbound' : 'outbound');
      if (r.ok) {
        ok++;
        spd.classifyOutbound(r);
        spd.classifyInboundPlain(r);
        expect(r.localAddress.length === r.remoteAddress.length).toBe(true);
      } else {
        expect(reasons.has(r.reason)).toBe(true);
        seen.set(r.reason, (seen.get(r.reason) ?? 0) + 1);
      }
    }
    // The corpus reached both outcomes, and several kinds of drop.
    expect(ok).toBeGreaterThan(INPUTS / 10);
    expect(seen.size).toBeGreaterThanOrEqual(3);
  });
});
