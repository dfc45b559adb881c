/** Property: decode(encode(m)) = m for every message type with random allowed extensions. */

import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../engine/bytes.js';
import { PFKEY_MSG_TYPES } from '../../../engine/pfkey/constants.js';
import { decodePfKey } from '../../../engine/pfkey/decode.js';
import { encodePfKey } from '../../../engine/pfkey/encode.js';
import { ALLOWED_EXTENSIONS, EXT_KEYS, type ExtKey } from '../../../engine/pfkey/types.js';
import { arbMessage, arbMessageOf, EXT_ARBS } from './arbitraries.js';

describe('PF_KEY round trip', () => {
  it('covers all 24 message types and all 26 extension types', () => {
    expect(PFKEY_MSG_TYPES).toHaveLength(24);
    expect(EXT_KEYS).toHaveLength(26);
    const carried = new Set(Object.values(ALLOWED_EXTENSIONS).flat() as ExtKey[]);
    expect([...carried].sort()).toEqual([...EXT_KEYS].sort());
  });

  for (const type of PFKEY_MSG_TYPES) {
    test.prop([arbMessageOf(type)], { numRuns: 60 })(`${type}: decode(encode(m)) = m, encode(decode(b)) = b`, (m) => {
      const bytes = encodePfKey(m);
      expect(bytes.length % 8).toBe(0);
      const r = decodePfKey(bytes);
      expect(r.ok ? r.msg : r.error).toEqual(m);
      if (r.ok) expect(toHex(encodePfKey(r.msg))).toBe(toHex(bytes));
    });
  }

  for (const key of EXT_KEYS) {
    const carrier = (Object.keys(ALLOWED_EXTENSIONS) as (keyof typeof ALLOWED_EXTENSIONS)[]).find((t) =>
      (ALLOWED_EXTENSIONS[t] as readonly ExtKey[]).includes(key),
    )!;
    test.prop([EXT_ARBS[key] as fc.Arbitrary<unknown>], { numRuns: 80 })(`extension ${key} alone in ${carrier}`, (value) => {
      const m = { type: carrier, satype: 3, errno: 0, seq: 1, pid: 2, ext: { [key]: value } } as never;
      const r = decodePfKey(encodePfKey(m));
      expect(r.ok ? r.msg : r.error).toEqual(m);
    });
  }

  test.prop([arbMessage], { numRuns: 500 })('any message: every extension header is 8-aligned and tiles the message', (m) => {
    const b = encodePfKey(m);
    const v = new DataView(b.buffer);
    expect(v.getUint16(4, true) * 8).toBe(b.length);
    if (m.type === 'X_PROMISC') return;
    let at = 16;
    let n = 0;
    while (at < b.length) {
      const len = v.getUint16(at, true) * 8;
      expect(len).toBeGreaterThanOrEqual(8);
      at += len;
      n++;
    }
    expect(at).toBe(b.length);
    expect(n).toBe(Object.keys(m.ext).length);
  });
});
