import { getShortestPaths } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import { initialTransition, SimulatedClock, transition } from 'xstate';
import { emulatedNic } from '../../../adapters/nic/emulatedNic.js';
import { seededRandom } from '../../../adapters/random/random.js';
import { evolveNic, initialNicState, type NicCapabilities } from '../../../engine/aggregates/nic.js';
import type { NicFact } from '../../../engine/events/otherFacts.js';
import type { SaParams } from '../../../engine/events/saFacts.js';
import { createOffloadMachine } from '../../../machines/offload/offload.machine.js';
import type { OfferedSa, OffloadInput } from '../../../machines/offload/types.js';

const nic = emulatedNic({ name: 'nic0' });
const CAPS: NicCapabilities = { ...nic.capabilities, saOffloadCapacity: 2 };
const PARAMS: SaParams = {
  spi: 0x1001, protocol: 'esp', direction: 'outbound', mode: 'tunnel', tunnel: { src: '192.0.2.1', dst: '192.0.2.2' }, dst: '192.0.2.2',
  encr: 20, encrKeyBits: 128, integ: 0, esn: false, replayWindow: 128,
  lifetimes: { soft: { timeMs: 3_000_000 }, hard: { timeMs: 3_600_000 } }, keyRef: 'k-1', keyFingerprint: 'sha256:ab',
};
const offer = (saId: string, params: Partial<SaParams> = {}): OfferedSa => ({ saId, params: { ...PARAMS, ...params }, keys: { encKey: new Uint8Array(20) } });
const input = (o: Partial<OffloadInput> = {}): OffloadInput => ({ nic: 'nic0', capabilities: CAPS, policy: { fipsMode: false, trusted: true }, ...o });
const machine = createOffloadMachine({ clock: new SimulatedClock(), random: seededRandom(3), nic });

type Snapshot = ReturnType<typeof initialTransition<typeof machine>>[0];
type Actions = ReturnType<typeof initialTransition<typeof machine>>[1];
const send = (s: Snapshot, event: unknown) => transition(machine, s, event as never);
const named = (actions: Actions, type: string) => actions.filter((a) => a.type === type).map((a) => a.params as unknown);
const resetDone = { type: 'xstate.done.actor.reset', output: undefined, actorId: 'reset' };
const added = (saId: string, handle: number | null, reason?: string) => ({ type: `xstate.done.actor.addSa:${saId}`, actorId: `addSa:${saId}`, output: { kind: 'addSa', saId, handle, ...(reason ? { reason } : {}) } });

/** Started and reset: ready, capabilities declared. */
function ready(o: Partial<OffloadInput> = {}): Snapshot {
  const [s0, a0] = initialTransition(machine, input(o));
  expect(s0.value).toBe('resetting');
  expect(named(a0, 'journal')).toEqual([]); // restoring records nothing
  const [s1] = send(s0, resetDone);
  expect(s1.value).toBe('ready');
  return s1;
}

describe('offload machine through transition()', () => {
  it('start: the reset NIC declares its capabilities once; a restored log with the same capabilities records nothing', () => {
    const [s0] = initialTransition(machine, input());
    const [s1, a1] = send(s0, resetDone);
    const facts = (named(a1, 'journal') as { facts: NicFact[] }[]).flatMap((p) => p.facts);
    expect(facts.map((f) => f.type)).toEqual(['NicCapabilitiesDeclared']);
    const [r0] = initialTransition(machine, input({ state: s1.context.state }));
    const [, r1] = send(r0, resetDone);
    expect(named(r1, 'journal')).toEqual([]);
  });

  it('offer → ADD_SA child; its handle is recorded, then reported; past the capacity the log shows: capacity, no ADD_SA', () => {
    let s = ready();
    let actions: Actions;
    [s, actions] = send(s, { type: 'offload.offer', sa: offer('a') });
    expect(actions.map((a) => [a.type, (a.params as { id?: string } | undefined)?.id])).toEqual([['xstate.spawnChild', 'addSa:a']]);
    [s, actions] = send(s, added('a', 7));
    expect(s.context.state.offloaded.a?.handle).toBe(7);
    expect(actions.map((a) => a.type)).toEqual(expect.arrayContaining(['journal', 'xstate.emit', 'reportDecision']));
    expect(named(actions, 'reportDecision')).toEqual([{ saId: 'a', nic: 'nic0', handle: 7 }]);
    [s] = send(s, { type: 'offload.offer', sa: offer('b') });
    [s] = send(s, added('b', 8));
    [s, actions] = send(s, { type: 'offload.offer', sa: offer('c') });
    expect(actions.some((a) => a.type === 'xstate.spawnChild')).toBe(false);
    expect(named(actions, 'reportDecision')).toEqual([{ saId: 'c', nic: 'nic0', reason: 'capacity' }]);
    // Offered again while on the NIC: the same handle, nothing recorded.
    [s, actions] = send(s, { type: 'offload.offer', sa: offer('a') });
    expect(named(actions, 'reportDecision')).toEqual([{ saId: 'a', nic: 'nic0', handle: 7 }]);
    expect(named(actions, 'journal')).toEqual([]);
    expect(s.context.state.rejections).toEqual({ capacity: 1 });
  });

  it('FIPS mode: none offloaded, reason fips; an untrusted NIC: untrusted; an undeclared algorithm: unsupported', () => {
    const [, fips] = send(ready({ policy: { fipsMode: true, trusted: true } }), { type: 'offload.offer', sa: offer('a') });
    expect(named(fips, 'reportDecision')).toEqual([{ saId: 'a', nic: 'nic0', reason: 'fips' }]);
    const [, untrusted] = send(ready({ policy: { fipsMode: false, trusted: false } }), { type: 'offload.offer', sa: offer('a') });
    expect(named(untrusted, 'reportDecision')).toEqual([{ saId: 'a', nic: 'nic0', reason: 'untrusted' }]);
    const [, ctr] = send(ready({ capabilities: { ...CAPS, encryption: [20] } }), { type: 'offload.offer', sa: offer('a', { encr: 13, integ: 12 }) });
    expect(named(ctr, 'reportDecision')).toEqual([{ saId: 'a', nic: 'nic0', reason: 'unsupported' }]);
  });

  it('the NIC refuses (its reason), fails (error); withdraw deletes once; a lost handle is reported removed', () => {
    let s = ready();
    let actions: Actions;
    [s, actions] = send(s, added('a', null, 'capacity'));
    expect(named(actions, 'reportDecision')).toEqual([{ saId: 'a', nic: 'nic0', reason: 'capacity' }]);
    [s, actions] = send(s, { type: 'xstate.error.actor.addSa:b', actorId: 'addSa:b', error: new RangeError('encKey: bad') });
    expect(named(actions, 'reportDecision')).toEqual([{ saId: 'b', nic: 'nic0', reason: 'error' }]);
    [s] = send(s, added('c', 3));
    [s] = send(s, added('d', 4));
    [s, actions] = send(s, { type: 'offload.withdraw', saId: 'c' });
    expect(named(actions, 'deleteFromNic')).toEqual([{ saId: 'c', handle: 3 }]);
    [s, actions] = send(s, { type: 'offload.withdraw', saId: 'c' });
    expect(named(actions, 'deleteFromNic')).toEqual([]);
    [s, actions] = send(s, { type: 'nic.saLost', handle: 4 });
    expect(named(actions, 'reportDecision')).toEqual([{ saId: 'd', nic: 'nic0', removed: 'lost' }]);
    expect(s.context.state.offloaded).toEqual({});
  });

  it('restoring routes on the folded state: SAs of the previous run are removed after the reset; a retired NIC stays retired', () => {
    const s = ready();
    const [withA] = send(s, added('a', 7));
    const [r0, a0] = initialTransition(machine, input({ state: withA.context.state }));
    expect(named(a0, 'journal')).toEqual([]);
    const [r1, a1] = send(r0, resetDone);
    expect(named(a1, 'reportDecision')).toEqual([{ saId: 'a', nic: 'nic0', removed: 'restart' }]);
    expect(r1.context.state.offloaded).toEqual({});
    const [t0] = send(r1, { type: 'nic.retire' });
    const [t1] = send(t0, resetDone);
    expect([t1.value, t1.status]).toEqual(['retired', 'done']);
    const [x0, xa] = initialTransition(machine, input({ state: t1.context.state }));
    expect([x0.value, x0.status, named(xa, 'journal')]).toEqual(['retired', 'done', []]);
  });

  it('a failed reset: faulted, offers stay in software (error) until a retry resets the NIC', () => {
    const [s0] = initialTransition(machine, input());
    const [s1] = send(s0, { type: 'xstate.error.actor.reset', error: new Error('firmware') });
    expect(s1.value).toBe('faulted');
    const [s2, a2] = send(s1, { type: 'offload.offer', sa: offer('a') });
    expect(named(a2, 'reportDecision')).toEqual([{ saId: 'a', nic: 'nic0', reason: 'error' }]);
    const [s3] = send(s2, { type: 'nic.retry' });
    expect(send(s3, resetDone)[0].value).toBe('ready');
  });

  it('every state is reachable, retired is final (@xstate/graph)', () => {
    const events = [
      resetDone,
      { type: 'xstate.error.actor.reset', error: new Error('x') },
      { type: 'offload.offer', sa: offer('a') },
      added('a', 1),
      { type: 'offload.withdraw', saId: 'a' },
      { type: 'nic.saLost', handle: 1 },
      { type: 'nic.retry' },
      { type: 'nic.retire' },
    ] as never[];
    const paths = getShortestPaths(machine, { input: input(), events, serializeState: (s) => JSON.stringify(s.value) });
    const reached = new Set(paths.map((p) => p.state.value as string));
    for (const state of Object.keys(machine.root.states).filter((k) => k !== 'restoring')) expect(reached, `unreachable: ${state}`).toContain(state);
    expect(machine.root.states.retired!.type).toBe('final');
    // The fold the machine keeps equals the fold of the facts it journalled.
    expect(evolveNic(initialNicState, { type: 'NicRetired', data: {}, meta: { id: 'x', at: '2026-01-01T00:00:00.000Z', schemaVersion: 1 } }).status).toBe('retired');
  });
});
