import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { fromHex } from '../../../engine/bytes.js';
import { internetChecksum, onesComplementSum } from '../../../engine/packet/checksum.js';
import { referenceOnesSum } from './vectors.js';

describe('RFC 1071 checksum', () => {
  it('sums the RFC 1071 §3 worked example to 0xddf2', () => {
    const bytes = fromHex('0001f203f4f5f6f7');
    expect(onesComplementSum(bytes, 0, 8)).toBe(0xddf2);
    expect(internetChecksum(bytes, 0, 8)).toBe(0x220d);
  });

  it('pads an odd final byte with zero on the right (RFC 1071 §1: [Z,0])', () => {
    expect(onesComplementSum(fromHex('ab'), 0, 1)).toBe(0xab00);
    expect(onesComplementSum(fromHex('0102ab'), 0, 3)).toBe(0x0102 + 0xab00);
  });

  it('sums only [start, end)', () => {
    const bytes = fromHex('ffff0001f203f4f5f6f7ffff');
    expect(onesComplementSum(bytes, 2, 10)).toBe(0xddf2);
  });

  it('throws a RangeError naming the argument for a bad range', () => {
    const bytes = new Uint8Array(4);
    expect(() => onesComplementSum(bytes, -1, 2)).toThrow(/start/);
    expect(() => onesComplementSum(bytes, 0, 5)).toThrow(/end/);
    expect(() => onesComplementSum(bytes, 3, 2)).toThrow(RangeError);
    expect(() => onesComplementSum(bytes, 0, 2, -1)).toThrow(/initial/);
  });

  test.prop([fc.uint8Array({ maxLength: 3000 })])('agrees with a BigInt modulo-0xffff reference', (bytes) => {
    expect(onesComplementSum(bytes, 0, bytes.length)).toBe(referenceOnesSum(bytes));
  });

  test.prop([fc.uint8Array({ maxLength: 600 }), fc.nat(300)])(
    'chains through `initial` when the first range has even length',
    (bytes, cut) => {
      const split = Math.min(bytes.length, cut) & ~1;
      const chained = onesComplementSum(bytes, split, bytes.length, onesComplementSum(bytes, 0, split));
      expect(chained).toBe(onesComplementSum(bytes, 0, bytes.length));
    },
  );

  test.prop([fc.uint8Array({ minLength: 2, maxLength: 200 }).map((b) => b.subarray(0, b.length & ~1))])(
    'a range holding its own checksum verifies to 0 (RFC 1071 §1 (3))',
    (body) => {
      const bytes = new Uint8Array(body.length + 2);
      bytes.set(body);
      const c = internetChecksum(bytes, 0, bytes.length);
      bytes[body.length] = c >> 8;
      bytes[body.length + 1] = c & 0xff;
      // All-zero data has sum 0 and checksum 0xffff; with it inserted the sum is 0xffff.
      expect(internetChecksum(bytes, 0, bytes.length)).toBe(0);
    },
  );
});
