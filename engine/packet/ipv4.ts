/**
 * IPv4 header codec (RFC 791 §3.1). Parsing never throws and returns views into the input;
 * writing validates its arguments and throws a `RangeError` naming the culprit on misuse.
 */

import type { Result } from '../dropReasons.js';
import { rangeError } from '../errors.js';
import { readU16, writeU16 } from '../bytes.js';
import { internetChecksum } from './checksum.js';

/** RFC 791 §3.1: the minimum IHL is 5 32-bit words. */
export const IPV4_MIN_HEADER = 20;
/** RFC 791 §3.1: IHL is 4 bits, so at most 15 words (40 octets of options). */
export const IPV4_MAX_HEADER = 60;
/** RFC 791 §3.1: Total Length is 16 bits. */
export const IPV4_MAX_TOTAL_LENGTH = 0xffff;

const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;
const NO_OPTIONS = new Uint8Array(0);

/** The fields of an IPv4 header. `src`, `dst` and `options` are views into the parsed bytes. */
export interface Ipv4Header {
  /** IHL × 4, in octets (20..60). */
  headerLength: number;
  tos: number;
  totalLength: number;
  identification: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** Fragment Offset × 8, in octets. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  /** View of 4 octets. */
  src: Uint8Array;
  /** View of 4 octets. */
  dst: Uint8Array;
  /** View of the (unparsed) options, `headerLength - 20` octets. */
  options: Uint8Array;
}

/** A parsed IPv4 packet: its header and a view of its payload, `bytes[headerLength..totalLength)`. */
export interface Ipv4Packet {
  header: Ipv4Header;
  payload: Uint8Array;
}

/**
 * Parses an IPv4 packet. Octets past Total Length are link-layer padding and are ignored.
 * Drops: `truncated` (shorter than the header or than Total Length), `malformed` (version not 4,
 * IHL < 5, Total Length < header), `badChecksum`. Never throws; returns views, copies nothing.
 *
 * @example
 * const r = parseIpv4(bytes);
 * if (r.ok && r.header.protocol === IPPROTO.ESP) handleEsp(r.payload);
 */
export function parseIpv4(bytes: Uint8Array): Result<Ipv4Packet> {
  if (bytes.length < IPV4_MIN_HEADER) return { ok: false, reason: 'truncated' };
  const first = bytes[0]!;
  if (first >> 4 !== 4) return { ok: false, reason: 'malformed' };
  const headerLength = (first & 0x0f) * 4;
  // RFC 791 §3.1: "the minimum value for a correct header is 5".
  if (headerLength < IPV4_MIN_HEADER) return { ok: false, reason: 'malformed' };
  if (headerLength > bytes.length) return { ok: false, reason: 'truncated' };
  // RFC 791 §3.1: Total Length counts header and data.
  const totalLength = readU16(bytes, 2);
  if (totalLength < headerLength) return { ok: false, reason: 'malformed' };
  if (totalLength > bytes.length) return { ok: false, reason: 'truncated' };
  // RFC 791 §3.1 Header Checksum, RFC 1071 §1 (3): a correct header sums to 0xffff (checksum 0).
  if (internetChecksum(bytes, 0, headerLength) !== 0) return { ok: false, reason: 'badChecksum' };
  const flagsAndOffset = readU16(bytes, 6);
  return {
    ok: true,
    header: {
      headerLength,
      tos: bytes[1]!,
      totalLength,
      identification: readU16(bytes, 4),
      dontFragment: (flagsAndOffset & FLAG_DF) !== 0,
      moreFragments: (flagsAndOffset & FLAG_MF) !== 0,
      // RFC 791 §3.1: Fragment Offset is measured in units of 8 octets.
      fragmentOffset: (flagsAndOffset & FRAGMENT_OFFSET_MASK) * 8,
      ttl: bytes[8]!,
      protocol: bytes[9]!,
      checksum: readU16(bytes, 10),
      src: bytes.subarray(12, 16),
      dst: bytes.subarray(16, 20),
      options: bytes.subarray(IPV4_MIN_HEADER, headerLength),
    },
    payload: bytes.subarray(headerLength, totalLength),
  };
}

/** What `writeIpv4Header` needs; the packet it starts is never a fragment (MF = 0, offset 0). */
export interface Ipv4HeaderFields {
  tos?: number;
  totalLength: number;
  identification?: number;
  dontFragment?: boolean;
  /** Default 64. */
  ttl?: number;
  protocol: number;
  src: Uint8Array;
  dst: Uint8Array;
  /** Already padded to a multiple of 4 octets (RFC 791 §3.1 Padding), at most 40. */
  options?: Uint8Array;
}

function requireUint(value: number, max: number, argument: string): void {
  if (!(Number.isInteger(value) && value >= 0 && value <= max)) throw rangeError(argument, `must be an integer in [0, ${max}], got ${value}`);
}

function requireTotalLength(totalLength: number, headerLength: number, argument: string): void {
  if (!(Number.isInteger(totalLength) && totalLength >= headerLength && totalLength <= IPV4_MAX_TOTAL_LENGTH)) throw rangeError(argument, `must be an integer in [${headerLength}, 65535], got ${totalLength}`);
}

/**
 * Writes an IPv4 header at `out[offset..]`, checksum included, and returns its length
 * (20 + options). Throws a `RangeError` naming the argument on misuse (`fields.src` not 4 octets,
 * options not a multiple of 4, header past the end of `out`, ...).
 *
 * @example
 * const n = writeIpv4Header(out, 0, { totalLength: 20 + esp.length, protocol: IPPROTO.ESP, src, dst });
 */
export function writeIpv4Header(out: Uint8Array, offset: number, fields: Ipv4HeaderFields): number {
  const options = fields.options ?? NO_OPTIONS;
  // RFC 791 §3.1: the header ends on a 32-bit boundary; IHL caps options at 40 octets.
  if (!(options.length % 4 === 0 && options.length <= IPV4_MAX_HEADER - IPV4_MIN_HEADER)) throw rangeError('fields.options', `must be a multiple of 4 octets, at most 40, got ${options.length}`);
  const headerLength = IPV4_MIN_HEADER + options.length;
  if (!(Number.isInteger(offset) && offset >= 0 && offset + headerLength <= out.length)) throw rangeError('offset', `a ${headerLength}-octet header at ${offset} does not fit in ${out.length} octets`);
  if (!(fields.src.length === 4)) throw rangeError('fields.src', `must be 4 octets, got ${fields.src.length}`);
  if (!(fields.dst.length === 4)) throw rangeError('fields.dst', `must be 4 octets, got ${fields.dst.length}`);
  requireTotalLength(fields.totalLength, headerLength, 'fields.totalLength');
  const tos = fields.tos ?? 0;
  const identification = fields.identification ?? 0;
  const ttl = fields.ttl ?? 64;
  requireUint(tos, 0xff, 'fields.tos');
  requireUint(identification, 0xffff, 'fields.identification');
  requireUint(ttl, 0xff, 'fields.ttl');
  requireUint(fields.protocol, 0xff, 'fields.protocol');

  out[offset + 0] = 0x40 | (headerLength / 4); // RFC 791 §3.1: Version 4, IHL in 32-bit words
  out[offset + 1] = tos;
  writeU16(out, offset + 2, fields.totalLength);
  writeU16(out, offset + 4, identification);
  writeU16(out, offset + 6, fields.dontFragment ? FLAG_DF : 0);
  out[offset + 8] = ttl;
  out[offset + 9] = fields.protocol;
  writeU16(out, offset + 10, 0); // RFC 791 §3.1: "the value of the checksum field is zero" while computing it
  out.set(fields.src, offset + 12);
  out.set(fields.dst, offset + 16);
  out.set(options, offset + IPV4_MIN_HEADER);
  writeU16(out, offset + 10, internetChecksum(out, offset, offset + headerLength));
  return headerLength;
}

/**
 * Sets Protocol and Total Length of the IPv4 header at the start of `packet` and recomputes its
 * checksum: what transport mode does to the original header around ESP/AH (RFC 4303 §3.1.1).
 * Throws a `RangeError` if `packet` does not start with a whole IPv4 header or an argument is
 * out of range.
 *
 * @example
 * rewriteIpv4ProtocolAndLength(packet, IPPROTO.ESP, packet.length);
 */
export function rewriteIpv4ProtocolAndLength(packet: Uint8Array, protocol: number, totalLength: number): void {
  const first = packet[0] ?? 0;
  const headerLength = (first & 0x0f) * 4;
  if (!(first >> 4 === 4 && headerLength >= IPV4_MIN_HEADER && headerLength <= packet.length)) throw rangeError('packet', 'must start with a whole IPv4 header');
  requireUint(protocol, 0xff, 'protocol');
  requireTotalLength(totalLength, headerLength, 'totalLength');
  packet[9] = protocol;
  writeU16(packet, 2, totalLength);
  writeU16(packet, 10, 0);
  // RFC 791 §3.1 Header Checksum: recomputed wherever a header field changes.
  writeU16(packet, 10, internetChecksum(packet, 0, headerLength));
}

/**
 * True if the header is a fragment (MF set or a non-zero offset). IPsec processes whole packets
 * only: inbound fragments are reassembled before ESP/AH processing (RFC 4303 §3.4.1).
 *
 * @example
 * if (ipv4IsFragment(r.header)) return { ok: false, reason: 'fragment' };
 */
export function ipv4IsFragment(header: Ipv4Header): boolean {
  // RFC 791 §3.2: a datagram is whole when MF is 0 and the Fragment Offset is 0.
  return header.moreFragments || header.fragmentOffset !== 0;
}
