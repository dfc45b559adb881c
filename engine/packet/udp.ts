/**
 * UDP header codec and checksum (RFC 768), over IPv4 or IPv6 (RFC 8200 §8.1). Parsing never
 * throws and returns views; writing throws a `RangeError` naming the argument on misuse.
 */

import type { Result } from '../dropReasons.js';
import { rangeError } from '../errors.js';
import { readU16, writeU16 } from '../bytes.js';
import { onesComplementSum } from './checksum.js';
import { IPPROTO } from './ipProtocol.js';

/** RFC 768: source port, destination port, length, checksum, 2 octets each. */
export const UDP_HEADER = 8;

/** A parsed UDP datagram; `payload` is a view bounded by the Length field. */
export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  length: number;
  checksum: number;
  payload: Uint8Array;
}

/**
 * Parses a UDP datagram (the IP payload). Octets past the Length field are ignored. Drops:
 * `truncated` (fewer than 8 octets, or than Length), `malformed` (Length < 8, including the
 * RFC 2675 jumbogram Length 0). Does not verify the checksum (see `udpChecksum`). Never throws.
 *
 * @example
 * const r = parseUdp(ip.payload);
 * if (r.ok && r.dstPort === NAT_T_PORT) classifyUdpEncap(r.payload);
 */
export function parseUdp(bytes: Uint8Array): Result<UdpDatagram> {
  if (bytes.length < UDP_HEADER) return { ok: false, reason: 'truncated' };
  // RFC 768: "Length is the length in octets of this user datagram including this header".
  const length = readU16(bytes, 4);
  if (length < UDP_HEADER) return { ok: false, reason: 'malformed' };
  if (length > bytes.length) return { ok: false, reason: 'truncated' };
  return {
    ok: true,
    srcPort: readU16(bytes, 0),
    dstPort: readU16(bytes, 2),
    length,
    checksum: readU16(bytes, 6),
    payload: bytes.subarray(UDP_HEADER, length),
  };
}

function requireUint16(value: number, argument: string, min = 0): void {
  if (!(Number.isInteger(value) && value >= min && value <= 0xffff)) throw rangeError(argument, `must be an integer in [${min}, 65535], got ${value}`);
}

/**
 * Writes a UDP header at `out[offset..]` and returns its length (8). A checksum of 0 means
 * "none" over IPv4 (RFC 768; RFC 3948 §2.1 lets UDP-encapsulated ESP send 0); over IPv6 a
 * checksum is mandatory (RFC 8200 §8.1): compute it with `udpChecksum` once the payload is in.
 *
 * @example
 * writeUdpHeader(out, 20, NAT_T_PORT, NAT_T_PORT, UDP_HEADER + esp.length);
 */
export function writeUdpHeader(
  out: Uint8Array,
  offset: number,
  srcPort: number,
  dstPort: number,
  length: number,
  checksum = 0,
): number {
  if (!(Number.isInteger(offset) && offset >= 0 && offset + UDP_HEADER <= out.length)) throw rangeError('offset', `an 8-octet header at ${offset} does not fit in ${out.length} octets`);
  requireUint16(srcPort, 'srcPort');
  requireUint16(dstPort, 'dstPort');
  requireUint16(length, 'length', UDP_HEADER);
  requireUint16(checksum, 'checksum');
  writeU16(out, offset + 0, srcPort);
  writeU16(out, offset + 2, dstPort);
  writeU16(out, offset + 4, length);
  writeU16(out, offset + 6, checksum);
  return UDP_HEADER;
}

/**
 * The UDP checksum of `udp` (exactly the datagram: header + payload; its checksum field is
 * treated as zero) under the IPv4 pseudo-header (RFC 768) when `src`/`dst` are 4 octets, or the
 * IPv6 one (RFC 8200 §8.1) when they are 16. Returns 0xffff instead of 0, since 0 on the wire
 * means "no checksum" (RFC 768). To verify a received datagram, compare with its checksum field.
 * Throws a `RangeError` if the address lengths differ or are not 4/16, or `udp` is under 8 octets.
 *
 * @example
 * viewOf(udp).setUint16(6, udpChecksum(ipSrc, ipDst, udp));
 */
export function udpChecksum(src: Uint8Array, dst: Uint8Array, udp: Uint8Array): number {
  const n = src.length;
  if (!(n === 4 || n === 16)) throw rangeError('src', `must be 4 or 16 octets, got ${n}`);
  if (!(dst.length === n)) throw rangeError('dst', `must be ${n} octets like src, got ${dst.length}`);
  if (!(udp.length >= UDP_HEADER)) throw rangeError('udp', `must be at least 8 octets, got ${udp.length}`);
  // RFC 768 pseudo-header: src, dst, zero, protocol, UDP length (16 bits). RFC 8200 §8.1: src,
  // dst, upper-layer length (32 bits), three zero octets, next header. Both sum as: addresses +
  // protocol + length (high and low 16 bits; the high half is 0 below 64 KiB).
  let sum = onesComplementSum(src, 0, src.length);
  sum = onesComplementSum(dst, 0, dst.length, sum);
  sum += IPPROTO.UDP + (udp.length & 0xffff) + Math.floor(udp.length / 0x10000);
  sum = onesComplementSum(udp, 0, 6, sum);
  // Octets 6-7 (the checksum field) count as zero: skipped.
  sum = onesComplementSum(udp, UDP_HEADER, udp.length, sum);
  const checksum = ~sum & 0xffff;
  // RFC 768: "If the computed checksum is zero, it is transmitted as all ones".
  return checksum === 0 ? 0xffff : checksum;
}
