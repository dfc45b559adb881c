/**
 * PRF and prf+ (RFC 7296 §2.13) on both back ends: RFC 4231 test cases 1-7 and RFC 4868
 * §2.7.1 PRF-1..6 (the PRF_HMAC_SHA2_* vectors), prf+ against Python (gen-ike-python.py) and
 * against a by-hand composition of HMAC calls, node and noble byte-identical.
 */

import { createHmac } from 'node:crypto';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../engine/bytes.js';
import { createPrf, PRF_ID, PRF_PLUS_MAX_BLOCKS, prfSpec } from '../../../engine/ike/index.js';
import { loadVectors } from '../../vectors/load.js';

const BACKENDS = ['node', 'noble'] as const;
const PRF_BY_HASH = { sha256: PRF_ID.HMAC_SHA2_256, sha384: PRF_ID.HMAC_SHA2_384, sha512: PRF_ID.HMAC_SHA2_512 } as const;
const rfc4231 = loadVectors('ike/hmac-sha2-rfc4231.json').vectors as Array<Record<string, string | number>>;
const rfc4868 = (loadVectors('hmac-sha2-rfc4868.json').vectors as Array<Record<string, string>>).filter((v) => v.id!.includes('PRF'));
const python = loadVectors('ike/ike-python.json');

describe.each(BACKENDS)('PRF, %s back end', (backend) => {
  for (const v of rfc4231) {
    for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
      it(`rfc4231/case-${v.case}/${hash}`, () => {
        const out = toHex(createPrf(PRF_BY_HASH[hash], backend).compute(fromHex(v.key as string), fromHex(v.data as string)));
        expect(out.slice(0, (v[hash] as string).length)).toBe(v[hash]);
      });
    }
  }

  it.each(rfc4868.map((v) => [v.id, v]))('%s', (_id, v) => {
    const prf = createPrf(PRF_BY_HASH[v.hash as keyof typeof PRF_BY_HASH], backend);
    expect(toHex(prf.compute(fromHex(v.key!), fromHex(v.data!)))).toBe(v.full_mac);
  });

  it.each((python.prfPlus as any[]).map((v: any) => [`prf ${v.prf}, ${v.length} octets`, v] as [string, any]))('python/prf+ %s', (_n, v) => {
    expect(toHex(createPrf(v.prf, backend).plus(fromHex(v.key), fromHex(v.seed), v.length))).toBe(v.output);
  });

  it('prf+ by hand: T1 = prf(K, S | 0x01), T2 = prf(K, T1 | S | 0x02), output T1 | T2 cut to length (§2.13)', () => {
    const key = new TextEncoder().encode('key');
    const seed = new TextEncoder().encode('seed');
    const hmac = (data: Uint8Array[]) => {
      const h = createHmac('sha256', key);
      for (const d of data) h.update(d);
      return new Uint8Array(h.digest());
    };
    const t1 = hmac([seed, Uint8Array.of(1)]);
    const t2 = hmac([t1, seed, Uint8Array.of(2)]);
    const out = createPrf(PRF_ID.HMAC_SHA2_256, backend).plus(key, seed, 40);
    expect(toHex(out)).toBe(toHex(t1) + toHex(t2).slice(0, 16));
    // The same value Python computed from the RFC text.
    expect(toHex(out)).toBe(python.prfPlus[0].output);
    // A seed given in parts is their concatenation.
    expect(toHex(createPrf(PRF_ID.HMAC_SHA2_256, backend).plus(key, [seed.subarray(0, 2), seed.subarray(2)], 40))).toBe(toHex(out));
  });

  it('prf+ is defined up to 255 blocks (§2.13)', () => {
    const prf = createPrf(PRF_ID.HMAC_SHA2_256, backend);
    expect(prf.plus(new Uint8Array(4), new Uint8Array(1), PRF_PLUS_MAX_BLOCKS * 32)).toHaveLength(8160);
    expect(() => prf.plus(new Uint8Array(4), new Uint8Array(1), PRF_PLUS_MAX_BLOCKS * 32 + 1)).toThrow(/length/);
    expect(prf.plus(new Uint8Array(4), new Uint8Array(1), 0)).toHaveLength(0);
  });
});

describe('PRF transforms', () => {
  it('knows SHA-1 and SHA-2 PRFs with their preferred key lengths, refuses the rest', () => {
    expect([2, 5, 6, 7].map((id) => createPrf(id).preferredKeyLength)).toEqual([20, 32, 48, 64]);
    expect(prfSpec(PRF_ID.HMAC_SHA2_384).hash).toBe('sha384');
    expect(() => createPrf(4)).toThrow(/prf: unknown or unsupported PRF transform 4/);
    expect(() => createPrf(5).compute('k' as unknown as Uint8Array, new Uint8Array(0))).toThrow(TypeError);
  });

  test.prop([fc.constantFrom(2, 5, 6, 7), fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 700 })], { numRuns: 200 })(
    'node and noble back ends give identical prf and prf+',
    (id, key, seed, length) => {
      const [node, noble] = BACKENDS.map((b) => createPrf(id, b));
      expect(toHex(noble!.compute(key, seed))).toBe(toHex(node!.compute(key, seed)));
      expect(toHex(noble!.plus(key, seed, length))).toBe(toHex(node!.plus(key, seed, length)));
    },
  );
});
