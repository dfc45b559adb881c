/** PfKeyFrameReader: any chunking of a stream of PF_KEY messages yields the same messages. */

import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { PfKeyFrameReader } from '../../../adapters/pfkey/frameReader.js';
import { toHex } from '../../../engine/bytes.js';
import { encodePfKey } from '../../../engine/pfkey/encode.js';
import { arbMessage } from '../../engine/pfkey/arbitraries.js';

describe('PfKeyFrameReader', () => {
  test.prop([fc.array(arbMessage, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 })], { numRuns: 300 })(
    'frames = messages, whatever the chunk boundaries',
    (msgs, cuts) => {
      const encoded = msgs.map(encodePfKey);
      const stream = new Uint8Array(encoded.reduce((n, e) => n + e.length, 0));
      let at = 0;
      for (const e of encoded) {
        stream.set(e, at);
        at += e.length;
      }
      const reader = new PfKeyFrameReader();
      const frames: Uint8Array[] = [];
      let i = 0;
      for (let pos = 0; pos < stream.length; i++) {
        const n = cuts[i % cuts.length]!;
        const r = reader.push(stream.subarray(pos, pos + n));
        expect(r.error).toBeUndefined();
        frames.push(...r.frames);
        pos += n;
      }
      expect(frames.map(toHex)).toEqual(encoded.map(toHex));
      expect(reader.pending).toBe(0);
    },
  );

  it('sadb_msg_len below 2 or a version other than 2 stops the reader for good', () => {
    const r = new PfKeyFrameReader();
    const ok = encodePfKey({ type: 'FLUSH', satype: 0, errno: 0, seq: 1, pid: 1, ext: {} });
    const bad = Uint8Array.from([2, 9, 0, 0, 1, 0, 0, 0]);
    const out = r.push(Uint8Array.from([...ok, ...bad]));
    expect(out.frames.map(toHex)).toEqual([toHex(ok)]);
    expect(out.error).toMatch(/sadb_msg_len 1/);
    expect(r.push(ok)).toEqual({ frames: [], error: out.error });
    expect(new PfKeyFrameReader().push(Uint8Array.from([3, 9, 0, 0, 2, 0])).error).toMatch(/version 3/);
    expect(new PfKeyFrameReader().push(Uint8Array.from([2, 9, 0, 0, 2])).frames).toEqual([]); // not enough to judge yet
  });
});
