import { describe, expect, it } from 'vitest';
import { decidePolicy, evolvePolicy, initialPolicyState } from '../../../engine/aggregates/policy.js';
import type { CommandContext } from '../../../engine/events/fact.js';
import type { PolicyFact } from '../../../engine/events/otherFacts.js';
import { parseStreamName, saStream } from '../../../engine/events/streams.js';
import { UpcasterRegistry } from '../../../engine/events/upcast.js';

let n = 0;
const ctx: CommandContext = { nowMs: 0, newId: () => `id-${++n}` };
const file = { via: 'file' as const, file: 'policy.xml' };

describe('policy decider', () => {
  it('add → replace (identical: nothing) → remove (twice: once)', () => {
    let state = initialPolicyState;
    const log: PolicyFact[] = [];
    for (const c of [
      { type: 'AddPolicy', policy: { id: 'p1', action: 'bypass' }, source: file },
      { type: 'ReplacePolicy', policy: { id: 'p1', action: 'bypass' }, source: file },
      { type: 'ReplacePolicy', policy: { id: 'p1', action: 'discard' }, source: { via: 'snmp', who: 'public@192.0.2.9' } },
      { type: 'RemovePolicy', source: { via: 'cli' } },
      { type: 'RemovePolicy', source: { via: 'cli' } },
    ] as const) {
      const facts = decidePolicy(c, state, ctx);
      log.push(...facts);
      state = facts.reduce(evolvePolicy, state);
    }
    expect(log.map((f) => f.type)).toEqual(['PolicyAdded', 'PolicyReplaced', 'PolicyRemoved']);
    expect(state).toMatchObject({ status: 'removed', policy: { action: 'discard' }, version: 3, source: { via: 'cli' } });
    expect(() => decidePolicy({ type: 'ReplacePolicy', policy: {}, source: file }, state, ctx)).toThrow(/only an active policy/);
  });
});

describe('upcasters', () => {
  it('lift an old fact through every step to the current version; current and newer facts pass through', () => {
    const reg = new UpcasterRegistry()
      .register('SaInstalled', 1, (d) => ({ ...(d as object), lifetimes: (d as { lifetime: unknown }).lifetime }))
      .register('SaInstalled', 2, (d) => ({ ...(d as object), esn: false }));
    expect(reg.currentVersion('SaInstalled')).toBe(3);
    const v1 = { type: 'SaInstalled', data: { lifetime: { hard: {} } }, meta: { id: 'a', at: '2026-01-01T00:00:00Z', schemaVersion: 1 } };
    expect(reg.upcast(v1)).toEqual({ ...v1, data: { lifetime: { hard: {} }, lifetimes: { hard: {} }, esn: false }, meta: { ...v1.meta, schemaVersion: 3 } });
    const v3 = { ...v1, meta: { ...v1.meta, schemaVersion: 3 } };
    expect(reg.upcast(v3)).toBe(v3);
    const v9 = { ...v1, meta: { ...v1.meta, schemaVersion: 9 } };
    expect(reg.upcast(v9)).toBe(v9);
    expect(() => reg.register('SaInstalled', 5, (d) => d)).toThrow(/^fromVersion: /);
  });
  it('stream names are category-id', () => {
    expect(saStream('7f3a')).toBe('sa-7f3a');
    expect(parseStreamName('ike-12-ab')).toEqual({ category: 'ike', id: '12-ab' });
    expect(parseStreamName('$all')).toBeUndefined();
  });
});
