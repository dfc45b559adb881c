/**
 * Version dispatch over the IPv4 and IPv6 codecs, for callers that want the same few fields from
 * either: addresses, upper protocol and its bytes, and whether the packet is a fragment.
 */

import { readU16 } from '../bytes.js';
import type { Result } from '../dropReasons.js';
import { type Ipv4Packet, ipv4IsFragment, parseIpv4 } from './ipv4.js';
import { IPV6_HEADER, type Ipv6Fragment, type Ipv6Packet, parseIpv6 } from './ipv6.js';

/** What both versions give, uniformly. Views into the parsed bytes. */
export interface IpCommon {
  /** 4 or 16 octets. */
  src: Uint8Array;
  dst: Uint8Array;
  /** The upper protocol: IPv4 Protocol, or IPv6 Next Header after the walked extensions. */
  protocol: number;
  /** Offset of the upper-layer bytes from the start of the packet. */
  payloadOffset: number;
  /** The upper-layer bytes, bounded by Total Length / Payload Length. */
  payload: Uint8Array;
  /** The IP packet itself, without link padding past Total Length / Payload Length. */
  packet: Uint8Array;
  /** True for any fragment (RFC 4303 §3.4.1: IPsec processes reassembled packets only). */
  fragment: boolean;
}

/**
 * A parsed IP packet of either version: the version's own result plus the common fields. For
 * IPv6 the Fragment header's fields are `fragmentHeader` (`fragment` is the common boolean).
 */
export type IpPacket =
  | ({ version: 4 } & Ipv4Packet & IpCommon)
  | ({ version: 6 } & Omit<Ipv6Packet, 'fragment'> & { fragmentHeader?: Ipv6Fragment } & IpCommon);

/**
 * Parses an IPv4 or IPv6 packet, chosen by the version nibble (RFC 791 §3.1, RFC 8200 §3).
 * Drops: `truncated` for empty input, `malformed` for another version, else those of
 * `parseIpv4` / `parseIpv6`. Never throws.
 *
 * @example
 * const r = parseIp(bytes);
 * if (r.ok && !r.fragment && r.protocol === IPPROTO.UDP) handleUdp(r.payload);
 */
export function parseIp(bytes: Uint8Array): Result<IpPacket> {
  const first = bytes[0];
  if (first === undefined) return { ok: false, reason: 'truncated' };
  switch (first >> 4) {
    case 4: {
      const r = parseIpv4(bytes);
      if (!r.ok) return r;
      const { header, payload } = r;
      return {
        ok: true,
        version: 4,
        header,
        payload,
        src: header.src,
        dst: header.dst,
        protocol: header.protocol,
        payloadOffset: header.headerLength,
        packet: bytes.subarray(0, header.totalLength),
        fragment: ipv4IsFragment(header),
      };
    }
    case 6: {
      const r = parseIpv6(bytes);
      if (!r.ok) return r;
      return {
        ok: true,
        version: 6,
        header: r.header,
        extensions: r.extensions,
        upperProtocol: r.upperProtocol,
        upperOffset: r.upperOffset,
        lastNextHeaderOffset: r.lastNextHeaderOffset,
        ipsecInsertOffset: r.ipsecInsertOffset,
        ipsecInsertNextHeaderOffset: r.ipsecInsertNextHeaderOffset,
        fragmentHeader: r.fragment,
        src: r.header.src,
        dst: r.header.dst,
        protocol: r.upperProtocol,
        payloadOffset: r.upperOffset,
        payload: r.packet.subarray(r.upperOffset),
        packet: r.packet,
        fragment: r.fragment !== undefined,
      };
    }
    default:
      return { ok: false, reason: 'malformed' };
  }
}

/**
 * The length an IP packet's own header claims, without checking anything else (no checksum,
 * no extension walk): what tunnel-mode ESP needs to cut TFC padding off a decrypted inner
 * packet (RFC 4303 §2.7) and hand the rest to the stack, which checks it. Returns -1 when the
 * version is not `version`, the header is too short, or the claimed length exceeds `bytes`.
 *
 * @example
 * const n = claimedIpLength(decrypted, 4); // -1 → malformed
 */
export function claimedIpLength(bytes: Uint8Array, version: 4 | 6): number {
  const first = bytes[0];
  if (first === undefined || first >> 4 !== version) return -1;
  // RFC 791 §3.1: Total Length counts the header (IHL ≥ 5 words); RFC 8200 §3: Payload Length does not.
  const length = version === 4 ? readU16(bytes, 2) : IPV6_HEADER + readU16(bytes, 4);
  const minimum = version === 4 ? (first & 0x0f) * 4 : IPV6_HEADER;
  if (bytes.length < minimum || minimum < 20 || length < minimum || length > bytes.length) return -1;
  return length;
}
