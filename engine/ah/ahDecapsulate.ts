import type { DropCounters, DropReason } from '../dropReasons.js';
import { parseIp, type IpPacket } from '../packet/ipPacket.js';
import { IPPROTO } from '../packet/ipProtocol.js';
import { rewriteIpv4ProtocolAndLength } from '../packet/ipv4.js';
import { IPV6_HEADER } from '../packet/ipv6.js';
import { AH_ICV_OFFSET, acceptableAhLength, readAhFields } from './ahHeader.js';
import type { AhSa } from './ahSa.js';
import { icvHeaderInput, icvParts } from './mutableFields.js';

/**
 * Finds the inbound AH SA for (SPI, destination address, protocol 51), as RFC 4301 §4.4.2 and
 * RFC 4302 §3.4.2 say. The SAD supplies it; a `Map` keyed by SPI is enough for a test.
 */
export type AhLookup = (spi: number, dst: Uint8Array, protocol: number) => AhSa | undefined;

export type AhDrop = { ok: false; reason: DropReason; sa?: AhSa };

export type AhDecapsulateResult =
  | { ok: true; sa: AhSa; packet: Uint8Array; nextHeader: number; seqHi: number; seqLo: number }
  | AhDrop;

const drop = (reason: DropReason, sa?: AhSa): AhDrop => (sa ? { ok: false, reason, sa } : { ok: false, reason });

/**
 * Inbound AH processing (RFC 4302 §3.4) of one IP datagram carrying AH: SA lookup → ESN high
 * bits (App. B2.2) → replay check (no change) → ICV over the packet with mutable fields zeroed →
 * replay window advance (only now). Tunnel mode returns the inner packet; transport mode returns
 * the packet without AH, its Protocol / Next Header, length and checksum restored. Returns a
 * value for every input and counts drops in `drops` (with the SA id once the SA is known).
 * Buffer ownership: `datagram` is consumed (rearranged in place in transport mode); the returned
 * packet is a view into it.
 *
 * @example
 * const r = ahDecapsulate(datagram, (spi) => sas.get(spi), drops);
 * if (r.ok) tun.write(r.packet);
 */
export function ahDecapsulate(datagram: Uint8Array, lookup: AhLookup, drops?: DropCounters): AhDecapsulateResult {
  const r = ahDecapsulateDatagram(datagram, lookup);
  if (!r.ok) drops?.count(r.reason, r.sa?.id);
  return r;
}

function ahDecapsulateDatagram(datagram: Uint8Array, lookup: AhLookup): AhDecapsulateResult {
  const ip = parseIp(datagram);
  if (!ip.ok) return drop(ip.reason);
  // §3.4.1: AH applies to whole datagrams; reassembly comes first.
  if (ip.fragment) return drop('fragment');
  if (ip.protocol !== IPPROTO.AH) return drop('notIpsec');
  const ahOffset = ip.payloadOffset;
  const fields = readAhFields(ip.payload);
  if (fields === undefined) return drop('truncated');
  if (fields.length > ip.payload.length) return drop('truncated');
  // §3.4.2: the SA is found by SPI, destination and protocol; no SA, no processing.
  const sa = lookup(fields.spi, ip.dst, IPPROTO.AH);
  if (sa === undefined || sa.replay === undefined) return drop('unknownSpi');
  const icvLength = sa.integrity.icvLength;
  // §2.2, §2.6: the SA's algorithm fixes the ICV length; the header carries it and its padding.
  if (!acceptableAhLength(fields.length, icvLength, ip.version)) return drop('malformed', sa);
  // App. B2.2: reconstruct the high 32 bits; §3.4.3: check before the ICV, without updating.
  const seqHi = sa.replay.inferSeqHi(fields.seqLo);
  const verdict = sa.replay.check(seqHi, fields.seqLo);
  if (verdict !== 'ok') return drop(verdict, sa);
  // §3.4.4: "Zero all other fields that may have been modified during transit", recompute.
  const header = icvHeaderInput(ip.packet, ip.version, ip.version === 6 ? ip.extensions : [], ahOffset, fields.length, icvLength);
  if (!header.ok) return drop(header.reason, sa);
  const ahEnd = ahOffset + fields.length;
  const icv = ip.packet.subarray(ahOffset + AH_ICV_OFFSET, ahOffset + AH_ICV_OFFSET + icvLength);
  const payload = ip.packet.subarray(ahEnd);
  // §3.4.4: on a mismatch the receiver "MUST discard"; auditable: the drop counter.
  if (!sa.integrity.verify(icvParts(header.bytes, payload, sa.esn ? seqHi : undefined), icv)) return drop('authFailed', sa);
  // §3.4.3: "the receive window is updated only if the ICV verification succeeds".
  const advanced = sa.replay.advance(seqHi, fields.seqLo);
  if (advanced !== 'ok') return drop(advanced, sa);
  const opened = sa.config.mode === 'tunnel' ? tunnelInner(payload, fields.nextHeader, sa) : transportPacket(datagram, ip, fields.length, fields.nextHeader, sa);
  if (!opened.ok) return opened;
  sa.usage.packets++;
  // Protected octets: the inner packet (tunnel) or the upper layer (transport), as sent.
  sa.usage.bytes += sa.config.mode === 'tunnel' ? opened.packet.length : payload.length;
  return { ok: true, sa, packet: opened.packet, nextHeader: fields.nextHeader, seqHi, seqLo: fields.seqLo };
}

type Opened = { ok: true; packet: Uint8Array } | AhDrop;

/** §3.1.2 / RFC 4301 §5.2: in tunnel mode the protected payload is an IP packet, and nothing else. */
function tunnelInner(payload: Uint8Array, nextHeader: number, sa: AhSa): Opened {
  if (nextHeader !== IPPROTO.IPV4 && nextHeader !== IPPROTO.IPV6) return drop('badNextHeader', sa);
  const inner = parseIp(payload);
  if (!inner.ok || inner.version !== (nextHeader === IPPROTO.IPV4 ? 4 : 6)) return drop('malformed', sa);
  return { ok: true, packet: inner.packet };
}

/**
 * Transport mode: moves the header part (IPv4 header, or IPv6 header and the extension headers
 * before AH) up against the payload and restores the Next Header AH carried.
 */
function transportPacket(datagram: Uint8Array, ip: IpPacket, ahLength: number, nextHeader: number, sa: AhSa): Opened {
  const headerLength = ip.payloadOffset;
  const total = ip.packet.length - ahLength;
  // RFC 2675: an IPv6 Payload Length of 0 would announce a jumbogram; nothing to deliver here.
  if (ip.version === 6 && total === IPV6_HEADER) return drop('malformed', sa);
  datagram.copyWithin(ahLength, 0, headerLength);
  const packet = datagram.subarray(ahLength, ahLength + total);
  if (ip.version === 4) {
    rewriteIpv4ProtocolAndLength(packet, nextHeader, total);
  } else {
    packet[ip.lastNextHeaderOffset] = nextHeader;
    packet[4] = (total - IPV6_HEADER) >>> 8;
    packet[5] = (total - IPV6_HEADER) & 0xff;
  }
  return { ok: true, packet };
}
