/**
 * The selector fields of a packet (RFC 4301 §4.4.1.1): addresses, next-layer protocol, ports,
 * ICMP type/code, Mobility Header type, each oriented local/remote and OPAQUE where the packet
 * does not carry it. Never throws: a malformed packet is a drop reason.
 */

import { readU16 } from '../bytes.js';
import type { Result } from '../dropReasons.js';
import { type IpPacket, parseIp } from '../packet/ipPacket.js';
import { IPPROTO, isWalkedIpv6Extension } from '../packet/ipProtocol.js';
import { parseUdp } from '../packet/udp.js';
import { OPAQUE, type PolicyDirection, type SelectorFields } from './types.js';

/** IANA protocol numbers with two 16-bit ports first in their header, beyond IPPROTO's. */
export const IPPROTO_DCCP = 33;
export const IPPROTO_SCTP = 132;
export const IPPROTO_UDPLITE = 136;

/**
 * True for next-layer protocols that start with a source and a destination port (RFC 4301
 * §4.4.1.1 "as do TCP, UDP, SCTP, and others"); every other protocol has OPAQUE ports.
 *
 * @example
 * hasPorts(IPPROTO.TCP) // true
 */
export function hasPorts(protocol: number): boolean {
  return (
    protocol === IPPROTO.TCP ||
    protocol === IPPROTO.UDP ||
    protocol === IPPROTO_SCTP ||
    protocol === IPPROTO_UDPLITE ||
    protocol === IPPROTO_DCCP
  );
}

/**
 * Octets a whole (unfragmented) packet must hold past the IP headers for its protocol's fixed
 * header: TCP RFC 9293 §3.1 (20), SCTP RFC 9260 §3.1 (12), DCCP RFC 4340 §5.1 (12), UDP-Lite
 * RFC 3828 §3.1 (8), ICMP RFC 792 (8), ICMPv6 RFC 4443 §2.1 (4), MH RFC 6275 §6.1.1 (6). UDP
 * itself goes through `parseUdp`. A first fragment need only hold the selector octets.
 */
function minimumHeader(protocol: number): number {
  switch (protocol) {
    case IPPROTO.TCP: return 20;
    case IPPROTO_SCTP: case IPPROTO_DCCP: return 12;
    case IPPROTO_UDPLITE: case IPPROTO.ICMP: return 8;
    case IPPROTO.MH: return 6;
    case IPPROTO.ICMPV6: return 4;
    default: return 0;
  }
}

/**
 * Parses `packet` (IPv4 or IPv6) and returns its selector fields for a packet travelling in
 * `direction` (outbound: local = source; inbound: local = destination). Drops: those of
 * `parseIp`, `truncated` when the next-layer header is too short for its selector fields,
 * `malformed` for a UDP length below 8. Never throws. Addresses are views into `packet`.
 *
 * @example
 * const f = selectorFields(packet, 'outbound');
 * const d = f.ok ? spd.classifyOutbound(f) : { action: 'discard' as const };
 */
export function selectorFields(packet: Uint8Array, direction: PolicyDirection): Result<SelectorFields> {
  const ip = parseIp(packet);
  if (!ip.ok) return ip;
  return selectorFieldsOfIp(ip, direction);
}

/**
 * As `selectorFields`, from an already parsed packet (no second parse on the data path).
 *
 * @example
 * const ip = parseIp(bytes);
 * if (ip.ok) selectorFieldsOfIp(ip, 'inbound');
 */
export function selectorFieldsOfIp(ip: IpPacket, direction: PolicyDirection): Result<SelectorFields> {
  const outbound = direction === 'outbound';
  const localAddress = outbound ? ip.src : ip.dst;
  const remoteAddress = outbound ? ip.dst : ip.src;
  let protocol = ip.protocol;
  const nonInitial =
    ip.version === 4 ? ip.header.fragmentOffset !== 0 : (ip.fragmentHeader?.offset ?? 0) !== 0;
  if (nonInitial) {
    // RFC 4301 §4.4.1.1: ports, ICMP type/code and MH type of a non-initial fragment are OPAQUE.
    // RFC 8200 §4.5: its Fragment header names the first header of the fragmentable part; if
    // that is another extension header, the next-layer protocol is OPAQUE too (IPv6 only).
    if (ip.version === 6 && isWalkedIpv6Extension(protocol)) protocol = OPAQUE;
    return { ok: true, localAddress, remoteAddress, protocol, localPort: OPAQUE, remotePort: OPAQUE, icmp: OPAQUE, mhType: OPAQUE };
  }
  const l4 = ip.payload;
  let localPort = OPAQUE;
  let remotePort = OPAQUE;
  let icmp = OPAQUE;
  let mhType = OPAQUE;
  if (!ip.fragment && l4.length < minimumHeader(protocol)) return { ok: false, reason: 'truncated' };
  if (hasPorts(protocol)) {
    let src: number;
    let dst: number;
    if (protocol === IPPROTO.UDP && !ip.fragment) {
      const udp = parseUdp(l4);
      if (!udp.ok) return udp;
      src = udp.srcPort;
      dst = udp.dstPort;
    } else {
      // A first fragment too short for the ports is refused (RFC 1858 §3: tiny fragments).
      if (l4.length < 4) return { ok: false, reason: 'truncated' };
      src = readU16(l4, 0);
      dst = readU16(l4, 2);
    }
    localPort = outbound ? src : dst;
    remotePort = outbound ? dst : src;
  } else if (protocol === IPPROTO.ICMP || protocol === IPPROTO.ICMPV6) {
    // RFC 4301 §4.4.1.1: one 16-bit value, type (high octet) and code (low octet).
    if (l4.length < 2) return { ok: false, reason: 'truncated' };
    icmp = readU16(l4, 0);
  } else if (protocol === IPPROTO.MH) {
    // RFC 6275 §6.1.1: Payload Proto, Header Len, MH Type.
    if (l4.length < 3) return { ok: false, reason: 'truncated' };
    mhType = l4[2]!;
  }
  return { ok: true, localAddress, remoteAddress, protocol, localPort, remotePort, icmp, mhType };
}
