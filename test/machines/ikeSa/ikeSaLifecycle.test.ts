import { getShortestPaths, getStateNodes } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import { initialTransition, SimulatedClock, transition, type AnyEventObject, type AnyStateMachine } from 'xstate';
import { seededRandom } from '../../../adapters/random/random.js';
import { decideIkeSa, evolveIkeSa, initialIkeSaState, IkeSaRuleViolation } from '../../../engine/aggregates/ikeSa.js';
import { childRekeyMachine } from '../../../machines/rekey/childRekey.machine.js';
import { createIkeSaLifecycleMachine } from '../../../machines/ikeSa/ikeSaLifecycle.machine.js';

const T0 = Date.parse('2026-11-22T00:00:00Z');
const ctx = () => { let n = 0; return { nowMs: T0, newId: () => `f${++n}` }; };
const establish = { type: 'ike.establish' as const, spiR: 'r', keyRef: 'ike-1', keyFingerprint: 'fp', softLifetimeMs: 3_600_000, hardLifetimeMs: 4_000_000 };

function leavesReached(machine: AnyStateMachine, events: AnyEventObject[], input: unknown, serialize: (s: { value: unknown; context: any }) => string = (s) => JSON.stringify(s.value)) {
  const afterEvents = getStateNodes(machine.root).flatMap((n) => n.after.map((t) => ({ type: t.eventType }) as AnyEventObject));
  const paths = getShortestPaths(machine, { input, events: [...events, ...afterEvents] as never[], serializeState: serialize as never });
  const reached = new Set(paths.map((p) => JSON.stringify(p.state.value)));
  const toValue = (path: string[]): unknown => (path.length === 1 ? path[0] : { [path[0]!]: toValue(path.slice(1)) });
  return getStateNodes(machine.root).filter((n) => (n.type === 'atomic' || n.type === 'final') && n.path[0] !== 'route' && n.path[0] !== 'starting').map((n) => ({ path: n.path.join('.'), reached: reached.has(JSON.stringify(toValue(n.path))) }));
}

describe('IKE SA aggregate', () => {
  it('a rekey records the move of every child and the old IKE SA\'s deletion in one decision', () => {
    let s = initialIkeSaState;
    for (const cmd of [{ type: 'EstablishIkeSa', spiR: 'r', keyRef: 'k', keyFingerprint: 'f' }, { type: 'AddChild', saId: 'c1' }, { type: 'AddChild', saId: 'c2' }, { type: 'StartIkeRekey', newIkeSaId: 'n' }] as const) s = decideIkeSa(cmd, s, ctx()).reduce(evolveIkeSa, s);
    const facts = decideIkeSa({ type: 'CompleteIkeRekey', newIkeSaId: 'n' }, s, ctx());
    expect(facts.map((f) => f.type)).toEqual(['IkeSaRekeyed', 'ChildSaMoved', 'ChildSaMoved', 'IkeSaDeleted']);
    const after = facts.reduce(evolveIkeSa, s);
    expect(after).toMatchObject({ status: 'dead', rekeyedTo: 'n', children: [], deleted: { reason: 'rekeyed' } });
    expect(decideIkeSa({ type: 'CompleteIkeRekey', newIkeSaId: 'n' }, after, ctx())).toEqual([]);
    expect(() => decideIkeSa({ type: 'AddChild', saId: 'c3' }, after, ctx())).toThrow(IkeSaRuleViolation);
  });
});

describe('IKE SA lifecycle machine', () => {
  const clock = new SimulatedClock();
  clock.set(T0);
  const machine = createIkeSaLifecycleMachine({ clock, random: seededRandom(5) });

  it('soft lifetime → rekeying with a negotiateRekey effect; rekeyed → dead, children moved by an effect', () => {
    const [s0] = initialTransition(machine, { ikeSaId: 'i1' });
    const [s1] = transition(machine, s0, establish);
    const [s2] = transition(machine, s1, { type: 'child.add', saId: 'c1' });
    expect(s2.value).toEqual({ live: 'established' });
    const softEvent = { type: getStateNodes(machine.root).find((n) => n.path.join('.') === 'live.established')!.after[0]!.eventType } as AnyEventObject;
    const [s3, a3] = transition(machine, s2, softEvent as never);
    expect(s3.value).toEqual({ live: { rekeying: 'negotiating' } });
    expect(a3.map((a) => a.type)).toContain('negotiateRekey');
    const newId = s3.context.ike.rekey!.newIkeSaId;
    const [s4, a4] = transition(machine, s3, { type: 'ike.rekeyed', newIkeSaId: newId });
    expect(s4.value).toBe('dead');
    expect(a4.find((a) => a.type === 'moveChildren')!.params).toEqual({ children: ['c1'], toIkeSaId: newId });
  });

  it('a deletion that is not a rekey takes the children with it (RFC 7296 §1.4.1)', () => {
    const [s0] = initialTransition(machine, { ikeSaId: 'i1' });
    const [s1] = transition(machine, s0, establish);
    const [s2] = transition(machine, s1, { type: 'child.add', saId: 'c1' });
    const [s3, actions] = transition(machine, s2, { type: 'ike.delete', reason: 'peer' });
    expect(s3.value).toBe('dead');
    expect(actions.find((a) => a.type === 'deleteChildren')!.params).toEqual({ children: ['c1'] });
  });

  it('every state is reachable; dead is final (@xstate/graph)', () => {
    const events = [establish, { type: 'child.add', saId: 'c' }, { type: 'ike.rekeyFailed', reason: 'x' }, { type: 'ike.rekeyed', newIkeSaId: 'n' }, { type: 'ike.adoptRekey', newIkeSaId: 'n' }, { type: 'ike.delete', reason: 'operator' }] as AnyEventObject[];
    for (const leaf of leavesReached(machine as never, events, { ikeSaId: 'g' })) expect(leaf.reached, leaf.path).toBe(true);
    expect(machine.root.states.dead!.type).toBe('final');
  });
});

describe('CHILD SA rekey machine', () => {
  it('every state is reachable: negotiate succeeds (done), fails and retries, or gives up when the old SA is gone (failed)', () => {
    const input = { old: { inboundSaId: 'i', outboundSaId: 'o' }, next: { inboundSaId: 'i2', outboundSaId: 'o2' }, correlationId: 'c' };
    const done = { type: 'xstate.done.actor.0.childRekey.negotiating', output: input.next };
    const error = { type: 'xstate.error.actor.0.childRekey.negotiating', error: new Error('NO_PROPOSAL_CHOSEN') };
    const machine = childRekeyMachine.provide({ guards: { oldAlive: ({ context }) => context.attempt < 2 } });
    const leaves = leavesReached(machine as never, [done, error] as AnyEventObject[], input, (s) => JSON.stringify([s.value, s.context.attempt]));
    for (const leaf of leaves) expect(leaf.reached, leaf.path).toBe(true);
    expect(leaves.map((l) => l.path).sort()).toEqual(['backoff', 'done', 'failed', 'negotiating']);
  });
});
