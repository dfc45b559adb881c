import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { fromHex, toHex } from '../../../engine/bytes.js';
import { internetChecksum } from '../../../engine/packet/checksum.js';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import {
  IPV4_MIN_HEADER,
  ipv4IsFragment,
  parseIpv4,
  rewriteIpv4ProtocolAndLength,
  writeIpv4Header,
} from '../../../engine/packet/ipv4.js';
import { ipv4Address, kernelPacket, rfc3602EspCases, rfc7634EspExample } from './vectors.js';

function mustParse(bytes: Uint8Array) {
  const r = parseIpv4(bytes);
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}`);
  return r;
}

describe('parseIpv4 known answers', () => {
  for (const v of rfc3602EspCases()) {
    it(`${v.id}: the outer ESP packet parses and its checksum verifies`, () => {
      const bytes = fromHex(v.ip_packet);
      const { header, payload } = mustParse(bytes);
      expect(header.protocol, v.id).toBe(IPPROTO.ESP);
      expect(header.totalLength, v.id).toBe(bytes.length);
      expect(header.headerLength, v.id).toBe(20);
      expect(header.src, v.id).toEqual(ipv4Address(v.source_address));
      expect(header.dst, v.id).toEqual(ipv4Address(v.destination_address));
      expect(header.checksum, v.id).toBe(parseInt(v.outer_ip_header.slice(20, 24), 16));
      expect(toHex(payload), v.id).toBe(v.esp_packet);
      expect(ipv4IsFragment(header), v.id).toBe(false);
    });

    it(`${v.id}: the original (inner) packet parses as ICMP`, () => {
      const { header, payload } = mustParse(fromHex(v.original_ip_header + v.original_data));
      expect(header.protocol, v.id).toBe(IPPROTO.ICMP);
      expect(toHex(payload), v.id).toBe(v.original_data);
      expect(header.src, v.id).toEqual(ipv4Address(v.source_address));
    });

    if (v.mode === 'transport') {
      it(`${v.id}: rewriting protocol and length of the original header gives the outer one`, () => {
        const header = fromHex(v.original_ip_header);
        rewriteIpv4ProtocolAndLength(header, IPPROTO.ESP, fromHex(v.ip_packet).length);
        expect(toHex(header), v.id).toBe(v.outer_ip_header);
      });
    }
  }

  it('rfc3602-case5: writeIpv4Header reproduces the outer header byte for byte', () => {
    const v = rfc3602EspCases().find((c) => c.id === 'rfc3602-case5')!;
    const out = new Uint8Array(20);
    const n = writeIpv4Header(out, 0, {
      totalLength: 0x7c,
      identification: 0x08f2,
      protocol: IPPROTO.ESP,
      src: ipv4Address(v.source_address),
      dst: ipv4Address(v.destination_address),
    });
    expect(n).toBe(20);
    expect(toHex(out)).toBe(v.outer_ip_header);
  });

  it('rfc7634 Appendix A: inner ICMP packet and outer ESP packet parse', () => {
    const v = rfc7634EspExample();
    const inner = mustParse(fromHex(v.source_packet));
    expect(inner.header.protocol).toBe(IPPROTO.ICMP);
    expect(inner.header.src).toEqual(ipv4Address('198.51.100.5'));
    expect(inner.header.dst).toEqual(ipv4Address('192.0.2.5'));
    const outer = mustParse(fromHex(v.esp_ip_packet));
    expect(outer.header.protocol).toBe(IPPROTO.ESP);
    expect(outer.header.src).toEqual(ipv4Address('203.0.113.153'));
    expect(outer.header.dst).toEqual(ipv4Address('203.0.113.5'));
    expect(toHex(outer.payload.subarray(0, 8))).toBe(v.spi + v.seq);
  });

  it('kernel packets: options are skipped by IHL, fragments are flagged', () => {
    const withOptions = mustParse(kernelPacket('udp4_options')).header;
    expect(withOptions.headerLength).toBe(28);
    expect(toHex(withOptions.options)).toBe('0707080a09000100'); // Record Route + EOL
    expect(withOptions.dontFragment).toBe(true);
    const first = mustParse(kernelPacket('udp4_frag1')).header;
    expect([first.moreFragments, first.fragmentOffset, first.ttl]).toEqual([true, 0, 9]);
    expect(ipv4IsFragment(first)).toBe(true);
    const last = mustParse(kernelPacket('udp4_frag2')).header;
    expect([last.moreFragments, last.fragmentOffset]).toEqual([false, 0x45 * 8]);
    expect(ipv4IsFragment(last)).toBe(true);
    expect(last.identification).toBe(first.identification);
  });
});

describe('parseIpv4 drops', () => {
  const good = () => fromHex(rfc7634EspExample().source_packet);

  it('ignores link padding past Total Length', () => {
    const bytes = new Uint8Array(good().length + 13).fill(0xee);
    bytes.set(good());
    const { payload, header } = mustParse(bytes);
    expect(payload.length).toBe(header.totalLength - 20);
    expect(payload.byteOffset + payload.length).toBe(good().length);
  });

  it('returns views into the input, not copies', () => {
    const bytes = good();
    const { header, payload } = mustParse(bytes);
    expect(header.src.buffer).toBe(bytes.buffer);
    expect(payload.buffer).toBe(bytes.buffer);
  });

  it.each([
    ['empty', 'truncated', () => new Uint8Array(0)],
    ['19 octets', 'truncated', () => good().subarray(0, 19)],
    ['version 6', 'malformed', () => Object.assign(good(), { 0: 0x65 })],
    ['IHL 4', 'malformed', () => Object.assign(good(), { 0: 0x44 })],
    ['IHL 15 over a 40-octet input', 'truncated', () => Object.assign(good().subarray(0, 40), { 0: 0x4f })],
    ['Total Length 19', 'malformed', () => Object.assign(good(), { 2: 0, 3: 19 })],
    ['Total Length past the input', 'truncated', () => good().subarray(0, 83)],
    ['checksum off by one', 'badChecksum', () => Object.assign(good(), { 11: good()[11]! ^ 1 })],
  ] as const)('%s → %s', (_name, reason, make) => {
    expect(parseIpv4(make())).toEqual({ ok: false, reason });
  });
});

const ipv4Fields = fc.record({
  tos: fc.integer({ min: 0, max: 255 }),
  identification: fc.integer({ min: 0, max: 0xffff }),
  dontFragment: fc.boolean(),
  ttl: fc.integer({ min: 0, max: 255 }),
  protocol: fc.integer({ min: 0, max: 255 }),
  src: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  dst: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  options: fc
    .integer({ min: 0, max: 10 })
    .chain((words) => fc.uint8Array({ minLength: 4 * words, maxLength: 4 * words })),
  payload: fc.uint8Array({ maxLength: 64 }),
  at: fc.integer({ min: 0, max: 7 }),
});

describe('writeIpv4Header', () => {
  test.prop([ipv4Fields])('write → parse gives back the fields, options included', (f) => {
    const headerLength = 20 + f.options.length;
    const totalLength = headerLength + f.payload.length;
    const buffer = new Uint8Array(f.at + totalLength);
    const n = writeIpv4Header(buffer, f.at, { ...f, totalLength });
    expect(n).toBe(headerLength);
    buffer.set(f.payload, f.at + headerLength);
    const { header, payload } = mustParse(buffer.subarray(f.at));
    expect(header).toMatchObject({
      headerLength,
      tos: f.tos,
      totalLength,
      identification: f.identification,
      dontFragment: f.dontFragment,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: f.ttl,
      protocol: f.protocol,
    });
    expect([header.src, header.dst, header.options, payload]).toEqual([f.src, f.dst, f.options, f.payload]);
    expect(internetChecksum(buffer, f.at, f.at + headerLength)).toBe(0);
  });

  test.prop([ipv4Fields, fc.nat()])(
    'a single bit flip outside IHL is caught (checksum, version or length)',
    (f, bitSeed) => {
      const headerLength = 20 + f.options.length;
      const bytes = new Uint8Array(headerLength + f.payload.length);
      writeIpv4Header(bytes, 0, { ...f, totalLength: bytes.length });
      bytes.set(f.payload, headerLength);
      // IHL flips are covered exhaustively below: they move the checksummed range itself.
      const bit = 4 + (bitSeed % (headerLength * 8 - 4));
      bytes[bit >> 3]! ^= 0x80 >> (bit & 7);
      expect(parseIpv4(bytes).ok).toBe(false);
    },
  );

  it('every single bit flip of every header in the vectors is caught, IHL included', () => {
    const headers = [
      ...rfc3602EspCases().flatMap((v) => [v.ip_packet, v.original_ip_header + v.original_data]),
      rfc7634EspExample().source_packet,
      rfc7634EspExample().esp_ip_packet,
    ].map(fromHex);
    let flips = 0;
    for (const packet of headers) {
      for (let bit = 0; bit < 160; bit++) {
        const bytes = packet.slice();
        bytes[bit >> 3]! ^= 0x80 >> (bit & 7);
        expect(parseIpv4(bytes).ok, `${toHex(packet.subarray(0, 20))} bit ${bit}`).toBe(false);
        flips++;
      }
    }
    expect(flips).toBe(headers.length * 160);
  });

  it('throws a RangeError naming the argument on misuse', () => {
    const base = { totalLength: 20, protocol: 6, src: new Uint8Array(4), dst: new Uint8Array(4) };
    const out = new Uint8Array(64);
    expect(() => writeIpv4Header(out, 0, { ...base, src: new Uint8Array(16) })).toThrow(/fields\.src/);
    expect(() => writeIpv4Header(out, 0, { ...base, dst: new Uint8Array(3) })).toThrow(/fields\.dst/);
    expect(() => writeIpv4Header(out, 0, { ...base, options: new Uint8Array(3) })).toThrow(/fields\.options/);
    expect(() => writeIpv4Header(out, 0, { ...base, options: new Uint8Array(44) })).toThrow(/fields\.options/);
    expect(() => writeIpv4Header(out, 50, base)).toThrow(/offset/);
    expect(() => writeIpv4Header(out, 0, { ...base, totalLength: 19 })).toThrow(/fields\.totalLength/);
    expect(() => writeIpv4Header(out, 0, { ...base, totalLength: 65536 })).toThrow(/fields\.totalLength/);
    expect(() => writeIpv4Header(out, 0, { ...base, ttl: 256 })).toThrow(/fields\.ttl/);
    expect(() => writeIpv4Header(out, 0, { ...base, protocol: -1 })).toThrow(RangeError);
  });
});

describe('rewriteIpv4ProtocolAndLength', () => {
  test.prop([ipv4Fields, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 2000 })])(
    'sets both fields and leaves a verifying checksum',
    (f, protocol, extra) => {
      const headerLength = 20 + f.options.length;
      const bytes = new Uint8Array(headerLength);
      writeIpv4Header(bytes, 0, { ...f, totalLength: headerLength });
      rewriteIpv4ProtocolAndLength(bytes, protocol, headerLength + extra);
      const padded = new Uint8Array(headerLength + extra);
      padded.set(bytes);
      const { header } = mustParse(padded);
      expect([header.protocol, header.totalLength, header.ttl]).toEqual([protocol, headerLength + extra, f.ttl]);
    },
  );

  it('throws a RangeError when the bytes are not an IPv4 header or arguments are out of range', () => {
    const packet = fromHex(rfc7634EspExample().source_packet);
    expect(() => rewriteIpv4ProtocolAndLength(new Uint8Array(10), 50, 40)).toThrow(/packet/);
    expect(() => rewriteIpv4ProtocolAndLength(fromHex('60000000'), 50, 40)).toThrow(/packet/);
    expect(() => rewriteIpv4ProtocolAndLength(packet, 256, 40)).toThrow(/protocol/);
    expect(() => rewriteIpv4ProtocolAndLength(packet, 50, IPV4_MIN_HEADER - 1)).toThrow(/totalLength/);
  });
});
