import { readU16, writeU16 } from '../bytes.js';
import type { DropCounters, DropReason } from '../dropReasons.js';
import { ESP_HEADER, parseEspTrailer, readEspSeq, readEspSpi } from '../packet/espHeader.js';
import { claimedIpLength, parseIp } from '../packet/ipPacket.js';
import { IPPROTO } from '../packet/ipProtocol.js';
import { internetChecksum } from '../packet/checksum.js';
import { IPV4_MIN_HEADER, rewriteIpv4ProtocolAndLength } from '../packet/ipv4.js';
import { IPV6_HEADER } from '../packet/ipv6.js';
import { UDP_HEADER, parseUdp } from '../packet/udp.js';
import { classifyUdpEncap, NAT_T_PORT } from '../packet/udpEncap.js';
import type { EspSa } from './espSa.js';

/**
 * Finds the inbound SA for (SPI, destination address, protocol), as RFC 4301 §4.4.2 and a
 * NIC do. The SAD supplies it; a `Map` keyed by SPI is enough for a test.
 */
export type SaLookup = (spi: number, dst: Uint8Array, protocol: number) => EspSa | undefined;

export type Drop = { ok: false; reason: DropReason; sa: EspSa | undefined };

/** A verified, decrypted ESP payload; `payload` is a view into the caller's buffer. */
export type OpenedEsp = { ok: true; sa: EspSa; payload: Uint8Array; nextHeader: number; seqHi: number; seqLo: number };

export type DecapsulateResult =
  | { ok: true; sa: EspSa; packet: Uint8Array; nextHeader: number; seqHi: number; seqLo: number; payloadLength: number }
  | Drop;

// One object shape per outcome keeps the call sites monomorphic (measured: a spread or an
// optional field here cost more than the whole ESP header work).
const drop = (reason: DropReason, sa?: EspSa): Drop => ({ ok: false, reason, sa });

/** An ESP packet whose SA is found and whose sequence number passed the replay check: what is left is the ICV. */
export type CheckedEsp = { ok: true; sa: EspSa; seqHi: number; seqLo: number; bodyLength: number };

/**
 * The ESP part of inbound processing, RFC 4303 §3.4.2–§3.4.4 in order: SA lookup → ESN high
 * bits (App. A2.2) → replay check (no change) → ICV check and decryption → replay window
 * advance (only now) → trailer. `esp` spans SPI..ICV and is decrypted in place; never throws
 * on its content.
 *
 * @example
 * const r = openEsp(udpPayload, localAddress, lookup);
 */
export function openEsp(esp: Uint8Array, dst: Uint8Array, lookup: SaLookup): OpenedEsp | Drop {
  const c = checkEsp(esp, dst, lookup);
  if (!c.ok) return c;
  // §3.4.4: integrity first; a failure is audited and the packet discarded.
  if (!c.sa.transform.open(esp, c.sa.esn ? c.seqHi : undefined)) return drop('authFailed', c.sa);
  return finishEsp(esp, c);
}

/**
 * The steps of `openEsp` before the ICV: SA lookup (§3.4.2), lengths, ESN high bits (App. A2.2)
 * and the replay check without an update (§3.4.3). A batch checks every packet, opens them all
 * in one call per SA, then finishes them in order (`decapsulateBatch`). `replayCheck: false`
 * leaves the replay check to the caller.
 *
 * @example
 * const c = checkEsp(esp, dst, lookup); if (c.ok && c.sa.transform.open(esp, c.seqHi)) finishEsp(esp, c);
 */
export function checkEsp(esp: Uint8Array, dst: Uint8Array, lookup: SaLookup, replayCheck = true): CheckedEsp | Drop {
  if (esp.length < ESP_HEADER) return drop('truncated');
  // §3.4.2: the SA is found by SPI (and destination, protocol); no SA, no processing.
  const sa = lookup(readEspSpi(esp), dst, IPPROTO.ESP);
  if (sa === undefined || sa.replay === undefined) return drop('unknownSpi');
  const t = sa.transform;
  const bodyLength = esp.length - ESP_HEADER - t.ivLength - t.icvLength;
  if (bodyLength < 2) return drop('truncated', sa);
  // §2.4: the ciphertext is a whole number of cipher blocks (and 4-octet aligned).
  if (bodyLength % t.padAlign !== 0) return drop('malformed', sa);
  const seqLo = readEspSeq(esp);
  // App. A2.2: reconstruct the high 32 bits; §3.4.3: check before the ICV, without updating.
  const seqHi = sa.replay.inferSeqHi(seqLo);
  const verdict = replayCheck ? sa.replay.check(seqHi, seqLo) : 'ok';
  if (verdict !== 'ok') return drop(verdict, sa);
  return { ok: true, sa, seqHi, seqLo, bodyLength };
}

/**
 * The steps of `openEsp` after the ICV verified and the payload was decrypted: the replay
 * window advance and the trailer.
 *
 * @example
 * if (c.sa.transform.open(esp, c.seqHi)) return finishEsp(esp, c);
 */
export function finishEsp(esp: Uint8Array, c: CheckedEsp): OpenedEsp | Drop {
  const { sa, seqHi, seqLo, bodyLength } = c;
  // §3.4.3: "the receive window is updated only if the integrity verification succeeds".
  // advance re-checks, so a duplicate that passed check in the same batch is still caught.
  const advanced = sa.replay!.advance(seqHi, seqLo);
  if (advanced !== 'ok') return drop(advanced, sa);
  const body = ESP_HEADER + sa.transform.ivLength;
  const trailer = parseEspTrailer(esp.subarray(body, body + bodyLength));
  if (!trailer.ok) return drop(trailer.reason, sa);
  // §2.6: Next Header 59 marks a dummy packet; the receiver MUST discard it.
  if (trailer.nextHeader === IPPROTO.NONE) return drop('dummy', sa);
  return { ok: true, sa, payload: esp.subarray(body, body + trailer.payloadLength), nextHeader: trailer.nextHeader, seqHi, seqLo };
}

/**
 * Inbound ESP processing (RFC 4303 §3.4) of one IP datagram carrying ESP, raw (protocol 50) or
 * in UDP (RFC 3948). Tunnel mode returns the inner packet (TFC padding, §2.7, trimmed by the
 * inner header's length); transport mode returns the original packet rebuilt with the
 * trailer's Next Header. Returns a value for every input and counts drops in `drops`.
 * Buffer ownership: `datagram` is consumed (decrypted and rearranged in place); the returned
 * packet is a view into it.
 *
 * @example
 * const r = decapsulate(datagram, (spi) => sas.get(spi), drops);
 * if (r.ok) tun.write(r.packet);
 */
export function decapsulate(datagram: Uint8Array, lookup: SaLookup, drops?: DropCounters): DecapsulateResult {
  const r = decapsulateDatagram(datagram, lookup);
  if (!r.ok) {
    drops?.count(r.reason, r.sa?.id);
  } else {
    r.sa.usage.packets++;
    r.sa.usage.bytes += r.payloadLength;
  }
  return r;
}

/** What ESP needs of the outer header: one small object, no views beyond the destination. */
export interface Outer {
  ok: true;
  version: 4 | 6;
  payloadOffset: number;
  /** End of the IP packet (Total Length / 40 + Payload Length). */
  end: number;
  protocol: number;
  dst: Uint8Array;
  /** IPv6: the byte that names the upper protocol. */
  lastNextHeaderOffset: number;
}

function outerHeader(datagram: Uint8Array): Outer | Drop {
  const first = datagram[0];
  if (first !== undefined && first >> 4 === 4) {
    // RFC 791 §3.1, read in place (the common case: no per-packet views but the destination).
    if (datagram.length < IPV4_MIN_HEADER) return drop('truncated');
    const headerLength = (first & 0x0f) * 4;
    const totalLength = readU16(datagram, 2);
    if (headerLength < IPV4_MIN_HEADER || totalLength < headerLength) return drop('malformed');
    if (totalLength > datagram.length) return drop('truncated');
    if (internetChecksum(datagram, 0, headerLength) !== 0) return drop('badChecksum');
    // §3.4.1: IPsec applies to whole datagrams; reassembly comes first.
    if ((readU16(datagram, 6) & 0x3fff) !== 0) return drop('fragment');
    return { ok: true, version: 4, payloadOffset: headerLength, end: totalLength, protocol: datagram[9]!, dst: datagram.subarray(16, 20), lastNextHeaderOffset: 9 };
  }
  const ip = parseIp(datagram);
  if (!ip.ok) return drop(ip.reason);
  if (ip.fragment) return drop('fragment');
  const lastNextHeaderOffset = ip.version === 6 ? ip.lastNextHeaderOffset : 9;
  return { ok: true, version: ip.version, payloadOffset: ip.payloadOffset, end: ip.payloadOffset + ip.payload.length, protocol: ip.protocol, dst: ip.dst, lastNextHeaderOffset };
}

function natTOn(esp: Uint8Array, dst: Uint8Array, port: number, lookup: SaLookup): boolean {
  if (esp.length < 4) return false;
  return lookup(readEspSpi(esp), dst, IPPROTO.ESP)?.config.natT?.dstPort === port;
}

/** Where the ESP bytes of a datagram are, once its outer headers said it is ESP for us. */
export type LocatedEsp = { ok: true; ip: Outer; esp: Uint8Array };

/**
 * The outer part of inbound processing: the IP header, and for UDP the RFC 3948 rules
 * (keepalives and IKE are not ESP; ESP-in-UDP only on port 4500 or an SA's own NAT-T port).
 */
export function locateEsp(datagram: Uint8Array, lookup: SaLookup): LocatedEsp | Drop {
  const ip = outerHeader(datagram);
  if (!ip.ok) return ip;
  let espOffset = ip.payloadOffset;
  if (ip.protocol === IPPROTO.UDP) {
    const udp = parseUdp(datagram.subarray(ip.payloadOffset, ip.end));
    if (!udp.ok) return drop(udp.reason);
    // RFC 3948 §2.2: keepalives and non-ESP-marked (IKE) datagrams are not ESP.
    if (classifyUdpEncap(udp.payload).kind !== 'esp') return drop('notIpsec');
    // RFC 3948 §2.1: ESP-in-UDP arrives on port 4500, or on the port the SA was set up with;
    // any other UDP datagram is plain traffic for SPD-I, not ESP.
    if (udp.dstPort !== NAT_T_PORT && !natTOn(udp.payload, ip.dst, udp.dstPort, lookup)) return drop('notIpsec');
    espOffset += UDP_HEADER;
  } else if (ip.protocol !== IPPROTO.ESP) {
    return drop('notIpsec');
  }
  return { ok: true, ip, esp: datagram.subarray(espOffset, ip.end) };
}

function decapsulateDatagram(datagram: Uint8Array, lookup: SaLookup): DecapsulateResult {
  const at = locateEsp(datagram, lookup);
  if (!at.ok) return at;
  const opened = openEsp(at.esp, at.ip.dst, lookup);
  if (!opened.ok) return opened;
  return finishDatagram(datagram, at.ip, opened);
}

/**
 * The mode's part, once ESP opened: tunnel mode returns the inner packet, transport mode moves
 * the outer header up against the payload and restores Next Header.
 */
export function finishDatagram(datagram: Uint8Array, ip: Outer, opened: OpenedEsp): DecapsulateResult {
  const { sa, payload, nextHeader } = opened;
  if (sa.config.mode === 'tunnel') {
    // §2.3 / RFC 4301 §5.2: in tunnel mode the payload is an IP packet, and nothing else.
    if (nextHeader !== IPPROTO.IPV4 && nextHeader !== IPPROTO.IPV6) return drop('badNextHeader', sa);
    // §2.7: TFC padding follows the inner packet; its own header says where it ends.
    const length = claimedIpLength(payload, nextHeader === IPPROTO.IPV4 ? 4 : 6);
    if (length < 0) return drop('malformed', sa);
    return { ok: true, sa, packet: payload.subarray(0, length), nextHeader, seqHi: opened.seqHi, seqLo: opened.seqLo, payloadLength: length };
  }
  // Transport mode: move the outer header up against the payload and restore Next Header.
  const headerLength = ip.payloadOffset;
  const start = payload.byteOffset - datagram.byteOffset - headerLength;
  datagram.copyWithin(start, 0, headerLength);
  const packet = datagram.subarray(start, start + headerLength + payload.length);
  if (ip.version === 4) {
    rewriteIpv4ProtocolAndLength(packet, nextHeader, packet.length);
  } else {
    packet[ip.lastNextHeaderOffset] = nextHeader;
    writeU16(packet, 4, packet.length - IPV6_HEADER);
  }
  return { ok: true, sa, packet, nextHeader, seqHi: opened.seqHi, seqLo: opened.seqLo, payloadLength: payload.length };
}
