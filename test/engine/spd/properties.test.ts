import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { selectorMatches } from '../../../engine/spd/match.js';
import { Spd } from '../../../engine/spd/spd.js';
import type { Policy, SelectorFields, SpdDecision } from '../../../engine/spd/types.js';
import { edgeFields, type FamilyMode, packetFields, ruleSet, selector } from './arbitraries.js';
import { refCheckInbound, refInboundPlain, refOutbound, refSelectorMatches } from './reference.js';

const seen = (d: SpdDecision) => ({ action: d.action, ...(d.policy ? { id: d.policy.id } : {}) });
const hex = (f: SelectorFields) => ({ ...f, localAddress: Buffer.from(f.localAddress).toString('hex'), remoteAddress: Buffer.from(f.remoteAddress).toString('hex') });

/** Every packet: same decision and same policy as the linear scan, both directions, and the §5.2 check. */
function agree(spd: Spd, policies: readonly Policy[], packets: readonly SelectorFields[], dflt = 'discard'): void {
  const inboundProtect = policies.filter((p) => p.direction === 'inbound' && p.action === 'protect').map((p) => p.id);
  for (const f of packets) {
    expect(seen(spd.classifyOutbound(f)), JSON.stringify(hex(f))).toEqual(refOutbound(policies, f, dflt));
    expect(seen(spd.classifyInboundPlain(f)), JSON.stringify(hex(f))).toEqual(refInboundPlain(policies, f, dflt));
    for (const id of inboundProtect.slice(0, 3)) {
      expect(spd.checkInbound(id, f).ok, `${id} ${JSON.stringify(hex(f))}`).toBe(refCheckInbound(policies, id, f));
    }
  }
}

function scenario(mode: FamilyMode, maxRules: number) {
  return ruleSet(mode, maxRules).chain((policies) =>
    fc.tuple(
      fc.constant(policies),
      fc.array(fc.oneof(packetFields(mode), edgeFields(policies, mode)), { minLength: 40, maxLength: 120 }),
    ),
  );
}

describe('SPD against a naive linear scan (same decision, same rule)', () => {
  for (const mode of [4, 6, 'mixed'] as const) {
    test.prop([scenario(mode, 300)], { numRuns: mode === 4 ? 70 : 45, ...(process.env.SEED ? { seed: Number(process.env.SEED) } : {}) })(`random rule sets of 1..300 policies, ${mode === 'mixed' ? 'IPv4 + IPv6' : `IPv${mode}`}`, ([policies, packets]) => {
      agree(new Spd(policies), policies, packets);
    });
  }

  test.prop([scenario('mixed', 40)], { numRuns: 150 })('small rule sets, default BYPASS', ([policies, packets]) => {
    agree(new Spd(policies, { defaultOutbound: 'bypass', defaultInbound: 'bypass' }), policies, packets, 'bypass');
  });

  test.prop([scenario('mixed', 60)], { numRuns: 60 })('removing any one policy from a built SPD = an SPD built without it', ([policies, packets]) => {
    // Broad policies first: they are the ones that shadow others inside the classifier.
    const broad = (p: Policy) => p.selectors.some((s) => [s.localAddress, s.remoteAddress].every((a) => a.kind === 'any' || (a.kind === 'prefix' && a.length <= a.address.length * 2)));
    const victims = [...policies.filter(broad).slice(0, 12), ...policies.filter((p) => !broad(p)).slice(0, 4)];
    for (const victim of victims) {
      const spd = new Spd(policies);
      spd.remove(victim.id);
      agree(spd, policies.filter((p) => p !== victim), packets);
    }
  });

  const op = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('add' as const), pick: fc.nat() }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('check' as const), pick: fc.nat() }) },
  );
  test.prop([scenario('mixed', 150), fc.integer({ min: 0, max: 150 }), fc.array(op, { minLength: 1, maxLength: 120 })], { numRuns: 60 })(
    'add and remove interleaved with lookups (overlay, masking, rebuilds) still agree',
    ([policies, packets], initial, ops) => {
      // Start with a prefix, then add the rest and remove at random, checking as we go.
      let live = policies.slice(0, initial);
      let spare = policies.slice(initial);
      const spd = new Spd(live);
      for (const o of ops) {
        if (o.kind === 'add' && spare.length > 0) {
          const p = spare[o.pick % spare.length]!;
          spare = spare.filter((x) => x !== p);
          spd.add(p);
          live.push(p);
        } else if (o.kind === 'remove' && live.length > 0) {
          const p = live[o.pick % live.length]!;
          expect(spd.remove(p.id)).toBe(true);
          expect(spd.remove(p.id)).toBe(false);
          live = live.filter((x) => x !== p);
          // A removed policy may come back later, after its peers of equal priority.
          spare.push(p);
        } else {
          const from = o.pick % packets.length;
          agree(spd, live, [...packets.slice(from), ...packets.slice(0, from)].slice(0, 40));
        }
      }
      expect(spd.size).toBe(live.length);
      agree(spd, live, packets);
    },
  );

  test.prop([selector('mixed'), packetFields('mixed')], { numRuns: 3000 })('selectorMatches (the readable definition) = the reference', (s, f) => {
    expect(selectorMatches(s, f)).toBe(refSelectorMatches(s, f));
  });
});
