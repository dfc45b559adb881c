/** Byte helpers shared by the engine. No I/O; no allocation beyond what each says. */

/**
 * Bytes from a hex string (whitespace allowed).
 *
 * @example
 * fromHex('0a0b') // Uint8Array [10, 11]
 */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) {
    throw new TypeError(`hex: not an even-length hex string`);
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Lower-case hex of some bytes.
 *
 * @example
 * toHex(new Uint8Array([10, 11])) // '0a0b'
 */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (bytes[i]! < 16 ? '0' : '') + bytes[i]!.toString(16);
  return s;
}

/**
 * Compares two byte ranges in time independent of where they differ (for ICVs).
 *
 * @example
 * constantTimeEqual(icvReceived, icvComputed)
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * A DataView over exactly the bytes of `b` (which may be a subarray of a larger buffer).
 *
 * @example
 * viewOf(packet).getUint32(0) // SPI
 */
export function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
