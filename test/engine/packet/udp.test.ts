import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { toHex } from '../../../engine/bytes.js';
import { parseIp } from '../../../engine/packet/ipPacket.js';
import { UDP_HEADER, parseUdp, udpChecksum, writeUdpHeader } from '../../../engine/packet/udp.js';
import { concat, kernelPacket, referenceOnesSum } from './vectors.js';

/** The pseudo-header as RFC 768 / RFC 8200 §8.1 draw it, built byte by byte. */
function pseudoHeader(src: Uint8Array, dst: Uint8Array, length: number): Uint8Array {
  if (src.length === 4) {
    return concat(src, dst, Uint8Array.of(0, 17, length >> 8, length & 0xff));
  }
  const upperLength = Uint8Array.of(length >>> 24, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff);
  return concat(src, dst, upperLength, Uint8Array.of(0, 0, 0, 17));
}

/** Reference checksum: one's complement of the reference sum over pseudo-header ‖ datagram. */
function referenceChecksum(src: Uint8Array, dst: Uint8Array, udp: Uint8Array): number {
  const zeroed = udp.slice();
  zeroed[6] = 0;
  zeroed[7] = 0;
  const c = 0xffff - referenceOnesSum(concat(pseudoHeader(src, dst, udp.length), zeroed));
  return c === 0 ? 0xffff : c;
}

function udpOf(name: Parameters<typeof kernelPacket>[0]) {
  const ip = parseIp(kernelPacket(name));
  if (!ip.ok) throw new Error(ip.reason);
  const udp = parseUdp(ip.payload);
  if (!udp.ok) throw new Error(udp.reason);
  return { ip, udp };
}

describe('UDP known answers (kernel-built datagrams, kernel-computed checksums)', () => {
  it.each([
    ['udp4', 40000, 4500, 'hello ipsec-es, odd length!', 0xe47b],
    ['udp4_options', 40000, 4500, 'with record route', 0xabb4],
    ['udp6', 40001, 500, 'plain v6 datagram', 0xeeb3],
    ['udp6_hbh_dst', 40001, 500, 'with hbh and dstopts', 0xf257],
  ] as const)('%s parses and its checksum recomputes', (name, srcPort, dstPort, text, checksum) => {
    const { ip, udp } = udpOf(name);
    expect([udp.srcPort, udp.dstPort, udp.length, udp.checksum]).toEqual([srcPort, dstPort, 8 + text.length, checksum]);
    expect(new TextDecoder().decode(udp.payload)).toBe(text);
    expect(udpChecksum(ip.src, ip.dst, ip.payload)).toBe(checksum);
  });
});

describe('parseUdp', () => {
  it.each([
    ['7 octets', 'truncated', new Uint8Array(7)],
    ['Length 7', 'malformed', Uint8Array.of(0, 1, 0, 2, 0, 7, 0, 0)],
    ['Length 0 (jumbogram)', 'malformed', Uint8Array.of(0, 1, 0, 2, 0, 0, 0, 0)],
    ['Length past the input', 'truncated', Uint8Array.of(0, 1, 0, 2, 0, 9, 0, 0)],
  ] as const)('%s → %s', (_name, reason, bytes) => {
    expect(parseUdp(bytes)).toEqual({ ok: false, reason });
  });

  test.prop([
    fc.integer({ min: 0, max: 0xffff }),
    fc.integer({ min: 0, max: 0xffff }),
    fc.integer({ min: 0, max: 0xffff }),
    fc.uint8Array({ maxLength: 100 }),
    fc.uint8Array({ maxLength: 6 }),
    fc.integer({ min: 0, max: 3 }),
  ])('write → parse gives back the fields; bytes past Length ignored', (srcPort, dstPort, sum, payload, tail, at) => {
    const length = UDP_HEADER + payload.length;
    const out = new Uint8Array(at + length + tail.length);
    expect(writeUdpHeader(out, at, srcPort, dstPort, length, sum)).toBe(UDP_HEADER);
    out.set(payload, at + UDP_HEADER);
    out.set(tail, at + length);
    const r = parseUdp(out.subarray(at));
    expect(r).toEqual({ ok: true, srcPort, dstPort, length, checksum: sum, payload });
  });

  it('writeUdpHeader throws a RangeError naming the argument on misuse', () => {
    const out = new Uint8Array(16);
    expect(() => writeUdpHeader(out, 9, 1, 2, 8)).toThrow(/offset/);
    expect(() => writeUdpHeader(out, 0, 65536, 2, 8)).toThrow(/srcPort/);
    expect(() => writeUdpHeader(out, 0, 1, -1, 8)).toThrow(/dstPort/);
    expect(() => writeUdpHeader(out, 0, 1, 2, 7)).toThrow(/length/);
    expect(() => writeUdpHeader(out, 0, 1, 2, 8, 0x10000)).toThrow(/checksum/);
  });
});

describe('udpChecksum', () => {
  const addresses = fc.constantFrom(4, 16).chain((n) =>
    fc.tuple(fc.uint8Array({ minLength: n, maxLength: n }), fc.uint8Array({ minLength: n, maxLength: n })),
  );

  test.prop([addresses, fc.uint8Array({ minLength: 8, maxLength: 300 })])(
    'agrees with a reference over the explicit pseudo-header, and the result verifies',
    ([src, dst], udp) => {
      const c = udpChecksum(src, dst, udp);
      expect(c).toBe(referenceChecksum(src, dst, udp));
      udp[6] = c >> 8;
      udp[7] = c & 0xff;
      expect(referenceOnesSum(concat(pseudoHeader(src, dst, udp.length), udp))).toBe(0xffff);
      expect(udpChecksum(src, dst, udp)).toBe(c); // the checksum field itself is not summed
    },
  );

  test.prop([addresses, fc.uint8Array({ minLength: 2, maxLength: 40 }).map((b) => b.subarray(0, b.length & ~1))])(
    'transmits a computed 0 as 0xffff (RFC 768)',
    ([src, dst], body) => {
      // Choose the last payload word so that the sum is 0xffff, i.e. the checksum computes to 0.
      const udp = new Uint8Array(UDP_HEADER + body.length + 2);
      udp.set(body, UDP_HEADER);
      writeUdpHeader(udp, 0, 1, 2, udp.length);
      const partial = referenceOnesSum(concat(pseudoHeader(src, dst, udp.length), udp));
      const word = partial === 0xffff ? 0xffff : 0xffff - partial;
      udp[udp.length - 2] = word >> 8;
      udp[udp.length - 1] = word & 0xff;
      expect(referenceOnesSum(concat(pseudoHeader(src, dst, udp.length), udp))).toBe(0xffff);
      expect(udpChecksum(src, dst, udp)).toBe(0xffff);
    },
  );

  it('throws a RangeError naming the argument on misuse', () => {
    const udp = new Uint8Array(8);
    expect(() => udpChecksum(new Uint8Array(5), new Uint8Array(5), udp)).toThrow(/src/);
    expect(() => udpChecksum(new Uint8Array(4), new Uint8Array(16), udp)).toThrow(/dst/);
    expect(() => udpChecksum(new Uint8Array(4), new Uint8Array(4), udp.subarray(0, 7))).toThrow(/udp/);
  });

  it('reads the datagram through a view at any byte offset', () => {
    const { ip } = udpOf('udp4');
    const shifted = new Uint8Array(ip.payload.length + 1);
    shifted.set(ip.payload, 1);
    expect(toHex(shifted.subarray(1))).toBe(toHex(ip.payload));
    expect(udpChecksum(ip.src, ip.dst, shifted.subarray(1))).toBe(0xe47b);
  });
});
