/**
 * ESP header fields and trailer (RFC 4303 §2). Readers never throw; writers throw a
 * `RangeError` naming the argument on misuse.
 */

import type { Result } from '../dropReasons.js';
import { rangeError } from '../errors.js';

/** RFC 4303 §2.1-2.2: SPI (4 octets) and Sequence Number (4 octets). */
export const ESP_HEADER = 8;
/** RFC 4303 §2.4-2.5: Pad Length and Next Header, one octet each, close the trailer. */
export const ESP_TRAILER_FIXED = 2;
/** RFC 4303 §2.4: Pad Length is one octet. */
export const ESP_MAX_PAD = 255;

/**
 * The SPI of an ESP packet (RFC 4303 §2.1), unsigned. The caller guarantees `esp.length >= 8`
 * (as `classifyUdpEncap` does); on shorter input the value is meaningless, though nothing throws.
 * Reads octets directly: no DataView is allocated per packet.
 *
 * @example
 * const sa = sad.lookup(readEspSpi(esp), dst);
 */
export function readEspSpi(esp: Uint8Array): number {
  return ((esp[0]! << 24) | (esp[1]! << 16) | (esp[2]! << 8) | esp[3]!) >>> 0;
}

/**
 * The (low 32 bits of the) Sequence Number of an ESP packet (RFC 4303 §2.2), unsigned. The caller
 * guarantees `esp.length >= 8`; on shorter input the value is meaningless, though nothing throws.
 *
 * @example
 * const seqLo = readEspSeq(esp);
 */
export function readEspSeq(esp: Uint8Array): number {
  return ((esp[4]! << 24) | (esp[5]! << 16) | (esp[6]! << 8) | esp[7]!) >>> 0;
}

/**
 * Number of padding octets so that payload ‖ padding ‖ Pad Length ‖ Next Header is a multiple of
 * the cipher's block size `padAlign` and of 4 (RFC 4303 §2.4: the ciphertext ends on a 4-octet
 * boundary). `padAlign` is a power of two up to 256 (1 for stream and combined modes); the
 * minimum padding is chosen (no TFC padding here). Throws a `RangeError` on misuse.
 *
 * @example
 * espPadLength(64, 16) // 14: 64 + 14 + 2 = 80 (RFC 3602 §4 case 5)
 */
export function espPadLength(payloadLength: number, padAlign: number): number {
  if (!(Number.isSafeInteger(payloadLength) && payloadLength >= 0)) throw rangeError('payloadLength', `must be a non-negative integer, got ${payloadLength}`);
  if (!(Number.isInteger(padAlign) && padAlign >= 1 && padAlign <= 256 && (padAlign & (padAlign - 1)) === 0)) throw rangeError('padAlign', `must be a power of two in [1, 256], got ${padAlign}`);
  // RFC 4303 §2.4: align to the block size, and to 4 octets in any case.
  const align = Math.max(padAlign, 4);
  return (align - ((payloadLength + ESP_TRAILER_FIXED) % align)) % align;
}

/**
 * Writes padding 1, 2, 3, ... (RFC 4303 §2.4 default), Pad Length and Next Header at
 * `out[offset..]` and returns the offset just past them. Throws a `RangeError` naming the
 * argument when `padLength` or `nextHeader` is not an octet or the trailer does not fit.
 *
 * @example
 * let end = writeEspTrailer(out, payloadEnd, espPadLength(payloadLength, 16), IPPROTO.IPV4);
 */
export function writeEspTrailer(
  out: Uint8Array,
  offset: number,
  padLength: number,
  nextHeader: number,
): number {
  if (!(Number.isInteger(padLength) && padLength >= 0 && padLength <= ESP_MAX_PAD)) throw rangeError('padLength', `must be an integer in [0, 255], got ${padLength}`);
  if (!(Number.isInteger(nextHeader) && nextHeader >= 0 && nextHeader <= 0xff)) throw rangeError('nextHeader', `must be an integer in [0, 255], got ${nextHeader}`);
  const end = offset + padLength + ESP_TRAILER_FIXED;
  if (!(Number.isInteger(offset) && offset >= 0 && end <= out.length)) throw rangeError('offset', `a ${end - offset}-octet trailer at ${offset} does not fit in ${out.length} octets`);
  // RFC 4303 §2.4: "the first padding byte appended to the plaintext is numbered 1".
  for (let i = 0; i < padLength; i++) out[offset + i] = i + 1;
  out[end - 2] = padLength;
  out[end - 1] = nextHeader;
  return end;
}

/** The trailer fields of a decrypted ESP payload. */
export interface EspTrailer {
  /** Octets of the protected payload, before the padding. */
  payloadLength: number;
  padLength: number;
  nextHeader: number;
}

/**
 * Reads the trailer of decrypted ESP data `plain` = payload ‖ padding ‖ Pad Length ‖ Next Header
 * and checks the padding. Drops: `truncated` (fewer than 2 octets), `badPadding` (Pad Length
 * overruns the data, or padding not 1, 2, 3, ...). Never throws. Run it only after the ICV
 * verified: its verdict must not become a padding oracle on unauthenticated data.
 *
 * @example
 * const t = parseEspTrailer(plain);
 * if (t.ok) deliver(plain.subarray(0, t.payloadLength), t.nextHeader);
 */
export function parseEspTrailer(plain: Uint8Array): Result<EspTrailer> {
  const length = plain.length;
  if (length < ESP_TRAILER_FIXED) return { ok: false, reason: 'truncated' };
  const padLength = plain[length - 2]!;
  const nextHeader = plain[length - 1]!;
  const payloadLength = length - ESP_TRAILER_FIXED - padLength;
  if (payloadLength < 0) return { ok: false, reason: 'badPadding' };
  // RFC 4303 §2.4: with the default padding, the receiver SHOULD inspect the Padding field.
  for (let i = 0; i < padLength; i++) {
    if (plain[payloadLength + i] !== i + 1) return { ok: false, reason: 'badPadding' };
  }
  return { ok: true, payloadLength, padLength, nextHeader };
}
