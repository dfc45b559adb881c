import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { formatPolicyErrors, fromPolicies, parsePolicyXml, serializePolicyXml, toPolicies } from '../../../engine/policy/index.js';
import { AhSa } from '../../../engine/ah/ahSa.js';
import { EspSa } from '../../../engine/esp/espSa.js';
import { toStaticSas } from '../../../engine/policy/index.js';
import { validatePolicies } from '../../../engine/spd/validate.js';
import { policyDocument } from './arbitraries.js';

function parse(text: string) {
  const r = parsePolicyXml(text, 'gen.xml');
  if (!r.ok) throw new Error(`${formatPolicyErrors(r.errors)}\n--- text ---\n${text}`);
  return r.doc;
}

describe('policy files round-trip exactly', () => {
  test.prop([policyDocument()], { numRuns: 300 })('parse(serialize(doc)) deep-equals doc; saving again is byte-identical', (doc) => {
    const text = serializePolicyXml(doc);
    const loaded = parse(text);
    expect(loaded).toStrictEqual(doc);
    expect(serializePolicyXml(loaded)).toBe(text);
    // What the file format accepts, the SPD accepts.
    expect(() => validatePolicies(toPolicies(loaded))).not.toThrow();
  });

  test.prop([policyDocument({ ikeless: true })], { numRuns: 100 })('every static SA with literal keys builds a data-path SA', (doc) => {
    for (const sa of toStaticSas(doc)) {
      const hex = (k: typeof sa.integrityKey) => (k && 'bytes' in k ? k.bytes : undefined);
      const common = {
        id: sa.id,
        direction: sa.direction,
        spi: sa.spi,
        mode: sa.mode,
        ...(sa.tunnel ? { tunnel: sa.tunnel } : {}),
        esn: sa.esn,
        ...(sa.replayWindow !== undefined ? { replayWindow: sa.replayWindow } : {}),
        ...(sa.sequenceStart ? { sequenceStart: sa.sequenceStart } : {}),
      };
      if (sa.protocol === 'esp') {
        const encKey = sa.encryptionKey ? hex(sa.encryptionKey) : new Uint8Array(0);
        const integKey = hex(sa.integrityKey);
        if (!encKey || (sa.integrityKey && !integKey)) continue; // a key reference: resolved elsewhere
        expect(() => new EspSa({ ...common, suite: sa.suite, keys: { encKey, ...(integKey ? { integKey } : {}) } })).not.toThrow();
      } else {
        const key = hex(sa.integrityKey);
        if (key) expect(() => new AhSa({ ...common, integ: sa.integ, key })).not.toThrow();
      }
    }
  });

  test.prop([policyDocument({ ikeless: true })], { numRuns: 200 })(
    'fromPolicies inverts toPolicies: the SPD a document describes survives the trip',
    (doc) => {
      const policies = toPolicies(doc);
      const again = fromPolicies(policies, doc.defaultAction ? { defaultAction: doc.defaultAction } : {});
      expect(toPolicies(parse(serializePolicyXml({ ...again, sad: [] })))).toStrictEqual(policies);
    },
  );

  test.prop([policyDocument(), fc.nat()], { numRuns: 150 })('any one value flipped to garbage is reported with a position, never thrown', (doc, pick) => {
    const text = serializePolicyXml(doc);
    // Every value but an id-key, which may be any text.
    const values = [...text.matchAll(/<([a-z0-9-]+)>([^<>\n]+)</g)].filter((m) => m[1] !== 'id-key');
    if (values.length === 0) return;
    const m = values[pick % values.length]!;
    const at = m.index + m[1]!.length + 2;
    const broken = `${text.slice(0, at)}%bad%${text.slice(at + m[2]!.length)}`;
    const r = parsePolicyXml(broken, 'broken.xml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const line = text.slice(0, at).split('\n').length;
    expect(r.errors.some((e) => e.line === line && e.file === 'broken.xml')).toBe(true);
  });
});
