/**
 * Small helpers the IKE codecs share: failure values for decoders, argument checks for
 * encoders (TypeError/RangeError naming the argument, DESIGN §6), and byte assembly.
 */

import { rangeError } from '../errors.js';
import type { IkeDecodeFailure, IkeDecodeReason } from './types.js';

/**
 * A decoder's refusal at offset `at` of its input.
 *
 * @example
 * if (body.length < 4) return fail('truncated', at, 'KE payload shorter than its 4-octet header');
 */
export function fail(reason: IkeDecodeReason, at: number, detail: string, extra?: Partial<IkeDecodeFailure>): IkeDecodeFailure {
  return { ok: false, reason, at, detail, ...extra };
}

/**
 * Throws a TypeError unless `value` is a Uint8Array, and a RangeError unless its length is in
 * `[min, max]`.
 *
 * @example
 * requireBytes(spi, 'header.spiI', 8, 8);
 */
export function requireBytes(value: unknown, argument: string, min: number, max: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${argument}: must be a Uint8Array`);
  if (value.length < min || value.length > max) {
    throw rangeError(argument, min === max ? `must be ${min} octets, got ${value.length}` : `must be ${min} to ${max} octets, got ${value.length}`);
  }
}

/**
 * Throws a RangeError unless `value` is an integer in `[0, max]` (TypeError if not a number).
 *
 * @example
 * requireUint(header.messageId, 0xffffffff, 'header.messageId');
 */
export function requireUint(value: unknown, max: number, argument: string): asserts value is number {
  if (typeof value !== 'number') throw new TypeError(`${argument}: must be a number`);
  if (!(Number.isInteger(value) && value >= 0 && value <= max)) throw rangeError(argument, `must be an integer in [0, ${max}], got ${value}`);
}

/**
 * Concatenates byte strings into one new array.
 *
 * @example
 * concatBytes([ni, nr, spiI, spiR]) // Ni | Nr | SPIi | SPIr
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Big-endian bytes of an unsigned integer in `octets` octets (1, 2 or 4).
 *
 * @example
 * uintBytes(0x4001, 2) // Uint8Array [0x40, 0x01]
 */
export function uintBytes(value: number, octets: 1 | 2 | 4): Uint8Array {
  const out = new Uint8Array(octets);
  for (let i = octets - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  return out;
}

/**
 * True when every octet is zero (e.g. an all-zero X25519 output, RFC 8031 §2.3).
 *
 * @example
 * isAllZero(new Uint8Array(32)) // true
 */
export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i]!;
  return acc === 0;
}
