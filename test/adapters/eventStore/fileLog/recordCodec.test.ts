/**
 * The codec's fast paths against the plain ones they replace: `eventsJson` (one JSON.stringify
 * per append) gives the very text, and the very errors, of `serializeEvents` + per-field JSON;
 * `encodeRecordInto` gives the bytes `readRecord` decodes back, within the bound it promised.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { eventsJson, encodeRecordInto, readRecord, recordBytesBound, recordBytesExact, recordEvents, sealRecord, RECORD_HEADER_BYTES } from '../../../../adapters/eventStore/fileLog/recordCodec.js';
import { serializeEvents } from '../../../../adapters/eventStore/storeRules.js';
import type { EventData } from '../../../../adapters/eventStore/types.js';

/** The reference: each field serialized alone, then joined (what the log wrote before). */
function reference(events: unknown): string {
  const s = serializeEvents(events);
  return `[${s.map((e) => `[${JSON.stringify(e.type)},${e.dataJson},${e.metadataJson}]`).join(',')}]`;
}

function outcome(f: () => string): { ok: string } | { error: string; name: string } {
  try {
    return { ok: f() };
  } catch (e) {
    return { error: (e as Error).message, name: (e as Error).name };
  }
}

const text = fc.string({ unit: 'binary', maxLength: 12 });
const id = fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.uuid(), fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }));
/** Data JSON may or may not hold as is: toJSON, undefined, functions, BigInt, cycles, Dates. */
const oddValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(() => 1),
  fc.constant(10n),
  fc.constant(new Date(0)),
  fc.constant({ toJSON: () => 'custom' }),
  fc.constant({ toJSON: () => undefined }),
  fc.constant(Symbol('s')),
  fc.constant(((): unknown => {
    const o: Record<string, unknown> = {};
    o.self = o;
    return o;
  })()),
);
const value = fc.oneof({ weight: 6, arbitrary: fc.jsonValue() }, { weight: 1, arbitrary: oddValue }, { weight: 1, arbitrary: fc.dictionary(text, fc.oneof(fc.jsonValue(), oddValue)) });
const metadata = fc.oneof({ weight: 6, arbitrary: fc.record({ at: fc.constant('2025-01-01T00:00:00.000Z'), schemaVersion: fc.nat() }) }, { weight: 1, arbitrary: value });
const event = fc.oneof(
  { weight: 8, arbitrary: fc.record({ id, type: fc.oneof(fc.string({ minLength: 1, maxLength: 10 }), fc.constant('')), data: value, metadata }) },
  { weight: 1, arbitrary: fc.oneof(fc.constant(null), fc.constant(7), fc.record({ id: fc.constant(''), type: fc.constant('T'), data: fc.constant(1), metadata: fc.constant({}) })) },
);
const events = fc.oneof({ weight: 10, arbitrary: fc.array(event, { maxLength: 5 }) }, { weight: 1, arbitrary: fc.constant('not an array') });

describe('record codec', () => {
  test.prop([events], { numRuns: 2000 })('eventsJson: the text and the errors of serializeEvents + per-field JSON', (es) => {
    expect(outcome(() => eventsJson(es as EventData[]))).toEqual(outcome(() => reference(es)));
  });

  it('eventsJson: one id twice in an append is the RangeError of serializeEvents', () => {
    const e: EventData = { id: 'same', type: 'T', data: 1, metadata: { at: 'x', schemaVersion: 1 } };
    expect(() => eventsJson([e, { ...e }])).toThrow(RangeError);
    expect(() => eventsJson([e, { ...e }])).toThrow(/appears twice/);
  });

  test.prop([fc.string({ minLength: 1, maxLength: 40 }), fc.array(fc.record({ id: fc.string({ minLength: 1, maxLength: 40 }), type: fc.string({ minLength: 1 }), data: fc.jsonValue(), metadata: fc.constant({ at: 'x', schemaVersion: 1 }) }), { minLength: 1, maxLength: 6 }), fc.nat({ max: 1000 })], { numRuns: 500 })(
    'encodeRecordInto: readRecord gets back what went in, within the bound, at any offset',
    (stream, evs, pad) => {
      const unique = evs.map((e, i) => ({ ...e, id: `${e.id}#${i}` }));
      const json = eventsJson(unique);
      const bound = recordBytesBound(stream, unique, json);
      const exact = recordBytesExact(stream, unique, json);
      expect(exact).toBeLessThanOrEqual(bound);
      const buf = Buffer.alloc(pad + bound, 0xee);
      const n = encodeRecordInto(buf, pad, stream, 7, 1234, unique, json);
      expect(n).toBe(exact);
      sealRecord(buf, 16, pad);
      const meta = readRecord(buf.subarray(0, pad + n), pad);
      if (typeof meta === 'string') throw new Error(meta);
      expect(meta).toMatchObject({ offset: pad, bytes: n, durableBefore: 16, count: unique.length, firstVersion: 7, firstPosition: 1234, streamName: stream, ids: unique.map((e) => e.id) });
      expect(recordEvents(buf, meta)).toEqual(JSON.parse(json));
      expect(buf.subarray(pad + n).every((b) => b === 0xee)).toBe(true);
    },
  );

  it('rejects an append too big for one record, naming events', () => {
    const json = 'x'.repeat(10);
    expect(() => recordBytesExact('s', [{ id: 'a'.repeat(256 * 1024 * 1024) }], json)).toThrow(/^events: this append is \d+ bytes as a record/);
    expect(RECORD_HEADER_BYTES).toBe(24);
  });
});
