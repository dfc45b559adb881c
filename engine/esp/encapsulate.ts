import { readU16, writeU16, writeU32 } from '../bytes.js';
import type { Result } from '../dropReasons.js';
import { allocPacket } from '../packetBuffer.js';
import { ESP_HEADER, espPadLength, writeEspTrailer } from '../packet/espHeader.js';
import { IPPROTO } from '../packet/ipProtocol.js';
import { IPV4_MIN_HEADER, rewriteIpv4ProtocolAndLength, writeIpv4Header } from '../packet/ipv4.js';
import { IPV6_HEADER, parseIpv6, writeIpv6Header } from '../packet/ipv6.js';
import { UDP_HEADER, udpChecksum, writeUdpHeader } from '../packet/udp.js';
import type { EspSa } from './espSa.js';
import type { IvSource } from './ivSource.js';
import type { SealQueue } from './batch.js';

const IP_MAX = 0xffff;

export type EncapsulateResult = Result<{ packet: Uint8Array; seqHi: number; seqLo: number }>;

/** What is protected and what stays in front of it, per mode (RFC 4303 §3.1.1, §3.1.2). */
interface Split {
  /** Tunnel: nothing (a new outer header is built). Transport: the IP header to keep. */
  prefix: Uint8Array;
  payload: Uint8Array;
  nextHeader: number;
  /** Transport, IPv6: where the next-header byte that must now name ESP/UDP sits. */
  nextHeaderOffset: number;
  tos: number;
  dontFragment: boolean;
}

const malformed = { ok: false, reason: 'malformed' } as const;
const truncated = { ok: false, reason: 'truncated' } as const;

/**
 * Reads the few header fields ESP needs straight from the bytes. The inner header's checksum
 * is not ESP's to verify: tunnel mode carries the packet opaque and transport mode rewrites the
 * header. (Measured: the full parser's views cost more than the rest of the framing.)
 */
function split(inner: Uint8Array, sa: EspSa): Result<Split> {
  const first = inner[0];
  if (first === undefined) return truncated;
  const tunnel = sa.config.mode === 'tunnel';
  if (first >> 4 === 4) {
    if (inner.length < IPV4_MIN_HEADER) return truncated;
    const headerLength = (first & 0x0f) * 4;
    const totalLength = readU16(inner, 2);
    // RFC 791 §3.1: IHL ≥ 5 words; Total Length covers the header and fits the bytes we hold.
    if (headerLength < IPV4_MIN_HEADER || totalLength < headerLength) return malformed;
    if (totalLength > inner.length) return truncated;
    const flags = readU16(inner, 6);
    const tos = inner[1]!;
    const dontFragment = (flags & 0x4000) !== 0;
    // RFC 4303 §3.1.2: the whole inner packet is the payload; Next Header names its version.
    if (tunnel) return { ok: true, prefix: EMPTY, payload: inner.subarray(0, totalLength), nextHeader: IPPROTO.IPV4, nextHeaderOffset: -1, tos, dontFragment };
    // RFC 4303 §3.3.4 / RFC 4301 §7: transport mode is applied to whole packets only.
    if ((flags & 0x3fff) !== 0) return { ok: false, reason: 'fragment' };
    return { ok: true, prefix: inner.subarray(0, headerLength), payload: inner.subarray(headerLength, totalLength), nextHeader: inner[9]!, nextHeaderOffset: 9, tos, dontFragment };
  }
  if (first >> 4 !== 6) return malformed;
  if (inner.length < IPV6_HEADER) return truncated;
  const tos = (readU16(inner, 0) >> 4) & 0xff;
  if (tunnel) {
    const length = IPV6_HEADER + readU16(inner, 4);
    if (length > inner.length) return truncated;
    return { ok: true, prefix: EMPTY, payload: inner.subarray(0, length), nextHeader: IPPROTO.IPV6, nextHeaderOffset: -1, tos, dontFragment: false };
  }
  const ip = parseIpv6(inner);
  if (!ip.ok) return ip;
  if (ip.fragment) return { ok: false, reason: 'fragment' };
  // RFC 4303 §3.1.1: ESP goes after hop-by-hop, routing and fragment extension headers.
  const at = ip.ipsecInsertOffset;
  return { ok: true, prefix: ip.packet.subarray(0, at), payload: ip.packet.subarray(at), nextHeader: ip.packet[ip.ipsecInsertNextHeaderOffset]!, nextHeaderOffset: ip.ipsecInsertNextHeaderOffset, tos, dontFragment: false };
}

const EMPTY = new Uint8Array(0);

/**
 * Outbound ESP processing (RFC 4303 §3.3) of one IP packet on one SA: builds the outer header
 * (tunnel) or rewrites the packet's own (transport), adds UDP encapsulation when the SA has
 * NAT-T ports (RFC 3948 §2.1), the ESP header, the IV from `iv`, the payload, optional TFC
 * padding (tunnel mode, §2.7), the trailer with 1, 2, 3, ... padding (§2.4), then seals.
 * Returns a value for every input: `malformed`/`truncated` inner packets, `fragment` in
 * transport mode, `oversized`, `seqExhausted` (the SA must be rekeyed). The returned packet is
 * a new buffer the caller owns (see `allocPacket`); `inner` is only read. With a `queue`, the
 * packet is framed and numbered now and sealed at `queue.flush()`, with the rest of its batch
 * in one call per SA (issue 10): it must not leave before that.
 *
 * @example
 * const r = encapsulate(innerPacket, sa, standardIvSource((b) => crypto.getRandomValues(b)));
 * if (r.ok) wire.send(r.packet); else drops.count(r.reason, sa.id);
 */
export function encapsulate(inner: Uint8Array, sa: EspSa, iv: IvSource, queue?: SealQueue): EncapsulateResult {
  const seq = sa.seq;
  if (seq === undefined) throw new TypeError(`sa: ${sa.id} is an inbound SA; encapsulate needs an outbound one`);
  const parts = split(inner, sa);
  if (!parts.ok) return parts;
  const cfg = sa.config;
  const t = sa.transform;
  const tunnel = cfg.tunnel;
  const payloadLength = parts.payload.length;
  const tfc = cfg.mode === 'tunnel' && cfg.tfcPadTo !== undefined ? Math.max(0, cfg.tfcPadTo - payloadLength) : 0;
  const bodyLength = payloadLength + tfc;
  const padLength = espPadLength(bodyLength, t.padAlign);
  const espLength = ESP_HEADER + t.ivLength + bodyLength + padLength + 2 + t.icvLength;
  const outerV4 = tunnel ? tunnel.src.length === 4 : parts.prefix[0]! >> 4 === 4;
  const outerLength = tunnel ? (outerV4 ? IPV4_MIN_HEADER : IPV6_HEADER) : parts.prefix.length;
  const udpLength = cfg.natT ? UDP_HEADER : 0;
  const total = outerLength + udpLength + espLength;
  if (total - (outerV4 ? 0 : IPV6_HEADER) > IP_MAX) return { ok: false, reason: 'oversized' };
  // RFC 4303 §3.3.3: a counter that would cycle means no packet: the SA must be replaced.
  if (!seq.next()) return { ok: false, reason: 'seqExhausted' };

  const out = allocPacket(total);
  const protocol = cfg.natT ? IPPROTO.UDP : IPPROTO.ESP;
  let src: Uint8Array;
  let dst: Uint8Array;
  if (tunnel) {
    ({ src, dst } = tunnel);
    // RFC 4301 §5.1.2.1: DSCP and ECN copied from the inner header (RFC 6040 normal mode);
    // DF copied (RFC 4301 §8.1 default). The IPv4 ID only has to be unique per
    // (src, dst, protocol) while fragments may live (RFC 6864): the low sequence bits are.
    if (outerV4) {
      writeIpv4Header(out, 0, { tos: parts.tos, totalLength: total, identification: seq.lo & 0xffff, dontFragment: parts.dontFragment, ttl: cfg.ttl ?? 64, protocol, src, dst });
    } else {
      writeIpv6Header(out, 0, { trafficClass: parts.tos, payloadLength: total - IPV6_HEADER, nextHeader: protocol, hopLimit: cfg.ttl ?? 64, src, dst });
    }
  } else {
    out.set(parts.prefix, 0);
    if (outerV4) {
      rewriteIpv4ProtocolAndLength(out, protocol, total);
      src = out.subarray(12, 16);
      dst = out.subarray(16, 20);
    } else {
      out[parts.nextHeaderOffset] = protocol;
      writeU16(out, 4, total - IPV6_HEADER);
      src = out.subarray(8, 24);
      dst = out.subarray(24, 40);
    }
  }

  const esp = out.subarray(outerLength + udpLength);
  writeU32(esp, 0, cfg.spi);
  writeU32(esp, 4, seq.lo); // RFC 4303 §2.2: only the low 32 bits travel
  const body = ESP_HEADER + t.ivLength;
  iv(esp.subarray(ESP_HEADER, body), seq.hi, seq.lo, t);
  esp.set(parts.payload, body); // TFC padding (§2.7) stays as the zeros allocPacket gives
  writeEspTrailer(esp, body + bodyLength, padLength, parts.nextHeader);
  // The IPv6 UDP checksum below covers the sealed bytes: that packet is sealed now.
  if (queue !== undefined && (outerV4 || !cfg.natT)) queue.add(t, esp, sa.esn ? seq.hi : undefined);
  else t.seal(esp, sa.esn ? seq.hi : undefined);

  if (cfg.natT) {
    const udp = out.subarray(outerLength);
    writeUdpHeader(out, outerLength, cfg.natT.srcPort, cfg.natT.dstPort, udp.length, 0);
    // RFC 3948 §2.1: the IPv4 UDP checksum SHOULD be zero; IPv6 needs one (RFC 8200 §8.1).
    if (!outerV4) writeU16(udp, 6, udpChecksum(src, dst, udp));
  }
  sa.usage.packets++;
  sa.usage.bytes += payloadLength;
  return { ok: true, packet: out, seqHi: seq.hi, seqLo: seq.lo };
}
