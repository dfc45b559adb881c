import type { Result } from '../dropReasons.js';
import { parseIp } from '../packet/ipPacket.js';
import { IPPROTO } from '../packet/ipProtocol.js';
import { IPV4_MIN_HEADER, rewriteIpv4ProtocolAndLength, writeIpv4Header } from '../packet/ipv4.js';
import { IPV6_HEADER, writeIpv6Header, type Ipv6Extension } from '../packet/ipv6.js';
import { AH_ICV_OFFSET, ahLength, writeAhFields } from './ahHeader.js';
import type { AhSa } from './ahSa.js';
import { icvHeaderInput, icvParts } from './mutableFields.js';

const IP_MAX = 0xffff;
const NO_EXTENSIONS: readonly Ipv6Extension[] = [];

export type AhEncapsulateResult = Result<{ packet: Uint8Array; seqHi: number; seqLo: number }>;

/** What is protected and what stays in front of AH, per mode (RFC 4302 §3.1.1, §3.1.2). */
interface Split {
  /** Tunnel: nothing (a new outer header is built). Transport: the IP header part to keep. */
  prefix: Uint8Array;
  payload: Uint8Array;
  nextHeader: number;
  /** Transport, IPv6: where the next-header octet that must now name AH sits. */
  nextHeaderOffset: number;
  /** Transport, IPv6: the extension headers in `prefix`, for the ICV (§3.3.3.1.2.2). */
  extensions: readonly Ipv6Extension[];
  tos: number;
  dontFragment: boolean;
}

function split(inner: Uint8Array, sa: AhSa): Result<Split> {
  const ip = parseIp(inner);
  if (!ip.ok) return ip;
  if (sa.config.mode === 'tunnel') {
    // RFC 4302 §3.1.2: the whole inner packet is protected; Next Header names its version.
    const v4 = ip.version === 4;
    return {
      ok: true,
      prefix: inner.subarray(0, 0),
      payload: ip.packet,
      nextHeader: v4 ? IPPROTO.IPV4 : IPPROTO.IPV6,
      nextHeaderOffset: -1,
      extensions: NO_EXTENSIONS,
      tos: v4 ? ip.header.tos : ip.header.trafficClass,
      dontFragment: v4 ? ip.header.dontFragment : false,
    };
  }
  // RFC 4302 §3.3.4 / RFC 4301 §7: AH is applied to whole packets, fragmentation comes after.
  if (ip.fragment) return { ok: false, reason: 'fragment' };
  if (ip.version === 4) {
    const h = ip.header;
    // §3.1.1: in IPv4 transport mode AH goes right after the IP header and its options.
    return { ok: true, prefix: inner.subarray(0, h.headerLength), payload: ip.payload, nextHeader: h.protocol, nextHeaderOffset: 9, extensions: NO_EXTENSIONS, tos: h.tos, dontFragment: h.dontFragment };
  }
  // §3.1.1: in IPv6, AH is an end-to-end payload: after hop-by-hop, routing and fragment headers.
  const at = ip.ipsecInsertOffset;
  return {
    ok: true,
    prefix: ip.packet.subarray(0, at),
    payload: ip.packet.subarray(at),
    nextHeader: ip.packet[ip.ipsecInsertNextHeaderOffset]!,
    nextHeaderOffset: ip.ipsecInsertNextHeaderOffset,
    extensions: ip.extensions,
    tos: ip.header.trafficClass,
    dontFragment: false,
  };
}

/**
 * Outbound AH processing (RFC 4302 §3.3) of one IP packet on one SA: builds the outer header
 * (tunnel) or rewrites the packet's own (transport), inserts AH with its ICV padded to 32 bits
 * (IPv4; 64 with `ipv4Align: 8`) or 64 bits (IPv6), takes the next sequence number (§3.3.2),
 * and computes the ICV over the packet with mutable fields zeroed and, with ESN, the high 32
 * sequence bits appended (§3.3.3). Returns a value for every input: `malformed`/`truncated`
 * inner packets, `fragment` in transport mode, `oversized`, `seqExhausted` (rekey). The
 * returned packet is a new buffer; `inner` is only read.
 *
 * @example
 * const r = ahEncapsulate(innerPacket, sa);
 * if (r.ok) wire.send(r.packet); else drops.count(r.reason, sa.id);
 */
export function ahEncapsulate(inner: Uint8Array, sa: AhSa): AhEncapsulateResult {
  const seq = sa.seq;
  if (seq === undefined) throw new TypeError(`sa: ${sa.id} is an inbound SA; ahEncapsulate needs an outbound one`);
  const parts = split(inner, sa);
  if (!parts.ok) return parts;
  const cfg = sa.config;
  const tunnel = cfg.tunnel;
  const outerV4 = tunnel ? tunnel.src.length === 4 : parts.prefix[0]! >> 4 === 4;
  const icvLength = sa.integrity.icvLength;
  // §2.6 / §3.3.3.2.1: the ICV field is padded so AH is a multiple of 32 (IPv4) or 64 (IPv6) bits.
  const ahLen = ahLength(icvLength, outerV4 ? (cfg.ipv4Align ?? 4) : 8);
  const ahOffset = tunnel ? (outerV4 ? IPV4_MIN_HEADER : IPV6_HEADER) : parts.prefix.length;
  const total = ahOffset + ahLen + parts.payload.length;
  if (total - (outerV4 ? 0 : IPV6_HEADER) > IP_MAX) return { ok: false, reason: 'oversized' };

  // §3.3.2: a counter that would cycle means no packet: the SA must be replaced.
  if (!seq.next()) return { ok: false, reason: 'seqExhausted' };

  const out = new Uint8Array(total);
  if (tunnel) {
    // RFC 4301 §5.1.2.1: DSCP/ECN copied from the inner header, DF copied (§8.1 default); the
    // IPv4 ID only has to be unique while fragments may live (RFC 6864): low sequence bits.
    const { src, dst } = tunnel;
    if (outerV4) {
      writeIpv4Header(out, 0, { tos: parts.tos, totalLength: total, identification: seq.lo & 0xffff, dontFragment: parts.dontFragment, ttl: cfg.ttl ?? 64, protocol: IPPROTO.AH, src, dst });
    } else {
      writeIpv6Header(out, 0, { trafficClass: parts.tos, payloadLength: total - IPV6_HEADER, nextHeader: IPPROTO.AH, hopLimit: cfg.ttl ?? 64, src, dst });
    }
  } else {
    out.set(parts.prefix, 0);
    if (outerV4) {
      rewriteIpv4ProtocolAndLength(out, IPPROTO.AH, total);
    } else {
      out[parts.nextHeaderOffset] = IPPROTO.AH;
      out[4] = (total - IPV6_HEADER) >>> 8;
      out[5] = (total - IPV6_HEADER) & 0xff;
    }
  }
  writeAhFields(out, ahOffset, { nextHeader: parts.nextHeader, length: ahLen, spi: cfg.spi, seqLo: seq.lo });
  out.set(parts.payload, ahOffset + ahLen);
  // §3.3.3.1: the header part as the receiver will see it, mutable fields zeroed. Only an
  // unpredictable transport-mode header can fail here; the spent sequence number just leaves a
  // gap, which the receiver's window tolerates.
  const header = icvHeaderInput(out, outerV4 ? 4 : 6, parts.extensions, ahOffset, ahLen, icvLength);
  if (!header.ok) return header;
  sa.integrity.computeInto(icvParts(header.bytes, out.subarray(ahOffset + ahLen), sa.esn ? seq.hi : undefined), out, ahOffset + AH_ICV_OFFSET);
  sa.usage.packets++;
  sa.usage.bytes += parts.payload.length;
  return { ok: true, packet: out, seqHi: seq.hi, seqLo: seq.lo };
}
