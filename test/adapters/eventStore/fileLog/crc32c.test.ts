import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../../../adapters/eventStore/fileLog/crc32c.js';

/** Bit by bit, straight from the definition: the slicing-by-8 tables must agree with it. */
function reference(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('crc32c', () => {
  it('matches the RFC 3720 §B.4 vectors and the check value', () => {
    const inc = Uint8Array.from({ length: 32 }, (_, i) => i);
    const dec = Uint8Array.from({ length: 32 }, (_, i) => 31 - i);
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(inc)).toBe(0x46dd794e);
    expect(crc32c(dec)).toBe(0x113fdb5c);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  test.prop([fc.uint8Array({ maxLength: 300 }), fc.nat()])('equals the bitwise definition, and continues across any split', (bytes, at) => {
    const split = bytes.length === 0 ? 0 : at % (bytes.length + 1);
    expect(crc32c(bytes)).toBe(reference(bytes));
    expect(crc32c(bytes, crc32c(bytes, 0, 0, split), split)).toBe(reference(bytes));
  });
});
