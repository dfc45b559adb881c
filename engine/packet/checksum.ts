/**
 * The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum of
 * 16-bit big-endian words. Used by the IPv4 header (RFC 791 §3.1) and UDP (RFC 768).
 */

import { rangeError } from '../errors.js';

/** 2^16, for folding carries without 32-bit truncation (`>>>` would wrap past 2^32). */
const WORD = 0x10000;

function checkArguments(bytes: Uint8Array, start: number, end: number, initial: number): void {
  if (!(Number.isInteger(start) && start >= 0)) throw rangeError('start', `must be an integer >= 0, got ${start}`);
  if (!(Number.isInteger(end) && end >= start && end <= bytes.length)) throw rangeError('end', `must be an integer in [start, bytes.length] = [${start}, ${bytes.length}], got ${end}`);
  if (!(Number.isSafeInteger(initial) && initial >= 0)) throw rangeError('initial', `must be a non-negative integer, got ${initial}`);
}

/**
 * One's complement sum of `bytes[start..end)` as 16-bit big-endian words, folded to 16 bits,
 * plus `initial` (a previous sum, to chain ranges). An odd final byte is padded on the right
 * with zero (RFC 1071 §1: [Z,0]), so every chained range except the last must have even length.
 * Throws a `RangeError` if `start`/`end` are not a range inside `bytes`.
 *
 * @example
 * onesComplementSum(fromHex('0001f203f4f5f6f7'), 0, 8) // 0xddf2 (RFC 1071 §3)
 */
export function onesComplementSum(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  checkArguments(bytes, start, end, initial);
  let sum = initial;
  const evenEnd = end - ((end - start) & 1);
  let i = start;
  for (; i < evenEnd; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  // RFC 1071 §1: an odd count of octets ends with the word [Z,0].
  if (i < end) sum += bytes[i]! << 8;
  // RFC 1071 §2 (D): end-around carries may be deferred, so fold once at the end.
  while (sum >= WORD) sum = (sum % WORD) + Math.floor(sum / WORD);
  return sum;
}

/**
 * The Internet checksum of `bytes[start..end)`: the one's complement of the folded sum
 * (RFC 1071 §1 (2)). Over a range that already holds a correct checksum it is 0 (§1 (3)).
 *
 * @example
 * internetChecksum(ipv4Header, 0, 20) === 0 // header checksum verifies
 */
export function internetChecksum(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  return ~onesComplementSum(bytes, start, end, initial) & 0xffff;
}
