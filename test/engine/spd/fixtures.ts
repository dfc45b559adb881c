/** Test helpers for the SPD: address literals, selector builders, packets. */

import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import { rewriteIpv4ProtocolAndLength, writeIpv4Header } from '../../../engine/packet/ipv4.js';
import { writeIpv6Header } from '../../../engine/packet/ipv6.js';
import type {
  AddressSelector,
  Policy,
  PortSelector,
  ProtectParams,
  Selector,
  SelectorFields,
} from '../../../engine/spd/types.js';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';

/** Octets of an IPv4 dotted quad or an IPv6 literal (with `::`). */
export function ip(text: string): Uint8Array {
  if (text.includes('.')) {
    const parts = text.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new Error(`bad IPv4 ${text}`);
    return Uint8Array.from(parts);
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`bad IPv6 ${text}`);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

export const ANY = { kind: 'any' } as const;
export const OPAQUE_SEL = { kind: 'opaque' } as const;
export const single = (a: string): AddressSelector => ({ kind: 'single', address: ip(a) });
/** `prefix('10.0.0.0/8')`. */
export const prefix = (cidr: string): AddressSelector => {
  const [a = '', l = ''] = cidr.split('/');
  return { kind: 'prefix', address: ip(a), length: Number(l) };
};
export const range = (from: string, to: string): AddressSelector => ({ kind: 'range', from: ip(from), to: ip(to) });
export const ports = (from: number, to = from): PortSelector => ({ kind: 'range', from, to });
export const proto = (value: number) => ({ kind: 'number', value }) as const;

/** A selector set, ANY wherever not given. */
export function sel(s: Partial<Selector> = {}): Selector {
  return { localAddress: ANY, remoteAddress: ANY, protocol: ANY, localPort: ANY, remotePort: ANY, ...s };
}

export const ESP_TRANSPORT: ProtectParams = {
  mode: 'transport',
  protocol: 'esp',
  proposals: [{ encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE }],
  lifetimes: { soft: { timeMs: 3_000_000 }, hard: { timeMs: 3_600_000 } },
  replayWindow: 128,
  esn: true,
  offload: 'none',
};

export const ESP_TUNNEL: ProtectParams = { ...ESP_TRANSPORT, mode: 'tunnel', tunnel: { src: ip('198.51.100.1'), dst: ip('198.51.100.2') } };

/** A policy, outbound BYPASS with one ANY selector unless overridden. */
export function policy(p: Partial<Policy> & { id: string }): Policy {
  const base: Policy = { id: p.id, priority: 100, direction: 'outbound', action: 'bypass', selectors: [sel()] };
  const out = { ...base, ...p };
  if (out.action === 'protect' && out.protect === undefined) out.protect = ESP_TRANSPORT;
  return out;
}

/** Selector fields of a packet, given directly (OPAQUE, -1, wherever not given). */
export function fields(f: Partial<Omit<SelectorFields, 'localAddress' | 'remoteAddress'>> & { local: string; remote: string }): SelectorFields {
  return {
    localAddress: ip(f.local),
    remoteAddress: ip(f.remote),
    protocol: f.protocol ?? IPPROTO.TCP,
    localPort: f.localPort ?? -1,
    remotePort: f.remotePort ?? -1,
    icmp: f.icmp ?? -1,
    mhType: f.mhType ?? -1,
  };
}

export interface PacketSpec {
  src: Uint8Array;
  dst: Uint8Array;
  protocol: number;
  upper: Uint8Array;
  /** Fragment offset in octets (multiple of 8) and More Fragments. */
  fragmentOffset?: number;
  moreFragments?: boolean;
  /** IPv6: the Next Header named by a non-first fragment's Fragment header (default `protocol`). */
  fragmentNextHeader?: number;
}

/** An IPv4 or IPv6 (by address length) packet carrying `upper`. */
export function packet(s: PacketSpec): Uint8Array {
  const fragment = s.fragmentOffset !== undefined || s.moreFragments === true;
  if (s.src.length === 4) {
    const p = new Uint8Array(20 + s.upper.length);
    writeIpv4Header(p, 0, { totalLength: p.length, protocol: s.protocol, src: s.src, dst: s.dst });
    if (fragment) {
      const flags = (s.moreFragments ? 0x2000 : 0) | ((s.fragmentOffset ?? 0) / 8);
      p[6] = flags >> 8;
      p[7] = flags & 0xff;
      rewriteIpv4ProtocolAndLength(p, s.protocol, p.length); // recomputes the checksum
    }
    p.set(s.upper, 20);
    return p;
  }
  const fragHeader = fragment ? 8 : 0;
  const p = new Uint8Array(40 + fragHeader + s.upper.length);
  writeIpv6Header(p, 0, { payloadLength: fragHeader + s.upper.length, nextHeader: fragment ? IPPROTO.FRAGMENT : s.protocol, src: s.src, dst: s.dst });
  if (fragment) {
    p[40] = s.fragmentNextHeader ?? s.protocol;
    const off = (s.fragmentOffset ?? 0) | (s.moreFragments ? 1 : 0);
    p[42] = off >> 8;
    p[43] = off & 0xff;
    p[47] = 9; // identification
  }
  p.set(s.upper, 40 + fragHeader);
  return p;
}

/** A TCP header (20 octets) with ports, or UDP (8 octets + payload, Length set). */
export function tcp(srcPort: number, dstPort: number): Uint8Array {
  const h = new Uint8Array(20);
  h.set([srcPort >> 8, srcPort & 0xff, dstPort >> 8, dstPort & 0xff]);
  h[12] = 5 << 4;
  return h;
}

export function udp(srcPort: number, dstPort: number, payload = 4): Uint8Array {
  const h = new Uint8Array(8 + payload);
  const n = h.length;
  h.set([srcPort >> 8, srcPort & 0xff, dstPort >> 8, dstPort & 0xff, n >> 8, n & 0xff]);
  return h;
}

/** An ICMP/ICMPv6 echo-like header (8 octets) with type and code. */
export function icmp(type: number, code: number): Uint8Array {
  return Uint8Array.of(type, code, 0, 0, 0, 1, 0, 1);
}

/** A Mobility Header (RFC 6275 §6.1.1) of `mhType`, 8 octets. */
export function mh(mhType: number): Uint8Array {
  return Uint8Array.of(IPPROTO.NONE, 0, mhType, 0, 0, 0, 0, 0);
}

export { prng } from '../../support/random.js';
