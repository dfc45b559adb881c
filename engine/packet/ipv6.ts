/**
 * IPv6 header and extension-chain codec (RFC 8200). Parsing never throws and returns views and
 * offsets into the input; writing validates its arguments and throws a `RangeError` on misuse.
 */

import type { Result } from '../dropReasons.js';
import { rangeError } from '../errors.js';
import { readU16, readU32, writeU16, writeU32 } from '../bytes.js';
import { IPPROTO, isWalkedIpv6Extension } from './ipProtocol.js';

/** RFC 8200 §3: the fixed header is 40 octets. */
export const IPV6_HEADER = 40;
/** RFC 8200 §4.5: the Fragment header has a fixed length of 8 octets. */
export const IPV6_FRAGMENT_HEADER = 8;
/** Offset of the fixed header's Next Header octet (RFC 8200 §3). */
export const IPV6_NEXT_HEADER_OFFSET = 6;

/** The fixed IPv6 header. `src` and `dst` are 16-octet views into the parsed bytes. */
export interface Ipv6Header {
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: Uint8Array;
  dst: Uint8Array;
}

/** One extension header of the chain: its type (the Next Header value naming it) and place. */
export interface Ipv6Extension {
  type: number;
  /** From the start of the packet; its first octet is the Next Header of what follows it. */
  offset: number;
  length: number;
}

/** The Fragment header's fields (RFC 8200 §4.5). */
export interface Ipv6Fragment {
  /** Fragment Offset × 8, in octets. */
  offset: number;
  moreFragments: boolean;
  identification: number;
}

/** A parsed IPv6 packet: the fixed header, the walked extension chain and where IPsec goes. */
export interface Ipv6Packet {
  header: Ipv6Header;
  /** `bytes[0 .. 40 + payloadLength)`: octets past Payload Length are ignored. */
  packet: Uint8Array;
  extensions: Ipv6Extension[];
  /** First protocol past the walked extensions (ESP, AH, an upper layer, 59, ...). */
  upperProtocol: number;
  upperOffset: number;
  /** Offset of the octet that holds `upperProtocol` (6 without extensions). */
  lastNextHeaderOffset: number;
  /** Fields of the first Fragment header, if any. */
  fragment?: Ipv6Fragment;
  /** Transport mode: where ESP/AH is inserted (RFC 4303 §3.1.1, RFC 4302 §3.1.1). */
  ipsecInsertOffset: number;
  /** Transport mode: the Next Header octet that must then name ESP/AH (6 without extensions). */
  ipsecInsertNextHeaderOffset: number;
}

/**
 * Parses an IPv6 packet and walks its Hop-by-Hop, Routing, Fragment and Destination Options
 * headers, stopping at anything else (ESP, AH, upper layers, No Next Header) and after a
 * non-first fragment's Fragment header (what follows it is data, not headers).
 * Drops: `truncated` (shorter than 40 or than 40 + Payload Length), `malformed` (version not 6,
 * a jumbogram (RFC 2675, unsupported); Hop-by-Hop not first; an extension header that
 * overruns Payload Length). Never throws; copies nothing.
 *
 * Transport mode inserts ESP/AH right after the last Hop-by-Hop, Routing or Fragment header:
 * those are examined on the way (RFC 4303 §3.1.1 "after hop-by-hop, routing, and fragmentation
 * extension headers"); a Destination Options header therefore stays before ESP/AH only when a
 * Routing (or Fragment) header follows it (RFC 8200 §4.1 note 1), and is protected otherwise.
 *
 * @example
 * const r = parseIpv6(bytes);
 * if (r.ok && r.upperProtocol === IPPROTO.ESP) handleEsp(r.packet.subarray(r.upperOffset));
 */
export function parseIpv6(bytes: Uint8Array): Result<Ipv6Packet> {
  if (bytes.length < IPV6_HEADER) return { ok: false, reason: 'truncated' };
  const word0 = readU32(bytes, 0);
  if (word0 >>> 28 !== 6) return { ok: false, reason: 'malformed' };
  const payloadLength = readU16(bytes, 4);
  // RFC 8200 §3: Payload Length 0 is an empty payload (e.g. Next Header 59). A jumbogram
  // (RFC 2675 §2) also says 0 but needs a Hop-by-Hop header, which cannot fit in 0 octets, so
  // the extension walk below refuses it as overrunning Payload Length.
  const end = IPV6_HEADER + payloadLength;
  if (end > bytes.length) return { ok: false, reason: 'truncated' };

  const extensions: Ipv6Extension[] = [];
  let fragment: Ipv6Fragment | undefined;
  let nextHeader = bytes[IPV6_NEXT_HEADER_OFFSET]!;
  let nextHeaderOffset = IPV6_NEXT_HEADER_OFFSET;
  let offset = IPV6_HEADER;
  let insertOffset = IPV6_HEADER;
  let insertNextHeaderOffset = IPV6_NEXT_HEADER_OFFSET;
  while (isWalkedIpv6Extension(nextHeader)) {
    const type = nextHeader;
    // RFC 8200 §4.3: Hop-by-Hop Options appear only immediately after the IPv6 header.
    if (type === IPPROTO.HOPOPTS && offset !== IPV6_HEADER) {
      return { ok: false, reason: 'malformed' };
    }
    // RFC 8200 §4: every extension header is a multiple of 8 octets, at least 8.
    if (offset + 8 > end) return { ok: false, reason: 'malformed' };
    // RFC 8200 §4.3-4.6: Hdr Ext Len counts 8-octet units past the first 8; Fragment is fixed.
    const length =
      type === IPPROTO.FRAGMENT ? IPV6_FRAGMENT_HEADER : (bytes[offset + 1]! + 1) * 8;
    if (offset + length > end) return { ok: false, reason: 'malformed' };
    extensions.push({ type, offset, length });
    nextHeader = bytes[offset]!;
    nextHeaderOffset = offset;
    offset += length;
    // RFC 4303 §3.1.1, RFC 4302 §3.1.1: ESP/AH go after hop-by-hop, routing and fragment headers.
    if (type !== IPPROTO.DSTOPTS) {
      insertOffset = offset;
      insertNextHeaderOffset = nextHeaderOffset;
    }
    if (type === IPPROTO.FRAGMENT) {
      const offsetAndFlags = readU16(bytes, nextHeaderOffset + 2);
      // RFC 8200 §4.5: Fragment Offset is the high 13 bits, in 8-octet units; M is the low bit.
      const fragmentOffset = offsetAndFlags & 0xfff8;
      fragment ??= {
        offset: fragmentOffset,
        moreFragments: (offsetAndFlags & 1) !== 0,
        identification: readU32(bytes, nextHeaderOffset + 4),
      };
      // RFC 8200 §4.5: past a non-first fragment's header lies fragment data, not headers.
      if (fragmentOffset !== 0) break;
    }
  }
  return {
    ok: true,
    header: {
      trafficClass: (word0 >>> 20) & 0xff,
      flowLabel: word0 & 0xfffff,
      payloadLength,
      nextHeader: bytes[IPV6_NEXT_HEADER_OFFSET]!,
      hopLimit: bytes[7]!,
      src: bytes.subarray(8, 24),
      dst: bytes.subarray(24, 40),
    },
    packet: bytes.subarray(0, end),
    extensions,
    upperProtocol: nextHeader,
    upperOffset: offset,
    lastNextHeaderOffset: nextHeaderOffset,
    fragment,
    ipsecInsertOffset: insertOffset,
    ipsecInsertNextHeaderOffset: insertNextHeaderOffset,
  };
}

/** What `writeIpv6Header` needs. */
export interface Ipv6HeaderFields {
  trafficClass?: number;
  flowLabel?: number;
  /** 1..65535: everything after the fixed header, extension headers included (RFC 8200 §3). */
  payloadLength: number;
  nextHeader: number;
  /** Default 64. */
  hopLimit?: number;
  src: Uint8Array;
  dst: Uint8Array;
}

function requireUint(value: number, min: number, max: number, argument: string): void {
  if (!(Number.isInteger(value) && value >= min && value <= max)) throw rangeError(argument, `must be an integer in [${min}, ${max}], got ${value}`);
}

/**
 * Writes the 40-octet fixed IPv6 header at `out[offset..]` and returns 40. Throws a
 * `RangeError` naming the argument on misuse (`fields.src` not 16 octets, Payload Length 0,
 * header past the end of `out`, ...).
 *
 * @example
 * writeIpv6Header(out, 0, { payloadLength: esp.length, nextHeader: IPPROTO.ESP, src, dst });
 */
export function writeIpv6Header(out: Uint8Array, offset: number, fields: Ipv6HeaderFields): number {
  if (!(Number.isInteger(offset) && offset >= 0 && offset + IPV6_HEADER <= out.length)) throw rangeError('offset', `a 40-octet header at ${offset} does not fit in ${out.length} octets`);
  if (!(fields.src.length === 16)) throw rangeError('fields.src', `must be 16 octets, got ${fields.src.length}`);
  if (!(fields.dst.length === 16)) throw rangeError('fields.dst', `must be 16 octets, got ${fields.dst.length}`);
  const trafficClass = fields.trafficClass ?? 0;
  const flowLabel = fields.flowLabel ?? 0;
  const hopLimit = fields.hopLimit ?? 64;
  requireUint(trafficClass, 0, 0xff, 'fields.trafficClass');
  requireUint(flowLabel, 0, 0xfffff, 'fields.flowLabel');
  requireUint(fields.payloadLength, 0, 0xffff, 'fields.payloadLength');
  requireUint(fields.nextHeader, 0, 0xff, 'fields.nextHeader');
  requireUint(hopLimit, 0, 0xff, 'fields.hopLimit');

  // RFC 8200 §3: Version (4 bits) | Traffic Class (8) | Flow Label (20).
  writeU32(out, offset + 0, ((6 << 28) | (trafficClass << 20) | flowLabel) >>> 0);
  writeU16(out, offset + 4, fields.payloadLength);
  out[offset + 6] = fields.nextHeader;
  out[offset + 7] = hopLimit;
  out.set(fields.src, offset + 8);
  out.set(fields.dst, offset + 24);
  return IPV6_HEADER;
}
