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

// Big-endian field access for hot paths. A `DataView` costs ~55 ns to create per packet here,
// more than the header work itself; these inline to a few shifts.

/** Big-endian unsigned 16-bit read. @example readU16(packet, 2) // IPv4 Total Length */
export function readU16(b: Uint8Array, offset: number): number {
  return (b[offset]! << 8) | b[offset + 1]!;
}

/** Big-endian unsigned 32-bit read. @example readU32(esp, 0) // SPI */
export function readU32(b: Uint8Array, offset: number): number {
  return ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!) >>> 0;
}

/** Big-endian 16-bit write. @example writeU16(packet, 2, totalLength) */
export function writeU16(b: Uint8Array, offset: number, value: number): void {
  b[offset] = value >>> 8;
  b[offset + 1] = value;
}

/** Big-endian 32-bit write. @example writeU32(esp, 0, spi) */
export function writeU32(b: Uint8Array, offset: number, value: number): void {
  b[offset] = value >>> 24;
  b[offset + 1] = value >>> 16;
  b[offset + 2] = value >>> 8;
  b[offset + 3] = value;
}
