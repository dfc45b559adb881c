import { describe, expect, it } from 'vitest';
import { ahDecapsulate } from '../../../engine/ah/ahDecapsulate.js';
import { ahEncapsulate } from '../../../engine/ah/ahEncapsulate.js';
import type { AhSa } from '../../../engine/ah/ahSa.js';
import { toHex } from '../../../engine/bytes.js';
import { DropCounters } from '../../../engine/dropReasons.js';
import { internetChecksum } from '../../../engine/packet/checksum.js';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import { writeIpv4Header } from '../../../engine/packet/ipv4.js';
import { writeIpv6Header } from '../../../engine/packet/ipv6.js';
import { V4_A, V4_B, V6_A, V6_B, ahPair, lookupOf } from './fixtures.js';

const UDP_DATA = Uint8Array.from({ length: 24 }, (_, i) => i * 3);
const addr4 = (...b: number[]) => Uint8Array.from(b);
const addr6 = (last: number) => V6_B.map((b, i) => (i === 15 ? last : i === 4 ? 0x77 : b));

function fixIpv4Checksum(p: Uint8Array): void {
  p[10] = 0;
  p[11] = 0;
  const c = internetChecksum(p, 0, (p[0]! & 0x0f) * 4);
  p[10] = c >> 8;
  p[11] = c & 0xff;
}

function ipv4WithOptions(options: number[], dst = V4_B, flags: { moreFragments?: boolean } = {}): Uint8Array {
  const opts = Uint8Array.from(options);
  const p = new Uint8Array(20 + opts.length + UDP_DATA.length);
  writeIpv4Header(p, 0, { totalLength: p.length, protocol: IPPROTO.UDP, src: V4_A, dst, identification: 99, ttl: 30, options: opts });
  p.set(UDP_DATA, 20 + opts.length);
  if (flags.moreFragments) {
    p[6] = 0x20;
    fixIpv4Checksum(p);
  }
  return p;
}

/** IPv6 with the given extension headers (each: type, bytes with its own Next Header octet left 0). */
function ipv6With(exts: { type: number; bytes: number[] }[], dst = V6_B): Uint8Array {
  const body = exts.reduce((n, e) => n + e.bytes.length, 0) + UDP_DATA.length;
  const p = new Uint8Array(40 + body);
  writeIpv6Header(p, 0, { payloadLength: body, nextHeader: exts[0]?.type ?? IPPROTO.UDP, src: V6_A, dst, hopLimit: 40, flowLabel: 7 });
  let at = 40;
  exts.forEach((e, i) => {
    p.set(e.bytes, at);
    p[at] = exts[i + 1]?.type ?? IPPROTO.UDP;
    at += e.bytes.length;
  });
  p.set(UDP_DATA, at);
  return p;
}

function seal(inner: Uint8Array, integ: 1 | 2 | 12 = 2) {
  const version = (inner[0]! >> 4) as 4 | 6;
  const options = { integ, backend: 'node', mode: 'transport', outerVersion: version, esn: false, seed: 4 } as const;
  const pair = ahPair(options);
  const r = ahEncapsulate(inner, pair.out);
  if (!r.ok) throw new Error(r.reason);
  /** A new inbound SA with the same key, for checking the same packet again (no replay). */
  const fresh = () => ahPair(options).in;
  return { ...pair, packet: r.packet, fresh };
}

const open = (packet: Uint8Array, sa: AhSa) => {
  const r = ahDecapsulate(packet.slice(), lookupOf(sa));
  return r.ok ? 'ok' : r.reason;
};

const RA = [148, 4, 0, 0];
const RR = [7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0];

describe('IPv4 options (RFC 4302 §3.3.3.1.1.2, Appendix A1)', () => {
  it('a router filling Record Route, decrementing TTL and fixing the checksum does not break the ICV', () => {
    const s = seal(ipv4WithOptions([...RA, ...RR, 0]));
    const p = s.packet.slice();
    // RFC 791 §3.1 Record Route: the router writes its address at the pointer and advances it.
    p.set([203, 0, 113, 77], 20 + 4 + 3);
    p[20 + 4 + 2] = 8;
    p[8]! -= 1;
    fixIpv4Checksum(p);
    const r = ahDecapsulate(p, lookupOf(s.in));
    expect(r.ok).toBe(true);
    if (r.ok) expect(toHex(r.packet.subarray(27, 31))).toBe('cb00714d'); // delivered as it arrived
  });

  it('Router Alert is immutable: changing its value fails the ICV', () => {
    const s = seal(ipv4WithOptions([...RA, ...RR, 0]));
    const p = s.packet.slice();
    p[23] = 1;
    fixIpv4Checksum(p);
    expect(open(p, s.in)).toBe('authFailed');
  });

  it.each([
    ['Timestamp (68)', [68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
    ['an unassigned type (0x9e)', [0x9e, 6, 1, 2, 3, 4, 1, 0, 0, 0, 0, 0]],
  ])('%s is zeroed whole: its data may change en route', (_name, option) => {
    const s = seal(ipv4WithOptions(option));
    const p = s.packet.slice();
    p[20 + 3]! ^= 0xff;
    p[20 + 4]! ^= 0x0f;
    fixIpv4Checksum(p);
    expect(open(p, s.in)).toBe('ok');
  });

  it.each([
    ['length 1', [0x9e, 1, 0, 0]],
    ['length past the header', [1, 7, 8, 4, 0, 0, 0, 0]],
    ['a length octet missing', [1, 1, 1, 0x9e]],
    ['LSRR without a whole address', [131, 6, 4, 1, 2, 3, 0, 0]],
  ])('a malformed option list (%s) is dropped as malformed, on both sides', (_name, options) => {
    const pair = ahPair({ integ: 1, backend: 'node', mode: 'transport', outerVersion: 4, esn: false, seed: 1 });
    expect(ahEncapsulate(ipv4WithOptions(options), pair.out)).toEqual({ ok: false, reason: 'malformed' });
    // The same options on an otherwise valid AH packet.
    const s = seal(ipv4WithOptions([1, 1, 1, 1, ...Array(options.length - 4).fill(0)]));
    const p = s.packet.slice();
    p.set(options, 20);
    fixIpv4Checksum(p);
    const drops = new DropCounters();
    const r = ahDecapsulate(p, lookupOf(s.in), drops);
    expect(r.ok ? 'ok' : r.reason).toBe('malformed');
    expect(drops.forSa('ah-in').malformed).toBe(1);
  });

  it('loose source routing: the ICV covers the final destination, so the packet verifies at the end of the route', () => {
    const firstHop = addr4(198, 51, 100, 7);
    // LSRR via 203.0.113.9 to V4_B; pointer 4; then End of Options List.
    const s = seal(ipv4WithOptions([131, 11, 4, 203, 0, 113, 9, ...V4_B, 0], firstHop));
    const p = s.packet.slice();
    expect(open(p, s.fresh())).toBe('ok'); // as sent: the route's last address stands in
    const hops = [addr4(10, 0, 0, 1), addr4(10, 0, 0, 2)];
    for (const me of hops) {
      // RFC 791 §3.1: the next address replaces the destination, the router records itself.
      const ptr = p[22]!;
      p.set(p.subarray(20 + ptr - 1, 20 + ptr + 3), 16);
      p.set(me, 20 + ptr - 1);
      p[22] = ptr + 4;
      p[8]! -= 1;
      fixIpv4Checksum(p);
      expect(open(p, s.fresh())).toBe('ok');
    }
    expect(toHex(p.subarray(16, 20))).toBe(toHex(V4_B));
  });
});

describe('IPv6 extension headers (RFC 4302 §3.3.3.1.2, Appendix A2)', () => {
  // Hop-by-Hop: Router Alert (5, immutable), option 0x3e with the "may change" bit, PadN.
  const HBH = { type: IPPROTO.HOPOPTS, bytes: [0, 1, 5, 2, 0, 0, 0x3e, 4, 1, 2, 3, 4, 1, 2, 0, 0] };

  it('the data of an option marked "may change en route" may change; its type and length may not', () => {
    const s = seal(ipv6With([HBH]));
    const p = s.packet.slice();
    p.set([9, 9, 9, 9], 48);
    expect(open(p, s.in)).toBe('ok');
    const q = s.packet.slice();
    q[47] = 3; // its Opt Data Len
    expect(open(q, s.in)).not.toBe('ok');
  });

  it('an immutable option (Router Alert) may not change', () => {
    const s = seal(ipv6With([HBH]));
    const p = s.packet.slice();
    p[45] = 1;
    expect(open(p, s.in)).toBe('authFailed');
  });

  it('an option area that overruns its header is malformed, on both sides', () => {
    const bad = { type: IPPROTO.HOPOPTS, bytes: [0, 0, 0x3e, 9, 0, 0, 0, 0] };
    const pair = ahPair({ integ: 2, backend: 'node', mode: 'transport', outerVersion: 6, esn: false, seed: 2 });
    expect(ahEncapsulate(ipv6With([bad]), pair.out)).toEqual({ ok: false, reason: 'malformed' });
    const s = seal(ipv6With([{ type: IPPROTO.HOPOPTS, bytes: [0, 0, 1, 4, 0, 0, 0, 0] }]));
    const p = s.packet.slice();
    p[43] = 9;
    expect(open(p, s.in)).toBe('malformed');
  });

  /** RFC 8200 §4.4: one hop of a type 0/2 routing header at `rh`. */
  function followRoute(p: Uint8Array, rh: number): void {
    const n = (p[rh + 1]! * 8) / 16;
    const left = p[rh + 3]!;
    const at = rh + 8 + 16 * (n - left);
    const tmp = p.slice(24, 40);
    p.copyWithin(24, at, at + 16);
    p.set(tmp, at);
    p[rh + 3] = left - 1;
    p[7]! -= 1;
  }

  it('routing type 0: the packet verifies as sent, after each hop and at the destination', () => {
    const rt0 = { type: IPPROTO.ROUTING, bytes: [0, 4, 0, 2, 0, 0, 0, 0, ...addr6(0x11), ...V6_B] };
    const s = seal(ipv6With([rt0], addr6(0x10)));
    const p = s.packet.slice();
    expect(open(p, s.fresh())).toBe('ok');
    followRoute(p, 40);
    expect(open(p, s.fresh())).toBe('ok');
    followRoute(p, 40);
    expect(p[43]).toBe(0);
    expect(toHex(p.subarray(24, 40))).toBe(toHex(V6_B));
    expect(open(p, s.fresh())).toBe('ok');
  });

  it('routing type 2 (Mobile IPv6): one address, same rule', () => {
    const rt2 = { type: IPPROTO.ROUTING, bytes: [0, 2, 2, 1, 0, 0, 0, 0, ...V6_B] };
    const s = seal(ipv6With([rt2], addr6(0x20)));
    const p = s.packet.slice();
    followRoute(p, 40);
    expect(open(p, s.in)).toBe('ok');
  });

  it('a Destination Options header before the routing header has its mutable option data zeroed too', () => {
    const dst = { type: IPPROTO.DSTOPTS, bytes: [0, 0, 0x3f, 2, 5, 5, 1, 0] };
    const rt0 = { type: IPPROTO.ROUTING, bytes: [0, 2, 0, 1, 0, 0, 0, 0, ...V6_B] };
    const s = seal(ipv6With([dst, rt0], addr6(0x30)));
    const p = s.packet.slice();
    p[44] = 0x55; // 0x3f's data
    followRoute(p, 48);
    expect(open(p, s.in)).toBe('ok');
  });

  it('other routing types: verbatim once Segments Left is 0, refused (unsupported) while it is not', () => {
    const srh = (left: number) => ({ type: IPPROTO.ROUTING, bytes: [0, 2, 4, left, 0, 0, 0, 0, ...V6_B] });
    const pair = ahPair({ integ: 12, backend: 'node', mode: 'transport', outerVersion: 6, esn: false, seed: 5 });
    expect(ahEncapsulate(ipv6With([srh(1)]), pair.out)).toEqual({ ok: false, reason: 'unsupported' });
    const s = seal(ipv6With([srh(0)]), 12);
    expect(open(s.packet, s.in)).toBe('ok');
  });

  it('Segments Left beyond the address count is malformed', () => {
    const pair = ahPair({ integ: 1, backend: 'node', mode: 'transport', outerVersion: 6, esn: false, seed: 6 });
    const rt0 = { type: IPPROTO.ROUTING, bytes: [0, 2, 0, 2, 0, 0, 0, 0, ...V6_B] };
    expect(ahEncapsulate(ipv6With([rt0]), pair.out)).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('fragments (RFC 4302 §3.4.1, §3.3.4)', () => {
  it('transport mode refuses to protect a fragment; tunnel mode carries it whole', () => {
    const frag = ipv4WithOptions([], V4_B, { moreFragments: true });
    const t = ahPair({ integ: 2, backend: 'node', mode: 'transport', outerVersion: 4, esn: false, seed: 1 });
    expect(ahEncapsulate(frag, t.out)).toEqual({ ok: false, reason: 'fragment' });
    const u = ahPair({ integ: 2, backend: 'node', mode: 'tunnel', outerVersion: 6, esn: false, seed: 1 });
    const r = ahEncapsulate(frag, u.out);
    expect(r.ok).toBe(true);
    if (r.ok) expect(open(r.packet, u.in)).toBe('ok');
  });

  it('an AH packet that arrives fragmented is dropped before any SA is looked up', () => {
    const s = seal(ipv4WithOptions([]));
    const p = s.packet.slice();
    p[6]! |= 0x20;
    fixIpv4Checksum(p);
    const drops = new DropCounters();
    expect(ahDecapsulate(p, lookupOf(s.in), drops)).toEqual({ ok: false, reason: 'fragment' });
    expect(drops.global.fragment).toBe(1);
  });
});

describe('ICV padding (RFC 4302 §2.6, §3.3.3.2.1)', () => {
  it('IPv4: an 8-octet-aligned AH (what Linux sends) is accepted as well as the 4-octet one', () => {
    const linux = ahPair({ integ: 12, backend: 'node', mode: 'transport', outerVersion: 4, esn: false, seed: 8, ipv4Align: 8 });
    const r = ahEncapsulate(ipv4WithOptions([]), linux.out);
    if (!r.ok) throw new Error(r.reason);
    expect(r.packet[21]).toBe(32 / 4 - 2);
    const rfc = ahPair({ integ: 12, backend: 'node', mode: 'transport', outerVersion: 4, esn: false, seed: 8 });
    expect(open(r.packet, rfc.in)).toBe('ok');
  });

  it('an AH length the SA does not produce is malformed', () => {
    const s = seal(ipv6With([]), 12);
    const p = s.packet.slice();
    p[41]! += 2;
    const drops = new DropCounters();
    expect(ahDecapsulate(p, lookupOf(s.in), drops)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(drops.forSa('ah-in').malformed).toBe(1);
  });

  it('the padding is covered by the ICV', () => {
    const s = seal(ipv6With([]), 12);
    const p = s.packet.slice();
    p[40 + 12 + 16] = 1; // first padding octet after a 16-octet ICV
    expect(open(p, s.in)).toBe('authFailed');
  });
});

describe('other drops', () => {
  it('not AH, unknown SPI, an outbound SA found inbound, a truncated header', () => {
    const s = seal(ipv4WithOptions([]));
    const drops = new DropCounters();
    expect(ahDecapsulate(ipv4WithOptions([]), lookupOf(s.in), drops)).toEqual({ ok: false, reason: 'notIpsec' });
    expect(ahDecapsulate(s.packet.slice(), () => undefined, drops)).toEqual({ ok: false, reason: 'unknownSpi' });
    expect(ahDecapsulate(s.packet.slice(), () => s.out, drops)).toEqual({ ok: false, reason: 'unknownSpi' });
    const cut = s.packet.slice(0, 30);
    cut[2] = 0;
    cut[3] = 30;
    fixIpv4Checksum(cut);
    expect(ahDecapsulate(cut, lookupOf(s.in), drops)).toEqual({ ok: false, reason: 'truncated' });
    expect(drops.total()).toBe(4);
  });

  it('tunnel mode: a payload that is not an IP packet is badNextHeader', () => {
    const s = ahPair({ integ: 2, backend: 'node', mode: 'tunnel', outerVersion: 4, esn: false, seed: 3 });
    const t = ahPair({ integ: 2, backend: 'node', mode: 'transport', outerVersion: 4, esn: false, seed: 3 });
    // Same key and SPI: a transport-mode packet (Next Header UDP) arriving on the tunnel SA.
    const r = ahEncapsulate(ipv4WithOptions([]), t.out);
    if (!r.ok) throw new Error(r.reason);
    expect(open(r.packet, s.in)).toBe('badNextHeader');
  });
});
