/**
 * The AH header (RFC 4302 §2): layout, length rules and readers. Readers never throw; the
 * writer is called on buffers the data path sized itself.
 *
 *   0: Next Header · 1: Payload Len · 2..4: RESERVED · 4..8: SPI · 8..12: Sequence Number ·
 *   12..: ICV, padded to a multiple of 32 bits (IPv4) or 64 bits (IPv6)
 */

import { writeU32 } from '../bytes.js';
import { requireRange } from '../errors.js';

/** RFC 4302 §2: Next Header, Payload Len, RESERVED, SPI and Sequence Number: 12 octets. */
export const AH_FIXED_HEADER = 12;
/** Offset of the ICV inside AH (RFC 4302 §2.6). */
export const AH_ICV_OFFSET = 12;

/**
 * Octets of AH for an ICV of `icvLength` octets: the header padded to a multiple of `align`
 * (RFC 4302 §2.6, §3.3.3.2.1: 4 for IPv4, 8 for IPv6). Throws a `RangeError` on misuse.
 *
 * @example
 * ahLength(16, 8) // 32: 12 + 16 = 28, padded to 64 bits for IPv6 (HMAC-SHA2-256-128)
 */
export function ahLength(icvLength: number, align: 4 | 8): number {
  requireRange(Number.isInteger(icvLength) && icvLength > 0 && icvLength % 4 === 0, 'icvLength', `must be a positive multiple of 4, got ${icvLength}`);
  requireRange(align === 4 || align === 8, 'align', `must be 4 or 8, got ${align}`);
  const raw = AH_FIXED_HEADER + icvLength;
  return Math.ceil(raw / align) * align;
}

/**
 * The AH lengths a receiver accepts for an ICV of `icvLength` octets: for IPv6 the 64-bit
 * aligned one; for IPv4 the 32-bit aligned one (RFC 4302 §3.3.3.2.1) and also the 64-bit
 * aligned one, which the RFC prohibits a sender from using but Linux sends unless its SA carries
 * XFRM_STATE_ALIGN4. Accepting it costs nothing: the padding is covered by the ICV.
 *
 * @example
 * acceptableAhLength(28, 16, 4) // true
 */
export function acceptableAhLength(length: number, icvLength: number, version: 4 | 6): boolean {
  if (version === 6) return length === ahLength(icvLength, 8);
  return length === ahLength(icvLength, 4) || length === ahLength(icvLength, 8);
}

/** The fixed fields of a received AH header. */
export interface AhFields {
  nextHeader: number;
  /** Octets of the whole header: (Payload Len + 2) × 4 (RFC 4302 §2.2). */
  length: number;
  reserved: number;
  spi: number;
  seqLo: number;
}

/**
 * Reads the fixed fields; `undefined` when fewer than 12 octets are given.
 *
 * @example
 * const h = readAhFields(ip.payload); // h.length includes the ICV and its padding
 */
export function readAhFields(ah: Uint8Array): AhFields | undefined {
  if (ah.length < AH_FIXED_HEADER) return undefined;
  return {
    nextHeader: ah[0]!,
    // RFC 4302 §2.2: "the length of AH in 32-bit words (4-byte units), minus 2".
    length: (ah[1]! + 2) * 4,
    reserved: (ah[2]! << 8) | ah[3]!,
    spi: ((ah[4]! << 24) | (ah[5]! << 16) | (ah[6]! << 8) | ah[7]!) >>> 0,
    seqLo: ((ah[8]! << 24) | (ah[9]! << 16) | (ah[10]! << 8) | ah[11]!) >>> 0,
  };
}

/**
 * Writes the fixed fields at `out[offset..offset+12)`, RESERVED = 0 (RFC 4302 §2.3); the ICV
 * field and its padding are left as they are (zeros in a fresh buffer).
 *
 * @example
 * writeAhFields(out, 20, { nextHeader: IPPROTO.UDP, length: 24, spi, seqLo: 1 });
 */
export function writeAhFields(out: Uint8Array, offset: number, f: { nextHeader: number; length: number; spi: number; seqLo: number }): void {
  out[offset] = f.nextHeader;
  out[offset + 1] = f.length / 4 - 2; // RFC 4302 §2.2
  out[offset + 2] = 0;
  out[offset + 3] = 0;
  writeU32(out, offset + 4, f.spi);
  writeU32(out, offset + 8, f.seqLo); // RFC 4302 §2.5: only the low 32 bits travel
}
