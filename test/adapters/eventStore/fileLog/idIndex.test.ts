import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdIndex, idHash } from '../../../../adapters/eventStore/fileLog/idIndex.js';
import type { IdHolder } from '../../../../adapters/eventStore/fileLog/idIndex.js';

/** Streams append ids; the reference is a Map per stream (what the file log kept before). */
const op = fc.record({ stream: fc.nat(5), id: fc.string({ minLength: 1, maxLength: 6 }) });

describe('IdIndex', () => {
  it('answers as a Map per stream would, for any appends, with real hashes and with hashes that collide all the time', () => {
    for (const narrow of [false, true]) {
      // narrow: 4 distinct hashes, so nearly every probe meets other ids and must compare the id itself.
      const hash = narrow ? (id: string) => (idHash(id) & 6) | 1 : idHash;
      fc.assert(
        fc.property(fc.array(op, { minLength: 600, maxLength: 3000 }), (ops) => {
          const index = new IdIndex();
          const streams: IdHolder[] = [];
          const reference: Map<string, number>[] = [];
          for (let s = 0; s < 6; s++) {
            const h: IdHolder = { ordinal: -1, idList: [] };
            index.register(h);
            streams.push(h);
            reference.push(new Map());
          }
          for (const { stream, id } of ops) {
            const h = streams[stream]!;
            const ref = reference[stream]!;
            expect(index.versionOf(h, id, hash(id))).toBe(ref.get(id));
            if (ref.has(id)) continue; // the store never adds an id its stream holds
            h.idList.push(id);
            index.add(h, hash(id), h.idList.length);
            ref.set(id, h.idList.length);
          }
          // Every id of every stream, and none of another stream's.
          for (let s = 0; s < 6; s++) {
            for (const [id, v] of reference[s]!) expect(index.versionOf(streams[s]!, id, hash(id))).toBe(v);
            for (const id of reference[(s + 1) % 6]!.keys()) expect(index.versionOf(streams[s]!, id, hash(id))).toBe(reference[s]!.get(id));
          }
        }),
        { numRuns: narrow ? 40 : 100 },
      );
    }
  });

  it('idHash is a nonzero 32-bit integer, equal for equal strings', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const h = idHash(s);
        expect(Number.isInteger(h) && h !== 0 && h >= -(2 ** 31) && h < 2 ** 31).toBe(true);
        expect(idHash([...s].join(''))).toBe(h); // an equal string built apart
      }),
    );
  });
});
