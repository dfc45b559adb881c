import { getShortestPaths, getStateNodes } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, initialTransition, SimulatedClock, transition, type SnapshotFrom } from 'xstate';
import { seededRandom } from '../../../adapters/random/random.js';
import { initialAcquireState, type AcquireState } from '../../../engine/aggregates/acquire.js';
import type { AcquireFact } from '../../../engine/events/otherFacts.js';
import { acquireRequestOf, createAcquireMachine, type AcquireEvent, type AcquireMachine } from '../../../machines/acquire/acquireMachine.js';
import type { AcquireRequest, InstalledPair } from '../../../machines/ports.js';

const T0 = 1_700_000_000_000;
const PACKET = { localAddress: '10.0.0.1', remoteAddress: '10.9.0.1', protocol: 6, localPort: 40000, remotePort: 443 };
const RAISE: AcquireEvent = { type: 'acquire.raise', policyId: 'web', selectorIndex: 0, selector: 'flow', packet: PACKET };
const DONE = { type: 'xstate.done.actor.negotiate', output: { outboundSaId: 'sa-out', inboundSaId: 'sa-in' } } as unknown as AcquireEvent;
const ERROR = { type: 'xstate.error.actor.negotiate', error: new Error('NO_PROPOSAL_CHOSEN') } as unknown as AcquireEvent;
const after = (delay: string, state: string) => ({ type: `xstate.after.${delay}.acquire.${state}` }) as unknown as AcquireEvent;
const TIMEOUT = after('negotiateTimeout', 'negotiating');
const RETRY_DUE = after('retryDelay', 'backoff');
const IDLE = after('idle', 'retryable');

function fixture() {
  const clock = new SimulatedClock();
  clock.set(T0);
  const machine = createAcquireMachine({ clock, random: seededRandom(1) });
  return { clock, machine };
}

/** Executed actions, loosely typed: xstate's own action types (emit, stopChild) are not in the machine's union. */
type Actions = ReadonlyArray<{ type: string; params: unknown }>;
/** The facts an action list emits, in order. */
const factsOf = (actions: Actions): AcquireFact[] =>
  actions.filter((a) => a.type === 'xstate.emit').flatMap((a) => (a.params as { event: { facts: AcquireFact[] } }).event.facts);
const namesOf = (actions: Actions) => actions.map((a) => a.type).filter((t) => !t.startsWith('xstate.') || t === 'xstate.emit');
const delayOf = (actions: Actions, id: string) => (actions.find((a) => a.type === 'xstate.raise' && (a.params as { id?: string }).id === id)?.params as { delay?: number } | undefined)?.delay;

function negotiating() {
  const f = fixture();
  const [s0] = initialTransition(f.machine, { acquireId: 'acq-1' });
  const [s1, actions] = transition(f.machine, s0, RAISE);
  return { ...f, s1, actions };
}

describe('acquire machine, transition by transition', () => {
  it('a new acquire waits in idle and records nothing', () => {
    const { machine } = fixture();
    const [s0, actions] = initialTransition(machine, { acquireId: 'acq-1' });
    expect(s0.value).toBe('idle');
    expect(factsOf(actions)).toEqual([]);
  });

  it('raise → negotiating: AcquireRaised recorded, the key manager asked, the timeout armed (30 s)', () => {
    const { s1, actions } = negotiating();
    expect(s1.value).toBe('negotiating');
    expect(factsOf(actions).map((f) => f.type)).toEqual(['AcquireRaised']);
    expect(factsOf(actions)[0]!.meta).toMatchObject({ at: new Date(T0).toISOString(), correlationId: 'acq-1' });
    const spawn = actions.find((a) => a.type === 'xstate.spawnChild')!.params as unknown as { src: string; input: AcquireRequest };
    expect(spawn).toMatchObject({ src: 'negotiate', input: { acquireId: 'acq-1', policyId: 'web', selectorIndex: 0, packet: PACKET } });
    expect(delayOf(actions, 'xstate.after.negotiateTimeout.acquire.negotiating')).toBe(30_000);
    expect(s1.context.state).toMatchObject({ status: 'pending', attempt: 1, version: 1 });
  });

  it('more packets while negotiating raise nothing (de-duplication)', () => {
    const { machine, s1 } = negotiating();
    const [s2, actions] = transition(machine, s1, RAISE);
    expect(s2.value).toBe('negotiating');
    expect(actions).toEqual([]);
    expect(s2.context.state.version).toBe(1);
  });

  it('success → satisfied (final): AcquireSatisfied, then releaseQueued', () => {
    const { machine, s1 } = negotiating();
    const [s2, actions] = transition(machine, s1, DONE);
    expect(s2.value).toBe('satisfied');
    expect(s2.status).toBe('done');
    expect(namesOf(actions)).toEqual(['xstate.emit', 'releaseQueued']);
    expect(factsOf(actions)[0]).toMatchObject({ type: 'AcquireSatisfied', data: { saIds: ['sa-out', 'sa-in'] } });
  });

  it('failure → backoff: AcquireFailed with the reason and 1 s, queued packets dropped as acquireFailed', () => {
    const { machine, s1 } = negotiating();
    const [s2, actions] = transition(machine, s1, ERROR);
    expect(s2.value).toBe('backoff');
    expect(namesOf(actions)).toEqual(['xstate.emit', 'dropQueued']);
    expect(factsOf(actions)[0]).toMatchObject({ type: 'AcquireFailed', data: { reason: 'NO_PROPOSAL_CHOSEN', retryInMs: 1000 } });
    expect(actions.find((a) => a.type === 'dropQueued')!.params).toEqual({ reason: 'acquireFailed' });
    expect(delayOf(actions, 'xstate.after.retryDelay.acquire.backoff')).toBe(1000);
  });

  it('timeout → backoff: AcquireTimedOut, the negotiation stopped (its signal aborts), packets dropped', () => {
    const { machine, s1 } = negotiating();
    const [s2, actions] = transition(machine, s1, TIMEOUT);
    expect(s2.value).toBe('backoff');
    expect((actions as Actions).some((a) => a.type === 'xstate.stopChild')).toBe(true);
    expect(factsOf(actions).map((f) => f.type)).toEqual(['AcquireTimedOut']);
    expect(namesOf(actions)).toEqual(['xstate.emit', 'dropQueued']);
  });

  it('after the backoff a packet retries (attempt 2, backoff doubles); with no packet for idleMs the acquire is abandoned', () => {
    const { clock, machine, s1 } = negotiating();
    const [s2] = transition(machine, s1, ERROR);
    const [s3, a3] = transition(machine, s2, RETRY_DUE);
    expect(s3.value).toBe('retryable');
    expect(factsOf(a3)).toEqual([]);
    expect(delayOf(a3, 'xstate.after.idle.acquire.retryable')).toBe(60_000);
    clock.increment(1000);
    const [s4, a4] = transition(machine, s3, RAISE);
    expect(s4.value).toBe('negotiating');
    expect(factsOf(a4)[0]).toMatchObject({ type: 'AcquireRaised', data: { attempt: 2 } });
    const [, a5] = transition(machine, s4, ERROR);
    expect(factsOf(a5)[0]).toMatchObject({ data: { retryInMs: 2000 } });
    const [s6, a6] = transition(machine, s3, IDLE);
    expect(s6.value).toBe('abandoned');
    expect(s6.status).toBe('done');
    expect(factsOf(a6)[0]).toMatchObject({ type: 'AcquireAbandoned', data: { reason: 'idle' } });
  });

  it('the SA coming up by other means satisfies from negotiating, backoff or retryable', () => {
    const { machine, s1 } = negotiating();
    const [backoff] = transition(machine, s1, ERROR);
    const [retryable] = transition(machine, backoff, RETRY_DUE);
    for (const s of [s1, backoff, retryable]) {
      const [next, actions] = transition(machine, s, { type: 'sa.installed', saIds: ['x-out', 'x-in'] });
      expect(next.value).toBe('satisfied');
      expect(namesOf(actions)).toEqual(['xstate.emit', 'releaseQueued']);
    }
  });

  it('cancel (policy removed) abandons and drops what is held', () => {
    const { machine, s1 } = negotiating();
    const [s2, actions] = transition(machine, s1, { type: 'acquire.cancel' });
    expect(s2.value).toBe('abandoned');
    expect(factsOf(actions)[0]).toMatchObject({ type: 'AcquireAbandoned', data: { reason: 'cancelled' } });
    expect(namesOf(actions)).toEqual(['xstate.emit', 'dropQueued']);
  });

  it('final states are final: no event changes them', () => {
    const { machine, s1 } = negotiating();
    for (const [final] of [transition(machine, s1, DONE), transition(machine, s1, { type: 'acquire.cancel' })]) {
      for (const e of [RAISE, DONE, ERROR, TIMEOUT, { type: 'sa.installed', saIds: ['a'] } as AcquireEvent, { type: 'acquire.cancel' } as AcquireEvent]) {
        const [next, actions] = transition(machine, final, e);
        expect(next.value).toBe(final.value);
        expect(factsOf(actions)).toEqual([]);
      }
    }
    expect(machine.states.satisfied!.type).toBe('final');
    expect(machine.states.abandoned!.type).toBe('final');
  });
});

describe('acquire machine, rehydration (restoring router records nothing)', () => {
  const backoffState = (retryAt: number): AcquireState => ({ ...initialAcquireState, status: 'backoff', version: 2, policyId: 'web', selectorIndex: 0, packet: PACKET, attempt: 1, retryAt: new Date(retryAt).toISOString() });
  it.each([
    ['none', initialAcquireState, 'idle'],
    ['pending', { ...initialAcquireState, status: 'pending', version: 1, policyId: 'web', selectorIndex: 0, packet: PACKET, attempt: 1 }, 'negotiating'],
    ['backoff', backoffState(T0 + 500), 'backoff'],
    ['satisfied', { ...initialAcquireState, status: 'satisfied', version: 2, saIds: ['a'] }, 'satisfied'],
    ['abandoned', { ...initialAcquireState, status: 'abandoned', version: 3 }, 'abandoned'],
  ] as Array<[string, AcquireState, string]>)('%s → %s', (_status, state, value) => {
    const { machine } = fixture();
    const [s, actions] = initialTransition(machine, { acquireId: 'acq-1', state });
    expect(s.value).toBe(value);
    expect(factsOf(actions)).toEqual([]);
    expect(s.context.state).toEqual(state);
    // A pending acquire asks the key manager again, with the request it recorded.
    expect(actions.some((a) => a.type === 'xstate.spawnChild')).toBe(value === 'negotiating');
  });

  it('a restored backoff waits only for what is left of it (SimulatedClock)', () => {
    const { clock, machine } = fixture();
    const actor = createActor(machine, { input: { acquireId: 'acq-1', state: backoffState(T0 + 500) }, clock }).start();
    clock.increment(499);
    expect(actor.getSnapshot().value).toBe('backoff');
    clock.increment(1);
    expect(actor.getSnapshot().value).toBe('retryable');
    actor.stop();
  });

  it('acquireRequestOf rebuilds the key manager request from the folded state', () => {
    const state: AcquireState = { ...initialAcquireState, status: 'pending', policyId: 'web', selectorIndex: 2, packet: PACKET, attempt: 1 };
    expect(acquireRequestOf({ acquireId: 'acq-9', state })).toEqual({ acquireId: 'acq-9', policyId: 'web', selectorIndex: 2, packet: PACKET });
  });
});

describe('acquire machine, live with SimulatedClock', () => {
  it('the timeout aborts the key manager call through its signal', async () => {
    const { clock, machine } = fixture();
    let signal: AbortSignal | undefined;
    const live = machine.provide({ actors: { negotiate: fromPromise<InstalledPair, AcquireRequest>(({ signal: s }) => ((signal = s), new Promise(() => {}))) } });
    const actor = createActor(live, { input: { acquireId: 'acq-1' }, clock }).start();
    const recorded: string[] = [];
    actor.on('facts', ({ facts }) => recorded.push(...facts.map((f) => f.type)));
    actor.send(RAISE);
    expect(signal?.aborted).toBe(false);
    clock.increment(30_000);
    expect(actor.getSnapshot().value).toBe('backoff');
    expect(signal?.aborted).toBe(true);
    expect(recorded).toEqual(['AcquireRaised', 'AcquireTimedOut']);
    actor.stop();
  });
});

describe('acquire machine, reachability (@xstate/graph)', () => {
  const EVENTS: AcquireEvent[] = [RAISE, DONE, ERROR, TIMEOUT, RETRY_DUE, IDLE, { type: 'sa.installed', saIds: ['a', 'b'] }, { type: 'acquire.cancel' }];
  it('every state node is reached from a new acquire or through the restoring router', () => {
    const { machine } = fixture();
    const reached = new Set<string>(['restoring']); // the initial state: a router, left at once
    const inputs = [{ acquireId: 'a' }, { acquireId: 'a', state: { ...initialAcquireState, status: 'pending' as const, version: 1, policyId: 'web', selectorIndex: 0, packet: PACKET, attempt: 1 } }];
    for (const input of inputs) {
      const paths = getShortestPaths(machine, { input, events: EVENTS, serializeState: (s: SnapshotFrom<AcquireMachine>) => String(s.value) });
      for (const p of paths) reached.add(String(p.state.value));
    }
    const nodes = getStateNodes(machine.root).map((n) => n.key);
    expect(nodes.sort()).toEqual(['abandoned', 'backoff', 'idle', 'negotiating', 'restoring', 'retryable', 'satisfied']);
    expect([...reached].sort()).toEqual(nodes);
  });
});
