import { fc, test as fcTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { factLog, readLog } from '../../../adapters/eventStore/facts.js';
import { memoryEventStore } from '../../../adapters/eventStore/memory/memoryEventStore.js';
import { loadPolicyFile } from '../../../adapters/policyFile/loader.js';
import { seededRandom } from '../../../adapters/random/random.js';
import { evolvePolicy, initialPolicyState } from '../../../engine/aggregates/policy.js';
import type { PolicyFact } from '../../../engine/events/otherFacts.js';
import { parseIpAddress } from '../../../engine/policy/ipText.js';
import { Spd } from '../../../engine/spd/spd.js';
import type { Policy } from '../../../engine/spd/types.js';
import type { FactLog } from '../../../machines/ports.js';
import { policyFromData, policyToData, samePolicy } from '../../../engine/policy/policyData.js';
import { PolicyService } from '../../../machines/policy/policyService.js';

const ip = (t: string) => (parseIpAddress(t) as { ok: true; value: Uint8Array }).value;
const ANY = { kind: 'any' as const };
const clock = { now: () => Date.parse('2026-11-22T00:00:00Z') };
const snmp = { via: 'snmp' as const, who: 'private@127.0.0.1:40000' };

function rule(id: string, priority: number, port: number, action: 'bypass' | 'discard' = 'discard'): Policy {
  return { id, priority, direction: 'outbound', action, selectors: [{ localAddress: { kind: 'prefix', address: ip('10.1.0.0'), length: 16 }, remoteAddress: ANY, protocol: { kind: 'number', value: 6 }, localPort: ANY, remotePort: { kind: 'range', from: port, to: port } }] };
}

function setup(initial: Policy[] = []) {
  const store = memoryEventStore();
  const log = factLog(store);
  const spd = new Spd(initial);
  return { store, log, spd, service: new PolicyService({ spd, log, clock, random: seededRandom(1) }) };
}

describe('PolicyService: every change is a fact before the SPD sees it', () => {
  it('records the policies of an XML file once, with the file as source; a reload of the same file records nothing', async () => {
    const file = await loadPolicyFile('examples/site-to-site.xml');
    const { store, spd, service } = setup(file.policies);
    const applied = await service.load(file.policies, { via: 'file', file: file.path });
    expect(applied.map((a) => a.id)).toEqual(file.policies.map((p) => p.id));
    const log = await readLog(store);
    expect(log.map((l) => [l.streamName, l.fact.type])).toEqual(file.policies.map((p) => [`policy-${p.id}`, 'PolicyAdded']));
    expect(log[0]!.fact.data).toMatchObject({ source: { via: 'file', file: 'examples/site-to-site.xml' } });
    // The fact carries the policy as data that reads back to the same policy.
    expect(samePolicy(policyFromData((log[0]!.fact.data as { policy: unknown }).policy), file.policies[0]!)).toBe(true);
    expect(spd.list().map((p) => p.id)).toEqual(file.policies.map((p) => p.id));
    expect(await service.load(file.policies, { via: 'file', file: file.path })).toEqual([]);
    expect(await readLog(store)).toHaveLength(log.length);
  });

  it('write-ahead: the SPD changes only once the fact is durable', async () => {
    const inner = factLog(memoryEventStore());
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const log: FactLog = { read: (s) => inner.read(s), append: async (s, f, v) => { await gate; await inner.append(s, f, v); } };
    const spd = new Spd();
    const service = new PolicyService({ spd, log, clock, random: seededRandom(2) });
    const done = service.apply([{ kind: 'put', policy: rule('drop-telnet', 5, 23) }], snmp);
    await new Promise((r) => setTimeout(r, 10));
    expect(spd.get('drop-telnet')).toBeUndefined();
    release();
    const applied = await done;
    expect(applied[0]!.facts.map((f) => f.type)).toEqual(['PolicyAdded']);
    expect(spd.get('drop-telnet')?.action).toBe('discard');
    expect((await inner.read('policy-drop-telnet'))[0]!.data).toMatchObject({ source: snmp });
  });

  it('put replaces, remove removes; identical puts and removing an absent policy record nothing', async () => {
    const { store, spd, service } = setup();
    await service.apply([{ kind: 'put', policy: rule('r1', 5, 23) }], snmp);
    await service.apply([{ kind: 'put', policy: rule('r1', 5, 23) }], snmp);
    await service.apply([{ kind: 'put', policy: rule('r1', 5, 23, 'bypass') }], snmp);
    expect(spd.get('r1')?.action).toBe('bypass');
    await service.apply([{ kind: 'remove', id: 'r1' }], snmp);
    await service.apply([{ kind: 'remove', id: 'r1' }], snmp);
    expect(spd.get('r1')).toBeUndefined();
    expect((await readLog(store)).map((l) => l.fact.type)).toEqual(['PolicyAdded', 'PolicyReplaced', 'PolicyRemoved']);
  });

  it('a batch with one invalid policy records nothing and leaves the SPD as it was', async () => {
    const { store, spd, service } = setup([rule('keep', 1, 22)]);
    const bad = { ...rule('bad', 2, 80), selectors: [{ ...rule('bad', 2, 80).selectors[0]!, remotePort: { kind: 'range' as const, from: 90, to: 80 } }] };
    await expect(service.apply([{ kind: 'put', policy: rule('ok', 3, 443) }, { kind: 'put', policy: bad }], snmp)).rejects.toThrow(/remotePort/);
    expect(await readLog(store)).toEqual([]);
    expect(spd.list().map((p) => p.id)).toEqual(['keep']);
  });

  it('a second writer on the stream (version conflict): rejected, SPD unchanged; the next change reads the stream again', async () => {
    const { log, spd, service } = setup();
    await service.apply([{ kind: 'put', policy: rule('r1', 5, 23) }], snmp);
    // Another process removes it behind our back.
    const other = new PolicyService({ spd: new Spd([rule('r1', 5, 23)]), log, clock, random: seededRandom(3) });
    await other.apply([{ kind: 'remove', id: 'r1' }], { via: 'cli', who: 'root' });
    await expect(service.apply([{ kind: 'put', policy: rule('r1', 5, 24) }], snmp)).rejects.toThrow();
    expect(spd.get('r1')?.selectors[0]!.remotePort).toEqual({ kind: 'range', from: 23, to: 23 });
    await service.apply([{ kind: 'put', policy: rule('r1', 5, 24) }], snmp);
    expect((await log.read('policy-r1')).map((f) => f.type)).toEqual(['PolicyAdded', 'PolicyRemoved', 'PolicyAdded']);
  });

  it('restore after a restart puts back what SNMP added (the log is its only record)', async () => {
    const { log, service } = setup();
    await service.apply([{ kind: 'put', policy: rule('snmp-1', 5, 23) }, { kind: 'put', policy: rule('snmp-2', 6, 25) }], snmp);
    await service.apply([{ kind: 'remove', id: 'snmp-2' }], snmp);
    const spd = new Spd();
    const restarted = new PolicyService({ spd, log, clock, random: seededRandom(4) });
    expect(await restarted.restore(['snmp-1', 'snmp-2'])).toEqual(['snmp-1']);
    expect(samePolicy(spd.get('snmp-1')!, rule('snmp-1', 5, 23))).toBe(true);
  });

  fcTest.prop([fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.option(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 3 })), { nil: undefined })), { maxLength: 25 })], { numRuns: 60 })(
    'after any sequence of puts and removes, folding each stream gives exactly the SPD (a Map model agrees)',
    async (steps) => {
      const { log, spd, service } = setup();
      const model = new Map<string, Policy>();
      for (const [id, put] of steps) {
        if (put) {
          const p = rule(id, put[0], put[1]);
          await service.apply([{ kind: 'put', policy: p }], snmp);
          model.set(id, p);
        } else {
          await service.apply([{ kind: 'remove', id }], snmp);
          model.delete(id);
        }
      }
      for (const id of ['a', 'b', 'c']) {
        const state = ((await log.read(`policy-${id}`)) as PolicyFact[]).reduce(evolvePolicy, initialPolicyState);
        const want = model.get(id);
        expect(state.status === 'active').toBe(want !== undefined);
        if (want) {
          expect(JSON.stringify(state.policy)).toBe(JSON.stringify(policyToData(want)));
          expect(samePolicy(spd.get(id)!, want)).toBe(true);
        } else expect(spd.get(id)).toBeUndefined();
      }
    },
  );
});
