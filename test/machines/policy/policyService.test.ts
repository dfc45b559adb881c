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

describe('PolicyService.load: the file owns the ids it names; other rules survive; order is the file\'s', () => {
  const file = (path = 'site.xml') => ({ via: 'file' as const, file: path });
  const ids = (spd: Spd) => spd.list().map((p) => p.id);

  it('a reload removes what the file dropped (even read from another path), adds what it added, and keeps a rule made over SNMP', async () => {
    const { store, spd, service } = setup();
    await service.load([rule('a', 0, 1), rule('b', 0, 2)], file());
    await service.apply([{ kind: 'put', policy: rule('x', 0, 9) }], snmp);
    const applied = await service.load([rule('a', 0, 1), rule('c', 0, 3)], file('/etc/ipsec-es/site.xml'));
    expect(applied.map((a) => [a.id, a.facts.map((f) => f.type)])).toEqual([['c', ['PolicyAdded']], ['b', ['PolicyRemoved']]]);
    expect(ids(spd)).toEqual(['a', 'c', 'x']);
    const removed = (await readLog(store)).find((l) => l.streamName === 'policy-b' && l.fact.type === 'PolicyRemoved')!;
    expect(removed.fact.data).toEqual({ source: { via: 'file', file: '/etc/ipsec-es/site.xml' } });
  });

  it('a file that names an SNMP rule takes it over (a fact from the file); once it stops naming it, the rule goes', async () => {
    const { log, spd, service } = setup();
    await service.apply([{ kind: 'put', policy: rule('x', 7, 9) }], snmp);
    await service.load([rule('x', 7, 9, 'bypass')], file());
    expect(spd.get('x')?.action).toBe('bypass');
    expect(service.state('x')?.source).toEqual(file());
    await service.load([], file());
    expect(spd.get('x')).toBeUndefined();
    expect((await log.read('policy-x')).map((f) => f.type)).toEqual(['PolicyAdded', 'PolicyReplaced', 'PolicyRemoved']);
  });

  it('a reload that only reorders equal priorities reorders the SPD and records nothing; an unchanged reload leaves the SPD object alone', async () => {
    const { store, spd, service } = setup();
    await service.load([rule('p1', 0, 1), rule('p2', 0, 2), rule('p3', 0, 3)], file());
    const facts = (await readLog(store)).length;
    expect(await service.load([rule('p3', 0, 3), rule('p1', 0, 1), rule('p2', 0, 2)], file())).toEqual([]);
    expect(ids(spd)).toEqual(['p3', 'p1', 'p2']);
    expect(await readLog(store)).toHaveLength(facts);
    const before = spd.list()[0];
    await service.load([rule('p3', 0, 3), rule('p1', 0, 1), rule('p2', 0, 2)], file());
    expect(spd.list()[0]).toBe(before); // no replaceAll: the frozen copies are the same objects
  });

  // The pool the files and SNMP draw from: ids a..e, each with two versions.
  const pool = (id: string, v: number) => rule(id, v % 2, id.charCodeAt(0) + v * 100, v === 0 ? 'discard' : 'bypass');
  const step = fc.oneof(
    fc.record({ kind: fc.constant('file' as const), entries: fc.uniqueArray(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e'), fc.integer({ min: 0, max: 1 })), { selector: (t) => t[0], maxLength: 5 }) }),
    fc.record({ kind: fc.constant('snmp' as const), id: fc.constantFrom('d', 'e', 'f', 'g'), v: fc.option(fc.integer({ min: 0, max: 1 }), { nil: undefined }) }),
  );
  fcTest.prop([fc.array(step, { minLength: 1, maxLength: 12 })], { numRuns: 60 })(
    'after any interleaving of file reloads and SNMP changes, the SPD is the one a restart (file SPD, restore, load) gives',
    async (steps) => {
      const { log, spd, service } = setup();
      let last: Policy[] = [];
      await service.load(last, file());
      for (const s of steps) {
        if (s.kind === 'file') {
          last = s.entries.map(([id, v]) => pool(id, v));
          await service.load(last, file());
        } else {
          // SNMP cannot write rows the file shows (readOnly): the agent never asks for those ids.
          const fileOwned = service.state(s.id)?.status === 'active' && service.state(s.id)?.source?.via === 'file';
          if (fileOwned) continue;
          // A group's rows are indexed by priority (RFC 4807): SNMP rules never tie with each other.
          const policy = { ...pool(s.id, s.v ?? 0), priority: 10 + s.id.charCodeAt(0) };
          await service.apply([s.v === undefined ? { kind: 'remove', id: s.id } : { kind: 'put', policy }], snmp);
        }
      }
      const restarted = new Spd(last);
      const again = new PolicyService({ spd: restarted, log, clock, random: seededRandom(5) });
      await again.restore(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
      expect(await again.load(last, file())).toEqual([]); // the log already says what the file says
      expect(restarted.list().map((p) => [p.id, p.action, p.priority])).toEqual(spd.list().map((p) => [p.id, p.action, p.priority]));
    },
  );
});
