import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { fromHex, toHex } from '../../../engine/bytes.js';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import { IPV6_HEADER, parseIpv6, writeIpv6Header } from '../../../engine/packet/ipv6.js';
import { concat, ipv6Address, kernelPacket } from './vectors.js';

function mustParse(bytes: Uint8Array) {
  const r = parseIpv6(bytes);
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}`);
  return r;
}

/** One extension header to build: its type, Hdr Ext Len and (for Fragment) its fields. */
interface ExtSpec {
  type: number;
  hdrExtLen: number;
  fill: number;
  fragment?: { offsetUnits: number; m: boolean; id: number };
}

/** Builds extension headers by hand (RFC 8200 §4.3-4.6 layouts), recording where each went. */
function buildPacket(chain: ExtSpec[], upper: number, payload: Uint8Array, linkPadding = 0) {
  const parts: Uint8Array[] = [];
  const extensions: { type: number; offset: number; length: number }[] = [];
  let offset = IPV6_HEADER;
  chain.forEach((ext, i) => {
    const next = chain[i + 1]?.type ?? upper;
    let bytes: Uint8Array;
    if (ext.type === IPPROTO.FRAGMENT) {
      const f = ext.fragment ?? { offsetUnits: 0, m: false, id: 0 };
      bytes = new Uint8Array(8);
      const view = new DataView(bytes.buffer);
      view.setUint8(0, next);
      view.setUint16(2, (f.offsetUnits << 3) | (f.m ? 1 : 0));
      view.setUint32(4, f.id);
    } else {
      bytes = new Uint8Array((ext.hdrExtLen + 1) * 8).fill(ext.fill);
      bytes[0] = next;
      bytes[1] = ext.hdrExtLen;
    }
    extensions.push({ type: ext.type, offset, length: bytes.length });
    offset += bytes.length;
    parts.push(bytes);
  });
  const body = concat(...parts, payload);
  const out = new Uint8Array(IPV6_HEADER + body.length + linkPadding).fill(0xaa);
  writeIpv6Header(out, 0, {
    payloadLength: body.length,
    nextHeader: chain[0]?.type ?? upper,
    src: ipv6Address('2001:db8::1'),
    dst: ipv6Address('2001:db8::2'),
  });
  out.set(body, IPV6_HEADER);
  return { bytes: out, extensions, upperOffset: offset };
}

const extension = fc.record({
  type: fc.constantFrom(IPPROTO.ROUTING, IPPROTO.FRAGMENT, IPPROTO.DSTOPTS),
  hdrExtLen: fc.integer({ min: 0, max: 4 }),
  fill: fc.integer({ min: 0, max: 255 }),
  fragment: fc.record({ offsetUnits: fc.constant(0), m: fc.boolean(), id: fc.nat(0xffffffff) }),
});
const ext = (type: number): ExtSpec => ({ type, hdrExtLen: 0, fill: 0 });
const upperProtocol = fc.constantFrom(6, 17, 50, 51, 58, 59, 4, 41);

describe('parseIpv6 known answers (kernel-built packets)', () => {
  it('UDP without extension headers', () => {
    const r = mustParse(kernelPacket('udp6'));
    // 6002c338: version 6, traffic class 0x00, flow label 0x2c338 (hand-decoded).
    expect(r.header).toMatchObject({ trafficClass: 0, flowLabel: 0x2c338, payloadLength: 0x19, hopLimit: 64 });
    expect(r.header.src).toEqual(ipv6Address('fd00::1'));
    expect(r.header.dst).toEqual(ipv6Address('fd00::2'));
    expect(r.extensions).toEqual([]);
    expect([r.upperProtocol, r.upperOffset, r.lastNextHeaderOffset]).toEqual([IPPROTO.UDP, 40, 6]);
    expect([r.ipsecInsertOffset, r.ipsecInsertNextHeaderOffset]).toEqual([40, 6]);
    expect(r.fragment).toBeUndefined();
  });

  it('Hop-by-Hop + Destination Options: ESP/AH would go between them', () => {
    const r = mustParse(kernelPacket('udp6_hbh_dst'));
    expect(r.extensions).toEqual([
      { type: IPPROTO.HOPOPTS, offset: 40, length: 8 },
      { type: IPPROTO.DSTOPTS, offset: 48, length: 16 },
    ]);
    expect([r.upperProtocol, r.upperOffset, r.lastNextHeaderOffset]).toEqual([IPPROTO.UDP, 64, 48]);
    expect([r.ipsecInsertOffset, r.ipsecInsertNextHeaderOffset]).toEqual([48, 40]);
  });

  it('fragments: the first walks on to UDP, a later one stops after the Fragment header', () => {
    const first = mustParse(kernelPacket('udp6_frag1'));
    expect(first.fragment).toEqual({ offset: 0, moreFragments: true, identification: 0xb8a2e681 });
    expect([first.upperProtocol, first.upperOffset]).toEqual([IPPROTO.UDP, 48]);
    const last = mustParse(kernelPacket('udp6_frag2'));
    expect(last.fragment).toEqual({ offset: 0x4d0, moreFragments: false, identification: 0xb8a2e681 });
    expect([last.upperProtocol, last.upperOffset, last.packet.length]).toEqual([IPPROTO.UDP, 48, 360]);
  });
});

describe('parseIpv6 extension chains', () => {
  test.prop([
    fc.boolean(),
    fc.array(extension, { maxLength: 6 }),
    upperProtocol,
    fc.uint8Array({ minLength: 1, maxLength: 40 }),
    fc.integer({ min: 0, max: 9 }),
  ])('random chains: offsets, upper protocol, insert point as built', (hbh, rest, upper, payload, pad) => {
    const chain: ExtSpec[] = hbh ? [{ type: IPPROTO.HOPOPTS, hdrExtLen: 1, fill: 1 }, ...rest] : rest;
    const built = buildPacket(chain, upper, payload, pad);
    const r = mustParse(built.bytes);
    expect(r.extensions).toEqual(built.extensions);
    expect([r.upperProtocol, r.upperOffset]).toEqual([upper, built.upperOffset]);
    expect(r.lastNextHeaderOffset).toBe(built.extensions.at(-1)?.offset ?? 6);
    expect(r.packet.length).toBe(built.bytes.length - pad);
    const frag = chain.find((e) => e.type === IPPROTO.FRAGMENT)?.fragment;
    expect(r.fragment).toEqual(frag && { offset: 0, moreFragments: frag.m, identification: frag.id });
    // RFC 4303 §3.1.1: ESP goes after HbH, Routing and Fragment headers; a Destination Options
    // header stays in front only if a Routing (or Fragment) header comes after it.
    const staysInFront = chain.map(
      (e, i) =>
        e.type !== IPPROTO.DSTOPTS ||
        chain.slice(i + 1).some((later) => later.type === IPPROTO.ROUTING || later.type === IPPROTO.FRAGMENT),
    );
    const lastInFront = staysInFront.lastIndexOf(true);
    const anchor = built.extensions[lastInFront];
    expect(r.ipsecInsertOffset).toBe(anchor ? anchor.offset + anchor.length : 40);
    expect(r.ipsecInsertNextHeaderOffset).toBe(anchor ? anchor.offset : 6);
  });

  it.each([
    ['DestOpts → Routing → DestOpts', [60, 43, 60], 40 + 8 + 8, 48],
    ['HbH → DestOpts', [0, 60], 48, 40],
    ['DestOpts only', [60], 40, 6],
    ['HbH → Routing → Fragment → DestOpts', [0, 43, 44, 60], 64, 56],
  ])('insert point for %s', (_name, types, insertOffset, insertNhOffset) => {
    const chain = types.map((type) => ({ type, hdrExtLen: 0, fill: 0 }));
    const r = mustParse(buildPacket(chain, IPPROTO.TCP, new Uint8Array(20)).bytes);
    expect([r.ipsecInsertOffset, r.ipsecInsertNextHeaderOffset]).toEqual([insertOffset, insertNhOffset]);
  });

  test.prop([
    fc.array(extension, { maxLength: 3 }),
    fc.integer({ min: 1, max: 8191 }),
    fc.uint8Array({ minLength: 24, maxLength: 64 }),
  ])(
    'a non-first fragment ends the walk: what follows is data, not headers',
    (before, offsetUnits, data) => {
      data[0] = IPPROTO.DSTOPTS; // would look like an extension header if walked
      const fragment = { offsetUnits, m: true, id: 7 };
      const chain = [...before, { type: IPPROTO.FRAGMENT, hdrExtLen: 0, fill: 0, fragment }];
      const built = buildPacket(chain, IPPROTO.DSTOPTS, data);
      const r = mustParse(built.bytes);
      expect(r.fragment?.offset).toBe(before.some((e) => e.type === IPPROTO.FRAGMENT) ? 0 : offsetUnits * 8);
      expect([r.upperProtocol, r.upperOffset]).toEqual([IPPROTO.DSTOPTS, built.upperOffset]);
      expect(r.extensions.length).toBe(chain.length);
    },
  );
});

describe('parseIpv6 with an empty payload', () => {
  it('accepts Payload Length 0 with No Next Header (RFC 8200 §3, §4.7)', () => {
    const p = new Uint8Array(40);
    writeIpv6Header(p, 0, { payloadLength: 0, nextHeader: 59, src: new Uint8Array(16), dst: new Uint8Array(16) });
    const r = parseIpv6(p);
    expect(r.ok && [r.upperProtocol, r.upperOffset, r.packet.length]).toEqual([59, 40, 40]);
  });
});

describe('parseIpv6 drops', () => {
  const good = () => kernelPacket('udp6');
  const tcp = (chain: ExtSpec[], payloadLength: number) => buildPacket(chain, 6, new Uint8Array(payloadLength)).bytes;
  it.each([
    ['39 octets', 'truncated', () => good().subarray(0, 39)],
    ['version 4', 'malformed', () => Object.assign(good(), { 0: 0x40 })],
    // RFC 2675: a jumbogram says Payload Length 0 and carries its length in Hop-by-Hop.
    ['Payload Length 0 with Hop-by-Hop (jumbogram)', 'malformed', () => Object.assign(tcp([ext(0)], 8), { 4: 0, 5: 0 })],
    ['Payload Length past the input', 'truncated', () => good().subarray(0, good().length - 1)],
    ['Hop-by-Hop after Destination Options', 'malformed', () => tcp([ext(60), ext(0)], 8)],
    // Hdr Ext Len 2 claims 24 octets where Payload Length leaves 16.
    ['extension header overrunning Payload Length', 'malformed', () => Object.assign(tcp([ext(60)], 8), { 41: 2 })],
    ['fewer than 8 octets left for an extension', 'malformed', () => Object.assign(tcp([], 7), { 6: IPPROTO.ROUTING })],
  ] as const)('%s → %s', (_name, reason, make) => {
    expect(parseIpv6(make())).toEqual({ ok: false, reason });
  });

  it('ESP and AH end the walk (what follows is protected)', () => {
    for (const upper of [IPPROTO.ESP, IPPROTO.AH]) {
      const built = buildPacket([ext(IPPROTO.HOPOPTS)], upper, fromHex('3c01000000000000' + '00'.repeat(16)));
      const r = mustParse(built.bytes);
      expect([r.upperProtocol, r.upperOffset, r.extensions.length]).toEqual([upper, 48, 1]);
    }
  });
});

describe('writeIpv6Header', () => {
  test.prop([
    fc.record({
      trafficClass: fc.integer({ min: 0, max: 255 }),
      flowLabel: fc.integer({ min: 0, max: 0xfffff }),
      payloadLength: fc.integer({ min: 1, max: 300 }),
      nextHeader: fc.constantFrom(6, 17, 50, 51, 58, 59),
      hopLimit: fc.integer({ min: 0, max: 255 }),
      src: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      dst: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    }),
    fc.integer({ min: 0, max: 5 }),
  ])('write → parse gives back the fields', (fields, at) => {
    const out = new Uint8Array(at + IPV6_HEADER + fields.payloadLength);
    expect(writeIpv6Header(out, at, fields)).toBe(IPV6_HEADER);
    const r = mustParse(out.subarray(at));
    expect(r.header).toEqual(fields);
    expect(out[at]! >> 4).toBe(6);
  });

  it('matches a kernel-built header byte for byte', () => {
    const packet = kernelPacket('udp6');
    const out = new Uint8Array(IPV6_HEADER);
    writeIpv6Header(out, 0, {
      flowLabel: 0x2c338,
      payloadLength: 0x19,
      nextHeader: IPPROTO.UDP,
      src: ipv6Address('fd00::1'),
      dst: ipv6Address('fd00::2'),
    });
    expect(toHex(out)).toBe(toHex(packet.subarray(0, IPV6_HEADER)));
  });

  it('throws a RangeError naming the argument on misuse', () => {
    const base = { payloadLength: 8, nextHeader: 59, src: new Uint8Array(16), dst: new Uint8Array(16) };
    const out = new Uint8Array(48);
    expect(() => writeIpv6Header(out, 0, { ...base, src: new Uint8Array(4) })).toThrow(/fields\.src/);
    expect(() => writeIpv6Header(out, 0, { ...base, dst: new Uint8Array(4) })).toThrow(/fields\.dst/);
    expect(() => writeIpv6Header(out, 9, base)).toThrow(/offset/);
    expect(() => writeIpv6Header(out, 0, { ...base, payloadLength: -1 })).toThrow(/fields\.payloadLength/);
    expect(() => writeIpv6Header(out, 0, { ...base, payloadLength: 0x10000 })).toThrow(/fields\.payloadLength/);
    expect(() => writeIpv6Header(out, 0, { ...base, flowLabel: 0x100000 })).toThrow(/fields\.flowLabel/);
    expect(() => writeIpv6Header(out, 0, { ...base, trafficClass: 256 })).toThrow(/fields\.trafficClass/);
  });
});
